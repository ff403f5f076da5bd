"""The Monte-Carlo balancer: dynamic pulling, speculation, streaming merge, retries, lost workers."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from vipkb.backends import WorkerLostError
from vipkb.backends.inline_ import InlineBackend
from vipkb.backends.local_ import LocalBackend
from vipkb.errors import SimulationError
from vipkb.execution import BatchFailedError, run_batches
from vipkb.execution.batched import merge_pair
from vipkb.execution.synthetic import synthetic_batch
from vipkb.simulation.montecarlo import PartialResult


@pytest.fixture(scope="module")
def pool():
    """Two local worker processes, shared by the tests of this module."""
    with LocalBackend(n_workers=2) as backend:
        yield backend


def _reference(n: int, seed: int = 1) -> PartialResult:
    merged, _ = run_batches(InlineBackend(), partial(synthetic_batch, seed=seed, n_draws=800), n, merge=merge_pair)
    return merged


def _same(a: PartialResult, b: PartialResult) -> bool:
    return (a.batches == b.batches and a.counts["hist"].tobytes() == b.counts["hist"].tobytes()
            and a.concatenated("first").tobytes() == b.concatenated("first").tobytes())


def fail_always(index: int) -> int:
    raise ValueError(f"batch {index} cannot be simulated")


def fail_first_time(index: int, *, marks: str) -> int:
    # The file system is the only state shared by every attempt, whichever process runs it.
    mark = Path(marks) / str(index)
    if not mark.exists():
        mark.touch()
        raise OSError(f"transient failure of batch {index}")
    return index


def test_merge_is_in_index_order_whatever_the_arrival_order(pool):
    arrivals = []

    def concatenate(acc: tuple, value: tuple) -> tuple:
        arrivals.append(value)
        return acc + value

    # Later batches sleep less, so they finish first; the merge must still be 0, 1, 2...
    merged, stats = run_batches(pool, partial(_slow_tuple, n=8), 8, merge=concatenate)
    assert merged == tuple(range(8))
    assert len(stats.batches) == 8 and stats.failures == stats.lost == 0


def _slow_tuple(index: int, *, n: int) -> tuple:
    time.sleep(0.02 * (n - index))
    return (index,)


def test_results_are_identical_for_any_worker_count_and_in_flight_limit(pool):
    reference = _reference(30)
    task = partial(synthetic_batch, seed=1, n_draws=800)
    for limit in (1, 3, None):
        merged, stats = run_batches(pool, task, 30, merge=merge_pair, max_in_flight=limit)
        assert _same(merged, reference)
        assert sorted(r.index for r in stats.batches) == list(range(30))


def test_faster_workers_do_more_and_stragglers_are_duplicated(pool):
    # Worker slot 1 runs five times slower than slot 0.
    task = partial(synthetic_batch, seed=1, n_draws=800, seconds=0.03, speeds=(1.0, 0.2))
    merged, stats = run_batches(pool, task, 30, merge=merge_pair)
    assert _same(merged, _reference(30))
    counts = sorted(stats.per_worker().values())
    assert counts[-1] >= 3 * counts[0], stats.per_worker()
    assert stats.duplicates >= 1
    # The merge streams: only the last batch or two are left to fold in when the last one finishes.
    assert stats.merge_tail < 0.05 * stats.makespan


def test_the_merge_streams_while_batches_are_still_running(pool):
    merged_at = []

    def add(acc: PartialResult, value: PartialResult) -> PartialResult:
        merged_at.append(time.time())
        return merge_pair(acc, value)

    task = partial(synthetic_batch, seed=1, n_draws=800, seconds=0.02)
    _, stats = run_batches(pool, task, 20, merge=add, speculate=False)
    assert len(merged_at) == 19
    assert sum(t < stats.last_batch_finished for t in merged_at) >= 15


def test_a_batch_failing_every_time_fails_the_run_with_its_cause(pool):
    start = time.monotonic()
    with pytest.raises(BatchFailedError, match=r"batch \d+ failed 3 times; last error: ValueError") as info:
        run_batches(pool, fail_always, 10, merge=lambda a, b: a + b, max_attempts=3)
    assert isinstance(info.value, SimulationError)
    assert isinstance(info.value.__cause__, ValueError) and "cannot be simulated" in str(info.value.__cause__)
    assert info.value.attempts == 3
    assert time.monotonic() - start < 10
    # The pool is still usable after a failed run.
    assert pool.submit(pow, 3, 3).result(timeout=10) == 27


def test_transient_failures_are_retried(pool, tmp_path):
    # No speculative copies: a copy started before the first attempt failed would hide that failure.
    merged, stats = run_batches(pool, partial(fail_first_time, marks=str(tmp_path)), 6, merge=lambda a, b: a + b,
                                speculate=False)
    assert merged == sum(range(6))
    assert stats.failures == 6
    assert all(r.attempts >= 2 for r in stats.batches)


def test_bad_arguments_are_refused():
    with pytest.raises(SimulationError, match="nothing to run"):
        run_batches(InlineBackend(), abs, 0, merge=max)
    with pytest.raises(SimulationError, match="max_attempts"):
        run_batches(InlineBackend(), abs, 3, merge=max, max_attempts=0)


def test_a_pool_process_killed_with_sigkill_mid_run_changes_nothing():
    task = partial(synthetic_batch, seed=1, n_draws=800, seconds=0.05)
    killed = []

    with LocalBackend(n_workers=2) as backend:
        def kill_one(done: int, _n: int) -> None:
            if done == 6 and not killed:
                victim = backend.busy_pids() or backend.worker_pids()
                os.kill(victim[0], signal.SIGKILL)
                killed.append(victim[0])

        merged, stats = run_batches(backend, task, 30, merge=merge_pair, progress=kill_one)
        assert killed and killed[0] not in backend.worker_pids()
        assert backend.replaced == 1 and backend.n_workers == 2
    assert _same(merged, _reference(30))
    assert stats.lost >= 1
    assert sorted(r.index for r in stats.batches) == list(range(30))


def test_a_killed_worker_fails_only_its_own_task():
    with LocalBackend(n_workers=2) as backend:
        slow = backend.submit(time.sleep, 5)
        fine = backend.submit(np.add, 1, 2)
        assert fine.result(timeout=30) == 3
        deadline = time.monotonic() + 10
        while not backend.busy_pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(backend.busy_pids()[0], signal.SIGKILL)
        with pytest.raises(WorkerLostError, match="died with exit code -9"):
            slow.result(timeout=30)
        assert backend.submit(np.add, 2, 2).result(timeout=30) == 4


def test_checkpointed_batches_are_merged_in_order_not_run_again():
    from operator import add

    from vipkb.execution.balancer import BatchRecord

    ran: list[int] = []
    persisted: list[int] = []

    def batch(i: int) -> str:
        ran.append(i)
        return str(i)

    def record(i: int) -> BatchRecord:
        return BatchRecord(index=i, worker="elsewhere:1", started=0.0, finished=1.0, attempts=1)

    with InlineBackend() as backend:
        merged, stats = run_batches(backend, batch, 5, merge=add, initial="", completed={1: ("1", record(1)),
                                                                                            3: ("3", record(3))},
                                    on_result=lambda i, value, rec: persisted.append(i))
    assert merged == "01234"  # in index order, the initial value first
    assert sorted(ran) == sorted(persisted) == [0, 2, 4]
    assert stats.batches[1].worker == "elsewhere:1" and stats.batches[0].worker != "elsewhere:1"


class _NeverDone:
    def done(self) -> bool:
        return False

    def result(self, timeout=None):
        raise AssertionError("never done")

    def cancel(self) -> bool:
        return True


class _StalledBackend(InlineBackend):
    """A backend whose workers are all gone: tasks never finish, no worker is connected."""

    def __init__(self, workers: int) -> None:
        super().__init__()
        self.workers = workers

    def submit(self, fn, /, *args, **kwargs):
        return _NeverDone()

    def wait(self, futures, *, timeout=None):
        time.sleep(min(timeout or 0.05, 0.05))
        return set()

    @property
    def n_workers(self) -> int:
        return self.workers


def test_a_backend_without_workers_fails_the_run_after_the_timeout():
    from vipkb.execution.balancer import NoWorkersError, RunStopped

    started = time.monotonic()
    with pytest.raises(NoWorkersError, match="no worker for 0.3 s; 3 task"):
        run_batches(_StalledBackend(0), str, 3, merge=max, no_worker_timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5
    stops = iter([None, None, "killed by request"])
    with pytest.raises(RunStopped, match="killed by request"):
        run_batches(_StalledBackend(1), str, 3, merge=max, should_stop=lambda: next(stops))
