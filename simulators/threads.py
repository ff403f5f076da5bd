"""Threads for the simulators' numpy kernels: how many, and running a kernel over chunks.

numpy releases the GIL in its element-wise loops, so independent chunks of
work (ray groups, image row blocks, echo chunks) run in parallel on threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from vipkb.backends.base import machine_workers

__all__ = ["default_workers", "map_threads", "run_threads"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The CPUs this process may use, at most 8 (beyond that the kernels are memory-bound)."""
    return min(8, machine_workers())


def map_threads(fn: Callable[[T], R], items: Iterable[T], workers: int | None) -> Iterator[R]:
    """``fn`` over ``items`` on up to ``workers`` threads (default :func:`default_workers`), results in order.

    One worker (or one item) runs in the calling thread.  Results are yielded as
    they are consumed, so a caller summing them does not hold them all.

    >>> list(map_threads(abs, [-1, 2, -3], 2))
    [1, 2, 3]
    """
    items = list(items)
    n_workers = min(workers or default_workers(), max(1, len(items)))
    if n_workers == 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(n_workers) as pool:
        yield from pool.map(fn, items)


def run_threads(fn: Callable[[T], object], items: Iterable[T], workers: int | None) -> None:
    """Run ``fn`` for its effect on every item (see :func:`map_threads`)."""
    deque(map_threads(fn, items, workers), maxlen=0)
