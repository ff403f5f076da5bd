"""A worker's local cache of catalog files, keyed by SHA-256.

A simulation task reads its model through the cache, so a model used by many
tasks is fetched from a storage element once per worker machine, not once
per task.  Entries are written under a temporary name and renamed, so
several worker processes may share one cache directory; an entry whose bytes
no longer match its checksum is dropped and fetched again.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from vipkb.files import sha256

__all__ = ["FileCache"]


class FileCache:
    """Files by checksum in a local directory.

    Parameters
    ----------
    root
        The cache directory (created when first written).

    Attributes
    ----------
    hits, misses
        Reads served from the cache and reads that had to fetch, in this process.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def get(self, digest: str) -> bytes | None:
        """The cached bytes of ``digest``, or None (a corrupt entry is removed)."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if sha256(data) != digest:
            path.unlink(missing_ok=True)
            return None
        return data

    def put(self, digest: str, data: bytes) -> None:
        """Keep ``data`` (whose SHA-256 is ``digest``); a cache that cannot be written is skipped."""
        path = self._path(digest)
        tmp = path.with_name(f".{digest}.{uuid.uuid4().hex}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):  # the cache itself may be unusable: skip it
                tmp.unlink(missing_ok=True)

    def fetch(self, digest: str, fetch: Callable[[], bytes]) -> bytes:
        """Bytes of ``digest`` from the cache, else from ``fetch()`` (then cached)."""
        data = self.get(digest)
        if data is not None:
            self.hits += 1
            return data
        self.misses += 1
        data = fetch()
        self.put(digest, data)
        return data

    def clear(self) -> int:
        """Remove every entry; return how many there were."""
        n = 0
        for path in self.root.glob("??/*"):
            path.unlink(missing_ok=True)
            n += 1
        return n
