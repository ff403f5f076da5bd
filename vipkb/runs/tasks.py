"""The work a run ships to workers: simulate an instant, simulate one Monte-Carlo batch, finish an instant.

Every function here is top-level and takes only small picklable values (the
instant travels as an :class:`~vipkb.simulation.source.InstantSource`), so
every backend can run it on any worker.  Each returns its outputs as
``name -> bytes``, which is what the run directory checkpoints.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from vipkb.execution import batched
from vipkb.simulation.montecarlo import BatchedSimulator, PartialResult
from vipkb.simulation.registry import get_simulator
from vipkb.simulation.runner import run_simulator
from vipkb.simulation.source import InstantSource, worker_cache

__all__ = ["InstantWork", "PARTIAL", "cache_counts", "finish_instant", "simulate_batch", "simulate_instant"]

#: Output name of a batch's partial result.
PARTIAL = "partial.npz"


@dataclass(frozen=True)
class InstantWork:
    """One instant of a run: simulator, parameter values, the instant's seed and where to read it."""

    simulator: str
    values: tuple[tuple[str, Any], ...]
    seed: int
    source: InstantSource

    def parameters(self):
        """The simulator's checked parameters."""
        return get_simulator(self.simulator)().parameters(dict(self.values))


def simulate_instant(work: InstantWork) -> dict[str, bytes]:
    """A whole simulation of one instant."""
    return run_simulator(work.simulator, work.source.load(), dict(work.values), seed=work.seed).files()


def simulate_batch(work: InstantWork, index: int) -> dict[str, bytes]:
    """Monte-Carlo batch ``index`` of one instant, as checkpoint bytes."""
    partial = batched.simulate_batch(get_simulator(work.simulator)(), work.source.load(), work.parameters(),
                                     work.seed, index)
    return {PARTIAL: partial.to_bytes()}


def count_batches(work: InstantWork) -> int:
    """How many batches the instant's simulation has."""
    simulator: BatchedSimulator = get_simulator(work.simulator)()
    return simulator.n_batches(work.source.load(), work.parameters())


def finish_instant(work: InstantWork, merged: bytes) -> dict[str, bytes]:
    """Reconstruct one instant from its merged batches."""
    simulator: BatchedSimulator = get_simulator(work.simulator)()
    result = simulator.finish(work.source.load(), work.parameters(), PartialResult.from_bytes(merged),
                              seed=work.seed)
    return result.files()


def merge_batch(accumulated: PartialResult | None, outputs: dict[str, bytes]) -> PartialResult:
    """Fold one batch's checkpoint bytes into the accumulated partial result (exact integer sums)."""
    partial = PartialResult.from_bytes(outputs[PARTIAL])
    return partial if accumulated is None else batched.merge_pair(accumulated, partial)


def cache_counts(cache_dir: str | None) -> tuple[str, int, int]:
    """``(host:pid, hits, misses)`` of this worker process's file cache."""
    cache = worker_cache(cache_dir)
    return f"{socket.gethostname()}:{os.getpid()}", (cache.hits if cache else 0), (cache.misses if cache else 0)
