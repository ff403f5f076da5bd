"""Model import, versioning, export and description, end to end on a small archive."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import snapshot
from vipkb import KnowledgeBase, Settings
from vipkb.access import Reader
from vipkb.cli import main
from vipkb.errors import NotConformingError, UnknownResourceError
from vipkb.files import FileStore
from vipkb.models.lut import ModelArchiveError
from vipkb.models.repository import describe_model, export_model, import_model, resolve_model, versions
from vipkb.namespaces import Graphs
from vipkb.stores.oxigraph_ import EmbeddedStore

AFFINE = np.diag([1.5, 1.5, 2.0, 1.0])
LUT = ("label,tissue,T1@1.5T [ms],T2@1.5T [ms],ProtonDensity [1],MassDensity [kg/m3],"
       "ElementalComposition [mass fraction]\n"
       "1,water,3000,2000,1,1000,H:0.111898 O:0.888102\n"
       "2,fat,343,58,0.9,950,H:0.114 C:0.598 N:0.007 O:0.278 Na:0.001 S:0.001 Cl:0.001\n")
LESION_LUT = ("label,tissue,T1@1.5T [ms],T2@1.5T [ms],ProtonDensity [1],MassDensity [kg/m3],"
              "ElementalComposition [mass fraction]\n"
              "7,lesion,1200,120,0.9,1040,H:0.102 C:0.143 N:0.034 O:0.708 Na:0.002 P:0.003 S:0.003 Cl:0.002 "
              "K:0.003\n")
SOURCES = {h: "https://doi.org/10.1148/radiol.2303021331"
           for h in ("T1@1.5T [ms]", "T2@1.5T [ms]", "ProtonDensity [1]")}
SOURCES.update({h: "https://doi.org/10.18434/T4D01F" for h in ("MassDensity [kg/m3]",
                                                               "ElementalComposition [mass fraction]")})


def _nii(data: np.ndarray, affine: np.ndarray = AFFINE) -> bytes:
    return gzip.compress(nib.Nifti1Image(data, affine).to_bytes(), mtime=0)


def _maps(radius: float) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[:8, :12, :12]
    geometry = np.ones((12, 12, 8), dtype=np.uint8)
    geometry[((x - 6) ** 2 + (y - 6) ** 2).T <= radius**2] = 2
    lesion = np.zeros((12, 12, 8), dtype=np.uint8)
    lesion[5:7, 5:7, 3:5] = 7
    return geometry, lesion


def archive_files(**change) -> dict[str, bytes]:
    """A small moving phantom: two instants, a geometrical and a pathological layer."""
    g0, lesion = _maps(3)
    g1, _ = _maps(2)
    meta = {
        "id": "tiny", "label": "Tiny moving phantom", "description": "Test model", "dynamics": "moving",
        "license": "https://creativecommons.org/licenses/by/4.0/", "modalities": ["MR", "CT"],
        "tissues": {"water": {"label": "water", "depicts": ["obo:CHEBI_15377"]},
                    "fat": {"label": "fat sphere", "depicts": ["vip:Sphere", "obo:UBERON_0001013"]},
                    "lesion": {"label": "lesion", "depicts": ["obo:NCIT_C3262"]}},
        "sources": SOURCES,
        "time_points": [{"index": 0, "instants": [
            {"index": i, "time_s": 0.4 * i, "layers": [
                {"name": "geometry", "kind": "geometrical", "labels": f"geometry_i{i}.nii.gz", "lut": "geometry.csv"},
                {"name": "lesion", "kind": "pathological", "labels": "lesion.nii.gz", "lut": "lesion.csv"}]}
            for i in (0, 1)]}],
    }
    files = {"model.json": json.dumps(meta, indent=1).encode(), "geometry_i0.nii.gz": _nii(g0),
             "geometry_i1.nii.gz": _nii(g1), "lesion.nii.gz": _nii(lesion), "geometry.csv": LUT.encode(),
             "lesion.csv": LESION_LUT.encode()}
    for name, value in change.items():
        files[name.replace("__", ".")] = value
    return files


def write(tmp_path: Path, files: dict[str, bytes], name: str = "tiny") -> Path:
    folder = tmp_path / name
    for member, data in files.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(data)
    return folder


@pytest.fixture
def kb(tmp_path) -> KnowledgeBase:
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(files_url=str(tmp_path / "files")))
    kb.init(load_data=False)
    return kb


def _stored(kb: KnowledgeBase) -> set[Path]:
    root = Path(kb.settings.files_url)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_import_show_reimport_version_export(kb, tmp_path):
    folder = write(tmp_path, archive_files())
    first = import_model(kb, folder)
    assert (first.version, first.unchanged, first.files_stored) == (1, False, 6)
    assert first.model == "https://w3id.org/vipkb/model/tiny/v1"
    assert first.commit.ready == {first.model: ["CT", "MR", "XRay"]}

    desc = describe_model(kb, "tiny")
    assert desc.ready == ["CT", "MR", "XRay"] and desc.dynamics == "Moving"
    assert desc.instants == [(0, 0, "0"), (0, 1, "0.4")]  # Oxigraph stores doubles canonically
    assert ("geometry", "GeometricalLayer", 2) in desc.layers and ("lesion", "PathologicalLayer", 1) in desc.layers
    assert desc.voxel_size == "1.5 x 1.5 x 2 mm"
    lesion = next(t for t in desc.tissues if t[0] == 7)
    assert lesion[1:3] == ("lesion", "lesion") and "T1@1.5T=1200 ms" in lesion[3] and "ProtonDensity=0.9" in lesion[3]

    before = snapshot(kb)
    again = import_model(kb, folder)
    assert again.unchanged and again.version == 1
    assert snapshot(kb) == before

    changed = write(tmp_path, archive_files(geometry__csv=LUT.replace("3000,2000", "2900,1900").encode()), "tiny2")
    second = import_model(kb, changed)
    assert second.version == 2 and not second.unchanged
    assert [v for v, _, _ in versions(kb, "tiny")] == [1, 2]
    assert kb.query(f"ASK {{ <{second.model}> prov:wasRevisionOf <{first.model}> }}").boolean
    assert resolve_model(kb, "tiny") == second.model and resolve_model(kb, "tiny/v1") == first.model

    exported = export_model(kb, "tiny/v1", tmp_path / "out")
    assert {p.name for p in exported.iterdir()} == set(archive_files())
    assert import_model(kb, exported).unchanged is False  # v1 is not the latest: importing it is a revision
    zipped = export_model(kb, "tiny", tmp_path / "tiny.zip")
    assert import_model(kb, zipped).unchanged


def test_private_import_is_the_owners_alone(kb, tmp_path):
    """A private upload gets an owner-qualified id, lives in the owner's graphs and cannot clash with public ids."""
    folder = write(tmp_path, archive_files())
    public = import_model(kb, folder)
    mine = import_model(kb, folder, owner="alice")
    theirs = import_model(kb, folder, owner="bob")
    assert mine.model == "https://w3id.org/vipkb/model/alice~tiny/v1" and mine.version == 1 and not mine.unchanged
    assert len({public.model, mine.model, theirs.model}) == 3
    assert mine.commit.ready == {mine.model: ["CT", "MR", "XRay"]}  # the reasoner ran on the private model
    assert import_model(kb, folder, owner="alice").unchanged
    graphs = {r["g"].value for r in kb.query(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ <{mine.model}> ?p ?o }} }}")}
    assert graphs and all(g.startswith(Graphs.private_prefix("alice")) for g in graphs)
    files = kb.query("SELECT ?g WHERE { GRAPH ?g { ?f vip:logicalName \"model/alice~tiny/v1/model.json\" } }")
    assert [r["g"].value.startswith(Graphs.private_prefix("alice")) for r in files] == [True]
    # Bob's view of the knowledge base has neither the model nor its files; Alice's has hers and the public one.
    with pytest.raises(UnknownResourceError):
        resolve_model(kb.for_reader(Reader("bob", False)), "alice~tiny")
    alice = kb.for_reader(Reader("alice", False))
    assert resolve_model(alice, "alice~tiny") == mine.model and resolve_model(alice, "tiny") == public.model
    assert describe_model(alice, "alice~tiny").ready == ["CT", "MR", "XRay"]
    exported = export_model(alice, "alice~tiny", tmp_path / "mine.zip")
    assert import_model(kb, exported).unchanged  # the same bytes as the public model


def test_import_export_round_trip_is_the_same_model(kb, tmp_path):
    result = import_model(kb, write(tmp_path, archive_files()))
    out = export_model(kb, "tiny", tmp_path / "exported.zip")
    with zipfile.ZipFile(out) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == archive_files()
    assert import_model(kb, out).model == result.model


META = json.loads(archive_files()["model.json"])


def _meta(**change) -> bytes:
    return json.dumps({**META, **change}).encode()


BAD_ARCHIVES = {
    "label-in-map-not-in-lut": (dict(geometry__csv=LUT.rsplit("2,fat", 1)[0].encode()),
                                "labels [2] appear in geometry_i0.nii.gz but not in its look-up table"),
    "label-in-lut-not-in-map": (dict(lesion__csv=(LESION_LUT + "8,lesion,1,1,0.5,1000,H:1\n").encode()),
                                "labels [8] are in look-up table lesion.csv but in none of the label maps"),
    "tissue-missing-parameter": (dict(model__json=_meta(modalities=["MR", "CT", "PET"])),
                                 "lacks RadioactiveConcentration, needed for PET"),
    "column-without-source": (dict(model__json=_meta(sources={k: v for k, v in SOURCES.items()
                                                              if k != "MassDensity [kg/m3]"})),
                              "column 'MassDensity [kg/m3]' of geometry.csv has no entry"),
    "per-tissue-source-missing": (dict(model__json=_meta(sources={**SOURCES, "T1@1.5T [ms]": {"fat": "x"}})),
                                  "'sources' for tissue 'water'"),
    "unknown-tissue": (dict(lesion__csv=LESION_LUT.replace(",lesion,", ",tumour,").encode()),
                       "tissue 'tumour' (label 7 in lesion.csv) is not described"),
    "grid-shape-differs": (dict(geometry_i1__nii__gz=_nii(np.ones((12, 12, 9), np.uint8))),
                           "must share one grid"),
    "grid-affine-differs": (dict(geometry_i1__nii__gz=_nii(_maps(2)[0], np.diag([1.0, 1.5, 2.0, 1.0]))),
                            "must share one grid"),
    "corrupt-gzip": (dict(lesion__nii__gz=b"\x1f\x8b\x08\x00corrupt"), "not valid gzip data"),
    "float-labels": (dict(lesion__nii__gz=_nii(_maps(3)[1].astype(np.float32))), "labels must be stored as integers"),
    "negative-labels": (dict(lesion__nii__gz=_nii(-_maps(3)[1].astype(np.int16))), "negative labels"),
    "bad-dynamics": (dict(model__json=_meta(dynamics="wobbly")), "dynamics 'wobbly' is not one of"),
    "bad-depicts": (dict(model__json=_meta(tissues={**META["tissues"], "fat": {"label": "f", "depicts": ["fat"]}})),
                    "is neither a full IRI nor one of the prefixes"),
    "missing-file": (dict(model__json=_meta(time_points=[{"index": 0, "instants": [{"index": 0, "layers": [
        {"name": "g", "kind": "geometrical", "labels": "nope.nii.gz", "lut": "geometry.csv"}]}]}])),
        "nope.nii.gz is missing from the archive"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES), ids=list(BAD_ARCHIVES))
def test_bad_archive_is_refused_and_nothing_stored(kb, tmp_path, case):
    change, message = BAD_ARCHIVES[case]
    folder = write(tmp_path, archive_files(**change))
    before, files_before = snapshot(kb), _stored(kb)
    with pytest.raises(ModelArchiveError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        import_model(kb, folder)
    assert snapshot(kb) == before and _stored(kb) == files_before


def test_out_of_range_value_is_refused_by_the_shapes_and_no_file_is_kept(kb, tmp_path):
    folder = write(tmp_path, archive_files(geometry__csv=LUT.replace(",1,1000,", ",1.5,1000,").encode()))
    before = snapshot(kb)
    with pytest.raises(NotConformingError, match="Proton density"):
        import_model(kb, folder)
    assert snapshot(kb) == before and _stored(kb) == set()


def test_hostile_zip_is_refused(kb, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in archive_files().items():
            zf.writestr(name, data)
        zf.writestr("../../outside.txt", b"x")
    with pytest.raises(ModelArchiveError, match="escapes the archive root"):
        import_model(kb, path)


def test_archive_size_limit_comes_from_settings(tmp_path):
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(reasoner="off", max_archive_bytes=1000,
                                                              files_url=str(tmp_path / "files")))
    kb.init(load_data=False)
    with pytest.raises(ModelArchiveError, match="1,000-byte limit"):
        import_model(kb, write(tmp_path, archive_files()))


def test_file_store_detects_corruption(tmp_path):
    from vipkb.errors import StoreError

    store = FileStore(str(tmp_path / "blobs"))
    digest, new = store.put(b"hello")
    assert new and store.put(b"hello") == (digest, False) and store.get(digest) == b"hello"
    blob = next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    with pytest.raises(StoreError, match="corrupt"):
        store.get(digest)


def test_cli_model_commands(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("VIPKB_FILES", str(tmp_path / "cli-files"))
    folder = write(tmp_path, archive_files())
    assert runner.invoke(main, ["init", "--no-data"]).exit_code == 0
    imported = runner.invoke(main, ["model", "import", str(folder)])
    assert imported.exit_code == 0, imported.output
    assert "imported <https://w3id.org/vipkb/model/tiny/v1> (version 1, 6 new file(s))" in imported.output
    again = runner.invoke(main, ["model", "import", str(folder)])
    assert "unchanged" in again.output
    shown = runner.invoke(main, ["model", "show", "tiny"])
    assert shown.exit_code == 0 and "ready for: CT, MR, XRay" in shown.output and "fat sphere" in shown.output
    as_json = json.loads(runner.invoke(main, ["model", "show", "tiny", "--json"]).output)
    assert as_json["ready"] == ["CT", "MR", "XRay"]
    out = tmp_path / "exported"
    exported = runner.invoke(main, ["model", "export", "tiny", str(out)])
    assert exported.exit_code == 0 and (out / "model.json").exists()
    missing = runner.invoke(main, ["model", "show", "nothing"])
    assert missing.exit_code == 1 and "no model 'nothing'" in missing.output
    bad = runner.invoke(main, ["model", "import", str(tmp_path / "absent")])
    assert bad.exit_code == 1 and "no such file or folder" in bad.output


def test_cli_model_import_private_to_an_account(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("VIPKB_FILES", str(tmp_path / "cli-files"))
    monkeypatch.setenv("VIPKB_ACCOUNTS", str(tmp_path / "accounts.sqlite"))
    folder = write(tmp_path, archive_files())
    assert runner.invoke(main, ["init", "--no-data"]).exit_code == 0
    unknown = runner.invoke(main, ["model", "import", str(folder), "--private-to", "alice"])
    assert unknown.exit_code == 1 and "alice" in unknown.stderr
    assert runner.invoke(main, ["user", "add", "alice", "--role", "user", "--no-password"]).exit_code == 0
    imported = runner.invoke(main, ["model", "import", str(folder), "--private-to", "alice"])
    assert imported.exit_code == 0, imported.output
    assert "imported <https://w3id.org/vipkb/model/alice~tiny/v1> (version 1" in imported.output
    again = runner.invoke(main, ["model", "import", str(folder), "--private-to", "alice"])
    assert "unchanged <https://w3id.org/vipkb/model/alice~tiny/v1>" in again.output
    assert "private to: alice" in runner.invoke(main, ["model", "show", "alice~tiny"]).output
    shown = json.loads(runner.invoke(main, ["model", "show", "alice~tiny", "--json"]).output)
    assert shown["private_to"] == "alice" and shown["ready"] == ["CT", "MR", "XRay"]
    listed = {m["id"]: m for m in json.loads(runner.invoke(main, ["models", "--format", "json"]).output)}
    assert listed["alice~tiny"]["private_to"] == "alice" and "tiny" not in listed

def _with_t1_map(t1_map: bytes) -> dict[str, bytes]:
    """The tiny model with T1 removed from its tables and given as a map instead; MR only."""
    meta = json.loads(archive_files()["model.json"])
    meta["modalities"] = ["MR"]
    for inst in meta["time_points"][0]["instants"]:
        inst["parameter_maps"] = [{"file": "t1.nii.gz", "parameter": "T1@1.5T [ms]",
                                   "source": "https://doi.org/10.1148/radiol.2303021331"}]
    drop_t1 = lambda text: "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 2)  # noqa: E731
                                     for line in text.splitlines()) + "\n"
    return archive_files(model__json=json.dumps(meta).encode(), geometry__csv=drop_t1(LUT).encode(),
                         lesion__csv=drop_t1(LESION_LUT).encode(), **{"t1.nii.gz": t1_map})


def test_parameter_map_gives_its_kind_to_every_tissue(kb, tmp_path):
    t1 = np.full((12, 12, 8), 900.0, dtype=np.float32)
    result = import_model(kb, write(tmp_path, _with_t1_map(_nii(t1))))
    assert result.commit.ready == {result.model: ["CT", "MR", "XRay"]}  # T1 from the map, the rest from tables
    # The same model without the map has no T1 at all: no longer ready for MR.
    files = _with_t1_map(_nii(t1))
    meta = json.loads(files.pop("model.json"))
    files.pop("t1.nii.gz")
    meta["modalities"] = []
    for inst in meta["time_points"][0]["instants"]:
        del inst["parameter_maps"]
    without = import_model(kb, write(tmp_path, {**files, "model.json": json.dumps(meta).encode()}, "no-map"))
    assert without.commit.ready == {without.model: ["CT", "XRay"]}
    maps = kb.query(f"SELECT ?k ?b WHERE {{ <{result.model}> vip:hasTimePoint/vip:hasInstant/vip:hasParameterMap ?m . "
                    "?m vip:parameterKind ?k ; vip:atFieldStrength ?b ; vip:mapFile ?f }")
    assert {(r["k"].value.rsplit("#", 1)[1], r["b"].value) for r in maps} == {("T1", "1.5")}


@pytest.mark.parametrize(("volume", "message"), [
    (np.full((12, 12, 8), -5.0, np.float32), "negative values"),
    (np.full((12, 12, 8), np.nan, np.float32), "NaN or infinite"),
    (np.full((12, 12, 9), 900.0, np.float32), "not on the grid"),
])
def test_bad_parameter_maps_are_refused(kb, tmp_path, volume, message):
    before = snapshot(kb)
    with pytest.raises(ModelArchiveError, match=message):
        import_model(kb, write(tmp_path, _with_t1_map(_nii(volume))))
    assert snapshot(kb) == before
