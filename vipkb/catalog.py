"""Catalog listings shared by the CLI and the web: models and simulators.

Each listing is one SPARQL query (:mod:`vipkb.queries`); nothing here walks
the graph in Python.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from vipkb import queries
from vipkb.kb import KnowledgeBase
from vipkb.namespaces import Graphs
from vipkb.results import term_text

_VERSIONED = re.compile(r".*/model/([^/#]+)/v[0-9]+$")


def _local(iri: str) -> str:
    # A versioned model IRI (.../model/<id>/v<n>) is known by its model id.
    versioned = _VERSIONED.match(iri)
    return versioned.group(1) if versioned else iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class _Summary:
    """Shared behaviour of catalog lines: a short id and a JSON-ready form."""

    iri: str

    @property
    def id(self) -> str:
        """Short identifier: the last segment of the IRI."""
        return _local(self.iri)

    def as_dict(self) -> dict:
        """JSON-ready form, with ``id``."""
        d = asdict(self)
        d["id"] = self.id
        return d


@dataclass(frozen=True)
class ModelSummary(_Summary):
    """One line of the model catalog."""

    iri: str
    label: str
    dynamics: str
    dimensionality: int | None
    instants: int
    parts: int
    layers: str
    ready: tuple[str, ...]
    #: The account a private model belongs to (None: public).
    private_to: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form, with ``id`` and ``ready`` as text."""
        d = super().as_dict()
        d["ready"] = ", ".join(self.ready) or "-"
        return d


@dataclass(frozen=True)
class SimulatorSummary(_Summary):
    """One line of the simulator catalog."""

    iri: str
    label: str
    modality: str
    version: str
    parameters: int


def list_models(kb: KnowledgeBase, criteria: queries.ModelFilter | None = None) -> list[ModelSummary]:
    """Models matching ``criteria`` (all latest versions by default), with counts and readiness."""
    out = []
    for r in kb.store.query(queries.models(criteria)):
        ready = tuple(sorted(filter(None, term_text(r.get("ready")).split(", "))))
        dim = r.get("dimensionality")
        out.append(ModelSummary(
            iri=r["model"].value,
            label=r["label"].value,
            dynamics=_local(term_text(r.get("dynamics"))) or "-",
            dimensionality=int(dim.value) if dim is not None else None,
            instants=int(r["instants"].value),
            parts=int(r["parts"].value),
            layers=", ".join(sorted(term_text(r.get("layers")).split(", "))) if r.get("layers") else "-",
            ready=ready,
            private_to=Graphs.owner_of(r["private"].value) if r.get("private") else None,
        ))
    return out


def list_simulators(kb: KnowledgeBase) -> list[SimulatorSummary]:
    """Every simulator with its modality, version and number of parameters."""
    return [
        SimulatorSummary(
            iri=r["simulator"].value,
            label=r["label"].value,
            modality=_local(r["modality"].value),
            version=term_text(r.get("version")) or "-",
            parameters=int(r["parameters"].value),
        )
        for r in kb.store.query(queries.SIMULATORS)
    ]
