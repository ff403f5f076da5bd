"""Guarded SPARQL updates: planned, sandboxed, validated, committed atomically."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, snapshot
from vipkb.cli import main
from vipkb.documents import load_path
from vipkb.errors import NotConformingError, QueryError, ReservedGraphError
from vipkb.namespaces import Graphs
from vipkb.updates import plan_update

BRAIN_IRI = "https://w3id.org/vipkb/model/brain-mr-partial"
BRAIN_GRAPH = str(Graphs.for_resource("model", BRAIN_IRI))


@pytest.fixture
def kb(empty_kb):
    empty_kb.load(load_path(FIXTURES / "brain-mr-partial.ttl", max_bytes=10**7))
    return empty_kb


def test_plan_lists_reads_and_writes():
    plan = plan_update("WITH <urn:g> DELETE { ?s rdfs:label ?l } INSERT { ?s rdfs:label 'x' } "
                       "USING <urn:h> WHERE { ?s rdfs:label ?l . GRAPH <urn:k> { ?s ?p ?o } }")
    assert plan.writes == {"urn:g"}
    assert plan.reads == {"urn:g", "urn:h", "urn:k"}
    assert plan_update("MOVE <urn:a> TO <urn:b>").writes == {"urn:a", "urn:b"}
    assert plan_update("COPY <urn:a> TO <urn:b>").writes == {"urn:b"}


@pytest.mark.parametrize(("update", "message"), [
    ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "the default graph"),
    ("DELETE WHERE { ?s ?p ?o }", "the default graph"),
    ("CLEAR ALL", "every graph (ALL)"),
    ("DROP NAMED", "every named graph (NAMED)"),
    ("DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }", "GRAPH ?g"),
    ("INSERT { GRAPH <urn:g> { ?s ?p ?o } } WHERE { ?s ?p ?o }", "reads the default graph"),
    ("LOAD <http://example.org/x.ttl> INTO GRAPH <urn:g>", "LOAD fetches"),
    ("INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> }", "malformed SPARQL update"),
])
def test_updates_that_do_not_name_their_graphs_are_refused(kb, update, message):
    before = snapshot(kb)
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        kb.update(update)
    assert snapshot(kb) == before


def test_update_is_validated_and_reasoned(kb):
    result = kb.update(f"WITH <{BRAIN_GRAPH}> DELETE {{ <{BRAIN_IRI}> rdfs:label ?l }} "
                       f"INSERT {{ <{BRAIN_IRI}> rdfs:label \"Brain (renamed)\" }} "
                       f"WHERE {{ <{BRAIN_IRI}> rdfs:label ?l }}")
    assert result.written == [BRAIN_GRAPH]
    assert result.ready == {BRAIN_IRI: ["MR"]}
    assert [r["l"].value for r in kb.query(f"SELECT ?l WHERE {{ <{BRAIN_IRI}> rdfs:label ?l }}")] == ["Brain (renamed)"]


def test_nonconforming_update_changes_nothing(kb):
    before = snapshot(kb)
    with pytest.raises(NotConformingError, match="exactly one non-empty rdfs:label"):
        kb.update(f"DELETE WHERE {{ GRAPH <{BRAIN_GRAPH}> {{ <{BRAIN_IRI}> rdfs:label ?l }} }}")
    assert snapshot(kb) == before


def test_update_cannot_write_reserved_graphs(kb):
    before = snapshot(kb)
    with pytest.raises(ReservedGraphError):
        kb.update(f"DROP GRAPH <{Graphs.ONTOLOGY}>")
    assert snapshot(kb) == before


def test_drop_through_update_removes_inferences(kb):
    result = kb.update(f"DROP GRAPH <{BRAIN_GRAPH}>")
    assert result.dropped == [BRAIN_GRAPH]
    assert not kb.query(f"ASK {{ GRAPH <{Graphs.INFERRED}> {{ <{BRAIN_IRI}> ?p ?o }} }}").boolean


def test_cli_update(initialised):
    bundled = Graphs.for_resource("model", "https://w3id.org/vipkb/model/brain-mr-only/v1")
    assert str(bundled) == "https://w3id.org/vipkb/graph/model/brain-mr-only/v1"
    runner = initialised
    ok = runner.invoke(main, ["update", f"COPY <{bundled}> TO <urn:vipkb:copy>"])
    assert ok.exit_code == 0, ok.output
    assert "wrote   <urn:vipkb:copy>" in ok.output
    bad = runner.invoke(main, ["update", "CLEAR ALL"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: CLEAR addresses every graph")
