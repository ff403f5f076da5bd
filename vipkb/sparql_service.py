"""The SPARQL 1.1 endpoint's core: limits, evaluation off the request thread, formats by media type.

The web layer (``webapp/sparql.py``) parses the protocol and checks who may
update; this module evaluates a query with a time limit and a result-size
limit, on the graphs its caller may read (:mod:`vipkb.access`), and
serialises the answer.  Queries run on a small pool of threads
(Oxigraph releases the GIL while it evaluates), so a request never waits
longer than the time limit; a query that overruns keeps its slot until it
ends (Oxigraph cannot abandon an evaluation); a query waits for a free slot
within its own time limit, so runaway queries cannot pile up threads.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import pyoxigraph as ox

from vipkb.access import Reader, ScopedStore
from vipkb.errors import QueryError, QueryTimeoutError
from vipkb.kb import CommitResult, KnowledgeBase
from vipkb.namespaces import with_prefixes
from vipkb.resources_rdf import RDF_TYPES
from vipkb.results import QueryResult
from vipkb.stores import Dataset

__all__ = ["GRAPH_TYPES", "RESULT_TYPES", "SparqlEndpoint", "SparqlLimits", "serialize"]

#: Media types offered for SELECT and ASK results, the first being the default.
RESULT_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "application/json": ox.QueryResultsFormat.JSON,
}
#: Media types offered for CONSTRUCT and DESCRIBE results (those of linked-data descriptions).
GRAPH_TYPES = RDF_TYPES


@dataclass(frozen=True, kw_only=True)
class SparqlLimits:
    """What one query may cost.

    Attributes
    ----------
    timeout
        Seconds a request waits for its answer.
    max_results
        Rows (SELECT) or triples (CONSTRUCT, DESCRIBE) an answer may hold.
    max_query_bytes
        Size of the query text.
    slots
        Queries evaluated at once.
    """

    timeout: float = 10.0
    max_results: int = 10_000
    max_query_bytes: int = 100_000
    slots: int = max(2, os.cpu_count() or 2)

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_results < 1 or self.max_query_bytes < 1 or self.slots < 1:
            raise ValueError(f"SPARQL limits must be positive: {self}")


def serialize(result: QueryResult, media_type: str) -> bytes:
    """The answer in the syntax of ``media_type`` (one of :data:`RESULT_TYPES` or :data:`GRAPH_TYPES`)."""
    table = GRAPH_TYPES if result.kind == "graph" else RESULT_TYPES
    return result.serialize(table[media_type])


class SparqlEndpoint:
    """Evaluate queries and updates against a knowledge base within :class:`SparqlLimits`.

    Parameters
    ----------
    kb
        The knowledge base (embedded or remote store).
    limits
        Time, size and concurrency limits.
    """

    def __init__(self, kb: KnowledgeBase, limits: SparqlLimits | None = None) -> None:
        self.kb = kb
        self.limits = limits or SparqlLimits()
        self._pool = ThreadPoolExecutor(max_workers=self.limits.slots, thread_name_prefix="sparql")
        self._slots = threading.BoundedSemaphore(self.limits.slots)

    def _check_size(self, text: str) -> None:
        if len(text.encode()) > self.limits.max_query_bytes:
            raise QueryError(f"the request is longer than {self.limits.max_query_bytes:,} bytes")

    def _evaluate(self, text: str, reader: Reader, dataset: Dataset | None) -> QueryResult:
        try:
            return ScopedStore(self.kb.store, reader).query(text, max_results=self.limits.max_results,
                                                           timeout=self.limits.timeout, dataset=dataset)
        finally:
            self._slots.release()

    def query(self, text: str, *, reader: Reader | None = None, dataset: Dataset | None = None) -> QueryResult:
        """Evaluate a SPARQL query (the usual prefixes predeclared) on what ``reader`` may see.

        Parameters
        ----------
        text
            The query.
        reader
            Who asks (default: an anonymous visitor): other users' private graphs are out of the dataset.
        dataset
            The protocol's ``default-graph-uri``/``named-graph-uri`` graphs (replacing the query's
            ``FROM``/``FROM NAMED``); graphs the reader may not read look empty.

        Raises
        ------
        QueryError
            For a malformed or oversized query.
        ResultTooLargeError
            When the answer exceeds ``max_results``.
        QueryTimeoutError
            When the answer is not ready within ``timeout``, or every slot is busy.
        """
        self._check_size(text)
        deadline = time.monotonic() + self.limits.timeout
        # Waiting for a slot counts against the same time limit as the evaluation itself.
        if not self._slots.acquire(timeout=self.limits.timeout):
            raise QueryTimeoutError(f"every query slot stayed busy for {self.limits.timeout:g} s; retry in a moment")
        future = self._pool.submit(self._evaluate, with_prefixes(text), reader or Reader(), dataset)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise QueryTimeoutError(f"the query ran past the {self.limits.timeout:g} s time limit; narrow it "
                                    "(more specific patterns, LIMIT) or run it against a copy of the data") from None

    def update(self, text: str) -> CommitResult:
        """Apply a SPARQL update as a guarded write (SHACL, reasoner, one transaction)."""
        self._check_size(text)
        return self.kb.update(text)

    def close(self) -> None:
        """Stop the evaluation threads (running queries finish first)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
