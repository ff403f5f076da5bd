"""Simulators meet the knowledge base: register their descriptions, load instants, run one.

These are the operations the CLI and the web platform share; the execution
backends (local processes, Dask) call :func:`run_simulator` on workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vipkb import queries
from vipkb.errors import ParameterError, SimulationError
from vipkb.files import FileStore
from vipkb.kb import CommitResult, KnowledgeBase
from vipkb.models.archive import Archive
from vipkb.models.repository import resolve_model
from vipkb.simulation.describe import description_document
from vipkb.simulation.instant import ModelInstant
from vipkb.simulation.plugin import Progress, SimulationResult, Simulator
from vipkb.simulation.registry import get_simulator, list_simulators

__all__ = ["load_instant", "register_simulators", "run_simulator"]


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


def load_instant(kb: KnowledgeBase, model: str, *, time_point: int = 0, instant: int = 0,
                 files: FileStore | None = None) -> ModelInstant:
    """Read one instant of a model version from the file store (checksums verified).

    Parameters
    ----------
    model
        Model IRI, ``id`` (latest version) or ``id/vN``.
    """
    iri = resolve_model(kb, model)
    files = files or FileStore(kb.settings.files_url)
    members = {r["path"].value: files.get(r["sha"].value) for r in kb.store.query(queries.model_files(iri))}
    return ModelInstant.from_archive(Archive(files=members, source=iri), time_point=time_point, instant=instant)


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
