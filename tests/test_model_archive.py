"""Model archives are untrusted input: every hostile or corrupt case is refused."""

from __future__ import annotations

import gzip
import json
import stat
import zipfile

import nibabel as nib
import numpy as np
import pytest

from vipkb.models.archive import METADATA, read_archive, write_archive
from vipkb.models.lut import ModelArchiveError


def _nifti(data: np.ndarray) -> bytes:
    return gzip.compress(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])).to_bytes(), mtime=0)


FILES = {
    METADATA: json.dumps({"id": "tiny", "label": "Tiny"}).encode(),
    "labels.nii.gz": _nifti(np.arange(8, dtype=np.uint8).reshape(2, 2, 2) % 3),
    "lut.csv": b"label,tissue,T1@1.5T [ms]\n1,a,500\n2,b,800\n",
}


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_folder_and_zip_round_trip(tmp_path):
    folder = write_archive(FILES, tmp_path / "tiny")
    assert read_archive(folder).files == FILES
    zipped = write_archive(FILES, tmp_path / "tiny.zip")
    archive = read_archive(zipped)
    assert archive.files == FILES
    assert archive.metadata()["id"] == "tiny"
    image = archive.volume("labels.nii.gz", labels=True)
    assert image.shape == (2, 2, 2)


def test_zip_bytes_are_deterministic(tmp_path):
    a = write_archive(FILES, tmp_path / "a.zip").read_bytes()
    b = write_archive(dict(reversed(FILES.items())), tmp_path / "b.zip").read_bytes()
    assert a == b


def test_zip_with_a_top_folder_is_accepted(tmp_path):
    path = _zip(tmp_path / "nested.zip", {f"tiny/{k}": v for k, v in FILES.items()})
    assert set(read_archive(path).files) == set(FILES)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a/../../evil.txt", "C:/evil.txt"])
def test_paths_escaping_the_root_are_refused(tmp_path, name):
    path = _zip(tmp_path / "escape.zip", {**FILES, name: b"x"})
    with pytest.raises(ModelArchiveError, match="escapes the archive root"):
        read_archive(path)


def test_symlink_member_in_zip_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("lut-link.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ModelArchiveError, match="symbolic link"):
        read_archive(path)


def test_symlink_in_folder_is_refused(tmp_path):
    folder = write_archive(FILES, tmp_path / "tiny")
    (folder / "secret.csv").symlink_to("/etc/hostname")
    with pytest.raises(ModelArchiveError, match="symbolic link"):
        read_archive(folder)


def test_zip_bomb_is_stopped_on_inflated_bytes(tmp_path):
    path = _zip(tmp_path / "bomb.zip", {**FILES, "zeros.bin": b"\0" * (8 * 1024 * 1024)})
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(ModelArchiveError, match="exceeds the 1,000,000-byte limit"):
        read_archive(path, max_bytes=1_000_000)


def test_not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ModelArchiveError, match="not a valid zip archive"):
        read_archive(path)


def test_missing_metadata(tmp_path):
    path = _zip(tmp_path / "nometa.zip", {"lut.csv": FILES["lut.csv"]})
    with pytest.raises(ModelArchiveError, match="no model.json"):
        read_archive(path)


def test_bad_metadata_json(tmp_path):
    archive = read_archive(write_archive({**FILES, METADATA: b"{not json"}, tmp_path / "bad"))
    with pytest.raises(ModelArchiveError, match="not valid JSON"):
        archive.metadata()


@pytest.mark.parametrize(("member", "content", "message"), [
    ("labels.nii.gz", b"\x1f\x8b\x08\x00garbage", "not valid gzip data"),
    ("labels.nii.gz", gzip.compress(b"not a nifti header at all", mtime=0), "not a readable NIfTI-1 image"),
    ("labels.nii.gz", _nifti(np.full((2, 2, 2), 1.5, dtype=np.float32)), "labels must be stored as integers"),
    ("labels.nii.gz", _nifti(np.full((2, 2, 2), -1, dtype=np.int16)), "negative labels"),
])
def test_corrupt_or_wrong_volumes(tmp_path, member, content, message):
    archive = read_archive(write_archive({**FILES, member: content}, tmp_path / "bad"))
    with pytest.raises(ModelArchiveError, match=message):
        archive.volume(member, labels=True)


def test_truncated_nifti(tmp_path):
    raw = gzip.decompress(FILES["labels.nii.gz"])
    archive = read_archive(write_archive({**FILES, "labels.nii.gz": gzip.compress(raw[:355], mtime=0)},
                                         tmp_path / "short"))
    with pytest.raises(ModelArchiveError, match="not a readable NIfTI-1 image"):
        archive.volume("labels.nii.gz", labels=True)


def test_missing_member_names_what_is_there(tmp_path):
    archive = read_archive(write_archive(FILES, tmp_path / "tiny"))
    with pytest.raises(ModelArchiveError, match="t1map.nii.gz is missing from the archive"):
        archive.member("t1map.nii.gz")
