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
    Where model and result files are stored: a directory (default
    ``./var/files``) or any fsspec URL (``s3://bucket/vipkb``, ...).
``VIPKB_MAX_ARCHIVE_BYTES``
    Largest uncompressed content a model archive may hold (default 2 GiB).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from vipkb.errors import ConfigurationError

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024**3
REASONERS = ("hermit", "off")


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
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES

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
            max_archive_bytes=_bytes(env, "VIPKB_MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES),
        )

    def describe_store(self) -> str:
        """One line naming the store, for messages and the CLI."""
        if self.store_url:
            return f"SPARQL endpoint {self.store_url}"
        return f"embedded Oxigraph store at {self.home}"
