"""From per-instant task outputs to a run's files: per-instant folders, a 4-D time series, and their annotations."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence

import nibabel as nib
import numpy as np
from rdflib import URIRef

from vipkb.namespaces import VIP
from vipkb.runs.provenance import OutputFile
from vipkb.runs.tasks import InstantWork
from vipkb.simulation.plugin import nifti_bytes, nifti_image
from vipkb.storage.catalog import FileRecord

__all__ = ["SERIES", "annotations", "outputs", "time_series"]

#: File name of the 4-D time series of a run over several instants.
SERIES = "series.nii.gz"


def _prefix(works: Sequence[InstantWork], k: int) -> str:
    return "" if len(works) == 1 else f"{works[k].source.key}/"


def time_series(images: Sequence[bytes], times: Sequence[float | None]) -> bytes:
    """Stack 3-D NIfTI images (same grid) into one 4-D NIfTI; the time step comes from the instants' times.

    Raises
    ------
    ValueError
        If the images are not on the same grid.
    """
    volumes = [nib.Nifti1Image.from_bytes(gzip.decompress(data)) for data in images]
    first = volumes[0]
    for other in volumes[1:]:
        if other.shape != first.shape or not np.allclose(other.affine, first.affine):
            raise ValueError("instants simulated on different grids cannot form one time series")
    data = np.stack([np.asanyarray(v.dataobj) for v in volumes], axis=-1)
    image = nifti_image(data, first.affine)
    known = [t for t in times if t is not None]
    step = float(np.mean(np.diff(known))) if len(known) == len(times) and len(known) > 1 else 1.0
    image.header.set_zooms(tuple(first.header.get_zooms()[:3]) + (step if step > 0 else 1.0,))
    return nifti_bytes(image)


def outputs(works: Sequence[InstantWork], per_instant: Sequence[dict[str, bytes]]) -> dict[str, bytes]:
    """Every file of the run by path: each instant's outputs (in ``tp<t>-i<i>/`` when there are several)
    and, for several instants, the 4-D ``series.nii.gz``."""
    files: dict[str, bytes] = {}
    for k, produced in enumerate(per_instant):
        for name, data in sorted(produced.items()):
            files[_prefix(works, k) + name] = data
    if len(works) > 1:
        files[SERIES] = time_series([p["image.nii.gz"] for p in per_instant], [w.source.time for w in works])
    return files


def _raw_kinds(metadata: bytes) -> dict[str, str]:
    return {f"{name}.npy": info["kind"] for name, info in json.loads(metadata).get("raw", {}).items()}


def annotations(works: Sequence[InstantWork], files: dict[str, bytes],
                records: dict[str, FileRecord]) -> list[OutputFile]:
    """One :class:`OutputFile` per image, raw array, preview and series, each with the instants it derives from.

    The metadata file of an instant is a second distribution of its image.
    """
    out = []
    for k, work in enumerate(works):
        prefix = _prefix(works, k)
        instant = (work.source.iri,)
        meta = records.get(prefix + "metadata.json")
        kinds = _raw_kinds(files[prefix + "metadata.json"]) if meta else {}
        for path, record in records.items():
            if not path.startswith(prefix) or "/" in path[len(prefix):] or path == SERIES:
                continue
            name = path[len(prefix):]
            if name == "image.nii.gz":
                extra = ((prefix + "metadata.json", meta),) if meta else ()
                out.append(OutputFile(path=path, record=record, kind=VIP.Image, instants=instant, extra=extra))
            elif name == "preview.png":
                out.append(OutputFile(path=path, record=record, kind=VIP.Preview, instants=instant))
            elif name.endswith(".npy"):
                out.append(OutputFile(path=path, record=record, kind=URIRef(kinds.get(name, str(VIP.Image))),
                                      instants=instant))
    if SERIES in records:
        out.append(OutputFile(path=SERIES, record=records[SERIES], kind=VIP.TimeSeries,
                              instants=tuple(w.source.iri for w in works)))
    return out
