"""Access control, route by route: every role and owner against public and private data.

The knowledge base holds a public run (launched by carol from the CLI) and a
private run of the same inputs for alice.  Every route of the app is
requested by an anonymous visitor, alice (the owner), bob (another user),
anna (an annotator) and root (an administrator), with their API keys; a
test fails if a route of the app is missing from the matrix.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from tests.web.conftest import PASSWORD, csrf_token, kb_copy, login
from vipkb.accounts import AccountStore
from vipkb.data import data_id, list_data
from vipkb.namespaces import BASE, Graphs
from vipkb.runs import execute_run, plan_run
from webapp import create_app

CALLERS = ("anonymous", "alice", "bob", "anna", "root")
#: Who sees alice's private run and its outputs.
SEES_PRIVATE = {"alice", "root"}
PARAMS = {"matrix_readout": 32, "matrix_phase": 32}


@pytest.fixture(scope="module")
def world(seeded_kb, tmp_path_factory):
    root = tmp_path_factory.mktemp("access")
    kb = kb_copy(seeded_kb, root)
    public = execute_run(kb, plan_run(kb, "contrast-detail", "mri", PARAMS, seed=1), backend="inline", agent="carol")
    private = execute_run(kb, plan_run(kb, "contrast-detail", "mri", PARAMS, seed=1, owner="alice"),
                          backend="inline", agent="alice")
    assert public.status == private.status == "succeeded" and public.run_id != private.run_id
    accounts = AccountStore(root / "accounts.sqlite")
    keys = {}
    for name, role in [("alice", "user"), ("bob", "user"), ("anna", "annotator"), ("root", "administrator")]:
        accounts.create_user(name, role, PASSWORD)
        keys[name] = accounts.issue_key(name)[1]
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline"}, kb=kb)
    data = {d.run.rsplit("/", 1)[-1]: d for d in list_data(kb)}
    return {"kb": kb, "app": app, "keys": keys, "public": public, "private": private,
            "public_data": data_id(data[public.run_id].iri), "private_data": data_id(data[private.run_id].iri)}


def _get(world, caller: str, url: str, **headers):
    if caller != "anonymous":
        headers["apikey"] = world["keys"][caller]
    response = world["app"].test_client().get(url, headers=headers)
    response.get_data()
    response.close()  # static files are streamed from an open file
    return response


def _urls(world) -> dict[str, tuple[str, str]]:
    """``{endpoint: (public url, private url or "")}``: one request per route of the app."""
    pub, priv = world["public"], world["private"]
    return {
        "static": ("/static/style.css", ""),
        "auth.login": ("/login", ""),
        "catalog.home": ("/", ""),
        "catalog.models": ("/models", ""),
        "catalog.model": ("/models/contrast-detail", ""),
        "catalog.model_preview": ("/models/contrast-detail/preview.png?layer=geometry", ""),
        "catalog.simulators": ("/simulators", ""),
        "catalog.simulator": ("/simulators/mri", ""),
        "catalog.data": ("/data", ""),
        "catalog.data_item": (f"/data/{world['public_data']}", f"/data/{world['private_data']}"),
        "catalog.file": (f"/files/{pub.outputs[0]}", f"/files/{priv.outputs[0]}"),
        "linked.resource": (f"/file/{pub.outputs[0]}", f"/file/{priv.outputs[0]}"),
        "runs.runs": ("/runs", ""),
        "runs.run": (f"/runs/{pub.run_id}", f"/runs/{priv.run_id}"),
        "runs.progress": (f"/runs/{pub.run_id}/progress.json", f"/runs/{priv.run_id}/progress.json"),
        "linked.ontology": ("/ontology", ""),
        "sparql.sparql": ("/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}), ""),
    }


#: Routes for callers with a role: ``{endpoint: (url, role needed)}``.
SIGNED_IN = {"simulate.choose": ("/simulate?model=contrast-detail", "user"),
             "annotate.annotate": ("/annotate", "annotator"), "upload.form": ("/models/upload", "user"),
             "admin.overview": ("/admin/", "administrator"), "admin.users": ("/admin/users", "administrator"),
             "admin.runs": ("/admin/runs", "administrator"), "admin.backend": ("/admin/backend", "administrator"),
             "admin.storage": ("/admin/storage", "administrator"), "admin.kb": ("/admin/kb", "administrator")}
ROLES = {"alice": "user", "bob": "user", "anna": "annotator", "root": "administrator"}
RANK = ("user", "annotator", "administrator")
#: Routes that take writes (POST), checked by their own tests below and in test_auth.py / test_sparql.py.
WRITE_ONLY = {"auth.logout", "simulate.launch", "runs.kill", "upload.submit", "admin.create_user", "admin.set_role",
              "admin.switch_user", "admin.issue_key", "admin.revoke_key", "admin.verify"}


#: REST routes open to everybody; every other ``rest.*`` route needs an API key (test_rest.py checks owners).
REST_PUBLIC = {"rest.platform", "rest.authenticate", "rest.openapi"}


def _rest_rules(world):
    return [rule for rule in world["app"].url_map.iter_rules() if rule.endpoint.startswith("rest.")]


def test_the_matrix_covers_every_route(world):
    endpoints = {rule.endpoint for rule in world["app"].url_map.iter_rules()}
    rest = {rule.endpoint for rule in _rest_rules(world)}
    assert endpoints - rest == set(_urls(world)) | set(SIGNED_IN) | WRITE_ONLY
    assert REST_PUBLIC <= rest


@pytest.mark.parametrize("session", [False, True])
def test_the_rest_api_needs_a_key_even_with_a_session(world, session):
    """Every REST route but the public ones is a 401 (VIP code 40101) without an API key, signed in or not."""
    client = world["app"].test_client()
    if session:
        login(client, "alice")
    checked = 0
    for rule in _rest_rules(world):
        url = re.sub(r"<(?:path:)?(\w+)>", lambda m: "vip/Home/x" if m.group(1) == "sub" else "exec-1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint in REST_PUBLIC and not (rule.endpoint == "rest.platform" and method == "PUT"):
                continue
            response = client.open(url + "?action=exists", method=method, json={})
            body = response.get_json()
            response.close()
            assert response.status_code == 401 and body == {"errorCode": 40101, "errorMessage": body["errorMessage"]}, \
                (method, url)
            checked += 1
    assert checked >= 14


@pytest.mark.parametrize("caller", CALLERS)
def test_signed_in_routes(world, caller):
    for endpoint, (url, role) in SIGNED_IN.items():
        page = _get(world, caller, url, Accept="text/html")
        program = _get(world, caller, url, Accept="application/json")
        if caller == "anonymous":
            assert page.status_code == 302 and "/login" in page.headers["Location"], endpoint
            assert program.status_code == 401, endpoint
        elif RANK.index(ROLES[caller]) >= RANK.index(role):
            assert page.status_code == 200, (endpoint, caller)
        else:
            assert page.status_code == program.status_code == 403, (endpoint, caller)


@pytest.mark.parametrize("caller, public, private", [
    ("anonymous", 401, 401), ("alice", 403, 422), ("bob", 403, 404), ("anna", 403, 404), ("root", 422, 422)])
def test_kill_is_for_the_owner_and_administrators(world, caller, public, private):
    """Both runs have ended: the owner and administrators get as far as "already ended" (422)."""
    for run, status in ((world["public"], public), (world["private"], private)):
        headers = {"Accept": "application/json"}
        client = world["app"].test_client()
        if caller != "anonymous":
            headers["apikey"] = world["keys"][caller]
        else:
            assert client.post(f"/runs/{run.run_id}/kill", headers=headers).status_code == 400  # no CSRF token
            headers["X-CSRFToken"] = csrf_token(client, "/login")
        response = client.post(f"/runs/{run.run_id}/kill", headers=headers)
        assert response.status_code == status, (caller, run.run_id, response.get_data(as_text=True))
        if status == 404:
            assert "alice" not in response.get_data(as_text=True)


@pytest.mark.parametrize("caller", CALLERS)
def test_public_routes_answer_everyone(world, caller):
    for endpoint, (url, _) in _urls(world).items():
        response = _get(world, caller, url)
        assert response.status_code == 200, (endpoint, caller, response.status_code)


@pytest.mark.parametrize("caller", CALLERS)
def test_private_routes_answer_the_owner_and_administrators_only(world, caller):
    for endpoint, (_, url) in _urls(world).items():
        if not url:
            continue
        for accept in ("text/html", "text/turtle"):
            response = _get(world, caller, url, Accept=accept)
            if caller in SEES_PRIVATE:
                assert response.status_code == 200, (endpoint, caller, accept)
            else:  # a 404 like any unknown resource: not even the existence of the run leaks
                assert response.status_code == 404, (endpoint, caller, accept, response.status_code)
                body = response.get_data(as_text=True)
                assert "alice" not in body and "private" not in body, (endpoint, caller)


@pytest.mark.parametrize("caller", CALLERS)
def test_lists_and_linked_resources_hold_private_items_for_the_owner_only(world, caller):
    private_run = world["private"].run_id
    sees = caller in SEES_PRIVATE
    listing = _get(world, caller, "/data").get_data(as_text=True)
    assert (private_run in listing) == sees and world["public"].run_id in listing
    home = _get(world, caller, "/").get_data(as_text=True)
    assert (f"from {2 if sees else 1} run(s)" in home), caller
    agent = _get(world, caller, "/agent/alice", Accept="text/turtle")
    assert agent.status_code == (200 if sees else 404)  # alice appears in her private run only
    model = _get(world, caller, "/model/contrast-detail/v1", Accept="text/turtle").get_data(as_text=True)
    assert model and private_run not in model


HOSTILE = [  # every way a query could reach alice's run: through the union, FROM, FROM NAMED, GRAPH, DESCRIBE
    "SELECT ?run WHERE {{ ?run a vip:SimulationRun }}",
    "SELECT ?run FROM <{graph}> WHERE {{ ?run a vip:SimulationRun }}",
    "SELECT ?run FROM NAMED <{graph}> WHERE {{ GRAPH ?g {{ ?run a vip:SimulationRun }} }}",
    "SELECT ?run WHERE {{ GRAPH <{graph}> {{ ?run a vip:SimulationRun }} }}",
    "SELECT ?run WHERE {{ GRAPH ?g {{ ?run ?p ?o }} FILTER (CONTAINS(STR(?g), 'private')) }}",
    "SELECT ?run WHERE {{ GRAPH ?catalog {{ ?run <http://purl.org/dc/terms/identifier> ?hash }} }}",
    "DESCRIBE <{run}>",
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("query", HOSTILE)
def test_sparql_sees_what_the_caller_may_see(world, caller, query):
    private = world["private"]
    graph = Graphs.for_resource("run", f"{BASE}run/{private.run_id}", owner="alice")
    text = query.format(graph=graph, run=f"{BASE}run/{private.run_id}")
    for extra in ({}, {"default-graph-uri": str(graph), "named-graph-uri": str(graph)}):
        url = "/sparql?" + urllib.parse.urlencode({"query": text, **extra})
        response = _get(world, caller, url, Accept="application/sparql-results+json, text/turtle")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data(as_text=True)
        if caller not in SEES_PRIVATE:
            assert private.run_id not in body and "private/alice" not in body, (caller, text, extra)
    union = _get(world, caller, "/sparql?" + urllib.parse.urlencode({"query": text.replace("FROM NAMED", "FROM")}),
                 Accept="application/sparql-results+json, text/turtle").get_data(as_text=True)
    if caller in SEES_PRIVATE and query == HOSTILE[0]:
        assert private.run_id in union and world["public"].run_id in union


def test_dataset_parameters_narrow_the_view(world):
    model_graph = str(Graphs.for_resource("model", f"{BASE}model/brain/v1"))
    url = "/sparql?" + urllib.parse.urlencode({"query": "SELECT ?m WHERE { ?m a vip:ObjectModel }",
                                               "default-graph-uri": model_graph})
    rows = json.loads(_get(world, "bob", url, Accept="application/sparql-results+json").data)["results"]["bindings"]
    assert [r["m"]["value"] for r in rows] == [f"{BASE}model/brain/v1"]
    bad = _get(world, "bob", "/sparql?" + urllib.parse.urlencode({"query": "ASK {}", "default-graph-uri": "x y"}),
               Accept="application/json")
    assert bad.status_code == 400 and "not a graph IRI" in bad.json["errorMessage"]


INSERT = """INSERT DATA {{ GRAPH <{graph}> {{ <https://w3id.org/vipkb/note/{name}> rdfs:label "note" }} }}"""


@pytest.mark.parametrize("caller, status", [("anonymous", 401), ("alice", 403), ("bob", 403), ("anna", 403),
                                            ("root", 200)])
def test_writes_through_sparql_are_for_administrators_only(world, caller, status):
    graph = Graphs.private_prefix("alice") + f"notes/{caller}"
    headers = {"Content-Type": "application/sparql-update", "Accept": "application/json"}
    if caller != "anonymous":
        headers["apikey"] = world["keys"][caller]
    response = world["app"].test_client().post("/sparql", data=INSERT.format(graph=graph, name=caller),
                                               headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    written = world["kb"].query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").boolean
    assert written == (status == 200)


@pytest.mark.parametrize("key", ["", "vk_00000000_" + "x" * 43, "not-a-key"])
def test_bad_keys_are_401_without_detail(world, key):
    response = world["app"].test_client().get(f"/data/{world['private_data']}", headers={"apikey": key or " "})
    assert response.status_code == 401
    assert response.json["errorMessage"] == "invalid or revoked API key"


def test_a_revoked_key_and_a_disabled_account_lose_access_at_once(world, tmp_path):
    accounts = world["app"].config["ACCOUNTS"]
    info, key = accounts.issue_key("alice")
    url = f"/data/{world['private_data']}"
    assert world["app"].test_client().get(url, headers={"apikey": key}).status_code == 200
    accounts.revoke_key(info.key_id)
    assert world["app"].test_client().get(url, headers={"apikey": key}).status_code == 401
    accounts.disable("alice")
    try:
        assert _get(world, "alice", url).status_code == 401
    finally:
        accounts.enable("alice")
    assert _get(world, "alice", url).status_code == 200


def test_a_session_sees_its_own_private_data(world):
    client = world["app"].test_client()
    url = f"/data/{world['private_data']}"
    assert client.get(url).status_code == 404
    login(client, "alice")
    page = client.get(url)
    assert page.status_code == 200 and "private to alice" in page.get_data(as_text=True)
    assert world["private"].run_id in client.get("/data").get_data(as_text=True)
