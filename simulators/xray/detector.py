"""Energy-integrating detection, quantum noise, water beam-hardening correction, HU.

An energy-integrating detector (scintillator or flat panel) records, per
element, the energy deposited: ``sum over E of N(E) E``, with ``N(E)`` the
photons arriving at energy ``E``.  Photon numbers are Poisson per energy bin
(quantum noise); the model assumes perfect absorption, no electronic noise,
no scatter, no afterglow and no crosstalk.  Dose is the number of
unattenuated photons per element per view, summed over the spectrum.

Log-normalisation gives projections ``p = -ln(signal / flat)`` with the
noiseless flat field ``N0 sum S(E) E``.  An element that saw nothing (photon
starvation) would give ``+inf``; its signal is raised to half a photon of the
spectrum's mean energy first, a bounded value as scanners do.

Water beam-hardening correction maps a polychromatic projection to the
equivalent water thickness ``L_w`` (inverting ``p_w(L) = -ln(sum E S e^{-mu_w(E) L} / sum E S)``)
and returns ``mu_w(E_ref) L_w``: water then reconstructs to ``mu_w(E_ref)``
whatever its size.  The reference ``E_ref`` defaults to the *effective
energy* of the detected spectrum, where ``mu_w(E_ref)`` equals the slope of
``p_w`` at zero thickness (the energy-weighted mean of ``mu_w``), so thin
objects are left unchanged.  Hounsfield units use the same ``mu_w(E_ref)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.xray.spectrum import Spectrum
from vipkb.attenuation import linear_attenuation
from vipkb.errors import ParameterError

__all__ = ["WATER", "Detector", "WaterCorrection", "hounsfield", "water_correction"]

#: Liquid water: H 0.111894, O 0.888106 by mass, 1000 kg/m3 (NIST X-ray mass attenuation tables, Table 2).
WATER = ((1, 0.111894), (8, 0.888106)), 1000.0

#: Energy bins x rays per chunk when applying a spectrum (bounds memory to ~16 MB per array).
CHUNK = 1 << 21


def _relative(relative_fluence: np.ndarray | None, n_rays: int) -> np.ndarray:
    if relative_fluence is None:
        return np.ones(n_rays)
    rel = np.asarray(relative_fluence, dtype=np.float64).reshape(-1)
    if rel.shape != (n_rays,) or not (np.isfinite(rel).all() and (rel >= 0).all()):
        raise ParameterError(f"relative_fluence must hold {n_rays} finite values >= 0")
    return rel


@dataclass(frozen=True, kw_only=True)
class Detector:
    """An energy-integrating detector and the dose it receives.

    Parameters
    ----------
    photons_per_element
        Unattenuated photons per detector element per view, summed over the
        spectrum (at the central element for a radiograph), 1 to 1e12.
    quantum_noise
        Draw Poisson photon numbers per energy bin (needs ``rng``).
    """

    photons_per_element: float = 1e5
    quantum_noise: bool = True

    def __post_init__(self) -> None:
        n = self.photons_per_element
        if isinstance(n, bool) or not isinstance(n, (int, float, np.number)) or not 1 <= n <= 1e12:
            raise ParameterError(f"photons_per_element must be a number in [1, 1e12]; got {n!r}")

    def flat_signal(self, spectrum: Spectrum) -> float:
        """Energy (keV) one element records without an object."""
        return float(self.photons_per_element * (spectrum.fluence @ spectrum.energies_kev))

    def signal(self, path_lengths_mm: np.ndarray, mu_per_mm: np.ndarray, spectrum: Spectrum, *,
               rng: np.random.Generator | None = None, relative_fluence: np.ndarray | None = None) -> np.ndarray:
        """Recorded energy (keV) per ray.

        Parameters
        ----------
        path_lengths_mm
            ``(n_rays, n_materials)`` lengths, from :func:`~simulators.xray.siddon.path_lengths`.
        mu_per_mm
            ``(n_materials, n_energies)`` linear attenuation at ``spectrum.energies_kev``.
        spectrum
            The incident spectrum.
        rng
            Random generator for the quantum noise (required when it is on).
        relative_fluence
            Optional per-ray factor on the dose (inverse square, obliquity).
        """
        lengths = np.asarray(path_lengths_mm, dtype=np.float64)
        mu = np.asarray(mu_per_mm, dtype=np.float64)
        n_e = spectrum.energies_kev.size
        if lengths.ndim != 2 or mu.shape != (lengths.shape[1], n_e):
            raise ParameterError(f"mu_per_mm must be (n_materials, n_energies) = ({lengths.shape[1]}, {n_e}); "
                                 f"got {mu.shape} for path lengths {lengths.shape}")
        if self.quantum_noise and not isinstance(rng, np.random.Generator):
            raise ParameterError("quantum noise needs rng=np.random.default_rng(seed); the global RNG is never used")
        rel = _relative(relative_fluence, lengths.shape[0])
        incident = self.photons_per_element * spectrum.fluence
        out = np.empty(lengths.shape[0])
        step = max(1, CHUNK // n_e)
        for r0 in range(0, lengths.shape[0], step):
            sl = slice(r0, r0 + step)
            photons = np.exp(-(lengths[sl] @ mu))
            photons *= incident
            photons *= rel[sl, None]
            if self.quantum_noise:
                photons = rng.poisson(photons).astype(np.float64)
            out[sl] = photons @ spectrum.energies_kev
        return out

    def projections(self, signal: np.ndarray, spectrum: Spectrum, *,
                    relative_fluence: np.ndarray | None = None) -> np.ndarray:
        """Log-normalised projections ``-ln(signal / flat)``, guarded against photon starvation."""
        signal = np.asarray(signal, dtype=np.float64)
        rel = _relative(relative_fluence, signal.size).reshape(signal.shape)
        flat = self.flat_signal(spectrum) * rel
        floor = 0.5 * spectrum.mean_energy_kev * np.maximum(rel, 1e-300)
        return np.log(flat / np.maximum(signal, floor))


@dataclass(frozen=True, kw_only=True, eq=False)
class WaterCorrection:
    """Tabulated water beam-hardening correction; call it on projections.

    Attributes
    ----------
    reference_kev
        Energy at which corrected projections are monochromatic.
    mu_water_per_mm
        Water's linear attenuation at ``reference_kev``: the 0 HU level.
    thickness_mm, projection
        The table: polychromatic water projection at each thickness.
    """

    reference_kev: float
    mu_water_per_mm: float
    thickness_mm: np.ndarray
    projection: np.ndarray

    def __call__(self, projections: np.ndarray) -> np.ndarray:
        """``mu_w(E_ref)`` times the water thickness that gives each projection."""
        given = np.asarray(projections, dtype=np.float64)
        p = given.reshape(-1)
        t, q = self.thickness_mm, self.projection
        water = np.interp(p, q, t)
        # Beyond the table, continue along its end slopes (noise below 0, bone paths above).
        below, above = p < q[0], p > q[-1]
        water[below] = p[below] * (t[1] - t[0]) / (q[1] - q[0])
        water[above] = t[-1] + (p[above] - q[-1]) * (t[-1] - t[-2]) / (q[-1] - q[-2])
        return self.mu_water_per_mm * water.reshape(given.shape)


def water_correction(spectrum: Spectrum, *, reference_kev: float | None = None, max_thickness_mm: float = 1000.0,
                     samples: int = 2001) -> WaterCorrection:
    """Build the water beam-hardening correction for an energy-integrating detector.

    Parameters
    ----------
    spectrum
        Incident spectrum.
    reference_kev
        Monochromatic reference energy; default the effective energy (see
        the module docstring).
    max_thickness_mm, samples
        Extent and density of the table (longer paths are extrapolated).

    Examples
    --------
    >>> from simulators.xray.spectrum import Tube
    >>> bhc = water_correction(Tube(kvp=120, aluminium_mm=2.5).spectrum())
    >>> round(bhc.reference_kev, 1), bhc.thickness_mm[1000]  # 500 mm of water reads as 500 mm at E_ref
    (44.2, np.float64(500.0))
    >>> bool(abs(bhc(bhc.projection[1000]) / (bhc.mu_water_per_mm * 500) - 1) < 1e-12)
    True
    """
    if not 10 <= max_thickness_mm <= 10_000 or not 10 <= samples <= 100_000:
        raise ParameterError("max_thickness_mm must be in [10, 10000] and samples in [10, 100000]")
    comp, rho = WATER
    e, s = spectrum.energies_kev, spectrum.fluence
    mu = linear_attenuation(comp, rho, e)
    weight = s * e / (s @ e)  # energy-integrating: each photon counts with its energy
    thickness = np.linspace(0.0, max_thickness_mm, samples)
    projection = -np.log(np.exp(-np.outer(thickness, mu)) @ weight)
    if reference_kev is None:
        grid = np.linspace(e.min(), e.max(), 4096)
        mu_grid = linear_attenuation(comp, rho, grid)
        # Water has no absorption edge in the diagnostic range, so mu is monotonic and invertible.
        reference_kev = float(np.interp(-(weight @ mu), -mu_grid, grid))
    elif not 1 <= reference_kev <= 1000:
        raise ParameterError(f"reference_kev must be in [1, 1000] keV; got {reference_kev!r}")
    mu_ref = float(linear_attenuation(comp, rho, float(reference_kev)))
    return WaterCorrection(reference_kev=float(reference_kev), mu_water_per_mm=mu_ref, thickness_mm=thickness,
                           projection=projection)


def hounsfield(mu_per_mm: np.ndarray, mu_water_per_mm: float) -> np.ndarray:
    """CT numbers, ``1000 (mu - mu_water) / mu_water``; air reads about -1000.

    Examples
    --------
    >>> hounsfield(np.array([0.0, 0.02, 0.04]), 0.02).tolist()
    [-1000.0, 0.0, 1000.0]
    """
    if not mu_water_per_mm > 0:
        raise ParameterError(f"mu_water_per_mm must be > 0; got {mu_water_per_mm!r}")
    return 1000.0 * (np.asarray(mu_per_mm, dtype=np.float64) - mu_water_per_mm) / mu_water_per_mm
