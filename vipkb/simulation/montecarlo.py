"""Monte-Carlo simulators: work in independent, seeded batches that merge exactly.

A :class:`BatchedSimulator` splits a run into ``n_batches`` batches.  Batch
``i`` draws its random numbers from ``SeedSequence(seed, spawn_key=(i,))``
only, so its result does not depend on which worker runs it, when, or next
to which other batches.  Partial results hold integer histograms (merged by
exact integer addition, so any grouping and order gives the same bytes) and,
optionally, per-batch event lists (concatenated in batch order at the end).
:meth:`BatchedSimulator.run` is then just *run every batch, merge, finish*;
an execution backend can instead spread :meth:`~BatchedSimulator.run_batch`
over workers, merge partial results as they arrive and keep them as
checkpoints (:meth:`PartialResult.to_bytes`).
"""

from __future__ import annotations

import io
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from vipkb.errors import SimulationError
from vipkb.simulation.instant import ModelInstant
from vipkb.simulation.parameters import SimulationParameters
from vipkb.simulation.plugin import Progress, SimulationResult, Simulator

__all__ = ["BatchedSimulator", "PartialResult", "batch_rng", "merge_partials"]


def batch_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of batch ``index`` of a run seeded with ``seed``.

    >>> a = batch_rng(7, 3).random(); b = batch_rng(7, 3).random()
    >>> a == b, a == batch_rng(7, 4).random()
    (True, False)
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


@dataclass(frozen=True, eq=False)
class PartialResult:
    """What some batches produced: integer histograms and per-batch event lists.

    Attributes
    ----------
    batches
        Sorted indices of the batches covered.
    counts
        Integer arrays, merged by addition (sinograms, detected-event counters).
    events
        Per batch index, arrays concatenated in batch order when finishing (list-mode events).
    """

    batches: tuple[int, ...]
    counts: Mapping[str, np.ndarray]
    events: Mapping[int, Mapping[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, array in self.counts.items():
            if not np.issubdtype(array.dtype, np.integer):
                raise SimulationError(f"partial count {name!r} is {array.dtype}; counts must be integers so that "
                                      "merging is exact")

    def concatenated(self, name: str) -> np.ndarray:
        """Event list ``name`` of every batch, in batch order."""
        return np.concatenate([self.events[i][name] for i in sorted(self.events)])

    def to_bytes(self) -> bytes:
        """Serialise (``.npz``) for a checkpoint; :meth:`from_bytes` reads it back exactly."""
        arrays = {"batches": np.asarray(self.batches, dtype=np.int64)}
        arrays.update({f"count/{k}": v for k, v in self.counts.items()})
        arrays.update({f"event/{i}/{k}": v for i, per in self.events.items() for k, v in per.items()})
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PartialResult:
        """Read a checkpoint written by :meth:`to_bytes`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            counts = {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith("count/")}
            events: dict[int, dict[str, np.ndarray]] = {}
            for k in npz.files:
                if k.startswith("event/"):
                    _, index, name = k.split("/", 2)
                    events.setdefault(int(index), {})[name] = npz[k]
            return cls(batches=tuple(int(i) for i in npz["batches"]), counts=counts, events=events)


def merge_partials(partials: Iterable[PartialResult]) -> PartialResult:
    """Merge partial results of disjoint batch sets; any grouping or order gives the same result.

    Raises
    ------
    SimulationError
        If two partials cover the same batch or disagree on what they count.
    """
    partials = list(partials)
    if not partials:
        raise SimulationError("nothing to merge: no partial result")
    seen: set[int] = set()
    for p in partials:
        twice = seen & set(p.batches)
        if twice:
            raise SimulationError(f"batches {sorted(twice)} were merged twice")
        seen |= set(p.batches)
    names = set(partials[0].counts)
    if any(set(p.counts) != names for p in partials):
        raise SimulationError("partial results count different things; were they produced by the same run?")
    counts = {}
    for name in sorted(names):
        total = np.zeros_like(partials[0].counts[name], dtype=np.int64)
        for p in partials:
            total += p.counts[name]
        counts[name] = total
    events = {i: per for p in partials for i, per in p.events.items()}
    return PartialResult(batches=tuple(sorted(seen)), counts=counts, events=events)


class BatchedSimulator(Simulator):
    """A Monte-Carlo simulator whose run splits into seeded, independent batches.

    A subclass implements :meth:`n_batches`, :meth:`run_batch` and
    :meth:`finish`; :meth:`run` (and any execution backend) composes them.
    """

    @abstractmethod
    def n_batches(self, instant: ModelInstant, parameters: SimulationParameters) -> int:
        """How many batches the run has."""

    @abstractmethod
    def run_batch(self, instant: ModelInstant, parameters: SimulationParameters, *, seed: int,
                  index: int) -> PartialResult:
        """Simulate batch ``index`` using :func:`batch_rng` (``seed``, ``index``) and nothing else random."""

    @abstractmethod
    def finish(self, instant: ModelInstant, parameters: SimulationParameters, merged: PartialResult, *,
               seed: int) -> SimulationResult:
        """Turn the merged partial result of every batch into images (reconstruction, preview...)."""

    def run(self, instant: ModelInstant, parameters: SimulationParameters, *, seed: int,
            progress: Progress | None = None) -> SimulationResult:
        say = progress or (lambda _f, _m: None)
        n = self.n_batches(instant, parameters)
        partials = []
        for index in range(n):
            say(0.8 * index / n, f"batch {index + 1}/{n}")
            partials.append(self.run_batch(instant, parameters, seed=seed, index=index))
        say(0.8, "reconstruction")
        result = self.finish(instant, parameters, merge_partials(partials), seed=seed)
        say(1.0, "done")
        return result
