"""Administration pages: administrators only, users and keys, every user's runs with causes, backend and
workers (a real Dask scheduler and worker), storage health (a replica damaged on disk), statistics."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time

import pytest

from tests.test_backends import DaskProcesses, _free_port
from tests.web.conftest import PASSWORD, csrf_token, kb_copy, login
from vipkb.accounts import AccountStore
from vipkb.backends import backend_status
from vipkb.errors import UnknownResourceError
from vipkb.runs import execute_run, plan_run
from vipkb.storage import FileCatalog
from webapp import create_app

PARAMS = {"matrix_readout": 32, "matrix_phase": 32}
PAGES = ["/admin/", "/admin/users", "/admin/runs", "/admin/backend", "/admin/storage", "/admin/kb"]


@pytest.fixture(scope="module")
def world(seeded_kb, tmp_path_factory):
    """A public run, and a failing run private to alice, on storage elements of this module's own."""
    root = tmp_path_factory.mktemp("admin")
    # Own copies of the files: a test damages one on disk.
    shutil.copytree(seeded_kb.settings.files_url, root / "files")
    kb = kb_copy(seeded_kb, root, files_url=str(root / "files"))
    public = execute_run(kb, plan_run(kb, "contrast-detail", "mri", PARAMS, seed=5), backend="inline", agent="carol")
    # Planned for a simulator version that is not installed: a real execution that fails with its cause.
    stale = dataclasses.replace(plan_run(kb, "contrast-detail", "mri", PARAMS, seed=6, owner="alice"),
                                version="0.0-stale")
    failed = execute_run(kb, stale, backend="inline", agent="alice")
    assert public.status == "succeeded" and failed.status == "failed", failed.reason
    accounts = AccountStore(root / "accounts.sqlite")
    keys = {}
    for name, role in [("root", "administrator"), ("alice", "user"), ("anna", "annotator")]:
        accounts.create_user(name, role, PASSWORD)
        keys[name] = accounts.issue_key(name, f"{name}'s script")[1]
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline",
                      "RUN_RECOVER": False}, kb=kb)
    return {"kb": kb, "app": app, "accounts": accounts, "keys": keys, "public": public, "failed": failed,
            "root": root}


def _admin(world):
    client = world["app"].test_client()
    assert login(client, "root").status_code == 302
    return client


def _json(world, url: str, caller: str = "root"):
    response = world["app"].test_client().get(url, headers={"apikey": world["keys"][caller],
                                                            "Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# -- access ---------------------------------------------------------------------------------------------------------


def test_every_page_answers_administrators_in_html_and_json(world):
    client = _admin(world)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in home  # the nav link, for administrators only
    for url in PAGES:
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Administration" in page.get_data(as_text=True) or url == "/admin/"
        assert client.get(url, headers={"Accept": "application/json"}).is_json, url


@pytest.mark.parametrize("caller", ["anonymous", "alice", "anna"])
def test_nobody_else_gets_in(world, caller):
    client = world["app"].test_client()
    if caller != "anonymous":
        login(client, caller)
        assert 'href="/admin/"' not in client.get("/").get_data(as_text=True)
    for url in PAGES:
        page = client.get(url)
        program = client.get(url, headers={"Accept": "application/json"})
        if caller == "anonymous":
            assert page.status_code == 302 and page.headers["Location"].startswith("/login"), url
            assert program.status_code == 401, url
        else:
            assert page.status_code == program.status_code == 403, (url, caller)
    token = csrf_token(client, "/login")
    write = client.post("/admin/users", data={"name": "mallory", "role": "administrator", "csrf_token": token})
    assert write.status_code == (401 if caller == "anonymous" else 403)
    with pytest.raises(UnknownResourceError):
        world["accounts"].get("mallory")


# -- users and keys -------------------------------------------------------------------------------------------------


def test_users_page_lists_roles_states_and_keys(world):
    page = _admin(world).get("/admin/users").get_data(as_text=True)
    for name in ("root", "alice", "anna"):
        assert f'id="account-{name}"' in page
    assert "alice&#39;s script" in page and "administrator" in page
    data = _json(world, "/admin/users")
    alice = next(a for a in data["accounts"] if a["name"] == "alice")
    assert alice["role"] == "user" and not alice["disabled"] and len(alice["keys"]) == 1
    assert alice["keys"][0]["label"] == "alice's script" and alice["keys"][0]["active"]
    assert data["roles"] == ["user", "annotator", "administrator"]
    root = next(a for a in data["accounts"] if a["name"] == "root")
    assert root["last_login"] is not None  # _admin signed root in through the form
    assert '<td>' + root["last_login"] + '</td>' in page


def test_create_change_disable_enable_issue_and_revoke(world):
    client = _admin(world)
    accounts = world["accounts"]
    token = csrf_token(client, "/admin/users")
    created = client.post("/admin/users", data={"name": "Dora", "role": "annotator", "password": PASSWORD,
                                                "csrf_token": token})
    assert created.status_code == 303 and created.headers["Location"].endswith("/admin/users")
    assert "created dora (annotator)" in client.get("/admin/users").get_data(as_text=True)  # flashed once
    assert accounts.get("dora").role == "annotator"

    assert client.post("/admin/users/dora/role", data={"role": "user", "csrf_token": token}).status_code == 303
    assert accounts.get("dora").role == "user"
    assert client.post("/admin/users/dora/disable", data={"csrf_token": token}).status_code == 303
    assert accounts.get("dora").disabled and accounts.verify_password("dora", PASSWORD) is None
    assert client.post("/admin/users/dora/enable", data={"csrf_token": token}).status_code == 303
    assert not accounts.get("dora").disabled

    issued = client.post("/admin/users/dora/keys", data={"label": "batch jobs", "csrf_token": token})
    assert issued.status_code == 200
    key = re.search(r'id="new-key">([^<]+)<', issued.get_data(as_text=True)).group(1)
    assert accounts.authenticate_key(key).name == "dora"
    assert key not in client.get("/admin/users").get_data(as_text=True)  # shown once only
    key_id = key.split("_")[1]
    assert client.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": token}).status_code == 303
    assert accounts.authenticate_key(key) is None


def test_programs_manage_users_with_an_api_key_and_json(world):
    headers = {"apikey": world["keys"]["root"], "Accept": "application/json"}
    client = world["app"].test_client()
    made = client.post("/admin/users", data={"name": "ewan", "role": "user"}, headers=headers)  # no CSRF: a key
    assert made.status_code == 200 and made.get_json()["name"] == "ewan" and not made.get_json()["has_password"]
    issued = client.post("/admin/users/ewan/keys", data={"label": "ci"}, headers=headers).get_json()
    assert issued["key"].startswith(f"vk_{issued['key_id']}_")
    assert client.get("/admin/", headers={"apikey": issued["key"]}).status_code == 403  # a user's key
    again = client.post("/admin/users", data={"name": "ewan", "role": "user"}, headers=headers)
    assert again.status_code == 409 and "exists already" in again.get_json()["errorMessage"]


@pytest.mark.parametrize("path, data, status, message", [
    ("/admin/users", {"name": "x", "role": "user"}, 400, "is not 2-32 characters"),
    ("/admin/users", {"name": "fred", "role": "wizard"}, 400, "role &#39;wizard&#39; is not one of"),
    ("/admin/users", {"name": "fred", "role": "user", "password": "short"}, 400, "at least 12 characters"),
    ("/admin/users", {"name": "alice", "role": "administrator"}, 409, "exists already"),
    ("/admin/users/alice/role", {"role": "wizard"}, 400, "is not one of"),
    ("/admin/users/nobody/role", {"role": "user"}, 404, "no account named"),
    ("/admin/users/nobody/disable", {}, 404, "no account named"),
    ("/admin/users/nobody/keys", {}, 404, "no account named"),
    ("/admin/keys/0badc0de/revoke", {}, 404, "no API key"),
    ("/admin/users/root/disable", {}, 409, "cannot disable your own account"),
    ("/admin/users/root/role", {"role": "annotator"}, 409, "cannot take the administrator role"),
])
def test_bad_requests_show_the_page_with_the_reason_and_change_nothing(world, path, data, status, message):
    client = _admin(world)
    before = [a.as_dict() for a in world["accounts"].list()]
    keys = [k.as_dict() for k in world["accounts"].list_keys()]
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, "/admin/users")})
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert message in body and 'id="accounts"' in body  # the users page again, with the reason
    assert [a.as_dict() for a in world["accounts"].list()] == before
    assert [k.as_dict() for k in world["accounts"].list_keys()] == keys


def test_an_administrator_still_has_the_role_and_can_promote_others(world):
    client = _admin(world)
    token = csrf_token(client, "/admin/users")
    same = client.post("/admin/users/root/role", data={"role": "administrator", "csrf_token": token})
    assert same.status_code == 303 and world["accounts"].get("root").can("administrator")
    assert client.get("/admin/").status_code == 200


def test_forms_need_the_csrf_token(world):
    client = _admin(world)
    for path in ("/admin/users", "/admin/users/alice/disable", "/admin/storage/verify"):
        assert client.post(path, data={"name": "zed", "role": "user"}).status_code == 400, path
    assert not world["accounts"].get("alice").disabled


# -- runs -----------------------------------------------------------------------------------------------------------


def test_runs_page_lists_every_users_runs_failures_first_with_their_cause(world):
    failed, public = world["failed"], world["public"]
    page = _admin(world).get("/admin/runs").get_data(as_text=True)
    assert page.index(failed.run_id) < page.index(public.run_id)
    row = page[page.index(f'id="run-{failed.run_id}"'):]
    row = row[:row.index("</tr>")]
    assert "private to" in row and "alice" in row and "failed" in row
    assert "was planned with mri 0.0-stale" in row and "SimulationError" not in row  # plain words
    data = _json(world, "/admin/runs?status=failed")
    assert [(r["id"], r["private_to"], r["agent"]) for r in data["runs"]] == [(failed.run_id, "alice", "alice")]
    assert data["runs"][0]["cause"].startswith(f"run {failed.run_id} was planned with mri 0.0-stale")
    assert [r["id"] for r in _json(world, "/admin/runs?owner=alice")["runs"]] == [failed.run_id]
    # alice herself sees her run on the ordinary page; another administrator-only view is not needed for that
    assert failed.run_id not in world["app"].test_client().get("/runs").get_data(as_text=True)


def test_live_runs_get_a_kill_button_that_works_for_administrators(world):
    from vipkb.runs import queue_run

    kb = world["kb"]
    spec = plan_run(kb, "contrast-detail", "mri", PARAMS, seed=7, owner="alice")
    queue_run(kb, spec, backend="inline", agent="alice")
    client = _admin(world)
    page = client.get("/admin/runs?status=queued").get_data(as_text=True)
    assert f'action="/runs/{spec.id}/kill"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/runs/{spec.id}/kill", data={"csrf_token": token}).status_code == 303
    killed = _json(world, "/admin/runs?status=killed")["runs"]
    assert [r["id"] for r in killed] == [spec.id] and "killed by root" in killed[0]["cause"]


# -- backend --------------------------------------------------------------------------------------------------------


def test_backend_page_of_an_inline_launcher(world):
    data = _json(world, "/admin/backend")
    assert data["backend"] == "inline" and data["slots"] == 1 and data["active"] == []
    assert data["status"]["ok"] and data["status"]["slots"] == 1 and data["status"]["workers"] == []
    page = _admin(world).get("/admin/backend").get_data(as_text=True)
    assert "orchestrating process" in page


def _app_on(world, backend: str, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": world["accounts"], "RUN_BACKEND": backend,
                       "RUN_RECOVER": False, **config}, kb=world["kb"])


def test_backend_page_lists_the_workers_of_a_real_dask_scheduler(world):
    cluster = DaskProcesses(1)
    try:
        deadline = time.monotonic() + 60
        while not backend_status(cluster.address, timeout=2).workers:  # the worker takes a moment to register
            assert time.monotonic() < deadline, "the dask worker did not connect"
            time.sleep(0.3)
        app = _app_on(world, cluster.address)
        client = app.test_client()
        data = client.get("/admin/backend", headers={"apikey": world["keys"]["root"],
                                                     "Accept": "application/json"}).get_json()
        assert data["backend"] == cluster.address and data["status"]["reachable"]
        (worker,) = data["status"]["workers"]
        assert worker["address"].startswith("tcp://127.0.0.1:") and worker["name"] == "w0"
        assert worker["threads"] == 1 and worker["memory_limit"] > 0 and worker["processing"] == 0
        assert data["status"]["slots"] == 1
        login(client, "root")
        page = client.get("/admin/backend").get_data(as_text=True)
        assert 'id="workers"' in page and worker["address"] in page and "1 worker(s), 1 thread(s)" in page
    finally:
        cluster.stop()


def test_an_unreachable_scheduler_is_a_message_not_an_error_page(world):
    address = f"tcp://127.0.0.1:{_free_port()}"
    client = _app_on(world, address, BACKEND_STATUS_TIMEOUT=0.5).test_client()
    login(client, "root")
    for url in ("/admin/backend", "/admin/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert f"scheduler unreachable at {address}" in page.get_data(as_text=True), url
    data = client.get("/admin/backend", headers={"Accept": "application/json"}).get_json()
    assert not data["status"]["reachable"] and data["status"]["slots"] == 0


def test_an_unknown_backend_is_reported_on_the_page(world):
    client = _app_on(world, "slurm").test_client()
    login(client, "root")
    page = client.get("/admin/backend")
    assert page.status_code == 200 and "no execution backend named &#39;slurm&#39;" in page.get_data(as_text=True)


# -- storage --------------------------------------------------------------------------------------------------------


def test_storage_page_counts_copies_per_element(world):
    data = _json(world, "/admin/storage")
    records = FileCatalog(world["kb"]).records()
    assert [e["name"] for e in data["elements"]] == ["se1", "se2"] and data["files"] == len(records)
    for element in data["elements"]:
        assert element["files"] == sum(element["name"] in r.replicas for r in records) and element["configured"]
    assert data["under_replicated"] == [] and data["health"] is None


def test_verify_now_finds_a_replica_damaged_on_disk(world):
    kb = world["kb"]
    prefix = f"run/{world['public'].run_id}/"
    target = next(r for r in FileCatalog(kb).records(prefix) if r.lfn.endswith("image.nii.gz"))
    client = _admin(world)
    token = csrf_token(client, "/admin/storage")
    healthy = client.post("/admin/storage/verify", data={"prefix": prefix, "csrf_token": token})
    assert healthy.status_code == 200 and "every catalogued copy is good" in healthy.get_data(as_text=True)
    blob = next((world["root"] / "files" / "se2").rglob(target.sha256))
    good = blob.read_bytes()
    blob.write_bytes(b"rotten")
    try:
        page = client.post("/admin/storage/verify", data={"prefix": prefix, "csrf_token": token})
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and target.lfn in body and "1 bad copy(ies)" in body
        data = client.post("/admin/storage/verify", data={"prefix": prefix, "csrf_token": token},
                           headers={"Accept": "application/json"}).get_json()["health"]
        assert data["problems"] == [{"lfn": target.lfn, "element": "se2", "state": "corrupt"}]
        by_element = {e["name"]: e for e in data["elements"]}
        assert by_element["se2"]["corrupt"] == 1 and by_element["se2"]["ok"] == data["files"] - 1
        assert by_element["se1"]["ok"] == data["files"] and by_element["se1"]["bad"] == 0
    finally:
        blob.write_bytes(good)


def test_verify_is_bounded_by_its_prefix(world):
    app = _app_on(world, "inline", ADMIN_VERIFY_MAX_FILES=2)
    client = app.test_client()
    login(client, "root")
    token = csrf_token(client, "/admin/storage")
    page = client.post("/admin/storage/verify", data={"prefix": "model/", "csrf_token": token})
    assert page.status_code == 400 and "give a longer prefix" in page.get_data(as_text=True)


# -- knowledge base -------------------------------------------------------------------------------------------------


def test_kb_statistics_match_sparql_counts(world):
    kb = world["kb"]
    data = _json(world, "/admin/kb")

    def count(pattern: str) -> int:
        return int(kb.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {pattern} }}").rows[0]["n"].value)

    assert data["counts"]["runs"] == count("?s a vip:SimulationRun") >= 2
    assert data["counts"]["models"] == count("?s a vip:ObjectModel")
    assert data["counts"]["simulated data"] == count("?s a vip:SimulatedData")
    graphs = {g["owner"]: g for g in data["graphs"]}
    assert set(graphs) == {None, "alice"}
    assert graphs["alice"]["graphs"] == count("GRAPH ?s { ?x ?p ?o } FILTER (CONTAINS(STR(?s), '/private/alice/'))")
    assert sum(g["graphs"] for g in data["graphs"]) == data["counts"]["named graphs"]
    assert sum(g["quads"] for g in data["graphs"]) == data["counts"]["quads"]
    page = _admin(world).get("/admin/kb").get_data(as_text=True)
    assert "private to alice" in page and "public" in page
