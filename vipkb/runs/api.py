"""Runs: plan, execute (split -> simulate -> merge -> annotate), list, show and kill.

This is the one API the CLI and the web platform use.  A run is planned
from the knowledge base (:func:`plan_run`, :func:`plan_campaign`), executed
on any backend (:func:`execute_run`), and leaves its outputs in the file
catalog and its provenance in the knowledge base.  Every finished task is
checkpointed in the run's directory before it counts, so executing the same
run again after a crash or a kill resumes it.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vipkb import queries
from vipkb.access import Reader
from vipkb.backends import open_backend
from vipkb.errors import ParameterError, SimulationError, UnknownResourceError, VipkbError
from vipkb.execution.balancer import BatchRecord, RunStopped, run_batches
from vipkb.kb import KnowledgeBase
from vipkb.matching import find_matches
from vipkb.models.repository import resolve_model
from vipkb.namespaces import Graphs
from vipkb.results import term_text
from vipkb.runs import assemble
from vipkb.runs.monitor import PhaseRecorder
from vipkb.runs.provenance import STATUS, TaskTiming, data_document, run_document
from vipkb.runs.spec import RunSpec, instant_seed, run_iri
from vipkb.runs.tasks import InstantWork, count_batches, finish_instant, merge_batch, simulate_batch, simulate_instant
from vipkb.runs.workdir import RunDirectory
from vipkb.simulation.montecarlo import BatchedSimulator
from vipkb.simulation.registry import get_simulator
from vipkb.simulation.runner import instant_sources
from vipkb.storage.catalog import FileCatalog

__all__ = ["RunBusyError", "RunDetails", "RunOutcome", "RunSummary", "execute_run", "kill_run", "list_runs",
           "plan_campaign", "plan_run", "queue_run", "run_status", "show_run", "stop_orchestrator"]

#: ``progress(done, total, phase)``.
RunProgress = Callable[[int, int, str], None]
_STATUS_NAME = {str(v): k for k, v in STATUS.items()}
#: Seconds between heartbeats of the orchestrating process.
_HEARTBEAT = 5.0


class RunBusyError(VipkbError, RuntimeError):
    """Another live process is executing this run."""

    http_status = 409


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`execute_run` ended with."""

    run_id: str
    status: str
    reason: str = ""
    outputs: tuple[str, ...] = ()
    tasks: int = 0
    resumed: int = 0
    reused: bool = False


@dataclass(frozen=True)
class RunSummary:
    """One line of ``vipkb runs``."""

    id: str
    label: str
    status: str
    simulator: str
    model: str
    started: str
    ended: str
    backend: str
    #: The account a private run belongs to (None: public).
    private_to: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class RunDetails:
    """Everything ``vipkb run show`` prints."""

    id: str
    iri: str
    label: str
    status: str
    simulator: str
    version: str
    model: str
    seed: int | None
    backend: str
    agent: str
    started: str
    ended: str
    reason: str
    settings: dict[str, str] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, str]] = field(default_factory=list)
    checkpointed: int = 0
    #: The process executing the run now (host, pid, heartbeat), if any.
    orchestrator: dict[str, Any] | None = None
    #: The account a private run belongs to (None: public).
    private_to: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


# -- planning -----------------------------------------------------------------


def plan_run(kb: KnowledgeBase, model: str, simulator: str, values: dict[str, Any] | None = None, *,
             seed: int = 0, instants: list[tuple[int, int]] | None = None, owner: str | None = None) -> RunSpec:
    """A run of ``simulator`` on ``model`` (every compatible instant, or those given).

    Compatibility comes from the same SPARQL query as ``vipkb match``.  With
    an ``owner`` the run is private to that account (see :mod:`vipkb.access`).

    Raises
    ------
    ParameterError
        For unknown or invalid parameters or seed.
    SimulationError
        When the simulator cannot run the model (instant) according to the knowledge base.
    UnknownResourceError
        For an unknown model or simulator.
    """
    cls = get_simulator(simulator)
    parameters = cls().parameters(values)
    if not 0 <= seed < 2**63:
        raise ParameterError(f"seed {seed} is out of range; use an integer in [0, 2**63)")
    iri = resolve_model(kb, model)
    compatible = sorted((m.time_point, m.instant) for m in find_matches(kb, model=iri)
                        if m.simulator_name == cls.name)
    if not compatible:
        raise SimulationError(f"{cls.name} cannot simulate {iri}: the knowledge base finds no compatible instant "
                              f"(`vipkb match --model {model}` lists what can)")
    chosen = sorted(instants) if instants else compatible
    missing = [f"{t}/{i}" for t, i in chosen if (t, i) not in compatible]
    if missing:
        raise SimulationError(f"{cls.name} cannot simulate instant(s) {', '.join(missing)} of {iri}")
    return RunSpec.build(model=iri, simulator=cls.name, version=cls.version, values=parameters.as_dict(),
                         seed=seed, instants=chosen, owner=owner)


def plan_campaign(kb: KnowledgeBase, *, where: str | None = None, modality: str | None = None,
                  model: str | None = None, simulator: str | None = None, seed: int = 0,
                  owner: str | None = None) -> list[RunSpec]:
    """One run per compatible (model version, simulator) pair found by the SPARQL query.

    The instants of a pair go into the same run (a 3D+t model gives one run and one time series).
    ``where`` is a SPARQL filter expression over the query's variables (see
    :func:`vipkb.matching.find_matches`); simulators default parameters.  With an ``owner`` the runs are
    private to that account.
    """
    pairs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for m in find_matches(kb, modality=modality, model=model, where=where):
        if simulator is None or m.simulator_name == simulator:
            pairs.setdefault((m.model, m.simulator_name), []).append((m.time_point, m.instant))
    specs = []
    for (iri, name), instants in sorted(pairs.items()):
        cls = get_simulator(name)
        specs.append(RunSpec.build(model=iri, simulator=name, version=cls.version,
                                   values=cls().parameters().as_dict(), seed=seed, instants=instants,
                                   owner=owner))
    return specs


# -- status in the knowledge base ---------------------------------------------


def _head(kb: KnowledgeBase, run_id: str) -> dict[str, Any] | None:
    rows = kb.store.query(queries.run_head(run_iri(run_id))).rows
    return rows[0] if rows else None


def run_status(kb: KnowledgeBase, run_id: str) -> str | None:
    """A run's status (``queued``, ``running``, ``succeeded``, ``failed``, ``killed``), None if there is no such run."""
    head = _head(kb, run_id)
    return _STATUS_NAME[head["status"].value] if head else None


def _timestamp(term: Any) -> float | None:
    if term is None:
        return None
    from datetime import datetime

    return datetime.fromisoformat(term.value.replace("Z", "+00:00")).timestamp()


def _timings(workdir: RunDirectory) -> list[TaskTiming]:
    return [TaskTiming(key=key, worker=record.get("worker", ""), started=record["started"],
                       finished=record["finished"], attempts=int(record.get("attempts", 1)))
            for key, record in workdir.records().items()]


def _label(spec: RunSpec) -> str:
    model = spec.model.rsplit("/model/", 1)[-1]
    return f"{spec.simulator} {spec.version} on {model} (seed {spec.seed}, {len(spec.instants)} instant(s))"


def _write_status(kb: KnowledgeBase, spec: RunSpec, workdir: RunDirectory, *, status: str, agent: str,
                  backend: str, started: float | None, reason: str | None = None) -> None:
    ended = time.time() if status in ("succeeded", "failed", "killed") else None
    doc = run_document(spec, status=status, agent=agent, backend=backend, started=started, ended=ended,
                       reason=reason, tasks=_timings(workdir) if ended else [], label=_label(spec))
    with kb.transaction(owner=spec.owner) as tx:
        tx.put(doc)
    workdir.log(f"{status} (backend {backend}, launched by {agent})" + (f": {reason}" if reason else ""))


# -- execution ----------------------------------------------------------------


class _PerInstantFold:
    """Streaming merge of Monte-Carlo batches into one partial result per instant (in index order)."""

    def __init__(self, units: list[tuple[int, int]]) -> None:
        self.units = units
        self.next = 0
        self.partials: dict[int, Any] = {}

    def __call__(self, accumulated: _PerInstantFold, outputs: dict[str, bytes]) -> _PerInstantFold:
        k = self.units[self.next][0]
        self.partials[k] = merge_batch(self.partials.get(k), outputs)
        self.next += 1
        return self


def _collect(accumulated: list, outputs: dict[str, bytes]) -> list:
    accumulated.append(outputs)
    return accumulated


def _phase(backend, workdir: RunDirectory, keys: list[str], tasks: list, *, merge, initial, stop,
           progress: RunProgress | None, phase: str, worker_timeout: float) -> tuple[Any, int]:
    """Run one phase's tasks on the backend, checkpointing each; return the merge and how many were resumed."""
    completed = {}
    for index, key in enumerate(keys):
        loaded = workdir.load_task(key)
        if loaded is not None:
            outputs, record = loaded
            completed[index] = (outputs, BatchRecord(index=index, worker=record.get("worker", ""),
                                                     started=record["started"], finished=record["finished"],
                                                     attempts=int(record.get("attempts", 1))))

    def persist(index: int, outputs: dict[str, bytes], record: BatchRecord) -> None:
        workdir.save_task(keys[index], outputs, {"worker": record.worker, "started": record.started,
                                                 "finished": record.finished, "attempts": record.attempts})

    report = PhaseRecorder(workdir, phase, backend.n_workers, progress)
    report(len(completed), len(keys))
    merged, _ = run_batches(backend, tasks, len(tasks), merge=merge, initial=initial, completed=completed,
                            on_result=persist, should_stop=stop, progress=report,
                            no_worker_timeout=worker_timeout)
    return merged, len(completed)


def execute_run(kb: KnowledgeBase, spec: RunSpec, *, backend: str = "local", agent: str | None = None,
                progress: RunProgress | None = None, worker_timeout: float = 300.0) -> RunOutcome:
    """Execute (or resume) a run and record it: status, provenance, outputs in the file catalog.

    A run that already succeeded is not computed again.  Tasks checkpointed
    by an earlier, interrupted execution are not recomputed, and the result
    is the same bytes as an uninterrupted run.

    Parameters
    ----------
    backend
        ``inline``, ``local``, ``dask`` or ``tcp://host:port`` of a Dask scheduler.
    agent
        Who launched it (an account name); default the operating-system user.
    progress
        Called as ``progress(done, total, phase)``.
    worker_timeout
        Seconds without any worker after which the run fails.

    Raises
    ------
    RunBusyError
        If another live process is executing the same run.
    """
    agent = agent or getpass.getuser()
    workdir = RunDirectory(kb.settings.runs_dir, spec.id)
    previous = _head(kb, spec.id)
    if previous is not None and _STATUS_NAME[previous["status"].value] == "succeeded":
        outputs = tuple(r["name"].value for r in kb.store.query(queries.run_outputs(spec.iri)))
        return RunOutcome(run_id=spec.id, status="succeeded", outputs=outputs, reused=True)
    workdir.path.mkdir(parents=True, exist_ok=True)
    workdir.write_spec(spec.as_dict())
    if not workdir.claim():
        owner = workdir.owner() or {}
        raise RunBusyError(f"run {spec.id} is being executed by process {owner.get('pid')} on "
                           f"{owner.get('host')}; `vipkb run kill {spec.id}` stops it")
    started = _timestamp(previous.get("started")) if previous is not None else None
    started = started or time.time()
    status_args = {"agent": agent, "backend": backend, "started": started}
    try:
        _write_status(kb, spec, workdir, status="running", **status_args)
        return _execute(kb, spec, workdir, backend=backend, progress=progress, worker_timeout=worker_timeout,
                        status_args=status_args)
    finally:
        workdir.release()


def _execute(kb: KnowledgeBase, spec: RunSpec, workdir: RunDirectory, *, backend: str,
             progress: RunProgress | None, worker_timeout: float, status_args: dict) -> RunOutcome:
    cls = get_simulator(spec.simulator)
    beat = [0.0]

    def stop() -> str | None:
        if time.monotonic() - beat[0] > _HEARTBEAT:
            workdir.heartbeat()
            beat[0] = time.monotonic()
        return workdir.kill_requested()

    phase_args = {"stop": stop, "progress": progress, "worker_timeout": worker_timeout}
    resumed = 0
    try:
        if cls.version != spec.version:
            raise SimulationError(f"run {spec.id} was planned with {cls.name} {spec.version}, but {cls.version} "
                                  "is installed; plan the run again")
        sources = {(s.time_point, s.instant): s for s in instant_sources(kb, spec.model)}
        works = [InstantWork(simulator=spec.simulator, values=tuple(sorted(spec.values.items())),
                             seed=instant_seed(spec.seed, tp, i), source=sources[(tp, i)])
                 for tp, i in spec.instants]
        with open_backend(backend) as pool:
            if issubclass(cls, BatchedSimulator):
                units = [(k, b) for k, w in enumerate(works) for b in range(count_batches(w))]
                fold = _PerInstantFold(units)
                keys = [f"{works[k].source.key}-b{b:05d}" for k, b in units]
                tasks = [partial(simulate_batch, works[k], b) for k, b in units]
                _, n = _phase(pool, workdir, keys, tasks, merge=fold, initial=fold, phase="events", **phase_args)
                resumed += n
                keys = [f"{w.source.key}-finish" for w in works]
                tasks = [partial(finish_instant, w, fold.partials[k].to_bytes()) for k, w in enumerate(works)]
            else:
                keys = [w.source.key for w in works]
                tasks = [partial(simulate_instant, w) for w in works]
            per_instant, n = _phase(pool, workdir, keys, tasks, merge=_collect, initial=[], phase="instants",
                                    **phase_args)
            resumed += n
    except RunStopped as err:
        _write_status(kb, spec, workdir, status="killed", reason=f"killed: {err}", **status_args)
        return RunOutcome(run_id=spec.id, status="killed", reason=str(err), resumed=resumed)
    except KeyboardInterrupt:
        _write_status(kb, spec, workdir, status="killed", reason="killed: interrupted (Ctrl-C)", **status_args)
        raise
    except Exception as err:  # noqa: BLE001 (any failure ends the run as failed, with its cause)
        reason = f"{type(err).__name__}: {err}"
        _write_status(kb, spec, workdir, status="failed", reason=reason, **status_args)
        if not isinstance(err, VipkbError):
            raise
        return RunOutcome(run_id=spec.id, status="failed", reason=reason, resumed=resumed)
    catalog = FileCatalog(kb)
    created: list[tuple[str, str]] = []
    try:
        files = assemble.outputs(works, per_instant)
        with kb.transaction(owner=spec.owner) as tx:
            records = {path: catalog.put(tx, f"run/{spec.id}/{path}", data, created=created)
                       for path, data in files.items()}
            for output in assemble.annotations(works, files, records):
                tx.put(data_document(spec, output, modality=cls.modality, label=f"{output.path} of {_label(spec)}"))
            tx.put(run_document(spec, status="succeeded", agent=status_args["agent"],
                                backend=status_args["backend"], started=status_args["started"], ended=time.time(),
                                reason=None, tasks=_timings(workdir), label=_label(spec)))
    except Exception as err:
        catalog.undo(created)
        _write_status(kb, spec, workdir, status="failed", reason=f"recording the results failed: {err}",
                      **status_args)
        raise
    workdir.log(f"succeeded: {len(files)} output file(s) catalogued under run/{spec.id}/")
    return RunOutcome(run_id=spec.id, status="succeeded", outputs=tuple(f"run/{spec.id}/{p}" for p in files),
                      tasks=len(workdir.done()), resumed=resumed)


# -- inspection and kill ------------------------------------------------------


def list_runs(kb: KnowledgeBase, *, status: str | None = None, owner: str | None = None) -> list[RunSummary]:
    """Every run the knowledge base (view) holds (optionally of one status, or private to ``owner``), newest first."""
    if status is not None and status not in STATUS:
        raise UnknownResourceError(f"unknown run status {status!r}; use one of {', '.join(STATUS)}")
    rows = kb.store.query(queries.runs(str(STATUS[status]) if status else None, owner=owner))
    return [RunSummary(id=r["run"].value.rsplit("/run/", 1)[-1], label=r["label"].value,
                       status=_STATUS_NAME[r["status"].value], simulator=r["simulator"].value.rsplit("/", 1)[-1],
                       model=r["model"].value.rsplit("/model/", 1)[-1], started=term_text(r.get("started")),
                       ended=term_text(r.get("ended")), backend=term_text(r.get("backend")),
                       private_to=Graphs.owner_of(r["graph"].value))
            for r in rows]


def _run_id(ref: str) -> str:
    return ref.rsplit("/run/", 1)[-1] if ref.startswith(("http://", "https://")) else ref


def show_run(kb: KnowledgeBase, ref: str) -> RunDetails:
    """Status, provenance, settings, tasks and outputs of a run (id or IRI).

    Raises
    ------
    UnknownResourceError
        If there is no such run.
    """
    run_id = _run_id(ref)
    iri = run_iri(run_id)
    head = _head(kb, run_id)
    if head is None:
        raise UnknownResourceError(f"no run {ref!r}; `vipkb runs` lists them")
    workdir = RunDirectory(kb.settings.runs_dir, run_id)
    details = RunDetails(
        id=run_id, iri=iri, label=head["label"].value, status=_STATUS_NAME[head["status"].value],
        simulator=head["simulator"].value.rsplit("/", 1)[-1], version=term_text(head.get("version")),
        model=head["model"].value, seed=int(head["seed"].value) if head.get("seed") else None,
        backend=term_text(head.get("backend")), agent=term_text(head.get("agent")).rsplit("/", 1)[-1],
        started=term_text(head.get("started")), ended=term_text(head.get("ended")),
        reason=term_text(head.get("reason")), checkpointed=len(workdir.done()), orchestrator=workdir.owner(),
        private_to=Graphs.owner_of(head["graph"].value))
    details.settings = {r["name"].value: r["value"].value for r in kb.store.query(queries.run_settings(iri))}
    for r in kb.store.query(queries.run_tasks(iri)):
        t0, t1 = _timestamp(r["started"]), _timestamp(r["ended"])
        details.tasks.append({"key": r["key"].value, "worker": term_text(r.get("worker")),
                              "seconds": round(t1 - t0, 3), "attempts": int(term_text(r.get("attempts")) or 1)})
    details.outputs = [{"path": r["path"].value, "lfn": r["name"].value, "kind": r["kind"].value.rsplit("#", 1)[-1],
                        "data": r["data"].value} for r in kb.store.query(queries.run_outputs(iri))]
    return details


def stop_orchestrator(runs_dir: str | Path, ref: str, *, reason: str = "killed by request",
                      wait: float = 15.0) -> bool:
    """Ask the live process executing a run to stop, and wait for it; True if none is left running it.

    This needs the run directory only, not the knowledge base (which the
    orchestrator may be holding, as with the embedded store).
    """
    workdir = RunDirectory(runs_dir, _run_id(ref))
    if workdir.owner() is None:
        return True
    workdir.request_kill(reason)
    deadline = time.monotonic() + wait
    while workdir.owner() is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def kill_run(kb: KnowledgeBase, ref: str, *, wait: float = 15.0, reason: str = "killed by request",
             reader: Reader | None = None) -> str:
    """Stop a queued or running run; return its status afterwards (``killed``, or ``running`` if it did not stop).

    A live orchestrator sees the request within a second, cancels the run's
    tasks and records the run as killed (its checkpoints stay, so the run
    can be resumed).  A run whose orchestrator is gone is marked killed here.
    With a ``reader`` (a web or API caller), the run must be one that reader
    may change: its own private run, or any run for an administrator.

    Raises
    ------
    UnknownResourceError
        If there is no such run (or the reader may not see it).
    AccessDeniedError
        If the reader may see the run but not kill it.
    SimulationError
        If the run already succeeded or failed.
    """
    run_id = _run_id(ref)
    if reader is not None:
        head = _head(kb.for_reader(reader), run_id)
        if head is None:
            raise UnknownResourceError(f"no run {ref!r}; `vipkb runs` lists them")
        reader.check_may_change(Graphs.owner_of(head["graph"].value), f"run {run_id}")
    status = run_status(kb, run_id)
    if status is None:
        raise UnknownResourceError(f"no run {ref!r}; `vipkb runs` lists them")
    if status in ("succeeded", "failed"):
        raise SimulationError(f"run {run_id} already ended ({status}); nothing to kill")
    if status == "killed":
        return status
    if not stop_orchestrator(kb.settings.runs_dir, run_id, reason=reason, wait=wait):
        return run_status(kb, run_id) or "unknown"
    if run_status(kb, run_id) not in ("succeeded", "failed", "killed"):
        workdir = RunDirectory(kb.settings.runs_dir, run_id)
        recorded = workdir.read_spec()
        if recorded is None:
            raise SimulationError(f"run {run_id} has no run directory under {kb.settings.runs_dir}; cannot kill it")
        spec, head = RunSpec.from_dict(recorded), _head(kb, run_id)
        _write_status(kb, spec, workdir, status="killed", reason=f"killed: {reason}",
                      agent=term_text(head.get("agent")).rsplit("/", 1)[-1] or getpass.getuser(),
                      backend=term_text(head.get("backend")), started=_timestamp(head.get("started")))
    return run_status(kb, run_id) or "unknown"


def queue_run(kb: KnowledgeBase, spec: RunSpec, *, backend: str = "local", agent: str | None = None) -> str:
    """Record a run as queued (for a scheduler or the web to execute later); return its id.

    A run asked for again after it failed or was killed is queued again (it resumes from its checkpoints); a
    queued, running or succeeded run is left as it is.
    """
    workdir = RunDirectory(kb.settings.runs_dir, spec.id)
    if run_status(kb, spec.id) in (None, "failed", "killed"):
        workdir.path.mkdir(parents=True, exist_ok=True)
        workdir.write_spec(spec.as_dict())
        _write_status(kb, spec, workdir, status="queued", agent=agent or getpass.getuser(), backend=backend,
                      started=None)
    return spec.id
