"""The REST API (``/rest/``) through Flask's test client: every route, its errors, and who may do what.

The server side of the VIP client's calls is exercised here route by route;
``test_vip_client.py`` drives the unmodified client against ``vipkb serve``.
"""

from __future__ import annotations

import hashlib
import time

import nibabel as nib
import pytest

from tests.test_model_repository import archive_files
from tests.web.conftest import PASSWORD, kb_copy, login, zip_bytes
from vipkb.accounts import AccountStore
from vipkb.pipelines import get_pipeline
from webapp import create_app

PARAMS = {"matrix_readout": "32", "matrix_phase": "32"}


@pytest.fixture(scope="module")
def world(seeded_kb, tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    kb = kb_copy(seeded_kb, root)
    accounts = AccountStore(root / "accounts.sqlite")
    keys = {}
    for name, role in [("alice", "user"), ("bob", "user"), ("root", "administrator")]:
        accounts.create_user(name, role, PASSWORD)
        keys[name] = accounts.issue_key(name)[1]
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline"}, kb=kb)
    mri = get_pipeline(kb, "mri/" + _version(kb))
    return {"kb": kb, "app": app, "keys": keys, "accounts": accounts, "mri": mri.identifier, "root": root}


def _version(kb) -> str:
    from vipkb.pipelines import list_pipelines

    return next(p.version for p in list_pipelines(kb) if p.simulator == "mri")


def call(world, method: str, url: str, caller: str | None = "alice", **kwargs):
    headers = kwargs.pop("headers", {})
    if caller is not None:
        headers["apikey"] = world["keys"].get(caller, caller)
    response = world["app"].test_client().open(url, method=method, headers=headers, **kwargs)
    response.get_data()
    response.close()
    return response


def assert_error(response, status: int, needle: str = ""):
    """A VIP error: exactly errorCode, errorMessage (in that order), JSON, the right status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type.startswith("application/json")
    body = response.get_json()
    assert list(body) == ["errorCode", "errorMessage"] and body["errorCode"] == status * 100 + 1
    assert needle in body["errorMessage"], body["errorMessage"]


def wait_for(world, execution_id: str, caller: str = "alice", timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = call(world, "GET", f"/rest/executions/{execution_id}", caller).get_json()
        if body["status"] != "Running":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


# -- platform, authentication, pipelines ----------------------------------------------------------------------


def test_platform_and_key_check(world):
    public = call(world, "GET", "/rest/platform", None)
    assert public.status_code == 200 and public.get_json()["platformName"] == "VIPKB"
    assert {"Processing", "Data"} <= set(public.get_json()["supportedModules"])
    assert call(world, "PUT", "/rest/platform").status_code == 200
    assert_error(call(world, "PUT", "/rest/platform", None), 401, "apikey")
    assert_error(call(world, "PUT", "/rest/platform", "vk_bad_key"), 401, "invalid or revoked")


def test_a_session_cookie_does_not_reach_the_api(world):
    client = world["app"].test_client()
    login(client, "alice")
    assert client.get("/runs?mine=1").status_code == 200  # signed in for the site ...
    response = client.get("/rest/executions")  # ... but the API needs the key
    response.close()
    assert_error(response, 401, "apikey")


def test_authenticate_gives_a_working_key(world):
    ok = call(world, "POST", "/rest/authenticate", None, json={"username": "bob", "password": PASSWORD})
    assert ok.status_code == 200 and ok.get_json()["httpHeader"] == "apikey"
    key = ok.get_json()["httpHeaderValue"]
    assert call(world, "PUT", "/rest/platform", key).status_code == 200
    assert any(k.label == "REST authenticate" for k in world["accounts"].list_keys("bob"))
    assert_error(call(world, "POST", "/rest/authenticate", None, json={"username": "bob", "password": "wrong!"}),
                 401, "wrong name or password")
    assert_error(call(world, "POST", "/rest/authenticate", None, data="not json"), 400, "username")
    assert_error(call(world, "POST", "/rest/authenticate", None, json=["bob"]), 400, "username")


def test_authenticate_is_rate_limited(world):
    world["accounts"].create_user("carl", "user", PASSWORD)
    for _ in range(5):
        call(world, "POST", "/rest/authenticate", None, json={"username": "carl", "password": "guess"},
             environ_base={"REMOTE_ADDR": "10.0.0.9"})
    again = call(world, "POST", "/rest/authenticate", None, json={"username": "carl", "password": PASSWORD},
                 environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert_error(again, 429, "too many")


def test_pipelines(world):
    listed = call(world, "GET", "/rest/pipelines").get_json()
    ids = {p["identifier"] for p in listed}
    assert world["mri"] in ids and all(p["canExecute"] is True for p in listed)
    assert {"ct", "mri", "ultrasound", "pet", "radiography"} <= {p["name"] for p in listed}
    one = call(world, "GET", f"/rest/pipelines/{world['mri']}").get_json()  # the slash sent as is
    params = {p["name"]: p for p in one["parameters"]}
    assert params["model"]["type"] == "File" and params["model"]["isOptional"]
    assert params["model"]["defaultValue"] is None
    assert params["modelIdentifier"]["type"] == "String" and params["seed"]["type"] == "Int64"
    assert params["matrix_readout"]["type"] == "Int64" and params["matrix_readout"]["defaultValue"] == 256
    assert all(set(p) >= {"name", "type", "isOptional", "isReturnedValue", "defaultValue", "description"}
               for p in one["parameters"])
    # Every parameter without a default is optional, so the client never demands a value it cannot know.
    assert all(p["isOptional"] or p["defaultValue"] is not None for p in one["parameters"])
    assert_error(call(world, "GET", "/rest/pipelines/nope/1.0"), 404, "mri/")
    assert_error(call(world, "GET", "/rest/pipelines", None), 401)


# -- the file space -------------------------------------------------------------------------------------------


def test_file_space_round_trip(world):
    base = "/rest/path/vip/Home/t1"
    assert call(world, "GET", base + "?action=exists").get_json() == {"exists": False}
    assert call(world, "PUT", base + "/sub/").status_code == 201  # folders with their parents
    data = b"\x00\x01 some bytes" * 100
    up = call(world, "PUT", base + "/sub/a.bin", data=data, content_type="application/octet-stream")
    assert up.status_code == 201 and up.get_json()["size"] == len(data)
    assert call(world, "GET", base + "/sub/a.bin?action=exists").get_json() == {"exists": True}
    props = call(world, "GET", base + "/sub/a.bin?action=properties").get_json()
    assert props["path"] == "/vip/Home/t1/sub/a.bin" and props["isDirectory"] is False and props["size"] == len(data)
    listing = call(world, "GET", base + "/sub?action=list").get_json()
    assert [(e["path"], e["isDirectory"]) for e in listing] == [("/vip/Home/t1/sub/a.bin", False)]
    content = call(world, "GET", base + "/sub/a.bin?action=content")
    assert content.status_code == 200 and content.get_data() == data
    assert call(world, "GET", base + "/sub/a.bin?action=md5").get_json()["md5"] == hashlib.md5(data).hexdigest()
    assert call(world, "GET", "/rest/path/vip?action=list").get_json()[0]["path"] == "/vip/Home"
    # Bob has a file space of his own: alice's files are not in it.
    assert call(world, "GET", base + "/sub/a.bin?action=exists", "bob").get_json() == {"exists": False}
    assert call(world, "DELETE", base).status_code == 204  # recursive
    assert call(world, "GET", base + "?action=exists").get_json() == {"exists": False}


@pytest.mark.parametrize("method, url, status, needle", [
    ("GET", "/rest/path/vip/Home/x/../../../etc/passwd?action=content", 400, "plain name"),
    ("GET", "/rest/path/etc/passwd?action=content", 400, "file space"),
    ("GET", "/rest/path/vip/Other/x?action=exists", 400, "outside the file space"),
    ("GET", "/rest/path/vip/Home?action=destroy", 400, "action"),
    ("GET", "/rest/path/vip/Home", 400, "action"),
    ("GET", "/rest/path/vip/Home/missing?action=properties", 404, "no file or folder"),
    ("GET", "/rest/path/vip/Home/missing?action=content", 404, "no file or folder"),
    ("PUT", "/rest/path/vip/Home/nofolder/a.bin", 404, "create it first"),
    ("DELETE", "/rest/path/vip/Home", 409, "cannot be deleted"),
    ("DELETE", "/rest/path/vip/Home/missing", 404, "no file or folder"),
    ("PUT", "/rest/path/vip/Home/.partial-x", 400, "reserved"),
])
def test_file_space_errors(world, method, url, status, needle):
    kwargs = {"data": b"abc", "content_type": "application/octet-stream"} if method == "PUT" else {}
    assert_error(call(world, method, url, **kwargs), status, needle)


def test_file_space_conflicts(world):
    call(world, "PUT", "/rest/path/vip/Home/c/", )
    call(world, "PUT", "/rest/path/vip/Home/c/f", data=b"x", content_type="application/octet-stream")
    assert_error(call(world, "PUT", "/rest/path/vip/Home/c/f/g", data=b"x", content_type="application/octet-stream"),
                 409, "is a file")
    assert_error(call(world, "PUT", "/rest/path/vip/Home/c", data=b"x", content_type="application/octet-stream"),
                 409, "is a folder")
    assert_error(call(world, "GET", "/rest/path/vip/Home/c/f?action=list"), 409, "not a folder")
    assert_error(call(world, "PUT", "/rest/path/vip/Home/c/f/", ), 409, "is a file")
    assert_error(call(world, "GET", "/rest/path/vip/Home/c?action=content"), 409, "folder")
    assert_error(call(world, "GET", "/rest/path/vip/Home/c?action=exists", None), 401)


def test_upload_size_limit(world):
    world["app"].config["MAX_CONTENT_LENGTH"] = 1000
    try:
        assert_error(call(world, "PUT", "/rest/path/vip/Home/big.bin", data=b"x" * 2000,
                          content_type="application/octet-stream"), 413)
    finally:
        world["app"].config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    assert call(world, "GET", "/rest/path/vip/Home/big.bin?action=exists").get_json() == {"exists": False}


# -- executions -----------------------------------------------------------------------------------------------


def launch(world, caller="alice", **inputs):
    body = {"name": "test", "pipelineIdentifier": world["mri"], "resultsLocation": "/vip/Home/out",
            "inputValues": {"modelIdentifier": "contrast-detail", **PARAMS, **inputs}}
    return call(world, "POST", "/rest/executions", caller, json=body)


def test_launch_follow_and_read_results(world):
    count = int(call(world, "GET", "/rest/executions/count").get_data(as_text=True))
    created = launch(world, seed="3")
    assert created.status_code == 200, created.get_data(as_text=True)
    e = created.get_json()
    assert e["status"] in ("Running", "Finished") and e["pipelineIdentifier"] == world["mri"]
    assert "returnedFiles" in e and isinstance(e["startDate"], int) and e["startDate"] > 1e12  # milliseconds
    done = wait_for(world, e["identifier"])
    assert done["status"] == "Finished", done
    files = done["returnedFiles"]["results"]
    assert files and all(f.startswith("/vip/Home/out/") and e["identifier"] in f for f in files)
    results = call(world, "GET", f"/rest/executions/{e['identifier']}/results").get_json()
    assert {r["path"] for r in results} == set(files) and all(r["exists"] and r["size"] > 0 for r in results)
    image = next(f for f in files if f.endswith(".nii.gz"))
    raw = call(world, "GET", f"/rest/path{image}?action=content").get_data()
    volume = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(raw))
    assert volume.shape[:2] == (32, 32)
    assert "succeeded" in call(world, "GET", f"/rest/executions/{e['identifier']}/stdout").get_data(as_text=True)
    assert call(world, "GET", f"/rest/executions/{e['identifier']}/stderr").get_data(as_text=True) == ""
    assert int(call(world, "GET", "/rest/executions/count").get_data(as_text=True)) == count + 1
    assert e["identifier"] in {x["identifier"] for x in call(world, "GET", "/rest/executions").get_json()}
    assert len(call(world, "GET", "/rest/executions?limit=0").get_json()) == 0
    # Bob sees none of it; an administrator sees it (and alice's files stay in alice's space).
    assert_error(call(world, "GET", f"/rest/executions/{e['identifier']}", "bob"), 404)
    assert e["identifier"] not in {x["identifier"] for x in call(world, "GET", "/rest/executions", "bob").get_json()}
    assert_error(call(world, "PUT", f"/rest/executions/{e['identifier']}/kill", "bob"), 404)
    assert call(world, "GET", f"/rest/executions/{e['identifier']}", "root").get_json()["status"] == "Finished"
    assert call(world, "GET", "/rest/executions", "root").get_json() == []  # an administrator's list: their own
    # Deleting the results: they stay deleted (not written again), and results says they are gone.
    assert call(world, "PUT", f"/rest/executions/{e['identifier']}/kill?deleteFiles=true").status_code == 204
    again = call(world, "GET", f"/rest/executions/{e['identifier']}/results").get_json()
    assert again and not any(r["exists"] for r in again)
    assert call(world, "DELETE", f"/rest/executions/{e['identifier']}").status_code == 204
    assert_error(call(world, "GET", f"/rest/executions/{e['identifier']}"), 404)


def test_results_are_written_when_the_run_ends_without_anyone_asking(world):
    from vipkb.executions import get_execution
    from vipkb.storage.homes import FileSpace

    e = launch(world, seed="6").get_json()
    run_id = get_execution(world["kb"], e["identifier"]).run_id
    world["app"].extensions["launcher"].wait(run_id, timeout=120)
    space = FileSpace(world["kb"].settings.homes_url, "alice")
    folder = next(i.path for i in space.list("/vip/Home/out") if i.path.endswith(e["identifier"]))
    assert any(i.path.endswith(".nii.gz") for i in space.list(folder))
    assert get_execution(world["kb"], e["identifier"]).returned  # recorded as well


def test_the_same_inputs_twice_share_one_run(world):
    first = wait_for(world, launch(world, seed="4").get_json()["identifier"])
    second = wait_for(world, launch(world, seed="4").get_json()["identifier"])
    assert first["identifier"] != second["identifier"] and first["status"] == second["status"] == "Finished"
    assert {f.rsplit("/", 1)[-1] for f in first["returnedFiles"]["results"]} == \
        {f.rsplit("/", 1)[-1] for f in second["returnedFiles"]["results"]}


@pytest.mark.parametrize("body, status, needle", [
    ({"name": "x", "pipelineIdentifier": "nope/1", "inputValues": {}}, 400, "pipelineIdentifier"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain", "model": "/vip/Home/a"}},
     400, "exactly one of"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {}}, 400, "exactly one of"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "nope"}}, 400, "no model"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain", "matrix_readout": "5"}},
     400, "matrix_readout"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain", "colour": "red"}},
     400, "colour"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain", "seed": "-1"}},
     400, "seed"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain", "instant": "first"}},
     400, "TP/I"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": ["brain", "heart"]}},
     400, "one value per parameter"),
    ({"name": "x", "pipelineIdentifier": "MRI", "inputValues": {"model": "/vip/Home/none.zip"}}, 400, "upload it"),
    ({"name": "x", "pipelineIdentifier": "MRI", "resultsLocation": "/tmp", "inputValues": {"modelIdentifier": "brain"}},
     400, "file space"),
    ({"name": "", "pipelineIdentifier": "MRI", "inputValues": {"modelIdentifier": "brain"}}, 400, "name"),
    ({"name": 3, "pipelineIdentifier": "MRI", "inputValues": {}}, 400, "strings"),
    ("not an object", 400, "JSON object"),
])
def test_bad_launches_are_refused_and_nothing_is_recorded(world, body, status, needle):
    if isinstance(body, dict) and body.get("pipelineIdentifier") == "MRI":
        body = {**body, "pipelineIdentifier": world["mri"]}
    if isinstance(body, dict) and "resultsLocation" not in body:
        body = {**body, "resultsLocation": "/vip/Home/refused"}
    before = call(world, "GET", "/rest/executions/count").get_data(as_text=True)
    assert_error(call(world, "POST", "/rest/executions", json=body), status, needle)
    assert call(world, "GET", "/rest/executions/count").get_data(as_text=True) == before
    assert call(world, "GET", "/rest/path/vip/Home/refused?action=exists").get_json() == {"exists": False}


def test_a_model_archive_in_the_file_space_is_imported_privately_and_simulated(world):
    call(world, "PUT", "/rest/path/vip/Home/in/")
    call(world, "PUT", "/rest/path/vip/Home/in/tiny.zip", data=zip_bytes(archive_files()),
         content_type="application/octet-stream")
    body = {"name": "mine", "pipelineIdentifier": world["mri"], "resultsLocation": "/vip/Home/in/out",
            "inputValues": {"model": "/vip/Home/in/tiny.zip", "instant": "0/0", **PARAMS}}
    created = call(world, "POST", "/rest/executions", json=body)
    assert created.status_code == 200, created.get_data(as_text=True)
    assert wait_for(world, created.get_json()["identifier"])["status"] == "Finished"
    # The model is alice's: bob's catalog and his launches do not see it.
    assert call(world, "GET", "/models/alice~tiny", headers={"Accept": "application/json"}).status_code == 200
    assert_error(call(world, "POST", "/rest/executions", "bob", json={
        **body, "inputValues": {"modelIdentifier": "alice~tiny", **PARAMS}}), 400, "no model")
    # A broken archive is refused with the archive's own message, and nothing is recorded.
    call(world, "PUT", "/rest/path/vip/Home/in/bad.zip", data=b"PK not a zip", content_type="application/octet-stream")
    refused = call(world, "POST", "/rest/executions", json={**body, "inputValues": {"model": "/vip/Home/in/bad.zip"}})
    assert_error(refused, 400, "inputValues.model: /vip/Home/in/bad.zip")
    assert "vipkb-upload" not in refused.get_json()["errorMessage"]  # no server path in the message
    assert_error(call(world, "POST", "/rest/executions", json={
        **body, "inputValues": {"model": "/vip/Home/in/../x.zip"}}), 400, "inputValues.model")


def test_a_queued_execution_is_running_for_the_client_and_can_be_killed(world, tmp_path):
    """With one busy slot the next execution waits: the client sees Running, a kill makes it Killed."""
    launcher = world["app"].extensions["launcher"]
    gate = __import__("threading").Event()
    launcher._pool.submit(gate.wait)  # occupy the only slot until the test releases it
    try:
        e = launch(world, seed="5").get_json()
        assert call(world, "GET", f"/rest/executions/{e['identifier']}").get_json()["status"] == "Running"
        assert call(world, "PUT", f"/rest/executions/{e['identifier']}/kill").status_code == 204
    finally:
        gate.set()
    killed = wait_for(world, e["identifier"])
    assert killed["status"] == "Killed" and killed["returnedFiles"] is None
    assert "killed by alice" in call(world, "GET", f"/rest/executions/{e['identifier']}/stderr").get_data(as_text=True)
    assert_error(call(world, "PUT", f"/rest/executions/{e['identifier']}/kill?deleteFiles=maybe"), 400, "deleteFiles")
    # Asked again, the same inputs run again (resuming the killed run); the killed execution stays killed.
    again = wait_for(world, launch(world, seed="5").get_json()["identifier"])
    assert again["status"] == "Finished" and again["returnedFiles"]
    assert wait_for(world, e["identifier"]) == killed


def test_unknown_routes_and_methods_answer_vip_errors(world):
    assert_error(call(world, "GET", "/rest/nothing"), 404)
    assert_error(call(world, "PATCH", "/rest/executions"), 405)
    assert_error(call(world, "GET", "/rest/executions/no-such"), 404)
    assert_error(call(world, "GET", "/rest/executions/bad id!"), 404)
