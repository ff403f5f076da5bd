"""Simulators meet the knowledge base: register their descriptions, load instants, run one.

These are the operations the CLI and the web platform share; the execution
backends (local processes, Dask) call :func:`run_simulator` on workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vipkb import queries
from vipkb.errors import ParameterError, SimulationError, UnknownResourceError
from vipkb.kb import CommitResult, KnowledgeBase
from vipkb.models.repository import model_members
from vipkb.simulation.describe import description_document
from vipkb.simulation.instant import ModelInstant
from vipkb.simulation.plugin import Progress, SimulationResult, Simulator
from vipkb.simulation.registry import get_simulator, list_simulators
from vipkb.simulation.source import InstantSource
from vipkb.storage.catalog import FileCatalog

__all__ = ["instant_sources", "load_instant", "register_simulators", "run_on_backend", "run_simulator"]


def register_simulators(kb: KnowledgeBase, simulators: Mapping[str, type[Simulator]] | None = None, *,
                        progress: Callable[[str], None] | None = None) -> CommitResult:
    """Load the description of every installed simulator into its own graph, in one commit.

    A description that did not change is skipped, so this is cheap to run at
    every ``vipkb init``.  All descriptions pass the SHACL shapes or none is written.
    """
    say = progress or (lambda _msg: None)
    simulators = list_simulators() if simulators is None else simulators
    with kb.transaction() as tx:
        for cls in simulators.values():
            tx.put(description_document(cls, max_bytes=kb.settings.max_document_bytes), skip_unchanged=True)
    result = tx.result or CommitResult()
    if result.written:
        say(f"simulators: {len(result.written)} description(s) written, {len(result.skipped)} unchanged")
    return result


def instant_sources(kb: KnowledgeBase, model: str, *, catalog: FileCatalog | None = None) -> list[InstantSource]:
    """Every instant of a model version as an :class:`InstantSource`, by time point and instant.

    Parameters
    ----------
    model
        Model IRI, ``id`` (latest version) or ``id/vN``.
    """
    catalog = catalog or FileCatalog(kb)
    iri, members = model_members(kb, model, catalog=catalog)
    files = tuple(sorted((path, catalog.ref(rec)) for path, rec in members.items()))
    cache_dir = str(kb.settings.cache_dir.resolve())
    return [InstantSource(model=iri, time_point=int(r["tp"].value), instant=int(r["i"].value), files=files,
                          time=float(r["time"].value) if r.get("time") else None, cache_dir=cache_dir)
            for r in kb.store.query(queries.model_instants(iri))]


def load_instant(kb: KnowledgeBase, model: str, *, time_point: int = 0, instant: int = 0) -> ModelInstant:
    """Read one instant of a model version from the file catalog (checksums verified, through the cache).

    Parameters
    ----------
    model
        Model IRI, ``id`` (latest version) or ``id/vN``.
    """
    for source in instant_sources(kb, model):
        if (source.time_point, source.instant) == (time_point, instant):
            return source.load()
    raise UnknownResourceError(f"{model} has no instant {time_point}/{instant}; `vipkb model show` lists them")


def run_simulator(simulator: str | type[Simulator], instant: ModelInstant, values: Mapping[str, Any] | None = None,
                  *, seed: int = 0, progress: Progress | None = None) -> SimulationResult:
    """Check parameters and dimensionality, then run ``simulator`` on ``instant``.

    Raises
    ------
    ParameterError
        For an unknown or invalid parameter (before anything runs).
    SimulationError
        When the instant does not suit the simulator.
    """
    cls = get_simulator(simulator) if isinstance(simulator, str) else simulator
    sim = cls()
    parameters = sim.parameters(values)
    if instant.tissue_index.ndim not in cls.dimensionality:
        raise SimulationError(f"{cls.name} simulates {' or '.join(f'{n}-D' for n in cls.dimensionality)} "
                              f"models; {instant.source} is {instant.tissue_index.ndim}-D")
    if not 0 <= seed < 2**63:
        raise ParameterError(f"seed {seed} is out of range; use an integer in [0, 2**63)")
    return sim.run(instant, parameters, seed=seed, progress=progress)


def _run_task(name: str, instant: ModelInstant, values: Mapping[str, Any], seed: int) -> SimulationResult:
    """One whole simulation as a task (top level, so that it pickles to any worker)."""
    return run_simulator(name, instant, values, seed=seed)


def run_on_backend(backend: str, simulator: str, instant: ModelInstant, values: Mapping[str, Any] | None = None, *,
                   seed: int = 0) -> tuple[SimulationResult, dict[str, Any]]:
    """Run ``simulator`` on an execution backend (a name such as ``local``, or ``tcp://host:port`` of Dask).

    A batched Monte-Carlo simulator is spread over the workers batch by batch
    (:func:`vipkb.execution.batched.run_batched_simulation`); any other runs as
    one task.  Either way the bytes equal those of :func:`run_simulator`; how
    the work went (batches, speculative duplicates, lost and failed copies,
    makespan) is returned beside the result, not written into it.
    """
    from vipkb.backends import open_backend
    from vipkb.execution.batched import run_batched_simulation
    from vipkb.simulation.montecarlo import BatchedSimulator

    cls = get_simulator(simulator)
    parameters = cls().parameters(values)  # fail on bad parameters before starting any worker
    with open_backend(backend) as pool:
        if issubclass(cls, BatchedSimulator):
            result, stats = run_batched_simulation(pool, cls(), instant, parameters, seed=seed)
            execution = {"backend": backend, "batches": len(stats.batches), "duplicates": stats.duplicates,
                         "lost": stats.lost, "failures": stats.failures, "makespan_s": round(stats.makespan, 3)}
        else:
            future = pool.submit(_run_task, simulator, instant, dict(values or {}), seed)
            result, execution = future.result(), {"backend": backend, "tasks": 1}
    return result, execution
