"""Monte Carlo PET acquisition of a 2-D slice, organised in reproducible event batches.

One event is one decay:

1. its voxel is drawn in proportion to the activity (a multinomial split of
   each chunk of events over the voxels), its position uniformly inside the
   voxel; optionally blurred by a Gaussian positron range (an approximation:
   real range distributions are cusp-shaped with long tails);
2. two 511 keV photons leave back to back along a direction uniform in the
   plane; optionally the pair deviates from 180 deg by a Gaussian angle
   (non-collinearity, about 0.5 deg FWHM in water);
3. both must reach crystal faces of the ring (:class:`RingScanner`) and the
   crystal pair must lie in the sinogram;
4. survival: without scatter, the pair survives with probability
   ``exp(-integral of mu_511)`` along its two paths, the line through the
   decay for collinear photons, traced exactly per event through the map
   with :func:`simulators.xray.siddon.line_integrals` (a per-LOR table would
   be exact only for lines through crystal centres).  With scatter, each
   photon is transported with single Compton scatter (:mod:`.scatter`);
5. randoms (optional) are added per batch: a Poisson number with mean
   ``randoms_fraction x`` the batch's true coincidences, uniform over the
   crystal pairs of the sinogram (like singles rates uniform over the ring).

Reproducibility: batch ``b`` of a run with seed ``s`` draws from
``default_rng(SeedSequence(s, spawn_key=(b,)))``, which is exactly the
``b``-th child of ``SeedSequence(s).spawn(n)`` for any ``n > b``: the stream
of a batch depends on ``(s, b)`` and its number of events only, never on how
many batches there are or which worker runs them.  Within a batch events are
drawn in chunks of :data:`CHUNK_EVENTS` with a fixed layout of draws, so
sinograms add up exactly (integer addition, any order): a run split over any
number of workers merges to the same counts, bit for bit.  A 3-D model is
simulated slice by slice as direct planes (no oblique coincidences); give each
slice its own stream with ``batch_index=(slice, batch)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from simulators.pet.projector import check_image
from simulators.pet.scanner import RingScanner
from simulators.pet.scatter import Medium, ring_distance, track
from simulators.xray.grid import VoxelGrid
from simulators.xray.siddon import line_integrals
from vipkb.errors import ParameterError, SimulationError

__all__ = ["CHUNK_EVENTS", "BatchResult", "batch_rng", "batch_sizes", "histogram", "merge", "simulate",
           "simulate_batch"]

#: Events per chunk inside a batch; part of the definition of a batch's random stream, so never varied.
CHUNK_EVENTS = 1 << 17

FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


@dataclass(frozen=True, kw_only=True, eq=False)
class BatchResult:
    """Counts of one batch.

    Attributes
    ----------
    sinogram
        Prompt coincidences (trues + scatter + randoms), int64
        ``(n_radial, n_angles)``.
    scatter, randoms
        The scattered and random parts of ``sinogram`` (ground truth).
    list_mode
        ``(n, 2)`` int32 crystal pairs of the prompts in simulation order
        (randoms last; no timing), or ``None``.
    n_emitted, n_trues, n_scatter, n_randoms
        Decays simulated; coincidences of each kind in the sinogram.
    """

    sinogram: np.ndarray
    scatter: np.ndarray
    randoms: np.ndarray
    list_mode: np.ndarray | None
    n_emitted: int
    n_trues: int
    n_scatter: int
    n_randoms: int
    seed: int
    batch_index: tuple[int, ...]

    @property
    def n_detected(self) -> int:
        """Prompt coincidences in the sinogram."""
        return self.n_trues + self.n_scatter + self.n_randoms


def _spawn_key(batch_index: int | Sequence[int]) -> tuple[int, ...]:
    key = (batch_index,) if isinstance(batch_index, (int, np.integer)) else batch_index
    if (not isinstance(key, (tuple, list)) or not key
            or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 for k in key)):
        raise ParameterError(f"batch_index must be a non-negative integer or a tuple of them; got {batch_index!r}")
    return tuple(int(k) for k in key)


def batch_rng(seed: int, batch_index: int | Sequence[int]) -> np.random.Generator:
    """The generator of one batch: ``SeedSequence(seed, spawn_key=batch_index)``.

    Examples
    --------
    >>> child = np.random.SeedSequence(7).spawn(3)[2]  # the same stream, however many were spawned
    >>> bool(batch_rng(7, 2).random() == np.random.default_rng(child).random())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=_spawn_key(batch_index)))


def _option(name: str, value: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= high:
        raise ParameterError(f"{name} must be a number in [0, {high:g}]; got {value!r}")
    return float(value)


def _emit(rng: np.random.Generator, voxels: np.ndarray, p: np.ndarray, grid: VoxelGrid, n: int,
          range_sigma: float, angle_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decay points, the two photon directions and a survival uniform for ``n`` events."""
    # A multinomial split then a repeat costs one binomial per voxel instead of a search per event; the events'
    # order does not matter because everything else about them is drawn independently.
    index = np.repeat(voxels, rng.multinomial(n, p))
    # Every event takes its four uniforms, used or not, so the layout of the stream never depends on outcomes.
    u = rng.random((4, n))
    size = np.asarray(grid.voxel_size_mm)
    cell = np.stack(np.unravel_index(index, grid.shape), axis=1)
    points = np.asarray(grid.origin_mm) + (cell + u[:2].T - 0.5) * size
    if range_sigma > 0:
        points += range_sigma * rng.standard_normal((n, 2))
    angle = np.pi * u[2]
    d1 = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if angle_sigma > 0:
        angle = angle + angle_sigma * rng.standard_normal(n)
    d2 = -np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return points, d1, d2, u[3]


def simulate_batch(activity: np.ndarray, mu_511: np.ndarray, grid: VoxelGrid, scanner: RingScanner, *,
                   n_events: int, seed: int, batch_index: int | Sequence[int], scatter: bool = False,
                   randoms_fraction: float = 0.0, list_mode: bool = False, positron_range_fwhm_mm: float = 0.0,
                   noncollinearity_fwhm_deg: float = 0.0, workers: int | None = None) -> BatchResult:
    """Simulate ``n_events`` decays of one batch.

    Parameters
    ----------
    activity
        2-D activity per voxel (Bq or relative: only proportions matter), on ``grid``.
    mu_511
        2-D linear attenuation at 511 keV (1/mm) on ``grid``; zero outside it.
    grid
        2-D :class:`~simulators.xray.grid.VoxelGrid`, inside the ring.
    scanner
        The ring and its sinogram.
    n_events
        Decays to simulate (emitted, detected or not).
    seed, batch_index
        Run seed and batch number (or tuple, e.g. ``(slice, batch)``); see the module docstring.
    scatter
        Transport photons with single Compton scatter (:mod:`simulators.pet.scatter`).
    randoms_fraction
        Mean randoms per true coincidence, added uniformly over the sinogram's crystal pairs.
    list_mode
        Also return the crystal pairs of every prompt.
    positron_range_fwhm_mm, noncollinearity_fwhm_deg
        Gaussian positron range (per axis) and deviation from 180 deg; 0 = off.
    workers
        Threads of the ray tracer (the result does not depend on it).

    Returns
    -------
    BatchResult
    """
    activity = check_image("activity", activity, grid)
    mu = check_image("mu_511", mu_511, grid)
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 0:
        raise ParameterError(f"n_events must be a non-negative integer; got {n_events!r}")
    randoms_fraction = _option("randoms_fraction", randoms_fraction, 100.0)
    range_sigma = _option("positron_range_fwhm_mm", positron_range_fwhm_mm, 20.0) * FWHM_TO_SIGMA
    angle_sigma = np.deg2rad(_option("noncollinearity_fwhm_deg", noncollinearity_fwhm_deg, 10.0)) * FWHM_TO_SIGMA
    rng = batch_rng(seed, batch_index)
    voxels = np.flatnonzero(activity)
    if voxels.size == 0:
        raise SimulationError("the activity map is zero everywhere: there is nothing to simulate")
    p = activity.ravel()[voxels] / activity.sum()
    cells = np.stack(np.unravel_index(voxels, grid.shape), axis=1)
    corners = np.abs(np.asarray(grid.origin_mm) + cells * np.asarray(grid.voxel_size_mm)) + np.asarray(
        grid.voxel_size_mm) / 2 + 3 * range_sigma
    if np.hypot(corners[:, 0], corners[:, 1]).max() >= scanner.radius_mm:
        raise SimulationError(f"activity reaches beyond the detector ring (radius {scanner.radius_mm} mm): "
                              "centre the model or choose a larger scanner")
    medium, support = Medium(mu=mu, grid=grid), _support(mu, grid)
    trues = np.zeros(scanner.n_bins, dtype=np.int64)
    scattered = np.zeros(scanner.n_bins, dtype=np.int64)
    pairs = []
    for start in range(0, int(n_events), CHUNK_EVENTS):
        n = min(CHUNK_EVENTS, int(n_events) - start)
        points, d1, d2, u = _emit(rng, voxels, p, grid, n, range_sigma, angle_sigma)
        if scatter:
            hits, alive, kinds = _transport(rng, medium, points, np.concatenate([d1, d2]), scanner)
        else:
            hits = np.concatenate([points + ring_distance(points, d1, scanner.radius_mm)[:, None] * d1,
                                   points + ring_distance(points, d2, scanner.radius_mm)[:, None] * d2])
            alive, kinds = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        if range_sigma > 0:  # a decay pushed through the ring by its positron range is not seen
            alive &= (points**2).sum(axis=1) < scanner.radius_mm**2
        a, b = scanner.crystal_of(hits[:n]), scanner.crystal_of(hits[n:])
        bins = scanner.bin_of_pair(a, b)
        keep = np.flatnonzero(alive & (bins >= 0))
        if not scatter:  # only pairs that reach two crystals of the sinogram are worth a ray trace
            keep = keep[u[keep] < _survival(support, points[keep], hits[keep], hits[n + keep], angle_sigma,
                                            workers)]
        trues += np.bincount(bins[keep[~kinds[keep]]], minlength=scanner.n_bins)
        scattered += np.bincount(bins[keep[kinds[keep]]], minlength=scanner.n_bins)
        if list_mode:
            pairs.append(np.stack([a[keep], b[keep]], axis=1).astype(np.int32))
    n_trues = int(trues.sum())
    # Drawn after the events so that enabling randoms leaves the trues of the same seed unchanged.
    randoms = np.zeros(scanner.n_bins, dtype=np.int64)
    if randoms_fraction > 0:
        random_bins = rng.integers(0, scanner.n_bins, rng.poisson(randoms_fraction * n_trues))
        randoms = np.bincount(random_bins, minlength=scanner.n_bins).astype(np.int64)
        if list_mode:
            ra, rb = (c.ravel()[random_bins] for c in scanner.pair_of_bin())
            pairs.append(np.stack([ra, rb], axis=1).astype(np.int32))
    shape = scanner.shape
    events = np.concatenate([np.zeros((0, 2), np.int32), *pairs]) if list_mode else None
    return BatchResult(sinogram=(trues + scattered + randoms).reshape(shape), scatter=scattered.reshape(shape),
                       randoms=randoms.reshape(shape), list_mode=events, n_emitted=int(n_events), n_trues=n_trues,
                       n_scatter=int(scattered.sum()), n_randoms=int(randoms.sum()), seed=int(seed),
                       batch_index=_spawn_key(batch_index))


def _support(mu: np.ndarray, grid: VoxelGrid) -> tuple[np.ndarray, VoxelGrid] | None:
    """The attenuation map cropped to its non-zero bounding box (the tracer's cost grows with the box)."""
    rows, cols = np.flatnonzero(mu.any(axis=1)), np.flatnonzero(mu.any(axis=0))
    if rows.size == 0:
        return None
    crop = mu[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    origin = (grid.origin_mm[0] + rows[0] * grid.voxel_size_mm[0], grid.origin_mm[1] + cols[0] * grid.voxel_size_mm[1])
    return crop, VoxelGrid(shape=crop.shape, voxel_size_mm=grid.voxel_size_mm, origin_mm=origin)


def _survival(support: tuple[np.ndarray, VoxelGrid] | None, points: np.ndarray, hit1: np.ndarray,
              hit2: np.ndarray, angle_sigma: float, workers: int | None) -> np.ndarray:
    """``exp(-integral of mu)`` over both photons' paths, traced exactly."""
    if support is None:
        return np.ones(len(points))
    mu, grid = support
    kw = dict(voxel_size_mm=grid.voxel_size_mm, origin_mm=grid.origin_mm, workers=workers)
    if angle_sigma == 0:
        # Back-to-back photons: their two paths are one chord of the ring.
        return np.exp(-line_integrals(mu, starts_mm=hit2, ends_mm=hit1, **kw))
    both = line_integrals(mu, starts_mm=np.concatenate([points, points]), ends_mm=np.concatenate([hit1, hit2]),
                          **kw)
    return np.exp(-(both[:len(points)] + both[len(points):]))


def _transport(rng: np.random.Generator, medium: Medium, points: np.ndarray, directions: np.ndarray,
               scanner: RingScanner) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both photons of every event with scatter: ring points, pair arrived, pair scattered."""
    n = len(points)
    hits, arrived, was_scattered = track(rng, medium, np.concatenate([points, points]), directions,
                                         scanner.radius_mm, scanner.energy_window_kev[0])
    return hits, arrived[:n] & arrived[n:], was_scattered[:n] | was_scattered[n:]


def histogram(list_mode: np.ndarray, scanner: RingScanner) -> np.ndarray:
    """Bin list-mode crystal pairs ``(n, 2)`` into an int64 sinogram (pairs outside it are dropped)."""
    pairs = np.asarray(list_mode)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu":
        raise ParameterError(f"list_mode must be an (n, 2) integer array of crystal pairs; got {pairs.shape}")
    bins = scanner.bin_of_pair(pairs[:, 0], pairs[:, 1])
    return np.bincount(bins[bins >= 0], minlength=scanner.n_bins).astype(np.int64).reshape(scanner.shape)


def merge(batches: Iterable[BatchResult | np.ndarray], *, part: str = "sinogram") -> np.ndarray:
    """Sum the sinograms of batches: exact integer addition, so any order gives the same counts.

    ``part`` picks ``"sinogram"`` (prompts), ``"scatter"`` or ``"randoms"`` of :class:`BatchResult` items;
    plain arrays are added as they are.
    """
    if part not in ("sinogram", "scatter", "randoms"):
        raise ParameterError(f"part must be 'sinogram', 'scatter' or 'randoms'; got {part!r}")
    arrays = [np.asarray(getattr(b, part) if isinstance(b, BatchResult) else b) for b in batches]
    if not arrays:
        raise ParameterError("merge needs at least one batch")
    if any(a.shape != arrays[0].shape or a.dtype.kind not in "iu" for a in arrays):
        raise ParameterError("batches to merge must be integer sinograms of one shape")
    return np.sum(arrays, axis=0, dtype=np.int64)


def batch_sizes(n_events: int, events_per_batch: int) -> list[int]:
    """Events of each batch of a run: ``events_per_batch`` each, the remainder in the last."""
    for value, name in ((n_events, "n_events"), (events_per_batch, "events_per_batch")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"{name} must be a positive integer; got {value!r}")
    full, rest = divmod(int(n_events), int(events_per_batch))
    return [int(events_per_batch)] * full + ([rest] if rest else [])


def simulate(activity: np.ndarray, mu_511: np.ndarray, grid: VoxelGrid, scanner: RingScanner, *, n_events: int,
             seed: int, events_per_batch: int = 1_000_000, batches: Iterable[int] | None = None,
             scatter: bool = False, randoms_fraction: float = 0.0, list_mode: bool = False,
             positron_range_fwhm_mm: float = 0.0, noncollinearity_fwhm_deg: float = 0.0,
             workers: int | None = None) -> list[BatchResult]:
    """Run some or all batches of an ``n_events`` run (see :func:`batch_sizes`); :func:`merge` the results.

    ``batches`` selects batch indices (default: all), so workers can share a
    run by index.  The other parameters are those of :func:`simulate_batch`.
    """
    sizes = batch_sizes(n_events, events_per_batch)
    chosen = range(len(sizes)) if batches is None else list(batches)
    if any(not isinstance(b, (int, np.integer)) or not 0 <= b < len(sizes) for b in chosen):
        raise ParameterError(f"batch indices must lie in [0, {len(sizes)}); got {list(chosen)}")
    return [simulate_batch(activity, mu_511, grid, scanner, n_events=sizes[b], seed=seed, batch_index=int(b),
                           scatter=scatter, randoms_fraction=randoms_fraction, list_mode=list_mode,
                           positron_range_fwhm_mm=positron_range_fwhm_mm,
                           noncollinearity_fwhm_deg=noncollinearity_fwhm_deg, workers=workers)
            for b in chosen]
