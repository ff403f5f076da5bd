"""Finding simulator plugins: built-ins registered in code, others by entry point.

A package adds a simulator without touching VIPKB by declaring, in its
``pyproject.toml``::

    [project.entry-points."vipkb.simulators"]
    my-sim = "my_package.module:MySimulator"

The built-ins are listed here as well, so a plain checkout (no installed
metadata) still finds them.  A plugin that fails to import or is not a
:class:`~vipkb.simulation.plugin.Simulator` is reported with a warning and
skipped: one broken package must not take the platform down.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from functools import cache, partial
from importlib.metadata import entry_points

from vipkb.errors import UnknownSimulatorError
from vipkb.simulation.plugin import Simulator

__all__ = ["GROUP", "get_simulator", "list_simulators", "refresh_simulators"]

#: The entry-point group simulators register under.
GROUP = "vipkb.simulators"

#: Built-in simulators, ``name: "module:Class"`` (also declared as entry points in pyproject.toml).
BUILTINS = {
    "mri": "simulators.mri.simulator:MRISimulator",
    "ct": "simulators.xray.simulator:CTSimulator",
    "radiography": "simulators.xray.simulator:RadiographySimulator",
    "ultrasound": "simulators.ultrasound.simulator:UltrasoundSimulator",
    "pet": "simulators.pet.simulator:PETSimulator",
}

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _accept(name: str, obj: object, origin: str) -> type[Simulator] | None:
    if not (isinstance(obj, type) and issubclass(obj, Simulator)):
        warnings.warn(f"simulator plugin {name!r} ({origin}) is not a vipkb Simulator subclass; skipped",
                      RuntimeWarning, stacklevel=3)
        return None
    if getattr(obj, "name", None) != name or not _NAME.match(name):
        warnings.warn(f"simulator plugin {origin} registers as {name!r} but its class says name = "
                      f"{getattr(obj, 'name', None)!r}; names must agree and be lower-case; skipped",
                      RuntimeWarning, stacklevel=3)
        return None
    return obj


def _candidates() -> list[tuple[str, Callable[[], object], str]]:
    out: list[tuple[str, Callable[[], object], str]] = [
        (name, partial(_load, target), f"{target}, built in") for name, target in BUILTINS.items()]
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        out.append((ep.name, ep.load, f"{ep.value} from {ep.dist.name if ep.dist else 'an unknown distribution'}"))
    return out


@cache
def list_simulators() -> dict[str, type[Simulator]]:
    """Every installed simulator by name, built-ins first; cached (see :func:`refresh_simulators`)."""
    found: dict[str, type[Simulator]] = {}
    for name, load, origin in _candidates():
        try:
            obj = load()
        except Exception as err:  # any import-time failure of a plugin package
            warnings.warn(f"simulator plugin {name!r} ({origin}) failed to load: {err!r}; skipped",
                          RuntimeWarning, stacklevel=2)
            continue
        if name in found:
            # The built-ins are also declared as entry points of this distribution.
            if found[name] is not obj:
                warnings.warn(f"simulator plugin {name!r} ({origin}) clashes with the one already "
                              "registered under that name; skipped", RuntimeWarning, stacklevel=2)
            continue
        cls = _accept(name, obj, origin)
        if cls is not None:
            found[name] = cls
    return found


def refresh_simulators() -> None:
    """Forget the cached plugin list (after installing a package in a running process)."""
    list_simulators.cache_clear()
    importlib.invalidate_caches()


def get_simulator(name: str) -> type[Simulator]:
    """The simulator class named ``name``.

    Raises
    ------
    UnknownSimulatorError
        Listing the installed simulators and how to add one.
    """
    available = list_simulators()
    try:
        return available[name]
    except KeyError:
        raise UnknownSimulatorError(
            f"no simulator named {name!r}; installed: {', '.join(available) or 'none'}. A simulator package "
            f"registers under the {GROUP!r} entry-point group; install it with pip in this environment"
        ) from None
