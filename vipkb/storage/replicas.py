"""Reading a file from its replicas: checksum verified, next replica on failure, through a cache.

This is what a worker needs to read catalog files without the knowledge
base: a :class:`FileRef` carries the checksum and the storage elements
holding copies, in the order to try them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache

from vipkb.errors import StoreError, UnknownResourceError
from vipkb.files import FileStore
from vipkb.storage.cache import FileCache

__all__ = ["FileRef", "ReadProblem", "element", "fetch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadProblem:
    """A replica that could not be used: ``missing``, ``corrupt`` or ``unreachable``."""

    lfn: str
    element: str
    problem: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.lfn}: replica on {self.element} is {self.problem}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class FileRef:
    """Enough to read one logical file anywhere: name, checksum, size and replicas.

    Attributes
    ----------
    lfn
        Logical file name.
    sha256, size
        Checksum and size of the content.
    replicas
        ``(storage element name, url)`` of every copy, in the order to try.
    """

    lfn: str
    sha256: str
    size: int
    replicas: tuple[tuple[str, str], ...] = field(default=())


@cache
def element(url: str) -> FileStore:
    """The content-addressed store at ``url`` (one per process and URL)."""
    return FileStore(url)


def fetch(ref: FileRef, *, cache: FileCache | None = None, problems: list[ReadProblem] | None = None) -> bytes:
    """The bytes of ``ref``, from the cache or the first good replica.

    Each replica that is missing, corrupt or unreachable is logged, appended
    to ``problems`` and skipped.

    Raises
    ------
    StoreError
        When no replica gives the right bytes.
    """

    def note(name: str, problem: str, detail: str = "") -> None:
        found = ReadProblem(ref.lfn, name, problem, detail)
        log.warning("%s; trying the next replica", found)
        reported.append(found)

    def from_replicas() -> bytes:
        for name, url in ref.replicas:
            try:
                return element(url).get(ref.sha256)
            except UnknownResourceError:
                note(name, "missing")
            except StoreError:
                note(name, "corrupt", "checksum mismatch")
            except (OSError, ValueError, ImportError) as err:  # no such host, bad URL, filesystem not installed
                note(name, "unreachable", str(err))
        where = ", ".join(f"{p.element} ({p.problem})" for p in reported) or "no replica is catalogued"
        raise StoreError(f"cannot read {ref.lfn}: {where}; `vipkb files verify` shows the state of its replicas")

    reported: list[ReadProblem] = []
    try:
        return cache.fetch(ref.sha256, from_replicas) if cache is not None else from_replicas()
    finally:
        if problems is not None:
            problems.extend(reported)
