"""Photon transport with single Compton scatter, for :func:`simulators.pet.emission.simulate_batch`.

Each annihilation photon is followed from its decay point to the ring:

1. its first interaction is found by Woodcock (delta) tracking: tentative
   steps are exponential with the map's largest attenuation ``mu_max`` and a
   tentative point is a real interaction with probability ``mu(x) / mu_max``.
   For a piecewise-constant map read voxel by voxel this samples the
   interaction depth exactly, with no ray marching;
2. every interaction is taken to be Compton scattering (in soft tissue and
   bone it is more than 98 % of the attenuation at 511 keV; photoabsorption
   and Rayleigh scatter are neglected).  The polar angle follows the
   Klein-Nishina cross-section at 511 keV, sampled by inverting its
   tabulated distribution, and the photon keeps ``E' = E / (2 - cos theta)``;
3. *in-plane approximation*: the slice is one direct plane of the ring, so
   the scattered photon is turned by ``+theta`` or ``-theta`` within it
   (out-of-plane scatter, which a 3-D scanner would see in other rings, is
   folded into the plane);
4. a scattered photon below the energy window's lower edge is lost at once;
   otherwise it is tracked again with the map scaled by water's
   ``mu(E') / mu(511 keV)`` (xraydb), and lost if it interacts a second time
   (single scatter only: multiply scattered photons, mostly below the window
   anyway, are not counted).  Energy resolution is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulators.pet.scanner import E_511
from simulators.xray.detector import WATER
from simulators.xray.grid import VoxelGrid
from vipkb.attenuation import mass_attenuation

__all__ = ["Medium", "klein_nishina_cos", "ring_distance", "track"]


@lru_cache(maxsize=1)
def _kn_table() -> tuple[np.ndarray, np.ndarray]:
    """Cumulative Klein-Nishina distribution of ``cos theta`` at 511 keV on a fine grid."""
    c = np.linspace(-1.0, 1.0, 20001)
    ratio = 1.0 / (2.0 - c)  # E'/E at k = E / m_e c^2 = 1
    density = ratio**2 * (ratio + 1.0 / ratio - (1.0 - c**2))  # d sigma / d Omega, up to a constant
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(c))])
    return cdf / cdf[-1], c


def klein_nishina_cos(u: np.ndarray) -> np.ndarray:
    """``cos theta`` of Compton scatter at 511 keV from uniforms ``u`` in ``[0, 1)`` (inverse CDF)."""
    cdf, c = _kn_table()
    return np.interp(u, cdf, c)


@lru_cache(maxsize=1)
def _water_ratio() -> tuple[np.ndarray, np.ndarray]:
    energies = np.linspace(160.0, E_511, 352)
    mu = mass_attenuation(WATER[0], energies)
    return energies, mu / mu[-1]


def attenuation_ratio(energy_kev: np.ndarray) -> np.ndarray:
    """Water's ``mu(E) / mu(511 keV)``: scales a 511 keV map to a scattered photon's energy."""
    energies, ratio = _water_ratio()
    return np.interp(energy_kev, energies, ratio)


@dataclass(frozen=True, kw_only=True, eq=False)
class Medium:
    """An attenuation map at 511 keV (1/mm) on a 2-D grid, ready for voxel look-ups."""

    mu: np.ndarray
    grid: VoxelGrid

    @property
    def mu_max(self) -> float:
        """The Woodcock majorant."""
        return float(self.mu.max())

    def at(self, points: np.ndarray) -> np.ndarray:
        """``mu`` of the voxel containing each point, 0 outside the grid."""
        low = np.asarray(self.grid.origin_mm) - np.asarray(self.grid.voxel_size_mm) / 2
        k = np.floor((points - low) / np.asarray(self.grid.voxel_size_mm)).astype(np.int64)
        inside = ((k >= 0) & (k < np.asarray(self.grid.shape))).all(axis=1)
        out = np.zeros(len(points))
        out[inside] = self.mu[k[inside, 0], k[inside, 1]]
        return out

    def exit_distance(self, starts: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Distance along each direction to where the ray leaves the grid's box (0 if outside behind)."""
        size = np.asarray(self.grid.voxel_size_mm)
        low = np.asarray(self.grid.origin_mm) - size / 2
        high = low + size * np.asarray(self.grid.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(directions > 0, (high - starts) / directions,
                         np.where(directions < 0, (low - starts) / directions, np.inf))
        return np.maximum(t.min(axis=1), 0.0)


def ring_distance(starts: np.ndarray, directions: np.ndarray, radius: float) -> np.ndarray:
    """Distance from points inside a circle of ``radius`` to it along unit ``directions``."""
    b = (starts * directions).sum(axis=1)
    c = (starts**2).sum(axis=1) - radius**2
    return -b + np.sqrt(np.maximum(b * b - c, 0.0))


def _first_interaction(rng: np.random.Generator, medium: Medium, starts: np.ndarray, directions: np.ndarray,
                       limit: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Woodcock tracking: distance to the first interaction, ``inf`` if none before ``limit``."""
    hit = np.full(len(starts), np.inf)
    mu_max = medium.mu_max
    if mu_max <= 0 or len(starts) == 0:
        return hit
    t = np.zeros(len(starts))
    active = np.flatnonzero(limit > 0)
    while active.size:
        t[active] += rng.standard_exponential(active.size) / (mu_max * scale[active])
        active = active[t[active] < limit[active]]
        points = starts[active] + t[active, None] * directions[active]
        # The scale is the same for the majorant and the voxel, so it cancels in the acceptance ratio.
        real = rng.random(active.size) * mu_max < medium.at(points)
        hit[active[real]] = t[active[real]]
        active = active[~real]
    return hit


def track(rng: np.random.Generator, medium: Medium, starts: np.ndarray, directions: np.ndarray, radius: float,
          window_low_kev: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow 511 keV photons to the ring with at most one Compton scatter.

    Returns
    -------
    tuple
        ``(points, arrived, scattered)``: where each photon crosses the ring
        (mm), whether it got there (not absorbed, not scattered twice, energy
        in the window) and whether it scattered once on the way.
    """
    n = len(starts)
    to_ring = ring_distance(starts, directions, radius)
    limit = np.minimum(to_ring, medium.exit_distance(starts, directions))
    depth = _first_interaction(rng, medium, starts, directions, limit, np.ones(n))
    points = starts + to_ring[:, None] * directions
    scattered = np.isfinite(depth)
    arrived = ~scattered
    idx = np.flatnonzero(scattered)
    if idx.size:
        cos_t = klein_nishina_cos(rng.random(idx.size))
        sign = np.where(rng.random(idx.size) < 0.5, -1.0, 1.0)
        energy = E_511 / (2.0 - cos_t)
        keep = energy >= window_low_kev
        idx, cos_t, sign, energy = idx[keep], cos_t[keep], sign[keep], energy[keep]
        sin_t = sign * np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
        d = directions[idx]
        new_dir = np.stack([cos_t * d[:, 0] - sin_t * d[:, 1], sin_t * d[:, 0] + cos_t * d[:, 1]], axis=1)
        origin = starts[idx] + depth[idx, None] * d
        to_ring2 = ring_distance(origin, new_dir, radius)
        limit2 = np.minimum(to_ring2, medium.exit_distance(origin, new_dir))
        second = _first_interaction(rng, medium, origin, new_dir, limit2, attenuation_ratio(energy))
        ok = ~np.isfinite(second)
        points[idx] = origin + to_ring2[:, None] * new_dir
        arrived[idx[ok]] = True
    return points, arrived, scattered
