"""Bad input: every malformed document is refused with a clear error and nothing is written."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from tests.conftest import FIXTURES, snapshot
from vipkb.documents import load_path, parse_document, resolve_format
from vipkb.errors import DocumentError, DocumentTooLargeError, NotConformingError

BRAIN = (FIXTURES / "brain-mr-partial.ttl").read_text()

BAD_DOCUMENTS = {
    # name: (file name, content, expected fragment of the message, expected line)
    "malformed-turtle": ("broken.ttl", BRAIN.replace("vip:label 3 ;", "vip:label 3 ;;;; <"), "broken.ttl, line", None),
    "unknown-prefix": ("prefix.ttl", "<urn:a> foo:bar <urn:c> .\n", "foo: has not been declared", 1),
    "jsonld-remote-context": (
        "ctx.jsonld", '{"@context": "https://example.org/context.jsonld", "@id": "urn:a", "name": "x"}',
        "remote @context is not fetched", None),
    "jsonld-truncated": ("cut.jsonld", '{"@id": "urn:a", ', "cut.jsonld, line 1", 1),
    "wrong-datatype": ("typed.ttl",
                       '<urn:a> <urn:b> "three"^^<http://www.w3.org/2001/XMLSchema#integer> .',
                       "'three' is not a valid xsd:integer", None),
    "non-utf8": ("latin1.ttl", b'<urn:a> <urn:b> "caf\xe9" .\n', "not valid UTF-8", 1),
    "empty": ("empty.ttl", b"", "document is empty", None),
    "only-comments": ("comments.ttl", "# nothing here\n@prefix ex: <urn:x:> .\n", "holds no statements", None),
    "unknown-extension": ("model.txt", BRAIN, "cannot tell the RDF syntax", None),
    "missing-file": (None, None, "no such file", None),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS), ids=list(BAD_DOCUMENTS))
def test_bad_document_is_refused_and_nothing_written(case, empty_kb, write, tmp_path):
    name, content, expected, line = BAD_DOCUMENTS[case]
    path = write(name, content) if name else tmp_path / "absent.ttl"
    before = snapshot(empty_kb)
    with pytest.raises(DocumentError) as err:
        empty_kb.load_file(path)
    assert expected in str(err.value)
    if line is not None:
        assert err.value.line == line
    assert snapshot(empty_kb) == before


def test_fifty_megabyte_document_is_refused_before_parsing(empty_kb, write):
    line = '<urn:vipkb:s> <urn:vipkb:p> "%s" .\n' % ("x" * 100)
    big = write("big.nt", line * (50 * 1024 * 1024 // len(line) + 1))
    assert big.stat().st_size > 50 * 1024 * 1024
    before = snapshot(empty_kb)
    with pytest.raises(DocumentTooLargeError, match="over the 16,777,216-byte limit"):
        empty_kb.load_file(big)
    assert snapshot(empty_kb) == before


def test_size_limit_also_applies_to_streams():
    with pytest.raises(DocumentTooLargeError):
        parse_document(b"<urn:a> <urn:b> <urn:c> .\n" * 100, format=ox.RdfFormat.N_TRIPLES, max_bytes=64)


def test_nonconforming_document_reports_focus_path_and_message(empty_kb, write):
    path = write("bad-t1.ttl", BRAIN.replace("vip:numericValue 833.0e0", "vip:numericValue -833.0e0"))
    before = snapshot(empty_kb)
    with pytest.raises(NotConformingError) as err:
        empty_kb.load_file(path)
    report = err.value.report
    assert not report.conforms
    [violation] = [v for v in report.results if v.component == "sh:MinExclusiveConstraintComponent"]
    assert violation.path == "vip:numericValue"
    assert violation.value == "'-833.0'" or "-833" in violation.value
    assert "vip:T1" in violation.focus and "brain-mr-partial#lut" in violation.focus
    assert violation.source == str(path)
    assert "Relaxation times" in report.text()
    assert "Nothing was written" in str(err.value)
    assert snapshot(empty_kb) == before


def test_document_without_main_resource_needs_a_graph(empty_kb, write):
    path = write("loose.ttl", "<urn:a> <urn:b> <urn:c> .\n")
    with pytest.raises(DocumentError, match="--graph"):
        empty_kb.load_file(path)


def test_document_with_two_models_is_refused(empty_kb, write):
    path = write("two.ttl", BRAIN + "\n<https://w3id.org/vipkb/model/second> a vip:ObjectModel .\n")
    with pytest.raises(DocumentError, match="2 main resources"):
        empty_kb.load_file(path)


def test_unknown_format_name_lists_the_choices():
    with pytest.raises(DocumentError, match="turtle"):
        resolve_format(name="yaml")


def test_inconsistent_document_is_refused_by_the_reasoner(empty_kb, write):
    from vipkb.errors import InconsistentError

    # A layer part that is also a modality: passes the shapes, but the two
    # classes are disjoint in the ontology.
    path = write("clash.ttl", BRAIN.replace("<#csf> a vip:LayerPart ;", "<#csf> a vip:LayerPart , vip:Modality ;"))
    before = snapshot(empty_kb)
    with pytest.raises(InconsistentError, match="inconsistent"):
        empty_kb.load_file(path)
    assert snapshot(empty_kb) == before


def test_load_path_reports_directories(tmp_path):
    with pytest.raises(DocumentError, match="is a directory"):
        load_path(tmp_path, max_bytes=100, format="turtle")
