"""Reading RDF documents safely, before anything reaches the store.

Parsing uses Oxigraph's parsers: they report the line and column of a syntax
error and never fetch anything from the network (a JSON-LD document with a
remote ``@context`` is refused rather than left hanging on a download).  On
top of syntax, a document is refused when it is too large, empty, not UTF-8
(for text formats) or holds ill-typed literals such as ``"abc"^^xsd:integer``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from rdflib import Literal as RdfLiteral
from rdflib import URIRef

from vipkb.errors import DocumentError, DocumentTooLargeError

#: Formats a document may come in, by file extension.
FORMATS_BY_EXTENSION: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".turtle": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
}

#: Short names accepted by the CLI and the web forms.
FORMATS_BY_NAME: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ttl": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
    "json-ld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "xml": ox.RdfFormat.RDF_XML,
}

_POSITION = re.compile(r"\(line (\d+)\)\s*$")


@dataclass(frozen=True)
class Document:
    """A parsed RDF document, not yet written anywhere.

    Attributes
    ----------
    quads
        Every statement; triples of a triple format are in the default graph.
    source
        File name or label used in messages.
    format
        The syntax it was read as.
    """

    quads: tuple[ox.Quad, ...]
    source: str
    format: ox.RdfFormat

    @property
    def is_dataset(self) -> bool:
        """Whether any statement names a graph (TriG, N-Quads)."""
        return any(not isinstance(q.graph_name, ox.DefaultGraph) for q in self.quads)

    def subjects(self) -> set[ox.NamedNode | ox.BlankNode]:
        """Every subject described by the document."""
        return {q.subject for q in self.quads}


def resolve_format(*, name: str | None = None, path: str | Path | None = None,
                   media_type: str | None = None, source: str = "<input>") -> ox.RdfFormat:
    """Choose the RDF syntax from an explicit name, a media type or a file name.

    Raises
    ------
    DocumentError
        If none of them names a supported syntax.
    """
    if name:
        fmt = FORMATS_BY_NAME.get(name.lower())
        if fmt is None:
            raise DocumentError(
                f"unknown format {name!r}; use one of {', '.join(sorted(FORMATS_BY_NAME))}", source=source
            )
        return fmt
    if media_type:
        fmt = ox.RdfFormat.from_media_type(media_type.split(";")[0].strip())
        if fmt is None:
            raise DocumentError(f"unsupported media type {media_type!r}", source=source)
        return fmt
    if path is not None:
        fmt = FORMATS_BY_EXTENSION.get(Path(path).suffix.lower())
        if fmt is not None:
            return fmt
    raise DocumentError(
        "cannot tell the RDF syntax; name the file with one of "
        f"{', '.join(sorted(FORMATS_BY_EXTENSION))} or give the format explicitly",
        source=source,
    )


def _read_limited(stream: BinaryIO, limit: int, source: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DocumentTooLargeError(
            f"document is larger than the {limit:,}-byte limit; split it, or raise VIPKB_MAX_DOCUMENT_BYTES",
            source=source,
        )
    return data


def read_bytes(path: str | Path, *, max_bytes: int) -> bytes:
    """Read a file, refusing it before reading when it exceeds ``max_bytes``."""
    p = Path(path)
    if p.is_dir():
        raise DocumentError("is a directory, not an RDF document", source=str(path))
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise DocumentTooLargeError(
                f"document is {size:,} bytes, over the {max_bytes:,}-byte limit; split it, "
                "or raise VIPKB_MAX_DOCUMENT_BYTES",
                source=str(path),
            )
        with p.open("rb") as fh:
            return _read_limited(fh, max_bytes, str(path))
    except FileNotFoundError:
        raise DocumentError("no such file", source=str(path)) from None
    except PermissionError:
        raise DocumentError("permission denied", source=str(path)) from None


def _syntax_error(err: SyntaxError, source: str) -> DocumentError:
    message = str(err)
    if "LoadDocumentCallback" in message or "remote context" in message.lower():
        return DocumentError(
            "JSON-LD remote @context is not fetched by VIPKB; inline the context in the document",
            source=source,
        )
    message = _POSITION.sub("", message).strip()
    message = re.sub(r"^Parser error at line \d+ (?:column \d+|between columns \d+ and \d+): ", "", message)
    return DocumentError(message or "syntax error", source=source,
                         line=getattr(err, "lineno", None), column=getattr(err, "offset", None))


def _check_literals(quads: list[ox.Quad], source: str) -> None:
    for q in quads:
        o = q.object
        if isinstance(o, ox.Literal) and o.datatype.value.startswith("http://www.w3.org/2001/XMLSchema#"):
            lit = RdfLiteral(o.value, datatype=URIRef(o.datatype.value))
            if lit.ill_typed:
                short = o.datatype.value.split("#", 1)[1]
                raise DocumentError(
                    f"{o.value!r} is not a valid xsd:{short} (object of <{q.predicate.value}> "
                    f"on {q.subject})",
                    source=source,
                )


def parse_document(data: bytes | str | BinaryIO, *, format: ox.RdfFormat, source: str = "<input>",
                   max_bytes: int, base_iri: str | None = None) -> Document:
    """Parse one document, checking size, encoding, syntax and literal types.

    Parameters
    ----------
    data
        The document's bytes (or text, or a binary stream).
    format
        Its syntax, e.g. from :func:`resolve_format`.
    source
        Label used in error messages (a file name).
    max_bytes
        Refuse documents larger than this.
    base_iri
        Base for relative IRIs, if the document has no ``@base`` of its own.

    Returns
    -------
    Document

    Raises
    ------
    DocumentError
        With the line and column where the parser gives them.

    Examples
    --------
    >>> doc = parse_document(b'<urn:a> <urn:b> "1" .', format=ox.RdfFormat.TURTLE, max_bytes=100)
    >>> len(doc.quads)
    1
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, bytes | bytearray):
        data = _read_limited(data, max_bytes, source)
    if len(data) > max_bytes:
        raise DocumentTooLargeError(
            f"document is {len(data):,} bytes, over the {max_bytes:,}-byte limit; split it, "
            "or raise VIPKB_MAX_DOCUMENT_BYTES",
            source=source,
        )
    if not data.strip():
        raise DocumentError("document is empty", source=source)
    if format is not ox.RdfFormat.RDF_XML:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise DocumentError(
                f"not valid UTF-8 (byte 0x{data[err.start]:02x}); save the file as UTF-8",
                source=source, line=line,
            ) from None
    try:
        quads = list(ox.parse(io.BytesIO(data), format=format, base_iri=base_iri))
    except SyntaxError as err:
        raise _syntax_error(err, source) from None
    except ValueError as err:
        raise DocumentError(str(err), source=source) from None
    if not quads:
        raise DocumentError("document holds no statements", source=source)
    _check_literals(quads, source)
    return Document(quads=tuple(quads), source=source, format=format)


def load_path(path: str | Path, *, max_bytes: int, format: str | None = None) -> Document:
    """Read and parse the file at ``path`` (see :func:`parse_document`)."""
    fmt = resolve_format(name=format, path=path, source=str(path))
    return parse_document(read_bytes(path, max_bytes=max_bytes), format=fmt, source=str(path),
                          max_bytes=max_bytes)
