"""Content-addressed file storage on any fsspec filesystem.

Files are stored under their SHA-256 (``ab/cd/abcd...``), so storing the same
bytes twice is free, a stored file can always be checked against its
annotation, and a half-written file never appears under its final name.
``VIPKB_FILES`` is a directory by default and may be any fsspec URL
(``s3://``, ``gs://``, ``sftp://`` ...) when several machines share files.
"""

from __future__ import annotations

import hashlib
import uuid

import fsspec
from fsspec.core import url_to_fs

from vipkb.errors import StoreError, UnknownResourceError


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """Blobs addressed by their SHA-256.

    Parameters
    ----------
    url
        A directory or an fsspec URL.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs: fsspec.AbstractFileSystem
        self.fs, self.root = url_to_fs(url)

    def _path(self, digest: str) -> str:
        return f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}"

    def has(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return self.fs.exists(self._path(digest))

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its SHA-256 and whether it was written (new, or replacing a corrupt copy)."""
        digest = sha256(data)
        path = self._path(digest)
        try:
            if self.fs.exists(path) and sha256(self.fs.cat_file(path)) == digest:
                return digest, False
        except FileNotFoundError:
            pass  # removed meanwhile: write it
        parent = path.rsplit("/", 1)[0]
        partial = f"{parent}/.{digest}.{uuid.uuid4().hex}.partial"
        try:
            self.fs.makedirs(parent, exist_ok=True)
            self.fs.pipe_file(partial, data)
            self.fs.mv(partial, path)
        except OSError as err:
            raise StoreError(f"cannot store a file in {self.url}: {err}") from None
        return digest, True

    def get(self, digest: str) -> bytes:
        """The blob's bytes, checked against its SHA-256."""
        try:
            data = self.fs.cat_file(self._path(digest))
        except FileNotFoundError:
            raise UnknownResourceError(f"file {digest} is not in {self.url}") from None
        if sha256(data) != digest:
            raise StoreError(f"file {digest} in {self.url} is corrupt (checksum mismatch)")
        return data

    def remove(self, digest: str) -> None:
        """Delete a blob (used to undo a failed import)."""
        path = self._path(digest)
        if self.fs.exists(path):
            self.fs.rm_file(path)
