"""The ``dask`` backend: a ``distributed.Client`` on a new ``LocalCluster`` or on an existing scheduler.

Dask already survives a lost worker: the scheduler reschedules the task
elsewhere and the future simply completes later (a task that kills three
workers fails with ``KilledWorker``, which the balancer counts as a failure).
Each submission gets a fresh key (``pure=False``), so a speculative duplicate
really runs again instead of sharing the original's future.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from vipkb.backends.base import Backend, BackendStatus, FutureLike, WorkerInfo, machine_workers
from vipkb.errors import ConfigurationError

__all__ = ["DaskBackend"]


class DaskBackend(Backend):
    """Tasks on a Dask cluster.

    Parameters
    ----------
    address
        ``tcp://host:port`` of a running ``dask scheduler``; default, start a
        ``LocalCluster`` of single-threaded worker processes, closed with the backend.
    n_workers
        Worker processes of the ``LocalCluster`` (default: this process's CPUs); not
        allowed with ``address``, where the scheduler's workers are what they are.
    timeout
        Seconds to wait for the scheduler to answer.
    """

    name = "dask"
    description = "a Dask cluster: a new LocalCluster, or tcp://host:port of a running scheduler"
    available = importlib.util.find_spec("distributed") is not None

    def __init__(self, *, address: str | None = None, n_workers: int | None = None, timeout: float = 30) -> None:
        if not self.available:
            raise ConfigurationError("the dask backend needs the `distributed` package: pip install distributed")
        from distributed import Client, LocalCluster

        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(n_workers=n_workers or machine_workers(), threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            address = self._cluster.scheduler_address
        elif n_workers is not None:
            raise ConfigurationError(f"n_workers={n_workers} cannot be given with a scheduler address ({address}): "
                                     "start as many `dask worker` processes as you need")
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as err:
            if self._cluster is not None:
                self._cluster.close()
            raise ConfigurationError(f"cannot reach the Dask scheduler at {address}: {err}") from err
        self.address = address
        self._changed = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> FutureLike:
        future = self.client.submit(fn, *args, pure=False, **kwargs)
        # One callback per future, registered once: `distributed.wait` would need a default client, and
        # registering callbacks at every wait would pile them up on long-running futures.
        future.add_done_callback(self._notify)
        return future

    def _notify(self, _future: object) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, futures: Iterable[FutureLike], *, timeout: float | None = None) -> set[FutureLike]:
        futures = list(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                done = {f for f in futures if f.done()}
                remaining = None if deadline is None else deadline - time.monotonic()
                if done or not futures or (remaining is not None and remaining <= 0):
                    return done
                self._changed.wait(remaining)

    @property
    def n_workers(self) -> int:
        return sum(self.client.nthreads().values())

    def wait_for_workers(self, n: int, *, timeout: float = 60) -> None:
        """Block until ``n`` worker threads are connected."""
        self.client.wait_for_workers(n, timeout=timeout)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    @classmethod
    def status(cls, *, address: str | None = None, timeout: float = 5.0) -> BackendStatus:
        """The scheduler's workers (address, threads, memory, tasks processing) when ``address`` is given.

        An unreachable scheduler is reported in the result (``reachable=False``) after ``timeout`` seconds.
        """
        base = super().status(address=address, timeout=timeout)
        if address is None or not cls.available:
            if cls.available:
                base = replace(base, message=f"each run starts a LocalCluster of {base.slots} single-threaded "
                                             "worker process(es) on this machine")
            return base
        from distributed import Client

        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as err:
            return replace(base, reachable=False, slots=0,
                           message=f"scheduler unreachable at {address}: {err}; start it with `dask scheduler` "
                                   "or fix the address (VIPKB_RUN_BACKEND, --backend)")
        try:
            info = client.scheduler_info(n_workers=-1)
            processing = client.processing()
        finally:
            client.close()
        workers = tuple(
            WorkerInfo(address=addr, name=str(w.get("name", "")), threads=int(w.get("nthreads", 1)),
                       memory_limit=w.get("memory_limit"), memory=(w.get("metrics") or {}).get("memory"),
                       processing=len(processing.get(addr, ())))
            for addr, w in sorted(info.get("workers", {}).items()))
        slots = sum(w.threads for w in workers)
        message = (f"scheduler at {address}: {len(workers)} worker(s), {slots} thread(s)" if workers
                   else f"scheduler at {address} has no worker: start `dask worker {address}`")
        return replace(base, message=message, slots=slots, workers=workers)

    def __repr__(self) -> str:
        return f"<DaskBackend {self.address}>"
