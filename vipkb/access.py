"""Who may read what: private graphs and the dataset a reader's queries see.

A user's private data (the runs they launch privately, their outputs and the
logical files of those outputs) lives in named graphs under
``graph/private/<owner>/`` (:meth:`vipkb.namespaces.Graphs.for_resource`).
Only the owner and administrators may read them.  Access is enforced below
every page and query: :class:`ScopedStore` evaluates each query on the
dataset of the graphs its reader may see (it replaces any ``FROM``/``FROM
NAMED`` of the query, as the SPARQL protocol's dataset parameters do), so no
query text, however written, reaches another user's graphs.

Examples
--------
>>> from vipkb.stores.oxigraph_ import EmbeddedStore
>>> store = EmbeddedStore(None)
>>> store.update('INSERT DATA { GRAPH <https://w3id.org/vipkb/graph/private/alice/run/r1> '
...              '{ <https://w3id.org/vipkb/run/r1> a <https://w3id.org/vipkb/ontology#SimulationRun> } }')
>>> ask = "ASK { ?run a <https://w3id.org/vipkb/ontology#SimulationRun> }"
>>> ScopedStore(store, Reader("bob")).query(ask).boolean
False
>>> ScopedStore(store, Reader("alice")).query(ask).boolean
True
>>> ScopedStore(store, Reader("root", admin=True)).query(ask).boolean
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import pyoxigraph as ox

from vipkb.errors import AccessDeniedError
from vipkb.namespaces import Graphs
from vipkb.results import QueryResult
from vipkb.stores import Dataset, Store

__all__ = ["Reader", "ScopedStore", "visible_dataset"]


@dataclass(frozen=True)
class Reader:
    """Who reads: an account name (None: anonymous) and whether it is an administrator.

    Attributes
    ----------
    name
        The account name, or None for an anonymous visitor.
    admin
        Administrators read every graph.
    """

    name: str | None = None
    admin: bool = False

    @classmethod
    def of(cls, account) -> Reader:
        """The reader for an :class:`~vipkb.accounts.Account` (None: anonymous)."""
        if account is None or account.disabled:
            return cls()
        return cls(account.name, admin=account.can("administrator"))

    def may_read(self, graph: str) -> bool:
        """Whether this reader may read the named graph ``graph``.

        >>> Reader("bob").may_read("https://w3id.org/vipkb/graph/private/alice/run/r1")
        False
        >>> Reader("bob").may_read("https://w3id.org/vipkb/graph/model/brain")
        True
        """
        owner = Graphs.owner_of(graph)
        return owner is None or self.admin or owner == self.name

    def may_change(self, owner: str | None) -> bool:
        """Whether this reader may change (kill, delete) data private to ``owner``; public data (None):
        administrators only.

        >>> Reader("alice").may_change("alice"), Reader("bob").may_change("alice"), Reader("bob").may_change(None)
        (True, False, False)
        """
        return self.admin or (owner is not None and owner == self.name)

    def check_may_change(self, owner: str | None, what: str) -> None:
        """Raise :class:`~vipkb.errors.AccessDeniedError` unless :meth:`may_change` ``owner``'s ``what``."""
        if not self.may_change(owner):
            whose = "another user's" if owner is not None else "public"
            raise AccessDeniedError(f"{what} is {whose} data; only its owner and administrators may change it")


def visible_dataset(store: Store, reader: Reader, *, default: Iterable[str] | None = None,
                    named: Iterable[str] | None = None) -> Dataset | None:
    """The dataset ``reader``'s queries see; None when no restriction applies.

    With neither ``default`` nor ``named`` the dataset is every graph the
    reader may read; otherwise it is the requested graphs, less those the
    reader may not read (they look empty, as graphs that do not exist do).
    """
    if default is None and named is None:
        if reader.admin:
            return None
        graphs = [g.value for g in store.named_graphs()]
        if all(reader.may_read(g) for g in graphs):
            return None  # nothing private to hide: the union of every graph is faster to evaluate
        visible = tuple(g for g in graphs if reader.may_read(g))
        return Dataset(default=visible, named=visible)
    return Dataset(default=tuple(g for g in default or () if reader.may_read(g)),
                   named=tuple(g for g in named or () if reader.may_read(g)))


class ScopedStore(Store):
    """A read-only view of a store holding only what one reader may see.

    The graphs the reader may see are listed once per view (a view lives for
    one web request or one query), not once per query.

    Parameters
    ----------
    store
        The store seen through (not closed by the view).
    reader
        Whose view it is.
    """

    name = "scoped"

    def __init__(self, store: Store, reader: Reader) -> None:
        self.inner = store
        self.reader = reader
        self._visible: tuple[Dataset | None] | None = None

    def query(self, sparql: str, *, max_results: int | None = None, timeout: float | None = None,
              dataset: Dataset | None = None) -> QueryResult:
        if dataset is None:
            if self._visible is None:
                self._visible = (visible_dataset(self.inner, self.reader),)
            dataset = self._visible[0]
        else:
            dataset = visible_dataset(self.inner, self.reader, default=dataset.default, named=dataset.named)
        return self.inner.query(sparql, max_results=max_results, timeout=timeout, dataset=dataset)

    def update(self, sparql: str) -> None:
        raise AccessDeniedError("this view of the knowledge base is read-only; writes go through the "
                                "knowledge base's guarded transactions")

    def graph_triples(self, graph: ox.NamedNode) -> list[ox.Triple]:
        return self.inner.graph_triples(graph) if self.reader.may_read(graph.value) else []

    def named_graphs(self) -> list[ox.NamedNode]:
        return [g for g in self.inner.named_graphs() if self.reader.may_read(g.value)]

    def dump(self, output: BinaryIO, format: ox.RdfFormat) -> None:
        quads = [ox.Quad(t.subject, t.predicate, t.object, g)
                 for g in self.named_graphs() for t in self.inner.graph_triples(g)]
        ox.serialize(quads, output, format)

    def describe(self) -> str:
        return self.inner.describe()
