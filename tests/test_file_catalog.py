"""The logical file catalog: replicas on storage elements, fallback, verify/replicate, the worker cache."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import snapshot
from tests.test_model_repository import LUT, archive_files, write
from vipkb import KnowledgeBase, Settings
from vipkb.config import parse_storage
from vipkb.errors import ConfigurationError, NotConformingError, ParameterError, StoreError, UnknownResourceError
from vipkb.models.repository import export_model, import_model, model_members
from vipkb.simulation.runner import instant_sources, load_instant
from vipkb.storage import FileCache, FileCatalog, FileRecord, ReadProblem
from vipkb.storage.names import MEDIA
from vipkb.stores.oxigraph_ import EmbeddedStore

DATA = b"simulated image bytes \x00\x01\x02"
LFN = "run/x/a.bin"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blob(tmp_path: Path, name: str, digest: str) -> Path:
    """Where the default storage element ``name`` keeps the blob ``digest``."""
    return tmp_path / "files" / name / digest[:2] / digest[2:4] / digest


def _blobs(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def kb(tmp_path) -> KnowledgeBase:
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(
        reasoner="off", files_url=str(tmp_path / "files"), cache_dir=tmp_path / "cache", runs_dir=tmp_path / "runs"))
    kb.init(load_data=False)
    return kb


def _put(kb: KnowledgeBase, lfn: str, data: bytes, catalog: FileCatalog | None = None) -> FileRecord:
    with kb.transaction() as tx:
        return (catalog or FileCatalog(kb)).put(tx, lfn, data)


# -- 1. put / records / record ------------------------------------------------


def test_put_stores_on_every_element_and_the_kb_lists_it(kb, tmp_path):
    rec = _put(kb, LFN, DATA)
    digest = _sha(DATA)
    assert (rec.lfn, rec.sha256, rec.size) == (LFN, digest, len(DATA))
    assert rec.media_type == MEDIA + "application/octet-stream"
    assert rec.replicas == ("se1", "se2")
    assert rec.iri == "https://w3id.org/vipkb/file/run/x/a.bin"
    for name in ("se1", "se2"):
        assert _blob(tmp_path, name, digest).read_bytes() == DATA
    assert _blobs(tmp_path / "files") == {_blob(tmp_path, "se1", digest), _blob(tmp_path, "se2", digest)}

    table = _put(kb, "run/x/table.csv", b"a,b\n1,2\n")
    assert table.media_type == MEDIA + "text/csv" and table.as_dict()["media_type"] == "text/csv"

    catalog = FileCatalog(kb)
    assert catalog.records("run/x/") == [rec, table]  # read back through SPARQL, by name
    assert catalog.records("run/x/a") == [rec]
    assert catalog.records("model/") == []
    assert catalog.records(names=["run/x/table.csv", "nope"]) == [table]
    assert catalog.record(LFN) == rec
    assert kb.query(f"ASK {{ <{rec.iri}> a vip:LogicalFile ; "
                    "vip:hasReplica/vip:storageElement <https://w3id.org/vipkb/storage/se2> }").boolean
    with pytest.raises(UnknownResourceError, match="vipkb files ls") as err:
        catalog.record("run/x/missing.bin")
    assert "'run/x/missing.bin'" in str(err.value)


# -- 2. reading falls back to the next replica --------------------------------


def test_read_falls_back_from_a_corrupt_or_missing_replica(kb, tmp_path):
    rec = _put(kb, LFN, DATA)
    catalog = FileCatalog(kb)
    se1, se2 = _blob(tmp_path, "se1", rec.sha256), _blob(tmp_path, "se2", rec.sha256)

    se1.write_bytes(b"bit rot")
    problems: list[ReadProblem] = []
    assert catalog.read(LFN, problems=problems) == DATA
    assert problems == [ReadProblem(LFN, "se1", "corrupt", "checksum mismatch")]
    assert str(problems[0]) == f"{LFN}: replica on se1 is corrupt (checksum mismatch)"

    se1.unlink()
    problems = []
    assert catalog.read(rec, problems=problems) == DATA
    assert [(p.element, p.problem) for p in problems] == [("se1", "missing")]

    se2.write_bytes(b"more bit rot")
    problems = []
    with pytest.raises(StoreError, match=r"cannot read run/x/a\.bin: se1 \(missing\), se2 \(corrupt\)"):
        catalog.read(LFN, problems=problems)
    assert [(p.element, p.problem) for p in problems] == [("se1", "missing"), ("se2", "corrupt")]


def test_read_through_a_cache_survives_losing_every_replica(kb, tmp_path):
    rec = _put(kb, LFN, DATA)
    cache = FileCache(tmp_path / "read-cache")
    catalog = FileCatalog(kb, cache=cache)
    assert catalog.read(LFN) == DATA and (cache.hits, cache.misses) == (0, 1)
    for name in ("se1", "se2"):
        _blob(tmp_path, name, rec.sha256).unlink()
    assert catalog.read(LFN) == DATA and (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(StoreError, match="se1 \\(missing\\), se2 \\(missing\\)"):
        FileCatalog(kb).read(LFN)


# -- 3. verify and replicate --------------------------------------------------


def test_verify_then_replicate_repairs_and_extends(kb, tmp_path):
    a, b = _put(kb, "run/x/a.bin", b"aaa"), _put(kb, "run/x/b.bin", b"bbb")
    _blob(tmp_path, "se1", a.sha256).unlink()
    _blob(tmp_path, "se2", b.sha256).write_bytes(b"rotten")
    catalog = FileCatalog(kb)
    seen: list[str] = []
    states = {(s.lfn, s.element): s.state for s in catalog.verify("run/", progress=lambda r: seen.append(r.lfn))}
    assert states == {("run/x/a.bin", "se1"): "missing", ("run/x/a.bin", "se2"): "ok",
                      ("run/x/b.bin", "se1"): "ok", ("run/x/b.bin", "se2"): "corrupt"}
    assert seen == ["run/x/a.bin", "run/x/b.bin"]

    done = catalog.replicate("run/")
    assert sorted((s.lfn, s.element, s.state) for s in done) == [("run/x/a.bin", "se1", "ok"),
                                                                ("run/x/b.bin", "se2", "ok")]
    assert {s.state for s in catalog.verify()} == {"ok"} and len(catalog.verify()) == 4
    assert _blob(tmp_path, "se1", a.sha256).read_bytes() == b"aaa"
    assert _blob(tmp_path, "se2", b.sha256).read_bytes() == b"bbb"
    assert catalog.replicate() == []  # nothing left to do

    se3 = str(tmp_path / "files" / "se3")
    three = FileCatalog(kb, elements=[*kb.settings.storage_elements, ("se3", se3)])
    assert {s.state for s in three.verify() if s.element == "se3"} == {"absent"}
    done = three.replicate(to=["se3"])
    assert sorted((s.lfn, s.element, s.state) for s in done) == [("run/x/a.bin", "se3", "ok"),
                                                                ("run/x/b.bin", "se3", "ok")]
    assert _blob(tmp_path, "se3", a.sha256).read_bytes() == b"aaa"
    assert [r.replicas for r in FileCatalog(kb).records("run/")] == [("se1", "se2", "se3")] * 2
    assert {s.state for s in three.verify()} == {"ok"}

    with pytest.raises(UnknownResourceError, match="no storage element nope; configured: se1, se2, se3"):
        three.replicate(to=["nope"])


def test_private_entries_stay_in_their_owners_graphs(kb, tmp_path):
    from vipkb.access import Reader
    from vipkb.namespaces import Graphs

    with kb.transaction(owner="alice") as tx:
        private = FileCatalog(kb).put(tx, "run/p/a.bin", b"mine")
    public = _put(kb, "run/q/a.bin", b"ours")
    assert (private.owner, public.owner) == ("alice", None)
    se3 = str(tmp_path / "files" / "se3")
    three = FileCatalog(kb, elements=[*kb.settings.storage_elements, ("se3", se3)])
    assert len(three.replicate(to=["se3"])) == 2  # both entries rewritten with the new replica
    assert {(r.lfn, r.owner, r.replicas) for r in FileCatalog(kb).records("run/")} == {
        ("run/p/a.bin", "alice", ("se1", "se2", "se3")), ("run/q/a.bin", None, ("se1", "se2", "se3"))}
    graph = Graphs.for_resource("file", private.iri, owner="alice")
    assert kb.query(f"ASK {{ GRAPH <{graph}> {{ ?f vip:hasReplica ?r }} }}").boolean
    bob = FileCatalog(kb.for_reader(Reader("bob")))
    assert [r.lfn for r in bob.records("run/")] == ["run/q/a.bin"]
    with pytest.raises(UnknownResourceError):
        bob.read("run/p/a.bin")


def test_replicate_without_any_good_copy_fails(kb, tmp_path):
    rec = _put(kb, LFN, DATA)
    for name in ("se1", "se2"):
        _blob(tmp_path, name, rec.sha256).unlink()
    before = snapshot(kb)
    with pytest.raises(StoreError, match="cannot read run/x/a.bin"):
        FileCatalog(kb).replicate()
    assert snapshot(kb) == before


# -- 4. storage elements that cannot be written -------------------------------


@pytest.mark.parametrize("kind", ["under-a-regular-file", "unknown-protocol"])
def test_unwritable_secondary_element_is_left_out_with_a_warning(kb, tmp_path, caplog, kind):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a directory")
    url = str(blocker / "se2") if kind == "under-a-regular-file" else "nosuchproto://x"
    catalog = FileCatalog(kb, elements=[("se1", str(tmp_path / "files" / "se1")), ("se2", url)])
    with caplog.at_level(logging.WARNING, logger="vipkb.storage.catalog"):
        rec = _put(kb, LFN, DATA, catalog)
    assert rec.replicas == ("se1",)
    assert catalog.record(LFN).replicas == ("se1",)
    assert _blob(tmp_path, "se1", rec.sha256).read_bytes() == DATA
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"cannot replicate {LFN} to se2 ({url})")
    assert [(s.element, s.state) for s in catalog.verify()] == [("se1", "ok"), ("se2", "absent")]


def test_unwritable_first_element_raises_and_stages_nothing(kb, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"not a directory")
    good = tmp_path / "files" / "se2"
    catalog = FileCatalog(kb, elements=[("se1", str(blocker / "se1")), ("se2", str(good))])
    before = snapshot(kb)
    tx = kb.transaction()
    created: list[tuple[str, str]] = []
    with pytest.raises(StoreError, match="cannot store run/x/a.bin on storage element se1"):
        catalog.put(tx, LFN, DATA, created=created)
    assert tx.writes == {} and created == []
    tx.commit()
    assert snapshot(kb) == before
    assert _blobs(tmp_path / "files") == set()
    assert catalog.records() == []


def test_no_storage_element_is_refused(kb):
    with pytest.raises(StoreError, match="no storage element is configured"):
        FileCatalog(kb, elements=[])


# -- 5. the worker cache ------------------------------------------------------


def test_file_cache_counts_hits_and_refetches_a_corrupt_entry(tmp_path):
    cache = FileCache(tmp_path / "cache")
    digest = _sha(DATA)
    calls: list[int] = []

    def source() -> bytes:
        calls.append(1)
        return DATA

    assert cache.get(digest) is None
    assert cache.fetch(digest, source) == DATA
    assert (cache.hits, cache.misses, len(calls)) == (0, 1, 1)
    entry = tmp_path / "cache" / digest[:2] / digest
    assert entry.read_bytes() == DATA
    assert cache.fetch(digest, source) == DATA
    assert (cache.hits, cache.misses, len(calls)) == (1, 1, 1)  # served from the cache, no fetch

    entry.write_bytes(b"corrupted")
    assert cache.get(digest) is None and not entry.exists()  # the bad entry is dropped
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(b"corrupted again")
    assert cache.fetch(digest, source) == DATA
    assert (cache.hits, cache.misses, len(calls)) == (1, 2, 2)
    assert entry.read_bytes() == DATA
    assert cache.clear() == 1 and cache.get(digest) is None


def test_file_cache_that_cannot_be_written_still_serves(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    cache = FileCache(blocker / "cache")
    assert cache.fetch(_sha(DATA), lambda: DATA) == DATA
    assert cache.fetch(_sha(DATA), lambda: DATA) == DATA
    assert (cache.hits, cache.misses) == (0, 2)


# -- 6. models in the catalog -------------------------------------------------


def test_model_files_are_catalogued_and_load_from_the_second_replica(kb, tmp_path):
    files = archive_files()
    result = import_model(kb, write(tmp_path, files))
    assert result.files_stored == len(files)
    catalog = FileCatalog(kb)
    recs = catalog.records("model/tiny/")
    assert [r.lfn for r in recs] == sorted(f"model/tiny/v1/{name}" for name in files)
    assert {r.replicas for r in recs} == {("se1", "se2")}
    kinds = {r.lfn.rsplit("/", 1)[1]: r.media_type.removeprefix(MEDIA) for r in recs}
    assert kinds["geometry.csv"] == "text/csv" and kinds["lesion.nii.gz"] == "application/gzip"
    assert kinds["model.json"] == "application/json"

    iri, members = model_members(kb, "tiny")
    assert iri == result.model == "https://w3id.org/vipkb/model/tiny/v1"
    assert {path: rec.sha256 for path, rec in members.items()} == {n: _sha(d) for n, d in files.items()}

    _blob(tmp_path, "se1", _sha(files["geometry_i0.nii.gz"])).unlink()
    instant = load_instant(kb, "tiny", time_point=0, instant=0)
    assert instant.tissue_index.shape == (12, 12, 8)
    assert sorted(np.unique(instant.tissue_index).tolist()) == [1, 2, 3]
    problems: list[ReadProblem] = []
    assert catalog.read("model/tiny/v1/geometry_i0.nii.gz", problems=problems) == files["geometry_i0.nii.gz"]
    assert [(p.element, p.problem) for p in problems] == [("se1", "missing")]
    with pytest.raises(UnknownResourceError, match="no instant 0/5"):
        load_instant(kb, "tiny", instant=5)

    out = export_model(kb, "tiny", tmp_path / "exported.zip")
    with zipfile.ZipFile(out) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == files


def test_refused_import_removes_only_the_blobs_it_added(kb, tmp_path):
    files = archive_files()
    import_model(kb, write(tmp_path, files))
    stored = _blobs(tmp_path / "files")
    before = snapshot(kb)
    bad = archive_files(geometry__csv=LUT.replace(",1,1000,", ",1.5,1000,").encode())  # proton density > 1
    with pytest.raises(NotConformingError, match="Proton density"):
        import_model(kb, write(tmp_path, bad, "bad"))
    assert snapshot(kb) == before
    assert _blobs(tmp_path / "files") == stored  # the new geometry.csv is gone, the shared v1 blobs stay
    assert FileCatalog(kb).records("model/tiny/v2/") == []
    assert load_instant(kb, "tiny").tissue_index.shape == (12, 12, 8)


def test_refused_first_import_leaves_no_blob(kb, tmp_path):
    bad = archive_files(geometry__csv=LUT.replace(",1,1000,", ",1.5,1000,").encode())
    with pytest.raises(NotConformingError):
        import_model(kb, write(tmp_path, bad))
    assert _blobs(tmp_path / "files") == set()
    assert FileCatalog(kb).records() == []


# -- 7. worker-side instant sources --------------------------------------------


def test_instant_sources_pickle_and_load_with_a_fresh_cache(kb, tmp_path, monkeypatch):
    files = archive_files()
    import_model(kb, write(tmp_path, files))
    sources = instant_sources(kb, "tiny")
    assert [(s.time_point, s.instant, s.time, s.key) for s in sources] == [(0, 0, 0.0, "tp0-i0"),
                                                                         (0, 1, 0.4, "tp0-i1")]
    assert sources[1].iri == "https://w3id.org/vipkb/model/tiny/v1#tp0-i1"
    assert sources[0].cache_dir == str((tmp_path / "cache").resolve())
    refs = dict(sources[0].files)
    assert sorted(refs) == sorted(files)
    ref = refs["lesion.nii.gz"]
    assert (ref.lfn, ref.sha256, ref.size) == ("model/tiny/v1/lesion.nii.gz", _sha(files["lesion.nii.gz"]),
                                               len(files["lesion.nii.gz"]))
    assert ref.replicas == kb.settings.storage_elements
    assert [name for name, _ in ref.replicas] == ["se1", "se2"]

    clone = pickle.loads(pickle.dumps(sources[1]))
    assert clone == sources[1]
    monkeypatch.delenv("VIPKB_CACHE", raising=False)
    worker = dataclasses.replace(clone, cache_dir=str(tmp_path / "worker-cache"))
    instant = worker.load()
    assert instant.tissue_index.shape == (12, 12, 8)
    cached = {p.name for p in (tmp_path / "worker-cache").rglob("*") if p.is_file()}
    assert cached == {_sha(d) for d in files.values()}
    same = load_instant(kb, "tiny", instant=1)
    assert np.array_equal(instant.tissue_index, same.tissue_index)
    assert not np.array_equal(instant.tissue_index, load_instant(kb, "tiny", instant=0).tissue_index)


# -- 8. storage settings --------------------------------------------------------


def test_parse_storage_and_settings():
    assert parse_storage("a=x b=s3://y") == (("a", "x"), ("b", "s3://y"))
    assert parse_storage(" se1=/d/a,  se2=gs://b/c?x=1 ,") == (("se1", "/d/a"), ("se2", "gs://b/c?x=1"))
    assert parse_storage("") == ()
    for bad in ("justaurl", "a=x =y", "a="):
        with pytest.raises(ConfigurationError, match="is not name=url"):
            parse_storage(bad)
    with pytest.raises(ConfigurationError, match="must be distinct"):
        Settings(storage=parse_storage("a=x a=y"))
    with pytest.raises(ConfigurationError, match="must be distinct"):
        Settings(storage=(("bad name", "x"),))
    assert Settings(files_url="s3://bucket/vipkb/").storage_elements == (("se1", "s3://bucket/vipkb/se1"),
                                                                         ("se2", "s3://bucket/vipkb/se2"))

    s = Settings.from_env({"VIPKB_STORAGE": "main=/data/vipkb, cloud=s3://bucket/vipkb", "VIPKB_FILES": "/ignored"})
    assert s.storage_elements == (("main", "/data/vipkb"), ("cloud", "s3://bucket/vipkb"))
    assert Settings.from_env({"VIPKB_FILES": "/srv/f"}).storage_elements == (("se1", "/srv/f/se1"),
                                                                              ("se2", "/srv/f/se2"))
    with pytest.raises(ConfigurationError, match="'justaurl'"):
        Settings.from_env({"VIPKB_STORAGE": "justaurl"})
    with pytest.raises(ConfigurationError, match="must be distinct"):
        Settings.from_env({"VIPKB_STORAGE": "se1=/a se1=/b"})


def test_catalog_uses_configured_storage_elements(tmp_path):
    kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(
        reasoner="off", storage=(("fast", str(tmp_path / "fast")), ("slow", str(tmp_path / "slow")))))
    kb.init(load_data=False)
    rec = _put(kb, LFN, DATA)
    assert rec.replicas == ("fast", "slow")
    assert (tmp_path / "slow" / rec.sha256[:2] / rec.sha256[2:4] / rec.sha256).read_bytes() == DATA
    assert FileCatalog(kb).ref(rec).replicas == (("fast", str(tmp_path / "fast")), ("slow", str(tmp_path / "slow")))


# -- 9. logical file names --------------------------------------------------------


@pytest.mark.parametrize("lfn", ["run/../etc", "run/./a.bin", "/run/a.bin", "run//a.bin", "run/a b.bin", ""])
def test_bad_logical_file_name_is_refused_before_anything_is_stored(kb, tmp_path, lfn):
    # The shapes refuse such names too (tests/shapes/violating/logical-file-name-*.ttl); put() checks first,
    # so that no blob is left behind.
    before = snapshot(kb)
    created: list[tuple[str, str]] = []
    with pytest.raises(ParameterError, match="is not a logical file name"):
        with kb.transaction() as tx:
            FileCatalog(kb).put(tx, lfn, DATA, created=created)
    assert snapshot(kb) == before and created == []
    assert _blobs(tmp_path / "files") == set()
