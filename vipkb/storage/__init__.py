"""Files: the logical file catalog, replicas on storage elements, and the workers' local cache."""

from vipkb.storage.cache import FileCache
from vipkb.storage.catalog import FileCatalog, FileRecord, ReplicaState
from vipkb.storage.names import file_iri, media_type
from vipkb.storage.replicas import FileRef, ReadProblem, fetch

__all__ = ["FileCache", "FileCatalog", "FileRecord", "FileRef", "ReadProblem", "ReplicaState", "fetch", "file_iri",
           "media_type"]
