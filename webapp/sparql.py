"""``/sparql``: the SPARQL 1.1 Protocol (query and update operations) and an HTML query page.

Queries: ``GET ?query=``, ``POST`` form (``query=``) or direct body
(``application/sparql-query``); answers by content negotiation (SPARQL
JSON, XML, CSV, TSV; Turtle, N-Triples, JSON-LD, RDF/XML for graphs; HTML
for browsers).  Updates (``POST`` form ``update=`` or
``application/sparql-update``) are for administrators only and go through the
guarded write (SHACL, reasoner, one transaction).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request

from vipkb.errors import QueryError
from vipkb.results import term_text
from vipkb.sparql_examples import EXAMPLES
from vipkb.sparql_service import GRAPH_TYPES, RESULT_TYPES, SparqlEndpoint, SparqlLimits, serialize
from vipkb.stores import Dataset
from webapp.auth import API_KEY_HEADER, csrf, csrf_exempt, current_account
from webapp.extensions import current_reader

__all__ = ["bp", "init_app"]

bp = Blueprint("sparql", __name__)


def init_app(app) -> None:
    """Create the app's endpoint with the limits from its configuration."""
    limits = SparqlLimits(timeout=float(app.config["SPARQL_TIMEOUT"]),
                          max_results=int(app.config["SPARQL_MAX_RESULTS"]),
                          slots=int(app.config["SPARQL_SLOTS"]))
    app.extensions["sparql"] = SparqlEndpoint(app.extensions["vipkb"], limits)
    app.register_blueprint(bp)


def _endpoint() -> SparqlEndpoint:
    return current_app.extensions["sparql"]


def _operation() -> tuple[str, str] | None:
    """``(kind, text)`` of the request's operation, or None when it carries none."""
    if request.method == "GET":
        if "update" in request.args:
            abort(405, "updates must be sent with POST")
        return ("query", request.args["query"]) if "query" in request.args else None
    mimetype = request.mimetype
    if mimetype == "application/sparql-query":
        return "query", request.get_data(as_text=True)
    if mimetype == "application/sparql-update":
        return "update", request.get_data(as_text=True)
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if "query" in request.form and "update" in request.form:
            abort(400, "give either query or update, not both")
        for kind in ("query", "update"):
            if kind in request.form:
                return kind, request.form[kind]
        return None
    abort(415, f"unsupported content type {mimetype!r}: use application/sparql-query, application/sparql-update "
               "or a form (application/x-www-form-urlencoded)")


def _dataset(kind: str) -> Dataset | None:
    """The protocol's dataset parameters of a query (None: the union of every graph the caller may read)."""
    if kind == "update":
        if any(k in request.values for k in ("using-graph-uri", "using-named-graph-uri")):
            abort(400, "using-graph-uri and using-named-graph-uri are not supported; name the graphs with "
                       "USING / WITH / GRAPH in the update")
        return None
    default, named = request.values.getlist("default-graph-uri"), request.values.getlist("named-graph-uri")
    if not default and not named:
        return None
    bad = [g for g in default + named if not g.startswith(("http://", "https://", "urn:"))]
    if bad:
        abort(400, f"not a graph IRI: {bad[0]!r}")
    return Dataset(default=tuple(default), named=tuple(named))


def _update(text: str):
    account = current_account()
    if account is None:
        abort(401, "updates need an administrator: sign in, or send an API key in the apikey header")
    if not account.can("administrator"):
        abort(403, "only administrators may update the knowledge base")
    if API_KEY_HEADER not in request.headers and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()  # the view is exempt for protocol queries; a session's update still needs its token
    result = _endpoint().update(text)
    return {"written": result.written, "dropped": result.dropped, "triples": result.triples}, 200


@bp.route("/sparql", methods=["GET", "POST"])
@csrf_exempt
def sparql():
    """The SPARQL 1.1 Protocol endpoint, and the query page for browsers."""
    operation = _operation()
    if operation is None:
        if request.accept_mimetypes.best_match(["application/sparql-results+json", "text/html"]) == "text/html":
            return render_template("sparql/page.html", examples=EXAMPLES, query=_initial_query(), result=None)
        raise QueryError("no query: give query=... (or update=... with POST)")
    kind, text = operation
    if not text.strip():
        raise QueryError(f"the {kind} is empty")
    dataset = _dataset(kind)
    if kind == "update":
        return _update(text)
    result = _endpoint().query(text, reader=current_reader(), dataset=dataset)
    offered = list(GRAPH_TYPES if result.kind == "graph" else RESULT_TYPES)
    # No Accept header means anything; */* picks the first offered type (werkzeug breaks ties in list order).
    best = request.accept_mimetypes.best_match([*offered, "text/html"]) if request.accept_mimetypes else offered[0]
    if best is None:
        abort(406, f"cannot answer in {request.headers.get('Accept')!r}; offered: {', '.join(offered)}")
    if best == "text/html":
        return render_template("sparql/page.html", examples=EXAMPLES, query=text, result=result, text=term_text)
    return Response(serialize(result, best), mimetype=best)


def _initial_query() -> str:
    name = request.args.get("example")
    for example in EXAMPLES:
        if example.name == name:
            return example.query
    return EXAMPLES[0].query
