"""Guarded SPARQL updates: which graphs an update reads and writes.

A SPARQL update is a write like any other, so it goes through SHACL and the
reasoner too.  To make that possible, the knowledge base first works out,
from the parsed update (rdflib's SPARQL parser), the named graphs it reads
and writes; it then runs the update in an in-memory Oxigraph sandbox holding
only those graphs, and commits the resulting graphs through a normal
transaction.  An update must therefore name its graphs: writes to the
default graph, ``GRAPH ?g`` over every graph, ``CLEAR ALL`` or ``LOAD`` are
refused with a message saying what to write instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pyparsing import ParseException
from rdflib import URIRef, Variable
from rdflib.plugins.sparql.algebra import translateUpdate
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from vipkb.errors import QueryError
from vipkb.namespaces import with_prefixes


@dataclass(frozen=True)
class UpdatePlan:
    """The named graphs an update reads and writes."""

    reads: frozenset[str]
    writes: frozenset[str]


def _part(node: CompValue, key: str) -> object:
    # CompValue.get() does not take a default; look the key up explicitly.
    return node[key] if key in node else None


def _graph(term: object, what: str) -> str:
    if isinstance(term, URIRef):
        return str(term)
    if isinstance(term, Variable):
        raise QueryError(f"{what} uses GRAPH ?{term}, which may touch every graph; name the graph with GRAPH <iri>")
    target = {"ALL": "every graph (ALL)", "NAMED": "every named graph (NAMED)"}.get(
        str(term).upper() if term else "", "the default graph")
    raise QueryError(f"{what} addresses {target}; VIPKB keeps data in named graphs and an update must name "
                     "the ones it writes: GRAPH <iri> { ... }, WITH <iri>, or DROP/CLEAR GRAPH <iri>")


def _where_graphs(node: object, *, inside: bool = False) -> Iterator[tuple[str | None, bool]]:
    """Yield (graph IRI, True) for each GRAPH block and (None, False) for default-graph patterns."""
    if isinstance(node, CompValue):
        if node.name == "Graph":
            yield _graph(node["term"], "the WHERE clause"), True
            yield from _where_graphs(_part(node, "p"), inside=True)
            return
        if node.name == "BGP" and _part(node, "triples") and not inside:
            yield None, False
        for value in node.values():
            yield from _where_graphs(value, inside=inside)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _where_graphs(item, inside=inside)


def _template_graphs(template: object, with_graph: str | None, what: str) -> set[str]:
    if not template:
        return set()
    graphs = {_graph(g, what) for g in _part(template, "quads") or {}}
    if _part(template, "triples"):
        if with_graph is None:
            _graph(None, what)
        graphs.add(with_graph)
    return graphs


def plan_update(sparql: str) -> UpdatePlan:
    """Parse ``sparql`` (with the VIPKB prefixes predeclared) and list its graphs.

    Raises
    ------
    QueryError
        If the update does not parse or does not name the graphs it touches.

    Examples
    --------
    >>> plan = plan_update('INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> "c" } }')
    >>> sorted(plan.writes)
    ['urn:g']
    """
    try:
        update = translateUpdate(parseUpdate(with_prefixes(sparql)))
    except ParseException as err:
        raise QueryError(f"malformed SPARQL update: {err}") from None
    reads: set[str] = set()
    writes: set[str] = set()
    for op in update.algebra:
        name = op.name
        if name in ("InsertData", "DeleteData", "DeleteWhere"):
            graphs = _template_graphs(op, None, name)
            writes |= graphs
            if name == "DeleteWhere":
                reads |= graphs
        elif name == "Modify":
            with_graph = _graph(op["withClause"], "WITH") if "withClause" in op else None
            writes |= _template_graphs(_part(op, "delete"), with_graph, "the DELETE template")
            writes |= _template_graphs(_part(op, "insert"), with_graph, "the INSERT template")
            using = [_graph(u["default"] if "default" in u else u["named"], "USING") for u in _part(op, "using") or []]
            reads |= set(using)
            default_reads = False
            for graph, named in _where_graphs(_part(op, "where")):
                if named:
                    reads.add(graph)
                else:
                    default_reads = True
            if default_reads and not using:
                if with_graph is None:
                    raise QueryError("the WHERE clause reads the default graph, the union of every graph; name the "
                                     "graphs it reads with WITH <iri>, USING <iri> or GRAPH <iri> { ... }")
                reads.add(with_graph)
        elif name in ("Drop", "Clear", "Create"):
            writes.add(_graph(op["graphiri"], name.upper()))
        elif name in ("Add", "Copy", "Move"):
            source, target = (_graph(g, name.upper()) for g in op["graph"])
            reads.add(source)
            writes.add(target)
            if name == "Move":
                writes.add(source)
        elif name == "Load":
            raise QueryError("LOAD fetches documents from the network and is not allowed; "
                             "load files with `vipkb load` instead")
        else:  # pragma: no cover - rdflib knows no other operation
            raise QueryError(f"unsupported update operation {name}")
    return UpdatePlan(reads=frozenset(reads | writes), writes=frozenset(writes))
