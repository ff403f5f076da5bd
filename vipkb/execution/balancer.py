"""Dynamic load balancing of Monte-Carlo batches over a backend's workers, with a streaming merge.

The balancer keeps about twice as many tasks in flight as the backend has
workers, so that a worker that finishes pulls the next batch at once: faster
workers simply do more batches.  Each batch index's *first* result is merged
(later copies are ignored), so a batch is never counted twice whatever
duplicates, retries or rescheduling happened.  Results are folded into the
accumulated result in batch-index order as soon as the next index is there:
the merge is streaming, and its order, hence its bytes, does not depend on
which worker finished first.  When no fresh batch is left and workers fall
idle, the batches still running are duplicated on them (speculation) and the
first copy to finish wins.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any

from vipkb.backends.base import Backend, FutureLike, WorkerLostError
from vipkb.errors import SimulationError

__all__ = ["BalanceStats", "BatchFailedError", "BatchRecord", "NoWorkersError", "RunStopped", "run_batches"]

_NOTHING = object()
#: Seconds between checks of the worker count and the speculation condition while nothing finishes.
_POLL = 0.25


class BatchFailedError(SimulationError):
    """A batch failed ``max_attempts`` times: the run stopped; ``__cause__`` is the last failure.

    Attributes
    ----------
    index
        The batch that failed.
    attempts
        How many times it was tried.
    """

    def __init__(self, message: str, *, index: int, attempts: int) -> None:
        super().__init__(message)
        self.index = index
        self.attempts = attempts

    def __reduce__(self) -> tuple:
        return (_rebuild_failure, (str(self), self.index, self.attempts))


class NoWorkersError(SimulationError):
    """Every worker of the backend vanished and none came back within the timeout."""


class RunStopped(SimulationError):  # noqa: N818 (a stop on request, not a fault)
    """The run was asked to stop (``vipkb run kill``); the message says why."""


def _rebuild_failure(message: str, index: int, attempts: int) -> BatchFailedError:
    return BatchFailedError(message, index=index, attempts=attempts)


@dataclass(frozen=True, kw_only=True)
class BatchRecord:
    """Where and how batch ``index`` ran (its winning copy).

    Attributes
    ----------
    index
        The batch.
    worker
        ``host:pid`` of the worker process that produced the merged result.
    started, finished
        Wall-clock times (``time.time()``) on that worker.
    attempts
        Copies submitted for this batch: 1, plus retries, resubmissions after a lost worker and speculative
        duplicates.
    """

    index: int
    worker: str
    started: float
    finished: float
    attempts: int

    @property
    def seconds(self) -> float:
        """Run time of the winning copy."""
        return self.finished - self.started


@dataclass(frozen=True, kw_only=True)
class BalanceStats:
    """What a balanced run did.

    Attributes
    ----------
    batches
        One record per batch, by index.
    duplicates
        Speculative copies launched.
    lost
        Copies lost with their worker and resubmitted.
    failures
        Copies that raised an error and were retried.
    started, last_batch_finished, merged
        Wall-clock times: the run's start, the end of the last winning batch on its worker, and the moment
        the merged result was complete.
    """

    batches: tuple[BatchRecord, ...]
    duplicates: int
    lost: int
    failures: int
    started: float
    last_batch_finished: float
    merged: float

    @property
    def makespan(self) -> float:
        """Seconds from the start to the merged result."""
        return self.merged - self.started

    @property
    def merge_tail(self) -> float:
        """Seconds from the last batch finishing to the merged result (never negative)."""
        return max(0.0, self.merged - self.last_batch_finished)

    def per_worker(self) -> dict[str, int]:
        """Batches merged from each worker."""
        out: dict[str, int] = {}
        for record in self.batches:
            out[record.worker] = out.get(record.worker, 0) + 1
        return out


def _run_indexed(task_fn: Callable[..., Any], *args: int) -> tuple[Any, str, float, float]:
    # Top-level so that every backend can pickle it; it stamps who ran the batch and when.
    started = time.time()
    value = task_fn(*args)
    return value, f"{socket.gethostname()}:{os.getpid()}", started, time.time()


def run_batches(backend: Backend, task_fn: Callable[[int], Any] | Sequence[Callable[[], Any]], n_batches: int, *,
                merge: Callable[[Any, Any], Any], max_in_flight: int | None = None, speculate: bool = True,
                max_attempts: int = 3,
                progress: Callable[[int, int], None] | None = None,
                initial: Any = _NOTHING,
                completed: Mapping[int, tuple[Any, BatchRecord]] | None = None,
                on_result: Callable[[int, Any, BatchRecord], None] | None = None,
                should_stop: Callable[[], str | None] | None = None,
                no_worker_timeout: float | None = None) -> tuple[Any, BalanceStats]:
    """Run ``task_fn(i)`` for ``i`` in ``range(n_batches)`` on ``backend`` and merge the results in index order.

    Parameters
    ----------
    backend
        Where the batches run.
    task_fn
        A picklable callable (top-level function or :func:`functools.partial` of one) computing batch ``i``;
        it must depend on ``i`` only (batch-indexed seeding) for the result to be reproducible.  Or a
        sequence of ``n_batches`` picklable callables without arguments, batch ``i`` being ``task_fn[i]()``
        (then only the batch's own callable travels to its worker).
    n_batches
        How many batches.
    merge
        ``merge(accumulated, result) -> accumulated``; called in index order 0, 1, 2..., so even a
        non-commutative or floating-point merge gives the same bytes on every backend.
    max_in_flight
        Copies submitted at once; default twice the backend's current workers.
    speculate
        Duplicate the batches still running on workers that fall idle at the end; first result wins.
    max_attempts
        Failed tries of one batch (errors and lost workers both count; speculative copies that are still
        running do not) that make the run fail.
    progress
        Called as ``progress(batches_done, n_batches)`` after each merged batch.
    initial
        Start of the accumulation: when given, batch 0 is merged into it like every other batch.
    completed
        Results already known (a checkpoint): ``index -> (value, record)``; they are merged, not run.
    on_result
        Called as ``on_result(index, value, record)`` when a batch's first result arrives and *before* it
        counts (to persist it); an error raised here stops the run.
    should_stop
        Polled a few times a second; a non-empty string stops the run with :class:`RunStopped`.
    no_worker_timeout
        Seconds the backend may have no worker at all before the run fails with :class:`NoWorkersError`.

    Returns
    -------
    result, stats
        The merged result and a :class:`BalanceStats`.

    Raises
    ------
    BatchFailedError
        If a batch failed ``max_attempts`` times; the other tasks are cancelled.
    RunStopped, NoWorkersError
        As described for ``should_stop`` and ``no_worker_timeout``; the other tasks are cancelled.

    Examples
    --------
    >>> from vipkb.backends.inline_ import InlineBackend
    >>> from operator import add, neg
    >>> with InlineBackend() as backend:
    ...     total, stats = run_batches(backend, neg, 10, merge=add)
    >>> total, len(stats.batches)
    (-45, 10)
    """
    if n_batches < 1:
        raise SimulationError(f"nothing to run: n_batches={n_batches}")
    if max_attempts < 1:
        raise SimulationError(f"max_attempts must be at least 1, not {max_attempts}")
    started = time.time()
    fresh: deque[int] = deque(range(n_batches))
    running: dict[FutureLike, int] = {}  # every copy in flight -> its batch index
    copies: dict[int, int] = {}  # copies in flight per batch index
    attempts = [0] * n_batches  # copies submitted, speculative ones included
    setbacks = [0] * n_batches  # copies that failed or were lost: what max_attempts limits
    records: dict[int, BatchRecord] = {}
    waiting: dict[int, Any] = {}  # results that arrived before an earlier index
    next_to_merge = 0
    accumulated: Any = None if initial is _NOTHING else initial
    duplicates = lost = failures = 0
    for index, (value, record) in sorted((completed or {}).items()):
        records[index] = record
        waiting[index] = value
    workerless_since: float | None = None

    def launch(index: int) -> None:
        if isinstance(task_fn, Sequence):
            future = backend.submit(_run_indexed, task_fn[index])
        else:
            future = backend.submit(_run_indexed, task_fn, index)
        running[future] = index
        copies[index] = copies.get(index, 0) + 1
        attempts[index] += 1

    def stop_all() -> None:
        for future in running:
            future.cancel()
        running.clear()

    def fold() -> None:
        nonlocal accumulated, next_to_merge
        while next_to_merge in waiting:
            value = waiting.pop(next_to_merge)
            first = next_to_merge == 0 and initial is _NOTHING
            accumulated = value if first else merge(accumulated, value)
            next_to_merge += 1

    try:
        fold()
        while next_to_merge < n_batches:
            reason = should_stop() if should_stop is not None else None
            if reason:
                raise RunStopped(reason)
            if backend.n_workers == 0 and no_worker_timeout is not None:
                workerless_since = workerless_since or time.monotonic()
                if time.monotonic() - workerless_since > no_worker_timeout:
                    raise NoWorkersError(f"the backend has had no worker for {no_worker_timeout:g} s; "
                                         f"{n_batches - len(records)} task(s) were left undone")
            else:
                workerless_since = None
            workers = max(1, backend.n_workers)
            limit = max_in_flight or 2 * workers
            while fresh and len(running) < limit:
                index = fresh.popleft()
                if index not in records and not copies.get(index):
                    launch(index)
            if speculate and not fresh and len(running) < workers:
                # Idle workers at the end: duplicate the oldest batches that have a single copy out.
                for index in sorted({i for i in running.values() if copies[i] == 1})[:workers - len(running)]:
                    launch(index)
                    duplicates += 1
            for future in backend.wait(list(running), timeout=_POLL):
                index = running.pop(future)
                copies[index] -= 1
                if index in records:
                    continue  # a later copy of a batch already merged
                try:
                    value, worker, t0, t1 = future.result()
                except (WorkerLostError, CancelledError) as err:
                    lost += 1
                    cause: BaseException = err
                except Exception as err:  # the task's own error, retried up to max_attempts
                    failures += 1
                    cause = err
                else:
                    record = BatchRecord(index=index, worker=worker, started=t0, finished=t1,
                                         attempts=attempts[index])
                    if on_result is not None:
                        on_result(index, value, record)
                    records[index] = record
                    for other, i in running.items():
                        if i == index:
                            other.cancel()
                    waiting[index] = value
                    fold()
                    if progress is not None:
                        progress(len(records), n_batches)
                    continue
                setbacks[index] += 1
                if setbacks[index] >= max_attempts:
                    raise BatchFailedError(
                        f"batch {index} failed {setbacks[index]} times; last error: {cause!r}",
                        index=index, attempts=setbacks[index]) from cause
                if copies[index]:
                    continue  # another copy of this batch is still running
                fresh.appendleft(index)
    finally:
        stop_all()
    merged = time.time()
    batches = tuple(records[i] for i in range(n_batches))
    return accumulated, BalanceStats(batches=batches, duplicates=duplicates, lost=lost, failures=failures,
                                     started=started, last_batch_finished=max(r.finished for r in batches),
                                     merged=merged)
