"""Closed-form steady-state echo amplitudes: the analytic fast path of the MRI simulator.

Each function is the *exact* steady state of the matching event list built in
:mod:`simulators.mri.sequences` and integrated by :mod:`simulators.mri.bloch`,
under the same idealisations:

* RF pulses are instantaneous rotations (no relaxation or off-resonance
  during them) with exactly the nominal flip angle;
* transverse magnetisation is destroyed completely just before every
  excitation (ideal spoiling, :class:`~simulators.mri.sequences.Spoiler`);
* the result is the magnitude of the transverse magnetisation at the echo,
  relative to the equilibrium magnetisation M0, which is taken equal to the
  proton density ``pd``; a voxel's static dephasing is not modelled beyond
  the ``exp(-TE/T2)`` (``exp(-TE/T2*)`` for the gradient echo) factor.

All times are in ms and broadcast like numpy arrays, so a per-tissue table
(one entry per label) costs nothing and a per-voxel map works too.  Where
``pd == 0`` (background) the relaxation times are ignored, so zeros or NaN
there give a signal of 0 rather than NaN.

References: the derivations are the usual ones, e.g. Haacke, Brown,
Thompson & Venkatesan, *Magnetic Resonance Imaging: Physical Principles and
Sequence Design* (Wiley, 1999), and Bernstein, King & Zhou, *Handbook of MRI
Pulse Sequences* (Elsevier, 2004); the spoiled gradient echo is Ernst &
Anderson, Rev. Sci. Instrum. 37, 93 (1966).
"""

from __future__ import annotations

import numpy as np

from vipkb.errors import ParameterError

ArrayLike = float | np.ndarray


def _tissue(pd: ArrayLike, **times: ArrayLike) -> tuple[np.ndarray, ...]:
    """Broadcast PD and relaxation times; check them; neutralise times where PD is 0."""
    pd = np.asarray(pd, dtype=float)
    if not np.all(np.isfinite(pd) & (pd >= 0)):
        raise ParameterError(f"proton density must be finite and >= 0 (allowed: 0 <= PD < inf); got {_bad(pd)}")
    arrays = np.broadcast_arrays(pd, *(np.asarray(v, dtype=float) for v in times.values()))
    present = arrays[0] > 0
    out = [arrays[0]]
    for name, t in zip(times, arrays[1:], strict=True):
        ok = ~present | (np.isfinite(t) & (t > 0))
        if not np.all(ok):
            raise ParameterError(f"{name} must be a positive finite time in ms wherever PD > 0 "
                                 f"(allowed: 0 < {name} < inf); got {_bad(t[~ok])}")
        # Any positive value will do where PD is 0: the product with PD is 0.
        out.append(np.where(present, t, 1.0))
    return tuple(out)


def _bad(values: np.ndarray) -> str:
    flat = np.ravel(values)
    return ", ".join(str(v) for v in flat[:3]) + (" ..." if flat.size > 3 else "")


def _require(*conditions: tuple[np.ndarray, str]) -> None:
    """Raise for the first (boolean array, message) pair that fails anywhere."""
    for holds, message in conditions:
        if not np.all(holds):
            raise ParameterError(message)


def _times(**values: ArrayLike) -> dict[str, np.ndarray]:
    out = {}
    for name, v in values.items():
        a = np.asarray(v, dtype=float)
        if not np.all(np.isfinite(a)):
            raise ParameterError(f"{name} must be a finite time in ms; got {_bad(a)}")
        out[name] = a
    return out


def _scalar(result: np.ndarray) -> np.ndarray:
    # 0-d results come back as numpy scalars, like numpy ufuncs do.
    return result[()] if result.ndim == 0 else result


def spin_echo(pd: ArrayLike, t1: ArrayLike, t2: ArrayLike, *, tr: ArrayLike, te: ArrayLike) -> np.ndarray:
    """Steady-state spin-echo amplitude relative to M0.

    ``PD (1 - 2 exp(-(TR - TE/2)/T1) + exp(-TR/T1)) exp(-TE/T2)``: an ideal 90°
    pulse, an ideal 180° at TE/2, the echo at TE, ideal spoiling before the
    next 90°.  The 180° inverts the longitudinal magnetisation that regrew
    during TE/2, hence the middle term; for TE << TR it reduces to the
    textbook ``PD (1 - exp(-TR/T1)) exp(-TE/T2)``.  The 90° pulse zeroes Mz,
    so the second repetition is already the steady state.

    Parameters
    ----------
    pd
        Proton density, the equilibrium magnetisation M0 (>= 0).
    t1, t2
        Relaxation times in ms (> 0 where ``pd > 0``).
    tr, te
        Repetition and echo times in ms, ``0 < TE < TR``.

    Returns
    -------
    numpy.ndarray
        Echo magnitude, broadcast over all inputs.

    Examples
    --------
    >>> round(float(spin_echo(1.0, 800.0, 80.0, tr=500.0, te=20.0)), 4)
    0.3515
    """
    pd, t1, t2 = _tissue(pd, T1=t1, T2=t2)
    t = _times(TR=tr, TE=te)
    tr, te = t["TR"], t["TE"]
    _require((te > 0, f"TE must be > 0 ms; got {_bad(te)}"),
             (te < tr, f"TE must be shorter than TR (0 < TE < TR); got TE={_bad(te)}, TR={_bad(tr)}"))
    mz = 1.0 - 2.0 * np.exp(-(tr - te / 2.0) / t1) + np.exp(-tr / t1)
    return _scalar(pd * mz * np.exp(-te / t2))


def gradient_echo(pd: ArrayLike, t1: ArrayLike, t2star: ArrayLike, *, tr: ArrayLike, te: ArrayLike,
                  flip_deg: ArrayLike) -> np.ndarray:
    """Steady-state spoiled gradient-echo (FLASH) amplitude relative to M0.

    ``PD sin(a) (1 - E1) / (1 - E1 cos(a)) exp(-TE/T2*)`` with
    ``E1 = exp(-TR/T1)`` (Ernst & Anderson 1966): an ideal pulse of flip ``a``,
    the echo at TE, ideal spoiling before the next pulse.  The signal peaks at
    the Ernst angle ``arccos(E1)``.  Unlike the spin echo, the approach to
    steady state is geometric with ratio ``E1 cos(a)``; see
    :func:`simulators.mri.sequences.gradient_echo_repetitions`.

    Parameters
    ----------
    pd
        Proton density (M0).
    t1, t2star
        T1 and T2* in ms (> 0 where ``pd > 0``).  The isochromat solver has no
        intravoxel dephasing, so it is given T2* as its T2 for this sequence.
    tr, te
        Repetition and echo times in ms, ``0 <= TE < TR``.
    flip_deg
        Flip angle in degrees, 0 to 180.

    Examples
    --------
    >>> round(float(gradient_echo(1.0, 800.0, 40.0, tr=20.0, te=5.0, flip_deg=15.0)), 4)
    0.0974
    """
    pd, t1, t2star = _tissue(pd, T1=t1, T2star=t2star)
    t = _times(TR=tr, TE=te)
    tr, te = t["TR"], t["TE"]
    flip = np.asarray(flip_deg, dtype=float)
    _require((te >= 0, f"TE must be >= 0 ms; got {_bad(te)}"),
             (te < tr, f"TE must be shorter than TR (0 <= TE < TR); got TE={_bad(te)}, TR={_bad(tr)}"),
             ((flip >= 0) & (flip <= 180), f"flip_deg must be between 0 and 180 degrees; got {_bad(flip)}"))
    a = np.deg2rad(flip)
    e1 = np.exp(-tr / t1)
    return _scalar(pd * np.sin(a) * (1.0 - e1) / (1.0 - e1 * np.cos(a)) * np.exp(-te / t2star))


def inversion_recovery(pd: ArrayLike, t1: ArrayLike, t2: ArrayLike, *, tr: ArrayLike, te: ArrayLike,
                       ti: ArrayLike) -> np.ndarray:
    """Steady-state inversion-recovery spin-echo magnitude relative to M0.

    ``PD |1 - 2 exp(-TI/T1) + 2 exp(-(TR - TE/2)/T1) - exp(-TR/T1)| exp(-TE/T2)``:
    an ideal 180° inversion at 0, an ideal 90° at TI, an ideal 180° at
    TI + TE/2, the echo at TI + TE, ideal spoiling before the next inversion;
    TR is the time between inversions.  For TE << TR it reduces to the
    textbook ``PD |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)``.  The
    magnitude is returned: the sign of Mz at TI is lost by magnitude
    reconstruction, so the signal is null at ``TI ~ T1 ln 2``.

    Parameters
    ----------
    pd
        Proton density (M0).
    t1, t2
        Relaxation times in ms (> 0 where ``pd > 0``).
    tr, te, ti
        Times in ms, ``TE > 0``, ``TI > 0`` and ``TI + TE < TR``.

    Examples
    --------
    >>> round(float(inversion_recovery(1.0, 800.0, 80.0, tr=3000.0, te=20.0, ti=100.0)), 4)
    0.577
    """
    pd, t1, t2 = _tissue(pd, T1=t1, T2=t2)
    t = _times(TR=tr, TE=te, TI=ti)
    tr, te, ti = t["TR"], t["TE"], t["TI"]
    _require((te > 0, f"TE must be > 0 ms; got {_bad(te)}"),
             (ti > 0, f"TI must be > 0 ms; got {_bad(ti)}"),
             (ti + te < tr, f"TI + TE must be shorter than TR (the echo comes before the next inversion); "
                            f"got TI={_bad(ti)}, TE={_bad(te)}, TR={_bad(tr)}"))
    mz = 1.0 - 2.0 * np.exp(-ti / t1) + 2.0 * np.exp(-(tr - te / 2.0) / t1) - np.exp(-tr / t1)
    return _scalar(pd * np.abs(mz) * np.exp(-te / t2))
