"""Import, export and describe models: the repository's operations.

``import_model`` reads an archive safely, checks it, annotates it, stores its
files (content-addressed) and commits the annotation in one transaction.
Re-importing an identical archive changes nothing; a changed archive becomes
a new version (``prov:wasRevisionOf`` the previous one), never an overwrite.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from vipkb import queries
from vipkb.errors import StoreError, UnknownResourceError
from vipkb.kb import CommitResult, KnowledgeBase
from vipkb.models.annotate import annotate, archive_digest, concept_iri, model_iri, model_lfn
from vipkb.models.archive import read_archive, write_archive
from vipkb.models.spec import check_archive, parse_spec
from vipkb.namespaces import Graphs
from vipkb.resources import model_archives
from vipkb.results import term_text
from vipkb.storage.catalog import FileCatalog

#: Joins an owner to the archive's id in a private model's id; public ids cannot contain it (letters, digits, - _ .).
PRIVATE_ID_SEPARATOR = "~"


def private_model_id(owner: str, model_id: str) -> str:
    """The id a model archive gets when imported privately for ``owner``.

    Public ids never contain the separator, so a private upload can never
    clash with (or shadow) a public model, nor with another user's upload.

    >>> private_model_id("alice", "brain")
    'alice~brain'
    """
    return f"{owner}{PRIVATE_ID_SEPARATOR}{model_id}"


@dataclass
class ImportResult:
    """What an import did."""

    model: str
    version: int
    unchanged: bool
    commit: CommitResult | None = None
    files_stored: int = 0


def modality_requirements(kb: KnowledgeBase) -> dict[str, set[str]]:
    """Parameter kinds (local names) each modality requires, from the ontology."""
    out: dict[str, set[str]] = {}
    for r in kb.store.query(queries.MODALITY_REQUIREMENTS):
        out.setdefault(r["modality"].value.rsplit("#", 1)[1], set()).add(r["kind"].value.rsplit("#", 1)[1])
    return out


def versions(kb: KnowledgeBase, model_id: str) -> list[tuple[int, str, str]]:
    """(version, IRI, archive digest) of every stored version of a model, oldest first."""
    rows = kb.store.query(queries.model_versions(concept_iri(model_id)))
    return sorted((int(r["version"].value), r["model"].value, r["digest"].value) for r in rows)


def import_model(kb: KnowledgeBase, path: str | Path, *, catalog: FileCatalog | None = None,
                 owner: str | None = None) -> ImportResult:
    """Import a model archive (zip or folder) into the knowledge base.

    Its files enter the logical file catalog as ``model/<id>/v<n>/<path>``,
    stored on the first storage element and replicated to the others.

    Parameters
    ----------
    owner
        Import privately for this account: the model gets the id
        ``<owner>~<id>`` (:func:`private_model_id`), its annotation, catalog
        records, inferences and file entries go to the owner's private
        graphs, and only the owner and administrators can see or simulate it.

    Raises
    ------
    ModelArchiveError
        For anything wrong with the archive; nothing is stored.
    NotConformingError, InconsistentError
        If the generated annotation is refused; nothing is stored.
    """
    catalog = catalog or FileCatalog(kb)
    archive = read_archive(path, max_bytes=kb.settings.max_archive_bytes)
    model_id = parse_spec(archive.metadata(), archive.source).id
    if owner is not None:
        model_id = private_model_id(owner, model_id)
    existing = versions(kb, model_id)
    if existing and existing[-1][2] == archive_digest(archive.files):
        # The same bytes were imported and checked before: skip decoding the volumes again.
        return ImportResult(model=existing[-1][1], version=existing[-1][0], unchanged=True)
    checked = check_archive(archive, modality_requirements(kb))
    checked = dataclasses.replace(checked, spec=dataclasses.replace(checked.spec, id=model_id))
    version = existing[-1][0] + 1 if existing else 1
    document = annotate(checked, version=version, previous=existing[-1][1] if existing else None)
    tx = kb.transaction(owner=owner)
    tx.put(document)
    # Files go in before the commit (the annotation must never point at missing
    # files) and come out again if the commit is refused.
    stored: list[tuple[str, str]] = []
    try:
        for name, data in sorted(archive.files.items()):
            catalog.put(tx, model_lfn(model_id, version, name), data, created=stored)
        commit = tx.commit()
    except Exception:
        catalog.undo(stored)  # the files of a refused import must not linger
        raise
    return ImportResult(model=model_iri(model_id, version), version=version, unchanged=False,
                        commit=commit, files_stored=len({digest for _, digest in stored}))


def import_bundled(kb: KnowledgeBase, *, progress=None) -> list[ImportResult]:
    """Import every bundled model archive (``data/models/*/``); unchanged ones are skipped."""
    say = progress or (lambda _msg: None)
    results = []
    catalog = FileCatalog(kb)
    for path in model_archives(kb.settings):
        result = import_model(kb, path, catalog=catalog)
        say(f"model {path.name}: " + (f"unchanged (v{result.version})" if result.unchanged else
                                      f"imported v{result.version}, ready for "
                                      f"{', '.join(result.commit.ready.get(result.model, [])) or 'no modality'}"))
        results.append(result)
    return results


def resolve_model(kb: KnowledgeBase, ref: str) -> str:
    """Find a model version from an IRI, ``id`` (latest version) or ``id/vN``."""
    if ref.startswith(("http://", "https://")):
        candidates = [ref]
    elif "/v" in ref:
        model_id, _, v = ref.rpartition("/v")
        candidates = [model_iri(model_id, int(v))] if v.isdigit() else []
    else:
        found = versions(kb, ref)
        candidates = [found[-1][1]] if found else []
    for iri in candidates:
        if kb.store.query(queries.is_model(iri)).boolean:
            return iri
    raise UnknownResourceError(f"no model {ref!r} in the knowledge base; `vipkb models` lists them")


def model_members(kb: KnowledgeBase, ref: str, *, catalog: FileCatalog | None = None) -> tuple[str, dict]:
    """The model version's IRI and its files (path within the model -> :class:`FileRecord`)."""
    catalog = catalog or FileCatalog(kb)
    iri = resolve_model(kb, ref)
    names = {r["name"].value: r["path"].value for r in kb.store.query(queries.model_file_refs(iri))}
    members = {names[rec.lfn]: rec for rec in catalog.records(names=names)}
    if len(members) != len(names):
        lost = sorted(set(names) - {rec.lfn for rec in members.values()})
        raise StoreError(f"{iri}: files missing from the file catalog: {', '.join(lost)}")
    return iri, members


def export_model(kb: KnowledgeBase, ref: str, target: str | Path, *, catalog: FileCatalog | None = None) -> Path:
    """Write a model version back as an archive (folder, or zip if ``target`` ends in .zip)."""
    catalog = catalog or FileCatalog(kb)
    _, members = model_members(kb, ref, catalog=catalog)
    return write_archive({path: catalog.read(rec) for path, rec in members.items()}, target)


@dataclass
class ModelDescription:
    """Everything ``vipkb model show`` prints."""

    iri: str
    label: str
    version: str
    dynamics: str
    voxel_size: str
    ready: list[str]
    instants: list[tuple[int, int, str]] = field(default_factory=list)
    layers: list[tuple[str, str, int]] = field(default_factory=list)
    tissues: list[tuple[int, str, str, list[str]]] = field(default_factory=list)
    #: The account a private model belongs to (None: public).
    private_to: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return json.loads(json.dumps(self.__dict__))


def describe_model(kb: KnowledgeBase, ref: str) -> ModelDescription:
    """Layers, instants, tissues with their parameters, and readiness of a model."""
    iri = resolve_model(kb, ref)
    head = kb.store.query(queries.model_head(iri)).rows[0]
    ready = sorted(r["modality"].value.rsplit("#", 1)[1] for r in kb.store.query(queries.model_ready(iri)))
    desc = ModelDescription(iri=iri, label=head["label"].value, version=term_text(head.get("version")),
                            dynamics=term_text(head.get("dynamics")).rsplit("#", 1)[-1],
                            voxel_size=term_text(head.get("voxel")), ready=ready,
                            private_to=Graphs.owner_of(head["private"].value) if head.get("private") else None)
    desc.instants = [(int(r["tp"].value), int(r["i"].value), term_text(r.get("time")))
                     for r in kb.store.query(queries.model_instants(iri))]
    desc.layers = [(r["name"].value, r["kind"].value.rsplit("#", 1)[1], int(r["parts"].value))
                   for r in kb.store.query(queries.model_layers(iri))]
    tissues: dict[tuple[int, str, str], list[str]] = {}
    for r in kb.store.query(queries.model_tissues(iri)):
        key = (int(r["label"].value), r["tissue"].value, r["layer"].value)
        tissues.setdefault(key, [])
        if "param" in r:
            tissues[key].append(r["param"].value)
    desc.tissues = [(label, tissue, layer, sorted(set(p))) for (label, tissue, layer), p in sorted(tissues.items())]
    return desc
