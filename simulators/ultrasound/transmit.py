"""Transmit waves: per-element delays, and when the wave reaches a point (for beamforming).

A transmit fires element ``k`` at ``delays_s(probe)[k]`` (all delays >= 0,
the earliest 0).  :func:`~simulators.ultrasound.rf.simulate_rf` accepts any
delay law; the two common ones are here with the geometric arrival time the
delay-and-sum beamformer needs:

* :class:`PlaneWave`, steered by ``angle_deg`` (positive: towards +x).  The
  wavefront ``x sin a + z cos a = const`` reaches ``(x, z)`` at
  ``(x sin a + z cos a - min_k x_k sin a) / c``.
* :class:`FocusedWave`, converging to a focus at positive depth or diverging
  from a virtual source behind the array (negative depth).  Arrival times use
  the virtual-source model: the wave passes the focus at ``t_f`` and reaches
  ``p`` at ``t_f +- |p - f| / c``, minus before the focus, plus after it
  (the usual approximation, poor close to the focal spot laterally).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.probe import LinearArray, check_number
from vipkb.errors import ParameterError

__all__ = ["FocusedWave", "PlaneWave"]


@dataclass(frozen=True, kw_only=True)
class PlaneWave:
    """A plane wave steered by ``angle_deg`` (-45 to 45 degrees) from the array's normal.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> d = PlaneWave(angle_deg=5.0).delays_s(L11_5V)
    >>> float(d.min()), bool(d[-1] > d[0])
    (0.0, True)
    """

    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        check_number("angle_deg", self.angle_deg, -45.0, 45.0)

    def _direction(self) -> tuple[float, float]:
        a = np.deg2rad(self.angle_deg)
        return float(np.sin(a)), float(np.cos(a))

    def delays_s(self, probe: LinearArray) -> np.ndarray:
        """Firing time of every element."""
        s, _ = self._direction()
        lead = probe.element_x_mm() * s
        return (lead - lead.min()) / probe.speed_mm_s

    def arrival_s(self, probe: LinearArray, x_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
        """Time at which the wavefront reaches ``(x_mm, z_mm)``."""
        s, c = self._direction()
        offset = (probe.element_x_mm() * s).min()
        return (np.asarray(x_mm) * s + np.asarray(z_mm) * c - offset) / probe.speed_mm_s


@dataclass(frozen=True, kw_only=True)
class FocusedWave:
    """A wave converging to ``(focus_x_mm, focus_z_mm)``, or diverging from it when ``focus_z_mm < 0``.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> w = FocusedWave(focus_z_mm=20.0)
    >>> d = w.delays_s(L11_5V)
    >>> bool(d[0] == d.min() == 0.0 and d[63] == d.max())
    True
    """

    focus_x_mm: float = 0.0
    focus_z_mm: float

    def __post_init__(self) -> None:
        check_number("focus_x_mm", self.focus_x_mm, -500.0, 500.0)
        check_number("focus_z_mm", self.focus_z_mm, -1000.0, 1000.0)
        if abs(self.focus_z_mm) < 1e-3:
            raise ParameterError("focus_z_mm must not be 0: use a PlaneWave for an unfocused transmit, a positive "
                                 "depth to focus, a negative one for a diverging wave")

    def _distance(self, probe: LinearArray) -> np.ndarray:
        return np.hypot(probe.element_x_mm() - self.focus_x_mm, self.focus_z_mm)

    def delays_s(self, probe: LinearArray) -> np.ndarray:
        """Firing time of every element: the farthest fires first when converging, the nearest when diverging."""
        r = self._distance(probe)
        lag = r.max() - r if self.focus_z_mm > 0 else r - r.min()
        return lag / probe.speed_mm_s

    def arrival_s(self, probe: LinearArray, x_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
        """Time at which the wave reaches ``(x_mm, z_mm)`` (virtual-source model)."""
        x, z = np.asarray(x_mm), np.asarray(z_mm)
        r = self._distance(probe)
        to_focus = np.hypot(x - self.focus_x_mm, z - self.focus_z_mm)
        if self.focus_z_mm > 0:
            return (r.max() + np.where(z >= self.focus_z_mm, to_focus, -to_focus)) / probe.speed_mm_s
        return (to_focus - r.min()) / probe.speed_mm_s
