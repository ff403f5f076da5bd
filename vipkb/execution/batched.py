"""The batched-simulation workflow, the same on every backend: split, simulate batches, merge, finish."""

from __future__ import annotations

from functools import partial

from vipkb.backends.base import Backend
from vipkb.execution.balancer import BalanceStats, run_batches
from vipkb.simulation.instant import ModelInstant
from vipkb.simulation.montecarlo import BatchedSimulator, PartialResult, merge_partials
from vipkb.simulation.parameters import SimulationParameters
from vipkb.simulation.plugin import SimulationResult

__all__ = ["merge_pair", "run_batched_simulation", "simulate_batch"]


def simulate_batch(simulator: BatchedSimulator, instant: ModelInstant, parameters: SimulationParameters,
                   seed: int, index: int) -> PartialResult:
    """Batch ``index`` of a run (top-level, so that it pickles to any worker)."""
    return simulator.run_batch(instant, parameters, seed=seed, index=index)


def merge_pair(accumulated: PartialResult, partial_result: PartialResult) -> PartialResult:
    """Fold one more partial result into the accumulated one (exact integer addition)."""
    return merge_partials([accumulated, partial_result])


def run_batched_simulation(backend: Backend, simulator: BatchedSimulator, instant: ModelInstant,
                           parameters: SimulationParameters, *, seed: int, speculate: bool = True,
                           max_attempts: int = 3) -> tuple[SimulationResult, BalanceStats]:
    """Run every batch of a Monte-Carlo simulation on ``backend``, merge them as they arrive, then finish.

    The result is bit-identical to ``simulator.run(instant, parameters, seed=seed)`` whatever the backend,
    the number of workers or the failures along the way, because batch ``i`` depends on ``(seed, i)`` only.
    """
    task = partial(simulate_batch, simulator, instant, parameters, seed)
    merged, stats = run_batches(backend, task, simulator.n_batches(instant, parameters), merge=merge_pair,
                                speculate=speculate, max_attempts=max_attempts)
    return simulator.finish(instant, parameters, merged, seed=seed), stats
