"""Data-first tests of the SHACL shapes (``shapes/vip-shapes.ttl``).

``tests/shapes/conforming/*.ttl`` are valid documents, loaded in sorted order
(later ones reference resources of earlier ones: runs use the test models and
simulators).  ``tests/shapes/violating/*.ttl`` are each a conforming document
with one mistake; their first comment lines say what must fire::

    # expect-shape: vsh:ObjectModelShape               (required; for the coverage check)
    # expect-component: sh:MinCountConstraintComponent (required)
    # expect-path: rdfs:label                          (if the result has a path)
    # expect-message: exactly one non-empty            (optional substring of the message)

Every violation in the report must match the expected component (and path, if
declared), so that a file tests one constraint only.  A shape reached through
``sh:node`` is reported by its inner result (the validator unwraps
``sh:NodeConstraintComponent``), so the inner component is what is expected.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.namespace import RDF, SH

from vipkb import KnowledgeBase, Settings
from vipkb.documents import Document, load_path
from vipkb.errors import ConfigurationError
from vipkb.stores.oxigraph_ import EmbeddedStore
from vipkb.validation import ValidationReport, Violation

HERE = Path(__file__).parent / "shapes"
CONFORMING = sorted((HERE / "conforming").glob("*.ttl"))
VIOLATING = sorted((HERE / "violating").glob("*.ttl"))
SHAPES_FILE = Path(__file__).resolve().parent.parent / "shapes" / "vip-shapes.ttl"
VSH = "https://w3id.org/vipkb/shapes#"
#: Shapes without a target of their own, reached only through ``sh:node``.
NODE_ONLY_SHAPES = {"vsh:Sha256Shape", "vsh:ParameterSettingShape", "vsh:ReplicaShape",
                    "vsh:CatalogedDistributionShape"}


def _doc(path: Path) -> Document:
    return load_path(path, max_bytes=10**7)


@dataclass
class Expectation:
    """What a violating file declares must fire."""

    shape: str | None = None
    component: str | None = None
    path: str | None = None
    message: str | None = None

    def matches(self, v: Violation) -> bool:
        return v.component == self.component and (self.path is None or v.path == self.path)


def read_expectation(path: Path) -> Expectation:
    """Parse the ``# key: value`` lines at the top of a violating file."""
    exp = Expectation()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        value = value.strip()
        if not sep:
            continue
        if key == "expect-shape":
            exp.shape = value
        elif key == "expect-component":
            exp.component = value
        elif key == "expect-path":
            exp.path = value
        elif key == "expect-message":
            exp.message = value
    return exp


def _explain(report: ValidationReport) -> str:
    return report.text() + "\n" + "\n".join(
        f"  component={v.component} path={v.path} focus={v.focus} message={v.message!r}" for v in report.results)


@pytest.fixture(scope="module")
def shapes_kb() -> KnowledgeBase:
    """An in-memory knowledge base holding every conforming file, loaded in sorted order."""
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(reasoner="off"))
    kb.init(load_data=False)
    for path in CONFORMING:
        result = kb.load(_doc(path))
        assert len(result.written) == 1, f"{path.name} should write exactly one graph: {result.written}"
    return kb


def test_there_are_test_documents():
    assert len(CONFORMING) >= 7
    assert len(VIOLATING) >= 35


@pytest.mark.parametrize("path", CONFORMING, ids=[p.name for p in CONFORMING])
def test_conforming_document(shapes_kb: KnowledgeBase, path: Path):
    report = shapes_kb.validate(_doc(path))
    assert report.conforms, f"{path.name}:\n{_explain(report)}"


@pytest.mark.parametrize("path", VIOLATING, ids=[p.name for p in VIOLATING])
def test_violating_document(shapes_kb: KnowledgeBase, path: Path):
    exp = read_expectation(path)
    assert exp.shape and exp.component, f"{path.name} must declare expect-shape and expect-component"
    report = shapes_kb.validate(_doc(path))
    assert not report.conforms, f"{path.name} conforms but should violate {exp.component}"
    explanation = f"{path.name}:\n{_explain(report)}"

    hits = [v for v in report.results if exp.matches(v)]
    assert hits, f"no {exp.component} on {exp.path or 'no path'}; {explanation}"
    if exp.message is not None:
        assert any(exp.message in v.message for v in hits), f"no message containing {exp.message!r}; {explanation}"
    strays = [v for v in report.results if not exp.matches(v)]
    assert not strays, f"unexpected violations (each file must test one constraint); {explanation}"
    assert all(v.severity == "sh:Violation" for v in report.results)


def _node_shapes() -> set[str]:
    g = Graph().parse(SHAPES_FILE, format="turtle")
    return {"vsh:" + str(s)[len(VSH):] for s in g.subjects(RDF.type, SH.NodeShape) if str(s).startswith(VSH)}


def test_every_node_shape_has_a_violating_document():
    shapes = _node_shapes()
    assert NODE_ONLY_SHAPES <= shapes
    declared = {read_expectation(p).shape for p in VIOLATING}
    unknown = declared - shapes
    assert not unknown, f"violating files declare shapes that do not exist: {sorted(map(str, unknown))}"
    missing = shapes - NODE_ONLY_SHAPES - declared
    assert not missing, f"no violating document targets {sorted(missing)}"


def test_shapes_that_are_not_valid_shacl_are_refused_at_init(tmp_path):
    """The shapes are checked against SHACL-SHACL before they are loaded (the result is kept per content)."""
    root = Path(__file__).resolve().parent.parent
    resources = tmp_path / "resources"
    (resources / "shapes").mkdir(parents=True)
    (resources / "data").mkdir()
    shutil.copytree(root / "ontologies", resources / "ontologies")
    (resources / "shapes" / "bad.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix ex: <urn:ex:> .\n"
        'ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount "one" ] .\n')
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(resources_dir=resources, files_url=str(tmp_path / "f")))
    with pytest.raises(ConfigurationError, match="not valid SHACL"):
        kb.init(load_data=False)
    assert not kb.store.query("ASK { GRAPH ?g { ?s ?p ?o } }").boolean  # nothing loaded
    shutil.copy(SHAPES_FILE, resources / "shapes" / "bad.ttl")  # now the real shapes: accepted
    assert kb.init(load_data=False).shapes_loaded
