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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from vipkb.errors import ConfigurationError

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
REASONERS = ("hermit", "off")


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
        if self.reasoner not in REASONERS:
            raise ConfigurationError(
                f"VIPKB_REASONER={self.reasoner!r} is not one of {', '.join(REASONERS)}"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``VIPKB_*`` environment variables."""
        env = os.environ if environ is None else environ
        max_bytes = env.get("VIPKB_MAX_DOCUMENT_BYTES")
        try:
            max_doc = int(max_bytes) if max_bytes else DEFAULT_MAX_DOCUMENT_BYTES
        except ValueError:
            raise ConfigurationError(
                f"VIPKB_MAX_DOCUMENT_BYTES={max_bytes!r} is not an integer number of bytes"
            ) from None
        resources = env.get("VIPKB_RESOURCES")
        return cls(
            home=Path(env.get("VIPKB_HOME") or "var/kb"),
            store_url=env.get("VIPKB_STORE") or None,
            store_update_url=env.get("VIPKB_STORE_UPDATE") or None,
            store_gsp_url=env.get("VIPKB_STORE_GSP") or None,
            resources_dir=Path(resources) if resources else None,
            max_document_bytes=max_doc,
            reasoner=env.get("VIPKB_REASONER") or "hermit",
        )

    def describe_store(self) -> str:
        """One line naming the store, for messages and the CLI."""
        if self.store_url:
            return f"SPARQL endpoint {self.store_url}"
        return f"embedded Oxigraph store at {self.home}"
