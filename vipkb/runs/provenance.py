"""The RDF a run leaves: the run as a ``prov:Activity`` with its tasks, and each output as simulated data.

Documents are built with rdflib and parsed into knowledge-base documents, so
every write goes through the SHACL shapes like any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, PROV, RDF, RDFS, XSD

from vipkb.documents import Document, parse_document
from vipkb.namespaces import BASE, SPDX, VIP
from vipkb.runs.spec import RunSpec
from vipkb.simulation.describe import simulator_iri
from vipkb.storage.catalog import FileRecord

__all__ = ["STATUS", "OutputFile", "TaskTiming", "agent_iri", "data_document", "data_iri", "graph_document",
           "run_document", "xsd_datetime"]

#: Run status names and their individuals.
STATUS = {"queued": VIP.Queued, "running": VIP.Running, "succeeded": VIP.Succeeded, "failed": VIP.Failed,
          "killed": VIP.Killed}


def xsd_datetime(t: float) -> Literal:
    """An ``xsd:dateTime`` literal (UTC, milliseconds) for a Unix time."""
    text = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Literal(text, datatype=XSD.dateTime)


def agent_iri(name: str) -> URIRef:
    """IRI of the person (account) who launched runs."""
    return URIRef(f"{BASE}agent/{re.sub(r'[^A-Za-z0-9._~-]+', '-', name) or 'anonymous'}")


def data_iri(run_id: str, path: str) -> URIRef:
    """IRI of the simulated data stored at ``path`` in a run (extension dropped)."""
    return URIRef(f"{BASE}data/{run_id}/{path.split('.', 1)[0]}")


@dataclass(frozen=True)
class TaskTiming:
    """One task as it ran: key, worker, Unix start and end, copies submitted."""

    key: str
    worker: str
    started: float
    finished: float
    attempts: int


@dataclass(frozen=True)
class OutputFile:
    """One output of a run as it goes into the knowledge base."""

    path: str
    record: FileRecord
    kind: URIRef
    instants: tuple[str, ...]
    #: Other catalogued files of the same data (the metadata beside an image).
    extra: tuple[tuple[str, FileRecord], ...] = ()


def graph_document(graph: Graph, source: str) -> Document:
    """An rdflib graph as a knowledge-base document (checked by the shapes when written)."""
    return parse_document(graph.serialize(format="nt"), format=ox.RdfFormat.N_TRIPLES, source=source,
                          max_bytes=1 << 30)


def run_document(spec: RunSpec, *, status: str, agent: str, backend: str, started: float | None,
                 ended: float | None, reason: str | None, tasks: Sequence[TaskTiming], label: str) -> Document:
    """The run as a ``vip:SimulationRun`` (a ``prov:Activity``)."""
    g = Graph()
    run = URIRef(spec.iri)
    g.add((run, RDF.type, VIP.SimulationRun))
    g.add((run, RDFS.label, Literal(label)))
    g.add((run, PROV.wasAssociatedWith, simulator_iri(spec.simulator)))
    person = agent_iri(agent)
    g.add((run, PROV.wasAssociatedWith, person))
    g.add((person, RDF.type, PROV.Person))
    g.add((person, RDFS.label, Literal(agent)))
    g.add((run, PROV.used, URIRef(spec.model)))
    for tp, i in spec.instants:
        g.add((run, VIP.simulatedInstant, URIRef(f"{spec.model}#tp{tp}-i{i}")))
    g.add((run, VIP.runStatus, STATUS[status]))
    g.add((run, VIP.seed, Literal(spec.seed, datatype=XSD.integer)))
    g.add((run, VIP.softwareVersion, Literal(spec.version, datatype=XSD.string)))
    g.add((run, VIP.executionBackend, Literal(backend, datatype=XSD.string)))
    if started is not None:
        g.add((run, PROV.startedAtTime, xsd_datetime(started)))
    if ended is not None:
        g.add((run, PROV.endedAtTime, xsd_datetime(max(ended, started or ended))))
    if reason:
        g.add((run, VIP.failureReason, Literal(reason)))
    for name, value in spec.values.items():
        setting = URIRef(f"{spec.iri}#setting-{name}")
        g.add((run, VIP.hasSetting, setting))
        g.add((setting, RDF.type, VIP.ParameterSetting))
        g.add((setting, VIP.parameterName, Literal(name, datatype=XSD.string)))
        g.add((setting, VIP.settingValue, Literal(value)))
    for task in tasks:
        node = URIRef(f"{spec.iri}#task-{task.key}")
        g.add((run, VIP.hasTask, node))
        g.add((node, RDF.type, VIP.SimulationTask))
        g.add((node, VIP.taskKey, Literal(task.key, datatype=XSD.string)))
        g.add((node, VIP.worker, Literal(task.worker, datatype=XSD.string)))
        g.add((node, VIP.attempts, Literal(max(1, task.attempts), datatype=XSD.integer)))
        g.add((node, PROV.startedAtTime, xsd_datetime(task.started)))
        g.add((node, PROV.endedAtTime, xsd_datetime(max(task.finished, task.started))))
    return graph_document(g, f"run {spec.id}")


def _distribution(g: Graph, node: URIRef, path: str, record: FileRecord) -> None:
    g.add((node, RDF.type, DCAT.Distribution))
    g.add((node, VIP.relativePath, Literal(path, datatype=XSD.string)))
    g.add((node, VIP.logicalFile, URIRef(record.iri)))
    g.add((node, DCAT.byteSize, Literal(record.size, datatype=XSD.integer)))
    g.add((node, DCAT.mediaType, URIRef(record.media_type)))
    checksum = URIRef(f"{node}-sha256")
    g.add((node, SPDX.checksum, checksum))
    g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    g.add((checksum, SPDX.checksumValue, Literal(record.sha256, datatype=XSD.hexBinary)))


def data_document(spec: RunSpec, output: OutputFile, *, modality: URIRef, label: str) -> Document:
    """One output as ``vip:SimulatedData``: generated by the run, derived from its instant(s) and the model."""
    g = Graph()
    node = data_iri(spec.id, output.path)
    g.add((node, RDF.type, VIP.SimulatedData))
    g.add((node, RDFS.label, Literal(label)))
    g.add((node, PROV.wasGeneratedBy, URIRef(spec.iri)))
    g.add((node, PROV.wasDerivedFrom, URIRef(spec.model)))
    for instant in output.instants:
        g.add((node, PROV.wasDerivedFrom, URIRef(instant)))
    g.add((node, VIP.outputKind, output.kind))
    g.add((node, VIP.imagingModality, modality))
    files: Iterable[tuple[str, FileRecord]] = ((output.path, output.record), *output.extra)
    for n, (path, record) in enumerate(files):
        dist = URIRef(f"{node}#file-{n}")
        g.add((node, DCAT.distribution, dist))
        _distribution(g, dist, path, record)
    return graph_document(g, f"run {spec.id}: {output.path}")
