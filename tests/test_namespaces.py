"""The closed namespace stays in step with the ontology."""

from __future__ import annotations

import pytest
from rdflib import URIRef

from vipkb.documents import load_path
from vipkb.namespaces import VIP, Graphs, sparql_prefixes
from vipkb.resources import ontology_files


def test_vip_namespace_lists_exactly_the_ontology_terms():
    ns = str(VIP._NS)
    defined = {q.subject.value[len(ns):] for p in ontology_files() for q in load_path(p, max_bytes=10**7).quads
               if hasattr(q.subject, "value") and q.subject.value.startswith(ns)}
    assert defined == set(VIP.__annotations__)


def test_unknown_term_is_an_error():
    with pytest.raises(AttributeError):
        VIP.NoSuchTerm  # noqa: B018


def test_graph_for_resource_is_stable_and_safe():
    assert Graphs.for_resource("model", "https://w3id.org/vipkb/model/brain") == URIRef(
        "https://w3id.org/vipkb/graph/model/brain")
    other = Graphs.for_resource("model", "http://example.org/a b>")
    assert other.startswith("https://w3id.org/vipkb/graph/model/h-") and ">" not in other
    assert other == Graphs.for_resource("model", "http://example.org/a b>")


def test_prefix_header_declares_vip():
    assert "PREFIX vip: <https://w3id.org/vipkb/ontology#>" in sparql_prefixes()
