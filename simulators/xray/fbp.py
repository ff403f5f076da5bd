"""Filtered back-projection for parallel-beam and equiangular fan-beam CT.

The ramp filter is the band-limited spatial-domain kernel of Kak & Slaney
(*Principles of Computerized Tomographic Imaging*, IEEE Press 1988, eq. 61
of ch. 3): ``h(0) = 1 / (4 tau^2)``, ``h(n tau) = -1 / (n pi tau)^2`` for odd
``n``, zero for even ``n``.  Sampling the kernel in space (rather than the
ramp ``|f|`` in frequency) gets the DC term right, which is what puts water
at 0 HU; projections are zero-padded to at least ``2 n - 1`` samples so the
circular convolution is linear.  Optional apodisation windows multiply the
filter's frequency response (``f`` in cycles per sample, 0.5 at Nyquist).

Fan beam is reconstructed directly (no rebinning) with the equiangular
weighted FBP of Kak & Slaney (ch. 3.4.2): projections weighted by
``R cos gamma``, convolved with ``g(gamma) = (gamma / sin gamma)^2 h(gamma) / 2``
and back-projected with ``1 / L^2`` (``L`` the source-to-pixel distance).

Back-projection is pixel-driven with linear interpolation, vectorised over
blocks of (views x rows x columns) and spread over threads by row blocks.  Pixels
outside the field of view (the disc every view covers) are set to 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft

from simulators.threads import run_threads
from simulators.xray.geometry import FanBeam, ParallelBeam
from simulators.xray.grid import VoxelGrid
from vipkb.errors import ParameterError

__all__ = ["WINDOWS", "fbp_fan", "fbp_parallel", "filter_projections", "ramp_kernel"]

#: Apodisation windows of the ramp filter, functions of frequency in cycles/sample.
WINDOWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ram-lak": np.ones_like,
    "shepp-logan": np.sinc,
    "cosine": lambda f: np.cos(np.pi * f),
    "hamming": lambda f: 0.54 + 0.46 * np.cos(2 * np.pi * f),
    "hann": lambda f: 0.5 + 0.5 * np.cos(2 * np.pi * f),
}

#: Elements per back-projection block (views x rows x columns), and rows per block.
BLOCK_ELEMENTS = 1 << 18
ROW_BLOCK = 32


def ramp_kernel(lags: np.ndarray, tau: float) -> np.ndarray:
    """Kak & Slaney's band-limited ramp kernel at integer ``lags`` for sample spacing ``tau``."""
    lags = np.asarray(lags)
    h = np.zeros(lags.shape)
    odd = lags % 2 == 1
    h[odd] = -1.0 / (np.pi * lags[odd] * tau) ** 2
    h[lags == 0] = 1.0 / (4.0 * tau**2)
    return h


def _circular_lags(n_fft: int) -> np.ndarray:
    j = np.arange(n_fft)
    return np.where(j <= n_fft // 2, j, j - n_fft)


def _convolve(projections: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray], tau: float,
              window: str) -> np.ndarray:
    """``tau * (p conv kernel)`` along axis 0, zero-padded, apodised by ``window``."""
    if window not in WINDOWS:
        raise ParameterError(f"unknown window {window!r}; available: {', '.join(WINDOWS)}")
    n = projections.shape[0]
    n_fft = scipy.fft.next_fast_len(2 * n - 1, real=True)
    response = scipy.fft.rfft(kernel(_circular_lags(n_fft))).real
    response *= WINDOWS[window](scipy.fft.rfftfreq(n_fft))
    spectrum = scipy.fft.rfft(projections, n=n_fft, axis=0)
    spectrum *= response[:, None]
    return tau * scipy.fft.irfft(spectrum, n=n_fft, axis=0)[:n]


def filter_projections(sinogram: np.ndarray, spacing_mm: float, *, window: str = "ram-lak") -> np.ndarray:
    """Ramp-filter a parallel-beam sinogram ``(n_detectors, n_views)`` along the detector axis."""
    return _convolve(np.asarray(sinogram, dtype=np.float64), lambda lags: ramp_kernel(lags, spacing_mm),
                     spacing_mm, window)


def _check_sinogram(sinogram: np.ndarray, geometry: ParallelBeam | FanBeam, grid: VoxelGrid) -> np.ndarray:
    sino = np.asarray(sinogram, dtype=np.float64)
    if sino.shape != (geometry.n_detectors, geometry.n_views):
        raise ParameterError(f"the sinogram must have shape (n_detectors, n_views) = "
                             f"{(geometry.n_detectors, geometry.n_views)}; got {sino.shape}")
    if grid.ndim != 2:
        raise ParameterError(f"FBP reconstructs a 2-D grid; got a {grid.ndim}-D one")
    return sino


def _backproject(table: np.ndarray, position: Callable, weight: Callable | None, grid: VoxelGrid, fov_mm: float,
                 workers: int | None) -> np.ndarray:
    """Sum over views of ``weight * table[view](position)`` with linear interpolation.

    ``table`` is ``(n_views, n_samples)`` with zeros at both ends;
    ``position(views, x, y)`` gives fractional sample indices for broadcast
    arrays of views, x and y (and ``weight`` the same-shaped weights).
    """
    n_views, n_samples = table.shape
    exact_in_float32 = table.size < 2**24
    step = np.zeros_like(table)
    step[:, :-1] = table[:, 1:] - table[:, :-1]
    flat, flat_step = table.ravel(), step.ravel()
    x, y = grid.centres(0), grid.centres(1)
    image = np.zeros(grid.shape, dtype=np.float32)
    inside = x[:, None] ** 2 + y[None, :] ** 2 <= fov_mm**2
    n_rows = grid.shape[0]
    # Fixed row blocks (not one per thread) keep the sums, hence the bits, independent of the thread count.
    starts = list(range(0, n_rows, ROW_BLOCK))

    def rows(i0: int) -> None:
        i1 = min(i0 + ROW_BLOCK, n_rows)
        cols = np.flatnonzero(inside[i0:i1].any(axis=0))
        if cols.size == 0:
            return
        j0, j1 = cols[0], cols[-1] + 1
        per = max(1, BLOCK_ELEMENTS // ((i1 - i0) * (j1 - j0)))
        xs = x[i0:i1].astype(np.float32)[None, :, None]
        ys = y[j0:j1].astype(np.float32)[None, None, :]
        acc = np.zeros((i1 - i0, j1 - j0), dtype=np.float32)
        for v0 in range(0, n_views, per):
            views = np.arange(v0, min(v0 + per, n_views))
            pos = position(views, xs, ys)
            k = np.floor(pos)
            frac = np.subtract(pos, k, out=pos)
            if exact_in_float32:  # float32 -> int32 -> intp is the cheap cast
                k += (views * n_samples).astype(np.float32)[:, None, None]
                k = k.astype(np.int32).astype(np.intp)
            else:
                k = k.astype(np.intp)
                k += (views * n_samples)[:, None, None]
            val = flat_step.take(k)
            val *= frac
            val += flat.take(k)
            if weight is not None:
                val *= weight(views, xs, ys)
            acc += val.sum(axis=0)
        image[i0:i1, j0:j1] = acc

    run_threads(rows, starts, workers)
    image[~inside] = 0.0
    return image.astype(np.float64)


def fbp_parallel(sinogram: np.ndarray, geometry: ParallelBeam, grid: VoxelGrid, *, window: str = "ram-lak",
                 workers: int | None = None) -> np.ndarray:
    """Reconstruct a parallel-beam sinogram on a 2-D grid.

    Parameters
    ----------
    sinogram
        Line integrals, ``(n_detectors, n_views)``, e.g. mu x mm.
    geometry
        The scan; its arc must be 180 or 360 deg (each line seen once or twice).
    grid
        Output grid (array axis 0 along x, 1 along y).
    window
        One of :data:`WINDOWS`.
    workers
        Threads (default: the available CPUs, at most 8).

    Returns
    -------
    numpy.ndarray
        The image on ``grid``, in the sinogram's units per mm (1/mm for
        attenuation line integrals); 0 outside the field of view.
    """
    sino = _check_sinogram(sinogram, geometry, grid)
    if geometry.arc_deg not in (180.0, 360.0):
        raise ParameterError(f"parallel-beam FBP needs views over 180 or 360 deg; got arc_deg={geometry.arc_deg}")
    ds = geometry.detector_spacing_mm
    q = filter_projections(sino, ds, window=window) * (np.pi / geometry.n_views)
    s = geometry.detector_positions_mm()
    fov = min(abs(s[0]), abs(s[-1])) + ds / 2
    # Zeros beyond the detector so every grid pixel interpolates inside the table.
    reach = grid.radius_mm()
    pad = max(0, int(np.ceil((reach + s[0]) / ds))) + 1
    width = max(pad + geometry.n_detectors, pad + int(np.ceil((reach - s[0]) / ds)) + 2)
    table = np.zeros((geometry.n_views, width), dtype=np.float32)
    table[:, pad:pad + geometry.n_detectors] = q.T
    th = np.deg2rad(geometry.angles_deg())
    cos = (np.cos(th) / ds).astype(np.float32)[:, None, None]
    sin = (np.sin(th) / ds).astype(np.float32)[:, None, None]
    shift = np.float32(pad - s[0] / ds)

    def position(views, xs, ys):
        pos = xs * cos[views]
        pos += shift
        return pos + ys * sin[views]

    return _backproject(table, position, None, grid, fov, workers)


def fbp_fan(sinogram: np.ndarray, geometry: FanBeam, grid: VoxelGrid, *, window: str = "ram-lak",
            workers: int | None = None) -> np.ndarray:
    """Reconstruct an equiangular fan-beam sinogram (full 360 deg scan) on a 2-D grid.

    Parameters are as for :func:`fbp_parallel`, with a :class:`FanBeam`
    geometry.  The field of view is the disc of radius
    :meth:`FanBeam.field_of_view_radius_mm`.
    """
    sino = _check_sinogram(sinogram, geometry, grid)
    r = geometry.source_to_isocentre_mm
    gamma = geometry.fan_angles_rad()
    d_gamma = geometry.detector_pitch_mm / geometry.source_to_detector_mm

    def kernel(lags):
        # (gamma / sin gamma)^2 tends to 1 at gamma = 0.
        g = lags * d_gamma
        ratio = np.ones_like(g)
        nz = lags != 0
        ratio[nz] = (g[nz] / np.sin(g[nz])) ** 2
        return 0.5 * ratio * ramp_kernel(lags, d_gamma)

    weighted = sino * (r * np.cos(gamma))[:, None]
    q = _convolve(weighted, kernel, d_gamma, window) * (2 * np.pi / geometry.n_views)
    pad = 2
    table = np.zeros((geometry.n_views, geometry.n_detectors + 2 * pad), dtype=np.float32)
    table[:, pad:pad + geometry.n_detectors] = q.T
    beta = np.deg2rad(geometry.angles_deg())
    cos = np.cos(beta).astype(np.float32)[:, None, None]
    sin = np.sin(beta).astype(np.float32)[:, None, None]
    shift = np.float32(pad - gamma[0] / d_gamma)

    def along_and_across(views, xs, ys):
        # Distance along the central ray from the source, and across it (along u).
        return r - xs * sin[views] + ys * cos[views], xs * cos[views] + ys * sin[views]

    def position(views, xs, ys):
        a, b = along_and_across(views, xs, ys)
        pos = np.arctan2(b, a)
        pos *= np.float32(1 / d_gamma)
        pos += shift
        # Pixels outside the fan (masked later) must still index inside the table.
        return np.clip(pos, np.float32(0), np.float32(table.shape[1] - 1), out=pos)

    def weight(views, xs, ys):
        a, b = along_and_across(views, xs, ys)
        return 1.0 / (a * a + b * b)

    return _backproject(table, position, weight, grid, geometry.field_of_view_radius_mm(), workers)
