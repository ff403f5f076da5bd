"""Finding simulator plugins: built-ins registered in code, others by entry point.

A package adds a simulator without touching VIPKB by declaring, in its
``pyproject.toml``::

    [project.entry-points."vipkb.simulators"]
    my-sim = "my_package.module:MySimulator"

The built-ins are listed here as well, so a plain checkout (no installed
metadata) still finds them.  Discovery itself is :mod:`vipkb.plugins`.
"""

from __future__ import annotations

import importlib
from functools import cache

from vipkb.errors import UnknownSimulatorError
from vipkb.plugins import Candidate, candidates, collect, unknown_plugin
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

def _candidates() -> list[Candidate]:
    return candidates(GROUP, BUILTINS)


@cache
def list_simulators() -> dict[str, type[Simulator]]:
    """Every installed simulator by name, built-ins first; cached (see :func:`refresh_simulators`)."""
    return collect("simulator", Simulator, _candidates())


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
        raise UnknownSimulatorError(unknown_plugin("simulator", name, available, GROUP)) from None
