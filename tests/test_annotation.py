"""Plain-language SHACL reports and annotation submissions (:mod:`vipkb.annotation`), on the real shapes."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import snapshot
from vipkb import KnowledgeBase, Settings
from vipkb.annotation import plain_report, read_submission, submit
from vipkb.documents import load_path
from vipkb.errors import AccessDeniedError, DocumentError, DocumentTooLargeError, ReservedGraphError
from vipkb.namespaces import Graphs
from vipkb.stores.oxigraph_ import EmbeddedStore

SHAPES = Path(__file__).parent / "shapes"
CONFORMING = sorted((SHAPES / "conforming").glob("*.ttl"))
STATIC = SHAPES / "conforming" / "10-model-static.ttl"
#: The static test model under a new IRI: conforming, and not yet in the knowledge base.
NEW_MODEL = STATIC.read_text().replace("<https://w3id.org/vipkb/model/test-static>",
                                       "<https://w3id.org/vipkb/model/test-annotated>")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """Every conforming test document (runs and data refer to the models and simulators)."""
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(reasoner="off", max_document_bytes=200_000))
    kb.init(load_data=False)
    for path in CONFORMING:
        kb.load(load_path(path, max_bytes=10**7))
    return kb


def _violating(name: str) -> bytes:
    return (SHAPES / "violating" / f"{name}.ttl").read_bytes()


#: Violating file -> (component, expected sentence, expected offending value).
SENTENCES = {
    "time-point-missing-index": ("sh:MinCountConstraintComponent",
                                 "has no value for vip:timePointIndex (at least 1 needed)", None),
    "value-numeric-value-integer": ("sh:DatatypeConstraintComponent",
                                    "value 576 of vip:numericValue is not a floating-point number (xsd:double); "
                                    "it is typed xsd:integer", "576"),
    "run-used-not-a-model": ("sh:ClassConstraintComponent",
                             "value <https://w3id.org/vipkb/simulator/test-ct> of prov:used is not known as a "
                             "vip:ObjectModel (is it described, and typed vip:ObjectModel?)",
                             "<https://w3id.org/vipkb/simulator/test-ct>"),
    "model-spatial-dimensionality-4": ("sh:InConstraintComponent",
                                       "value 4 of vip:spatialDimensionality is not one of 2, 3", "4"),
    "parameter-name-not-identifier": ("sh:PatternConstraintComponent",
                                      "value 'Repetition Time' of vip:parameterName does not match the pattern "
                                      "^[a-z][a-z0-9_]*$", "'Repetition Time'"),
    "part-label-zero": ("sh:MinInclusiveConstraintComponent", "value 0 of vip:label is less than the minimum 1", "0"),
    "proton-density-1.2": ("sh:MaxInclusiveConstraintComponent",
                           "value 1.2 of vip:numericValue is greater than the maximum 1", "1.2"),
    "t1-zero": ("sh:MinExclusiveConstraintComponent", "value 0.0 of vip:numericValue must be greater than 0", "0.0"),
    "part-depicts-literal": ("sh:NodeKindConstraintComponent", "value 'liver' of vip:depicts is not an IRI",
                             "'liver'"),
    "data-derived-from-model-not-instant": ("sh:QualifiedMinCountConstraintComponent",
                                            "needs at least 1 value(s) for prov:wasDerivedFrom that are vip:Instant",
                                            None),
    "file-md5-checksum": ("sh:HasValueConstraintComponent",
                          "spdx:algorithm does not have the required value spdx:checksumAlgorithm_sha256", None),
    "file-byte-size-double": ("sh:OrConstraintComponent",
                              "value 1024.5 of dcat:byteSize matches none of the allowed alternatives", "1024.5"),
    "t2-greater-than-t1": ("sh:SPARQLConstraintComponent",
                           "T2 (600.0 ms) exceeds T1 (576.0 ms) at 1.5 T: physically T2 <= T1.", None),
}


@pytest.mark.parametrize("name", list(SENTENCES), ids=list(SENTENCES))
def test_each_constraint_kind_reads_as_a_plain_sentence(kb, name):
    component, sentence, value = SENTENCES[name]
    doc = read_submission(kb, _violating(name), filename=f"{name}.ttl")
    result = submit(kb, doc)
    assert not result.conforms and not result.committed
    findings = [f for focus in result.focus for f in focus.violations if f.component == component]
    assert findings, result.as_dict()
    assert findings[0].message == sentence
    assert findings[0].value == value
    assert findings[0].severity == "violation"


def test_max_count_and_a_string_where_a_number_is_due(kb):
    text = NEW_MODEL.replace('rdfs:label "Test static abdomen" ;',
                                      'rdfs:label "Test static abdomen" , "Second label" ;')
    text = text.replace("vip:spatialDimensionality 3 ;", 'vip:spatialDimensionality "abc" ;')
    result = submit(kb, read_submission(kb, text, format="turtle"))
    messages = {f.message: f.value for focus in result.focus for f in focus.violations}
    assert messages["has more than one value for rdfs:label"] is None
    assert messages["value 'abc' of vip:spatialDimensionality is not an integer (xsd:integer); "
                    "it is typed xsd:string"] == "'abc'"


def test_findings_are_grouped_per_focus_node_with_label_and_shape_message(kb):
    result = submit(kb, read_submission(kb, _violating("model-spatial-dimensionality-4"), format="turtle"))
    [focus] = result.focus
    assert focus.node == "<https://w3id.org/vipkb/model/test-bad-model-spatial-dimensionality-4>"
    assert focus.label == "Test model (violating)"
    [finding] = focus.violations
    assert finding.path == "vip:spatialDimensionality" and finding.shape == "vsh:ObjectModelShape"
    assert finding.detail == "vip:spatialDimensionality must be 2 or 3."
    assert result.as_dict()["focus"][0]["violations"][0]["component"] == "sh:InConstraintComponent"


def test_sparql_constraints_do_not_report_the_focus_node_as_a_value(kb):
    result = submit(kb, read_submission(kb, _violating("layer-without-kind"), format="turtle"))
    [finding] = [f for focus in result.focus for f in focus.violations]
    assert finding.value is None and "exactly one layer kind" in finding.message


def test_plain_report_of_a_conforming_report_is_empty(kb):
    result = submit(kb, read_submission(kb, NEW_MODEL, filename="model.ttl"))
    assert result.conforms and plain_report(kb.validate(load_path(STATIC, max_bytes=10**7))) == ()
    assert result.graphs == (str(Graphs.for_resource("model", "https://w3id.org/vipkb/model/test-annotated")),)
    assert result.triples > 50 and result.written == () and result.source == "model.ttl"


def test_json_ld_is_read_from_the_extension_or_the_text(kb):
    quads = list(ox.parse(NEW_MODEL.encode(), format=ox.RdfFormat.TURTLE))
    jsonld = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.JSON_LD)
    for kwargs in ({"filename": "model.jsonld"}, {}, {"format": "jsonld"}):
        doc = read_submission(kb, jsonld, **kwargs)
        assert doc.format == ox.RdfFormat.JSON_LD and len(doc.quads) == len(quads)


@pytest.mark.parametrize("kwargs, data, expected", [
    ({"format": "turtle"}, b"<urn:a> <urn:b> .", "line 1"),
    ({"format": "yaml"}, b"<urn:a> <urn:b> <urn:c> .", "unknown format 'yaml'"),
    ({"filename": "x.trig"}, b"<urn:g> { <urn:a> <urn:b> <urn:c> . }", "one graph's triples"),
    ({"format": "jsonld"}, b'{"@id": "urn:g", "@graph": [{"@id": "urn:a", "urn:b": "c"}]}', "names graphs"),
])
def test_unreadable_submissions_are_refused(kb, kwargs, data, expected):
    with pytest.raises(DocumentError, match=expected):
        read_submission(kb, data, **kwargs)


def test_oversized_submission_is_refused(kb):
    with pytest.raises(DocumentTooLargeError):
        read_submission(kb, b"<urn:a> <urn:b> <urn:c> .\n" * 10_000, format="ntriples")


def test_reserved_and_private_graphs_are_refused(kb):
    doc = read_submission(kb, NEW_MODEL, format="turtle")
    with pytest.raises(ReservedGraphError):
        submit(kb, doc, graph=str(Graphs.SHAPES), commit=True)
    with pytest.raises(AccessDeniedError):
        submit(kb, doc, graph=Graphs.private_prefix("alice") + "model/x", commit=True)
    with pytest.raises(DocumentError, match="not a graph IRI"):
        submit(kb, doc, graph="model x")


def test_commit_writes_a_conforming_document_and_refuses_a_violating_one(kb):
    bad = read_submission(kb, _violating("time-point-missing-index"), format="turtle")
    before = snapshot(kb)
    refused = submit(kb, bad, commit=True)
    assert not refused.conforms and refused.written == () and snapshot(kb) == before
    assert refused.focus == submit(kb, bad).focus  # the refusal carries the findings of a validation
    good = submit(kb, read_submission(kb, NEW_MODEL, format="turtle"), commit=True)
    assert good.conforms and good.committed and good.written == good.graphs
    assert kb.query("ASK { <https://w3id.org/vipkb/model/test-annotated> a vip:ObjectModel }").boolean
