"""Execution backends: where a run's tasks execute, found by name or entry point.

Built in: ``inline`` (in this process, for debugging), ``local`` (a pool of
processes on this machine, the default) and ``dask`` (a Dask cluster).  A
package adds one without touching VIPKB by declaring, in its ``pyproject.toml``::

    [project.entry-points."vipkb.backends"]
    my-backend = "my_package.module:MyBackend"

A plugin that fails to import or is not a :class:`Backend` is reported with a
warning and skipped.

>>> sorted(list_backends())
['dask', 'inline', 'local']
"""

from __future__ import annotations

import importlib
from functools import cache

from vipkb.backends.base import Backend, BackendStatus, FutureLike, WorkerInfo, WorkerLostError, machine_workers
from vipkb.errors import ConfigurationError, UnknownResourceError
from vipkb.plugins import Candidate, candidates, collect, unknown_plugin

__all__ = ["DEFAULT", "GROUP", "Backend", "BackendStatus", "FutureLike", "UnknownBackendError", "WorkerInfo",
           "WorkerLostError", "backend_status", "get_backend", "list_backends", "machine_workers", "open_backend",
           "refresh_backends"]

#: The entry-point group backends register under.
GROUP = "vipkb.backends"
#: The backend used when none is named.
DEFAULT = "local"

#: Built-in backends, ``name: "module:Class"`` (also declared as entry points in pyproject.toml).
BUILTINS = {
    "inline": "vipkb.backends.inline_:InlineBackend",
    "local": "vipkb.backends.local_:LocalBackend",
    "dask": "vipkb.backends.dask_:DaskBackend",
}

class UnknownBackendError(UnknownResourceError):
    """No execution backend of that name is installed (HTTP 404)."""


def _candidates() -> list[Candidate]:
    return candidates(GROUP, BUILTINS)


@cache
def list_backends() -> dict[str, type[Backend]]:
    """Every installed backend by name, built-ins first; cached (see :func:`refresh_backends`)."""
    return collect("backend", Backend, _candidates())


def refresh_backends() -> None:
    """Forget the cached plugin list (after installing a package in a running process)."""
    list_backends.cache_clear()
    importlib.invalidate_caches()


def get_backend(name: str) -> type[Backend]:
    """The backend class named ``name``.

    Raises
    ------
    UnknownBackendError
        Listing the installed backends and how to add one.
    """
    available = list_backends()
    try:
        return available[name]
    except KeyError:
        raise UnknownBackendError(unknown_plugin("execution backend", name, available, GROUP)) from None


def open_backend(spec: str | None = None, *, n_workers: int | None = None) -> Backend:
    """Start the backend ``spec`` names: a registered name, or ``tcp://host:port`` of a Dask scheduler.

    Parameters
    ----------
    spec
        Backend name (default :data:`DEFAULT`) or a Dask scheduler address.
    n_workers
        Workers to start, where the backend starts its own.

    Raises
    ------
    UnknownBackendError
        If no backend has that name.
    ConfigurationError
        If the backend cannot start here (missing dependency, unreachable scheduler).
    """
    spec = spec or DEFAULT
    if spec.startswith(("tcp://", "tls://")):
        return get_backend("dask")(address=spec)
    cls = get_backend(spec)
    if not cls.available:
        raise ConfigurationError(f"the {spec!r} backend is installed but cannot run here: {cls.description}")
    return cls(n_workers=n_workers)


def backend_status(spec: str | None = None, *, timeout: float = 5.0) -> BackendStatus:
    """Where the backend ``spec`` names (as :func:`open_backend` reads it) would execute tasks, without starting it.

    For a Dask scheduler address this lists the scheduler's workers; a scheduler that does not answer within
    ``timeout`` seconds gives a status with ``reachable=False`` and the reason, not an error.

    Raises
    ------
    UnknownBackendError
        If no backend has that name.
    """
    spec = spec or DEFAULT
    if spec.startswith(("tcp://", "tls://")):
        return get_backend("dask").status(address=spec, timeout=timeout)
    return get_backend(spec).status(timeout=timeout)
