"""X-ray attenuation derived from elemental compositions (xraydb), never typed in.

The knowledge base stores CT/X-ray parameters as what they physically are:
mass fractions and a mass density per tissue.  Attenuation at any energy
follows from the mixture rule, mu/rho = sum_i w_i (mu/rho)_i, with the
elemental cross-sections of xraydb (Elam, Ravel & Sieber tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xraydb

from vipkb import queries
from vipkb.kb import KnowledgeBase


def mass_attenuation(composition: Sequence[tuple[int, float]], energy_kev: float | np.ndarray) -> np.ndarray:
    """Total mass attenuation coefficient (cm^2/g) of a mixture.

    Parameters
    ----------
    composition
        (atomic number, mass fraction) pairs; fractions are normalised.
    energy_kev
        Photon energy or energies in keV.

    Examples
    --------
    >>> round(float(mass_attenuation([(1, 0.111894), (8, 0.888106)], 60.0)), 4)  # water, NIST: 0.2059
    0.2059
    """
    energies = np.atleast_1d(np.asarray(energy_kev, dtype=float)) * 1000.0
    total = sum(f for _, f in composition)
    mu = sum(f / total * np.asarray(xraydb.mu_elam(xraydb.atomic_symbol(z), energies)) for z, f in composition)
    return mu if np.ndim(energy_kev) else mu[0]


def linear_attenuation(composition: Sequence[tuple[int, float]], density_kg_m3: float,
                       energy_kev: float | np.ndarray) -> np.ndarray:
    """Linear attenuation coefficient in 1/mm (voxel sizes are in mm)."""
    return mass_attenuation(composition, energy_kev) * (density_kg_m3 / 1000.0) / 10.0


@dataclass(frozen=True)
class TissueAttenuation:
    """A labelled part's material and its attenuation at the requested energies."""

    label: int
    tissue: str
    layer: str
    density_kg_m3: float
    composition: tuple[tuple[int, float], ...]
    mu_per_mm: np.ndarray


def attenuation_table(kb: KnowledgeBase, model: str, energy_kev: Sequence[float]) -> list[TissueAttenuation]:
    """Attenuation of every part of a model that has a composition and a density.

    Parameters
    ----------
    model
        IRI of a model version.
    energy_kev
        Energies in keV.
    """
    parts: dict[str, dict] = {}
    for r in kb.store.query(queries.part_compositions(model)):
        p = parts.setdefault(r["part"].value, {"label": int(r["label"].value), "tissue": r["tissue"].value,
                                               "layer": r["layer"].value, "density": float(r["density"].value),
                                               "composition": {}})
        p["composition"][int(r["z"].value)] = float(r["fraction"].value)
    out = []
    for p in sorted(parts.values(), key=lambda p: (p["layer"], p["label"])):
        comp = tuple(sorted(p["composition"].items()))
        out.append(TissueAttenuation(label=p["label"], tissue=p["tissue"], layer=p["layer"],
                                     density_kg_m3=p["density"], composition=comp,
                                     mu_per_mm=linear_attenuation(comp, p["density"], np.asarray(energy_kev))))
    return out
