"""The logical file catalog: every file the platform holds, by logical file name, with its replicas.

A logical file (``vip:LogicalFile``, also a ``dcat:Distribution``) is named
by a path-like logical file name (LFN) such as ``model/brain/v1/anatomy.nii.gz``
or ``run/<run-id>/image.nii.gz``, and records its SHA-256, size, media type
and the storage elements holding a copy.  Each lives in a graph of its own
(``graph/file/<lfn>``), so replicating a file rewrites a few triples only.

Storage elements are fsspec URLs named in the settings
(:attr:`vipkb.config.Settings.storage_elements`); the knowledge base keeps
their names, not their URLs, so moving a storage element to another
filesystem is a configuration change.  Copies are content-addressed on each
element (:class:`vipkb.files.FileStore`), so identical content is stored once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD

from vipkb import queries
from vipkb.documents import Document
from vipkb.errors import StoreError, UnknownResourceError
from vipkb.files import sha256
from vipkb.kb import KnowledgeBase, Transaction
from vipkb.namespaces import SPDX, VIP, Graphs
from vipkb.storage.cache import FileCache
from vipkb.storage.names import MEDIA, check_lfn, file_iri, media_type, storage_element_iri
from vipkb.storage.replicas import FileRef, ReadProblem, element, fetch

__all__ = ["FileCatalog", "FileRecord", "ReplicaState", "file_document"]

log = logging.getLogger(__name__)
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FileRecord:
    """One logical file as the catalog knows it.

    Attributes
    ----------
    lfn
        Logical file name.
    sha256, size, media_type
        Content checksum, size in bytes and media type IRI.
    replicas
        Names of the storage elements holding a copy.
    created
        When the file was first catalogued (``xsd:dateTime`` text).
    owner
        The account the file is private to (None: public).
    """

    lfn: str
    sha256: str
    size: int
    media_type: str
    replicas: tuple[str, ...]
    created: str = ""
    owner: str | None = None

    @property
    def iri(self) -> str:
        """The logical file's IRI."""
        return file_iri(self.lfn)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"lfn": self.lfn, "sha256": self.sha256, "size": self.size,
                "media_type": self.media_type.removeprefix(MEDIA), "replicas": list(self.replicas),
                "created": self.created, "owner": self.owner}


@dataclass(frozen=True)
class ReplicaState:
    """What :meth:`FileCatalog.verify` found for one (file, storage element): ``ok``, ``missing``,
    ``corrupt``, ``unreachable``, or ``absent`` (a configured element without a catalogued copy)."""

    lfn: str
    element: str
    state: str


def file_document(record: FileRecord) -> Document:
    """The RDF description of a logical file and its replicas."""
    node = ox.NamedNode(record.iri)
    out: list[ox.Quad] = []

    def add(s: ox.NamedNode, p: object, o: ox.NamedNode | ox.Literal) -> None:
        out.append(ox.Quad(s, ox.NamedNode(str(p)), o))

    add(node, RDF.type, ox.NamedNode(str(VIP.LogicalFile)))
    add(node, RDF.type, ox.NamedNode(str(DCAT.Distribution)))
    add(node, VIP.logicalName, ox.Literal(record.lfn))
    add(node, DCAT.byteSize, ox.Literal(str(record.size), datatype=ox.NamedNode(str(XSD.integer))))
    add(node, DCAT.mediaType, ox.NamedNode(record.media_type))
    checksum = ox.NamedNode(record.iri + "#sha256")
    add(node, SPDX.checksum, checksum)
    add(checksum, SPDX.algorithm, ox.NamedNode(str(SPDX.checksumAlgorithm_sha256)))
    add(checksum, SPDX.checksumValue, ox.Literal(record.sha256, datatype=ox.NamedNode(str(XSD.hexBinary))))
    if record.created:
        add(node, DCTERMS.created, ox.Literal(record.created, datatype=ox.NamedNode(str(XSD.dateTime))))
    for name in record.replicas:
        replica = ox.NamedNode(f"{record.iri}#replica-{name}")
        add(node, VIP.hasReplica, replica)
        add(replica, RDF.type, ox.NamedNode(str(VIP.Replica)))
        add(replica, VIP.storageElement, ox.NamedNode(storage_element_iri(name)))
    return Document(quads=tuple(out), source=f"file catalog entry {record.lfn}", format=ox.RdfFormat.N_TRIPLES)


class FileCatalog:
    """Logical files of a knowledge base and their copies on the configured storage elements.

    Parameters
    ----------
    kb
        The knowledge base holding the catalog.
    elements
        ``(name, url)`` of the storage elements, the first receiving new files; default from the settings.
    cache
        Cache for :meth:`read`; default none (``vipkb files get`` reads the replicas themselves).
    """

    def __init__(self, kb: KnowledgeBase, *, elements: Iterable[tuple[str, str]] | None = None,
                 cache: FileCache | None = None) -> None:
        self.kb = kb
        self.elements = dict(elements if elements is not None else kb.settings.storage_elements)
        if not self.elements:
            raise StoreError("no storage element is configured (VIPKB_STORAGE)")
        self.cache = cache

    # -- writing ------------------------------------------------------------

    def put(self, tx: Transaction, lfn: str, data: bytes, *, created: list[tuple[str, str]] | None = None,
            media: str | None = None) -> FileRecord:
        """Store ``data`` as ``lfn``: on the first storage element, replicated to the others; stage its entry in ``tx``.

        A copy that cannot be made on a secondary element is logged and left
        out of the entry (``vipkb files replicate`` makes it later); the first
        element must take it.  ``created`` collects ``(url, sha256)`` of the
        blobs this call added, for :meth:`undo` if the transaction is refused.

        Raises
        ------
        StoreError
            If the first storage element cannot store the file.
        """
        check_lfn(lfn)
        digest = sha256(data)
        replicas = []
        for i, (name, url) in enumerate(self.elements.items()):
            try:
                _, new = element(url).put(data)
            except (StoreError, OSError, ValueError, ImportError) as err:
                if i == 0:
                    raise StoreError(f"cannot store {lfn} on storage element {name} ({url}): {err}") from err
                log.warning("cannot replicate %s to %s (%s): %s; `vipkb files replicate` retries", lfn, name,
                            url, err)
                continue
            replicas.append(name)
            if new and created is not None:
                created.append((url, digest))
        known = self.records(names=[lfn])
        created_at = known[0].created if known and known[0].sha256 == digest and known[0].created else _now()
        record = FileRecord(lfn=lfn, sha256=digest, size=len(data), media_type=media or media_type(lfn),
                            replicas=tuple(replicas), created=created_at, owner=tx.owner)
        tx.put(file_document(record), skip_unchanged=True)
        return record

    @staticmethod
    def undo(created: Iterable[tuple[str, str]]) -> None:
        """Remove blobs added by :meth:`put` calls whose transaction was refused."""
        for url, digest in created:
            element(url).remove(digest)

    # -- reading ------------------------------------------------------------

    def records(self, prefix: str = "", *, names: Iterable[str] | None = None) -> list[FileRecord]:
        """Logical files whose name starts with ``prefix`` (or whose name is in ``names``), by name."""
        rows: dict[str, dict] = {}
        query = queries.logical_files(prefix, None if names is None else sorted(set(names)))
        for r in self.kb.store.query(query):
            entry = rows.setdefault(r["name"].value, {
                "sha256": r["sha"].value, "size": int(r["size"].value), "media_type": r["type"].value,
                "created": r["created"].value if r.get("created") else "", "replicas": [],
                "owner": Graphs.owner_of(r["graph"].value)})
            if r.get("element"):
                entry["replicas"].append(r["element"].value.rsplit("/", 1)[-1])
        return [FileRecord(lfn=name, replicas=tuple(e.pop("replicas")), **e) for name, e in rows.items()]

    def record(self, lfn: str) -> FileRecord:
        """The entry of one logical file.

        Raises
        ------
        UnknownResourceError
            If no file has that name.
        """
        found = self.records(names=[lfn])
        if not found:
            raise UnknownResourceError(f"no logical file {lfn!r} in the catalog; `vipkb files ls` lists them")
        return found[0]

    def ref(self, record: FileRecord) -> FileRef:
        """A :class:`FileRef` for workers: the catalogued replicas on configured elements, in settings order."""
        urls = tuple((name, url) for name, url in self.elements.items() if name in record.replicas)
        return FileRef(lfn=record.lfn, sha256=record.sha256, size=record.size, replicas=urls)

    def read(self, lfn: str | FileRecord, *, problems: list[ReadProblem] | None = None) -> bytes:
        """The bytes of a logical file, checksum verified, from the first good replica (or the cache)."""
        record = lfn if isinstance(lfn, FileRecord) else self.record(lfn)
        return fetch(self.ref(record), cache=self.cache, problems=problems)

    # -- administration -----------------------------------------------------

    def _state(self, record: FileRecord, name: str) -> str:
        if name not in record.replicas:
            return "absent"
        try:
            element(self.elements[name]).get(record.sha256)
        except UnknownResourceError:
            return "missing"
        except StoreError:
            return "corrupt"
        except (OSError, ValueError, ImportError):
            return "unreachable"
        return "ok"

    def verify(self, prefix: str = "", *, progress=None) -> list[ReplicaState]:
        """Check every catalogued copy of the files under ``prefix`` against its checksum.

        Returns one :class:`ReplicaState` per (file, configured storage element).
        """
        out = []
        records = self.records(prefix)
        for record in records:
            for name in self.elements:
                out.append(ReplicaState(record.lfn, name, self._state(record, name)))
            if progress is not None:
                progress(record)
        return out

    def replicate(self, prefix: str = "", *, to: Iterable[str] | None = None, progress=None) -> list[ReplicaState]:
        """Give every file under ``prefix`` a good copy on each element of ``to`` (default: all).

        A missing or corrupt copy is rewritten from a good one; the entries of
        files whose replica set changed are updated in one transaction.

        Returns
        -------
        list of ReplicaState
            The copies made (state ``ok``) and those that could not be made (their previous state).

        Raises
        ------
        UnknownResourceError
            For a storage element name that is not configured.
        StoreError
            If a file has no good copy left anywhere.
        """
        targets = list(self.elements) if to is None else list(to)
        unknown = [t for t in targets if t not in self.elements]
        if unknown:
            raise UnknownResourceError(f"no storage element {', '.join(unknown)}; configured: "
                                       f"{', '.join(self.elements)} (VIPKB_STORAGE)")
        done: list[ReplicaState] = []
        changed: list[FileRecord] = []
        for record in self.records(prefix):
            states = {name: self._state(record, name) for name in self.elements}
            need = [t for t in targets if states[t] != "ok"]
            if need:
                data = self.read(record)
                have = [name for name, state in states.items() if state == "ok"]
                for name in need:
                    try:
                        element(self.elements[name]).put(data)  # put() rewrites a corrupt blob
                    except (StoreError, OSError, ValueError, ImportError) as err:
                        log.warning("cannot copy %s to %s: %s", record.lfn, name, err)
                        done.append(ReplicaState(record.lfn, name, states[name]))
                        continue
                    have.append(name)
                    done.append(ReplicaState(record.lfn, name, "ok"))
                # Keep what was not disproved (unconfigured or unreachable elements); drop missing/corrupt copies.
                lost = {n for n, state in states.items() if state in ("missing", "corrupt") and n not in have}
                replicas = tuple(dict.fromkeys([n for n in record.replicas if n not in lost] +
                                               [n for n in self.elements if n in have]))
                if replicas != record.replicas:
                    changed.append(dataclasses.replace(record, replicas=replicas))
            if progress is not None:
                progress(record)
        for owner in sorted({r.owner or "" for r in changed}):
            with self.kb.transaction(owner=owner or None) as tx:  # private entries stay in their owner's graphs
                for record in changed:
                    if (record.owner or "") == owner:
                        tx.put(file_document(record))
        return done
