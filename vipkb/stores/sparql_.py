"""A remote store: any SPARQL 1.1 Query/Update endpoint, plus Graph Store Protocol.

Queries and updates go through SPARQLWrapper; SELECT/ASK answers are asked
for as SPARQL JSON and CONSTRUCT/DESCRIBE as N-Triples, then parsed by
Oxigraph so that callers get the same objects as from the embedded store.
Graphs are read back through the Graph Store Protocol.

Oxigraph's server, Apache Jena Fuseki, Virtuoso and GraphDB all apply one
update request atomically, which is what the knowledge base's writes need.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import BinaryIO

import pyoxigraph as ox
from SPARQLWrapper import JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

from vipkb.errors import QueryError, StoreError
from vipkb.namespaces import Graphs
from vipkb.results import QueryResult
from vipkb.stores import Dataset, Store

_TIMEOUT_S = 120


class RemoteStore(Store):
    """A knowledge base held by a SPARQL server.

    Parameters
    ----------
    query_url
        The SPARQL query endpoint, e.g. ``http://localhost:7878/query``.
    update_url, gsp_url
        The update and Graph Store Protocol endpoints; by default the query
        URL with its last segment ``query`` replaced by ``update`` and
        ``store`` (Oxigraph's layout; Fuseki's are ``update`` and ``data``).
    """

    name = "sparql"

    def __init__(self, query_url: str, *, update_url: str | None = None, gsp_url: str | None = None) -> None:
        base = query_url.rsplit("/", 1)[0] if query_url.rstrip("/").endswith("query") else query_url.rstrip("/")
        self.query_url = query_url
        self.update_url = update_url or f"{base}/update"
        self.gsp_url = gsp_url or f"{base}/store"

    def _wrapper(self, url: str) -> SPARQLWrapper:
        w = SPARQLWrapper(url, agent="vipkb")
        w.setTimeout(_TIMEOUT_S)
        return w

    def _fail(self, err: Exception, what: str) -> Exception:
        if isinstance(err, QueryBadFormed):
            detail = str(err).split("Response:", 1)[-1].strip()
            return QueryError(f"malformed SPARQL {what}: {detail}")
        if isinstance(err, urllib.error.HTTPError) and err.code == 400:
            return QueryError(f"malformed SPARQL {what}: {err.read().decode(errors='replace').strip()}")
        return StoreError(f"SPARQL endpoint {self.query_url} failed during {what}: {err}")

    def query(self, sparql: str, *, max_results: int | None = None, timeout: float | None = None,
              dataset: Dataset | None = None) -> QueryResult:
        w = self._wrapper(self.query_url)
        w.setMethod(POST)
        if dataset is not None:
            # The protocol's dataset parameters override the query's FROM / FROM NAMED.  Without any, a
            # server would use its own default dataset: an empty default graph is named by a graph never written.
            for g in dataset.default or (str(Graphs.EMPTY),):
                w.addParameter("default-graph-uri", g)
            for g in dataset.named:
                w.addParameter("named-graph-uri", g)
        if timeout is not None:
            w.setTimeout(max(1, round(timeout)))
        try:
            w.setQuery(sparql)
        except SPARQLWrapperException as err:  # pragma: no cover - SPARQLWrapper rarely rejects
            raise QueryError(f"malformed SPARQL query: {err}") from None
        graph = w.queryType in ("CONSTRUCT", "DESCRIBE")
        if graph:
            w.addCustomHttpHeader("Accept", "application/n-triples")
        else:
            w.setReturnFormat(JSON)
        try:
            response = w.query().response
            body = response.read()
        except (SPARQLWrapperException, urllib.error.URLError, OSError) as err:
            raise self._fail(err, "query") from None
        try:
            if graph:
                return QueryResult.from_oxigraph(
                    [q.triple for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)], max_results=max_results
                )
            return QueryResult.from_oxigraph(
                ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON), max_results=max_results
            )
        except SyntaxError as err:
            raise StoreError(f"SPARQL endpoint {self.query_url} answered something unreadable: {err}") from None

    def update(self, sparql: str) -> None:
        w = self._wrapper(self.update_url)
        w.setMethod(POST)
        w.setRequestMethod("postdirectly")
        w.setQuery(sparql)
        try:
            w.query().response.read()
        except (SPARQLWrapperException, urllib.error.URLError, OSError) as err:
            raise self._fail(err, "update") from None

    def _gsp_get(self, params: str, accept: str) -> bytes:
        req = urllib.request.Request(f"{self.gsp_url}?{params}", headers={"Accept": accept})
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
                return resp.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return b""
            raise StoreError(f"Graph Store Protocol endpoint {self.gsp_url} answered {err.code}") from None
        except (urllib.error.URLError, OSError) as err:
            raise StoreError(f"Graph Store Protocol endpoint {self.gsp_url} unreachable: {err}") from None

    def graph_triples(self, graph: ox.NamedNode) -> list[ox.Triple]:
        body = self._gsp_get("graph=" + urllib.parse.quote(graph.value, safe=""), "application/n-triples")
        return [q.triple for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)] if body else []

    def dump(self, output: BinaryIO, format: ox.RdfFormat) -> None:
        # Graph by graph through the Graph Store Protocol: portable across servers,
        # where a whole-dataset GET is not.
        quads: list[ox.Quad] = []
        for g in self.named_graphs():
            quads.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in self.graph_triples(g))
        ox.serialize(quads, output, format)

    def describe(self) -> str:
        return f"SPARQL endpoint {self.query_url}"
