"""Web fixtures: the app on a private copy of the seeded knowledge base, with one finished run."""

from __future__ import annotations

import pytest

from vipkb import KnowledgeBase, Settings
from vipkb.runs import execute_run, plan_run
from vipkb.stores.oxigraph_ import EmbeddedStore
from webapp import create_app


@pytest.fixture(scope="module")
def web_kb(seeded_kb, tmp_path_factory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("web")
    store = EmbeddedStore(None)
    store.oxigraph.extend(seeded_kb.store.oxigraph)
    kb = KnowledgeBase(store, settings=Settings(files_url=seeded_kb.settings.files_url, cache_dir=root / "cache",
                                                runs_dir=root / "runs"))
    spec = plan_run(kb, "contrast-detail", "mri", {"matrix_readout": 32, "matrix_phase": 32}, seed=1)
    assert execute_run(kb, spec, backend="inline", agent="carol").status == "succeeded"
    return kb


@pytest.fixture(scope="module")
def app(web_kb, tmp_path_factory):
    return create_app({"TESTING": True, "SECRET_KEY": "test"}, kb=web_kb)


@pytest.fixture
def client(app):
    return app.test_client()
