"""Names in the file catalog: logical file IRIs, storage element IRIs, media types."""

from __future__ import annotations

import re

from vipkb.errors import ParameterError
from vipkb.namespaces import BASE

__all__ = ["MEDIA", "check_lfn", "file_iri", "media_type", "storage_element_iri"]

MEDIA = "https://www.iana.org/assignments/media-types/"
MEDIA_BY_SUFFIX = {".nii.gz": "application/gzip", ".gz": "application/gzip", ".csv": "text/csv",
                    ".json": "application/json", ".png": "image/png", ".npy": "application/octet-stream",
                    ".npz": "application/zip", ".zip": "application/zip"}


def media_type(name: str) -> str:
    """IANA media type IRI of a file, by its name's suffix.

    >>> media_type("preview.png")
    'https://www.iana.org/assignments/media-types/image/png'
    """
    for suffix, kind in MEDIA_BY_SUFFIX.items():
        if name.endswith(suffix):
            return MEDIA + kind
    return MEDIA + "application/octet-stream"


def file_iri(lfn: str) -> str:
    """IRI of the logical file named ``lfn``.

    >>> file_iri("model/brain/v1/anatomy.nii.gz")
    'https://w3id.org/vipkb/file/model/brain/v1/anatomy.nii.gz'
    """
    return f"{BASE}file/{lfn}"


def storage_element_iri(name: str) -> str:
    """IRI of the storage element called ``name`` in the settings."""
    return f"{BASE}storage/{name}"

#: A logical file name: plain path segments, as the shapes require (vsh:LogicalFileShape).
_LFN = re.compile(r"[A-Za-z0-9._~@+-]+(/[A-Za-z0-9._~@+-]+)*")


def check_lfn(lfn: str) -> str:
    """Return ``lfn`` if it is a valid logical file name.

    >>> check_lfn("run/x/image.nii.gz")
    'run/x/image.nii.gz'

    Raises
    ------
    ParameterError
        For an empty, absolute or climbing name, or one with characters other than letters, digits, . _ ~ - @ +.
    """
    if not _LFN.fullmatch(lfn) or any(part in (".", "..") for part in lfn.split("/")):
        raise ParameterError(f"{lfn!r} is not a logical file name: use a relative path of plain segments "
                             "(letters, digits, . _ ~ - @ +), without '.' or '..'")
    return lfn
