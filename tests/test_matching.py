"""Compatible (model instant, simulator) pairs, decided by one SPARQL query."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from vipkb.cli import main
from vipkb.errors import UnknownResourceError
from vipkb.matching import find_matches


def test_bundled_models_match_the_simulators_their_tissues_allow(seeded_kb):
    pairs = find_matches(seeded_kb)
    by_model = Counter((p.as_dict()["model_id"], p.simulator_name) for p in pairs)
    # brain-mr-only has MR parameters only; brain lacks ultrasound values; the heart moves over 10 instants.
    assert {s for m, s in by_model if m == "brain-mr-only"} == {"mri"}
    assert {s for m, s in by_model if m == "brain"} == {"mri", "ct", "radiography", "pet"}
    assert {s for m, s in by_model if m == "contrast-detail"} == {"mri", "ct", "radiography", "ultrasound", "pet"}
    assert by_model[("beating-heart", "mri")] == 10 and by_model[("beating-heart", "ultrasound")] == 10
    assert ("beating-heart", "ct") not in by_model


def test_filters(seeded_kb):
    mr = find_matches(seeded_kb, modality="MR")
    assert {p.simulator_name for p in mr} == {"mri"} and {p.modality for p in mr} == {"MR"}
    heart = find_matches(seeded_kb, model="beating-heart", modality="Ultrasound")
    assert [p.as_dict()["instant_ref"] for p in heart] == [f"0/{i}" for i in range(10)]
    with pytest.raises(UnknownResourceError, match="unknown modality 'SPECT'.*MR, Ultrasound"):
        find_matches(seeded_kb, modality="SPECT")
    with pytest.raises(UnknownResourceError, match="no model 'liver'"):
        find_matches(seeded_kb, model="liver")


STATIC_T2STAR = """
@prefix vip: <https://w3id.org/vipkb/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/vipkb/simulator/t2star-static> a vip:Simulator ;
    rdfs:label "Static T2* mapper" ; vip:simulatesModality vip:MR ;
    vip:requiresParameterKind vip:T1 , vip:T2Star ;
    vip:supportsDimensionality 3 ; vip:supportsDynamics vip:Static ;
    vip:producesOutput vip:Image ; vip:softwareVersion "0.1" .
<https://w3id.org/vipkb/simulator/static-t1> a vip:Simulator ;
    rdfs:label "Static T1 mapper" ; vip:simulatesModality vip:MR ;
    vip:requiresParameterKind vip:T1 ;
    vip:supportsDimensionality 3 ; vip:supportsDynamics vip:Static ;
    vip:producesOutput vip:Image ; vip:softwareVersion "0.1" .
<https://w3id.org/vipkb/simulator/flat-t1> a vip:Simulator ;
    rdfs:label "2-D T1 mapper" ; vip:simulatesModality vip:MR ;
    vip:requiresParameterKind vip:T1 ;
    vip:supportsDimensionality 2 ; vip:supportsDynamics vip:Static , vip:Moving ;
    vip:producesOutput vip:Image ; vip:softwareVersion "0.1" .
"""


def test_required_kinds_dynamics_and_dimensionality_decide(initialised, write):
    for name in ("t2star-static", "static-t1", "flat-t1"):
        loaded = initialised.invoke(main, ["load", str(write(f"{name}.ttl", _one(name)))])
        assert loaded.exit_code == 0, loaded.output
    result = initialised.invoke(main, ["match", "--modality", "MR", "--format", "json"])
    assert result.exit_code == 0, result.output
    names = Counter((p["model_id"], p["simulator_name"]) for p in json.loads(result.output))
    assert not any(s == "t2star-static" for _, s in names)  # no bundled model gives T2*
    assert not any(s == "flat-t1" for _, s in names)  # bundled models are 3-D
    assert ("brain", "static-t1") in names and ("beating-heart", "static-t1") not in names  # the heart moves
    table = initialised.invoke(main, ["match", "--model", "brain-mr-only"])
    assert table.exit_code == 0 and "brain-mr-only  0/0      mri" in table.output


def _one(name: str) -> str:
    """The prefixes and the one simulator of STATIC_T2STAR named ``name``."""
    head, *blocks = STATIC_T2STAR.strip().split("\n<")
    return head + "\n<" + next(b for b in blocks if b.startswith(f"https://w3id.org/vipkb/simulator/{name}>"))
