"""The PET system model of a ring scanner: line integrals, attenuation, sensitivity, expected counts.

An emission of in-plane isotropic direction from a density ``f`` (decays per
mm^2) lands in sinogram bin ``i`` with expected count

    ybar_i = sensitivity_i x attenuation_i x integral of f along LOR_i

(:meth:`RingScanner.lors` derives the geometric sensitivity; the attenuation
factor is ``exp(-integral of mu_511)`` along the whole LOR, exact for
back-to-back photons).  With ``x_j`` the number of decays in voxel ``j``,
``f = x_j / voxel area`` and ``ybar = M x`` with
``M_ij = sensitivity_i attenuation_i L_ij / voxel area``, ``L_ij`` the exact
length (mm) of LOR ``i`` in voxel ``j``.

:class:`SystemModel` holds ``M`` as a sparse matrix built by a vectorised
Siddon traversal (every crossing of a voxel boundary, sorted per ray), so
forward and back projections are exact adjoints.  Attenuation factors and
:func:`expected_counts` use :func:`simulators.xray.siddon.line_integrals`; the
two tracers agree to float32 precision.

Activity maps are 2-D arrays on a :class:`~simulators.xray.grid.VoxelGrid`
(``array[i, j]`` at world ``(x, y)``); a 3-D model is simulated and
reconstructed slice by slice, each slice a direct plane of one ring.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from simulators.pet.scanner import RingScanner
from simulators.xray.grid import VoxelGrid
from simulators.xray.siddon import line_integrals
from vipkb.errors import ParameterError

__all__ = ["SystemModel", "attenuation_factors", "check_image", "expected_counts", "line_integral_sinogram",
           "system_matrix"]

#: Ray x plane-crossing elements per chunk of the matrix build (~16 MB per float64 temporary).
CHUNK_ELEMENTS = 1 << 21


def check_image(name: str, values: np.ndarray, grid: VoxelGrid) -> np.ndarray:
    """A finite, non-negative 2-D float64 image on ``grid``, or :class:`ParameterError`."""
    if not isinstance(grid, VoxelGrid) or grid.ndim != 2:
        raise ParameterError(f"grid must be a 2-D VoxelGrid (simulate 3-D models slice by slice); got {grid!r}")
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf" or arr.shape != grid.shape:
        raise ParameterError(f"{name} must be a real array of the grid's shape {grid.shape}; "
                             f"got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ParameterError(f"{name} must be finite and >= 0 everywhere")
    return arr


def _flat_lors(scanner: RingScanner, oversample: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, ends, sens = scanner.lors(oversample)
    return starts.reshape(-1, 2), ends.reshape(-1, 2), sens


def line_integral_sinogram(image: np.ndarray, grid: VoxelGrid, scanner: RingScanner, *, oversample: int = 1,
                           workers: int | None = None) -> np.ndarray:
    """Exact line integrals of ``image`` along every bin's LOR, shape ``(n_radial, n_angles)``.

    With ``oversample = k`` the result is the sensitivity-weighted mean over
    the bin's ``k x k`` sub-LORs (see :meth:`RingScanner.lors`).  Units: the
    image's times mm.
    """
    image = check_image("image", image, grid)
    starts, ends, sens = _flat_lors(scanner, oversample)
    li = line_integrals(image, starts_mm=starts, ends_mm=ends, voxel_size_mm=grid.voxel_size_mm,
                        origin_mm=grid.origin_mm, workers=workers).reshape(sens.shape)
    return (li * sens).sum(axis=-1) / sens.sum(axis=-1)


def attenuation_factors(mu_511: np.ndarray, grid: VoxelGrid, scanner: RingScanner, *,
                        workers: int | None = None) -> np.ndarray:
    """Survival probability ``exp(-integral mu)`` of a photon pair along every bin's LOR.

    Parameters
    ----------
    mu_511
        Linear attenuation at 511 keV (1/mm) on ``grid``; zero beyond it.
    """
    return np.exp(-line_integral_sinogram(mu_511, grid, scanner, workers=workers))


def expected_counts(activity: np.ndarray, mu_511: np.ndarray, grid: VoxelGrid, scanner: RingScanner, *,
                    n_events: float, oversample: int = 1, workers: int | None = None) -> np.ndarray:
    """Mean true coincidences per bin when ``n_events`` decays are drawn from ``activity``.

    ``n_events / sum(activity) x sensitivity x integral of (activity / voxel
    area) x exp(-integral of mu_511)``, summed over ``oversample**2``
    sub-LORs per bin: ``oversample = 1`` is the LOR through the crystal
    centres; larger values average over the tube of response and converge to
    the exact expectation of :func:`simulators.pet.emission.simulate_batch`
    (without scatter, randoms, positron range or non-collinearity).

    Returns
    -------
    numpy.ndarray
        Float counts, shape ``(n_radial, n_angles)``.
    """
    activity = check_image("activity", activity, grid)
    mu = check_image("mu_511", mu_511, grid)
    total = activity.sum()
    if total <= 0:
        raise ParameterError("activity must have a positive sum")
    if not np.isfinite(n_events) or n_events < 0:
        raise ParameterError(f"n_events must be a finite number >= 0; got {n_events!r}")
    starts, ends, sens = _flat_lors(scanner, oversample)
    kw = dict(starts_mm=starts, ends_mm=ends, voxel_size_mm=grid.voxel_size_mm, origin_mm=grid.origin_mm,
              workers=workers)
    area = float(np.prod(grid.voxel_size_mm))
    emission = line_integrals(activity / area, **kw).reshape(sens.shape)
    survival = np.exp(-line_integrals(mu, **kw)).reshape(sens.shape)
    return n_events / total * (sens * emission * survival).sum(axis=-1)


def _crossings(grid: VoxelGrid, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(ray, voxel, length)`` of every non-empty ray/voxel intersection."""
    size = np.asarray(grid.voxel_size_mm)
    low = np.asarray(grid.origin_mm) - size / 2
    d = ends - starts
    a_lo, a_hi = np.zeros(len(starts)), np.ones(len(starts))
    planes = []
    for axis, n in enumerate(grid.shape):
        p, da = starts[:, axis:axis + 1], d[:, axis:axis + 1]
        bounds = low[axis] + size[axis] * np.arange(n + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = (bounds[None, :] - p) / da
        flat = da[:, 0] == 0
        inside = (p[:, 0] >= bounds[0]) & (p[:, 0] < bounds[-1])
        # A ray parallel to these planes is inside their slab for all alpha, or never.
        first = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(alpha[:, 0], alpha[:, -1]))
        last = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(alpha[:, 0], alpha[:, -1]))
        a_lo, a_hi = np.maximum(a_lo, first), np.minimum(a_hi, last)
        planes.append(alpha)
    miss = ~(a_hi > a_lo)  # rays missing the grid get one point, so every segment has length zero
    a_lo, a_hi = np.where(miss, 0.0, a_lo), np.where(miss, 0.0, a_hi)
    alphas = np.concatenate([a_lo[:, None], *planes, a_hi[:, None]], axis=1)
    alphas = np.where(np.isfinite(alphas), alphas, a_lo[:, None])
    alphas = np.sort(np.clip(alphas, a_lo[:, None], a_hi[:, None]), axis=1)
    seg = np.diff(alphas, axis=1) * np.linalg.norm(d, axis=1)[:, None]
    rows, cols = np.nonzero(seg > 0)
    mid = (alphas[rows, cols] + alphas[rows, cols + 1]) / 2
    index = np.zeros(len(rows), dtype=np.int64)
    for axis, n in enumerate(grid.shape):
        k = np.floor((starts[rows, axis] + mid * d[rows, axis] - low[axis]) / size[axis]).astype(np.int64)
        index = index * n + np.clip(k, 0, n - 1)  # clip: a midpoint can round onto the far boundary
    return rows, index, seg[rows, cols]


def system_matrix(grid: VoxelGrid, scanner: RingScanner) -> scipy.sparse.csr_array:
    """Exact intersection lengths (mm) of every bin's LOR with every voxel.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(n_bins, n_voxels)``: row ``j * n_angles + v`` (C order of the
        sinogram), column the C-order index of the voxel on ``grid``.
    """
    if not isinstance(grid, VoxelGrid) or grid.ndim != 2:
        raise ParameterError(f"grid must be a 2-D VoxelGrid; got {grid!r}")
    starts, ends, _ = _flat_lors(scanner, 1)
    per = max(1, CHUNK_ELEMENTS // (sum(grid.shape) + 4))
    parts = []
    for r0 in range(0, len(starts), per):
        rows, cols, lengths = _crossings(grid, starts[r0:r0 + per], ends[r0:r0 + per])
        parts.append((rows + r0, cols, lengths))
    rows, cols, lengths = (np.concatenate(p) for p in zip(*parts, strict=True))
    shape = (len(starts), int(np.prod(grid.shape)))
    return scipy.sparse.csr_array((lengths, (rows, cols)), shape=shape)


class SystemModel:
    """Sparse forward model ``ybar = M x`` from decays per voxel to mean counts per bin.

    Parameters
    ----------
    grid, scanner
        Image grid (2-D) and ring.
    mu_511
        Attenuation map (1/mm) on ``grid``: its attenuation factors are part
        of ``M`` (attenuation correction).  ``None`` leaves them out.

    Examples
    --------
    >>> from simulators.pet.scanner import RingScanner
    >>> scanner = RingScanner(radius_mm=100.0, n_detectors=64, crystal_width_mm=9.0, n_radial=41)
    >>> model = SystemModel(VoxelGrid.centred((16, 16), 5.0), scanner)
    >>> model.forward(np.ones((16, 16))).shape, model.back(np.ones(scanner.shape)).shape
    ((41, 32), (16, 16))
    """

    def __init__(self, grid: VoxelGrid, scanner: RingScanner, *, mu_511: np.ndarray | None = None) -> None:
        self.grid, self.scanner = grid, scanner
        matrix = system_matrix(grid, scanner)
        scale = scanner.lors(1)[2].ravel() / float(np.prod(grid.voxel_size_mm))
        if mu_511 is not None:
            scale = scale * attenuation_factors(mu_511, grid, scanner).ravel()
        matrix.data *= np.repeat(scale, np.diff(matrix.indptr))
        self.matrix = matrix
        self._subsets: dict[tuple[int, int], tuple[np.ndarray, scipy.sparse.csr_array, np.ndarray]] = {}

    def forward(self, image: np.ndarray) -> np.ndarray:
        """Mean counts per bin, shape ``(n_radial, n_angles)``, of ``image`` decays per voxel."""
        return (self.matrix @ np.asarray(image, dtype=np.float64).ravel()).reshape(self.scanner.shape)

    def back(self, sinogram: np.ndarray) -> np.ndarray:
        """The adjoint: ``M^T y`` on the grid."""
        return (self.matrix.T @ np.asarray(sinogram, dtype=np.float64).ravel()).reshape(self.grid.shape)

    def sensitivity(self) -> np.ndarray:
        """``M^T 1``: the probability that a decay in each voxel is counted in the sinogram."""
        return self.back(np.ones(self.scanner.shape))

    def subset(self, index: int, n_subsets: int) -> tuple[np.ndarray, scipy.sparse.csr_array, np.ndarray]:
        """Rows (flat bins), matrix and sensitivity image of views ``v = index (mod n_subsets)``."""
        key = (index, n_subsets)
        if key not in self._subsets:
            n_radial, n_angles = self.scanner.shape
            views = np.arange(index, n_angles, n_subsets)
            rows = (np.arange(n_radial)[:, None] * n_angles + views[None, :]).ravel()
            part = self.matrix[rows]
            self._subsets[key] = rows, part, part.T @ np.ones(len(rows))
        return self._subsets[key]
