"""Linked-data descriptions: what dereferencing a VIPKB IRI returns.

Every model, simulator, run, simulated data item and logical file lives in a
named graph of its own, so a resource's description is its graph: the
resource and its immediate structure (a model's time points, instants,
layers, parts and values; a run's settings and tasks), plus what the
reasoner inferred about a model.  Other IRIs (a model as a concept, people,
storage elements) are described by the triples about and pointing at them.
"""

from __future__ import annotations

import io

import pyoxigraph as ox

from vipkb import queries
from vipkb.errors import UnknownResourceError
from vipkb.kb import KnowledgeBase
from vipkb.namespaces import BASE, PREFIXES, Graphs

__all__ = ["RDF_TYPES", "describe", "serialize_description"]

#: Media types a description is offered in, the first being the default.
RDF_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
#: Kinds of resources described by their own graph (see :meth:`vipkb.namespaces.Graphs.for_resource`).
_OWN_GRAPH = ("model", "simulator", "run", "data", "file")


def describe(kb: KnowledgeBase, iri: str, *, max_triples: int = 50_000) -> list[ox.Triple]:
    """The description of ``iri`` (an IRI under :data:`vipkb.namespaces.BASE`).

    Raises
    ------
    UnknownResourceError
        If the knowledge base says nothing about it.
    """
    kind = iri.removeprefix(BASE).split("/", 1)[0]
    triples: list[ox.Triple] = []
    if kind in _OWN_GRAPH:
        triples = kb.store.graph_triples(ox.NamedNode(str(Graphs.for_resource(kind, iri))))
        if kind == "model" and triples:
            inferred = kb.store.query(queries.inferred_about(iri))
            triples += inferred.triples
    if not triples:
        triples = kb.store.query(queries.about(iri), max_results=max_triples).triples
    if not triples:
        raise UnknownResourceError(f"nothing is known about <{iri}>")
    return triples


def serialize_description(triples: list[ox.Triple], media_type: str) -> bytes:
    """``triples`` in the syntax of ``media_type`` (one of :data:`RDF_TYPES`), with the usual prefixes."""
    out = io.BytesIO()
    fmt = RDF_TYPES[media_type]
    if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML):
        ox.serialize(triples, out, fmt, prefixes=PREFIXES)
    else:
        ox.serialize(triples, out, fmt)
    return out.getvalue()
