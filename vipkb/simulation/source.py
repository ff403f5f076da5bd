"""Where a model instant comes from, in a form any worker can load: catalog file references.

A task ships an :class:`InstantSource` (names, checksums, replica URLs: a few
hundred bytes), not the decoded volumes.  The worker fetches the files
through its local cache (:class:`vipkb.storage.FileCache`) and keeps the
last decoded models in memory, so a model used by many tasks is fetched once
per worker and decoded once per worker process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from vipkb.errors import UnknownResourceError
from vipkb.models.archive import Archive
from vipkb.models.spec import CheckedModel, check_archive
from vipkb.simulation.instant import ModelInstant
from vipkb.storage.cache import FileCache
from vipkb.storage.replicas import FileRef, fetch

__all__ = ["InstantSource", "worker_cache"]


@cache
def _cache_at(root: str) -> FileCache:
    return FileCache(root)


def worker_cache(default: str | None = None) -> FileCache | None:
    """This process's file cache: the worker's ``VIPKB_CACHE``, else ``default`` (the orchestrator's setting)."""
    root = os.environ.get("VIPKB_CACHE") or default
    return _cache_at(os.path.abspath(root)) if root else None


@lru_cache(maxsize=2)
def _checked(model: str, files: tuple[tuple[str, FileRef], ...], cache_dir: str | None) -> CheckedModel:
    cache_ = worker_cache(cache_dir)
    members = {path: fetch(ref, cache=cache_) for path, ref in files}
    return check_archive(Archive(files=members, source=model), {})


@dataclass(frozen=True)
class InstantSource:
    """One instant of a model version, by reference.

    Attributes
    ----------
    model
        The model version's IRI.
    time_point, instant
        Which instant.
    files
        ``(path within the model, FileRef)`` of every file of the model version.
    time
        The instant's time in seconds from the start of its process, if the model gives one.
    cache_dir
        The orchestrator's cache directory, used by workers without a ``VIPKB_CACHE`` of their own.
    """

    model: str
    time_point: int
    instant: int
    files: tuple[tuple[str, FileRef], ...]
    time: float | None = None
    cache_dir: str | None = None

    @property
    def iri(self) -> str:
        """The instant's IRI (``<model>#tp<t>-i<i>``)."""
        return f"{self.model}#tp{self.time_point}-i{self.instant}"

    @property
    def key(self) -> str:
        """Short name of the instant: ``tp0-i3``."""
        return f"tp{self.time_point}-i{self.instant}"

    def load(self) -> ModelInstant:
        """Fetch (through the cache), check and flatten the instant."""
        checked = _checked(self.model, self.files, self.cache_dir)
        return ModelInstant.from_checked(checked, time_point=self.time_point, instant=self.instant)

    def layers(self) -> dict[str, np.ndarray]:
        """The instant's label maps by layer name, as stored (before layers are flattened); read-only arrays."""
        return _layers(self.model, self.files, self.cache_dir, self.time_point, self.instant)


@lru_cache(maxsize=16)
def _layers(model: str, files: tuple[tuple[str, FileRef], ...], cache_dir: str | None, time_point: int,
            instant: int) -> dict[str, np.ndarray]:
    # Decoded once per process: catalog pages show many slices of the same few volumes.
    checked = _checked(model, files, cache_dir)
    for tp, inst in checked.spec.instants():
        if (tp.index, inst.index) == (time_point, instant):
            out = {}
            for layer in inst.layers:
                volume = np.asanyarray(checked.archive.volume(layer.labels, labels=True).dataobj)
                volume.flags.writeable = False  # shared between callers
                out[layer.name] = volume
            return out
    raise UnknownResourceError(f"{model} has no instant {time_point}/{instant}")
