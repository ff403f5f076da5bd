"""SHACL validation of incoming documents (pySHACL).

The data graph handed to pySHACL is small on purpose: the incoming
statements, the ontology (mixed in, so that
``sh:class`` sees subclasses and SPARQL constraints see a kind's allowed
units), and the ``rdf:type`` of each resource the document points at but does
not describe (fetched from the store in one query).  Validation time thus
depends on the document, not on the size of the knowledge base.

Results whose focus node is one of those referenced resources are dropped:
they are validated in their own graphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox
import pyshacl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from vipkb.namespaces import PREFIXES


def compact(term: object) -> str:
    """Shorten an IRI with the known prefixes, for messages.

    >>> compact(URIRef("https://w3id.org/vipkb/ontology#T1"))
    'vip:T1'
    """
    if isinstance(term, URIRef | ox.NamedNode):
        iri = str(term) if isinstance(term, URIRef) else term.value
        for prefix, ns in PREFIXES.items():
            if iri.startswith(ns) and len(iri) > len(ns):
                return f"{prefix}:{iri[len(ns):]}"
        return f"<{iri}>"
    if isinstance(term, BNode | ox.BlankNode):
        return "[blank node]"
    if isinstance(term, Literal):
        return repr(str(term))
    if isinstance(term, ox.Literal):
        return repr(term.value)
    return str(term)


def plain(term: object) -> str:
    """Like :func:`compact`, but numbers and booleans without quotes, for plain-language messages.

    >>> plain(Literal(4)), plain(Literal("abc")), plain(URIRef("https://w3id.org/vipkb/ontology#T1"))
    ('4', "'abc'", 'vip:T1')
    """
    if isinstance(term, Literal) and term.datatype is not None and str(term.datatype).startswith(str(XSD)) \
            and str(term.datatype) != str(XSD.string):
        return str(term)
    return compact(term)


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Node:
    """Convert one Oxigraph term to its rdflib equivalent."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def rdflib_graph(triples: Iterable[ox.Triple | ox.Quad]) -> Graph:
    """Build an in-memory rdflib graph from Oxigraph triples or quads (graphs merged)."""
    g = Graph()
    for t in triples:
        g.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return g


@dataclass(frozen=True)
class Violation:
    """One SHACL result, in words a person can act on.

    The fields after ``source`` describe the constraint that failed, for
    plain-language reports (:mod:`vipkb.annotation`): ``shape`` is the shape
    holding it (the node shape of an anonymous property shape),
    ``parameters`` its parameters as ``(compact predicate, plain value)``
    pairs (``sh:in`` repeats once per allowed value), ``value_datatype`` the
    datatype of a literal ``value``, ``value_text`` the value as
    :func:`plain` writes it, ``focus_label`` the focus node's
    ``rdfs:label`` in the document and ``shape_message`` the shape's own
    ``sh:message`` (``message`` may be pySHACL's default wording instead).
    """

    focus: str
    path: str | None
    message: str
    component: str
    severity: str
    value: str | None = None
    source: str | None = None
    shape: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    value_datatype: str | None = None
    value_text: str | None = None
    focus_label: str | None = None
    shape_message: str | None = None

    def summary(self) -> str:
        """One line: where, what, which value."""
        where = self.focus + (f" {self.path}" if self.path else "")
        value = f" (value {self.value})" if self.value is not None else ""
        return f"{where}: {self.message}{value} [{self.component}]"


@dataclass
class ValidationReport:
    """The outcome of validating a write: conforms or not, and why."""

    conforms: bool
    results: list[Violation] = field(default_factory=list)

    def by_focus(self) -> dict[str, list[Violation]]:
        """Violations grouped by focus node, in first-seen order."""
        grouped: dict[str, list[Violation]] = {}
        for v in self.results:
            grouped.setdefault(v.focus, []).append(v)
        return grouped

    def text(self) -> str:
        """A readable report, one block per focus node."""
        if self.conforms:
            return "Conforms."
        lines = [f"Does not conform: {len(self.results)} violation(s)."]
        for focus, items in self.by_focus().items():
            src = f" (in {items[0].source})" if items[0].source else ""
            lines.append(f"  {focus}{src}")
            for v in items:
                path = f"{v.path}: " if v.path else ""
                value = f" (value {v.value})" if v.value is not None else ""
                lines.append(f"    - {path}{v.message}{value} [{v.component}]")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """JSON-ready form for the API and ``--format json``."""
        return {"conforms": self.conforms, "results": [v.__dict__ for v in self.results]}


def to_oxigraph(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Convert one rdflib term to its Oxigraph equivalent."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype or XSD.string)))


_PARAMETER_KIND = ox.NamedNode(PREFIXES["vip"] + "parameterKind")


def _parent(data: ox.Store, node: ox.BlankNode) -> tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode] | None:
    for q in data.quads_for_pattern(None, None, node):
        return q.subject, q.predicate
    return None


def _describe_focus(node: Node, data: ox.Store) -> str:
    if isinstance(node, BNode):
        # A blank node means nothing to a person: name it through its
        # parent and, for parameter values, its kind.
        bnode = ox.BlankNode(str(node))
        parent = _parent(data, bnode)
        if parent is None:
            return "[blank node]"
        kinds = [q.object for q in data.quads_for_pattern(bnode, _PARAMETER_KIND, None)]
        extra = f" of kind {compact(kinds[0])}" if kinds else ""
        return f"{compact(parent[0])} {compact(parent[1])} [...]{extra}"
    return compact(node)


#: The parameters worth quoting in a message, per constraint component (local names in ``sh:``).
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "MinCountConstraintComponent": ("minCount",),
    "MaxCountConstraintComponent": ("maxCount",),
    "DatatypeConstraintComponent": ("datatype",),
    "ClassConstraintComponent": ("class",),
    "InConstraintComponent": ("in",),
    "PatternConstraintComponent": ("pattern", "flags"),
    "MinInclusiveConstraintComponent": ("minInclusive",),
    "MaxInclusiveConstraintComponent": ("maxInclusive",),
    "MinExclusiveConstraintComponent": ("minExclusive",),
    "MaxExclusiveConstraintComponent": ("maxExclusive",),
    "MinLengthConstraintComponent": ("minLength",),
    "MaxLengthConstraintComponent": ("maxLength",),
    "NodeKindConstraintComponent": ("nodeKind",),
    "HasValueConstraintComponent": ("hasValue",),
    "QualifiedMinCountConstraintComponent": ("qualifiedMinCount", "qualifiedValueShape"),
    "QualifiedMaxCountConstraintComponent": ("qualifiedMaxCount", "qualifiedValueShape"),
    "EqualsConstraintComponent": ("equals",),
    "DisjointConstraintComponent": ("disjoint",),
    "LessThanConstraintComponent": ("lessThan",),
    "LessThanOrEqualsConstraintComponent": ("lessThanOrEquals",),
}


def _shape_words(shapes: Graph, shape: Node) -> str:
    """A value shape in a few words: its IRI, else what it requires (``sh:class``, ``sh:datatype`` ...)."""
    if isinstance(shape, URIRef):
        return compact(shape)
    for key in (SH["class"], SH.datatype, SH.node, SH.hasValue, SH.nodeKind):
        found = shapes.value(shape, key)
        if found is not None:
            return plain(found)
    return "the value shape"


def _constraint(shapes: Graph, shape: Node | None, component: Node | None) -> tuple[str | None, tuple, str | None]:
    """``(shape name, parameters, the shape's own message)`` of the failed constraint, from the shapes graph."""
    if shape is None:
        return None, (), None
    name = shape if isinstance(shape, URIRef) else next(
        (s for s in shapes.subjects(SH.property, shape) if isinstance(s, URIRef)), None)
    local = str(component).removeprefix(str(SH)) if component is not None else ""
    params: list[tuple[str, str]] = []
    for key in _PARAMETERS.get(local, ()):
        for found in shapes.objects(shape, SH[key]):
            if key == "in":
                params.extend(("sh:in", plain(item)) for item in Collection(shapes, found))
            elif key == "qualifiedValueShape":
                params.append((f"sh:{key}", _shape_words(shapes, found)))
            elif key in ("pattern", "flags"):
                params.append((f"sh:{key}", str(found)))  # a regular expression reads better unquoted
            else:
                params.append((f"sh:{key}", plain(found)))
    message = shapes.value(shape, SH.message)
    return (compact(name) if name is not None else None), tuple(params), _compact_iris(message)


def _compact_iris(message: Node | None) -> str | None:
    return _IRI.sub(lambda m: compact(URIRef(m.group(0))), str(message)) if message is not None else None


def _label(data: ox.Store, node: Node) -> str | None:
    if isinstance(node, Literal):
        return None
    for q in data.quads_for_pattern(to_oxigraph(node), ox.NamedNode(str(RDFS.label)), None):
        if isinstance(q.object, ox.Literal):
            return q.object.value
    return None


_IRI = re.compile(r"https?://[^\s<>\"{}|^`\\]+[^\s<>\"{}|^`\\.,;:)]")


def _leaf_results(results: Graph) -> list[Node]:
    """The report's results, with each ``sh:node`` wrapper replaced by its details.

    A nested shape's failure is reported on the inner node with its own
    message; the wrapper only says "does not conform to the node shape".
    """
    out: list[Node] = []
    pending = [r for report in results.subjects(RDF.type, SH.ValidationReport)
               for r in results.objects(report, SH.result)]
    while pending:
        result = pending.pop(0)
        details = list(results.objects(result, SH.detail))
        if details:
            pending[:0] = details
        else:
            out.append(result)
    return out


def _root(data: ox.Store, node: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Follow blank nodes up to the first named subject that refers to them."""
    term = to_oxigraph(node)
    seen = set()
    while isinstance(term, ox.BlankNode) and term not in seen:
        seen.add(term)
        parent = _parent(data, term)
        if parent is None:
            break
        term = parent[0]
    return term


class Validator:
    """Validates documents against the shapes, mixing in the ontology.

    Parameters
    ----------
    shapes
        The shapes as an rdflib graph, parsed once.
    ontology
        The ontology's triples.
    """

    def __init__(self, shapes: Graph, ontology: list[ox.Triple]) -> None:
        self.shapes = shapes
        self.ontology = ontology

    def data_graph(self) -> ox.Store:
        """A fresh in-memory store holding the ontology, ready for a document's triples."""
        store = ox.Store()
        store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in self.ontology)
        return store

    def validate(self, data: ox.Store, *, focus: set | None = None,
                 sources: dict | None = None) -> ValidationReport:
        """Validate ``data`` (from :meth:`data_graph`, plus the document).

        Only results about ``focus`` nodes (Oxigraph terms), or blank nodes
        hanging from them, are kept; ``sources`` maps those nodes to the
        document they came from.  The data graph is an Oxigraph store so that
        pySHACL's many SPARQL constraint queries run in Oxigraph, not in
        rdflib's pure-Python engine (two orders of magnitude on batches).
        """
        sources = sources or {}
        conforms, results_graph, _ = pyshacl.validate(
            data, shacl_graph=self.shapes, advanced=True, inference="none",
            allow_warnings=True, inplace=True,
        )
        if conforms:
            return ValidationReport(conforms=True)
        violations: dict[tuple, Violation] = {}
        for result in _leaf_results(results_graph):
            node = results_graph.value(result, SH.focusNode)
            root = _root(data, node)
            if focus is not None and root not in focus:
                continue
            if results_graph.value(result, SH.resultSeverity) != SH.Violation:
                continue
            path = results_graph.value(result, SH.resultPath)
            value = results_graph.value(result, SH.value)
            message = results_graph.value(result, SH.resultMessage)
            component = results_graph.value(result, SH.sourceConstraintComponent)
            shape, parameters, shape_message = _constraint(
                self.shapes, results_graph.value(result, SH.sourceShape), component)
            v = Violation(
                focus=_describe_focus(node, data),
                path=compact(path) if isinstance(path, URIRef) else None,
                message=_compact_iris(message) or "constraint violated",
                component=compact(component),
                severity="sh:Violation",
                value=compact(value) if value is not None else None,
                source=sources.get(root),
                shape=shape,
                parameters=parameters,
                value_datatype=compact(value.datatype) if isinstance(value, Literal) and value.datatype else None,
                value_text=plain(value) if value is not None else None,
                focus_label=_label(data, node),
                shape_message=shape_message,
            )
            violations[(v.focus, v.path, v.component, v.message, v.value)] = v
        violations = list(violations.values())
        violations.sort(key=lambda v: (v.source or "", v.focus, v.path or "", v.component, v.message))
        return ValidationReport(conforms=not violations, results=violations)
