"""Pulse-echo RF signals of a linear array from point scatterers, synthesised in the time domain.

Model (far field per element, as MUST's ``simus``, reduced to one pulse per echo; the
pieces are in :mod:`simulators.ultrasound.field`):

* element ``j`` radiates ``D_j(f) cos(theta_j) / sqrt(r_j)`` towards a point
  (2-D model; ``D E / r`` with the elevation profile ``E`` in 3-D), with
  ``D(f) = sinc(w f sin(theta) / c)`` the directivity of a strip of width ``w``;
* the transmitted waveform at a scatterer, the sum over the firing elements,
  is reduced to its strongest pulse: amplitude, arrival time and carrier phase
  of its envelope peak (:func:`~simulators.ultrasound.field.transmit_pulse`);
* each scatterer-element pair contributes one two-way pulse
  (:meth:`~simulators.ultrasound.probe.LinearArray.pulse`) centred at that
  arrival plus ``r_e / c``, scaled by the scatterer's amplitude, the transmit
  amplitude, ``E^2`` and ``cos(theta_e) / sqrt(r_e)`` (or ``/ r_e``); its
  Gaussian spectrum is multiplied by the band-varying directivities of the
  transmit and of element ``e`` and re-fitted by a Gaussian
  (:func:`~simulators.ultrasound.field.echo_spectra`): oblique echoes come out
  longer, lower in frequency and weaker, as they do from a real strip;
* attenuation ``alpha f`` (dB/cm/MHz) over the mean transmit path plus
  ``r_e`` multiplies a Gaussian spectrum of width ``s`` centred on ``f0`` by
  ``exp(-a f)``: the result is the same Gaussian centred on ``f0 - a s^2``,
  scaled by ``exp(-a f0 + (a s)^2 / 2)``, which is exact.

Why the time domain: with one pulse per pair the work is
``n_scatterers x n_elements x (pulse length in samples, ~20)`` evaluations of
a closed-form pulse at exact (not rounded) times, against
``n_scatterers x n_elements x n_frequencies (~1000)`` complex products for a
frequency-domain sum like MUST's.  What it gives up: a transmitted waveform
that splits into several pulses (edge waves of a plane wave outside its
insonified zone, side lobes of a focused beam) keeps only the strongest.

Time 0 is when the centre of the pulse leaves an element with zero delay;
sample ``n`` is at ``n / fs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulators.threads import map_threads
from simulators.ultrasound.field import echo_spectra, element_paths, transmit_pulse
from simulators.ultrasound.probe import PULSE_SIGMAS, LinearArray, check_number
from simulators.ultrasound.scatterers import Scatterers
from vipkb.errors import ParameterError

__all__ = ["NEPER_PER_DB", "RFData", "simulate_rf"]

#: Scatterer-element-sample evaluations per chunk: ~8 MB per float32 temporary, cache-friendly.
CHUNK_EVALUATIONS = 1 << 21

#: Longest pulse envelope relative to the probe's (the narrowest spectrum echo_spectra allows is 1 / sqrt(2)).
LONGEST_PULSE = np.sqrt(2.0)

#: dB to nepers (amplitude): ln(10) / 20.
NEPER_PER_DB = math.log(10.0) / 20.0


@dataclass(frozen=True, kw_only=True, eq=False)
class RFData:
    """RF signals of one transmit.

    Attributes
    ----------
    rf
        ``(n_samples, n_elements)``, arbitrary units proportional to pressure.
    fs_hz
        Sampling frequency; sample ``n`` is at ``n / fs_hz`` s.
    delays_s
        The transmit delays used.
    """

    rf: np.ndarray
    fs_hz: float
    delays_s: np.ndarray

    def time_s(self) -> np.ndarray:
        """Time of every sample."""
        return np.arange(self.rf.shape[0]) / self.fs_hz


def _check_delays(probe: LinearArray, delays_s: np.ndarray, apodization: np.ndarray | None) -> tuple[np.ndarray, ...]:
    delays = np.asarray(delays_s, dtype=np.float64)
    if delays.shape != (probe.n_elements,) or not np.isfinite(delays).all():
        raise ParameterError(f"delays_s must hold {probe.n_elements} finite transmit delays (s), one per element; "
                             f"got shape {delays.shape}")
    if delays.min() < 0 or delays.max() > 1e-3:
        raise ParameterError(f"transmit delays must lie in [0, 1 ms]; got {delays.min():g} to {delays.max():g} s")
    apod = np.ones(probe.n_elements) if apodization is None else np.asarray(apodization, dtype=np.float64)
    if apod.shape != (probe.n_elements,) or not (np.isfinite(apod).all() and (apod >= 0).all()) or not apod.any():
        raise ParameterError(f"tx_apodization must hold {probe.n_elements} finite weights >= 0, not all 0")
    return delays, apod


def simulate_rf(scatterers: Scatterers, probe: LinearArray, delays_s: np.ndarray, *,
                tx_apodization: np.ndarray | None = None, attenuation_db_cm_mhz: float = 0.0,
                n_samples: int | None = None, workers: int | None = None) -> RFData:
    """Per-element pulse-echo RF of one transmit (see the module docstring for the model).

    Parameters
    ----------
    scatterers
        Points in the probe frame (mm) with amplitudes; with ``y_mm`` the 3-D
        model is used (spherical spreading, elevation profile).
    probe
        The array (also sets the speed of sound and the sampling rate).
    delays_s
        Firing time of every element, e.g. ``PlaneWave(angle_deg=0).delays_s(probe)``.
    tx_apodization
        Transmit weight per element (default all 1; 0 switches an element off).
    attenuation_db_cm_mhz
        Attenuation slope of the medium, 0 to 5 dB/cm/MHz (soft tissue ~0.5).
    n_samples
        Record length; default up to the last echo.  Echoes beyond are dropped.
    workers
        Threads (default :func:`~simulators.threads.default_workers`).

    Returns
    -------
    RFData
        ``rf`` of shape ``(n_samples, n_elements)``.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> from simulators.ultrasound.transmit import PlaneWave
    >>> point = Scatterers(x_mm=[0.0], z_mm=[20.0], amplitude=[1.0])
    >>> data = simulate_rf(point, L11_5V, PlaneWave().delays_s(L11_5V))
    >>> peak = int(np.abs(data.rf[:, 63]).argmax())  # element 63 sits 0.15 mm from x = 0
    >>> bool(abs(peak / data.fs_hz - (20.0 + np.hypot(0.15, 20.0)) / L11_5V.speed_mm_s) < 1 / data.fs_hz)
    True
    """
    delays, apod = _check_delays(probe, delays_s, tx_apodization)
    check_number("attenuation_db_cm_mhz", attenuation_db_cm_mhz, 0.0, 5.0)
    if workers is not None:
        check_number("workers", workers, 1, 1024, integer=True)
    fs, n_el = probe.fs_hz, probe.n_elements
    longest = PULSE_SIGMAS * LONGEST_PULSE * probe.sigma_t_s  # half-length of the longest pulse
    c = probe.speed_mm_s
    if n_samples is None:
        # The farthest element from a scatterer is one of the two end ones.
        ends = probe.element_x_mm()[[0, -1]]
        far = np.hypot(np.abs(scatterers.x_mm[:, None] - ends).max(axis=1), scatterers.z_mm)
        if scatterers.y_mm is not None:
            far = np.hypot(far, scatterers.y_mm)
        n_samples = int(np.ceil((delays.max() + 2.0 * far.max(initial=0.0) / c + longest) * fs)) + 1
    check_number("n_samples", n_samples, 1, 1 << 24, integer=True)
    # No pair of a scatterer can arrive before min(delay) + 2 z / c: skip those wholly after the record.
    scatterers = scatterers.subset(np.flatnonzero((delays.min() + 2.0 * scatterers.z_mm / c - longest) * fs
                                                  < n_samples))
    pad = int(np.floor(2.0 * longest * fs)) + 2  # a pulse clamped into the padding rows is dropped with them
    length = (n_samples + 2 * pad) * n_el
    alpha = attenuation_db_cm_mhz * NEPER_PER_DB / 10.0 / 1e6  # Np per mm per Hz
    per_chunk = max(1, CHUNK_EVALUATIONS // (n_el * pad))
    chunks = [slice(i, i + per_chunk) for i in range(0, len(scatterers), per_chunk)]
    columns = np.arange(n_el)

    def run(rows: slice) -> np.ndarray:
        part = scatterers.subset(rows)
        r, sin_theta, weight = element_paths(probe, part)
        tx = transmit_pulse(probe, part, delays, apod, r, sin_theta, weight)
        gain, centre, sigma = echo_spectra(probe, sin_theta, tx.sin_theta)
        gain *= (part.amplitude * tx.amplitude)[:, None] * weight
        if alpha > 0:
            travelled = alpha * (tx.path_mm[:, None] + r)
            gain *= np.exp(-travelled * centre + 0.5 * (travelled * sigma) ** 2)
            centre = np.maximum(centre - travelled * sigma**2, 0.0)
        arrival = (tx.arrival_s[:, None] + r / c).ravel()
        phase = np.repeat(tx.phase, n_el)
        gain, centre, sigma = gain.ravel(), centre.ravel(), sigma.ravel()
        # Pulse envelope exp(-u^2 / (2 sigma_t^2)), sigma_t = 1 / (2 pi sigma), kept out to PULSE_SIGMAS; echoes
        # are grouped by length so that the short (most) are not evaluated over the longest one's window.
        half = PULSE_SIGMAS / (2.0 * np.pi * sigma)
        widths = np.floor(2.0 * half * fs).astype(np.int64) + 2
        first = np.clip(np.ceil((arrival - half) * fs), -pad, n_samples).astype(np.int64)
        base = (first + pad) * n_el + np.tile(columns, len(part))
        indices, samples = [], []
        for width in np.unique(widths):
            sel = np.flatnonzero(widths == width)
            u = (first[sel] / fs - arrival[sel]).astype(np.float32)[:, None] + (np.arange(width) / fs).astype(
                np.float32)
            envelope = np.exp((-2.0 * np.pi**2 * sigma[sel] ** 2).astype(np.float32)[:, None] * (u * u))
            wave = np.cos((2.0 * np.pi * centre[sel]).astype(np.float32)[:, None] * u
                          - phase[sel].astype(np.float32)[:, None])
            # Zero-mean correction of the pulse (see probe.py): exp(-centre^2 / (2 sigma^2)) cos(phase).
            wave -= (np.exp(-0.5 * (centre[sel] / sigma[sel]) ** 2) * np.cos(phase[sel])).astype(np.float32)[:, None]
            samples.append((envelope * wave * gain[sel].astype(np.float32)[:, None]).ravel())
            indices.append((base[sel][:, None] + np.arange(0, width * n_el, n_el)).ravel())
        return np.bincount(np.concatenate(indices), weights=np.concatenate(samples), minlength=length)

    total = np.zeros(length)
    for part in map_threads(run, chunks, workers):
        total += part
    rf = total.reshape(n_samples + 2 * pad, n_el)[pad:pad + n_samples]
    return RFData(rf=np.ascontiguousarray(rf), fs_hz=fs, delays_s=delays)
