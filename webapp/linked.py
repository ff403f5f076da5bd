"""Dereferenceable IRIs: ``<BASE><kind>/<path>`` answers RDF to RDF clients and a page to browsers.

The IRI scheme (under ``https://w3id.org/vipkb/``, served here at the same
paths): ``model/<id>`` (a model across versions), ``model/<id>/v<n>`` (one
version; ``#tp0-i3`` and other fragments name its parts), ``simulator/<name>``,
``run/<run-id>``, ``data/<run-id>/<output>``, ``file/<logical file name>``,
``agent/<name>``, ``storage/<name>`` and ``ontology``.  Browsers asking for
HTML are sent (303) to the catalog page where there is one; other resources
get a page listing their description.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, redirect, render_template, request, url_for

from vipkb.namespaces import BASE, Graphs
from vipkb.resources_rdf import RDF_TYPES, describe, serialize_description
from vipkb.results import term_text
from webapp.extensions import get_kb

__all__ = ["bp", "rdf_requested", "rdf_response"]

bp = Blueprint("linked", __name__)

#: Catalog page of a resource, for the kinds that have one (a model version, a simulator).
_PAGES = {
    "model": lambda rest: url_for("catalog.model", ref=rest) if "/v" in rest else None,
    "simulator": lambda rest: url_for("catalog.simulator", name=rest.split("/", 1)[0]),
    "run": lambda rest: url_for("runs.run", run_id=rest.split("/", 1)[0]),
}


def rdf_requested() -> str | None:
    """The RDF media type the client prefers to HTML, if any."""
    best = request.accept_mimetypes.best_match(["text/html", *RDF_TYPES])
    return best if best in RDF_TYPES else None


def rdf_response(iri: str, media_type: str) -> Response:
    """The description of ``iri`` in ``media_type``."""
    response = Response(serialize_description(describe(get_kb(), iri), media_type), mimetype=media_type)
    response.vary.add("Accept")
    return response


@bp.get("/<any(model, simulator, run, file, agent, storage):kind>/<path:rest>")
def resource(kind: str, rest: str):
    """One resource: RDF by content negotiation, else its catalog page (303) or a description page."""
    iri = f"{BASE}{kind}/{rest}"
    media_type = rdf_requested()
    if media_type is not None:
        return rdf_response(iri, media_type)
    page = _PAGES.get(kind, lambda _rest: None)(rest)
    if page is not None:
        return redirect(page, code=303)
    triples = describe(get_kb(), iri)
    return render_template("linked/resource.html", iri=iri, triples=triples, text=term_text,
                           formats=list(RDF_TYPES))


@bp.get("/ontology")
def ontology():
    """The VIPKB ontology: Turtle (or another RDF syntax) by default, a page for browsers."""
    triples = get_kb().store.graph_triples(ox.NamedNode(str(Graphs.ONTOLOGY)))
    best = request.accept_mimetypes.best_match([*RDF_TYPES, "text/html"]) if request.accept_mimetypes else None
    if best == "text/html":
        return render_template("linked/resource.html", iri=f"{BASE}ontology", triples=triples, text=term_text,
                               formats=list(RDF_TYPES))
    media_type = best or "text/turtle"
    return Response(serialize_description(triples, media_type), mimetype=media_type)
