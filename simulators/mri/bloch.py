"""A vectorised isochromat Bloch solver for arbitrary event lists.

Every isochromat (a spin packet with its own T1, T2, M0 = PD, off-resonance
and position) is integrated through the events of
:mod:`simulators.mri.sequences`, all isochromats at once as numpy arrays:

* :class:`~simulators.mri.sequences.HardPulse`: one exact rotation matrix
  (Rodrigues' formula) for every isochromat;
* :class:`~simulators.mri.sequences.FreePrecession`: the exact solution of the
  Bloch equations over the interval, precession by ``2 pi (df + gamma_bar
  G.r) t`` about z, ``exp(-t/T2)`` decay and ``exp(-t/T1)`` recovery;
* :class:`~simulators.mri.sequences.ShapedPulse`: one Rodrigues rotation per
  isochromat and per sample about its effective field ``(B1x, B1y,
  dB0)``, with the relaxation of each sample split symmetrically around it
  (Strang splitting, error O(dt^2) per sample);
* :class:`~simulators.mri.sequences.Spoiler` zeroes Mx and My;
  :class:`~simulators.mri.sequences.ADC` records ``Mx + i My``.

The per-isochromat factors of an event are computed once per event object
and reused, so a repetition played ``n_tr`` times (the builders repeat the
same objects) costs a few array operations per event.  A shaped pulse that
occurs more than once is stepped through once to build its affine
propagator ``M -> A M + b`` per isochromat, which is exact for a static
object and replayed at the cost of one matrix product.

The sign conventions are those documented in :mod:`simulators.mri.sequences`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from simulators.mri.sequences import (
    ADC,
    GAMMA_BAR_HZ_PER_MT_M_MM,
    GAMMA_BAR_HZ_PER_UT,
    Event,
    FreePrecession,
    HardPulse,
    ShapedPulse,
    Spoiler,
)
from vipkb.errors import ParameterError, SimulationError


@dataclass(frozen=True, kw_only=True)
class _Isochromats:
    """Flattened isochromat properties; relaxation times made harmless where PD is 0."""

    t1: np.ndarray
    t2: np.ndarray
    pd: np.ndarray
    df: np.ndarray
    positions: np.ndarray | None
    shape: tuple[int, ...]

    def offset_hz(self, gradient: tuple[float, float, float]) -> np.ndarray:
        """Off-resonance plus the gradient's frequency offset at each isochromat (Hz)."""
        if self.positions is None or not any(gradient):
            return self.df
        return self.df + GAMMA_BAR_HZ_PER_MT_M_MM * (self.positions @ np.asarray(gradient))


def _isochromats(t1, t2, pd, off_resonance_hz, positions_mm) -> _Isochromats:
    arrays = {"T1": np.asarray(t1, dtype=float), "T2": np.asarray(t2, dtype=float),
              "pd": np.asarray(pd, dtype=float), "off_resonance_hz": np.asarray(off_resonance_hz, dtype=float)}
    pos = None
    shapes = [a.shape for a in arrays.values()]
    if positions_mm is not None:
        pos = np.asarray(positions_mm, dtype=float)
        if pos.ndim == 0 or pos.shape[-1] != 3 or not np.all(np.isfinite(pos)):
            raise ParameterError(f"positions_mm must be finite (x, y, z) triples in mm, shape (..., 3); "
                                 f"got shape {pos.shape}")
        shapes.append(pos.shape[:-1])
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError as err:
        raise ParameterError(f"isochromat properties do not broadcast together: shapes {shapes}") from err
    pd = np.broadcast_to(arrays["pd"], shape).ravel()
    if not np.all(np.isfinite(pd) & (pd >= 0)):
        raise ParameterError("pd must be finite and >= 0 (allowed: 0 <= PD < inf)")
    df = np.broadcast_to(arrays["off_resonance_hz"], shape).ravel()
    if not np.all(np.isfinite(df)):
        raise ParameterError("off_resonance_hz must be finite (Hz)")
    relax = {}
    for name in ("T1", "T2"):
        t = np.broadcast_to(arrays[name], shape).ravel()
        # inf is allowed (no relaxation), 0 and NaN only where there is no magnetisation.
        ok = (pd == 0) | (t > 0)
        if not np.all(ok):
            raise ParameterError(f"{name} must be > 0 ms (inf for no relaxation) wherever pd > 0; "
                                 f"got {t[~ok][:3].tolist()}")
        relax[name] = np.where(pd > 0, t, 1.0)
    if pos is not None:
        pos = np.broadcast_to(pos, (*shape, 3)).reshape(-1, 3)
    return _Isochromats(t1=relax["T1"], t2=relax["T2"], pd=pd, df=df, positions=pos, shape=shape)


def rotation_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Left-handed rotation by ``angle_rad`` about the unit ``axis`` (Rodrigues' formula).

    Left-handed because ``dM/dt = gamma M x B`` turns M clockwise about B.

    Examples
    --------
    >>> rotation_matrix(np.array([1.0, 0.0, 0.0]), np.pi / 2) @ [0.0, 0.0, 1.0]  # +z tips to +y
    array([0., 1., 0.])
    """
    n = np.asarray(axis, dtype=float)
    cross = np.array([[0.0, -n[2], n[1]], [n[2], 0.0, -n[0]], [-n[1], n[0], 0.0]])
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    r = c * np.eye(3) - s * cross + (1.0 - c) * np.outer(n, n)
    # Exact zeros instead of 1e-17 residues keep printed results readable.
    r[np.abs(r) < 1e-15] = 0.0
    return r


def _hard(pulse: HardPulse) -> np.ndarray:
    phase = np.deg2rad(pulse.phase_deg)
    return rotation_matrix(np.array([np.cos(phase), np.sin(phase), 0.0]), np.deg2rad(pulse.flip_deg))


def _precession(event: FreePrecession, iso: _Isochromats) -> tuple[np.ndarray, ...]:
    t = event.duration_ms
    phi = 2.0 * np.pi * iso.offset_hz(event.gradient_mt_m) * (t * 1e-3)
    e2 = np.exp(-t / iso.t2)
    e1 = np.exp(-t / iso.t1)
    return e2 * np.cos(phi), e2 * np.sin(phi), e1, iso.pd * (1.0 - e1)


def _relax(state: np.ndarray, e1: np.ndarray, e2: np.ndarray, recovery: np.ndarray) -> None:
    """In place: state (3, K, N); ``recovery`` (K, N) is M0 (1 - E1) times the affine column weight."""
    state[:2] *= e2
    state[2] *= e1
    state[2] += recovery


def _play(pulse: ShapedPulse, iso: _Isochromats, state: np.ndarray, weight: np.ndarray) -> None:
    """Step ``state`` (3, K, N) through the pulse, in place; ``weight`` (K, 1) marks affine columns."""
    dt_s = pulse.dt_ms * 1e-3
    wz = 2.0 * np.pi * iso.offset_hz(pulse.gradient_mt_m) * dt_s
    wz2 = wz * wz
    w1 = 2.0 * np.pi * GAMMA_BAR_HZ_PER_UT * dt_s * np.asarray(pulse.b1_ut)
    half = [np.exp(-0.5 * pulse.dt_ms / iso.t1), np.exp(-0.5 * pulse.dt_ms / iso.t2)]
    full = [half[0] ** 2, half[1] ** 2]
    half.append(weight * (iso.pd * (1.0 - half[0])))
    full.append(weight * (iso.pd * (1.0 - full[0])))
    sx, sy, sz = state
    _relax(state, *half)
    for k, w in enumerate(w1):
        theta = np.sqrt(w.real * w.real + w.imag * w.imag + wz2)
        inv = 1.0 / np.where(theta > 0, theta, 1.0)
        nx, ny, nz = w.real * inv, w.imag * inv, wz * inv
        c, s = np.cos(theta), np.sin(theta)
        dot = (nx * sx + ny * sy + nz * sz) * (1.0 - c)
        # Left-handed rotation: M c + (M x n) s + n (n.M)(1 - c).
        x = sx * c + (sy * nz - sz * ny) * s + nx * dot
        y = sy * c + (sz * nx - sx * nz) * s + ny * dot
        sz[...] = sz * c + (sx * ny - sy * nx) * s + nz * dot
        sx[...], sy[...] = x, y
        _relax(state, *(full if k < len(w1) - 1 else half))


def _propagator(pulse: ShapedPulse, iso: _Isochromats) -> tuple[np.ndarray, np.ndarray]:
    """The pulse as ``M -> A M + b`` per isochromat: A (3, 3, N), b (3, N)."""
    n = iso.pd.size
    state = np.zeros((3, 4, n))
    for i in range(3):
        state[i, i] = 1.0
    _play(pulse, iso, state, np.array([[0.0], [0.0], [0.0], [1.0]]))
    return state[:, :3], state[:, 3]


def simulate(events: Iterable[Event], *, t1, t2, pd=1.0, off_resonance_hz=0.0, positions_mm=None) -> np.ndarray:
    """Transverse magnetisation at every ADC event of a sequence.

    Parameters
    ----------
    events
        The event list (see :mod:`simulators.mri.sequences`); the solver
        starts from equilibrium, ``M = (0, 0, pd)``.
    t1, t2
        Relaxation times in ms, > 0 (``inf`` for none) wherever ``pd > 0``;
        any value (0, NaN) is accepted where ``pd == 0``.
    pd
        Proton density, the equilibrium magnetisation M0.
    off_resonance_hz
        Static off-resonance per isochromat (Hz), active during free
        precession and shaped pulses; hard pulses are instantaneous.
    positions_mm
        Positions (x, y, z) in mm, shape ``(..., 3)``, on which gradients act;
        ``None`` puts every isochromat at the isocentre.

    All isochromat properties broadcast together to a shape ``S``.

    Returns
    -------
    numpy.ndarray
        Complex ``Mx + i My``, shape ``(n_adc, *S)``; with 1-D properties that
        is ``(n_adc, n_isochromats)``.  Row ``i`` belongs to the i-th ADC, see
        :func:`~simulators.mri.sequences.adc_labels`.

    Examples
    --------
    >>> from simulators.mri.sequences import spin_echo_events
    >>> echo = simulate(spin_echo_events(500.0, 20.0), t1=800.0, t2=80.0)
    >>> round(float(abs(echo[-1])), 4)  # == signal.spin_echo(1, 800, 80, tr=500, te=20)
    0.3515
    """
    iso = _isochromats(t1, t2, pd, off_resonance_hz, positions_mm)
    # A tuple keeps every event alive, so id() is a sound cache key below.
    events = tuple(events)
    uses = Counter(id(e) for e in events)
    m = np.zeros((3, iso.pd.size))
    m[2] = iso.pd
    cache: dict[int, object] = {}
    out = []
    for event in events:
        key = id(event)
        op = cache.get(key)
        if isinstance(event, FreePrecession):
            if op is None:
                op = cache[key] = _precession(event, iso)
            cos_e2, sin_e2, e1, recovery = op
            x = cos_e2 * m[0] + sin_e2 * m[1]
            m[1] = cos_e2 * m[1] - sin_e2 * m[0]
            m[0] = x
            m[2] = e1 * m[2] + recovery
        elif isinstance(event, HardPulse):
            if op is None:
                op = cache[key] = _hard(event)
            m = op @ m
        elif isinstance(event, ShapedPulse):
            if uses[key] == 1:
                _play(event, iso, m[:, None, :], np.ones((1, 1)))
                continue
            if op is None:
                op = cache[key] = _propagator(event, iso)
            a, b = op
            m = np.einsum("ijn,jn->in", a, m) + b
        elif isinstance(event, ADC):
            out.append(m[0] + 1j * m[1])
        elif isinstance(event, Spoiler):
            m[:2] = 0.0
        else:
            raise SimulationError(f"unknown event {event!r}: expected HardPulse, ShapedPulse, FreePrecession, "
                                  "ADC or Spoiler from simulators.mri.sequences")
    if not out:
        return np.empty((0, *iso.shape), dtype=complex)
    return np.stack(out).reshape(len(out), *iso.shape)
