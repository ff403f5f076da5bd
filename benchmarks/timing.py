"""Timing helpers shared by the simulator benchmarks (loaded as ``bench_timing`` by ``simulators.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def ratio(ours: float, peer: float, name: str) -> str:
    """``"3.2x faster than radon"`` (or ``SLOWER``), for a table's ratio column."""
    return f"{peer / ours:.2f}x {'faster' if ours < peer else 'SLOWER'} than {name}"
