"""The ``inline`` backend: every task runs at once, in this process (for debugging and profiling)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from vipkb.backends.base import Backend, BackendStatus, FutureLike, machine_workers
from vipkb.errors import ConfigurationError

__all__ = ["InlineBackend"]


class InlineBackend(Backend):
    """Run each task synchronously inside :meth:`submit`; a debugger and a profiler see everything.

    Parameters
    ----------
    n_workers
        Must be ``None`` or 1: there is exactly one worker, this process.
    """

    name = "inline"
    description = "in this process, one task at a time (debugging)"

    def __init__(self, *, n_workers: int | None = None) -> None:
        if n_workers not in (None, 1):
            raise ConfigurationError(f"the inline backend has exactly one worker; n_workers={n_workers} asked")
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._closed:
            raise ConfigurationError("this inline backend is closed")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # the future carries the task's error, as on every other backend
            future.set_exception(err)
        return future

    def wait(self, futures: Iterable[FutureLike], *, timeout: float | None = None) -> set[FutureLike]:
        return {f for f in futures if f.done()}

    @property
    def n_workers(self) -> int:
        return 1

    def close(self) -> None:
        self._closed = True

    @classmethod
    def status(cls, *, address: str | None = None, timeout: float = 5.0) -> BackendStatus:
        return BackendStatus(backend=cls.name, name=cls.name, description=cls.description, slots=1,
                             cpus=machine_workers(), message="each run executes in the orchestrating process, "
                                                             "one task at a time")
