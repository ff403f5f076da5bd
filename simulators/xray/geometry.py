"""Scan geometries and the rays they send through the object, in world mm.

CT geometries live in the axial (x, y) plane with the isocentre at the world
origin.  View angle ``theta`` rotates the detector: its unit vector is
``u = (cos theta, sin theta)`` and a parallel ray travels along
``(-sin theta, cos theta)``, so a ray at detector coordinate ``s`` is the line
``x cos theta + y sin theta = s``, the convention of
``skimage.transform.radon`` (with x along image columns and y up the rows).
Sinograms are ``(n_detectors, n_views)``, like skimage's.

* :class:`ParallelBeam`: views evenly spread over ``arc_deg`` (180 or 360).
* :class:`FanBeam`: third-generation geometry over 360 deg with an
  *equiangular* (curved, centred on the source) detector.  The source sits at
  ``R (sin beta, -cos beta)``; the ray at fan angle ``gamma`` is the parallel
  ray ``theta = beta - gamma``, ``s = R sin gamma``.
* :class:`ConeBeamRadiograph`: a point source and a flat panel through a 3-D
  volume; the panel's columns run along ``u`` (in the axial plane) and its
  rows along +z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vipkb.errors import ParameterError

__all__ = ["ConeBeamRadiograph", "FanBeam", "ParallelBeam", "RaySet"]


def _check(name: str, value: float, low: float, high: float, *, integer: bool = False,
           open_low: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer) if integer else (int, float, np.number))
    if not ok or not np.isfinite(value) or value > high or value < low or (open_low and value == low):
        kind = "an integer" if integer else "a number"
        bracket = "(" if open_low else "["
        raise ParameterError(f"{name} must be {kind} in {bracket}{low:g}, {high:g}]; got {value!r}")


@dataclass(frozen=True, kw_only=True, eq=False)
class RaySet:
    """Ray segments of a scan, ``starts_mm``/``ends_mm`` of shape ``(*shape, ndim)``.

    ``shape`` is ``(n_views, n_detectors)`` for CT (views outermost keeps
    neighbouring rays together in memory) and ``(n_rows, n_columns)`` for a
    radiograph.
    """

    starts_mm: np.ndarray
    ends_mm: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the measurement (without the coordinate axis)."""
        return self.starts_mm.shape[:-1]

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Starts and ends as ``(n_rays, ndim)`` arrays, in C order of :attr:`shape`."""
        d = self.starts_mm.shape[-1]
        return self.starts_mm.reshape(-1, d), self.ends_mm.reshape(-1, d)


@dataclass(frozen=True, kw_only=True)
class ParallelBeam:
    """Parallel-beam CT: detector element ``k`` at ``s = (k - (n - 1) / 2) * spacing + offset``.

    Examples
    --------
    >>> g = ParallelBeam(n_views=4, n_detectors=3, detector_spacing_mm=1.0)
    >>> g.angles_deg().tolist(), g.detector_positions_mm().tolist()
    ([0.0, 45.0, 90.0, 135.0], [-1.0, 0.0, 1.0])
    """

    n_views: int
    n_detectors: int
    detector_spacing_mm: float
    detector_offset_mm: float = 0.0
    arc_deg: float = 180.0
    start_deg: float = 0.0

    def __post_init__(self) -> None:
        _check("n_views", self.n_views, 1, 100_000, integer=True)
        _check("n_detectors", self.n_detectors, 1, 100_000, integer=True)
        _check("detector_spacing_mm", self.detector_spacing_mm, 0, 100, open_low=True)
        _check("detector_offset_mm", self.detector_offset_mm, -1000, 1000)
        _check("arc_deg", self.arc_deg, 0, 360, open_low=True)
        _check("start_deg", self.start_deg, -360, 360)

    def angles_deg(self) -> np.ndarray:
        """View angles in degrees (the ``theta`` of ``skimage.transform.radon``)."""
        return self.start_deg + self.arc_deg * np.arange(self.n_views) / self.n_views

    def detector_positions_mm(self) -> np.ndarray:
        """Detector coordinate ``s`` of every element."""
        k = np.arange(self.n_detectors) - (self.n_detectors - 1) / 2
        return k * self.detector_spacing_mm + self.detector_offset_mm

    def rays(self, radius_mm: float) -> RaySet:
        """Rays from ``-radius_mm`` to ``+radius_mm`` along each line (cover the object with it)."""
        _check("radius_mm", radius_mm, 0, 1e6, open_low=True)
        # Views outermost: consecutive rays cross neighbouring voxels, which keeps the tracer's gathers cached.
        th = np.deg2rad(self.angles_deg())[:, None, None]
        s = self.detector_positions_mm()[None, :, None]
        u = np.concatenate([np.cos(th), np.sin(th)], axis=-1)
        d = np.concatenate([-np.sin(th), np.cos(th)], axis=-1)
        return RaySet(starts_mm=s * u - radius_mm * d, ends_mm=s * u + radius_mm * d)


@dataclass(frozen=True, kw_only=True)
class FanBeam:
    """Fan-beam CT over 360 deg with an equiangular detector on an arc around the source.

    Element ``k`` sits at fan angle ``gamma_k = (k - (n - 1) / 2) * pitch / sdd + offset``.
    """

    n_views: int
    n_detectors: int
    source_to_isocentre_mm: float
    source_to_detector_mm: float
    detector_pitch_mm: float
    detector_offset_deg: float = 0.0
    start_deg: float = 0.0

    def __post_init__(self) -> None:
        _check("n_views", self.n_views, 1, 100_000, integer=True)
        _check("n_detectors", self.n_detectors, 1, 100_000, integer=True)
        _check("source_to_isocentre_mm", self.source_to_isocentre_mm, 0, 10_000, open_low=True)
        _check("source_to_detector_mm", self.source_to_detector_mm, self.source_to_isocentre_mm, 20_000,
               open_low=True)
        _check("detector_pitch_mm", self.detector_pitch_mm, 0, 100, open_low=True)
        _check("detector_offset_deg", self.detector_offset_deg, -10, 10)
        _check("start_deg", self.start_deg, -360, 360)
        if self.fan_angles_rad().max(initial=0.0) >= np.pi / 2 or self.fan_angles_rad().min(initial=0.0) <= -np.pi / 2:
            raise ParameterError("the fan must stay within +-90 deg: reduce n_detectors or detector_pitch_mm, "
                                 "or lengthen source_to_detector_mm")

    def angles_deg(self) -> np.ndarray:
        """Source angles ``beta`` in degrees, evenly over 360."""
        return self.start_deg + 360.0 * np.arange(self.n_views) / self.n_views

    def fan_angles_rad(self) -> np.ndarray:
        """Fan angle ``gamma`` of every detector element."""
        k = np.arange(self.n_detectors) - (self.n_detectors - 1) / 2
        return k * self.detector_pitch_mm / self.source_to_detector_mm + np.deg2rad(self.detector_offset_deg)

    def field_of_view_radius_mm(self) -> float:
        """Radius of the disc every view sees whole."""
        return float(self.source_to_isocentre_mm * np.sin(np.abs(self.fan_angles_rad()).max()))

    def rays(self) -> RaySet:
        """Rays from the source to every detector element, views outermost."""
        beta = np.deg2rad(self.angles_deg())[:, None, None]
        gamma = self.fan_angles_rad()[None, :, None]
        r = self.source_to_isocentre_mm
        source = np.concatenate([r * np.sin(beta), -r * np.cos(beta)], axis=-1)
        # Turning the central ray by -gamma makes a positive fan angle a positive parallel coordinate s.
        direction = np.concatenate([-np.sin(beta - gamma), np.cos(beta - gamma)], axis=-1)
        starts = np.broadcast_to(source, direction.shape)
        return RaySet(starts_mm=starts.copy(), ends_mm=starts + self.source_to_detector_mm * direction)


@dataclass(frozen=True, kw_only=True)
class ConeBeamRadiograph:
    """Projection radiograph: point source, flat panel, through a 3-D volume.

    The source sits at ``-source_to_isocentre_mm * d`` with
    ``d = (-sin a, cos a, 0)`` for ``angle_deg = a`` (0: the beam runs along
    +y); the panel is centred on the beam axis at ``source_to_detector_mm``
    from the source, columns along ``(cos a, sin a, 0)`` and rows along +z.
    """

    n_rows: int
    n_columns: int
    pixel_pitch_mm: float
    source_to_isocentre_mm: float
    source_to_detector_mm: float
    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        _check("n_rows", self.n_rows, 1, 10_000, integer=True)
        _check("n_columns", self.n_columns, 1, 10_000, integer=True)
        _check("pixel_pitch_mm", self.pixel_pitch_mm, 0, 100, open_low=True)
        _check("source_to_isocentre_mm", self.source_to_isocentre_mm, 0, 10_000, open_low=True)
        _check("source_to_detector_mm", self.source_to_detector_mm, self.source_to_isocentre_mm, 20_000,
               open_low=True)
        _check("angle_deg", self.angle_deg, -360, 360)

    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.deg2rad(self.angle_deg)
        return np.array([-np.sin(a), np.cos(a), 0.0]), np.array([np.cos(a), np.sin(a), 0.0]), np.array([0, 0, 1.0])

    def pixel_centres_mm(self) -> np.ndarray:
        """World position of every pixel centre, shape ``(n_rows, n_columns, 3)``."""
        d, u, w = self._frame()
        col = (np.arange(self.n_columns) - (self.n_columns - 1) / 2) * self.pixel_pitch_mm
        row = (np.arange(self.n_rows) - (self.n_rows - 1) / 2) * self.pixel_pitch_mm
        centre = (self.source_to_detector_mm - self.source_to_isocentre_mm) * d
        return centre + row[:, None, None] * w + col[None, :, None] * u

    def rays(self) -> RaySet:
        """Rays from the source to every pixel centre."""
        d, _, _ = self._frame()
        ends = self.pixel_centres_mm()
        return RaySet(starts_mm=np.broadcast_to(-self.source_to_isocentre_mm * d, ends.shape).copy(), ends_mm=ends)

    def relative_fluence(self) -> np.ndarray:
        """Unattenuated photons per pixel relative to the central ray: inverse square times obliquity.

        A pixel at distance ``r`` from the source, seen at obliquity ``phi``
        (``cos phi = sdd / r``), subtends ``area cos phi / r^2``, hence ``(sdd / r)^3``.
        """
        r = np.linalg.norm(self.pixel_centres_mm() + self.source_to_isocentre_mm * self._frame()[0], axis=-1)
        return (self.source_to_detector_mm / r) ** 3
