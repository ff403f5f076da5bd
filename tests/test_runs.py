"""Runs end to end: planned from the graph, executed on backends, checkpointed, killed, resumed, recorded.

Real components throughout: an Oxigraph store (in memory, or on disk for
the process-kill test), the local process pool and a Dask LocalCluster of
worker processes, files on two local storage elements.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from vipkb import KnowledgeBase, Settings
from vipkb.errors import ParameterError, SimulationError, StoreError, UnknownResourceError
from vipkb.runs import RunSpec, execute_run, kill_run, list_runs, plan_campaign, plan_run, show_run
from vipkb.runs.workdir import RunDirectory
from vipkb.storage import FileCatalog
from vipkb.stores.oxigraph_ import EmbeddedStore

SMALL_MRI = {"matrix_readout": 32, "matrix_phase": 32, "fov_readout": 200, "fov_phase": 200}
SMALL_PET = {"events": 40_000, "events_per_batch": 10_000, "iterations": 2, "subsets": 4}


def _settings(root: Path, files_url: str, **extra) -> Settings:
    return Settings(files_url=files_url, cache_dir=root / "cache", runs_dir=root / "runs", **extra)


@pytest.fixture
def kb(seeded_kb, tmp_path) -> KnowledgeBase:
    """A private copy of the seeded knowledge base (bundled models and simulators), same storage elements."""
    store = EmbeddedStore(None)
    store.oxigraph.extend(seeded_kb.store.oxigraph)
    return KnowledgeBase(store, settings=_settings(tmp_path, seeded_kb.settings.files_url))


def _outputs(kb: KnowledgeBase, run_id: str) -> dict[str, bytes]:
    catalog = FileCatalog(kb)
    prefix = f"run/{run_id}/"
    return {r.lfn[len(prefix):]: catalog.read(r) for r in catalog.records(prefix)}


def _image(data: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


# -- planning -------------------------------------------------------------------


def test_plan_fills_defaults_and_names_the_run_by_what_decides_its_result(kb):
    spec = plan_run(kb, "contrast-detail", "mri", {"tr": "600"}, seed=4)
    assert spec.model.endswith("/model/contrast-detail/v1") and spec.instants == ((0, 0),)
    assert spec.values["tr"] == 600.0 and spec.values["te"] == 15.0  # text parsed, defaults filled in
    assert spec.id.startswith("mri-contrast-detail-v1-")
    assert plan_run(kb, "contrast-detail", "mri", {"tr": 600.0}, seed=4).id == spec.id
    assert plan_run(kb, "contrast-detail", "mri", {"tr": 600.0}, seed=5).id != spec.id
    assert RunSpec.from_dict(json.loads(json.dumps(spec.as_dict()))) == spec
    heart = plan_run(kb, "beating-heart", "mri")
    assert heart.instants == tuple((0, i) for i in range(10))


def test_plan_refuses_what_the_graph_says_cannot_run(kb):
    with pytest.raises(SimulationError, match="ct cannot simulate .*beating-heart.*vipkb match"):
        plan_run(kb, "beating-heart", "ct")
    with pytest.raises(SimulationError, match=r"cannot simulate instant\(s\) 0/42"):
        plan_run(kb, "beating-heart", "mri", instants=[(0, 42)])
    with pytest.raises(ParameterError, match="tr"):
        plan_run(kb, "brain", "mri", {"tr": "-3"})
    with pytest.raises(ParameterError, match="seed"):
        plan_run(kb, "brain", "mri", seed=-1)
    with pytest.raises(UnknownResourceError, match="no model 'liver'"):
        plan_run(kb, "liver", "mri")


def test_campaign_is_generated_by_the_match_query(kb):
    specs = plan_campaign(kb, modality="MR")
    pairs = {(s.model.rsplit("/model/", 1)[1], s.simulator) for s in specs}
    assert pairs == {(m, "mri") for m in ("abdomen/v1", "beating-heart/v1", "brain/v1", "brain-mr-only/v1",
                                          "contrast-detail/v1")}
    heart = next(s for s in specs if "beating-heart" in s.model)
    assert len(heart.instants) == 10  # one run (one time series) per pair, not one per instant
    only = plan_campaign(kb, where='CONTAINS(STR(?model), "contrast") && ?name IN ("ct", "pet")')
    assert sorted(s.simulator for s in only) == ["ct", "pet"]
    from vipkb.errors import QueryError

    with pytest.raises(QueryError):
        plan_campaign(kb, where="?model ===")


# -- execution, outputs, provenance ------------------------------------------------


def test_a_run_records_provenance_and_catalogues_its_outputs(kb):
    spec = plan_run(kb, "abdomen", "mri", SMALL_MRI, seed=3)
    outcome = execute_run(kb, spec, backend="inline", agent="alice")
    assert outcome.status == "succeeded" and not outcome.reused
    files = _outputs(kb, spec.id)
    assert set(files) == {"image.nii.gz", "kspace.npy", "metadata.json", "preview.png"}
    # The bytes are those of the plugin run in process with the same seed.
    from vipkb.simulation.runner import load_instant, run_simulator

    direct = run_simulator("mri", load_instant(kb, "abdomen"), spec.values, seed=3).files()
    assert files == direct
    # "Which simulated MR images were derived from models with a liver tumour, by which simulator version and
    # parameters?" -- one SPARQL query over the provenance.
    rows = kb.query("""
        SELECT ?data ?version ?te ?who WHERE {
          ?data a vip:SimulatedData ; vip:imagingModality vip:MR ; vip:outputKind vip:Image ;
                prov:wasDerivedFrom ?instant ; prov:wasGeneratedBy ?run .
          ?model vip:hasTimePoint/vip:hasInstant ?instant .
          ?model vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart/vip:depicts
                 /rdfs:subClassOf* vip:LiverTumour .
          ?run vip:softwareVersion ?version ; prov:wasAssociatedWith ?who .
          ?who a prov:Person .
          ?run vip:hasSetting [ vip:parameterName "te" ; vip:settingValue ?te ] .
        }""").rows
    assert [(r["version"].value, float(r["te"].value), r["who"].value.rsplit("/", 1)[1]) for r in rows] == \
        [("1.0.0", 15.0, "alice")]
    details = show_run(kb, spec.id)
    assert details.status == "succeeded" and details.agent == "alice" and details.backend == "inline"
    assert details.seed == 3 and details.settings["matrix_readout"] == "32"
    assert [t["key"] for t in details.tasks] == ["tp0-i0"] and details.tasks[0]["seconds"] > 0
    assert details.started <= details.ended
    assert {o["kind"] for o in details.outputs} >= {"Image", "KSpace", "Preview"}
    assert [r.status for r in list_runs(kb)] == ["succeeded"]
    assert list_runs(kb, status="failed") == []
    # Asking again computes nothing.
    again = execute_run(kb, spec, backend="inline")
    assert again.reused and again.status == "succeeded" and len(again.outputs) == 4


def test_a_3d_t_model_gives_one_task_per_instant_and_a_4d_time_series(kb):
    spec = plan_run(kb, "beating-heart", "mri", SMALL_MRI, seed=1)
    outcome = execute_run(kb, spec, backend="local")
    assert outcome.status == "succeeded", outcome.reason
    files = _outputs(kb, spec.id)
    series = _image(files["series.nii.gz"])
    assert series.shape == (32, 32, 1, 10)
    for i in range(10):
        frame = _image(files[f"tp0-i{i}/image.nii.gz"])
        np.testing.assert_array_equal(np.asanyarray(series.dataobj)[..., i], np.asanyarray(frame.dataobj))
        np.testing.assert_allclose(series.affine, frame.affine)
    times = [float(r["time"].value) for r in kb.query(
        f"SELECT ?time WHERE {{ <{spec.model}> vip:hasTimePoint/vip:hasInstant/vip:instantTime ?time }} "
        "ORDER BY ?time").rows]
    assert series.header.get_zooms()[3] == pytest.approx(np.mean(np.diff(times)), rel=1e-6)
    # The instants move: not ten copies of one image.
    assert not np.array_equal(np.asanyarray(series.dataobj)[..., 0], np.asanyarray(series.dataobj)[..., 4])
    details = show_run(kb, spec.id)
    assert sorted(t["key"] for t in details.tasks) == sorted(f"tp0-i{i}" for i in range(10))
    derived = kb.query(f"""SELECT (COUNT(?i) AS ?n) WHERE {{
        <https://w3id.org/vipkb/data/{spec.id}/series> a vip:SimulatedData ; vip:outputKind vip:TimeSeries ;
            prov:wasDerivedFrom ?i . ?i a vip:Instant }}""").rows
    assert int(derived[0]["n"].value) == 10


@pytest.mark.parametrize("backend", ["inline", "local", "dask"])
def test_the_same_monte_carlo_run_gives_the_same_bytes_on_every_backend(kb, backend, tmp_path):
    spec = plan_run(kb, "contrast-detail", "pet", SMALL_PET, seed=11)
    outcome = execute_run(kb, spec, backend=backend)
    assert outcome.status == "succeeded", outcome.reason
    from vipkb.simulation.runner import load_instant, run_simulator

    direct = run_simulator("pet", load_instant(kb, "contrast-detail"), spec.values, seed=11).files()
    files = _outputs(kb, spec.id)
    for name in ("image.nii.gz", "sinogram.npy"):
        assert files[name] == direct[name]
    keys = [t["key"] for t in show_run(kb, spec.id).tasks]
    assert keys == [f"tp0-i0-b{b:05d}" for b in range(4)] + ["tp0-i0-finish"]


# -- checkpoints, kill, failures -----------------------------------------------------


def test_killed_mid_run_then_resumed_recomputes_nothing_and_gives_the_same_result(kb, seeded_kb, tmp_path):
    spec = plan_run(kb, "contrast-detail", "pet", SMALL_PET, seed=5)
    workdir = RunDirectory(kb.settings.runs_dir, spec.id)

    def kill_after_two(done: int, total: int, phase: str) -> None:
        if phase == "events" and done == 2:
            workdir.request_kill("test stop")

    killed = execute_run(kb, spec, backend="local", progress=kill_after_two)
    assert killed.status == "killed" and "test stop" in killed.reason
    details = show_run(kb, spec.id)
    assert details.status == "killed" and "test stop" in details.reason and details.ended
    done_before = set(workdir.done())
    assert len(done_before) >= 2 and not any(k.endswith("finish") for k in done_before)
    first = {k: workdir.load_task(k)[1] for k in done_before}

    resumed = execute_run(kb, spec, backend="local")
    assert resumed.status == "succeeded" and resumed.resumed == len(done_before)
    for key, record in first.items():  # checkpointed tasks were not run again
        assert workdir.load_task(key)[1] == record
    # Same bytes as an uninterrupted run of the same spec elsewhere.
    other = KnowledgeBase(EmbeddedStore(None), settings=_settings(tmp_path / "other", seeded_kb.settings.files_url))
    other.store.oxigraph.extend(seeded_kb.store.oxigraph)
    assert execute_run(other, spec, backend="inline").status == "succeeded"
    mine, theirs = _outputs(kb, spec.id), _outputs(other, spec.id)
    assert mine["image.nii.gz"] == theirs["image.nii.gz"] and mine["sinogram.npy"] == theirs["sinogram.npy"]


_ORCHESTRATOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from vipkb import KnowledgeBase, Settings
    from vipkb.runs import RunSpec, execute_run
    import json

    def main():
        root, files = Path(sys.argv[1]), sys.argv[2]
        settings = Settings(home=root / "kb", files_url=files, cache_dir=root / "cache", runs_dir=root / "runs",
                            reasoner="off")
        spec = RunSpec.from_dict(json.loads((root / "spec.json").read_text()))
        marker = root / "two-done"

        def progress(done, total, phase):
            if done >= 2 and not marker.exists():
                marker.write_text("x")
                time.sleep(3600)  # wait here to be killed

        with KnowledgeBase.open(settings) as kb:
            print(execute_run(kb, spec, backend="inline", progress=progress).status)

    if __name__ == "__main__":
        main()
""")


def test_sigkilled_orchestrator_is_resumed_by_the_next_execution(seeded_kb, tmp_path):
    # An on-disk store shared by two processes in turn, as with `vipkb run` twice.
    settings = Settings(home=tmp_path / "kb", files_url=seeded_kb.settings.files_url, cache_dir=tmp_path / "cache",
                        runs_dir=tmp_path / "runs", reasoner="off")
    with KnowledgeBase.open(settings) as kb:
        kb.store.oxigraph.extend(seeded_kb.store.oxigraph)
        spec = plan_run(kb, "beating-heart", "mri", SMALL_MRI, seed=2)
    (tmp_path / "spec.json").write_text(json.dumps(spec.as_dict()))
    script = tmp_path / "orchestrate.py"
    script.write_text(_ORCHESTRATOR)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path), seeded_kb.settings.files_url])
    deadline = time.monotonic() + 120
    while not (tmp_path / "two-done").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the orchestrator ended before two tasks"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    workdir = RunDirectory(settings.runs_dir, spec.id)
    before = {k: workdir.load_task(k)[1] for k in workdir.done()}
    assert 2 <= len(before) < 10
    with KnowledgeBase.open(settings) as kb:
        assert show_run(kb, spec.id).status == "running" and workdir.owner() is None  # stale: its owner is dead
        outcome = execute_run(kb, spec, backend="inline")
        assert outcome.status == "succeeded" and outcome.resumed == len(before)
        tasks = show_run(kb, spec.id).tasks
    executed_here = [k for k in workdir.done() if workdir.load_task(k)[1]["worker"].endswith(f":{os.getpid()}")]
    assert sorted(executed_here) == sorted(set(workdir.done()) - set(before))  # each task ran exactly once
    assert len(tasks) == 10 and {t["key"] for t in tasks} == set(workdir.done())
    assert {workdir.load_task(k)[1]["worker"] for k in before} == {f"{os.uname().nodename}:{process.pid}"}


def test_kill_run_marks_a_run_without_a_live_orchestrator_and_refuses_finished_runs(kb):
    spec = plan_run(kb, "contrast-detail", "mri", SMALL_MRI)
    from vipkb.runs import queue_run

    queue_run(kb, spec, agent="bob")
    assert show_run(kb, spec.id).status == "queued"
    assert kill_run(kb, spec.id, wait=0) == "killed"
    assert show_run(kb, spec.id).reason == "killed: killed by request"
    assert kill_run(kb, spec.id) == "killed"  # idempotent
    with pytest.raises(UnknownResourceError, match="no run 'nope'"):
        kill_run(kb, "nope")
    # A killed run executed again resumes and succeeds.
    assert execute_run(kb, spec, backend="inline").status == "succeeded"


def test_a_live_run_cannot_be_executed_twice(kb):
    spec = plan_run(kb, "contrast-detail", "mri", SMALL_MRI)
    workdir = RunDirectory(kb.settings.runs_dir, spec.id)
    workdir.path.mkdir(parents=True)
    (workdir.path / "owner.json").write_text(json.dumps({"host": "elsewhere", "pid": 1, "heartbeat": time.time()}))
    from vipkb.runs import RunBusyError

    with pytest.raises(RunBusyError, match="being executed by process 1 on elsewhere"):
        execute_run(kb, spec, backend="inline")


def test_a_task_failing_every_time_fails_the_run_with_its_cause(kb, tmp_path):
    import shutil

    # Private storage elements: every copy of the model's files goes bad after planning.
    shutil.copytree(kb.settings.files_url, tmp_path / "private-files")
    kb.settings = _settings(tmp_path, str(tmp_path / "private-files"))
    spec = plan_run(kb, "contrast-detail", "mri", SMALL_MRI, seed=9)
    for record in FileCatalog(kb).records("model/contrast-detail/"):
        for blob in (tmp_path / "private-files").rglob(record.sha256):
            blob.write_bytes(b"corrupt")
    outcome = execute_run(kb, spec, backend="inline")
    assert outcome.status == "failed"
    assert "BatchFailedError" in outcome.reason and "cannot read model/contrast-detail/v1/" in outcome.reason
    details = show_run(kb, spec.id)
    assert details.status == "failed" and "3 times" in details.reason and details.tasks == []


def _load_and_count(source) -> tuple[str, int, int]:
    from vipkb.runs.tasks import cache_counts

    source.load()
    return cache_counts(source.cache_dir)


def test_a_model_used_by_many_tasks_is_fetched_once_per_worker(kb, tmp_path):
    from vipkb.backends.local_ import LocalBackend
    from vipkb.simulation.runner import instant_sources

    sources = instant_sources(kb, "beating-heart")
    n_files = len(sources[0].files)
    with LocalBackend(n_workers=2) as pool:
        counts = [f.result() for f in [pool.submit(_load_and_count, s) for s in sources * 2]]
    by_worker: dict[str, tuple[int, int]] = {}
    for worker, hits, misses in counts:  # counts are cumulative per process
        by_worker[worker] = max(by_worker.get(worker, (0, 0)), (hits, misses))
    assert 1 <= len(by_worker) <= 2
    assert all(misses <= n_files for _, misses in by_worker.values())  # fetched at most once per worker
    assert sum(m for _, m in by_worker.values()) >= n_files  # and really fetched from the storage elements
    assert sum(h + m for h, m in by_worker.values()) <= 2 * n_files < len(counts) * n_files
    cached = {p.name for p in Path(sources[0].cache_dir).rglob("*") if p.is_file()}
    assert cached == {ref.sha256 for _, ref in sources[0].files}


# -- real Dask scheduler and worker processes ------------------------------------------


def test_a_run_on_a_real_dask_cluster_survives_a_sigkilled_worker(kb):
    from distributed import Client

    from tests.test_backends import DaskProcesses

    cluster = DaskProcesses(2)
    try:
        spec = plan_run(kb, "contrast-detail", "pet", dict(SMALL_PET, events=80_000), seed=21)
        killed: list[int] = []

        def kill_one_worker(done: int, total: int, phase: str) -> None:
            if phase == "events" and done == 2 and not killed:
                with Client(cluster.address, timeout=30, set_as_default=False) as client:
                    pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        outcome = execute_run(kb, spec, backend=cluster.address, progress=kill_one_worker)
        assert killed and outcome.status == "succeeded", outcome.reason
    finally:
        cluster.stop()
    from vipkb.simulation.runner import load_instant, run_simulator

    direct = run_simulator("pet", load_instant(kb, "contrast-detail"), spec.values, seed=21).files()
    assert _outputs(kb, spec.id)["sinogram.npy"] == direct["sinogram.npy"]  # no batch lost or counted twice
    assert len(show_run(kb, spec.id).tasks) == 9  # 8 batches and the reconstruction


def test_a_run_fails_when_the_cluster_has_no_worker_left(kb):
    from tests.test_backends import DaskProcesses

    scheduler_only = DaskProcesses(0)
    try:
        spec = plan_run(kb, "contrast-detail", "mri", SMALL_MRI)
        started = time.monotonic()
        outcome = execute_run(kb, spec, backend=scheduler_only.address, worker_timeout=2)
        assert time.monotonic() - started < 60
    finally:
        scheduler_only.stop()
    assert outcome.status == "failed" and "NoWorkersError" in outcome.reason and "no worker for 2 s" in outcome.reason
    assert show_run(kb, spec.id).status == "failed"


def test_a_damaged_checkpoint_is_recomputed_never_trusted(tmp_path):
    workdir = RunDirectory(tmp_path, "r1")
    workdir.save_task("tp0-i0", {"image.nii.gz": b"abc", "preview.png": b"png"},
                      {"worker": "h:1", "started": 1.0, "finished": 2.0, "attempts": 1})
    outputs, record = workdir.load_task("tp0-i0")
    assert outputs == {"image.nii.gz": b"abc", "preview.png": b"png"} and record["worker"] == "h:1"
    assert workdir.done() == ["tp0-i0"] and workdir.load_task("tp0-i1") is None
    for blob in (tmp_path / "r1" / "objects").rglob("*"):
        if blob.is_file():
            blob.write_bytes(b"bit rot")
    assert workdir.load_task("tp0-i0") is None and workdir.done() == []  # the manifest went with it


def test_owners_elsewhere_count_while_their_heartbeat_is_fresh(tmp_path):
    workdir = RunDirectory(tmp_path, "r2")
    workdir.path.mkdir()
    owner = workdir.path / "owner.json"
    owner.write_text(json.dumps({"host": "elsewhere", "pid": 1, "heartbeat": time.time()}))
    assert workdir.owner()["host"] == "elsewhere" and not workdir.claim()
    owner.write_text(json.dumps({"host": "elsewhere", "pid": 1, "heartbeat": time.time() - 3600}))
    assert workdir.owner() is None and workdir.claim()
    assert workdir.owner()["pid"] == os.getpid()
    workdir.request_kill("stop please")
    assert workdir.kill_requested() == "stop please"
    workdir.release()
    assert workdir.owner() is None
    with pytest.raises(StoreError, match="describes a different run"):
        workdir.write_spec({"a": 1})
        workdir.write_spec({"a": 2})
