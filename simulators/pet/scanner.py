"""A single-ring PET scanner and its sinogram: crystals, coincidence binning, lines of response.

Geometry (2-D, one direct plane)
--------------------------------
Crystal ``k`` (``0 <= k < n_detectors``) is centred on the ring of radius
``radius_mm`` at angle ``phi_k = 2 pi k / n_detectors`` from the world x axis.
Its face is the arc of angular width ``crystal_width_mm / radius_mm`` centred
there; a photon crossing the ring elsewhere falls in the gap between two
crystals and is lost.  Depth of interaction, inter-crystal penetration and
detection efficiency below 1 are not modelled: the ring is a thin, perfect
detector.

Sinogram
--------
Non-arc-corrected and interleaved, with no angular mashing, as scanners store
it: every bin is exactly one crystal pair.  For a pair ``(a, b)`` let
``sigma = (a + b) mod N`` and ``m`` the crystal difference for which the pair
is ``((sigma + m) / 2, (sigma - m) / 2) mod N``.  The line of response (LOR)
joining the two crystal centres is ``x cos theta + y sin theta = s`` with

* ``theta = pi sigma / N`` in ``[0, pi)``, the convention of
  ``skimage.transform.radon`` and of :mod:`simulators.xray.geometry`;
* ``s = R sin(pi rho / N)``, ``rho = N / 2 - m`` (radial position in half
  crystal pitches, signed).

Pairs with ``sigma = 2 v`` and ``2 v + 1`` share view ``v``: ``n_angles = N / 2``
views whose radial samples alternate between the two angles, which differ by
``pi / N``.  Sinograms are ``(n_radial, n_angles)`` like the CT module's
``(n_detectors, n_views)``: radial bin ``j`` holds ``rho = j - n_radial // 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vipkb.errors import ParameterError

__all__ = ["DISCOVERY_690", "E_511", "PRESETS", "RingScanner", "preset"]

#: Annihilation photon energy (keV).
E_511 = 510.99895


def _number(name: str, value: object, low: float, *, integer: bool = False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value) or value < low:
        kind = "an integer" if integer else "a finite number"
        raise ParameterError(f"{name} must be {kind} >= {low:g}; got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RingScanner:
    """One detector ring and the sinogram its coincidences are binned into.

    Parameters
    ----------
    radius_mm
        Radius of the crystals' front faces (mm).
    n_detectors
        Crystals around the ring (even, >= 4).
    crystal_width_mm
        Transaxial width of a crystal face (mm), at most the pitch
        ``2 pi radius / n_detectors``; the rest of the pitch is dead gap.
    n_radial
        Radial sinogram bins, at most ``n_detectors - 1``; they cover
        ``|s| <= fov_radius_mm``.
    energy_window_kev
        Accepted photon energies (keV); used when Compton scatter is simulated.
    name
        A label for reports.

    Examples
    --------
    >>> s = RingScanner(radius_mm=300.0, n_detectors=8, crystal_width_mm=200.0, n_radial=5)
    >>> a, b = s.pair_of_bin()  # radial bin 2 (s = 0), view 0 (theta = 0): the line x = 0
    >>> s.n_angles, int(a[2, 0]), int(b[2, 0])
    (4, 2, 6)
    >>> int(s.bin_of_pair(6, 2)) == 2 * s.n_angles  # radial bin 2, view 0, crystals in any order
    True
    """

    radius_mm: float
    n_detectors: int
    crystal_width_mm: float
    n_radial: int
    energy_window_kev: tuple[float, float] = (425.0, 650.0)
    name: str = "ring scanner"

    def __post_init__(self) -> None:
        _number("radius_mm", self.radius_mm, 1e-3)
        _number("n_detectors", self.n_detectors, 4, integer=True)
        if self.n_detectors % 2:
            raise ParameterError(f"n_detectors must be even (views pair opposite crystals); got {self.n_detectors}")
        _number("crystal_width_mm", self.crystal_width_mm, 1e-6)
        if self.crystal_width_mm > self.crystal_pitch_mm * (1 + 1e-12):
            raise ParameterError(f"crystal_width_mm {self.crystal_width_mm} exceeds the crystal pitch "
                                 f"2 pi radius / n_detectors = {self.crystal_pitch_mm:.4g} mm")
        _number("n_radial", self.n_radial, 1, integer=True)
        if self.n_radial > self.n_detectors - 1:
            raise ParameterError(f"n_radial must be <= n_detectors - 1 = {self.n_detectors - 1} "
                                 f"(one bin per crystal pair); got {self.n_radial}")
        window = self.energy_window_kev
        if (len(window) != 2 or not all(isinstance(w, (int, float)) and np.isfinite(w) for w in window)
                or not 0 < window[0] < E_511 < window[1]):
            raise ParameterError(f"energy_window_kev must be (low, high) keV with 0 < low < 511 < high; got {window!r}")

    @property
    def n_angles(self) -> int:
        """Sinogram views: half the crystals (two interleaved angles per view)."""
        return self.n_detectors // 2

    @property
    def shape(self) -> tuple[int, int]:
        """Sinogram shape ``(n_radial, n_angles)``."""
        return self.n_radial, self.n_angles

    @property
    def n_bins(self) -> int:
        """Number of sinogram bins (= crystal pairs in the field of view)."""
        return self.n_radial * self.n_angles

    @property
    def crystal_pitch_mm(self) -> float:
        """Arc length between neighbouring crystal centres."""
        return 2 * np.pi * self.radius_mm / self.n_detectors

    @property
    def face_angle(self) -> float:
        """Angle (rad) a crystal face subtends at the ring centre."""
        return self.crystal_width_mm / self.radius_mm

    @property
    def rho(self) -> np.ndarray:
        """Signed radial position of each radial bin, in half crystal pitches."""
        return np.arange(self.n_radial) - self.n_radial // 2

    @property
    def fov_radius_mm(self) -> float:
        """Largest ``|s|`` of a bin's LOR: the radius of the field of view."""
        return float(self.radius_mm * np.sin(np.pi * np.abs(self.rho).max() / self.n_detectors))

    def crystal_angles(self) -> np.ndarray:
        """Angle (rad) of every crystal centre."""
        return 2 * np.pi * np.arange(self.n_detectors) / self.n_detectors

    def crystal_of(self, points_mm: np.ndarray) -> np.ndarray:
        """Crystal hit at each point of the ring, shape ``(n, 2)`` -> ``(n,)``; -1 in a gap."""
        phi = np.arctan2(points_mm[:, 1], points_mm[:, 0])
        k = np.rint(phi * (self.n_detectors / (2 * np.pi)))
        off = phi - k * (2 * np.pi / self.n_detectors)  # within [-pi/N, pi/N] of the nearest centre
        return np.where(np.abs(off) <= self.face_angle / 2, k.astype(np.int64) % self.n_detectors, -1)

    def bin_of_pair(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """Flat sinogram bin ``j * n_angles + v`` of crystal pairs, -1 outside the sinogram.

        The pair is unordered; a negative crystal (a photon in a gap) gives -1.
        """
        n = self.n_detectors
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        ok = (a >= 0) & (b >= 0) & (a != b)
        a, b = a % n, b % n
        # Of the two differences a - b and b - a (mod n), one makes (sigma + m) / 2 land on a crystal of the
        # pair rather than on its opposite: the one whose wrap-around matches that of a + b.
        same_wrap = (a < b) == (a + b >= n)
        m = np.where(same_wrap, (a - b) % n, (b - a) % n)
        j = n // 2 - m + self.n_radial // 2
        ok &= (j >= 0) & (j < self.n_radial)
        return np.where(ok, j * self.n_angles + ((a + b) % n) // 2, -1)

    def pair_of_bin(self) -> tuple[np.ndarray, np.ndarray]:
        """Crystals ``(a, b)`` of every bin, each of shape :attr:`shape`; ``a`` is at ``theta + beta``."""
        m = self.n_detectors // 2 - self.rho[:, None]
        sigma = 2 * np.arange(self.n_angles)[None, :] + m % 2
        return (sigma + m) // 2 % self.n_detectors, (sigma - m) // 2 % self.n_detectors

    def lor_geometry(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal angle ``theta`` (rad, in ``[0, pi)``) and offset ``s`` (mm) of every bin's LOR."""
        a, b = self.pair_of_bin()
        sigma = (a + b) % self.n_detectors
        s = self.radius_mm * np.sin(np.pi * self.rho / self.n_detectors)
        return np.pi * sigma / self.n_detectors, np.broadcast_to(s[:, None], self.shape).copy()

    def lors(self, oversample: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """End points and geometric sensitivities of every bin's LOR, or of ``oversample**2`` sub-LORs.

        A bin's set of lines is the product of its two crystal faces; with
        ``oversample = k`` each face is cut into ``k`` equal arcs and a sub-LOR
        joins the centres of two arcs.  The sensitivity of a (sub-)LOR is the
        measure of its lines in ``(theta, s)``, divided by ``pi``: an emission
        of in-plane isotropic direction at density ``f`` (per mm^2) lands in it
        with probability ``sensitivity x integral of f along the LOR``, to first
        order in the face size.  With faces of angle ``h`` (rad) and
        ``alpha = (phi_a - phi_b) / 2`` the measure is exactly
        ``8 R sin^2(h / 4) |sin alpha|`` (the integral of the Jacobian
        ``R/2 |sin alpha|`` of ``(phi_a, phi_b) -> (theta, s)`` over the faces);
        for small faces about ``w^2 / (2 R) |sin alpha|``.

        Returns
        -------
        tuple
            ``starts``, ``ends`` of shape ``(n_radial, n_angles, k*k, 2)`` in mm
            and ``sensitivity`` of shape ``(n_radial, n_angles, k*k)`` in mm.
        """
        if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or oversample < 1:
            raise ParameterError(f"oversample must be a positive integer; got {oversample!r}")
        k = int(oversample)
        step = 2 * np.pi / self.n_detectors
        a, b = self.pair_of_bin()
        sub = self.face_angle * ((np.arange(k) + 0.5) / k - 0.5)
        phi_a = (a * step)[..., None, None] + sub[:, None]  # (..., k, 1)
        phi_b = (b * step)[..., None, None] + sub[None, :]  # (..., 1, k)
        phi_a, phi_b = np.broadcast_arrays(phi_a, phi_b)
        phi_a, phi_b = phi_a.reshape(*self.shape, k * k), phi_b.reshape(*self.shape, k * k)
        r = self.radius_mm
        starts = r * np.stack([np.cos(phi_a), np.sin(phi_a)], axis=-1)
        ends = r * np.stack([np.cos(phi_b), np.sin(phi_b)], axis=-1)
        measure = 8 * r * np.sin(self.face_angle / (4 * k)) ** 2 * np.abs(np.sin((phi_a - phi_b) / 2))
        return starts, ends, measure / np.pi


# GE Discovery 690 (also 710): 576 LYSO crystals of 4.2 (transaxial) x 6.3 x 25 mm per ring, 24 rings, energy
# window 425-650 keV (Bettinardi et al., "Physical performance of the new hybrid PET/CT Discovery-690",
# Med. Phys. 38(10):5394-5411, 2011); front-face ring radius 405.1 mm and 381 radial sinogram bins as in STIR's
# scanner table (UCL/STIR, src/buildblock/Scanner.cxx, "GE Discovery 690").  The 381 bins reach s = 349 mm,
# the 70 cm transaxial field of view.
DISCOVERY_690 = RingScanner(radius_mm=405.1, n_detectors=576, crystal_width_mm=4.2, n_radial=381,
                            energy_window_kev=(425.0, 650.0), name="GE Discovery 690 (one direct plane)")

PRESETS = {"discovery-690": DISCOVERY_690}


def preset(name: str) -> RingScanner:
    """A published scanner geometry by name (see :data:`PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ParameterError(f"unknown scanner preset {name!r}; available: {', '.join(sorted(PRESETS))}") from None
