"""Load-balancing benchmark: static partitioning against the dynamic balancer, on uneven workers.

Heterogeneous hardware is simulated on this machine: four local worker
processes run the synthetic Monte-Carlo batch (:mod:`vipkb.execution.synthetic`)
at relative speeds 1, 1, 0.5 and 0.25, and the first worker is killed with
SIGKILL half-way through the ideal makespan (the pool starts a replacement).
Side by side, in one run, it reports

* the makespan of static partitioning (N/W batches per worker, one task each;
  the killed worker's share is redone from scratch, as a static scheduler must);
* the makespan of the dynamic balancer (workers pull batches, stragglers are
  duplicated at the end, the merge streams);
* the ideal: total work / total worker throughput (it even ignores the kill);
* the merge tail: from the last batch finishing to the merged result.

Targets: dynamic within 10 % of ideal; merge tail under 2 % of the makespan.
The workers mostly sleep, so the figures hold on a shared two-core machine.

Run ``python benchmarks/load_balance.py [--batches 220] [--seconds 0.05]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from functools import partial

from vipkb.backends.inline_ import InlineBackend
from vipkb.backends.local_ import LocalBackend
from vipkb.execution import run_batches
from vipkb.execution.batched import merge_pair
from vipkb.execution.synthetic import synthetic_batch
from vipkb.simulation.montecarlo import PartialResult, merge_partials

SPEEDS = (1.0, 1.0, 0.5, 0.25)
SEED = 2026
DRAWS = 2000


def static_chunk(chunk: int, *, n_batches: int, n_chunks: int, seconds: float,
                 speeds: Sequence[float]) -> PartialResult:
    """Batches ``chunk, chunk + W, ...`` in one task: static partitioning of N/W batches per worker."""
    return merge_partials(synthetic_batch(i, seed=SEED, n_draws=DRAWS, seconds=seconds, speeds=speeds)
                          for i in range(chunk, n_batches, n_chunks))


def _warm(backend: LocalBackend) -> None:
    # Start every process and import the task's modules before timing anything.
    futures = [backend.submit(synthetic_batch, 0, seconds=0.3) for _ in range(backend.n_workers)]
    for future in futures:
        future.result()


def _kill_later(backend: LocalBackend, delay: float, slot: int) -> threading.Timer:
    timer = threading.Timer(delay, lambda: os.kill(backend.worker_pids()[slot], signal.SIGKILL))
    timer.start()
    return timer


def _same(a: PartialResult, b: PartialResult) -> bool:
    return (a.batches == b.batches and a.counts["hist"].tobytes() == b.counts["hist"].tobytes()
            and a.concatenated("first").tobytes() == b.concatenated("first").tobytes())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=220, help="Monte-Carlo batches (N)")
    parser.add_argument("--seconds", type=float, default=0.05, help="work of one batch on a speed-1 worker")
    args = parser.parse_args(argv)
    n, seconds, workers = args.batches, args.seconds, len(SPEEDS)
    ideal = n * seconds / sum(SPEEDS)
    print(f"{n} batches of {seconds * 1000:.0f} ms on {workers} workers at speeds {SPEEDS}; "
          f"worker 0 killed at {ideal / 2:.2f} s")

    reference, _ = run_batches(InlineBackend(), partial(synthetic_batch, seed=SEED, n_draws=DRAWS), n,
                               merge=merge_pair)

    with LocalBackend(n_workers=workers) as backend:
        _warm(backend)
        timer = _kill_later(backend, ideal / 2, 0)
        chunk = partial(static_chunk, n_batches=n, n_chunks=workers, seconds=seconds, speeds=SPEEDS)
        static, static_stats = run_batches(backend, chunk, workers, merge=merge_pair, speculate=False,
                                           max_in_flight=workers)
        timer.join()

    with LocalBackend(n_workers=workers) as backend:
        _warm(backend)
        timer = _kill_later(backend, ideal / 2, 0)
        task = partial(synthetic_batch, seed=SEED, n_draws=DRAWS, seconds=seconds, speeds=SPEEDS)
        dynamic, stats = run_batches(backend, task, n, merge=merge_pair)
        timer.join()

    tail = stats.merge_tail
    print(f"{'':28}{'seconds':>9}{'/ ideal':>9}")
    print(f"{'ideal (work / throughput)':28}{ideal:9.2f}{1:9.2f}")
    print(f"{'static partitioning':28}{static_stats.makespan:9.2f}{static_stats.makespan / ideal:9.2f}"
          f"   (lost and redone: {static_stats.lost} of {workers} shares)")
    print(f"{'dynamic balancing':28}{stats.makespan:9.2f}{stats.makespan / ideal:9.2f}"
          f"   (lost and resubmitted: {stats.lost}, speculative duplicates: {stats.duplicates})")
    print(f"{'merge tail':28}{tail:9.4f}   {100 * tail / stats.makespan:.2f} % of the dynamic makespan")
    print("batches per worker process (dynamic): " + ", ".join(str(c) for c in stats.per_worker().values()))
    identical = _same(static, reference) and _same(dynamic, reference)
    print(f"merged results bit-identical to the in-process run: {'yes' if identical else 'NO'}")
    ok = identical and stats.makespan <= 1.10 * ideal and tail <= 0.02 * stats.makespan
    print(f"targets (dynamic within 10 % of ideal, merge tail under 2 %): {'met' if ok else 'NOT met'}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
