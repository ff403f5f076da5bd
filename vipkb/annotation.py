"""Checking an annotator's document: a SHACL report in plain words, then an optional commit.

:func:`explain` turns one :class:`~vipkb.validation.Violation` into a
sentence built from its SHACL constraint component and parameters ("has no
value for vip:timePointIndex (at least 1 needed)"); :func:`plain_report`
groups them per focus node.  :func:`read_submission` parses pasted or
uploaded text, and :func:`submit` validates it as a write would and, when
asked and only if it conforms, commits it in one transaction.  The web page
``/annotate`` is a thin layer over these.

Examples
--------
>>> from vipkb.validation import Violation
>>> v = Violation(focus="vip:tp0", path="vip:timePointIndex", message="m", component="sh:MinCountConstraintComponent",
...               severity="sh:Violation", parameters=(("sh:minCount", "1"),))
>>> explain(v)
'has no value for vip:timePointIndex (at least 1 needed)'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import pyoxigraph as ox

from vipkb.documents import FORMATS_BY_EXTENSION, Document, resolve_format
from vipkb.errors import AccessDeniedError, DocumentError, NotConformingError
from vipkb.kb import KnowledgeBase
from vipkb.namespaces import Graphs
from vipkb.validation import ValidationReport, Violation

__all__ = ["FORMATS", "AnnotationResult", "Finding", "FocusReport", "explain", "plain_report", "read_submission",
           "submit"]

#: The syntaxes an annotation may come in (one graph's triples: datasets name graphs, which the page does not).
FORMATS: dict[str, tuple[str, ox.RdfFormat]] = {
    "turtle": ("Turtle", ox.RdfFormat.TURTLE),
    "jsonld": ("JSON-LD", ox.RdfFormat.JSON_LD),
    "ntriples": ("N-Triples", ox.RdfFormat.N_TRIPLES),
    "rdfxml": ("RDF/XML", ox.RdfFormat.RDF_XML),
}

_DATATYPE_WORDS = {
    "xsd:double": "a floating-point number",
    "xsd:float": "a floating-point number",
    "xsd:decimal": "a decimal",
    "xsd:integer": "an integer",
    "xsd:nonNegativeInteger": "a non-negative integer",
    "xsd:positiveInteger": "a positive integer",
    "xsd:string": "a string",
    "xsd:boolean": "true or false",
    "xsd:dateTime": "a date and time",
    "xsd:date": "a date",
    "xsd:anyURI": "a URI",
    "xsd:hexBinary": "hexadecimal digits",
}

_NODE_KIND_WORDS = {
    "sh:IRI": "an IRI",
    "sh:Literal": "a literal (a plain value)",
    "sh:BlankNode": "a blank node",
    "sh:BlankNodeOrIRI": "a resource (an IRI or a blank node)",
    "sh:IRIOrLiteral": "an IRI or a literal",
    "sh:BlankNodeOrLiteral": "a blank node or a literal",
}

_SEVERITY = {"sh:Violation": "violation", "sh:Warning": "warning", "sh:Info": "info"}


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One violation in plain words.

    Attributes
    ----------
    path
        The property concerned (compact IRI), None for a constraint on the node itself.
    message
        The sentence, e.g. ``has no value for vip:timePointIndex (at least 1 needed)``.
    value
        The offending value as written in a message (``4``, ``'abc'``, ``vip:T1``), if the constraint names one.
    severity
        ``violation``, ``warning`` or ``info``.
    component
        The SHACL constraint component that failed (``sh:MinCountConstraintComponent``).
    detail
        The shape's own explanation, when it has one and it adds to the sentence.
    shape
        The shape holding the constraint.
    """

    path: str | None
    message: str
    value: str | None
    severity: str
    component: str
    detail: str | None = None
    shape: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"path": self.path, "message": self.message, "value": self.value, "severity": self.severity,
                "component": self.component, "detail": self.detail, "shape": self.shape}


@dataclass(frozen=True, kw_only=True)
class FocusReport:
    """The findings about one focus node (a resource of the document)."""

    node: str
    label: str | None
    source: str | None
    violations: tuple[Finding, ...]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"node": self.node, "label": self.label, "violations": [f.as_dict() for f in self.violations]}


@dataclass(frozen=True, kw_only=True)
class AnnotationResult:
    """The outcome of checking (and maybe committing) one submission.

    Attributes
    ----------
    conforms
        Whether the document conforms to the shapes.
    focus
        The findings, per focus node (empty when it conforms).
    triples
        How many triples the document holds (what a commit writes).
    graphs
        The graph(s) the document replaces when committed.
    written
        The graphs actually written: empty unless committed.
    source
        The document's label (file name or ``pasted text``).
    """

    conforms: bool
    focus: tuple[FocusReport, ...]
    triples: int
    graphs: tuple[str, ...]
    written: tuple[str, ...] = ()
    source: str = "<input>"

    @property
    def committed(self) -> bool:
        """Whether the document was written."""
        return bool(self.written)

    @property
    def violations(self) -> int:
        """How many violations the report holds."""
        return sum(len(f.violations) for f in self.focus)

    def as_dict(self) -> dict:
        """JSON-ready form for the API: ``conforms``, ``focus``, ``written`` ..."""
        return {"conforms": self.conforms, "focus": [f.as_dict() for f in self.focus], "written": list(self.written),
                "graphs": list(self.graphs), "triples": self.triples, "source": self.source}


def _param(v: Violation, key: str) -> str | None:
    return next((value for k, value in v.parameters if k == key), None)


def _datatype(name: str) -> str:
    words = _DATATYPE_WORDS.get(name)
    return f"{words} ({name})" if words else name


def _count(n: str | None, *, at_least: bool) -> str:
    if n is None:
        return "more" if at_least else "fewer"
    return f"at least {n}" if at_least else f"at most {n}"


def explain(v: Violation) -> str:
    """One violation as a sentence a person can act on, from its constraint component and parameters.

    Constraints without a fixed meaning (SPARQL constraints, and any component not known here) fall back to the
    shape's message.

    Examples
    --------
    >>> v = Violation(focus="vip:m", path="vip:spatialDimensionality", message="m", severity="sh:Violation",
    ...               component="sh:InConstraintComponent", value="'4'", value_text="4",
    ...               parameters=(("sh:in", "2"), ("sh:in", "3")))
    >>> explain(v)
    'value 4 of vip:spatialDimensionality is not one of 2, 3'
    """
    kind = v.component.removeprefix("sh:").removesuffix("ConstraintComponent")
    path = v.path or "the node"
    value = f"value {v.value_text or v.value} of {path}" if (v.value_text or v.value) else f"a value of {path}"
    if kind == "MinCount":
        n = _param(v, "sh:minCount")
        return f"has no value for {path} (at least {n or 1} needed)" if n in (None, "1") \
            else f"has too few values for {path} ({_count(n, at_least=True)} needed)"
    if kind == "MaxCount":
        n = _param(v, "sh:maxCount")
        return f"has more than one value for {path}" if n == "1" \
            else f"has too many values for {path} ({_count(n, at_least=False)} allowed)"
    if kind == "Datatype":
        actual = f"; it is typed {v.value_datatype}" if v.value_datatype else ""
        return f"{value} is not {_datatype(_param(v, 'sh:datatype') or 'the required datatype')}{actual}"
    if kind == "Class":
        cls = _param(v, "sh:class") or "the required class"
        return f"{value} is not known as a {cls} (is it described, and typed {cls}?)"
    if kind == "In":
        allowed = ", ".join(value for key, value in v.parameters if key == "sh:in")
        return f"{value} is not one of {allowed}"
    if kind == "Pattern":
        return f"{value} does not match the pattern {_param(v, 'sh:pattern')}"
    bounds = {"MinInclusive": ("sh:minInclusive", "is less than the minimum"),
              "MaxInclusive": ("sh:maxInclusive", "is greater than the maximum"),
              "MinExclusive": ("sh:minExclusive", "must be greater than"),
              "MaxExclusive": ("sh:maxExclusive", "must be less than")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"{value} {words} {_param(v, key)}"
    if kind == "MinLength":
        return f"{value} is shorter than {_param(v, 'sh:minLength')} character(s)"
    if kind == "MaxLength":
        return f"{value} is longer than {_param(v, 'sh:maxLength')} character(s)"
    if kind == "NodeKind":
        wanted = _param(v, "sh:nodeKind") or ""
        return f"{value} is not {_NODE_KIND_WORDS.get(wanted, wanted)}"
    if kind == "HasValue":
        return f"{path} does not have the required value {_param(v, 'sh:hasValue')}"
    if kind in ("QualifiedMinCount", "QualifiedMaxCount"):
        wanted = _param(v, "sh:qualifiedValueShape") or "of the required kind"
        if kind == "QualifiedMinCount":
            n = _param(v, "sh:qualifiedMinCount")
            return f"needs {_count(n, at_least=True)} value(s) for {path} that are {wanted}"
        n = _param(v, "sh:qualifiedMaxCount")
        return f"has too many values for {path} that are {wanted} ({_count(n, at_least=False)} allowed)"
    if kind in ("Or", "Xone", "And", "Not", "Node"):
        words = {"Or": "matches none of the allowed alternatives", "Xone": "does not match exactly one alternative",
                 "And": "does not meet every requirement", "Not": "matches a form that is not allowed",
                 "Node": "does not have the required form"}[kind]
        return f"{value} {words}"
    if kind == "Closed":
        return f"has a property {path} that is not allowed here"
    if kind == "UniqueLang":
        return f"has more than one value for {path} in the same language"
    # SPARQL constraints say what is wrong only through their own message.
    return v.message


def _finding(v: Violation) -> Finding:
    sentence = explain(v)
    # A SPARQL constraint reports the focus node itself as its value: not an offending value worth showing.
    value = v.value_text or v.value
    if value is not None and value == v.focus:
        value = None
    detail = v.shape_message if v.shape_message and v.shape_message != sentence else None
    return Finding(path=v.path, message=sentence, value=value, severity=_SEVERITY.get(v.severity, v.severity),
                   component=v.component, detail=detail, shape=v.shape)


def plain_report(report: ValidationReport) -> tuple[FocusReport, ...]:
    """The report's violations in plain words, grouped per focus node in first-seen order."""
    out = []
    for focus, items in report.by_focus().items():
        label = next((v.focus_label for v in items if v.focus_label), None)
        out.append(FocusReport(node=focus, label=label, source=items[0].source,
                               violations=tuple(_finding(v) for v in items)))
    return tuple(out)


def _sniff(text: bytes) -> ox.RdfFormat:
    # Pasted text has no file name: JSON starts with a brace or a bracket, XML with an angle bracket and a name.
    head = text.lstrip()[:64]
    if head[:1] in (b"{", b"["):
        return ox.RdfFormat.JSON_LD
    if head.startswith((b"<?xml", b"<rdf:RDF")):
        return ox.RdfFormat.RDF_XML
    return ox.RdfFormat.TURTLE


def read_submission(kb: KnowledgeBase, data: bytes | str, *, format: str | None = None,
                    filename: str | None = None) -> Document:
    """Parse a pasted or uploaded annotation under the knowledge base's size limit.

    Parameters
    ----------
    kb
        The knowledge base (its size limit applies).
    data
        The document's text or bytes.
    format
        A key of :data:`FORMATS`; ``None`` or ``"auto"`` guesses from ``filename``, else from the text itself.
    filename
        The uploaded file's name, used for messages and to guess the format.

    Raises
    ------
    DocumentError
        Unknown format, malformed RDF (with line and column), or a dataset naming graphs.
    DocumentTooLargeError
        Over ``VIPKB_MAX_DOCUMENT_BYTES``.
    """
    source = PurePath(filename).name if filename else "pasted text"
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if format and format != "auto":
        if format not in FORMATS:
            raise DocumentError(f"unknown format {format!r}; use one of auto, {', '.join(FORMATS)}", source=source)
        fmt = FORMATS[format][1]
    elif filename and PurePath(filename).suffix.lower() in FORMATS_BY_EXTENSION:
        fmt = resolve_format(path=filename, source=source)
    else:
        fmt = _sniff(raw)
    if fmt not in {f for _, f in FORMATS.values()}:
        raise DocumentError(f"{fmt.name} documents name graphs; an annotation is one graph's triples in "
                            f"{', '.join(name for name, _ in FORMATS.values())}", source=source)
    document = kb.parse(raw, format=fmt, source=source)
    if document.is_dataset:
        raise DocumentError("the document names graphs (JSON-LD @graph with an @id); send one graph's triples "
                            "and choose the target graph in the form", source=source)
    return document


def submit(kb: KnowledgeBase, document: Document, *, graph: str | None = None,
           commit: bool = False) -> AnnotationResult:
    """Validate ``document`` as a write would and, with ``commit``, write it if (and only if) it conforms.

    The commit is one transaction (:meth:`KnowledgeBase.load`: validation, reasoning, one update); a
    non-conforming document is reported, not written.

    Parameters
    ----------
    kb
        The whole knowledge base (writes go to public graphs).
    document
        From :func:`read_submission`.
    graph
        The target graph; by default that of the one main resource the document describes.
    commit
        Write the document when it conforms.

    Raises
    ------
    ReservedGraphError
        The target graph is managed by the knowledge base.
    AccessDeniedError
        The target graph is an account's private graph.
    DocumentError
        No target graph can be chosen (none or several main resources, or a malformed graph IRI).
    """
    if graph is not None:
        if not graph.startswith(("http://", "https://", "urn:")):
            raise DocumentError(f"not a graph IRI: {graph!r}", source=document.source)
        if Graphs.owner_of(graph) is not None and not Graphs.is_reserved(graph):
            raise AccessDeniedError(f"<{graph}> is an account's private graph; annotations go to public graphs")
    # Staging checks the target graph (reserved, one main resource) before any validation work.
    tx = kb.transaction()
    graphs = tuple(tx.put(document, graph=graph))
    written: tuple[str, ...] = ()
    if commit:
        try:
            written = tuple(kb.load(document, graph=graph).written)
            report = ValidationReport(conforms=True)
        except NotConformingError as err:
            report = err.report
    else:
        report = tx.validate()
    return AnnotationResult(conforms=report.conforms, focus=plain_report(report), triples=len(document.quads),
                            graphs=graphs, written=written, source=document.source)
