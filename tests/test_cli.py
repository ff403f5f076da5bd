"""The `vipkb` command line, end to end on an on-disk store."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from tests.conftest import FIXTURES
from vipkb.cli import main

BRAIN = FIXTURES / "brain-mr-partial.ttl"


def test_init_then_init_again_is_up_to_date(initialised):
    result = initialised.invoke(main, ["init"])
    assert result.exit_code == 0
    assert "already up to date" in result.output


def test_summary_lists_models_and_readiness(initialised):
    result = initialised.invoke(main, ["summary"])
    assert result.exit_code == 0
    assert "Models (5)" in result.output
    brain = next(line for line in result.output.splitlines() if line.startswith("brain-mr-only"))
    assert brain.rstrip().endswith("MR")
    assert "Simulators (5)" in result.output


def test_models_json(initialised):
    result = initialised.invoke(main, ["models", "--format", "json"])
    models = {m["id"]: m for m in json.loads(result.output)}
    assert models["contrast-detail"]["ready"] == "CT, MR, PET, Ultrasound, XRay"
    assert models["brain-mr-only"]["parts"] == 3
    assert models["brain-mr-only"]["layers"] == "anatomical layer"
    assert models["beating-heart"]["instants"] == 10 and models["beating-heart"]["dynamics"] == "Moving"
    assert models["brain"]["layers"] == "anatomical layer, pathological layer"


def test_init_describes_the_installed_simulators(initialised):
    result = initialised.invoke(main, ["simulators", "--format", "json"])
    assert result.exit_code == 0
    listed = {s["id"]: s for s in json.loads(result.output)}
    assert {k: v["modality"] for k, v in listed.items()} == {"mri": "MR", "ct": "CT", "radiography": "XRay",
                                                                         "ultrasound": "Ultrasound", "pet": "PET"}
    installed = initialised.invoke(main, ["simulators", "--installed", "--format", "json"])
    fields = ("label", "modality", "version", "parameters")
    assert {s["id"]: [s[f] for f in fields] for s in json.loads(installed.output)} == {
        k: [v[f] for f in fields] for k, v in listed.items()}


def test_simulator_show(runner):
    result = runner.invoke(main, ["simulator", "show", "mri"])
    assert result.exit_code == 0, result.output
    assert "spin_echo | gradient_echo | inversion_recovery" in result.output
    te = next(line for line in result.output.splitlines() if line.startswith("te "))
    assert " ms " in te
    as_json = json.loads(runner.invoke(main, ["simulator", "show", "ct", "--json"]).output)
    assert as_json["modality"] == "CT" and "kvp" in {p["name"] for p in as_json["parameters"]}
    unknown = runner.invoke(main, ["simulator", "show", "spect"])
    assert unknown.exit_code == 1 and "installed: mri, ct, radiography, ultrasound, pet" in unknown.output


def test_simulate_writes_outputs_only_when_done(initialised, tmp_path):
    import nibabel as nib

    out = tmp_path / "mr"
    result = initialised.invoke(main, ["simulate", "brain-mr-only", "mri", "--set", "te=20", "--set", "tr=600",
                                       "--set", "matrix_readout=128", "--set", "matrix_phase=128",
                                       "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["image.nii.gz", "kspace.npy", "metadata.json", "preview.png"]
    assert nib.load(out / "image.nii.gz").shape[:2] == (128, 128)
    assert json.loads((out / "metadata.json").read_text())["parameters"]["te"] == 20.0
    refused = initialised.invoke(main, ["simulate", "brain-mr-only", "mri", "-o", str(out)])
    assert refused.exit_code == 2 and "not empty" in refused.output
    failed = tmp_path / "failed"
    for args, message in ((["--set", "te=900"], "te = 900.0 is above the maximum"),
                          (["--set", "echo=1"], "unknown parameter(s) echo"),
                          (["--instant", "0/7"], "no instant 0/7"),
                          (["--set", "te"], "'te' is not NAME=VALUE")):
        bad = initialised.invoke(main, ["simulate", "brain-mr-only", "mri", *args, "-o", str(failed)])
        assert bad.exit_code != 0 and message in bad.output, bad.output
        assert not failed.exists()
    not_ready = initialised.invoke(main, ["simulate", "brain-mr-only", "ct", "-o", str(failed)])
    assert not_ready.exit_code == 1 and "lacks an elemental composition" in not_ready.output


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_query_formats(initialised, fmt):
    result = initialised.invoke(main, ["query", "--format", fmt,
                                       "SELECT ?l WHERE { ?p a vip:LayerPart ; vip:label ?l } ORDER BY ?l"])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = json.loads(result.output)["results"]["bindings"]
        assert [r["l"]["value"] for r in rows][:3] == ["1", "1", "1"]
    elif fmt == "csv":
        assert result.output.splitlines()[0] == "l"
    else:
        assert "rows)" in result.output


def test_query_from_file_and_ask(initialised, write):
    path = write("q.rq", "ASK { ?m vip:readyFor vip:PET }")
    result = initialised.invoke(main, ["query", "-f", str(path)])
    assert result.exit_code == 0 and result.output.strip() == "true"


def test_query_construct_prints_turtle(initialised):
    result = initialised.invoke(main, ["query", "CONSTRUCT { ?m a vip:ObjectModel } WHERE { ?m a vip:ObjectModel }"])
    assert result.exit_code == 0
    triples = list(ox.parse(result.output.encode(), format=ox.RdfFormat.TURTLE))
    assert len(triples) == 5


def test_bad_query_is_one_line_error(initialised):
    result = initialised.invoke(main, ["query", "SELECT WHERE {"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: malformed SPARQL query")
    assert "Traceback" not in result.output


def test_query_needs_exactly_one_source(initialised):
    result = initialised.invoke(main, ["query"])
    assert result.exit_code == 2 and "give the query" in result.output


def test_validate_ok_and_violation(initialised, write):
    ok = initialised.invoke(main, ["validate", str(BRAIN)])
    assert ok.exit_code == 0 and "Conforms." in ok.output
    bad = write("bad.ttl", BRAIN.read_text().replace("vip:numericValue 0.86e0", "vip:numericValue 1.86e0"))
    result = initialised.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "Proton density is relative to water, in [0, 1]" in result.output
    assert "sh:MaxInclusiveConstraintComponent" in result.output
    as_json = initialised.invoke(main, ["validate", "--json", str(bad)])
    assert json.loads(as_json.output)["conforms"] is False


def test_load_all_or_nothing(initialised, write):
    before = initialised.invoke(main, ["stats", "--json"]).output
    bad = write("bad.ttl", "@prefix ex: <urn:x:> .\nex:a ex:b")
    result = initialised.invoke(main, ["load", str(BRAIN), str(bad)])
    assert result.exit_code == 1
    assert "bad.ttl, line" in result.output and "Traceback" not in result.output
    assert initialised.invoke(main, ["stats", "--json"]).output == before


def test_load_to_named_graph_and_drop(initialised, write):
    result = initialised.invoke(main, ["load", "--graph", "urn:vipkb:mine", str(BRAIN)])
    assert result.exit_code == 0, result.output
    assert "wrote   <urn:vipkb:mine>" in result.output
    assert "ready   <https://w3id.org/vipkb/model/brain-mr-partial>: MR" in result.output
    dropped = initialised.invoke(main, ["drop", "urn:vipkb:mine"])
    assert dropped.exit_code == 0 and "dropped <urn:vipkb:mine>" in dropped.output
    missing = initialised.invoke(main, ["drop", "urn:vipkb:mine"])
    assert missing.exit_code == 1 and "no graph" in missing.output


def test_load_graph_option_needs_one_file(initialised):
    result = initialised.invoke(main, ["load", "--graph", "urn:g", str(BRAIN), str(BRAIN)])
    assert result.exit_code == 2


def test_export_to_file(initialised, tmp_path):
    out = tmp_path / "kb.nq"
    result = initialised.invoke(main, ["export", "--format", "nquads", "-o", str(out)])
    assert result.exit_code == 0
    quads = list(ox.parse(out.read_bytes(), format=ox.RdfFormat.N_QUADS))
    stats = json.loads(initialised.invoke(main, ["stats", "--json"]).output)
    assert len(quads) == stats["quads"]
    assert not (tmp_path / "kb.nq.partial").exists()


def test_export_trig_to_stdout(initialised):
    result = initialised.invoke(main, ["export"])
    assert result.exit_code == 0
    assert len(list(ox.parse(result.stdout_bytes, format=ox.RdfFormat.TRIG))) > 1000


def test_commands_before_init_say_what_to_do(runner, write):
    result = runner.invoke(main, ["load", str(BRAIN)])
    assert result.exit_code == 1
    assert "run `vipkb init` first" in result.output


def test_bad_setting_is_one_line(runner, monkeypatch):
    monkeypatch.setenv("VIPKB_STORE", "not a url")
    result = runner.invoke(main, ["stats"])
    assert result.exit_code == 1 and result.output.startswith("Error: VIPKB_STORE=")


def test_remote_store_through_the_environment(runner, oxigraph_server, monkeypatch):
    from vipkb.stores.sparql_ import RemoteStore

    RemoteStore(oxigraph_server.query_url).update("DROP ALL")
    monkeypatch.setenv("VIPKB_STORE", oxigraph_server.query_url)
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["models", "--format", "json"])
    assert {m["id"] for m in json.loads(result.output)} == {
        "brain", "abdomen", "beating-heart", "contrast-detail", "brain-mr-only"}
    assert "SPARQL endpoint" in runner.invoke(main, ["stats"]).output


def test_help_and_version(runner):
    commands = runner.invoke(main, ["--help"]).output.split("Commands:", 1)[1]
    assert {line.split()[0] for line in commands.strip().splitlines()} == {
        "backend", "campaign", "drop", "export", "files", "init", "key", "load", "match", "model", "models", "query",
        "run", "runs", "serve", "simulate", "simulator", "simulators", "stats", "summary", "update", "user", "validate"}
    assert runner.invoke(main, ["--version"]).output.startswith("vipkb, version")


@pytest.mark.parametrize("simulator", ["pet", "mri"])
def test_simulate_on_a_backend_gives_the_same_bytes(initialised, tmp_path, simulator):
    args = ["simulate", "contrast-detail", simulator, "--seed", "2"]
    if simulator == "pet":
        args += ["--set", "events=200000", "--set", "events_per_batch=50000"]
    here = initialised.invoke(main, [*args, "-o", str(tmp_path / "here")])
    pooled = initialised.invoke(main, [*args, "--backend", "local", "-o", str(tmp_path / "pooled")])
    assert here.exit_code == 0 and pooled.exit_code == 0, pooled.output
    assert ("batches 4" in pooled.output) == (simulator == "pet") and "backend local" in pooled.output
    for name in sorted(p.name for p in (tmp_path / "here").iterdir()):
        assert (tmp_path / "pooled" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name
    unknown = initialised.invoke(main, [*args, "--backend", "grid", "-o", str(tmp_path / "x")])
    assert unknown.exit_code == 1 and "installed: inline, local, dask" in unknown.output
