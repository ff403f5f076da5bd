"""`vipkb run`, `runs`, `campaign` and `files`, end to end on an on-disk store."""

from __future__ import annotations

import json

from vipkb.cli import main

RUN = ["run", "--model", "contrast-detail", "--simulator", "mri", "-p", "matrix_readout=32", "-p",
       "matrix_phase=32", "--seed", "2", "--backend", "inline"]


def _run_id(output: str) -> str:
    return next(line.split()[1].rstrip(":") for line in output.splitlines() if line.startswith("run "))


def test_run_then_list_show_and_fetch_its_files(initialised, tmp_path):
    result = initialised.invoke(main, RUN)
    assert result.exit_code == 0, result.output
    run_id = _run_id(result.output)
    assert f"run {run_id}: succeeded" in result.output
    assert "instants: 1/1 tasks (100%)" in result.stderr  # plain progress lines when not on a terminal
    again = initialised.invoke(main, RUN)
    assert "already done; nothing recomputed" in again.output

    listed = json.loads(initialised.invoke(main, ["runs", "--format", "json"]).output)
    assert [(r["id"], r["status"], r["simulator"], r["backend"]) for r in listed] == \
        [(run_id, "succeeded", "mri", "inline")]
    assert json.loads(initialised.invoke(main, ["runs", "--status", "failed", "--format", "json"]).output) == []

    shown = initialised.invoke(main, ["run", "show", run_id])
    assert shown.exit_code == 0
    assert "status: succeeded" in shown.output and "matrix_readout=32" in shown.output
    assert "tasks: 1 on 1 worker(s)" in shown.output and f"run/{run_id}/image.nii.gz" in shown.output
    details = json.loads(initialised.invoke(main, ["run", "show", run_id, "--json"]).output)
    assert details["seed"] == 2 and details["status"] == "succeeded"

    files = json.loads(initialised.invoke(main, ["files", "ls", f"run/{run_id}/", "--format", "json"]).output)
    assert sorted(f["lfn"].rsplit("/", 1)[1] for f in files) == ["image.nii.gz", "kspace.npy", "metadata.json",
                                                                  "preview.png"]
    assert all(f["replicas"] == ["se1", "se2"] for f in files)
    image = next(f for f in files if f["lfn"].endswith("image.nii.gz"))
    got = initialised.invoke(main, ["files", "get", image["lfn"], "-o", str(tmp_path / "image.nii.gz")])
    assert got.exit_code == 0 and (tmp_path / "image.nii.gz").stat().st_size == image["size"]


def test_verify_finds_a_corrupt_replica_get_falls_back_and_replicate_repairs(initialised, tmp_path):
    assert initialised.invoke(main, ["files", "verify", "model/brain/"]).exit_code == 0
    files = json.loads(initialised.invoke(main, ["files", "ls", "model/brain/v1/", "--format", "json"]).output)
    target = next(f for f in files if f["lfn"].endswith("anatomy.nii.gz"))
    blob = next((tmp_path / "cli-files" / "se1").rglob(target["sha256"]))
    blob.write_bytes(b"rotten")
    verified = initialised.invoke(main, ["files", "verify", "model/brain/"])
    assert verified.exit_code == 1 and f"corrupt     {target['lfn']} on se1" in verified.output
    got = initialised.invoke(main, ["files", "get", target["lfn"], "-o", str(tmp_path / "a.nii.gz")])
    assert got.exit_code == 0 and "replica on se1 is corrupt" in got.stderr
    assert (tmp_path / "a.nii.gz").stat().st_size == target["size"]
    repaired = initialised.invoke(main, ["files", "replicate", "model/brain/"])
    assert repaired.exit_code == 0 and f"copied {target['lfn']} -> se1" in repaired.output
    assert initialised.invoke(main, ["files", "verify", "model/brain/"]).exit_code == 0
    unknown = initialised.invoke(main, ["files", "replicate", "--to", "tape"])
    assert unknown.exit_code == 1 and "no storage element tape" in unknown.stderr


def test_run_errors_are_one_line(initialised):
    missing = initialised.invoke(main, ["run", "--model", "brain"])
    assert missing.exit_code == 2 and "give --model and --simulator" in missing.output
    bad = initialised.invoke(main, ["run", "--model", "beating-heart", "--simulator", "ct"])
    assert bad.exit_code == 1 and "ct cannot simulate" in bad.stderr
    bad_param = initialised.invoke(main, ["run", "--model", "brain", "--simulator", "mri", "-p", "tr=fast"])
    assert bad_param.exit_code == 1 and "tr" in bad_param.stderr
    assert initialised.invoke(main, ["run", "show", "nope"]).exit_code == 1
    assert "no run 'nope'" in initialised.invoke(main, ["run", "kill", "nope"]).stderr
    done = initialised.invoke(main, RUN)
    killed = initialised.invoke(main, ["run", "kill", _run_id(done.output)])
    assert killed.exit_code == 1 and "already ended (succeeded)" in killed.stderr


def test_campaign_from_a_sparql_filter(initialised):
    dry = initialised.invoke(main, ["campaign", "--modality", "MR", "--dry-run"])
    assert dry.exit_code == 0 and "campaign: 5 run(s)" in dry.stderr
    assert "beating-heart/v1 (10 instant(s))" in dry.output
    where = initialised.invoke(main, ["campaign", "--dry-run", "--where",
                                      'CONTAINS(STR(?model), "contrast") && ?name = "radiography"'])
    assert where.exit_code == 0 and where.output.count("radiography on") == 1
    bad = initialised.invoke(main, ["campaign", "--where", "?model ==="])
    assert bad.exit_code == 1 and "malformed SPARQL" in bad.stderr
    matched = initialised.invoke(main, ["match", "--where", '?name = "pet"', "--format", "json"])
    assert {p["simulator_name"] for p in json.loads(matched.output)} == {"pet"}


def test_campaign_runs_every_pair(initialised):
    result = initialised.invoke(main, ["campaign", "--model", "contrast-detail", "--simulator", "radiography",
                                       "--backend", "inline"])
    assert result.exit_code == 0, result.output
    assert result.output.count(": succeeded") == 1


def test_kill_a_running_cli_run_then_resume_it(initialised, tmp_path):
    # Two real `vipkb` processes on the embedded store: the second kills the first through the run directory.
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    vipkb = [str(Path(sys.executable).parent / "vipkb")]
    command = vipkb + ["run", "--model", "contrast-detail", "--simulator", "pet", "-p", "events=600000",
                       "-p", "events_per_batch=10000", "-p", "iterations=1", "--backend", "local"]
    env = dict(os.environ)
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "cli-runs"
    deadline = time.monotonic() + 120
    while not any(runs.glob("*/tasks/*.json")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.1)
    run_id = next(runs.iterdir()).name
    killer = subprocess.run(vipkb + ["run", "kill", run_id], env=env, capture_output=True, text=True, timeout=120)
    assert killer.returncode == 0 and f"run {run_id}: killed" in killer.stdout, killer.stderr
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 1 and f"run {run_id}: killed" in out
    done = len(list((runs / run_id / "tasks").glob("*.json")))
    assert 1 <= done < 61
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0 and f"run {run_id}: succeeded ({done} task(s) resumed" in resumed.stdout


def test_a_private_run_for_an_account(initialised, tmp_path):
    unknown = initialised.invoke(main, [*RUN, "--private-to", "alice"])
    assert unknown.exit_code == 1 and "alice" in unknown.stderr
    assert initialised.invoke(main, ["user", "add", "alice", "--role", "user", "--no-password"]).exit_code == 0
    public = _run_id(initialised.invoke(main, RUN).output)
    result = initialised.invoke(main, [*RUN, "--private-to", "alice"])
    assert result.exit_code == 0, result.output
    private = _run_id(result.output)
    assert private != public  # the same inputs, but alice's own run
    listed = json.loads(initialised.invoke(main, ["runs", "--format", "json"]).output)
    assert {(r["id"], r["private_to"]) for r in listed} == {(public, None), (private, "alice")}
    mine = json.loads(initialised.invoke(main, ["runs", "--private-to", "alice", "--format", "json"]).output)
    assert [r["id"] for r in mine] == [private]
    shown = initialised.invoke(main, ["run", "show", private])
    assert "private to: alice" in shown.output and "agent: alice" in shown.output
    files = json.loads(initialised.invoke(main, ["files", "ls", f"run/{private}/", "--format", "json"]).output)
    assert len(files) == 4 and {f["owner"] for f in files} == {"alice"}
    # Repairing a private file's replica rewrites its entry in alice's graphs, not the public ones.
    next((tmp_path / "cli-files" / "se2").rglob(files[0]["sha256"])).unlink()
    assert initialised.invoke(main, ["files", "replicate", f"run/{private}/"]).exit_code == 0
    again = json.loads(initialised.invoke(main, ["files", "ls", f"run/{private}/", "--format", "json"]).output)
    assert {f["owner"] for f in again} == {"alice"} and all(f["replicas"] == ["se1", "se2"] for f in again)
    assert initialised.invoke(main, ["files", "verify", f"run/{private}/"]).exit_code == 0
