"""The administration from the shell: `vipkb backend status`, `files health`, `runs --failed`, `stats --graphs`."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from tests.test_backends import DaskProcesses, _free_port
from vipkb import KnowledgeBase, Settings
from vipkb.backends import backend_status
from vipkb.cli import main
from vipkb.runs import execute_run, plan_run

PARAMS = {"matrix_readout": 32, "matrix_phase": 32}


@pytest.fixture
def with_failure(initialised):
    """The CLI's knowledge base with a run private to alice that failed (planned for a stale simulator version)."""
    with KnowledgeBase.open(Settings.from_env()) as kb:
        spec = dataclasses.replace(plan_run(kb, "contrast-detail", "mri", PARAMS, seed=4, owner="alice"),
                                   version="0.0-stale")
        outcome = execute_run(kb, spec, backend="inline", agent="alice")
    assert outcome.status == "failed"
    return initialised, outcome.run_id


def test_runs_failed_lists_the_failures_of_every_user_with_their_cause(with_failure):
    runner, run_id = with_failure
    public = runner.invoke(main, ["run", "--model", "contrast-detail", "--simulator", "mri", "-p", "matrix_readout=32",
                                  "-p", "matrix_phase=32", "--backend", "inline"])
    assert public.exit_code == 0, public.output
    listed = json.loads(runner.invoke(main, ["runs", "--format", "json"]).output)
    assert [r["status"] for r in listed] == ["failed", "succeeded"]  # failures first
    failed = json.loads(runner.invoke(main, ["runs", "--failed", "--format", "json"]).output)
    assert [(r["id"], r["private_to"], r["agent"]) for r in failed] == [(run_id, "alice", "alice")]
    assert failed[0]["reason"].startswith("SimulationError: ")
    assert failed[0]["cause"].startswith(f"run {run_id} was planned with mri 0.0-stale")
    table = runner.invoke(main, ["runs", "--failed"])
    assert table.exit_code == 0 and "cause" in table.output and "was planned with mri 0.0-stale" in table.output
    clash = runner.invoke(main, ["runs", "--failed", "--status", "succeeded"])
    assert clash.exit_code == 2 and "exclude each other" in clash.output


def test_stats_graphs_counts_graphs_per_owner_matching_sparql(with_failure):
    runner, _ = with_failure
    stats = json.loads(runner.invoke(main, ["stats", "--graphs", "--json"]).output)
    query = ("SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
             "FILTER (STRSTARTS(STR(?g), 'https://w3id.org/vipkb/graph/private/alice/')) }")
    answer = json.loads(runner.invoke(main, ["query", query, "--format", "json"]).output)
    private = int(answer["results"]["bindings"][0]["n"]["value"])
    graphs = {g["owner"]: g for g in stats["graphs"]}
    assert set(graphs) == {None, "alice"} and graphs["alice"]["graphs"] == private > 0
    assert sum(g["graphs"] for g in stats["graphs"]) == stats["counts"]["named graphs"]
    assert sum(g["quads"] for g in stats["graphs"]) == stats["counts"]["quads"]
    assert stats["counts"]["runs"] == 1
    table = runner.invoke(main, ["stats", "--graphs"])
    assert table.exit_code == 0 and "private to alice" in table.output and "public" in table.output
    assert json.loads(runner.invoke(main, ["stats", "--json"]).output) == stats["counts"]  # unchanged without it


def test_files_health_counts_copies_and_verify_finds_a_damaged_one(initialised, tmp_path):
    healthy = initialised.invoke(main, ["files", "health"])
    assert healthy.exit_code == 0, healthy.output
    assert "se1" in healthy.output and "se2" in healthy.output and "0 lack a copy" in healthy.output
    summary = json.loads(initialised.invoke(main, ["files", "health", "model/brain/", "--json"]).output)
    assert summary["health"] is None and all(e["files"] == summary["files"] > 0 for e in summary["elements"])

    files = json.loads(initialised.invoke(main, ["files", "ls", "model/brain/v1/", "--format", "json"]).output)
    target = next(f for f in files if f["lfn"].endswith("anatomy.nii.gz"))
    next((tmp_path / "cli-files" / "se1").rglob(target["sha256"])).write_bytes(b"rotten")
    checked = initialised.invoke(main, ["files", "health", "model/brain/", "--verify"])
    assert checked.exit_code == 1
    assert f"corrupt     {target['lfn']} on se1" in checked.output and "files replicate" in checked.stderr
    report = json.loads(initialised.invoke(main, ["files", "health", "model/brain/", "--verify", "--json"]).output)
    by_element = {e["name"]: e for e in report["health"]["elements"]}
    assert by_element["se1"]["corrupt"] == 1 and by_element["se1"]["ok"] == report["files"] - 1
    assert by_element["se2"]["ok"] == report["files"] and by_element["se2"]["bad"] == 0
    assert report["health"]["problems"] == [{"lfn": target["lfn"], "element": "se1", "state": "corrupt"}]


def test_backend_status_of_builtin_backends(runner, monkeypatch):
    inline = runner.invoke(main, ["backend", "status", "--backend", "inline"])
    assert inline.exit_code == 0 and "worker slots: 1" in inline.output
    local = json.loads(runner.invoke(main, ["backend", "status", "--backend", "local", "--json"]).output)
    assert local["ok"] and local["slots"] == local["cpus"] >= 1 and local["workers"] == []
    monkeypatch.setenv("VIPKB_RUN_BACKEND", "dask")  # the web platform's setting is the default
    dask = json.loads(runner.invoke(main, ["backend", "status", "--json"]).output)
    assert dask["backend"] == "dask" and "LocalCluster" in dask["message"]
    unknown = runner.invoke(main, ["backend", "status", "--backend", "slurm"])
    assert unknown.exit_code == 1 and "no execution backend named 'slurm'" in unknown.stderr


def test_backend_status_of_an_unreachable_scheduler_exits_1(runner):
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = runner.invoke(main, ["backend", "status", "--backend", address, "--timeout", "0.5"])
    assert result.exit_code == 1 and f"scheduler unreachable at {address}" in result.output


def test_backend_status_lists_the_workers_of_a_real_scheduler(runner):
    cluster = DaskProcesses(2)
    try:
        deadline = time.monotonic() + 60
        while len(backend_status(cluster.address, timeout=2).workers) < 2:
            assert time.monotonic() < deadline, "the dask workers did not connect"
            time.sleep(0.3)
        result = runner.invoke(main, ["backend", "status", "--backend", cluster.address])
        assert result.exit_code == 0, result.output
        assert "2 worker(s), 2 thread(s)" in result.output and "worker slots: 2" in result.output
        data = json.loads(runner.invoke(main, ["backend", "status", "--backend", cluster.address, "--json"]).output)
        assert sorted(w["name"] for w in data["workers"]) == ["w0", "w1"]
    finally:
        cluster.stop()
