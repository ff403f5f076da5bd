"""The ``local`` backend: a pool of worker processes on this machine that survives a killed worker.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: when one of its
processes dies (SIGKILL, out-of-memory killer) the whole executor becomes
``BrokenProcessPool`` and every running task fails with it.  This pool keeps
one pipe per worker, so it always knows which task a worker holds: when the
worker's process sentinel fires, only that task's future fails, with
:class:`~vipkb.backends.base.WorkerLostError` (the balancer resubmits it),
and a replacement process takes the same slot.  ``cancel()`` stops a
queued task; a running one finishes and its result is dropped.  Tasks wait in one queue in
the parent and go to whichever worker falls idle first, so faster workers
take more.

Workers start with ``forkserver`` (``spawn`` where it is missing): the parent
may hold threads and database handles that must not be forked.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import Any

from vipkb.backends.base import Backend, FutureLike, WorkerLostError, machine_workers
from vipkb.errors import ConfigurationError, SimulationError

__all__ = ["LocalBackend", "WORKER_SLOT_VARIABLE"]

#: Environment variable holding a worker's slot number (0..n-1) inside its process; a replacement keeps it.
WORKER_SLOT_VARIABLE = "VIPKB_WORKER_SLOT"


def _worker_main(slot: int, conn: Connection) -> None:
    # The parent decides what an interrupt means; a worker dying on Ctrl-C would only look like a lost task.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ[WORKER_SLOT_VARIABLE] = str(slot)
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        task_id = None
        try:
            task_id, fn, args, kwargs = pickle.loads(message)
            reply = (task_id, True, pickle.dumps(fn(*args, **kwargs)), "")
        except Exception as err:  # shipped back to the parent, where the future raises it
            text = traceback.format_exc()
            try:
                blob = pickle.dumps(err)
            except Exception:  # an exception that cannot be pickled travels as text
                blob = b""
            reply = (task_id, False, blob, f"{err!r}\n{text}")
        conn.send(reply)


class _Worker:
    __slots__ = ("conn", "process", "slot", "task")

    def __init__(self, slot: int, process: Any, conn: Connection) -> None:
        self.slot = slot
        self.process = process
        self.conn = conn
        self.task: tuple[int, Future] | None = None


class LocalBackend(Backend):
    """A process pool sized to the CPUs this process may use; a killed worker is replaced.

    Parameters
    ----------
    n_workers
        Worker processes; default, the CPUs in this process's affinity mask.
    start_method
        ``"forkserver"`` (default where available) or ``"spawn"``; never ``"fork"``.
    """

    name = "local"
    description = "a pool of worker processes on this machine (default)"

    def __init__(self, *, n_workers: int | None = None, start_method: str | None = None) -> None:
        n = machine_workers() if n_workers is None else n_workers
        if n < 1:
            raise ConfigurationError(f"the local backend needs at least one worker; n_workers={n_workers}")
        methods = mp.get_all_start_methods()
        method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        if method not in ("forkserver", "spawn") or method not in methods:
            raise ConfigurationError(f"start method {method!r} is not usable here; use 'forkserver' or 'spawn'")
        self._context = mp.get_context(method)
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, Future, bytes]] = deque()
        self._ids = itertools.count()
        self._closing = False
        #: How many workers were replaced after dying.
        self.replaced = 0
        self._wake_reader, self._wake_writer = self._context.Pipe(duplex=False)
        self._workers = [self._start(slot) for slot in range(n)]
        self._thread = threading.Thread(target=self._manage, name="vipkb-local-pool", daemon=True)
        self._thread.start()

    # -- public interface ------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        task_id = next(self._ids)
        # Pickled here so that an unpicklable task fails in the caller, not in the pool's thread.
        payload = pickle.dumps((task_id, fn, args, kwargs))
        future: Future = Future()
        with self._lock:
            if self._closing:
                raise ConfigurationError("this local backend is closed")
            self._queue.append((task_id, future, payload))
        self._wake()
        return future

    def wait(self, futures: Iterable[FutureLike], *, timeout: float | None = None) -> set[FutureLike]:
        done, _ = wait_futures(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
        return set(done)

    @property
    def n_workers(self) -> int:
        return len(self._workers)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers, by slot."""
        return [w.process.pid for w in self._workers]

    def busy_pids(self) -> list[int]:
        """Process ids of the workers running a task now."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.task is not None]

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake()
        self._thread.join()

    # -- the pool's thread ----------------------------------------------------

    def _start(self, slot: int) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(slot, child), name=f"vipkb-local-{slot}",
                                        daemon=True)
        process.start()
        # Only the worker may hold its end open, or the parent would never see EOF when the worker dies.
        child.close()
        return _Worker(slot, process, parent)

    def _wake(self) -> None:
        try:
            self._wake_writer.send_bytes(b"!")
        except OSError:
            pass  # the pool's thread has already stopped

    def _dispatch(self) -> None:
        with self._lock:
            for worker in self._workers:
                while worker.task is None and self._queue:
                    task_id, future, payload = self._queue.popleft()
                    if not future.set_running_or_notify_cancel():
                        continue  # cancelled while queued
                    worker.task = (task_id, future)
                    try:
                        worker.conn.send_bytes(payload)
                    except OSError:
                        pass  # the worker is dead: its sentinel reports it and the task is marked lost

    def _manage(self) -> None:
        while True:
            with self._lock:
                closing = self._closing
            if closing:
                break
            self._dispatch()
            connections = {w.conn: w for w in self._workers if w.task is not None}
            sentinels = {w.process.sentinel: w for w in self._workers}
            ready = wait_ready([self._wake_reader, *connections, *sentinels])
            for item in ready:
                if item is self._wake_reader:
                    while self._wake_reader.poll():
                        self._wake_reader.recv_bytes()
                elif item in connections:
                    worker = connections[item]
                    if not self._receive(worker):
                        self._bury(worker)
                elif item in sentinels:
                    self._bury(sentinels[item])
        self._shutdown()

    def _receive(self, worker: _Worker) -> bool:
        """Read a worker's reply into its task's future; False if the worker is gone."""
        if worker not in self._workers or worker.task is None:
            return True  # already handled as dead in this round
        try:
            task_id, ok, blob, text = worker.conn.recv()
        except (EOFError, OSError):
            return False
        expected, future = worker.task
        with self._lock:
            worker.task = None
        if task_id != expected:
            future.set_exception(SimulationError(f"local worker {worker.slot} answered task {task_id} "
                                                 f"instead of {expected}"))
        elif ok:
            future.set_result(pickle.loads(blob))
        else:
            try:
                err = pickle.loads(blob) if blob else SimulationError(text.splitlines()[0])
            except Exception:  # an exception class that does not unpickle (keyword-only __init__)
                err = SimulationError(text.splitlines()[0])
            err.add_note(f"in local worker {worker.slot} (pid {worker.process.pid}):\n{text}")
            future.set_exception(err)
        return True

    def _bury(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        # A worker may send its result and then die: read what it left before declaring the task lost.
        if worker.task is not None:
            try:
                if worker.conn.poll():
                    self._receive(worker)
            except (EOFError, OSError):
                pass
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        with self._lock:
            task, worker.task = worker.task, None
            index = self._workers.index(worker)
            if not self._closing:
                self._workers[index] = self._start(worker.slot)
                self.replaced += 1
        worker.conn.close()
        if task is not None:
            task[1].set_exception(WorkerLostError(
                f"local worker {worker.slot} (pid {worker.process.pid}) died with exit code {code} "
                f"while running task {task[0]}"))

    def _shutdown(self) -> None:
        with self._lock:
            queued, self._queue = list(self._queue), deque()
        for _, future, _ in queued:
            future.cancel()
        for worker in self._workers:
            try:
                worker.conn.send_bytes(b"")
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(timeout=2 if worker.task is None else 0.1)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            if worker.task is not None:
                worker.task[1].set_exception(WorkerLostError("the local backend was closed while the task ran"))
                worker.task = None
            worker.conn.close()
        self._wake_reader.close()
        self._wake_writer.close()
