"""Linear-array probes and their two-way pulse.

Coordinates are those of the probe, in mm: ``x`` runs along the array from
the first element to the last with ``x = 0`` at the array's centre, ``z`` is
the depth from the array face (positive into the medium) and ``y`` the
elevation, so that ``(x, y, z)`` is right-handed.  These are the axes of the
MUST toolbox (D. Garcia, https://www.biomecardio.com/MUST), which makes the
two comparable.  Frequencies are in Hz, times in s, the speed of sound in m/s.

The two-way (pulse-echo) impulse response of transducer and pulse together is
modelled as a Gaussian-modulated cosine whose amplitude spectrum is a Gaussian
around the centre frequency with the probe's -6 dB *pulse-echo* fractional
bandwidth (the convention of MUST's ``param.bandwidth``), made zero-mean::

    p(t) = exp(-t^2 / (2 sigma_t^2)) (cos(2 pi f_c t) - kappa),  kappa = exp(-f_c^2 / (2 sigma_f^2)),
    sigma_t = 1 / (2 pi sigma_f),  sigma_f = B f_c / (2 sqrt(2 ln 2)).

``kappa`` (0.009 at 77 % bandwidth) is the admissibility correction of the
Morlet wavelet: a transducer passes no DC, and neither does this pulse.
The pulse is zero-phase (symmetric about ``t = 0``): time 0 of a transmit is
when the *centre* of the pulse leaves an element whose delay is 0, so an
echo's envelope peaks exactly at its two-way travel time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vipkb.errors import ParameterError

__all__ = ["L11_5V", "LinearArray", "check_number"]

#: Envelope of the pulse is kept out to this many standard deviations (exp(-8), -70 dB).
PULSE_SIGMAS = 4.0

#: Highest frequency the sampling must carry, in standard deviations of the spectrum above f_c (-39 dB).
BAND_SIGMAS = 3.0


def check_number(name: str, value: object, low: float, high: float, *, integer: bool = False,
                 open_low: bool = False) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a finite number in the range.

    The range is ``[low, high]``, or ``(low, high]`` with ``open_low``.
    """
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (open_low and value == low):
        kind = "an integer" if integer else "a number"
        raise ParameterError(f"{name} must be {kind} in {'(' if open_low else '['}{low:g}, {high:g}]; got {value!r}")


@dataclass(frozen=True, kw_only=True)
class LinearArray:
    """A linear array of identical rectangular elements, and the medium's speed of sound.

    Parameters
    ----------
    centre_frequency_hz
        Centre frequency of the pulse-echo spectrum, 0.1 to 100 MHz.
    fractional_bandwidth
        Pulse-echo -6 dB bandwidth over the centre frequency, 0.1 to 1.5
        (MUST's ``bandwidth`` divided by 100).
    n_elements
        Number of elements, 1 to 1024.
    pitch_mm
        Centre-to-centre element spacing.
    element_width_mm
        Element width along the array (pitch minus kerf), at most the pitch.
    element_height_mm
        Element height in elevation; ``None`` for a line array without
        elevation directivity.  Used only for scatterers with an elevation ``y``.
    elevation_focus_mm
        Focal depth of the elevation lens; ``None`` for no lens.
    speed_of_sound_m_s
        Speed of sound of the (homogeneous) medium, also assumed by the
        beamformer, 500 to 5000 m/s.
    sampling_frequency_hz
        RF sampling rate; default four times the centre frequency.  It must
        carry the pulse spectrum up to ``f_c + 3 sigma_f`` without aliasing.

    Examples
    --------
    >>> probe = LinearArray(centre_frequency_hz=5e6, fractional_bandwidth=0.6, n_elements=4, pitch_mm=0.3,
    ...                     element_width_mm=0.25)
    >>> probe.element_x_mm().round(2).tolist(), probe.fs_hz, round(probe.wavelength_mm, 3)
    ([-0.45, -0.15, 0.15, 0.45], 20000000.0, 0.308)
    """

    centre_frequency_hz: float
    fractional_bandwidth: float
    n_elements: int
    pitch_mm: float
    element_width_mm: float
    element_height_mm: float | None = None
    elevation_focus_mm: float | None = None
    speed_of_sound_m_s: float = 1540.0
    sampling_frequency_hz: float | None = None

    def __post_init__(self) -> None:
        check_number("centre_frequency_hz", self.centre_frequency_hz, 1e5, 1e8)
        check_number("fractional_bandwidth", self.fractional_bandwidth, 0.1, 1.5)
        check_number("n_elements", self.n_elements, 1, 1024, integer=True)
        check_number("pitch_mm", self.pitch_mm, 0.0, 10.0, open_low=True)
        check_number("element_width_mm", self.element_width_mm, 0.0, self.pitch_mm, open_low=True)
        if self.element_height_mm is not None:
            check_number("element_height_mm", self.element_height_mm, 0.0, 100.0, open_low=True)
        if self.elevation_focus_mm is not None:
            check_number("elevation_focus_mm", self.elevation_focus_mm, 0.0, 1000.0, open_low=True)
        check_number("speed_of_sound_m_s", self.speed_of_sound_m_s, 500.0, 5000.0)
        if self.sampling_frequency_hz is not None:
            lowest = 2.0 * (self.centre_frequency_hz + BAND_SIGMAS * self.sigma_f_hz)
            check_number("sampling_frequency_hz", self.sampling_frequency_hz, lowest, 1e10)

    @property
    def fs_hz(self) -> float:
        """RF sampling frequency."""
        return float(self.sampling_frequency_hz or 4.0 * self.centre_frequency_hz)

    @property
    def speed_mm_s(self) -> float:
        """Speed of sound in mm/s (the unit that goes with positions in mm)."""
        return 1e3 * self.speed_of_sound_m_s

    @property
    def wavelength_mm(self) -> float:
        """Wavelength at the centre frequency."""
        return self.speed_mm_s / self.centre_frequency_hz

    @property
    def aperture_mm(self) -> float:
        """Length of the array, first element's outer edge to the last's."""
        return (self.n_elements - 1) * self.pitch_mm + self.element_width_mm

    @property
    def sigma_f_hz(self) -> float:
        """Standard deviation of the Gaussian pulse-echo amplitude spectrum."""
        return self.fractional_bandwidth * self.centre_frequency_hz / (2.0 * math.sqrt(2.0 * math.log(2.0)))

    @property
    def sigma_t_s(self) -> float:
        """Standard deviation of the pulse envelope ``exp(-t^2 / (2 sigma_t^2))``."""
        return 1.0 / (2.0 * math.pi * self.sigma_f_hz)

    def element_x_mm(self) -> np.ndarray:
        """Lateral position of every element's centre, ``(k - (n - 1) / 2) * pitch``."""
        return (np.arange(self.n_elements) - (self.n_elements - 1) / 2.0) * self.pitch_mm

    def pulse(self, t_s: np.ndarray) -> np.ndarray:
        """The two-way pulse at times ``t_s`` relative to its centre (peak ``1 - kappa``).

        Examples
        --------
        >>> t = np.linspace(-1e-6, 1e-6, 20001)
        >>> abs(round(float(L11_5V.pulse(t).sum() * (t[1] - t[0]) * 1e12), 6))  # no DC: integral 0 (in ps)
        0.0
        """
        t = np.asarray(t_s, dtype=np.float64)
        kappa = np.exp(-0.5 * (self.centre_frequency_hz / self.sigma_f_hz) ** 2)
        return np.exp(-0.5 * (t / self.sigma_t_s) ** 2) * (np.cos(2.0 * np.pi * self.centre_frequency_hz * t) - kappa)


#: Verasonics L11-5v (128 elements, 7.6 MHz) with the values MUST publishes for it in the documentation of
#: ``getparam('L11-5v')``: pitch 0.30 mm, kerf 0.03 mm, elevation height 5 mm and lens focus 18 mm,
#: 77 % pulse-echo bandwidth (https://www.biomecardio.com/MUST/functions/html/getparam_doc.html).
L11_5V = LinearArray(centre_frequency_hz=7.6e6, fractional_bandwidth=0.77, n_elements=128, pitch_mm=0.30,
                     element_width_mm=0.27, element_height_mm=5.0, elevation_focus_mm=18.0)
