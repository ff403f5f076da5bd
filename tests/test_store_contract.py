"""One contract for the knowledge base, run on every store (embedded, remote)."""

from __future__ import annotations

import io
from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import FIXTURES, snapshot
from vipkb import KnowledgeBase, Settings, queries
from vipkb.documents import load_path, parse_document
from vipkb.errors import NotConformingError, QueryError, ReservedGraphError, UnknownResourceError
from vipkb.namespaces import VIP, Graphs, with_prefixes

BRAIN = FIXTURES / "brain-mr-partial.ttl"
PHANTOM = FIXTURES / "sphere-phantom.ttl"
BRAIN_IRI = "https://w3id.org/vipkb/model/brain-mr-partial"
PHANTOM_IRI = "https://w3id.org/vipkb/model/sphere-phantom"
BRAIN_GRAPH = str(Graphs.for_resource("model", BRAIN_IRI))


def _doc(path: Path):
    return load_path(path, max_bytes=10**7)


def _ready(kb: KnowledgeBase) -> set[tuple[str, str]]:
    rows = kb.query(f"SELECT ?m ?x WHERE {{ GRAPH <{Graphs.INFERRED}> {{ ?m vip:readyFor ?x }} }}")
    return {(r["m"].value, r["x"].value.rsplit("#", 1)[1]) for r in rows}


def test_init_is_idempotent(store_factory, settings):
    kb = KnowledgeBase(store_factory(), settings=settings)
    assert not kb.is_initialised()
    first = kb.init()
    assert first.ontology_loaded and first.shapes_loaded and first.changed
    assert sorted(m.model.split("/model/")[1] for m in first.models) == [
        "abdomen/v1", "beating-heart/v1", "brain-mr-only/v1", "brain/v1", "contrast-detail/v1"]
    before = snapshot(kb)
    second = kb.init()
    assert not second.changed and all(m.unchanged for m in second.models)
    assert snapshot(kb) == before


def test_load_writes_graph_catalog_record_and_inferences(empty_kb):
    result = empty_kb.load(_doc(BRAIN))
    assert result.written == [BRAIN_GRAPH]
    assert result.ready == {BRAIN_IRI: ["MR"]}
    assert ox.NamedNode(BRAIN_GRAPH) in empty_kb.store.named_graphs()
    labels = empty_kb.query(f"SELECT ?l WHERE {{ GRAPH <{BRAIN_GRAPH}> {{ <{BRAIN_IRI}> rdfs:label ?l }} }}")
    assert [r["l"].value for r in labels] == ["Brain, MR only (partial)"]
    record = empty_kb.query(
        f"SELECT ?src WHERE {{ GRAPH <{Graphs.CATALOG}> {{ <{BRAIN_GRAPH}> dcterms:source ?src }} }}")
    assert record.rows[0]["src"].value.endswith("brain-mr-partial.ttl")
    assert _ready(empty_kb) == {(BRAIN_IRI, "MR")}


def test_reload_replaces_instead_of_duplicating(empty_kb):
    empty_kb.load(_doc(BRAIN))
    before = empty_kb.store.quad_count()
    empty_kb.load(_doc(BRAIN))
    assert empty_kb.store.quad_count() == before


def test_transaction_is_all_or_nothing(empty_kb, write):
    before = snapshot(empty_kb)
    broken = write("broken.ttl", BRAIN.read_text().replace("vip:label 2 ;", "vip:label 0 ;"))
    tx = empty_kb.transaction()
    tx.put(_doc(PHANTOM))
    tx.put(_doc(broken))
    with pytest.raises(NotConformingError) as err:
        tx.commit()
    assert "broken.ttl" in str(err.value)
    assert snapshot(empty_kb) == before
    with empty_kb.transaction() as ok:
        ok.put(_doc(PHANTOM))
        ok.put(_doc(BRAIN))
    assert len(ok.result.written) == 2


def test_drop_removes_graph_and_inferences(empty_kb):
    empty_kb.load(_doc(BRAIN))
    empty_kb.load(_doc(PHANTOM))
    result = empty_kb.drop(BRAIN_GRAPH)
    assert result.dropped == [BRAIN_GRAPH]
    assert ox.NamedNode(BRAIN_GRAPH) not in empty_kb.store.named_graphs()
    assert {m for m, _ in _ready(empty_kb)} == {PHANTOM_IRI}
    with pytest.raises(UnknownResourceError):
        empty_kb.drop(BRAIN_GRAPH)


def test_reserved_graphs_are_refused(empty_kb):
    before = snapshot(empty_kb)
    with pytest.raises(ReservedGraphError):
        empty_kb.load(_doc(BRAIN), graph=str(Graphs.ONTOLOGY))
    with pytest.raises(ReservedGraphError):
        empty_kb.transaction().drop(str(Graphs.SHAPES))
    assert snapshot(empty_kb) == before


def test_query_kinds(empty_kb):
    empty_kb.load(_doc(BRAIN))
    select = empty_kb.query("SELECT ?p WHERE { ?p a vip:LayerPart } ORDER BY ?p")
    assert select.kind == "select" and len(select) == 3
    ask = empty_kb.query(f"ASK {{ <{BRAIN_IRI}> vip:dynamics vip:Static }}")
    assert ask.kind == "ask" and ask.boolean is True
    graph = empty_kb.query(f"CONSTRUCT {{ ?p vip:label ?l }} WHERE {{ <{BRAIN_IRI}> vip:hasLabelledPart ?p . }}")
    assert graph.kind == "graph" and len(graph) == 0  # not asserted: only the reasoner knows the chain
    graph = empty_kb.query("CONSTRUCT { ?p vip:label ?l } WHERE { ?p vip:label ?l }")
    assert sorted(int(t.object.value) for t in graph.triples) == [1, 2, 3]
    assert b'"p"' in select.serialize(ox.QueryResultsFormat.JSON)
    assert select.serialize(ox.QueryResultsFormat.CSV).startswith(b"p\r\n")


def test_user_prefixes_take_precedence(empty_kb):
    res = empty_kb.query("PREFIX vip: <urn:other#> ASK { ?s vip:label ?o }")
    assert res.boolean is False


def test_malformed_query_and_update_raise_query_error(empty_kb):
    with pytest.raises(QueryError):
        empty_kb.query("SELECT WHERE {")
    before = snapshot(empty_kb)
    with pytest.raises(QueryError):
        empty_kb.store.update('INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> "c" } } ; INSERT DATA { oops }')
    assert snapshot(empty_kb) == before


def test_update_request_is_atomic(empty_kb):
    before = snapshot(empty_kb)
    # Second operation fails at run time (LOAD of a missing file): the first must not stick.
    with pytest.raises(Exception):  # noqa: B017 - each store reports it in its own way
        empty_kb.store.update('INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> "c" } } ; '
                              "LOAD <file:///nonexistent/vipkb.ttl> INTO GRAPH <urn:h>")
    assert snapshot(empty_kb) == before


def test_export_round_trips(empty_kb):
    empty_kb.load(_doc(BRAIN))
    for fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS):
        out = io.BytesIO()
        empty_kb.export(out, fmt)
        quads = list(ox.parse(out.getvalue(), format=fmt))
        assert len(quads) == empty_kb.store.quad_count()
        graphs = {q.graph_name for q in quads}
        assert {ox.NamedNode(str(g)) for g in (Graphs.ONTOLOGY, Graphs.SHAPES, Graphs.CATALOG)} <= graphs
        assert ox.NamedNode(BRAIN_GRAPH) in graphs


def test_dataset_document_replaces_each_named_graph(empty_kb):
    body = BRAIN.read_text()
    prefixes = "".join(line + "\n" for line in body.splitlines() if line.startswith("@"))
    triples = "\n".join(line for line in body.splitlines() if not line.startswith("@"))
    trig = f"{prefixes}\n<urn:vipkb:test-graph> {{\n{triples}\n}}\n"
    doc = parse_document(trig, format=ox.RdfFormat.TRIG, source="brain.trig", max_bytes=10**7)
    result = empty_kb.load(doc)
    assert result.written == ["urn:vipkb:test-graph"]
    assert result.ready == {BRAIN_IRI: ["MR"]}


def test_stats_counts(empty_kb):
    empty_kb.load(_doc(PHANTOM))
    stats = empty_kb.stats()
    assert stats["models"] == 1 and stats["layer parts"] == 2 and stats["simulators"] == 0
    assert stats["quads"] == empty_kb.store.quad_count()


def test_embedded_store_persists_across_reopen(tmp_path):
    settings = Settings(home=tmp_path / "kb", files_url=str(tmp_path / "files"))
    with KnowledgeBase.open(settings) as kb:
        kb.init()
        count = kb.store.quad_count()
    with KnowledgeBase.open(settings) as kb:
        assert kb.is_initialised()
        assert kb.store.quad_count() == count
        assert {m.split("/model/")[1] for m in
                (r["m"].value for r in kb.query(f"SELECT ?m WHERE {{ ?m vip:readyFor <{VIP.CT}> }}"))} == {
            "abdomen/v1", "brain/v1", "contrast-detail/v1"}


def test_unknown_store_url_is_a_configuration_error():
    from vipkb.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="not an http"):
        Settings(store_url="ftp://example.org/sparql")


def test_unreachable_endpoint_is_a_store_error():
    from vipkb.errors import StoreError
    from vipkb.stores.sparql_ import RemoteStore

    store = RemoteStore("http://127.0.0.1:9/query")
    with pytest.raises(StoreError, match="127.0.0.1:9"):
        store.query("ASK {}")


def test_private_graphs_are_seen_by_their_owner_and_administrators_only(empty_kb):
    from vipkb.access import Reader
    from vipkb.stores import Dataset

    empty_kb.load(_doc(BRAIN))
    with empty_kb.transaction(owner="alice") as tx:
        [private] = tx.put(_doc(PHANTOM))
    assert private == Graphs.private_prefix("alice") + "model/sphere-phantom"
    alice_catalog, alice_inferred = Graphs.catalog_for(private), Graphs.inferred_for(private)
    assert {str(alice_catalog), str(alice_inferred)} <= {g.value for g in empty_kb.store.named_graphs()}
    # The private model's catalog record and inferences are in alice's graphs, not the shared ones.
    assert empty_kb.query(f"ASK {{ GRAPH <{Graphs.CATALOG}> {{ <{private}> ?p ?o }} }}").boolean is False
    assert empty_kb.query(f"ASK {{ GRAPH <{Graphs.INFERRED}> {{ <{PHANTOM_IRI}> ?p ?o }} }}").boolean is False
    assert empty_kb.query(f"ASK {{ GRAPH <{alice_inferred}> {{ <{PHANTOM_IRI}> vip:readyFor ?m }} }}").boolean

    attempts = [  # every way a query text could name the private graph
        f"SELECT ?l WHERE {{ <{PHANTOM_IRI}> rdfs:label ?l }}",
        f"SELECT ?l FROM <{private}> WHERE {{ <{PHANTOM_IRI}> rdfs:label ?l }}",
        f"SELECT ?l FROM NAMED <{private}> WHERE {{ GRAPH ?g {{ <{PHANTOM_IRI}> rdfs:label ?l }} }}",
        f"SELECT ?l WHERE {{ GRAPH <{private}> {{ <{PHANTOM_IRI}> rdfs:label ?l }} }}",
        "SELECT ?l WHERE { GRAPH ?catalog { ?l dcterms:identifier ?hash } }",  # the owner's catalog records
        f"SELECT ?l WHERE {{ {queries.inferred(f'<{PHANTOM_IRI}> vip:readyFor ?l')} }}",
    ]
    for reader, sees in [(Reader(), False), (Reader("bob"), False), (Reader("alice"), True),
                         (Reader("root", admin=True), True)]:
        view = empty_kb.for_reader(reader)
        answers = [view.query(q).rows for q in attempts]
        assert all(bool(rows) == sees for rows in answers[:4] + answers[5:]), (reader, answers)
        assert any(str(private) == r["l"].value for r in answers[4]) == sees, (reader, answers[4])
        assert (ox.NamedNode(private) in view.store.named_graphs()) == sees
        assert bool(view.store.graph_triples(ox.NamedNode(private))) == sees
        # The public model stays visible to everyone, and so do its inferences.
        assert view.query(f"ASK {{ <{BRAIN_IRI}> rdfs:label ?l }}").boolean
        assert {m.rsplit("#", 1)[1] for m in _ready_of(view, BRAIN_IRI)} == {"MR"}
        # The protocol's dataset parameters cannot widen the view either.
        explicit = Dataset(default=(private,), named=(private,))
        assert bool(view.store.query(with_prefixes(attempts[0]), dataset=explicit).rows) == sees
    with pytest.raises(PermissionError, match="read-only"):
        empty_kb.for_reader(Reader("alice")).store.update(f"DROP GRAPH <{private}>")
    with pytest.raises(ReservedGraphError):
        empty_kb.load(_doc(PHANTOM), graph=str(alice_inferred))


def _ready_of(kb: KnowledgeBase, model: str) -> set[str]:
    return {r["modality"].value for r in kb.query(queries.model_ready(model))}
