"""A cheap, deterministic stand-in for a Monte-Carlo batch, for tests and benchmarks of the balancer.

Batch ``i`` histograms draws of :func:`~vipkb.simulation.montecarlo.batch_rng` (``seed``, ``i``), exactly
as a real simulator would, then sleeps to stand for the physics.  The sleep is divided by the speed of
the worker it runs on (its slot, from :data:`~vipkb.backends.local_.WORKER_SLOT_VARIABLE`), which
simulates heterogeneous hardware on one machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from vipkb.backends.local_ import WORKER_SLOT_VARIABLE
from vipkb.simulation.montecarlo import PartialResult, batch_rng

__all__ = ["synthetic_batch", "worker_speed"]


def worker_speed(speeds: Sequence[float]) -> float:
    """Relative speed of the calling worker: ``speeds[slot]``, 1 outside a slotted worker."""
    slot = os.environ.get(WORKER_SLOT_VARIABLE)
    if slot is None or not speeds:
        return 1.0
    return float(speeds[int(slot) % len(speeds)])


def synthetic_batch(index: int, *, seed: int = 0, n_draws: int = 1000, seconds: float = 0.0,
                    speeds: Sequence[float] = ()) -> PartialResult:
    """Batch ``index``: a 32-bin histogram of ``n_draws`` draws, after ``seconds / speed`` of work.

    >>> int(synthetic_batch(3, seed=1).counts["hist"].sum())
    1000
    """
    if seconds:
        time.sleep(seconds / worker_speed(speeds))
    draws = batch_rng(seed, index).random(n_draws)
    hist = np.histogram(draws, bins=32, range=(0.0, 1.0))[0].astype(np.int64)
    return PartialResult(batches=(index,), counts={"hist": hist},
                         events={index: {"first": draws[:4].copy()}})
