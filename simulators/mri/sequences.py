"""Pulse sequences as lists of events for the isochromat Bloch solver.

A sequence is a flat tuple of events played in order; a new sequence is a new
list, never new physics code.  Units: times in ms, angles in degrees, RF
amplitude B1 in microtesla, gradients in mT/m (a 3-vector along the object's
axes: readout x, phase y, slice z), frequencies in Hz.

Conventions (shared with :mod:`simulators.mri.bloch`): the magnetisation
obeys ``dM/dt = gamma M x B`` in the rotating frame, so every rotation is
left-handed about the effective field.  An RF pulse of phase 0 (B1 along +x)
tips +z towards +y, and a positive off-resonance ``df`` turns the transverse
magnetisation ``Mx + i My`` by ``exp(-2 pi i df t)``.

The builders start from equilibrium and repeat one repetition ``n_tr``
times, with an :class:`ADC` labelled ``"echo"`` in every repetition; the last
one is the steady-state echo that :mod:`simulators.mri.signal` predicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vipkb.errors import ParameterError

#: Proton gyromagnetic ratio / 2 pi in Hz/T (CODATA 2018: 42.577 478 518 MHz/T).
GAMMA_BAR_HZ_PER_T = 42.577478518e6
#: The same in Hz per (mT/m x mm): the frequency offset of a position in a gradient.
GAMMA_BAR_HZ_PER_MT_M_MM = GAMMA_BAR_HZ_PER_T * 1e-6
#: The same in Hz per microtesla: the nutation rate of an RF field.
GAMMA_BAR_HZ_PER_UT = GAMMA_BAR_HZ_PER_T * 1e-6


def _finite(name: str, value: float, *, low: float | None = None, strict: bool = False) -> float:
    v = float(value)
    bad = not math.isfinite(v) or (low is not None and (v <= low if strict else v < low))
    if bad:
        rule = "a finite number" if low is None else f"{'>' if strict else '>='} {low:g}"
        raise ParameterError(f"{name} must be {rule}; got {value!r}")
    return v


def _gradient(value: Sequence[float]) -> tuple[float, float, float]:
    g = tuple(float(x) for x in value)
    if len(g) != 3 or not all(math.isfinite(x) for x in g):
        raise ParameterError(f"gradient_mt_m must be three finite values (gx, gy, gz) in mT/m; got {value!r}")
    return g


@dataclass(frozen=True, kw_only=True)
class HardPulse:
    """An instantaneous RF rotation by ``flip_deg`` about an axis at ``phase_deg`` from +x."""

    flip_deg: float
    phase_deg: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "flip_deg", _finite("flip_deg", self.flip_deg))
        object.__setattr__(self, "phase_deg", _finite("phase_deg", self.phase_deg))


@dataclass(frozen=True, kw_only=True)
class ShapedPulse:
    """An RF waveform played sample by sample, with an optional constant gradient.

    Parameters
    ----------
    b1_ut
        Complex B1 samples in microtesla (real part along x, imaginary along
        y); each is held for ``dt_ms``.
    dt_ms
        Sample duration in ms.
    gradient_mt_m
        Gradient (mT/m) switched on for the whole pulse, e.g. slice selection.
    """

    b1_ut: tuple[complex, ...]
    dt_ms: float
    gradient_mt_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        samples = tuple(complex(b) for b in np.ravel(np.asarray(self.b1_ut, dtype=complex)))
        if not samples or not all(math.isfinite(b.real) and math.isfinite(b.imag) for b in samples):
            raise ParameterError("b1_ut must hold at least one finite B1 sample (microtesla)")
        object.__setattr__(self, "b1_ut", samples)
        object.__setattr__(self, "dt_ms", _finite("dt_ms", self.dt_ms, low=0.0, strict=True))
        object.__setattr__(self, "gradient_mt_m", _gradient(self.gradient_mt_m))

    @property
    def duration_ms(self) -> float:
        """Length of the pulse in ms."""
        return len(self.b1_ut) * self.dt_ms

    @property
    def flip_deg(self) -> float:
        """On-resonance flip angle of the pulse, ``360 gamma_bar |sum B1 dt|`` in degrees."""
        area = abs(sum(self.b1_ut)) * self.dt_ms * 1e-3
        return 360.0 * GAMMA_BAR_HZ_PER_UT * area


@dataclass(frozen=True, kw_only=True)
class FreePrecession:
    """Relaxation and precession for ``duration_ms``, with an optional gradient (mT/m)."""

    duration_ms: float
    gradient_mt_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_ms", _finite("duration_ms", self.duration_ms, low=0.0))
        object.__setattr__(self, "gradient_mt_m", _gradient(self.gradient_mt_m))


@dataclass(frozen=True, kw_only=True)
class ADC:
    """Record the transverse magnetisation now; ``label`` lets a caller pick echoes out."""

    label: str = "adc"


@dataclass(frozen=True, kw_only=True)
class Spoiler:
    """Destroy all transverse magnetisation instantly.

    This idealises RF spoiling plus crusher gradients, which in a real
    scanner only approximately null the transverse coherences; it is what
    makes the closed forms of :mod:`simulators.mri.signal` exact.
    """


Event = HardPulse | ShapedPulse | FreePrecession | ADC | Spoiler


def adc_labels(events: Iterable[Event]) -> list[str]:
    """Labels of the ADC events in playing order (row order of :func:`~simulators.mri.bloch.simulate`)."""
    return [e.label for e in events if isinstance(e, ADC)]


def total_duration_ms(events: Iterable[Event]) -> float:
    """Summed duration of an event list in ms (instantaneous events count 0)."""
    return sum(e.duration_ms for e in events if isinstance(e, FreePrecession | ShapedPulse))


def _repetitions(n_tr: int) -> int:
    if isinstance(n_tr, bool) or not isinstance(n_tr, int | np.integer) or n_tr < 1:
        raise ParameterError(f"n_tr must be a positive integer number of repetitions; got {n_tr!r}")
    return int(n_tr)


def spin_echo_events(tr: float, te: float, *, n_tr: int = 2) -> tuple[Event, ...]:
    """Spin echo: spoil, 90°x, TE/2, 180°y, TE/2, ADC "echo", rest of TR; repeated ``n_tr`` times.

    The 90° pulse leaves Mz = 0 whatever came before, so the second
    repetition is already in steady state: ``n_tr=2`` is exact.

    Examples
    --------
    >>> events = spin_echo_events(500.0, 20.0)
    >>> len(events), adc_labels(events), total_duration_ms(events)
    (14, ['echo', 'echo'], 1000.0)
    """
    tr = _finite("tr", tr, low=0.0, strict=True)
    te = _finite("te", te, low=0.0, strict=True)
    if te >= tr:
        raise ParameterError(f"te must be shorter than tr (0 < te < tr); got te={te} ms, tr={tr} ms")
    half = FreePrecession(duration_ms=te / 2.0)
    one = (Spoiler(), HardPulse(flip_deg=90.0), half, HardPulse(flip_deg=180.0, phase_deg=90.0), half,
           ADC(label="echo"), FreePrecession(duration_ms=tr - te))
    return one * _repetitions(n_tr)


def gradient_echo_events(tr: float, te: float, flip_deg: float, *, n_tr: int | None = None,
                         t1_max_ms: float = 5000.0) -> tuple[Event, ...]:
    """Spoiled gradient echo: spoil, flip about x, TE, ADC "echo", rest of TR.

    Parameters
    ----------
    tr, te
        Repetition and echo times in ms, ``0 <= te < tr``.
    flip_deg
        Flip angle, 0 to 180 degrees.
    n_tr
        Repetitions to play; by default :func:`gradient_echo_repetitions`
        for ``t1_max_ms``, so that any T1 up to it ends within 1e-4
        (relative) of the steady state.
    """
    tr = _finite("tr", tr, low=0.0, strict=True)
    te = _finite("te", te, low=0.0)
    if te >= tr:
        raise ParameterError(f"te must be shorter than tr (0 <= te < tr); got te={te} ms, tr={tr} ms")
    flip = _finite("flip_deg", flip_deg, low=0.0)
    if flip > 180.0:
        raise ParameterError(f"flip_deg must be between 0 and 180 degrees; got {flip_deg!r}")
    if n_tr is None:
        n_tr = gradient_echo_repetitions(tr, flip, t1_max_ms=t1_max_ms)
    one = (Spoiler(), HardPulse(flip_deg=flip), FreePrecession(duration_ms=te), ADC(label="echo"),
           FreePrecession(duration_ms=tr - te))
    return one * _repetitions(n_tr)


def gradient_echo_repetitions(tr: float, flip_deg: float, *, t1_max_ms: float, tol: float = 1e-4) -> int:
    """Repetitions after which a spoiled gradient echo is within ``tol`` of its steady state.

    From equilibrium, Mz before the k-th pulse approaches its steady value
    as ``(E1 cos a)^k`` with ``E1 = exp(-TR/T1)``; the relative error of the
    echo after k pulses is ``E1 (1 - cos a) / (1 - E1) (E1 cos a)^k``, which
    grows with T1, so ``t1_max_ms`` bounds it for every tissue.

    Examples
    --------
    >>> gradient_echo_repetitions(20.0, 90.0, t1_max_ms=2000.0)
    2
    >>> gradient_echo_repetitions(10.0, 5.0, t1_max_ms=2500.0)
    1174
    """
    tr = _finite("tr", tr, low=0.0, strict=True)
    t1 = _finite("t1_max_ms", t1_max_ms, low=0.0, strict=True)
    tol = _finite("tol", tol, low=0.0, strict=True)
    e1 = math.exp(-tr / t1)
    cos_a = math.cos(math.radians(flip_deg))
    start = e1 * (1.0 - cos_a) / (1.0 - e1)
    ratio = abs(e1 * cos_a)
    if start <= tol:
        return 1
    if ratio <= 0.0:
        return 2
    return 1 + math.ceil(math.log(tol / start) / math.log(ratio))


def inversion_recovery_events(tr: float, te: float, ti: float, *, n_tr: int = 2) -> tuple[Event, ...]:
    """Inversion-recovery spin echo: spoil, 180°x, TI, 90°x, TE/2, 180°y, TE/2, ADC "echo", rest of TR.

    As for the spin echo, the 90° pulse erases the history, so ``n_tr=2``
    is exactly the steady state.
    """
    tr = _finite("tr", tr, low=0.0, strict=True)
    te = _finite("te", te, low=0.0, strict=True)
    ti = _finite("ti", ti, low=0.0, strict=True)
    if ti + te >= tr:
        raise ParameterError(f"ti + te must be shorter than tr (the echo comes before the next inversion); "
                             f"got ti={ti} ms, te={te} ms, tr={tr} ms")
    half = FreePrecession(duration_ms=te / 2.0)
    one = (Spoiler(), HardPulse(flip_deg=180.0), FreePrecession(duration_ms=ti), HardPulse(flip_deg=90.0), half,
           HardPulse(flip_deg=180.0, phase_deg=90.0), half, ADC(label="echo"),
           FreePrecession(duration_ms=tr - ti - te))
    return one * _repetitions(n_tr)


def sinc_pulse(flip_deg: float, *, duration_ms: float, time_bandwidth: float = 4.0, n_samples: int = 128,
               slice_thickness_mm: float | None = None, phase_deg: float = 0.0) -> ShapedPulse:
    """A Hann-windowed sinc pulse, optionally with the slice-select gradient along z.

    The pulse has ``time_bandwidth`` zero crossings across its duration, so
    its excitation bandwidth is ``time_bandwidth / duration``; with
    ``slice_thickness_mm`` the gradient ``Gz = bandwidth / (gamma_bar
    thickness)`` maps that bandwidth onto the slab.  Follow it with
    ``FreePrecession(duration_ms=duration_ms / 2, gradient_mt_m=(0, 0, -Gz))``
    to rephase the slice.

    Examples
    --------
    >>> p = sinc_pulse(30.0, duration_ms=2.0, slice_thickness_mm=5.0)
    >>> round(p.flip_deg, 6), round(p.gradient_mt_m[2], 3)
    (30.0, 9.395)
    """
    duration = _finite("duration_ms", duration_ms, low=0.0, strict=True)
    tbw = _finite("time_bandwidth", time_bandwidth, low=0.0, strict=True)
    flip = _finite("flip_deg", flip_deg)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ParameterError(f"n_samples must be a positive integer; got {n_samples!r}")
    dt = duration / n_samples
    t = (np.arange(n_samples) + 0.5) * dt - duration / 2.0
    shape = np.sinc(tbw * t / duration) * (0.5 + 0.5 * np.cos(2.0 * np.pi * t / duration))
    # Scale so that the on-resonance area gives exactly the requested flip.
    b1 = shape * (flip / 360.0) / (GAMMA_BAR_HZ_PER_UT * shape.sum() * dt * 1e-3)
    b1 = b1 * np.exp(1j * np.deg2rad(_finite("phase_deg", phase_deg)))
    gz = 0.0
    if slice_thickness_mm is not None:
        thickness = _finite("slice_thickness_mm", slice_thickness_mm, low=0.0, strict=True)
        gz = (tbw / (duration * 1e-3)) / (GAMMA_BAR_HZ_PER_MT_M_MM * thickness)
    return ShapedPulse(b1_ut=tuple(b1), dt_ms=dt, gradient_mt_m=(0.0, 0.0, gz))
