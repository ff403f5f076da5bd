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
from typing import Any, Protocol

from vipkb.errors import VipkbError

__all__ = ["Backend", "FutureLike", "WorkerLostError", "machine_workers"]


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
