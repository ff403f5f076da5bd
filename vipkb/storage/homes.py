"""Users' file spaces: the ``/vip/Home/...`` folders of the REST API, on any fsspec filesystem.

Each account has a home folder where its programs upload inputs (model
archives) and where the results of its executions are written.  A VIP path
``/vip/Home/a/b`` is ``<homes>/<account>/a/b``; ``/vip`` itself is a read-only
folder holding ``Home``.  ``VIPKB_HOMES`` is a local directory by default and
may be any fsspec URL (``s3://bucket/homes`` ...) when several servers share it.

Paths are checked before they touch the filesystem: plain segments only, no
``.``/``..``, no control characters, no backslashes, so no path can leave
its owner's home.  A file is written under a temporary name and renamed, so
a half-written upload never appears under its final name.
"""

from __future__ import annotations

import mimetypes
import posixpath
import uuid
from dataclasses import dataclass

import fsspec
from fsspec.core import url_to_fs

from vipkb.errors import FileSpaceConflictError, FileSpaceError, StoreError, UnknownResourceError

__all__ = ["HOME", "ROOT", "FileSpace", "PathInfo", "check_path"]

#: The root of every VIP path, and the user's home folder.
ROOT = "/vip"
HOME = "/vip/Home"
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class PathInfo:
    """What the API says about a path (VIP's ``Path`` object).

    Attributes
    ----------
    path
        The VIP path (``/vip/Home/...``).
    is_directory
        Whether it is a folder.
    size
        Bytes of a file; number of entries of a folder.
    last_modified
        Seconds since the epoch (0 when unknown).
    mime_type
        Media type of a file ("" for folders).
    """

    path: str
    is_directory: bool
    size: int
    last_modified: int = 0
    mime_type: str = ""

    def as_dict(self) -> dict:
        """The JSON object of the VIP API (``platformPath`` too, for CARMIN clients)."""
        out = {"path": self.path, "platformPath": self.path, "isDirectory": self.is_directory, "size": self.size,
               "lastModificationDate": self.last_modified, "exists": True}
        if not self.is_directory:
            out["mimeType"] = self.mime_type or "application/octet-stream"
        return out


def check_path(path: str) -> str:
    """Return ``path`` normalised (no trailing slash) if it is a VIP path, else raise.

    >>> check_path("/vip/Home/API/s1/INPUTS/")
    '/vip/Home/API/s1/INPUTS'
    >>> check_path("/vip")
    '/vip'

    Raises
    ------
    FileSpaceError
        For a path outside ``/vip``, with empty, ``.`` or ``..`` segments, backslashes or control characters.
    """
    if not isinstance(path, str) or not path.startswith(ROOT):
        raise FileSpaceError(f"{path!r} is not a path of the file space: paths start with {HOME}/")
    trimmed = path.rstrip("/") if path != "/" else path
    parts = trimmed.split("/")[1:]
    if parts[0] != ROOT[1:] or (len(parts) > 1 and parts[1] != "Home"):
        raise FileSpaceError(f"{path!r} is outside the file space: use {HOME}/...")
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or any(ord(c) < 0x20 or ord(c) == 0x7F for c in part):
            raise FileSpaceError(f"{path!r}: every segment must be a plain name (no '', '.', '..', backslash or "
                                 "control character)")
        if part.startswith(_PARTIAL):
            raise FileSpaceError(f"{path!r}: names starting with {_PARTIAL!r} are reserved for uploads in progress")
    return trimmed


class FileSpace:
    """One account's files under ``/vip/Home``.

    Parameters
    ----------
    url
        The directory or fsspec URL holding every account's home (``VIPKB_HOMES``).
    account
        Whose home this is.
    """

    def __init__(self, url: str, account: str) -> None:
        self.fs: fsspec.AbstractFileSystem
        self.fs, root = url_to_fs(str(url))
        self.home = f"{root.rstrip('/')}/{account}"

    # -- paths ---------------------------------------------------------------------------------------------------

    def _real(self, path: str) -> str:
        path = check_path(path)
        if path == ROOT:
            raise FileSpaceConflictError(f"{ROOT} is the platform's root folder; use {HOME}/...")
        return self.home + path[len(HOME):]

    def _vip(self, real: str) -> str:
        return HOME + real[len(self.home):]

    def _ensure_home(self) -> None:
        try:
            self.fs.makedirs(self.home, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the home folder: {err}") from None

    # -- reading -------------------------------------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        """Whether a file or folder is at ``path`` (``/vip`` and ``/vip/Home`` always exist)."""
        path = check_path(path)
        return path in (ROOT, HOME) or self.fs.exists(self._real(path))

    def info(self, path: str) -> PathInfo:
        """What is at ``path``.

        Raises
        ------
        UnknownResourceError
            If nothing is there.
        """
        path = check_path(path)
        if path == ROOT:
            return PathInfo(ROOT, True, 1)
        if path == HOME:
            self._ensure_home()
        try:
            raw = self.fs.info(self._real(path))
        except FileNotFoundError:
            raise UnknownResourceError(f"no file or folder at {path}") from None
        return self._info(raw)

    def _info(self, raw: dict) -> PathInfo:
        real = raw["name"].rstrip("/")
        real = real if real.startswith("/") or not self.home.startswith("/") else "/" + real
        vip = self._vip(real)
        mtime = raw.get("mtime") or raw.get("LastModified") or 0
        mtime = int(mtime.timestamp()) if hasattr(mtime, "timestamp") else int(mtime or 0)
        if raw["type"] == "directory":
            size = len([n for n in self.fs.ls(real, detail=False) if not posixpath.basename(n).startswith(_PARTIAL)])
            return PathInfo(vip, True, size, mtime)
        mime = mimetypes.guess_type(vip)[0] or ("application/gzip" if vip.endswith(".gz") else "")
        return PathInfo(vip, False, int(raw.get("size") or 0), mtime, mime)

    def list(self, path: str) -> list[PathInfo]:
        """The entries of the folder at ``path``, by name.

        Raises
        ------
        UnknownResourceError
            If there is no folder there.
        FileSpaceConflictError
            If ``path`` is a file.
        """
        path = check_path(path)
        if path == ROOT:
            return [self.info(HOME)]
        if not self.info(path).is_directory:
            raise FileSpaceConflictError(f"{path} is a file, not a folder")
        entries = self.fs.ls(self._real(path), detail=True)
        return sorted((self._info(e) for e in entries if not posixpath.basename(e["name"].rstrip("/"))
                       .startswith(_PARTIAL)), key=lambda i: i.path)

    def read(self, path: str) -> bytes:
        """The bytes of the file at ``path``.

        Raises
        ------
        UnknownResourceError
            If there is no file there.
        FileSpaceConflictError
            If ``path`` is a folder.
        """
        if self.info(path).is_directory:
            raise FileSpaceConflictError(f"{path} is a folder; download its files one by one")
        try:
            return self.fs.cat_file(self._real(path))
        except FileNotFoundError:
            raise UnknownResourceError(f"no file at {path}") from None

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, path: str, data: bytes, *, parents: bool = False) -> PathInfo:
        """Write ``data`` as the file at ``path`` (replacing a file there); the parent folder must exist.

        Raises
        ------
        UnknownResourceError
            If the parent folder does not exist (and ``parents`` is false).
        FileSpaceConflictError
            If ``path`` is a folder, or its parent is a file.
        """
        path = check_path(path)
        parent = posixpath.dirname(path)
        if path in (ROOT, HOME) or parent == ROOT:
            raise FileSpaceConflictError(f"{path} is a folder of the platform, not a file")
        if parents:
            self.mkdir(parent)
        elif not self.exists(parent):
            raise UnknownResourceError(f"folder {parent} does not exist: create it first (PUT {parent}/)")
        if not self.info(parent).is_directory:
            raise FileSpaceConflictError(f"{parent} is a file, not a folder")
        real = self._real(path)
        if self.fs.exists(real) and self.fs.isdir(real):
            raise FileSpaceConflictError(f"{path} is a folder; delete it before writing a file there")
        partial = f"{posixpath.dirname(real)}/{_PARTIAL}{uuid.uuid4().hex}"
        try:
            self.fs.pipe_file(partial, data)
            self.fs.mv(partial, real)
        except OSError as err:
            if self.fs.exists(partial):
                self.fs.rm_file(partial)
            raise StoreError(f"cannot write {path}: {err}") from None
        return self.info(path)

    def mkdir(self, path: str) -> PathInfo:
        """Create the folder at ``path`` and any missing parents (nothing happens if it exists).

        Raises
        ------
        FileSpaceConflictError
            If a file is in the way.
        """
        path = check_path(path)
        if path == ROOT:
            return self.info(ROOT)
        self._ensure_home()
        current = HOME
        for part in path[len(HOME):].split("/")[1:]:
            current = f"{current}/{part}"
            real = self._real(current)
            if self.fs.exists(real):
                if not self.fs.isdir(real):
                    raise FileSpaceConflictError(f"{current} is a file, not a folder")
                continue
            try:
                self.fs.makedirs(real, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create {current}: {err}") from None
        return self.info(path)

    def delete(self, path: str) -> None:
        """Delete the file or folder (with everything in it) at ``path``.

        Raises
        ------
        UnknownResourceError
            If nothing is there.
        FileSpaceConflictError
            For ``/vip`` and ``/vip/Home`` themselves.
        """
        path = check_path(path)
        if path in (ROOT, HOME):
            raise FileSpaceConflictError(f"{path} cannot be deleted; delete what is inside it")
        real = self._real(path)
        if not self.fs.exists(real):
            raise UnknownResourceError(f"no file or folder at {path}")
        try:
            self.fs.rm(real, recursive=True)
        except OSError as err:
            raise StoreError(f"cannot delete {path}: {err}") from None
