"""X-ray tube spectra: Kramers' thick-target continuum of a tungsten anode, filtered.

The unfiltered photon number per unit energy of a thick target is Kramers'
law (H. A. Kramers, Phil. Mag. 46, 836, 1923), ``dN/dE = k Z (E0 - E) / E``
with ``E0`` the tube voltage in keV; per bin it is integrated exactly,
``k Z [E0 ln(E_hi / E_lo) - (E_hi - E_lo)]``, so it vanishes above ``E0``.
Filtration (inherent plus added aluminium and copper) attenuates it by
``exp(-mu(E) t)`` with ``mu`` from the elemental cross-sections of xraydb
(:func:`vipkb.attenuation.linear_attenuation`), never typed-in values.

The model neglects: the tungsten K characteristic lines (K-alpha at 57.98
and 59.32 keV, K-beta at 67.2-69.1 keV, present above the 69.5 keV K edge;
their yield relative to the continuum needs an empirical model such as
Tucker et al., Med. Phys. 18, 211, 1991), self-absorption in the anode
and the heel effect, generator ripple (constant potential is assumed),
off-focal radiation and the bow-tie filter of CT scanners.  Absolute output
(photons per mAs) is not modelled: fluence is normalised, and dose enters as
photons per detector element (see :mod:`simulators.xray.detector`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vipkb.attenuation import linear_attenuation
from vipkb.errors import ParameterError

__all__ = ["ALUMINIUM", "COPPER", "Spectrum", "Tube"]

#: Pure aluminium, Z = 13, 2699 kg/m3 (NIST X-ray mass attenuation tables, Table 1).
ALUMINIUM = ((13, 1.0),), 2699.0
#: Pure copper, Z = 29, 8960 kg/m3 (NIST X-ray mass attenuation tables, Table 1).
COPPER = ((29, 1.0),), 8960.0

#: Bins whose filtered fluence is below this fraction of the peak are dropped (they carry nothing).
NEGLIGIBLE = 1e-9


@dataclass(frozen=True, kw_only=True, eq=False)
class Spectrum:
    """A photon spectrum on energy bins.

    Attributes
    ----------
    energies_kev
        Bin centres, keV, increasing.
    fluence
        Relative photon number per bin, summing to 1.
    mean_energy_kev
        Photon-number-weighted mean energy.
    kvp
        Tube voltage the spectrum was made for (its maximum energy).
    """

    energies_kev: np.ndarray
    fluence: np.ndarray
    mean_energy_kev: float = field(init=False)
    kvp: float

    def __post_init__(self) -> None:
        e = np.array(self.energies_kev, dtype=np.float64)
        f = np.array(self.fluence, dtype=np.float64)
        if e.ndim != 1 or e.shape != f.shape or e.size == 0:
            raise ParameterError("energies_kev and fluence must be 1-D arrays of the same, non-zero length")
        if (f < 0).any() or f.sum() <= 0 or (e <= 0).any() or not np.isfinite(e).all():
            raise ParameterError("a spectrum needs positive energies and non-negative fluence with a positive sum")
        f /= f.sum()
        for a in (e, f):
            a.setflags(write=False)
        object.__setattr__(self, "energies_kev", e)
        object.__setattr__(self, "fluence", f)
        object.__setattr__(self, "mean_energy_kev", float(e @ f))

    @classmethod
    def monochromatic(cls, energy_kev: float) -> Spectrum:
        """A single line, for synchrotron-like or reference simulations."""
        return cls(energies_kev=np.array([float(energy_kev)]), fluence=np.array([1.0]), kvp=float(energy_kev))

    def filtered(self, composition, density_kg_m3: float, thickness_mm: float) -> Spectrum:
        """This spectrum after ``thickness_mm`` of a material (composition, density)."""
        mu = linear_attenuation(composition, density_kg_m3, self.energies_kev)
        return _kept(self.energies_kev, self.fluence * np.exp(-mu * thickness_mm), self.kvp)


def _kept(energies: np.ndarray, fluence: np.ndarray, kvp: float) -> Spectrum:
    if fluence.max() <= 0 or not np.isfinite(fluence).all():
        raise ParameterError("the filtration absorbs the whole spectrum; use less aluminium or copper")
    keep = fluence >= NEGLIGIBLE * fluence.max()
    return Spectrum(energies_kev=energies[keep], fluence=fluence[keep], kvp=kvp)


@dataclass(frozen=True, kw_only=True)
class Tube:
    """X-ray tube settings: voltage, total filtration and energy bin width.

    Parameters
    ----------
    kvp
        Tube voltage, 20-150 kV (the maximum photon energy in keV).
    aluminium_mm
        Total aluminium (inherent plus added), 0-20 mm.  Diagnostic tubes
        above 70 kVp carry at least 2.5 mm Al equivalent (IEC 60601-1-3).
    copper_mm
        Added copper, 0-3 mm.
    bin_kev
        Energy bin width, 0.1-5 keV; bins start at ``bin_kev``.

    Examples
    --------
    >>> s = Tube(kvp=120, aluminium_mm=2.5).spectrum()
    >>> bool(s.energies_kev.max() < 120) and round(float(s.fluence.sum()), 6)
    1.0
    """

    kvp: float = 120.0
    aluminium_mm: float = 2.5
    copper_mm: float = 0.0
    bin_kev: float = 1.0

    def __post_init__(self) -> None:
        for name, low, high in (("kvp", 20, 150), ("aluminium_mm", 0, 20), ("copper_mm", 0, 3),
                                ("bin_kev", 0.1, 5)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not low <= v <= high:
                raise ParameterError(f"{name} must be a number in [{low}, {high}]; got {v!r}")
        if self.bin_kev > self.kvp / 4:
            raise ParameterError(f"bin_kev={self.bin_kev} is too coarse for {self.kvp} kVp: use at most kvp / 4")

    def spectrum(self) -> Spectrum:
        """The filtered spectrum, normalised to one photon."""
        e0 = float(self.kvp)
        edges = np.arange(self.bin_kev, e0 + self.bin_kev, self.bin_kev)
        edges = np.minimum(edges, e0)
        edges = edges[np.concatenate([[True], np.diff(edges) > 0])]
        lo, hi = edges[:-1], edges[1:]
        counts = e0 * np.log(hi / lo) - (hi - lo)  # Kramers integrated over each bin (k Z dropped)
        spectrum = _kept((lo + hi) / 2, counts, e0)
        for (comp, rho), t in ((ALUMINIUM, self.aluminium_mm), (COPPER, self.copper_mm)):
            if t > 0:
                spectrum = spectrum.filtered(comp, rho, t)
        return spectrum
