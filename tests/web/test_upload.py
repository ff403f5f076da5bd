"""Uploading a model archive from the browser: a private model, simulated at once, which nobody else sees;
bad archives are refused with the reason and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import re
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import snapshot
from tests.test_model_repository import LUT, archive_files
from tests.web.conftest import PASSWORD, csrf_token, kb_copy, login, zip_bytes
from vipkb import KnowledgeBase
from vipkb.accounts import AccountStore
from vipkb.matching import find_matches
from vipkb.runs import run_status
from webapp import create_app

MODEL = "https://w3id.org/vipkb/model/alice~tiny/v1"
#: Uncompressed bytes an archive may hold here (the tiny model holds a few kilobytes).
MAX_ARCHIVE = 200_000
#: Bytes a request may carry here.
MAX_REQUEST = 400_000


@pytest.fixture(scope="module")
def site(seeded_kb, tmp_path_factory):
    """The app on a copy of the seeded knowledge base with a file store of its own (to see what is stored)."""
    root = tmp_path_factory.mktemp("upload")
    kb = kb_copy(seeded_kb, root, files_url=str(root / "files"), max_archive_bytes=MAX_ARCHIVE)
    accounts = AccountStore(root / "accounts.sqlite")
    for name in ("alice", "bob", "carl"):
        accounts.create_user(name, "user", PASSWORD)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline",
                      "MAX_CONTENT_LENGTH": MAX_REQUEST}, kb=kb)
    return app


def _kb(site) -> KnowledgeBase:
    return site.extensions["vipkb"]


def _signed_in(site, name: str):
    client = site.test_client()
    login(client, name)
    return client


def _upload(client, data: bytes, *, name: str = "tiny.zip", token: bool = True, **headers):
    form = {"archive": (io.BytesIO(data), name)}
    if token:
        form["csrf_token"] = csrf_token(client, "/models/upload")
    return client.post("/models/upload", data=form, content_type="multipart/form-data", headers=headers)


def _stored(kb: KnowledgeBase) -> set[Path]:
    root = Path(kb.settings.files_url)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _text(response) -> str:
    body = response.get_data(as_text=True)
    response.close()
    return body


def test_upload_view_simulate_and_run_privately(site):
    kb = _kb(site)
    alice = _signed_in(site, "alice")
    assert 'href="/models/upload"' in _text(alice.get("/models"))  # the way in, for signed-in users
    page = _text(alice.get("/models/upload"))
    assert 'type="file" name="archive"' in page and 'enctype="multipart/form-data"' in page

    uploaded = _upload(alice, zip_bytes(archive_files()))
    assert uploaded.status_code == 303 and uploaded.headers["Location"] == "/models/alice~tiny/v1"
    model_page = _text(alice.get(uploaded.headers["Location"]))
    assert "uploaded: version 1, private to alice" in model_page and "private to alice" in model_page
    previews = re.findall(r'<img class="preview"[^>]* src="([^"]+)"', model_page)
    assert len(previews) == 2  # the geometry and the lesion layers
    for url in previews:
        png = alice.get(url.replace("&amp;", "&"))
        assert png.status_code == 200 and png.mimetype == "image/png"
        png.close()
    listing = _text(alice.get("/models"))
    assert "alice~tiny" in listing and re.search(r"alice~tiny</a>[^\n]*private", listing)

    simulate = re.search(r'id="simulate" href="([^"]+)"', model_page).group(1).replace("&amp;", "&")
    choose = _text(alice.get(simulate))
    offered = set(re.findall(r"simulator=([a-z]+)", choose))
    assert offered == {m.simulator_name for m in find_matches(kb, model=MODEL)} and "mri" in offered
    form_url = f"/simulate?model={urllib.parse.quote('alice~tiny/v1')}&simulator=mri"
    assert alice.get(form_url).status_code == 200
    launched = alice.post("/simulate", data={
        "model": "alice~tiny/v1", "simulator": "mri", "instant": "0/1", "seed": "2", "matrix_readout": "32",
        "matrix_phase": "32", "csrf_token": csrf_token(alice, form_url)})
    assert launched.status_code == 303, _text(launched)
    run_id = launched.headers["Location"].rsplit("/", 1)[1]
    site.extensions["launcher"].wait(run_id, timeout=120)
    assert run_status(kb, run_id) == "succeeded"
    run_page = _text(alice.get(f"/runs/{run_id}"))
    assert "private to alice" in run_page and 'href="/models/alice~tiny/v1"' in run_page
    assert "image.nii.gz" in run_page

    # Bob sees neither the model, nor its files, nor the run, in any way he may ask.
    bob = _signed_in(site, "bob")
    for url in ("/models/alice~tiny/v1", "/models/alice~tiny", previews[0].replace("&amp;", "&"),
                "/simulate?model=alice~tiny/v1", form_url, f"/runs/{run_id}", "/files/model/alice~tiny/v1/model.json"):
        response = bob.get(url)
        assert response.status_code == 404, (url, response.status_code)
        body = _text(response)  # the message may repeat the reference bob typed, nothing more
        assert "Tiny moving phantom" not in body and "private to" not in body, url
    assert "alice~tiny" not in _text(bob.get("/models")) and run_id not in _text(bob.get("/runs"))
    for url in ("/model/alice~tiny/v1", "/model/alice~tiny"):
        for accept in ("text/turtle", "text/html"):
            linked = bob.get(url, headers={"Accept": accept}, follow_redirects=True)
            assert linked.status_code == 404 and "Tiny moving" not in _text(linked), (url, accept)
    assert "Tiny moving phantom" in _text(alice.get("/model/alice~tiny/v1", headers={"Accept": "text/turtle"}))
    query = "SELECT ?m ?g WHERE { GRAPH ?g { ?m a vip:ObjectModel } }"
    answer = bob.get("/sparql?" + urllib.parse.urlencode({"query": query}),
                     headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200 and "alice" not in _text(answer)
    mine = alice.get("/sparql?" + urllib.parse.urlencode({"query": query}),
                     headers={"Accept": "application/sparql-results+json"})
    assert MODEL in _text(mine)


def test_reupload_is_unchanged_and_a_changed_archive_is_version_2(site):
    carl = _signed_in(site, "carl")
    first = _upload(carl, zip_bytes(archive_files()), Accept="application/json")
    assert first.status_code == 201 and first.headers["Location"] == "/models/carl~tiny/v1"
    assert first.json == {"model": "https://w3id.org/vipkb/model/carl~tiny/v1", "version": 1, "unchanged": False,
                          "ready": ["CT", "MR", "XRay"]}
    before = snapshot(_kb(site))
    again = _upload(carl, zip_bytes(archive_files()))
    assert again.status_code == 303 and again.headers["Location"] == "/models/carl~tiny/v1"
    assert "unchanged: this archive is already version 1" in _text(carl.get(again.headers["Location"]))
    as_json = _upload(carl, zip_bytes(archive_files()), Accept="application/json")
    assert as_json.status_code == 200 and as_json.json["unchanged"] and as_json.json["ready"] == ["CT", "MR", "XRay"]
    assert snapshot(_kb(site)) == before

    changed = archive_files(geometry__csv=LUT.replace("3000,2000", "2900,1900").encode())
    second = _upload(carl, zip_bytes(changed))
    assert second.status_code == 303 and second.headers["Location"] == "/models/carl~tiny/v2"
    page = _text(carl.get("/models/carl~tiny/v2"))
    assert "uploaded: version 2" in page and "version 2" in page
    listing = _text(carl.get("/models"))
    assert "carl~tiny/v2" in listing and "carl~tiny/v1" not in listing  # the catalog lists latest versions


def _slip() -> bytes:
    return zip_bytes({**archive_files(), "../../outside.txt": b"x"})


BAD = {
    "zip-slip": (_slip, "member '../../outside.txt' escapes the archive root"),
    "not-a-zip": (lambda: b"model.json is in here, honest", "hostile.zip: not a valid zip archive"),
    "bad-nifti": (lambda: zip_bytes(archive_files(lesion__nii__gz=gzip.compress(b"not a NIfTI header", mtime=0))),
                  "lesion.nii.gz is not a readable NIfTI-1 image"),
    "no-model-json": (lambda: zip_bytes({k: v for k, v in archive_files().items() if k != "model.json"}),
                      "hostile.zip: no model.json at the archive root"),
    "bad-lut": (lambda: zip_bytes(archive_files(geometry__csv=LUT.rsplit("2,fat", 1)[0].encode())),
                "labels [2] appear in geometry_i0.nii.gz but not in its look-up table"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_archive_brings_the_form_back_with_the_reason_and_stores_nothing(site, case):
    make, message = BAD[case]
    kb = _kb(site)
    bob = _signed_in(site, "bob")
    before, files = snapshot(kb), _stored(kb)
    refused = _upload(bob, make(), name="hostile.zip")
    body = _text(refused)
    assert refused.status_code == 400 and 'id="error"' in body and 'name="archive"' in body
    assert message.replace("'", "&#39;") in body, body
    assert "vipkb-upload-" not in body  # the temporary file is not named: the upload is
    as_json = _upload(bob, make(), name="hostile.zip", Accept="application/json")
    assert as_json.status_code == 400 and message in as_json.json["errorMessage"]
    assert snapshot(kb) == before and _stored(kb) == files


def test_too_large_is_413_and_stores_nothing(site):
    kb = _kb(site)
    bob = _signed_in(site, "bob")
    before, files = snapshot(kb), _stored(kb)
    # Small once compressed, over the archive limit once inflated: counted on the bytes actually inflated.
    bomb = zip_bytes({**archive_files(), "padding.txt": b"0" * (MAX_ARCHIVE + 1)})
    assert len(bomb) < MAX_REQUEST
    refused = _upload(bob, bomb)
    assert refused.status_code == 413 and f"{MAX_ARCHIVE:,}-byte limit" in _text(refused)
    assert snapshot(kb) == before and _stored(kb) == files
    too_big = _upload(bob, bytes(MAX_REQUEST + 1), Accept="application/json")
    assert too_big.status_code == 413 and too_big.json["errorCode"] == 413
    assert snapshot(kb) == before and _stored(kb) == files


def test_anonymous_callers_are_sent_to_sign_in_and_programs_get_401(site):
    client = site.test_client()
    page = client.get("/models/upload")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert client.get("/models/upload", headers={"Accept": "application/json"}).status_code == 401
    assert 'href="/models/upload"' not in _text(client.get("/models"))
    before = snapshot(_kb(site))
    token = csrf_token(client, "/login")
    posted = client.post("/models/upload", data={"archive": (io.BytesIO(zip_bytes(archive_files())), "tiny.zip")},
                         headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert posted.status_code == 401
    assert snapshot(_kb(site)) == before


def test_an_upload_needs_the_csrf_token_or_an_api_key(site):
    kb = _kb(site)
    bob = _signed_in(site, "bob")
    before = snapshot(kb)
    assert _upload(bob, zip_bytes(archive_files()), token=False).status_code == 400
    empty = bob.post("/models/upload", data={"csrf_token": csrf_token(bob, "/models/upload")})
    assert empty.status_code == 400 and "choose a model archive" in _text(empty)
    assert snapshot(kb) == before
    _, key = site.config["ACCOUNTS"].issue_key("bob")
    program = site.test_client().post("/models/upload", headers={"apikey": key},
                                      data={"archive": (io.BytesIO(zip_bytes(archive_files())), "tiny.zip")})
    assert program.status_code == 201 and program.json["model"] == "https://w3id.org/vipkb/model/bob~tiny/v1"
    assert bob.get("/models/bob~tiny/v1").status_code == 200
