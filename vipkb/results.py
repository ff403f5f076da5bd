"""One result type for SPARQL answers, whichever store produced them.

Both stores hand back Oxigraph objects (the remote store parses the
endpoint's SPARQL JSON with Oxigraph), so serialising to JSON, XML, CSV, TSV
or an RDF syntax is Oxigraph's job, not ours.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from vipkb.errors import ResultTooLargeError

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


def term_text(term: Term | None) -> str:
    """Plain text of a term for tables: IRIs bare, literals by value."""
    if term is None:
        return ""
    if isinstance(term, ox.Literal | ox.NamedNode):
        return term.value
    return str(term)


@dataclass
class QueryResult:
    """The answer to one SPARQL query.

    Exactly one of ``rows`` (SELECT), ``boolean`` (ASK) or ``triples``
    (CONSTRUCT, DESCRIBE) is meaningful, as ``kind`` says.
    """

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[dict[str, Term]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[ox.Triple] = field(default_factory=list)

    @classmethod
    def from_oxigraph(cls, answer: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | list[ox.Triple], *,
                      max_results: int | None = None) -> QueryResult:
        """Wrap what Oxigraph's ``query`` or ``parse_query_results`` returned.

        Raises
        ------
        ResultTooLargeError
            When there are more than ``max_results`` rows or triples (evaluation stops there).
        """
        def capped(items: Iterable) -> list:
            out = list(itertools.islice(items, None if max_results is None else max_results + 1))
            if max_results is not None and len(out) > max_results:
                raise ResultTooLargeError(f"the result has more than {max_results:,} rows or triples; narrow the "
                                          "query or page through it with LIMIT and OFFSET")
            return out

        if isinstance(answer, ox.QuerySolutions):
            names = [v.value for v in answer.variables]
            rows = capped({n: s[n] for n in names if s[n] is not None} for s in answer)
            return cls(kind="select", variables=names, rows=rows)
        if isinstance(answer, ox.QueryBoolean):
            return cls(kind="ask", boolean=bool(answer))
        return cls(kind="graph", triples=capped(answer))

    def __iter__(self) -> Iterator[dict[str, Term]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows) if self.kind == "select" else len(self.triples)

    def values(self, variable: str) -> list[Term]:
        """Every binding of one variable, in row order (unbound skipped)."""
        return [r[variable] for r in self.rows if variable in r]

    def serialize(self, format: ox.QueryResultsFormat | ox.RdfFormat) -> bytes:
        """Serialise with Oxigraph: results formats for SELECT/ASK, RDF for graphs."""
        out = io.BytesIO()
        if self.kind == "graph":
            ox.serialize(self.triples, out, format)
            return out.getvalue()
        _rebuild(self).serialize(out, format)
        return out.getvalue()


def _rebuild(result: QueryResult) -> ox.QuerySolutions | ox.QueryBoolean:
    # Oxigraph builds result objects only by parsing; SPARQL JSON round-trips
    # every term exactly (language tags, datatypes, blank nodes).

    def encode(term: Term) -> dict:
        if isinstance(term, ox.NamedNode):
            return {"type": "uri", "value": term.value}
        if isinstance(term, ox.BlankNode):
            return {"type": "bnode", "value": term.value}
        if isinstance(term, ox.Literal):
            d = {"type": "literal", "value": term.value}
            if term.language:
                d["xml:lang"] = term.language
            elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
                d["datatype"] = term.datatype.value
            return d
        return {"type": "triple", "value": {"subject": encode(term.subject),
                                             "predicate": encode(term.predicate),
                                             "object": encode(term.object)}}

    if result.kind == "ask":
        doc: dict = {"head": {}, "boolean": bool(result.boolean)}
    else:
        doc = {"head": {"vars": result.variables},
               "results": {"bindings": [{k: encode(v) for k, v in r.items()} for r in result.rows]}}
    return ox.parse_query_results(json.dumps(doc).encode(), format=ox.QueryResultsFormat.JSON)
