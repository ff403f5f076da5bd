"""The HermiT reasoner on the ontology and the bundled annotations."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from tests.conftest import FIXTURES
from vipkb import KnowledgeBase, Settings
from vipkb.documents import load_path
from vipkb.namespaces import VIP, Graphs
from vipkb.queries import INFERRED_READY, ready_for_modality
from vipkb.reasoning import classify_models
from vipkb.resources import ontology_files
from vipkb.stores.oxigraph_ import EmbeddedStore

MODALITIES = ["MR", "Ultrasound", "CT", "XRay", "PET"]
PHANTOM = FIXTURES / "sphere-phantom.ttl"


def _triples(paths):
    return [q.triple for p in paths for q in load_path(p, max_bytes=10**7).quads]


def test_ontology_and_annotations_are_consistent_and_classified():
    inferences = {i.model.rsplit("/", 1)[1]: i.ready_for for i in
                  classify_models(_triples(ontology_files()), [_triples([FIXTURES / "brain-mr-partial.ttl"]),
                                                               _triples([PHANTOM])])}
    assert inferences["brain-mr-partial"] == {str(VIP.MR)}
    assert inferences["sphere-phantom"] == {str(VIP[m]) for m in MODALITIES}


BUNDLED_READINESS = {
    "brain": {"MR", "CT", "XRay", "PET"},
    "abdomen": {"MR", "Ultrasound", "CT", "XRay", "PET"},
    "beating-heart": {"MR", "Ultrasound"},
    "contrast-detail": {"MR", "Ultrasound", "CT", "XRay", "PET"},
    "brain-mr-only": {"MR"},
}


def test_bundled_models_are_classified_as_the_issue_lists(seeded_kb):
    ready: dict[str, set[str]] = {}
    for r in seeded_kb.store.query(INFERRED_READY):
        model_id = r["model"].value.split("/model/", 1)[1].rsplit("/v", 1)[0]
        ready.setdefault(model_id, set()).add(r["modality"].value.rsplit("#", 1)[1])
    assert ready == BUNDLED_READINESS


def test_ontology_alone_is_consistent():
    assert classify_models(_triples(ontology_files()), []) == []


def test_an_inconsistent_ontology_is_detected():
    from vipkb.errors import InconsistentError

    clash = ox.Triple(ox.NamedNode(str(VIP.MR)), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                      ox.NamedNode(str(VIP.ParameterKind)))  # modalities and kinds are disjoint
    with pytest.raises(InconsistentError):
        classify_models([*_triples(ontology_files()), clash], [])


@pytest.mark.parametrize("modality", MODALITIES)
def test_materialised_inferences_match_the_closed_world_query(seeded_kb, modality):
    inferred = {r["model"].value for r in seeded_kb.store.query(INFERRED_READY)
                if r["modality"].value == str(VIP[modality])}
    by_query = {r["model"].value for r in seeded_kb.store.query(ready_for_modality(str(VIP[modality])))}
    assert inferred == by_query
    assert inferred  # the phantom is ready for every modality


def test_readiness_classes_follow_the_modalities_requirements(seeded_kb):
    """The OWL definitions and the modalities' vip:requiresParameterKind must say the same."""
    rows = seeded_kb.query(f"""
        SELECT ?modality ?kind WHERE {{ GRAPH <{Graphs.ONTOLOGY}> {{
          ?model vip:readinessFor ?modality ;
                 owl:equivalentClass/owl:intersectionOf/rdf:rest*/rdf:first ?all .
          ?all owl:onProperty vip:hasLabelledPart ; owl:allValuesFrom ?partClass .
          ?partClass owl:equivalentClass* ?named .
          ?named owl:equivalentClass/owl:intersectionOf/rdf:rest*/rdf:first ?has .
          ?has owl:onProperty vip:hasAvailableKind ; owl:hasValue ?kind . }} }}""")
    defined: dict[str, set[str]] = {}
    for r in rows:
        defined.setdefault(r["modality"].value, set()).add(r["kind"].value)
    required: dict[str, set[str]] = {}
    for r in seeded_kb.query("SELECT ?m ?k WHERE { ?m a vip:Modality ; vip:requiresParameterKind ?k }"):
        required.setdefault(r["m"].value, set()).add(r["k"].value)
    assert defined == required
    assert set(defined) == {str(VIP[m]) for m in MODALITIES}


def test_inferences_are_refreshed_on_every_write(tmp_path):
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings())
    kb.init(load_data=False)
    kb.load_file(PHANTOM)
    phantom_iri = "https://w3id.org/vipkb/model/sphere-phantom"

    def ready() -> set[str]:
        res = kb.query(f"SELECT ?x WHERE {{ GRAPH <{Graphs.INFERRED}> {{ <{phantom_iri}> vip:readyFor ?x }} }}")
        return {r["x"].value.rsplit("#", 1)[1] for r in res}

    assert ready() == set(MODALITIES)
    # Without the adipose sphere's density, CT, X-ray and PET are no longer possible.
    text = PHANTOM.read_text()
    density = next(line for line in text.splitlines()
                   if "<#fat>" in line and "vip:MassDensity" in line)
    edited = tmp_path / "phantom.ttl"
    edited.write_text(text.replace(density + "\n", "").replace(density, ""))
    result = kb.load_file(edited)
    assert result.ready == {phantom_iri: ["MR", "Ultrasound"]}
    assert ready() == {"MR", "Ultrasound"}
    kb.load_file(PHANTOM)
    assert ready() == set(MODALITIES)
    kb.drop(str(Graphs.for_resource("model", phantom_iri)))
    assert ready() == set()


def test_reasoner_off_materialises_nothing(tmp_path):
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(reasoner="off", files_url=str(tmp_path)))
    kb.init()
    assert len(kb.store.graph_triples(ox.NamedNode(str(Graphs.INFERRED)))) == 0
    assert kb.stats()["models"] == len(BUNDLED_READINESS)


def test_region_search_finds_parts_through_the_local_hierarchy(seeded_kb):
    rows = seeded_kb.query("""SELECT DISTINCT ?model WHERE {
        ?model vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart/vip:depicts ?what .
        ?what rdfs:subClassOf* vip:HeadOrgan } ORDER BY ?model""")
    assert [r["model"].value.split("/model/")[1] for r in rows] == ["brain-mr-only/v1", "brain/v1"]
