"""Runs executed in the background of a long-lived process (the web platform, the REST API).

A request plans a run and hands it to the :class:`Launcher`, which records
it as queued at once (so it exists for every client immediately) and
executes it on a small pool of threads, each driving the configured backend
(local processes or a Dask cluster).  Progress and the log go to the run's
directory (:mod:`vipkb.runs.monitor`), so any page or process can watch;
killing goes through the run directory too (:func:`vipkb.runs.api.kill_run`).
Runs left queued or running by a previous server process are picked up by
:meth:`Launcher.recover` and resume from their checkpoints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from vipkb.kb import KnowledgeBase
from vipkb.runs.api import RunBusyError, execute_run, list_runs, queue_run, run_status, show_run, stop_orchestrator
from vipkb.runs.spec import RunSpec
from vipkb.runs.workdir import RunDirectory

__all__ = ["Launcher"]

log = logging.getLogger(__name__)


class Launcher:
    """Execute runs in background threads of this process.

    Parameters
    ----------
    kb
        The whole knowledge base (runs record their status and results in it).
    backend
        ``inline``, ``local``, ``dask`` or ``tcp://host:port`` of a Dask scheduler.
    slots
        Runs executed at the same time (each on its own backend pool).
    worker_timeout
        Seconds without any worker after which a run fails.
    """

    def __init__(self, kb: KnowledgeBase, *, backend: str = "local", slots: int = 1,
                 worker_timeout: float = 300.0) -> None:
        self.kb, self.backend, self.slots, self.worker_timeout = kb, backend, slots, worker_timeout
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="run")
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(run_id)`` in the launcher's thread each time one of its runs ends (however it ends)."""
        self._listeners.append(callback)

    def submit(self, spec: RunSpec, *, agent: str) -> str:
        """Queue ``spec`` for execution (unless it succeeded already or is under way); return the run id."""
        with self._lock:
            future = self._futures.get(spec.id)
            if future is not None and not future.done():
                return spec.id
            if run_status(self.kb, spec.id) == "succeeded":
                return spec.id
            queue_run(self.kb, spec, backend=self.backend, agent=agent)
            RunDirectory(self.kb.settings.runs_dir, spec.id).log(f"submitted by {agent}")
            self._futures[spec.id] = self._pool.submit(self._execute, spec, agent)
            return spec.id

    def _execute(self, spec: RunSpec, agent: str) -> None:
        if run_status(self.kb, spec.id) == "killed":  # killed while waiting for a slot: leave it killed
            return
        try:
            execute_run(self.kb, spec, backend=self.backend, agent=agent, worker_timeout=self.worker_timeout)
        except RunBusyError as err:  # another process took it: it records the outcome
            log.info("%s", err)
        except Exception:  # noqa: BLE001 - execute_run recorded the failure; keep the thread alive for others
            log.exception("run %s failed", spec.id)
        for callback in self._listeners:
            try:
                callback(spec.id)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the launcher
                log.exception("listener %r failed after run %s", callback, spec.id)

    def active(self) -> list[str]:
        """Ids of the runs queued or executing in this launcher."""
        with self._lock:
            return sorted(k for k, f in self._futures.items() if not f.done())

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Block until this launcher's execution of ``run_id`` ends (for tests and scripts)."""
        future = self._futures.get(run_id)
        if future is not None:
            future.result(timeout=timeout)

    def recover(self) -> list[str]:
        """Resubmit the runs a previous process left queued or running (no live orchestrator); return their ids."""
        resumed = []
        for summary in list_runs(self.kb, status="queued") + list_runs(self.kb, status="running"):
            workdir = RunDirectory(self.kb.settings.runs_dir, summary.id)
            recorded = workdir.read_spec()
            if recorded is None or workdir.owner() is not None:
                continue  # no directory to resume from, or a live process is on it
            agent = show_run(self.kb, summary.id).agent or "vipkb"
            workdir.log("resumed after a restart of the platform")
            resumed.append(self.submit(RunSpec.from_dict(recorded), agent=agent))
        return resumed

    def close(self, *, wait: float = 15.0) -> None:
        """Stop: queued runs stay queued, executing ones are stopped (killed, resumable later)."""
        for run_id in self.active():
            stop_orchestrator(self.kb.settings.runs_dir, run_id, reason="the platform is shutting down", wait=wait)
        self._pool.shutdown(wait=False, cancel_futures=True)
