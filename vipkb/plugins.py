"""Plugin discovery shared by every registry: built-ins named in code, others by entry point.

A registry (simulators, execution backends) lists its built-ins as
``name: "module:Class"`` and an entry-point group; :func:`candidates` yields
both, and :func:`collect` loads them, keeping the subclasses of the
registry's base class whose ``name`` attribute agrees with the name they are
registered under.  A plugin that fails to import, is not such a subclass or
clashes with one already found is reported with a warning and skipped: one
broken package must not take the platform down.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from importlib.metadata import entry_points

__all__ = ["Candidate", "candidates", "collect", "unknown_plugin"]

#: ``(name, load, origin)``: what a plugin is registered as, how to import it, where it comes from.
Candidate = tuple[str, Callable[[], object], str]

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def candidates(group: str, builtins: Mapping[str, str]) -> list[Candidate]:
    """The built-ins first, then the entry points of ``group`` sorted by name."""
    out: list[Candidate] = [(name, partial(_load, target), f"{target}, built in") for name, target in builtins.items()]
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        out.append((ep.name, ep.load, f"{ep.value} from {ep.dist.name if ep.dist else 'an unknown distribution'}"))
    return out


def collect(kind: str, base: type, found_candidates: Iterable[Candidate]) -> dict[str, type]:
    """Load the candidates; keep each subclass of ``base`` registered under its own ``name``.

    ``kind`` names the plugins in warnings (``"simulator"``, ``"backend"``).
    """
    found: dict[str, type] = {}
    for name, load, origin in found_candidates:
        try:
            obj = load()
        except Exception as err:  # any import-time failure of a plugin package
            warnings.warn(f"{kind} plugin {name!r} ({origin}) failed to load: {err!r}; skipped",
                          RuntimeWarning, stacklevel=3)
            continue
        if name in found:
            # The built-ins are also declared as entry points of this distribution.
            if found[name] is not obj:
                warnings.warn(f"{kind} plugin {name!r} ({origin}) clashes with the one already registered under "
                              "that name; skipped", RuntimeWarning, stacklevel=3)
            continue
        if not (isinstance(obj, type) and issubclass(obj, base)):
            warnings.warn(f"{kind} plugin {name!r} ({origin}) is not a vipkb {base.__name__} subclass; skipped",
                          RuntimeWarning, stacklevel=3)
            continue
        if getattr(obj, "name", None) != name or not _NAME.match(name):
            warnings.warn(f"{kind} plugin {origin} registers as {name!r} but its class says name = "
                          f"{getattr(obj, 'name', None)!r}; names must agree and be lower-case; skipped",
                          RuntimeWarning, stacklevel=3)
            continue
        found[name] = obj
    return found


def unknown_plugin(what: str, name: str, available: Iterable[str], group: str) -> str:
    """The message for an unknown plugin name: what is installed, and how to add one."""
    return (f"no {what} named {name!r}; installed: {', '.join(available) or 'none'}. A {what.split()[-1]} package "
            f"registers under the {group!r} entry-point group; install it with pip in this environment")
