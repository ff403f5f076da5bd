"""Running work on a backend: the dynamic Monte-Carlo balancer and the batched-simulation workflow."""

from vipkb.execution.balancer import BalanceStats, BatchFailedError, BatchRecord, run_batches
from vipkb.execution.batched import run_batched_simulation

__all__ = ["BalanceStats", "BatchFailedError", "BatchRecord", "run_batched_simulation", "run_batches"]
