"""MLEM and OSEM reconstruction of a PET sinogram with attenuation correction.

With ``M`` the :class:`~simulators.pet.projector.SystemModel` (geometric
sensitivity, attenuation factors when the model was built with a ``mu_511``
map: that is the attenuation correction) and ``r`` an optional additive mean
(randoms and scatter estimate), the expectation-maximisation update of
Shepp & Vardi (IEEE TMI 1, 1982) is

    x <- x / (M^T 1) * M^T (y / (M x + r))

and OSEM (Hudson & Larkin, IEEE TMI 13, 1994) applies it in turn to subsets
of views ``v = q (mod n_subsets)``, each subset with its own ``M_q^T 1``.
One OSEM iteration visits every subset once.  Images are numbers of decays
per voxel (divide by the frame duration for Bq); voxels that no LOR crosses
stay 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulators.pet.projector import SystemModel
from vipkb.errors import ParameterError

__all__ = ["mlem", "osem"]


def _count(name: str, value: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= high:
        raise ParameterError(f"{name} must be an integer in [1, {high}]; got {value!r}")
    return int(value)


def _sinogram(name: str, values: np.ndarray | float, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 0 and arr.shape != shape:
        raise ParameterError(f"{name} must be a number or a sinogram of shape {shape}; got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ParameterError(f"{name} must be finite and >= 0")
    return np.broadcast_to(arr, shape).ravel()


def osem(sinogram: np.ndarray, model: SystemModel, *, n_iterations: int, n_subsets: int = 1,
         additive: np.ndarray | float | None = None, initial: np.ndarray | None = None,
         callback: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Ordered-subsets expectation maximisation.

    Parameters
    ----------
    sinogram
        Measured counts, shape ``(n_radial, n_angles)`` of the model's scanner.
    model
        The system model; build it with the attenuation map for attenuation correction.
    n_iterations
        Passes over all the data.
    n_subsets
        Subsets of interleaved views (1 = MLEM).
    additive
        Mean randoms + scatter per bin (a number or a sinogram), in counts.
    initial
        Start image (default: uniform over the voxels the scanner sees, with
        the measured total).
    callback
        Called as ``callback(iteration, image)`` after each iteration.

    Returns
    -------
    numpy.ndarray
        Decays per voxel on the model's grid.

    Examples
    --------
    >>> from simulators.pet.scanner import RingScanner
    >>> from simulators.xray.grid import VoxelGrid
    >>> scanner = RingScanner(radius_mm=100.0, n_detectors=64, crystal_width_mm=9.0, n_radial=41)
    >>> model = SystemModel(VoxelGrid.centred((16, 16), 5.0), scanner)
    >>> truth = np.zeros((16, 16)); truth[6:10, 6:10] = 100.0
    >>> image = osem(model.forward(truth), model, n_iterations=50, n_subsets=4)
    >>> bool(abs(image[6:10, 6:10].sum() / truth.sum() - 1) < 0.02)
    True
    """
    shape = model.scanner.shape
    y = _sinogram("sinogram", sinogram, shape)
    r = np.zeros(y.size) if additive is None else _sinogram("additive", additive, shape)
    n_iterations = _count("n_iterations", n_iterations, 100_000)
    n_subsets = _count("n_subsets", n_subsets, shape[1])
    # Voxels no LOR crosses have no data: they stay 0 rather than keep an arbitrary start value.
    seen = model.sensitivity() > 0
    if initial is None:
        level = max(y.sum() - r.sum(), 1e-12) / max(model.forward(seen).sum(), 1e-300)
        x = np.where(seen, level, 0.0).ravel()
    else:
        x = np.array(initial, dtype=np.float64)
        if x.shape != model.grid.shape or not np.isfinite(x).all() or (x < 0).any():
            raise ParameterError(f"initial must be a finite, non-negative image of shape {model.grid.shape}")
        x = np.where(seen, x, 0.0).ravel()
    for iteration in range(n_iterations):
        for q in range(n_subsets):
            rows, part, sens = model.subset(q, n_subsets)
            mean = part @ x + r[rows]
            # Bins with no expected counts carry no information (and hold no counts when the model is right).
            ratio = np.divide(y[rows], mean, out=np.zeros(len(rows)), where=mean > 0)
            x = np.divide(x * (part.T @ ratio), sens, out=np.zeros_like(x), where=sens > 0)
        if callback is not None:
            callback(iteration, x.reshape(model.grid.shape))
    return x.reshape(model.grid.shape)


def mlem(sinogram: np.ndarray, model: SystemModel, *, n_iterations: int,
         additive: np.ndarray | float | None = None, initial: np.ndarray | None = None,
         callback: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Maximum-likelihood expectation maximisation: :func:`osem` with one subset."""
    return osem(sinogram, model, n_iterations=n_iterations, n_subsets=1, additive=additive, initial=initial,
                callback=callback)
