"""The embedded store: a persistent pyoxigraph ``Store`` in a directory."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from vipkb.errors import QueryError, ResultTooLargeError, StoreError
from vipkb.results import QueryResult
from vipkb.stores import Dataset, Store


class EmbeddedStore(Store):
    """Oxigraph's RocksDB store, opened once per process.

    Parameters
    ----------
    path
        Directory of the store, created if missing; ``None`` keeps the data
        in memory (tests, throw-away validation).
    """

    name = "oxigraph"

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        try:
            if self.path is None:
                self._store = ox.Store()
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as err:
            raise StoreError(
                f"cannot open the knowledge base at {self.path}: {err}. If another VIPKB process "
                "(e.g. `vipkb serve`) holds it, stop it or point both at a shared server with VIPKB_STORE"
            ) from None

    @property
    def oxigraph(self) -> ox.Store:
        """The underlying pyoxigraph store, for bulk operations and benchmarks."""
        return self._store

    def query(self, sparql: str, *, max_results: int | None = None, timeout: float | None = None,
              dataset: Dataset | None = None) -> QueryResult:
        if dataset is None:
            scope: dict = {"use_default_graph_as_union": True}
        else:
            scope = {"default_graph": [ox.NamedNode(g) for g in dataset.default],
                     "named_graphs": [ox.NamedNode(g) for g in dataset.named]}
        try:
            return QueryResult.from_oxigraph(self._store.query(sparql, **scope), max_results=max_results)
        except ResultTooLargeError as err:
            message = str(err)  # raised again below, once this traceback (and the solutions it holds) is gone
        except SyntaxError as err:
            raise QueryError(f"malformed SPARQL query: {err}") from None
        except OSError as err:
            raise StoreError(f"store error while querying: {err}") from None
        # Oxigraph's solution iterators must be dropped on the thread that made them (queries may run on a pool).
        raise ResultTooLargeError(message)

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except SyntaxError as err:
            raise QueryError(f"malformed SPARQL update: {err}") from None
        except OSError as err:
            raise StoreError(f"store error while updating: {err}") from None

    def named_graphs(self) -> list[ox.NamedNode]:
        # Oxigraph keeps an index of graph names: no scan of the quads.
        return sorted(self._store.named_graphs(), key=lambda g: g.value)

    def graph_triples(self, graph: ox.NamedNode) -> list[ox.Triple]:
        return [q.triple for q in self._store.quads_for_pattern(None, None, None, graph)]

    def dump(self, output: BinaryIO, format: ox.RdfFormat) -> None:
        ox.serialize((q for q in self._store if not isinstance(q.graph_name, ox.DefaultGraph)), output, format)

    def describe(self) -> str:
        return f"embedded Oxigraph store at {self.path}" if self.path else "in-memory Oxigraph store"

    def close(self) -> None:
        self._store.flush()
        del self._store
