"""Delay-and-sum beamforming, envelope detection and log compression.

Receive beamforming is dynamic focusing on every pixel of a
:class:`~simulators.ultrasound.grid.PlaneGrid`: the RF of element ``e`` is read
at ``t_tx(p) + |p - e| / c``, where ``t_tx`` is the transmit's arrival time at
the pixel (:meth:`PlaneWave.arrival_s`, :meth:`FocusedWave.arrival_s`), weighted
by a receive apodisation over the aperture allowed by the f-number
(``|x_p - x_e| <= z_p / (2 F#)``), and summed (Perrot, Polichetti, Varray &
Garcia, "So you think you can DAS?", Ultrasonics 111, 106309, 2021).

The RF is read from its *analytic signal* (RF + i Hilbert(RF)), upsampled by
zero-padding its spectrum, with linear interpolation between samples: the sum
is then the analytic signal of the beamformed RF, whose modulus is the
envelope.  Upsampling keeps the interpolation error small (at 4 samples per
cycle, x4 upsampling, the worst amplitude loss is ``1 - cos(pi / 16)``, 2 %)
without rotating the phase of every delayed sample as IQ beamforming must.
Plane waves of several angles are compounded coherently (their complex
images are summed: Montaldo et al., IEEE TUFFC 56, 489, 2009).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from simulators.threads import run_threads
from simulators.ultrasound.grid import PlaneGrid
from simulators.ultrasound.probe import LinearArray, check_number
from simulators.ultrasound.rf import RFData
from simulators.ultrasound.transmit import FocusedWave, PlaneWave
from vipkb.errors import ParameterError

__all__ = ["APODIZATIONS", "analytic_signal", "delay_and_sum", "log_compress"]

#: Receive apodisations over the f-number aperture: Hann (cos^2, low side lobes) or uniform.
APODIZATIONS = ("hann", "boxcar")

#: Pixel-element pairs per work unit of the beamformer.
CHUNK_PAIRS = 1 << 18


def analytic_signal(rf: np.ndarray, upsample: int = 1) -> np.ndarray:
    """Analytic signal of every column, upsampled ``upsample`` times by spectral zero-padding (complex64).

    Examples
    --------
    >>> t = np.arange(64) / 4.0
    >>> z = analytic_signal(np.cos(2 * np.pi * t / 4), upsample=2)
    >>> z.shape, bool(np.allclose(np.abs(z[20:100]), 1.0, atol=1e-3))
    ((128,), True)
    """
    check_number("upsample", upsample, 1, 64, integer=True)
    n = rf.shape[0]
    spectrum = scipy.fft.rfft(np.asarray(rf, dtype=np.float64), axis=0)
    full = np.zeros((n * upsample,) + rf.shape[1:], dtype=np.complex128)
    half = (n + 1) // 2
    full[0] = spectrum[0]
    # Doubling positive frequencies (and keeping an even length's Nyquist bin once) is what scipy.signal.hilbert does.
    full[1:half] = 2.0 * spectrum[1:half]
    if n % 2 == 0:
        full[n // 2] = spectrum[n // 2]
    return (scipy.fft.ifft(full, axis=0) * upsample).astype(np.complex64)


def _aperture_weights(distance: np.ndarray, half_width: np.ndarray, apodization: str) -> np.ndarray:
    inside = distance <= half_width
    if apodization == "boxcar":
        return inside.astype(np.float32)
    ratio = np.where(inside, distance / half_width, 1.0)
    return (np.cos(0.5 * np.pi * ratio) ** 2 * inside).astype(np.float32)


def delay_and_sum(data: RFData, probe: LinearArray, transmit: PlaneWave | FocusedWave, grid: PlaneGrid, *,
                  f_number: float = 1.5, apodization: str = "hann", upsample: int = 4,
                  workers: int | None = None) -> np.ndarray:
    """Beamform one transmit's RF onto ``grid``: the complex (analytic) image, ``(nz, nx)``.

    Parameters
    ----------
    data
        RF of the transmit (sample ``n`` at ``n / fs``).
    probe
        The array that recorded it (positions, pitch, speed of sound).
    transmit
        The transmit, for its arrival time at every pixel.
    grid
        Pixels (probe frame, mm); pixels at ``z <= 0`` stay 0.
    f_number
        Receive f-number, 0 to 10; 0 uses the whole array with uniform weights.
    apodization
        ``"hann"`` or ``"boxcar"`` over the aperture (see :data:`APODIZATIONS`).
    upsample
        Upsampling of the analytic signal before linear interpolation.
    workers
        Threads (default :func:`~simulators.threads.default_workers`).

    Returns
    -------
    numpy.ndarray
        complex128 ``(nz, nx)``; its modulus is the envelope.
    """
    check_number("f_number", f_number, 0.0, 10.0)
    if apodization not in APODIZATIONS:
        raise ParameterError(f"apodization must be one of {APODIZATIONS}; got {apodization!r}")
    if data.rf.ndim != 2 or data.rf.shape[1] != probe.n_elements:
        raise ParameterError(f"RF must be (n_samples, {probe.n_elements}) for this probe; got {data.rf.shape}")
    if workers is not None:
        check_number("workers", workers, 1, 1024, integer=True)
    signal = analytic_signal(data.rf, upsample)
    flat = signal.ravel()
    n_rows, n_el = signal.shape
    rate = data.fs_hz * upsample
    ex = probe.element_x_mm()
    x, z = grid.x_mm(), grid.z_mm()
    out = np.zeros(grid.shape, dtype=np.complex128)
    tx = transmit.arrival_s(probe, x[None, :], z[:, None])
    rows = np.flatnonzero(z > 0)
    # Element window per row: every element when the f-number is 0, else the aperture z / F# and 2 spare.
    if f_number > 0:
        half_width = z / (2.0 * f_number)
        n_window = np.minimum(n_el, np.ceil(2.0 * half_width / probe.pitch_mm).astype(int) + 2)
    else:
        half_width = np.full(z.shape, np.inf)
        n_window = np.full(z.shape, n_el)
    per_row = grid.nx * n_window
    blocks, start, load = [], 0, 0
    for i, row in enumerate(rows):
        load += per_row[row]
        if load >= CHUNK_PAIRS or i == len(rows) - 1:
            blocks.append(rows[start:i + 1])
            start, load = i + 1, 0

    def run(block: np.ndarray) -> None:
        width = int(n_window[block].max())
        zb, hb = z[block][:, None, None], half_width[block][:, None, None]
        if np.isfinite(hb).all():
            first = np.ceil((x[None, :, None] - hb - ex[0]) / probe.pitch_mm).astype(int)
            first = np.clip(first, 0, max(0, n_el - width))
        else:
            first = np.zeros((1, 1, 1), dtype=int)
        element = first + np.arange(width)
        dx = x[None, :, None] - ex[element]
        weight = (np.ones(dx.shape, dtype=np.float32) if f_number == 0
                  else _aperture_weights(np.abs(dx), hb, apodization))
        arrival = tx[block][:, :, None] + np.hypot(dx, zb) / probe.speed_mm_s
        position = arrival * rate
        index = np.floor(position)
        frac = (position - index).astype(np.float32)
        inside = (index >= 0) & (index < n_rows - 1)
        weight = weight * inside  # broadcasts the full-aperture weights (one row) to the block
        base = np.where(inside, index, 0).astype(np.int64) * n_el + element
        samples = flat[base] * (1 - frac) + flat[base + n_el] * frac
        out[block] = (samples * weight).sum(axis=2)

    run_threads(run, blocks, workers)
    return out


def log_compress(envelope: np.ndarray, dynamic_range_db: float = 60.0, reference: float | None = None) -> np.ndarray:
    """``20 log10(envelope / reference)`` clipped to ``[-dynamic_range_db, 0]`` (reference: the maximum).

    Examples
    --------
    >>> log_compress(np.array([1.0, 0.5, 0.001, 0.0]), 40.0).round(2).tolist()
    [0.0, -6.02, -40.0, -40.0]
    """
    check_number("dynamic_range_db", dynamic_range_db, 1.0, 200.0)
    env = np.abs(np.asarray(envelope, dtype=np.float64))
    ref = float(env.max(initial=0.0)) if reference is None else float(reference)
    if not ref > 0:
        return np.full(env.shape, -float(dynamic_range_db))
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(env / ref)
    return np.clip(db, -dynamic_range_db, 0.0)
