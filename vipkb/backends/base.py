"""What an execution backend is: somewhere to submit picklable functions and wait for their futures.

A backend hands out futures compatible with :class:`concurrent.futures.Future`
(``done``, ``result``, ``exception``, ``cancel``).  The Monte-Carlo balancer
(:mod:`vipkb.execution.balancer`) only needs :meth:`Backend.submit`,
:meth:`Backend.wait` and :attr:`Backend.n_workers`, so the same run works on
every backend.  A task whose worker process died raises
:class:`WorkerLostError` from its future: the task itself did nothing wrong
and may simply be submitted again.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from vipkb.errors import VipkbError

__all__ = ["Backend", "BackendStatus", "FutureLike", "WorkerInfo", "WorkerLostError", "machine_workers"]


class WorkerLostError(VipkbError, RuntimeError):
    """The worker running a task died (killed, out of memory) before returning a result."""

    http_status = 503


class FutureLike(Protocol):
    """The part of :class:`concurrent.futures.Future` (and ``distributed.Future``) a backend returns."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def cancel(self) -> bool: ...


def machine_workers() -> int:
    """How many CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, kw_only=True)
class WorkerInfo:
    """One worker of a backend as its scheduler reports it.

    Parameters
    ----------
    address
        Where the worker listens (``tcp://host:port``), or a local description.
    name
        The worker's name, if it has one.
    threads
        Tasks it runs at the same time.
    memory_limit, memory
        Its memory limit and the memory it uses now, in bytes (None: unknown).
    processing
        Tasks assigned to it now.
    """

    address: str
    name: str = ""
    threads: int = 1
    memory_limit: int | None = None
    memory: int | None = None
    processing: int = 0

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class BackendStatus:
    """What a backend runs on, as :meth:`Backend.status` finds it, without starting any worker.

    Parameters
    ----------
    backend
        The backend as configured (a name or a scheduler address).
    name, description
        The registered backend's name and one-line description.
    available
        False when a dependency the backend needs is not installed.
    reachable
        False when the scheduler named by ``backend`` did not answer (see ``message``).
    message
        One line saying where tasks execute, or why they cannot.
    slots
        Tasks that can run at the same time (0 when unknown or unreachable).
    cpus
        CPUs this process may use.
    workers
        The scheduler's workers (Dask); empty where the backend starts its own for each run.
    """

    backend: str
    name: str
    description: str
    available: bool = True
    reachable: bool = True
    message: str = ""
    slots: int = 0
    cpus: int = 1
    workers: tuple[WorkerInfo, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether runs can execute on this backend now."""
        return self.available and self.reachable

    def as_dict(self) -> dict:
        """JSON-ready form."""
        out = dict(self.__dict__, ok=self.ok)
        out["workers"] = [w.as_dict() for w in self.workers]
        return out


class Backend(ABC):
    """Where a run's tasks execute.

    A subclass sets the class attributes :attr:`name`, :attr:`description`
    and :attr:`available` and implements :meth:`submit`, :meth:`wait`,
    :attr:`n_workers` and :meth:`close`.  Submitted functions must be
    picklable top-level functions, so that every backend can ship them to
    another process.  A backend is a context manager that closes itself.
    """

    #: Registry name (lower case, as in the ``vipkb.backends`` entry-point group).
    name: str = ""
    #: One line for ``--help`` texts and the web form.
    description: str = ""
    #: False when a dependency the backend needs is not installed.
    available: bool = True

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> FutureLike:
        """Start ``fn(*args, **kwargs)`` on some worker and return its future."""

    @abstractmethod
    def wait(self, futures: Iterable[FutureLike], *, timeout: float | None = None) -> set[FutureLike]:
        """Block until at least one of ``futures`` is done or ``timeout`` passes; return the done ones."""

    @property
    @abstractmethod
    def n_workers(self) -> int:
        """Tasks that can run at the same time right now (worker processes times threads)."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers this backend started; pending tasks are cancelled."""

    @classmethod
    def status(cls, *, address: str | None = None, timeout: float = 5.0) -> BackendStatus:
        """Where this backend would execute tasks now, without starting any worker.

        The default describes a backend that starts one worker per CPU of this process for each run; a
        backend whose workers are elsewhere (a scheduler at ``address``) asks them, waiting at most ``timeout``
        seconds, and reports an unreachable scheduler in the result rather than raising.
        """
        cpus = machine_workers()
        slots = cpus if cls.available else 0
        message = (f"each run starts {slots} worker process(es) on this machine" if cls.available
                   else f"cannot run here: {cls.description}")
        return BackendStatus(backend=address or cls.name, name=cls.name, description=cls.description,
                             available=cls.available, message=message, slots=slots, cpus=cpus)

    def as_completed(self, futures: Iterable[FutureLike], *, timeout: float | None = None) -> Iterator[FutureLike]:
        """Yield ``futures`` as they finish.

        Raises
        ------
        TimeoutError
            If some are still running after ``timeout`` seconds.
        """
        import time

        left = set(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        while left:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"{len(left)} of the futures are still running after {timeout} s")
            done = self.wait(left, timeout=remaining)
            for future in done:
                left.discard(future)
                yield future

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
