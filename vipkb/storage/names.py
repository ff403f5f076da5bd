"""Names in the file catalog: logical file IRIs, storage element IRIs, media types."""

from __future__ import annotations

from vipkb.namespaces import BASE

__all__ = ["MEDIA", "file_iri", "media_type", "storage_element_iri"]

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
