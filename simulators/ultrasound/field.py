"""Far-field element responses, the transmitted pulse at a scatterer, and the spectrum of every echo.

The pieces of the pulse-echo model of :mod:`simulators.ultrasound.rf`:

* :func:`element_paths`: distance, direction and the frequency-independent
  part of an element's response at a scatterer, ``cos(theta) / sqrt(r)``
  (2-D model: cylindrical spreading) or ``cos(theta) / r`` (3-D); the
  ``cos(theta)`` obliquity is that of a strip in a soft baffle (Selfridge,
  Kino & Khuri-Yakub, Appl. Phys. Lett. 37, 35, 1980);
* :func:`directivity`: the strip's Fraunhofer factor ``sinc(w f sin(theta) / c)``;
* :func:`elevation_profile`: the Fresnel integral over the element height
  behind an elevation lens (3-D model);
* :func:`transmit_pulse`: the transmitted waveform at each scatterer,
  reduced to one pulse (see its docstring);
* :func:`echo_spectra`: the Gaussian that best matches (same area, mean and
  variance) the pulse spectrum times the transmit and receive directivities,
  which vary across the band: at oblique angles the elements pass the low
  frequencies better than the high ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.probe import LinearArray
from simulators.ultrasound.scatterers import Scatterers

__all__ = ["TransmitPulse", "directivity", "echo_spectra", "elevation_profile", "element_paths", "transmit_pulse"]

#: Gauss-Legendre nodes over the element height; enough for the ~60 rad of phase a 5 mm lens sees at 2 mm depth.
ELEVATION_NODES = 64

#: Gauss-Hermite nodes over the pulse spectrum for the directivity moments (exact for smooth factors of degree 11).
SPECTRUM_NODES = 6

#: Fixed-point steps towards the envelope peak of the transmitted pulse (converges in 2-3 from a good start).
FIXED_POINT_STEPS = 4

#: Candidate starting arrivals for the transmitted pulse: about this many transmit elements.
CANDIDATES = 24


def element_paths(probe: LinearArray, scatterers: Scatterers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance (mm), ``sin(theta)`` and ``cos(theta) / sqrt(r)`` (or ``/ r`` in 3-D), each ``(n_scat, n_el)``."""
    dx = scatterers.x_mm[:, None] - probe.element_x_mm()[None, :]
    z = scatterers.z_mm[:, None]
    in_plane = np.hypot(dx, z)
    r = in_plane if scatterers.y_mm is None else np.hypot(in_plane, scatterers.y_mm[:, None])
    # Half a wavelength is the closest a far-field formula may be taken (MUST clamps likewise).
    r = np.maximum(r, probe.wavelength_mm / 2)
    spread = 1.0 / (np.sqrt(r) if scatterers.y_mm is None else r)
    return r, dx / in_plane, (z / in_plane) * spread


def directivity(probe: LinearArray, sin_theta: np.ndarray, f_hz: float | np.ndarray) -> np.ndarray:
    """``sin(x) / x`` with ``x = pi w f sin(theta) / c``: a strip of the probe's element width."""
    x = (np.pi * probe.element_width_mm / probe.speed_mm_s * f_hz) * np.asarray(sin_theta)
    # np.sinc does the same with more passes; this runs on every echo at every quadrature frequency.
    return np.divide(np.sin(x), x, out=np.ones(x.shape), where=x != 0)


def elevation_profile(probe: LinearArray, y_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
    """One-way elevation factor ``E`` (complex, 1 on the lens focus) at elevation ``y_mm`` and depth ``z_mm``.

    ``E = (1/H) int_{-H/2}^{H/2} exp(-i k [v^2 (1/R - 1/F) / 2 - v y / R]) dv`` (paraxial),
    at the centre frequency, with ``R = max(z, H)``; 1 everywhere for a probe
    without ``element_height_mm``.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> e = elevation_profile(L11_5V, np.array([0.0, 0.0, 1.0]), np.array([18.0, 40.0, 18.0]))
    >>> np.round(np.abs(e), 3).tolist()
    [1.0, 0.663, 0.213]
    """
    y, z = np.broadcast_arrays(np.asarray(y_mm, dtype=np.float64), np.asarray(z_mm, dtype=np.float64))
    if probe.element_height_mm is None:
        return np.ones(y.shape, dtype=np.complex128)
    h = probe.element_height_mm
    k = 2.0 * np.pi / probe.wavelength_mm
    curvature = 0.0 if probe.elevation_focus_mm is None else 1.0 / probe.elevation_focus_mm
    nodes, weights = np.polynomial.legendre.leggauss(ELEVATION_NODES)
    v = 0.5 * h * nodes
    big_r = np.maximum(z, h)[..., None]
    phase = k * (0.5 * v**2 * (1.0 / big_r - curvature) - v * y[..., None] / big_r)
    return (np.exp(-1j * phase) @ weights) / 2.0


@dataclass(frozen=True, kw_only=True, eq=False)
class TransmitPulse:
    """The transmitted pulse at each scatterer (arrays of length ``n_scat``).

    Attributes
    ----------
    amplitude
        Envelope peak, relative to one element's pulse at 1 mm on its axis.
    arrival_s
        Time of the envelope peak.
    phase
        Carrier phase lag at the peak (rad): the pulse is ``cos(2 pi f_c u - phase)``.
    path_mm
        Mean distance travelled from the transmitting elements (for attenuation).
    sin_theta
        Mean ``sin(theta)`` under which they see the scatterer (for the directivity's spectrum).
    """

    amplitude: np.ndarray
    arrival_s: np.ndarray
    phase: np.ndarray
    path_mm: np.ndarray
    sin_theta: np.ndarray


def transmit_pulse(probe: LinearArray, scatterers: Scatterers, delays_s: np.ndarray, apodization: np.ndarray,
                   r_mm: np.ndarray, sin_theta: np.ndarray, weight: np.ndarray) -> TransmitPulse:
    """The transmitted waveform at every scatterer, reduced to its strongest pulse.

    At a scatterer the transmit is ``s(t) = sum_j b_j g(t - t_j)
    exp(2 pi i f_c (t - t_j))``: element ``j`` fires at ``d_j`` with weight
    ``b_j`` (apodisation times its response at ``f_c``), its pulse (envelope
    ``g``) arrives at ``t_j = d_j + r_j / c``.  The envelope peaks at a
    ``tau`` where ``d|s|^2/dt = 0``, i.e. ``tau = sum_j w_j t_j / sum_j w_j``
    with ``w_j = Re(b_j g(tau - t_j) exp(-2 pi i f_c t_j) conj(s))``: iterated
    from the best of a few candidates (the arrivals of some elements, and the
    group delay of the whole sum).  Where the wave is coherent (inside a plane
    wave, along a focused beam) this is the stationary-phase arrival, the
    wavefront; where it splits (edge waves, side lobes) the strongest part is
    kept.  The same weights average the distances and directions.
    """
    t = delays_s[None, :] + r_mm / probe.speed_mm_s
    phasor = (apodization * weight * directivity(probe, sin_theta, probe.centre_frequency_hz)) * np.exp(
        -2j * np.pi * probe.centre_frequency_hz * t)
    active = np.flatnonzero(apodization > 0)
    t_low, t_high = t[:, active].min(axis=1), t[:, active].max(axis=1)
    scale = -0.5 / probe.sigma_t_s**2
    total = phasor.sum(axis=1)
    share = (phasor * np.conj(total)[:, None]).real
    group = np.clip((share * t).sum(axis=1) / np.maximum(np.abs(total) ** 2, 1e-300), t_low, t_high)
    picks = active[:: max(1, active.size // CANDIDATES)]
    candidates = np.concatenate([t[:, picks], group[:, None]], axis=1)
    # |s|^2 at the candidates (the carrier factor exp(2 pi i f_c tau) has modulus 1 and drops out), in float32
    # units of sigma_t from the first arrival: a ranking needs no more, and it is the costliest step here.
    rel = ((t - t_low[:, None]) / probe.sigma_t_s).astype(np.float32)
    rel_candidates = ((candidates - t_low[:, None]) / probe.sigma_t_s).astype(np.float32)
    g = np.exp(np.float32(-0.5) * (rel_candidates[:, :, None] - rel[:, None, :]) ** 2)
    parts = np.stack([phasor.real, phasor.imag], axis=-1).astype(np.float32)
    strength = ((g @ parts) ** 2).sum(axis=-1)
    tau = candidates[np.arange(len(t)), strength.argmax(axis=1)]
    for step in range(FIXED_POINT_STEPS + 1):
        terms = phasor * np.exp(scale * (tau[:, None] - t) ** 2)
        s = terms.sum(axis=1)
        w = (terms * np.conj(s)[:, None]).real
        norm = np.maximum(w.sum(axis=1), 1e-300)
        if step < FIXED_POINT_STEPS:
            tau = np.clip((w * t).sum(axis=1) / norm, t_low, t_high)
    path = np.clip((w * r_mm).sum(axis=1) / norm, r_mm[:, active].min(axis=1), r_mm[:, active].max(axis=1))
    sin_mean = np.clip((w * sin_theta).sum(axis=1) / norm, -1.0, 1.0)
    if scatterers.y_mm is not None:
        s = s * elevation_profile(probe, scatterers.y_mm, scatterers.z_mm) ** 2
    return TransmitPulse(amplitude=np.abs(s), arrival_s=tau, phase=-np.angle(s), path_mm=path, sin_theta=sin_mean)


def echo_spectra(probe: LinearArray, sin_rx: np.ndarray, sin_tx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gaussian match of ``G(f) D_tx(f) / D_tx(f_c) D_rx(f)`` per echo: ``(gain, centre Hz, sigma Hz)``.

    ``G`` is the probe's Gaussian pulse-echo spectrum.  With ``W = D_tx / D_tx(f_c) D_rx``
    and moments ``m_n`` of ``W`` over ``G`` (Gauss-Hermite quadrature), the
    product is replaced by the Gaussian with the same area, mean and variance:
    ``gain = m_0`` (the pulse's peak is its spectrum's area), centre
    ``f_c + sigma_f m_1 / m_0``, width ``sigma_f sqrt(m_2 / m_0 - (m_1 / m_0)^2)``
    (kept within 0.7-1.1 ``sigma_f``, i.e. the pulse lengthens by at most 40 %).
    ``sin_rx`` is ``(n_scat, n_el)``, ``sin_tx`` is ``(n_scat,)``.
    """
    xi, omega = np.polynomial.hermite_e.hermegauss(SPECTRUM_NODES)
    omega = omega / omega.sum()
    fc, sigma = probe.centre_frequency_hz, probe.sigma_f_hz
    f = fc + sigma * xi
    at_fc = directivity(probe, sin_tx, fc)[:, None]
    # Past the first null at f_c the transmit's shape is taken flat: there its amplitude is small anyway.
    tx = np.where(np.abs(at_fc) > 0.1, directivity(probe, sin_tx[:, None], f) / np.where(at_fc == 0, 1, at_fc), 1.0)
    w = tx[:, None, :] * directivity(probe, sin_rx[..., None], f)
    m0 = w @ omega
    ok = np.abs(m0) > 1e-2
    safe = np.where(ok, m0, 1.0)
    mean = np.where(ok, np.clip((w @ (omega * xi)) / safe, -1.0, 1.0), 0.0)
    var = np.where(ok, np.clip((w @ (omega * xi**2)) / safe - mean**2, 0.5, 1.2), 1.0)
    return m0, fc + sigma * mean, sigma * np.sqrt(var)
