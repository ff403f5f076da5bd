"""Store backends: where the knowledge base's quads live.

:class:`Store` is the small contract the knowledge base needs: SPARQL query,
one atomic SPARQL update request, and reading graphs back.  Validation,
reasoning and the graph layout live above it, in :mod:`vipkb.kb`, so a store
is only a SPARQL 1.1 dataset.

Two implementations ship: :class:`~vipkb.stores.oxigraph_.EmbeddedStore` (a
pyoxigraph store in a directory, the default) and
:class:`~vipkb.stores.sparql_.RemoteStore` (any SPARQL 1.1 Query/Update and
Graph Store Protocol endpoint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyoxigraph as ox

from vipkb.config import Settings
from vipkb.results import QueryResult


@dataclass(frozen=True)
class Dataset:
    """The graphs a query sees, replacing any ``FROM``/``FROM NAMED`` of the query.

    Attributes
    ----------
    default
        Graph IRIs whose union is the default graph.
    named
        Graph IRIs that ``GRAPH`` patterns range over.
    """

    default: tuple[str, ...]
    named: tuple[str, ...]


class Store(ABC):
    """A SPARQL 1.1 dataset the knowledge base reads and writes.

    Subclasses provide ``name`` and the abstract methods.  ``update`` must
    apply a whole request atomically: the knowledge base commits every write
    as one request, and relies on it to leave the store unchanged on error.
    """

    #: Short name shown by ``vipkb stats``.
    name: ClassVar[str]

    @abstractmethod
    def query(self, sparql: str, *, max_results: int | None = None, timeout: float | None = None,
              dataset: Dataset | None = None) -> QueryResult:
        """Evaluate a SPARQL query; raise :class:`~vipkb.errors.QueryError` if malformed.

        ``max_results`` caps rows or triples (:class:`~vipkb.errors.ResultTooLargeError` beyond);
        ``timeout`` bounds the wait for a remote endpoint (the embedded store evaluates in process);
        ``dataset`` restricts the graphs the query sees (by default: every graph, their union
        being the default graph).
        """

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Apply one SPARQL update request, all or nothing."""

    @abstractmethod
    def graph_triples(self, graph: ox.NamedNode) -> list[ox.Triple]:
        """Every triple of one named graph (empty if it does not exist)."""

    @abstractmethod
    def dump(self, output: BinaryIO, format: ox.RdfFormat) -> None:
        """Write every named graph as TriG or N-Quads."""

    @abstractmethod
    def describe(self) -> str:
        """One line saying where the data lives."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release handles; the store must not be used afterwards."""

    def named_graphs(self) -> list[ox.NamedNode]:
        """IRIs of every named graph, sorted."""
        # ``GRAPH ?g {}`` ranges over the dataset's graph names without reading their statements.
        res = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } } ORDER BY ?g")
        return [r["g"] for r in res if isinstance(r.get("g"), ox.NamedNode)]

    def quad_count(self) -> int:
        """Number of quads in the named graphs (the knowledge base writes nothing else)."""
        res = self.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        return int(res.rows[0]["n"].value)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(settings: Settings) -> Store:
    """Open the store the settings name: remote when ``store_url`` is set."""
    if settings.store_url:
        from vipkb.stores.sparql_ import RemoteStore

        return RemoteStore(settings.store_url, update_url=settings.store_update_url,
                           gsp_url=settings.store_gsp_url)
    from vipkb.stores.oxigraph_ import EmbeddedStore

    return EmbeddedStore(settings.home)


def quads_to_sparql_data(quads: Iterable[ox.Quad]) -> str:
    """Render quads as the body of ``INSERT DATA``/``DELETE DATA``, grouped by graph.

    Terms print in N-Triples form, which is valid SPARQL and escapes every
    character that could break out of the data block.
    """
    by_graph: dict[str, list[str]] = {}
    for q in quads:
        g = "" if isinstance(q.graph_name, ox.DefaultGraph) else str(q.graph_name)
        by_graph.setdefault(g, []).append(f"{q.subject} {q.predicate} {q.object} .")
    parts = []
    for g, lines in by_graph.items():
        body = "\n".join(lines)
        parts.append(f"GRAPH {g} {{\n{body}\n}}" if g else body)
    return "\n".join(parts)
