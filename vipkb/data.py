"""Simulated data for the catalog: listings and one item's files and provenance, each from SPARQL queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from vipkb import queries
from vipkb.errors import UnknownResourceError
from vipkb.kb import KnowledgeBase
from vipkb.namespaces import BASE
from vipkb.results import term_text

__all__ = ["DataDetails", "DataSummary", "data_id", "describe_data", "list_data"]


def data_id(iri: str) -> str:
    """The path of a simulated data IRI after ``data/`` (``<run-id>/<output>``)."""
    return iri.removeprefix(f"{BASE}data/")


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DataSummary:
    """One line of the simulated-data catalog."""

    iri: str
    label: str
    kind: str
    modality: str
    run: str
    simulator: str
    model: str
    ended: str

    @property
    def id(self) -> str:
        """``<run-id>/<output>``."""
        return data_id(self.iri)

    def as_dict(self) -> dict:
        """JSON-ready form, with ``id``."""
        return {**asdict(self), "id": self.id}


@dataclass
class DataDetails:
    """One simulated data item: summary, files and the instants it derives from."""

    summary: DataSummary
    files: list[dict] = field(default_factory=list)
    instants: list[str] = field(default_factory=list)

    @property
    def preview(self) -> str | None:
        """Logical file name of the PNG preview beside it (same run and instant), if any."""
        for f in self.files:
            if f["type"].endswith("/image/png"):
                return f["lfn"]
        return None


def list_data(kb: KnowledgeBase, *, modality: str | None = None, kind: str | None = None,
              data: str | None = None) -> list[DataSummary]:
    """Simulated data, optionally of one modality or output kind (IRIs), or one item (IRI)."""
    return [DataSummary(iri=r["data"].value, label=r["label"].value, kind=_local(r["kind"].value),
                        modality=_local(r["modality"].value), run=r["run"].value.rsplit("/run/", 1)[-1],
                        simulator=_local(r["simulator"].value), model=r["model"].value.rsplit("/model/", 1)[-1],
                        ended=term_text(r.get("ended")))
            for r in kb.store.query(queries.simulated_data(modality=modality, kind=kind, data=data))]


def describe_data(kb: KnowledgeBase, ref: str) -> DataDetails:
    """One simulated data item by id (``<run-id>/<output>``) or IRI.

    Raises
    ------
    UnknownResourceError
        If there is no such item.
    """
    iri = ref if ref.startswith(("http://", "https://")) else f"{BASE}data/{ref}"
    found = list_data(kb, data=iri)
    if not found:
        raise UnknownResourceError(f"no simulated data {ref!r}")
    details = DataDetails(summary=found[0])
    for r in kb.store.query(queries.data_files(iri)):
        if r.get("instant"):
            details.instants.append(r["instant"].value)
        else:
            details.files.append({"path": r["path"].value, "lfn": r["name"].value, "size": int(r["size"].value),
                                  "type": r["type"].value})
    siblings = kb.store.query(queries.run_outputs(f"{BASE}run/{found[0].run}")).rows
    folder = details.files[0]["path"].rsplit("/", 1)[0] if details.files and "/" in details.files[0]["path"] else ""
    for r in siblings:
        path = r["path"].value
        if path == (f"{folder}/preview.png" if folder else "preview.png") and \
                all(f["path"] != path for f in details.files):
            details.files.append({"path": path, "lfn": r["name"].value, "size": 0,
                                  "type": "https://www.iana.org/assignments/media-types/image/png", "sibling": True})
    return details
