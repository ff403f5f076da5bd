"""Image formation: Cartesian k-space sampling of the echo magnetisation, FFT reconstruction.

The object is the complex transverse magnetisation at the echo on its voxel
grid, shape (X, Y, Z) = (readout, phase, slice), voxel size (dx, dy, dz) in
mm, each voxel a point sample at its centre; coordinates are relative to the
object's centre.  :func:`acquire` forms, per slice,

``K(kx, ky) = (dx dy / (px py)) sum_v w_s(z_v) m_v exp(-2 pi i (kx (x_v + dfv / bw px) + ky y_v))``

on the Cartesian grid ``k = (m - n // 2) / FOV`` (DC at index ``n // 2``),
with image pixel ``p = FOV / n``, ``w_s`` the rectangular slice profile
(partial-volume fraction of voxel v inside slab s, divided by the
thickness), ``dfv`` the voxel's off-resonance and ``bw`` the readout
bandwidth per pixel: a readout sample taken ``t`` after the echo adds the
phase ``2 pi dfv t``, the same as displacing the voxel along +readout by
``dfv / bw`` pixels (chemical shift).  The scale makes :func:`reconstruct`
return magnetisation per pixel, so a uniform region of PD = 1 fully relaxed
reads 1 whatever the matrix.  The object is band-limited to its own grid:
k-space beyond ``1 / (2 dx)`` is zero, so a matrix finer than the object
interpolates instead of inventing detail, a coarser one truncates (Gibbs
ringing) and a field of view smaller than the object folds it (aliasing).

The sum is evaluated with the FFT whenever the FOV is a whole number of
voxels along an axis (the usual case): the object is folded modulo the FOV,
transformed, and the wanted frequencies are picked; otherwise that axis uses
the exact DFT as a matrix product (``n x X`` operations per line).  Neither
path approximates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from simulators.threads import run_threads
from vipkb.errors import ParameterError, SimulationError

#: Distinct off-resonance values :func:`acquire` accepts; each costs one readout-axis transform.
MAX_OFF_RESONANCE_VALUES = 64


@dataclass(frozen=True, kw_only=True)
class _Axis:
    """Sampling along one in-plane axis: object voxels ``n_obj`` of ``d`` mm, ``n`` samples over ``fov`` mm."""

    n_obj: int
    d: float
    fov: float
    n: int

    @property
    def periods(self) -> int | None:
        """FOV in voxels when it is a whole number (FFT path), else None (DFT path)."""
        ratio = self.fov / self.d
        whole = round(ratio)
        return whole if whole >= 1 and abs(ratio - whole) <= 1e-9 * ratio else None

    @property
    def orders(self) -> np.ndarray:
        return np.arange(self.n) - self.n // 2

    @property
    def origin(self) -> float:
        # Pixel n // 2 of the image sits half a pixel off centre when n is even.
        return (self.n // 2 - (self.n - 1) / 2) * self.fov / self.n

    def modulation(self) -> np.ndarray:
        """Per-voxel factor that makes the FFT output start at the lowest wanted frequency."""
        big = self.periods
        if big is None:
            return np.ones(self.n_obj)
        h = self.n // 2 if self.n <= big else big // 2
        return np.exp(2j * np.pi * h * (np.arange(self.n_obj) % big) / big)

    def transform(self, a: np.ndarray, axis: int, shift_px: float, workers: int | None) -> np.ndarray:
        """k-space along ``axis`` of ``a`` (already multiplied by :meth:`modulation`)."""
        big = self.periods
        scale = self.n * self.d / self.fov
        k = self.orders / self.fov
        valid = (k * self.d >= -0.5 - 1e-12) & (k * self.d < 0.5 - 1e-12)
        if big is None:
            x = (np.arange(self.n_obj) - (self.n_obj - 1) / 2) * self.d - self.origin + shift_px * self.fov / self.n
            e = np.where(valid[:, None], scale * np.exp(-2j * np.pi * np.outer(k, x)), 0.0)
            return np.moveaxis(np.tensordot(e, a, axes=(1, axis)), 0, axis)
        if self.n_obj > big:
            a = _fold(a, axis, big)
        f = scipy.fft.fft(a, n=big, axis=axis, overwrite_x=True, workers=workers)
        if self.n <= big:
            f = f[_at(axis, slice(0, self.n))]
        else:
            shape = list(f.shape)
            shape[axis] = self.n
            out = np.zeros(shape, dtype=complex)
            start = self.n // 2 - big // 2
            out[_at(axis, slice(start, start + big))] = f
            f = out
        c = (self.n_obj - 1) / 2 + self.origin / self.d
        phase = scale * np.exp(2j * np.pi * self.orders * (c / big - shift_px / self.n))
        f *= phase.reshape([-1 if i == axis else 1 for i in range(a.ndim)])
        return f


def _at(axis: int, index: slice) -> tuple[slice, ...]:
    return (slice(None),) * axis + (index,)


def _fold(a: np.ndarray, axis: int, period: int) -> np.ndarray:
    """Sum ``a`` modulo ``period`` along ``axis``: what a too-small FOV does (wrap-around)."""
    out = a[_at(axis, slice(0, period))].copy()
    for start in range(period, a.shape[axis], period):
        chunk = a[_at(axis, slice(start, start + period))]
        out[_at(axis, slice(0, chunk.shape[axis]))] += chunk
    return out


def slice_weights(n_z: int, dz_mm: float, positions_mm: Sequence[float], thickness_mm: float) -> np.ndarray:
    """Rectangular slice profile: weight of object plane k in slice s, shape (n_slices, n_z).

    The weight is the length of plane k's voxel inside slab s divided by
    the slab thickness, so a slab inside a uniform object averages to the
    object's value and a slab partly outside the object gets less signal.

    Examples
    --------
    >>> slice_weights(4, 1.0, [0.0], 2.0)  # a 2 mm slab centred on a 4-plane object
    array([[0. , 0.5, 0.5, 0. ]])
    """
    z = (np.arange(n_z) - (n_z - 1) / 2) * dz_mm
    p = np.asarray(positions_mm, dtype=float)[:, None]
    overlap = np.minimum(z + dz_mm / 2, p + thickness_mm / 2) - np.maximum(z - dz_mm / 2, p - thickness_mm / 2)
    return np.clip(overlap, 0.0, None) / thickness_mm


def _combine(m: np.ndarray, weights: np.ndarray, modulation: np.ndarray) -> np.ndarray:
    """Slices (X, Y, S) from the object (X, Y, Z), times the in-plane modulation (X, Y)."""
    n_slices = weights.shape[0]
    nonzero = [np.flatnonzero(w) for w in weights]
    if n_slices == m.shape[2] and all(len(k) == 1 and k[0] == s and weights[s, s] == 1.0
                                      for s, k in enumerate(nonzero)):
        # Slices are exactly the object's planes: one pass, no gather.
        return m * modulation[:, :, None]
    out = np.zeros((*m.shape[:2], n_slices), dtype=complex)
    for s, k in enumerate(nonzero):
        if k.size:
            out[:, :, s] = (m[:, :, k] @ weights[s, k]) * modulation
    return out


def _positions(slice_positions_mm) -> np.ndarray:
    positions = np.atleast_1d(np.asarray(slice_positions_mm, dtype=float))
    if positions.ndim != 1 or positions.size == 0 or not np.all(np.isfinite(positions)):
        raise ParameterError(f"slice_positions_mm must be a non-empty list of finite positions (mm); "
                             f"got {slice_positions_mm!r}")
    return positions


def _values(name: str, value, count: int, *, integer: bool = False) -> tuple:
    try:
        items = tuple(np.broadcast_to(np.asarray(value), (count,)).tolist())
    except (ValueError, TypeError):
        items = ()
    kind = "positive integers" if integer else "positive finite numbers (mm)"
    ok = len(items) == count and all(
        (isinstance(v, int) and not isinstance(v, bool) and v > 0) if integer
        else (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0)
        for v in items)
    if not ok:
        raise ParameterError(f"{name} must be {count} {kind}; got {value!r}")
    return items


def _groups(off_resonance_hz, shape: tuple[int, ...], bandwidth) -> list[tuple[float, np.ndarray | None]]:
    """(displacement in pixels, voxel mask) per distinct off-resonance value."""
    if off_resonance_hz is None:
        return [(0.0, None)]
    try:
        df = np.broadcast_to(np.asarray(off_resonance_hz, dtype=float), shape)
    except ValueError as err:
        raise ParameterError(f"off_resonance_hz must broadcast to the object shape {shape}") from err
    if not np.all(np.isfinite(df)):
        raise ParameterError("off_resonance_hz must be finite (Hz)")
    if not np.any(df):
        return [(0.0, None)]
    bw = float(bandwidth) if bandwidth is not None else float("nan")
    if not (math.isfinite(bw) and bw > 0):
        raise ParameterError(f"bandwidth_hz_per_pixel must be a positive number of Hz when off_resonance_hz is "
                             f"given; got {bandwidth!r}")
    groups = []
    left = np.ones(shape, dtype=bool)
    # Peeling off one value at a time beats np.unique's full sort for the few
    # values (water, fat, ...) this is meant for.
    while True:
        first = int(np.argmax(left))
        if not left.flat[first]:
            break
        if len(groups) == MAX_OFF_RESONANCE_VALUES:
            raise ParameterError(f"off_resonance_hz has more than {MAX_OFF_RESONANCE_VALUES} distinct values; "
                                 "each costs one transform: quantise the map (e.g. to 1 Hz steps) first")
        value = df.flat[first]
        mask = df == value
        left &= ~mask
        groups.append((value / bw, mask))
    if len(groups) == 1:
        return [(groups[0][0], None)]
    return groups


def acquire(magnetisation: np.ndarray, *, voxel_size_mm: Sequence[float], fov_mm: Sequence[float],
            matrix: Sequence[int], slice_thickness_mm: float, slice_positions_mm: Sequence[float],
            noise_std: float = 0.0, rng: np.random.Generator | None = None, off_resonance_hz=None,
            bandwidth_hz_per_pixel: float | None = None, workers: int | None = None) -> np.ndarray:
    """Sample Cartesian k-space of an object, one 2-D k-space per slice.

    Parameters
    ----------
    magnetisation
        Complex (or real) transverse magnetisation at the echo, shape (X, Y, Z)
        along (readout, phase, slice), in units of M0 of PD = 1.
    voxel_size_mm
        (dx, dy, dz) of the object in mm.
    fov_mm, matrix
        Field of view (mm) and samples along (readout, phase); the FOV is
        centred on the object's centre.
    slice_thickness_mm, slice_positions_mm
        Rectangular slab thickness and slab centres along z (mm from the
        object's centre).
    noise_std
        Standard deviation, per real and imaginary channel, of the complex
        white Gaussian noise *in the reconstructed image* (units of M0 of
        PD = 1); the k-space noise is scaled by ``sqrt(nx ny)`` to give it.
    rng
        The random generator, required when ``noise_std > 0``.
    off_resonance_hz, bandwidth_hz_per_pixel
        Per-voxel off-resonance (broadcast to the object; at most
        :data:`MAX_OFF_RESONANCE_VALUES` distinct values) and the readout
        bandwidth per pixel; a voxel moves by ``df / bw`` pixels along
        +readout.  The phase accrued up to the echo is part of
        ``magnetisation``; slice-direction chemical shift is not modelled.
    workers
        Threads for :mod:`scipy.fft` (None: its default, usually 1).

    Returns
    -------
    numpy.ndarray
        Complex k-space, shape (nx, ny, n_slices), DC at ``(nx // 2, ny // 2)``.

    Examples
    --------
    >>> obj = np.ones((4, 4, 1))
    >>> k = acquire(obj, voxel_size_mm=(1, 1, 1), fov_mm=(4, 4), matrix=(4, 4), slice_thickness_mm=1.0,
    ...             slice_positions_mm=[0.0])
    >>> np.allclose(reconstruct(k), obj)
    True
    """
    m = np.asarray(magnetisation)
    if m.ndim != 3 or m.size == 0 or not np.issubdtype(m.dtype, np.number):
        raise SimulationError(f"magnetisation must be a non-empty numeric 3-D array (readout, phase, slice); "
                              f"got shape {m.shape}, dtype {m.dtype}")
    if not np.all(np.isfinite(m)):
        raise SimulationError("magnetisation has NaN or infinite values: check the tissue parameters")
    dx, dy, dz = _values("voxel_size_mm", voxel_size_mm, 3)
    fx, fy = _values("fov_mm", fov_mm, 2)
    nx, ny = _values("matrix", matrix, 2, integer=True)
    (thickness,) = _values("slice_thickness_mm", slice_thickness_mm, 1)
    positions = _positions(slice_positions_mm)
    try:
        noise_std = float(noise_std)
    except (TypeError, ValueError):
        noise_std = math.nan
    if not (math.isfinite(noise_std) and noise_std >= 0):
        raise ParameterError(f"noise_std must be a finite number >= 0; got {noise_std!r}")
    if noise_std > 0 and not isinstance(rng, np.random.Generator):
        raise ParameterError("noise_std > 0 needs rng=numpy.random.default_rng(seed): noise never comes from "
                             f"global random state; got rng={rng!r}")
    groups = _groups(off_resonance_hz, m.shape, bandwidth_hz_per_pixel)
    ax = _Axis(n_obj=m.shape[0], d=dx, fov=fx, n=nx)
    ay = _Axis(n_obj=m.shape[1], d=dy, fov=fy, n=ny)
    weights = slice_weights(m.shape[2], dz, positions, thickness)
    modulation = np.outer(ax.modulation(), ay.modulation())
    k = None
    for shift_px, mask in groups:
        part = m if mask is None else np.where(mask, m, 0)
        kx = ax.transform(_combine(part, weights, modulation), 0, shift_px, workers)
        k = kx if k is None else k + kx
    # Off-resonance only moves voxels along the readout, so the phase axis is
    # transformed once for all groups.
    k = ay.transform(k, 1, 0.0, workers)
    k = np.ascontiguousarray(k)
    if noise_std > 0:
        _add_noise(k, noise_std * math.sqrt(nx * ny), rng, workers)
    return k


def _add_noise(k: np.ndarray, sigma: float, rng: np.random.Generator, workers: int | None) -> None:
    """Add complex Gaussian noise (sigma per channel) in place, one child generator per readout line.

    Drawing the normals costs about as much as one FFT; independent child
    streams (:meth:`numpy.random.Generator.spawn`) let threads share the work
    while the bytes stay the same whatever the number of threads.
    """
    children = rng.spawn(k.shape[0])

    def line(i: int) -> None:
        z = children[i].standard_normal((*k.shape[1:], 2)).view(complex)[..., 0]
        z *= sigma
        k[i] += z

    run_threads(line, range(k.shape[0]), _threads(workers))


def _threads(workers: int | None) -> int:
    """Thread count for ``workers`` read as :mod:`scipy.fft` does (None: its default, -1: all cores)."""
    if workers is None:
        return scipy.fft.get_workers()
    if workers < 0:
        return max(1, (os.cpu_count() or 1) + 1 + workers)
    return max(1, workers)


def reconstruct(kspace: np.ndarray, *, workers: int | None = None) -> np.ndarray:
    """Complex image (nx, ny, n_slices) from k-space laid out as :func:`acquire` returns it.

    The inverse DFT over the first two axes with DC at index ``n // 2`` and
    image pixel ``j`` at ``(j - (n - 1) / 2) FOV / n`` from the FOV centre;
    done as one FFT with the centring shifts applied as phase ramps.
    """
    k = np.asarray(kspace)
    if k.ndim != 3 or k.size == 0:
        raise SimulationError(f"kspace must be a non-empty 3-D array (kx, ky, slice); got shape {k.shape}")
    ramps = []
    for n in k.shape[:2]:
        h = n // 2
        idx = np.arange(n)
        ramps.append((np.exp(-2j * np.pi * h * idx / n), np.exp(2j * np.pi * h * (h - idx) / n)))
    before = np.outer(ramps[0][0], ramps[1][0])[:, :, None]
    after = np.outer(ramps[0][1], ramps[1][1])[:, :, None]
    image = scipy.fft.ifft2(k * before, axes=(0, 1), overwrite_x=True, workers=workers)
    image *= after
    return image


def image_affine(object_affine: np.ndarray, object_shape: Sequence[int], *, fov_mm: Sequence[float],
                 matrix: Sequence[int], slice_positions_mm: Sequence[float],
                 slice_thickness_mm: float) -> np.ndarray:
    """Voxel-to-world affine (4 x 4, mm, NIfTI convention) of the image :func:`acquire` + :func:`reconstruct` give.

    The FOV is centred on the object's centre; image pixel (j, l) lies at
    ``((j - (nx - 1) / 2) FOV_x / nx, (l - (ny - 1) / 2) FOV_y / ny)`` mm
    along the object's first two axes, and slice s at
    ``slice_positions_mm[s]`` along the third.  The object's voxel size is
    read from the column norms of ``object_affine`` (it must match the
    ``voxel_size_mm`` given to :func:`acquire`).  Slice positions must be
    equally spaced; a single slice gets the slice thickness as its spacing.

    Examples
    --------
    >>> image_affine(np.eye(4), (4, 4, 4), fov_mm=(4, 4), matrix=(2, 2), slice_positions_mm=[0.0],
    ...              slice_thickness_mm=2.0)[:3]
    array([[2. , 0. , 0. , 0.5],
           [0. , 2. , 0. , 0.5],
           [0. , 0. , 2. , 1.5]])
    """
    a = np.asarray(object_affine, dtype=float)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        raise ParameterError(f"object_affine must be a finite 4 x 4 matrix; got shape {a.shape}")
    shape = _values("object_shape", tuple(object_shape), 3, integer=True)
    fx, fy = _values("fov_mm", fov_mm, 2)
    nx, ny = _values("matrix", matrix, 2, integer=True)
    (thickness,) = _values("slice_thickness_mm", slice_thickness_mm, 1)
    positions = _positions(slice_positions_mm)
    step = thickness
    if positions.size > 1:
        gaps = np.diff(positions)
        if not np.allclose(gaps, gaps[0], rtol=1e-6, atol=1e-9 * thickness) or gaps[0] == 0:
            raise ParameterError(f"slice_positions_mm must be equally spaced for an affine; got {positions.tolist()}")
        step = float(gaps[0])
    vox = np.linalg.norm(a[:3, :3], axis=0)
    if not np.all(vox > 0):
        raise ParameterError("object_affine has a zero-length axis")
    px, py = fx / nx, fy / ny
    index = np.eye(4)
    index[0, 0], index[0, 3] = px / vox[0], (shape[0] - 1) / 2 - (nx - 1) / 2 * px / vox[0]
    index[1, 1], index[1, 3] = py / vox[1], (shape[1] - 1) / 2 - (ny - 1) / 2 * py / vox[1]
    index[2, 2], index[2, 3] = step / vox[2], (shape[2] - 1) / 2 + positions[0] / vox[2]
    return a @ index
