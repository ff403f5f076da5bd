"""Simulation definition and monitoring on the web: compatible simulators only, a form from the RDF
description checked by the plugin's rules, a private run launched in the background and watched."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import PASSWORD, csrf_token, login
from vipkb.accounts import AccountStore
from vipkb.matching import find_matches
from vipkb.runs import queue_run, run_status
from vipkb.simulation.registry import get_simulator
from webapp import create_app

FORM = {"model": "contrast-detail", "simulator": "mri", "instant": "0/0", "seed": "3",
        "matrix_readout": "32", "matrix_phase": "32"}


@pytest.fixture(scope="module")
def site(web_kb, tmp_path_factory):
    accounts = AccountStore(tmp_path_factory.mktemp("simulate") / "accounts.sqlite")
    for name in ("alice", "bob"):
        accounts.create_user(name, "user", PASSWORD)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": accounts, "RUN_BACKEND": "inline"}, kb=web_kb)
    return app


def _signed_in(app, name: str):
    client = app.test_client()
    login(client, name)
    return client


def test_only_compatible_simulators_are_offered(site, web_kb):
    client = _signed_in(site, "alice")
    for model in ("contrast-detail", "beating-heart"):
        page = client.get(f"/simulate?model={model}").get_data(as_text=True)
        offered = set(re.findall(r"simulator=([a-z]+)", page))
        expected = {m.simulator_name for m in find_matches(web_kb, model=f"https://w3id.org/vipkb/model/{model}/v1")}
        assert offered == expected and offered
    assert client.get("/simulate?model=beating-heart&simulator=nope").status_code == 404


def test_the_form_comes_from_the_description_and_the_plugin_checks_it(site):
    client = _signed_in(site, "alice")
    page = client.get("/simulate?model=contrast-detail&simulator=mri").get_data(as_text=True)
    fields = re.findall(r'<input id="p-([a-z_0-9]+)"|<select id="p-([a-z_0-9]+)"', page)
    names = {a or b for a, b in fields}
    assert names == {s.name for s in get_simulator("mri").Parameters.specs()}
    spec = next(s for s in get_simulator("mri").Parameters.specs() if s.name == "matrix_readout")
    assert f'min="{spec.minimum:g}"' in page or f'min="{spec.minimum}"' in page
    form_url = "/simulate?model=contrast-detail&simulator=mri"
    bad = dict(FORM, matrix_readout="many", csrf_token=csrf_token(client, form_url))
    response = client.post("/simulate", data=bad)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="error-matrix_readout"' in body
    assert "matrix_readout = &#39;many&#39; is not a valid int" in body  # the CLI's own message
    assert 'value="many"' in body  # what the user typed is kept
    no_token = client.post("/simulate", data=FORM)
    assert no_token.status_code == 400


def test_launch_watch_and_read_the_results(site, web_kb):
    alice = _signed_in(site, "alice")
    form = dict(FORM, csrf_token=csrf_token(alice, "/simulate?model=contrast-detail&simulator=mri"))
    launched = alice.post("/simulate", data=form)
    assert launched.status_code == 303
    run_id = launched.headers["Location"].rsplit("/", 1)[1]
    site.extensions["launcher"].wait(run_id, timeout=120)
    assert run_status(web_kb, run_id) == "succeeded"
    state = alice.get(f"/runs/{run_id}/progress.json").json
    assert state["final"] and state["status"] == "succeeded" and state["progress"]["done"] == 1
    assert "submitted by alice" in state["log"] and "succeeded: 4 output file(s)" in state["log"]
    page = alice.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "private to alice" in page and 'id="results"' in page and "image.nii.gz" in page
    preview = re.search(r'<img src="([^"]+preview.png)"', page).group(1)
    assert alice.get(preview).mimetype == "image/png"
    image = re.search(r'href="([^"]+image.nii.gz)" download', page).group(1)
    assert alice.get(image).headers["Content-Disposition"].endswith("image.nii.gz")
    assert run_id in alice.get("/runs?mine=1").get_data(as_text=True)
    bob = _signed_in(site, "bob")
    assert bob.get(f"/runs/{run_id}").status_code == 404 and run_id not in bob.get("/runs").get_data(as_text=True)
    again = alice.post("/simulate", data=form)  # the same private run: found, not recomputed
    assert again.headers["Location"].endswith(run_id)


def test_a_queued_run_is_killed_by_its_owner_and_says_why(site, web_kb):
    from vipkb.runs import plan_run

    spec = plan_run(web_kb, "contrast-detail", "mri", {"matrix_readout": 32, "matrix_phase": 32}, seed=99,
                    owner="alice")
    queue_run(web_kb, spec, backend="inline", agent="alice")
    alice = _signed_in(site, "alice")
    page = alice.get(f"/runs/{spec.id}").get_data(as_text=True)
    assert 'id="kill"' in page and "queued" in page
    killed = alice.post(f"/runs/{spec.id}/kill", data={"csrf_token": csrf_token(alice, f"/runs/{spec.id}")})
    assert killed.status_code == 303 and run_status(web_kb, spec.id) == "killed"
    page = alice.get(f"/runs/{spec.id}").get_data(as_text=True)
    assert "The run was stopped: killed by alice" in page and 'id="kill"' not in page


def test_runs_left_queued_are_resumed_by_the_next_server(web_kb, tmp_path):
    from vipkb.runs import plan_run

    spec = plan_run(web_kb, "contrast-detail", "mri", {"matrix_readout": 32, "matrix_phase": 32}, seed=7,
                    owner="alice")
    queue_run(web_kb, spec, backend="inline", agent="alice")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ACCOUNTS": AccountStore(tmp_path / "a.sqlite"),
                      "RUN_BACKEND": "inline"}, kb=web_kb)
    app.extensions["launcher"].wait(spec.id, timeout=120)
    assert run_status(web_kb, spec.id) == "succeeded"


def test_a_run_killed_while_waiting_for_a_slot_is_not_executed(web_kb, tmp_path):
    import threading

    from vipkb.runs import kill_run, plan_run
    from vipkb.runs.launcher import Launcher

    launcher = Launcher(web_kb, backend="inline", slots=1)
    gate = threading.Event()
    launcher._pool.submit(gate.wait)  # the only slot is busy
    spec = plan_run(web_kb, "contrast-detail", "mri", {"matrix_readout": 32, "matrix_phase": 32}, seed=11,
                    owner="alice")
    launcher.submit(spec, agent="alice")
    assert run_status(web_kb, spec.id) == "queued" and launcher.active() == [spec.id]
    assert kill_run(web_kb, spec.id, wait=1) == "killed"
    gate.set()
    launcher.wait(spec.id, timeout=60)
    assert run_status(web_kb, spec.id) == "killed"
    launcher.close()
