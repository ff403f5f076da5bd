"""Settings, read once from the environment.

Every setting has an embedded default so that ``make run`` needs none:

``VIPKB_HOME``
    Directory of the embedded Oxigraph store (default ``./var/kb``).
``VIPKB_STORE``
    URL of a SPARQL 1.1 query endpoint; when set, the knowledge base lives
    there instead of in the embedded store.
``VIPKB_STORE_UPDATE`` / ``VIPKB_STORE_GSP``
    Update and Graph Store Protocol endpoints of that server, when they are
    not the query URL with ``/query`` replaced by ``/update`` and ``/store``
    (Oxigraph's layout).
``VIPKB_RESOURCES``
    Directory holding ``ontologies/``, ``shapes/`` and ``data/``; by default
    the copies installed with the package, or the checkout's.
``VIPKB_MAX_DOCUMENT_BYTES``
    Largest document a single write accepts (default 16 MiB).
``VIPKB_REASONER``
    ``hermit`` (default) or ``off``.
``VIPKB_FILES``
    Root of the default storage elements: a directory (default
    ``./var/files``) or any fsspec URL (``s3://bucket/vipkb``, ...); the
    default storage elements are ``se1`` and ``se2`` under it.
``VIPKB_STORAGE``
    The storage elements themselves, ``name=url`` entries separated by
    spaces or commas (``se1=/data/vipkb se2=s3://bucket/vipkb``).  New files
    are written to the first and replicated to the others.
``VIPKB_CACHE``
    Local cache of files read by simulation tasks, keyed by checksum
    (default ``./var/cache``); a worker's own ``VIPKB_CACHE`` wins.
``VIPKB_RUNS``
    Run directories with checkpoints (default ``./var/runs``).
``VIPKB_MAX_ARCHIVE_BYTES``
    Largest uncompressed content a model archive may hold (default 2 GiB).
``VIPKB_ACCOUNTS``
    SQLite database of user accounts and API keys (default
    ``./var/accounts.sqlite``); kept out of the knowledge base so that
    secrets never reach a SPARQL endpoint or an export.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from vipkb.errors import ConfigurationError

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
REASONERS = ("hermit", "off")
_SE_NAME = re.compile(r"[A-Za-z0-9_-]+")


def parse_storage(text: str) -> tuple[tuple[str, str], ...]:
    """Parse ``VIPKB_STORAGE``: ``name=url`` entries separated by spaces or commas.

    >>> parse_storage("se1=var/a, cloud=s3://bucket/vipkb")
    (('se1', 'var/a'), ('cloud', 's3://bucket/vipkb'))
    """
    out = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        name, sep, url = entry.partition("=")
        if not sep or not name or not url:
            raise ConfigurationError(f"VIPKB_STORAGE entry {entry!r} is not name=url, e.g. se1=/data/vipkb")
        out.append((name, url))
    return tuple(out)


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not an integer number of bytes") from None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the knowledge base lives and how writes are checked.

    Use :meth:`from_env` in programs; tests build one directly.
    """

    home: Path = field(default_factory=lambda: Path("var/kb"))
    store_url: str | None = None
    store_update_url: str | None = None
    store_gsp_url: str | None = None
    resources_dir: Path | None = None
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    reasoner: str = "hermit"
    files_url: str = "var/files"
    storage: tuple[tuple[str, str], ...] = ()
    cache_dir: Path = field(default_factory=lambda: Path("var/cache"))
    runs_dir: Path = field(default_factory=lambda: Path("var/runs"))
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    accounts_path: Path = field(default_factory=lambda: Path("var/accounts.sqlite"))
    #: Users' file spaces (``/vip/Home`` of the REST API): a directory or any fsspec URL.
    homes_url: str = "var/homes"

    def __post_init__(self) -> None:
        if self.store_url is not None:
            parsed = urlparse(self.store_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigurationError(
                    f"VIPKB_STORE={self.store_url!r} is not an http(s) URL of a SPARQL query endpoint, "
                    "e.g. http://localhost:7878/query"
                )
        if self.max_document_bytes <= 0:
            raise ConfigurationError("VIPKB_MAX_DOCUMENT_BYTES must be a positive number of bytes")
        if self.max_archive_bytes <= 0:
            raise ConfigurationError("VIPKB_MAX_ARCHIVE_BYTES must be a positive number of bytes")
        names = [name for name, _ in self.storage]
        if len(set(names)) != len(names) or not all(_SE_NAME.fullmatch(n) for n in names):
            raise ConfigurationError(f"VIPKB_STORAGE names {names} must be distinct words (letters, digits, - _)")
        if self.reasoner not in REASONERS:
            raise ConfigurationError(
                f"VIPKB_REASONER={self.reasoner!r} is not one of {', '.join(REASONERS)}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``VIPKB_*`` environment variables."""
        env = os.environ if environ is None else environ
        resources = env.get("VIPKB_RESOURCES")
        return cls(
            home=Path(env.get("VIPKB_HOME") or "var/kb"),
            store_url=env.get("VIPKB_STORE") or None,
            store_update_url=env.get("VIPKB_STORE_UPDATE") or None,
            store_gsp_url=env.get("VIPKB_STORE_GSP") or None,
            resources_dir=Path(resources) if resources else None,
            max_document_bytes=_bytes(env, "VIPKB_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
            reasoner=env.get("VIPKB_REASONER") or "hermit",
            files_url=env.get("VIPKB_FILES") or "var/files",
            storage=parse_storage(env.get("VIPKB_STORAGE") or ""),
            cache_dir=Path(env.get("VIPKB_CACHE") or "var/cache"),
            runs_dir=Path(env.get("VIPKB_RUNS") or "var/runs"),
            max_archive_bytes=_bytes(env, "VIPKB_MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES),
            accounts_path=Path(env.get("VIPKB_ACCOUNTS") or "var/accounts.sqlite"),
            homes_url=env.get("VIPKB_HOMES") or "var/homes",
        )

    @property
    def storage_elements(self) -> tuple[tuple[str, str], ...]:
        """``(name, url)`` of every storage element, the first being where new files are written."""
        if self.storage:
            return self.storage
        root = self.files_url.rstrip("/")
        return (("se1", f"{root}/se1"), ("se2", f"{root}/se2"))

    def describe_store(self) -> str:
        """One line naming the store, for messages and the CLI."""
        if self.store_url:
            return f"SPARQL endpoint {self.store_url}"
        return f"embedded Oxigraph store at {self.home}"
