"""Attenuation from compositions via xraydb, checked against NIST's published values."""

from __future__ import annotations

import numpy as np
import pytest

from vipkb.attenuation import attenuation_table, linear_attenuation, mass_attenuation

WATER = [(1, 0.111894), (8, 0.888106)]


# NIST XCOM / Hubbell & Seltzer, mass attenuation of liquid water (cm^2/g, with coherent scattering).
@pytest.mark.parametrize(("kev", "nist"), [(30.0, 0.3756), (60.0, 0.2059), (100.0, 0.1707), (511.0, 0.09598)])
def test_water_matches_nist(kev, nist):
    assert mass_attenuation(WATER, kev) == pytest.approx(nist, rel=0.02)


def test_linear_attenuation_units():
    # 0.2059 cm^2/g x 1 g/cm^3 = 0.2059 /cm = 0.02059 /mm
    assert linear_attenuation(WATER, 1000.0, 60.0) == pytest.approx(0.02059, rel=0.02)
    assert linear_attenuation(WATER, 1000.0, np.array([60.0, 100.0])).shape == (2,)


def test_bundled_brain_attenuation_orders_tissues(seeded_kb):
    rows = {r.tissue: r for r in attenuation_table(seeded_kb, "https://w3id.org/vipkb/model/brain/v1", [60.0])}
    assert set(rows) >= {"skull", "grey matter", "white matter", "cerebrospinal fluid", "scalp", "brain tumour"}
    mu = {t: float(r.mu_per_mm[0]) for t, r in rows.items()}
    assert mu["skull"] > 1.5 * mu["grey matter"] > 1.5 * 0.9 * mu["cerebrospinal fluid"]
    assert mu["cerebrospinal fluid"] == pytest.approx(0.02059, rel=0.02)  # CSF is water-equivalent
    assert sum(f for _, f in rows["skull"].composition) == pytest.approx(1.0, abs=1e-3)
