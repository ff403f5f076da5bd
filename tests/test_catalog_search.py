"""Semantic search over the model catalog (vipkb models filters)."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest

from tests.conftest import FIXTURES
from vipkb import KnowledgeBase, Settings
from vipkb.catalog import list_models
from vipkb.cli import main
from vipkb.documents import parse_document
from vipkb.queries import ModelFilter
from vipkb.stores.oxigraph_ import EmbeddedStore


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings())
    kb.init(load_data=False)
    for name in ("brain-mr-partial.ttl", "sphere-phantom.ttl"):
        kb.load_file(FIXTURES / name)
    brain = (FIXTURES / "brain-mr-partial.ttl").read_text()
    liver = (brain.replace("brain-mr-partial", "liver-test").replace("Brain, MR only (partial)", "Liver test")
             .replace("obo:UBERON_0002020", "obo:UBERON_0002107").replace('"grey matter"', '"liver"'))
    kb.load(parse_document(liver, format=ox.RdfFormat.TURTLE, source="liver.ttl",
                           max_bytes=10**6))
    return kb


def ids(kb: KnowledgeBase, **criteria) -> list[str]:
    return [m.id for m in list_models(kb, ModelFilter(**criteria))]


@pytest.mark.parametrize(("criteria", "expected"), [
    ({}, ["brain-mr-partial", "liver-test", "sphere-phantom"]),
    ({"region": "abdominal organ"}, ["liver-test"]),
    ({"region": "Head structure"}, ["brain-mr-partial", "liver-test"]),  # both keep CSF and white matter
    ({"region": "obo:UBERON_0002020"}, ["brain-mr-partial"]),
    ({"region": "http://purl.obolibrary.org/obo/UBERON_0002107"}, ["liver-test"]),
    ({"region": "geometrical object"}, ["sphere-phantom"]),
    ({"layer_kind": "geometrical"}, ["sphere-phantom"]),
    ({"layer_kind": "anatomical"}, ["brain-mr-partial", "liver-test"]),
    ({"ready": "CT"}, ["sphere-phantom"]),
    ({"ready": "mr"}, ["brain-mr-partial", "liver-test", "sphere-phantom"]),
    ({"dynamic": False}, ["brain-mr-partial", "liver-test", "sphere-phantom"]),
    ({"dynamic": True}, []),
    ({"text": "SPHERE"}, ["sphere-phantom"]),
    ({"text": "grey"}, ["brain-mr-partial"]),
    ({"ready": "MR", "region": "abdominal organ", "layer_kind": "anatomical"}, ["liver-test"]),
    ({"text": 'quote " and } brace'}, []),
])
def test_search(kb, criteria, expected):
    assert ids(kb, **criteria) == expected


def test_bundled_models_search(seeded_kb):
    # The phantom's liver-equivalent rods depict liver too.
    assert [m.iri for m in list_models(seeded_kb, ModelFilter(region="abdominal organ"))] == [
        "https://w3id.org/vipkb/model/abdomen/v1", "https://w3id.org/vipkb/model/contrast-detail/v1"]
    assert ids(seeded_kb, region="kidney") == ["abdomen"]
    labels = {m.label for m in list_models(seeded_kb, ModelFilter(dynamic=True))}
    assert labels == {"Beating heart (left ventricle)"}
    labels = {m.label for m in list_models(seeded_kb, ModelFilter(layer_kind="pathological"))}
    assert labels == {"Brain with tumour", "Abdomen with liver tumour"}


def test_cli_search(initialised):
    runner = initialised
    result = runner.invoke(main, ["models", "--ready", "CT", "--static", "--format", "json"])
    assert sorted(m["label"] for m in json.loads(result.output)) == [
        "Abdomen with liver tumour", "Brain with tumour", "Contrast-detail phantom"]
    result = runner.invoke(main, ["models", "--region", "white matter", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(result.output)))
    assert [row[1] for row in rows[1:]] == ["Brain with tumour", "Brain, MR only (partial)"]
