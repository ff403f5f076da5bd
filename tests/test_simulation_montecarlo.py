"""Batched Monte-Carlo contract: seeded batches, exact merges in any grouping, checkpoints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vipkb.errors import SimulationError
from vipkb.simulation.montecarlo import BatchedSimulator, PartialResult, batch_rng, merge_partials
from vipkb.simulation.registry import list_simulators


def _partial(index: int) -> PartialResult:
    rng = batch_rng(42, index)
    hist = np.bincount(rng.integers(0, 16, size=1000), minlength=16)
    return PartialResult(batches=(index,), counts={"hist": hist, "n": np.array([1000])},
                         events={index: {"ids": rng.integers(0, 99, size=5, dtype=np.int32)}})


def test_batches_are_independent_of_each_other():
    assert batch_rng(1, 0).random() == batch_rng(1, 0).random()
    assert len({batch_rng(1, i).random() for i in range(50)}) == 50
    assert batch_rng(1, 0).random() != batch_rng(2, 0).random()


def test_any_grouping_and_order_merges_to_the_same_bytes():
    parts = [_partial(i) for i in range(6)]
    whole = merge_partials(parts)
    for order in itertools.islice(itertools.permutations(parts), 0, 720, 97):
        left = merge_partials(order[:2])
        right = merge_partials(order[2:])
        again = merge_partials([right, left])
        assert again.batches == tuple(range(6))
        assert all(np.array_equal(again.counts[k], whole.counts[k]) for k in whole.counts)
        assert np.array_equal(again.concatenated("ids"), whole.concatenated("ids"))
    assert int(whole.counts["n"][0]) == 6000


def test_checkpoint_round_trip_is_exact():
    merged = merge_partials(_partial(i) for i in (3, 1, 2))
    back = PartialResult.from_bytes(merged.to_bytes())
    assert back.batches == (1, 2, 3)
    assert np.array_equal(back.counts["hist"], merged.counts["hist"]) and back.counts["hist"].dtype == np.int64
    assert np.array_equal(back.concatenated("ids"), merged.concatenated("ids"))


def test_bad_merges_are_refused():
    with pytest.raises(SimulationError, match=r"batches \[1\] were merged twice"):
        merge_partials([_partial(1), merge_partials([_partial(0), _partial(1)])])
    with pytest.raises(SimulationError, match="counts must be integers"):
        PartialResult(batches=(0,), counts={"hist": np.zeros(3)})
    with pytest.raises(SimulationError, match="nothing to merge"):
        merge_partials([])
    other = PartialResult(batches=(9,), counts={"other": np.zeros(3, dtype=np.int64)})
    with pytest.raises(SimulationError, match="count different things"):
        merge_partials([_partial(0), other])


BATCHED = sorted(n for n, cls in list_simulators().items() if issubclass(cls, BatchedSimulator))


@pytest.mark.parametrize("name", BATCHED)
def test_a_split_run_merges_to_the_unsplit_run_bit_for_bit(name, request):
    phantom = request.getfixturevalue("phantom")
    cls = list_simulators()[name]
    sim = cls()
    params = sim.parameters()
    n = sim.n_batches(phantom, params)
    assert n >= 2, "the default parameters should exercise several batches"
    whole = sim.run(phantom, params, seed=5).files()
    parts = [sim.run_batch(phantom, params, seed=5, index=i) for i in reversed(range(n))]
    halves = [merge_partials(parts[: n // 2]), merge_partials(parts[n // 2:])]
    split = sim.finish(phantom, params, merge_partials(halves[::-1]), seed=5).files()
    assert split == whole
