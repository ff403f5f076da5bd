"""``/annotate``: roles, the report per focus node, commits only of conforming documents, refusals by status."""

from __future__ import annotations

import io
from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import snapshot
from tests.web.conftest import PASSWORD, csrf_token, login
from vipkb.namespaces import Graphs

SHAPES = Path(__file__).resolve().parent.parent / "shapes"
#: A conforming model not yet in the knowledge base.
GOOD = (SHAPES / "conforming" / "10-model-static.ttl").read_text().replace(
    "<https://w3id.org/vipkb/model/test-static>", "<https://w3id.org/vipkb/model/test-web-annotated>")
BAD = (SHAPES / "violating" / "model-spatial-dimensionality-4.ttl").read_text()
JSON = {"Accept": "application/json"}


def _jsonld(turtle: str) -> bytes:
    quads = ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE)
    return ox.serialize([q.triple for q in quads], format=ox.RdfFormat.JSON_LD)


@pytest.fixture(scope="module", autouse=True)
def keys(web_accounts) -> dict[str, str]:
    """API keys of rosa (a user), anne (an annotator) and adam (an administrator)."""
    for name, role in [("anne", "annotator"), ("adam", "administrator")]:
        web_accounts.create_user(name, role, PASSWORD)
    return {name: web_accounts.issue_key(name)[1] for name in ("rosa", "anne", "adam")}


def _post(client, data: dict, *, key: str | None = None, accept: str = "application/json"):
    headers = {"Accept": accept}
    if key is not None:
        headers["apikey"] = key
    response = client.post("/annotate", data=data, headers=headers)
    response.close()
    return response


def test_anonymous_callers_are_sent_to_sign_in_or_refused(client):
    page = client.get("/annotate")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert client.get("/annotate", headers=JSON).status_code == 401
    assert client.post("/annotate", data={"text": GOOD}, headers=JSON).status_code in (400, 401)


@pytest.mark.parametrize("name, status", [("rosa", 403), ("anne", 200), ("adam", 200)])
def test_annotators_and_administrators_only(client, keys, name, status):
    assert client.get("/annotate", headers={"apikey": keys[name], "Accept": "text/html"}).status_code == status
    assert _post(client, {"text": GOOD, "format": "turtle"}, key=keys[name]).status_code == status


def test_the_form_and_the_nav_link_are_shown_to_annotators(client, keys):
    assert login(client, "anne").status_code == 302
    page = client.get("/annotate").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="file"' in page and 'value="commit"' in page
    assert 'href="/annotate"' in page
    login(client, "rosa")
    assert 'href="/annotate"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_validate_a_good_document(client, keys, web_kb, fmt):
    before = snapshot(web_kb)
    data = GOOD if fmt == "turtle" else _jsonld(GOOD).decode()
    response = _post(client, {"text": data, "format": "auto"}, key=keys["anne"])
    assert response.status_code == 200
    body = response.json
    assert body["conforms"] is True and body["focus"] == [] and body["written"] == []
    assert body["graphs"] == [str(Graphs.for_resource("model", "https://w3id.org/vipkb/model/test-web-annotated"))]
    assert snapshot(web_kb) == before


@pytest.mark.parametrize("fmt", ["turtle", "jsonld"])
def test_validate_a_bad_document_reports_per_focus_node(client, keys, fmt):
    data = BAD if fmt == "turtle" else _jsonld(BAD).decode()
    body = _post(client, {"text": data, "format": fmt}, key=keys["anne"]).json
    assert body["conforms"] is False
    [focus] = body["focus"]
    assert focus["label"] == "Test model (violating)"
    [violation] = focus["violations"]
    assert violation["message"] == "value 4 of vip:spatialDimensionality is not one of 2, 3"
    assert violation["value"] == "4" and violation["path"] == "vip:spatialDimensionality"
    assert violation["severity"] == "violation" and violation["component"] == "sh:InConstraintComponent"


def test_the_report_page_in_a_browser_session(client):
    login(client, "anne")
    token = csrf_token(client, "/annotate")
    good = client.post("/annotate", data={"text": GOOD, "action": "validate", "csrf_token": token})
    assert good.status_code == 200 and "conforms;" in good.get_data(as_text=True)
    upload = {"file": (io.BytesIO(BAD.encode()), "bad.ttl"), "action": "validate", "csrf_token": token}
    bad = client.post("/annotate", data=upload, content_type="multipart/form-data")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "bad.ttl does not conform" in page
    assert "is not one of 2, 3" in page and "Test model (violating)" in page


def test_commit_writes_a_conforming_document(client, keys, web_kb):
    ask = "ASK { <https://w3id.org/vipkb/model/test-web-annotated> a vip:ObjectModel }"
    assert not web_kb.query(ask).boolean
    response = _post(client, {"text": GOOD, "format": "turtle", "action": "commit"}, key=keys["adam"])
    assert response.status_code == 200, response.json
    assert response.json["written"] == response.json["graphs"] and response.json["conforms"]
    assert web_kb.query(ask).boolean


def test_commit_refuses_a_violating_document_and_writes_nothing(client, keys, web_kb):
    before = snapshot(web_kb)
    response = _post(client, {"text": BAD, "format": "turtle", "action": "commit"}, key=keys["anne"])
    assert response.status_code == 422 and response.json["written"] == []
    assert response.json["focus"][0]["violations"][0]["component"] == "sh:InConstraintComponent"
    login(client, "anne")
    token = csrf_token(client, "/annotate")
    page = client.post("/annotate", data={"text": BAD, "action": "commit", "csrf_token": token})
    assert page.status_code == 422 and "Nothing was written" in page.get_data(as_text=True)
    assert snapshot(web_kb) == before


def test_malformed_rdf_is_a_400_with_the_position(client, keys):
    response = _post(client, {"text": "<urn:a> <urn:b> .", "format": "turtle"}, key=keys["anne"])
    assert response.status_code == 400 and "line 1" in response.json["errorMessage"]
    login(client, "anne")
    page = client.post("/annotate", data={"text": "<urn:a> <urn:b> .", "csrf_token": csrf_token(client, "/annotate")})
    assert page.status_code == 400 and "line 1" in page.get_data(as_text=True) and "&lt;urn:a&gt;" in page.get_data(
        as_text=True)


def test_oversized_document_is_a_413(client, keys, web_kb):
    # A raw body (a multipart one this large would be spooled by the test client to a file it never closes).
    big = b"<urn:a> <urn:b> <urn:c> .\n" * (web_kb.settings.max_document_bytes // 26 + 1)
    response = client.post("/annotate?format=ntriples", data=big, content_type="application/n-triples",
                           headers={"apikey": keys["anne"], "Accept": "application/json"})
    response.close()
    assert response.status_code == 413 and "limit" in response.json["errorMessage"]


def test_reserved_and_private_graphs_are_a_403(client, keys, web_kb):
    before = snapshot(web_kb)
    for graph in (str(Graphs.SHAPES), Graphs.private_prefix("rosa") + "model/x"):
        response = _post(client, {"text": GOOD, "graph": graph, "action": "commit"}, key=keys["adam"])
        assert response.status_code == 403, response.json
    assert snapshot(web_kb) == before


def test_a_session_post_without_csrf_token_is_a_400(client, web_kb):
    login(client, "anne")
    before = snapshot(web_kb)
    response = client.post("/annotate", data={"text": GOOD, "action": "commit"})
    assert response.status_code == 400
    assert snapshot(web_kb) == before
