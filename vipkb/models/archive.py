"""Reading and writing model archives (a folder or a ``.zip``), safely.

An archive is untrusted input.  Reading it refuses, before anything is
stored: member paths that are absolute or climb out of the root (``../``),
symbolic links, more uncompressed bytes than the configured limit (checked
on the bytes actually inflated, not on the sizes the zip claims), files that
are not gzip/NIfTI when they say so, and label maps that are not integer
volumes with non-negative labels.
"""

from __future__ import annotations

import gzip
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nibabel as nib
import numpy as np

from vipkb.config import DEFAULT_MAX_ARCHIVE_BYTES
from vipkb.errors import ArchiveTooLargeError, ModelArchiveError, ParameterError
from vipkb.storage.names import check_lfn

#: Name of the metadata file at the root of every archive.
METADATA = "model.json"


@dataclass(frozen=True)
class Archive:
    """The files of a model archive, by relative POSIX path, already in memory."""

    files: dict[str, bytes]
    source: str

    def text(self, name: str) -> str:
        """A member as UTF-8 text."""
        try:
            return self.member(name).decode("utf-8")
        except UnicodeDecodeError:
            raise ModelArchiveError(f"{self.source}: {name} is not UTF-8 text") from None

    def member(self, name: str) -> bytes:
        """A member's bytes; a clear error names the missing file."""
        try:
            return self.files[name]
        except KeyError:
            raise ModelArchiveError(f"{self.source}: {name} is missing from the archive "
                                    f"(it holds {', '.join(sorted(self.files)) or 'nothing'})") from None

    def metadata(self) -> dict:
        """The parsed ``model.json``."""
        try:
            data = json.loads(self.text(METADATA))
        except json.JSONDecodeError as err:
            raise ModelArchiveError(f"{self.source}: {METADATA} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ModelArchiveError(f"{self.source}: {METADATA} must hold a JSON object")
        return data

    def volume(self, name: str, *, labels: bool) -> nib.Nifti1Image:
        """Load a NIfTI-1 member (``.nii`` or ``.nii.gz``), checking it decodes."""
        raw = self.member(name)
        if name.endswith(".gz"):
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as err:
                raise ModelArchiveError(f"{self.source}: {name} is not valid gzip data ({err})") from None
        try:
            image = nib.Nifti1Image.from_bytes(raw)
            data = np.asanyarray(image.dataobj)
        except Exception as err:  # nibabel raises many kinds for corrupt headers and short data
            raise ModelArchiveError(f"{self.source}: {name} is not a readable NIfTI-1 image ({err})") from None
        if labels:
            if not np.issubdtype(data.dtype, np.integer):
                raise ModelArchiveError(f"{self.source}: label map {name} holds {data.dtype} values; "
                                        "labels must be stored as integers")
            if data.size and data.min() < 0:
                raise ModelArchiveError(f"{self.source}: label map {name} holds negative labels "
                                        f"(minimum {int(data.min())})")
        return image



def _check_member(name: str, source: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or ":" in path.parts[0]:
        raise ModelArchiveError(f"{source}: member {name!r} escapes the archive root; refusing the archive")
    try:
        check_lfn(str(path))
    except ParameterError:
        raise ModelArchiveError(f"{source}: member name {name!r} has characters other than letters, digits and "
                                ". _ ~ - @ + in its path segments; rename it (they become catalog names)") from None
    return str(path)


def _read_zip(path: Path, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = _check_member(info.filename, str(path))
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise ModelArchiveError(f"{path}: member {info.filename!r} is a symbolic link; "
                                            "archives must hold regular files only")
                if info.is_dir():
                    continue
                # Inflate in chunks and count real bytes: declared sizes can lie.
                chunks = []
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        total += len(chunk)
                        if total > max_bytes:
                            raise ArchiveTooLargeError(
                                f"{path}: uncompressed content exceeds the {max_bytes:,}-byte limit "
                                "(a zip bomb, or raise VIPKB_MAX_ARCHIVE_BYTES)")
                        chunks.append(chunk)
                files[name] = b"".join(chunks)
    except zipfile.BadZipFile as err:
        raise ModelArchiveError(f"{path}: not a valid zip archive ({err})") from None
    return _strip_common_root(files)


def _strip_common_root(files: dict[str, bytes]) -> dict[str, bytes]:
    # Zips made from a folder often hold everything under "<name>/".
    if METADATA in files:
        return files
    roots = {n.split("/", 1)[0] for n in files}
    if len(roots) == 1 and all("/" in n for n in files):
        return {n.split("/", 1)[1]: b for n, b in files.items()}
    return files


def _read_folder(path: Path, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for entry in sorted(path.rglob("*")):
        rel = entry.relative_to(path).as_posix()
        if entry.is_symlink():
            raise ModelArchiveError(f"{path}: {rel} is a symbolic link; archives must hold regular files only")
        if entry.is_dir():
            continue
        total += entry.stat().st_size
        if total > max_bytes:
            raise ArchiveTooLargeError(f"{path}: content exceeds the {max_bytes:,}-byte limit "
                                       "(raise VIPKB_MAX_ARCHIVE_BYTES)")
        files[rel] = entry.read_bytes()
    return files


def read_archive(path: str | Path, *, max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES) -> Archive:
    """Read a model archive (folder or zip) into memory, refusing hostile content.

    Raises
    ------
    ModelArchiveError
        Naming the offending member and what to do.
    """
    p = Path(path)
    if p.is_symlink():
        raise ModelArchiveError(f"{p}: is a symbolic link; give the archive itself")
    if p.is_dir():
        files = _read_folder(p, max_bytes)
    elif p.is_file():
        files = _read_zip(p, max_bytes)
    else:
        raise ModelArchiveError(f"{p}: no such file or folder")
    if METADATA not in files:
        raise ModelArchiveError(f"{p}: no {METADATA} at the archive root")
    return Archive(files=files, source=str(p))


def write_archive(files: dict[str, bytes], target: str | Path) -> Path:
    """Write an archive: a folder, or a zip when ``target`` ends with ``.zip``.

    Zips are written with fixed timestamps and sorted members, so the same
    content gives the same bytes.
    """
    target = Path(target)
    if target.suffix == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(files):
                info = zipfile.ZipInfo(_check_member(name, str(target)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, files[name])
        partial.replace(target)
        return target
    for name in sorted(files):
        dest = target / _check_member(name, str(target))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(files[name])
    return target
