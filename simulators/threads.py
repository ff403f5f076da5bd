"""How many threads a simulator's numpy kernels use when the caller does not say."""

from __future__ import annotations

from vipkb.backends.base import machine_workers

__all__ = ["default_workers"]


def default_workers() -> int:
    """The CPUs this process may use, at most 8 (beyond that the kernels are memory-bound)."""
    return min(8, machine_workers())
