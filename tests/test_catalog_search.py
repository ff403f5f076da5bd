"""Semantic search over the model catalog (vipkb models filters)."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from tests.conftest import ROOT
from vipkb import KnowledgeBase, Settings
from vipkb.catalog import list_models
from vipkb.cli import main
from vipkb.documents import parse_document
from vipkb.queries import ModelFilter
from vipkb.stores.oxigraph_ import EmbeddedStore


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings())
    kb.init()
    brain = (ROOT / "data" / "models" / "brain-mr-partial.ttl").read_text()
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


def test_cli_search(runner):
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["models", "--ready", "CT", "--static", "--format", "json"])
    assert [m["id"] for m in json.loads(result.output)] == ["sphere-phantom"]
    result = runner.invoke(main, ["models", "--region", "head structure", "--format", "csv"])
    assert result.output.splitlines()[1].startswith("brain-mr-partial,")
