"""Find the bundled ontology, shapes and data, installed or in a checkout.

The files live at the top of the repository (``ontologies/``, ``shapes/``,
``data/``).  A wheel carries them inside the package as ``vipkb/_resources``;
an editable install or a checkout finds them next to the package.  The
``VIPKB_RESOURCES`` setting overrides both.  Nothing here depends on the
current directory.
"""

from __future__ import annotations

from importlib import resources as importlib_resources
from pathlib import Path

from vipkb.config import Settings
from vipkb.errors import ConfigurationError

_SUBDIRS = ("ontologies", "shapes", "data")


def _candidates(settings: Settings) -> list[Path]:
    if settings.resources_dir is not None:
        return [settings.resources_dir]
    packaged = Path(str(importlib_resources.files("vipkb"))) / "_resources"
    checkout = Path(__file__).resolve().parent.parent
    return [packaged, checkout]


def resources_root(settings: Settings | None = None) -> Path:
    """Return the directory holding ``ontologies/``, ``shapes/`` and ``data/``.

    Raises
    ------
    ConfigurationError
        If no candidate holds the ontology.
    """
    settings = settings or Settings.from_env()
    tried = _candidates(settings)
    for root in tried:
        if (root / "ontologies").is_dir() and (root / "shapes").is_dir():
            return root
    raise ConfigurationError(
        "cannot find the VIPKB ontology and shapes (looked in "
        + ", ".join(str(p) for p in tried)
        + "); reinstall the package or set VIPKB_RESOURCES to a directory holding ontologies/ and shapes/"
    )


def _files(sub: str, patterns: tuple[str, ...], settings: Settings | None) -> list[Path]:
    root = resources_root(settings) / sub
    if not root.is_dir():
        return []
    found = {p for pattern in patterns for p in root.rglob(pattern) if p.is_file()}
    return sorted(found)


def ontology_files(settings: Settings | None = None) -> list[Path]:
    """The ontology documents (Turtle), in a stable order."""
    return _files("ontologies", ("*.ttl",), settings)


def shape_files(settings: Settings | None = None) -> list[Path]:
    """The SHACL shape documents (Turtle), in a stable order."""
    return _files("shapes", ("*.ttl",), settings)


def data_files(settings: Settings | None = None) -> list[Path]:
    """The bundled annotation documents under ``data/`` (outside model archives), in a stable order."""
    archives = model_archives(settings)
    return [p for p in _files("data", ("*.ttl", "*.jsonld", "*.trig"), settings)
            if not any(p.is_relative_to(a) for a in archives)]


def model_archives(settings: Settings | None = None) -> list[Path]:
    """The bundled model archives: folders under ``data/models/`` holding a ``model.json``."""
    root = resources_root(settings) / "data" / "models"
    return sorted(p.parent for p in root.glob("*/model.json")) if root.is_dir() else []
