"""Executions: requests to run a pipeline through the REST API, recorded as linked data.

An execution (``vip:Execution``, a ``prov:Activity``) keeps what the client
sent (name, pipeline, input values, results location) in its owner's private
graph and is carried out by a simulation run (``vip:carriedOutBy``), which
the launcher executes.  Several executions with the same inputs share one
run: asking twice does not compute twice.

When the run has succeeded, its outputs are written to the caller's file
space under ``<resultsLocation>/<date>_<execution id>/`` (checksums verified
on the way) and recorded as ``vip:returnedFile``; this happens once, as soon
as the launcher reports the end or the first time the execution is looked at
afterwards, whichever comes first.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, XSD

from vipkb import queries
from vipkb.access import Reader
from vipkb.documents import Document
from vipkb.errors import (
    FileSpaceError,
    InconsistentError,
    ModelArchiveError,
    NotConformingError,
    ParameterError,
    SimulationError,
    UnknownResourceError,
)
from vipkb.kb import KnowledgeBase
from vipkb.models.repository import import_model, resolve_model
from vipkb.namespaces import BASE, VIP, Graphs
from vipkb.pipelines import Launch, Pipeline
from vipkb.results import term_text
from vipkb.runs import kill_run, plan_run, show_run
from vipkb.runs.launcher import Launcher
from vipkb.runs.provenance import STATUS, agent_iri, graph_document, xsd_datetime
from vipkb.runs.workdir import RunDirectory
from vipkb.simulation.describe import simulator_iri
from vipkb.storage.catalog import FileCatalog
from vipkb.storage.homes import HOME, FileSpace, check_path

__all__ = ["VIP_STATUS", "Execution", "count_executions", "delete_execution", "execution_iri", "get_execution",
           "kill_execution", "list_executions", "start_execution", "write_results", "write_run_results"]

#: VIP status of each run status.  A queued execution is reported as Running: the VIP client polls while Running.
VIP_STATUS = {"queued": "Running", "running": "Running", "succeeded": "Finished", "failed": "ExecutionFailed",
              "killed": "Killed"}
_RUN_STATUS = {str(v): k for k, v in STATUS.items()}
_write_lock = threading.Lock()


def execution_iri(execution_id: str) -> str:
    """IRI of an execution."""
    return f"{BASE}execution/{execution_id}"


@dataclass(frozen=True)
class Execution:
    """An execution as the API shows it."""

    id: str
    name: str
    pipeline: str
    owner: str
    run_id: str
    run_status: str
    started: float
    results_location: str
    inputs: dict[str, str]
    returned: tuple[str, ...]
    reason: str = ""
    #: Why the execution itself was killed ("" if it was not): it stays killed whatever its run does later.
    killed: str = ""

    @property
    def status(self) -> str:
        """The VIP status string."""
        return "Killed" if self.killed else VIP_STATUS.get(self.run_status, "Unknown")

    @property
    def results_folder(self) -> str:
        """Where the results are (or will be) written: a dated folder under the results location."""
        stamp = datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%d_%H:%M:%S")
        return f"{self.results_location.rstrip('/')}/{stamp}_{self.id}"

    def as_dict(self) -> dict:
        """The VIP JSON object (``returnedFiles`` always present: null until the results are written)."""
        out = {"identifier": self.id, "name": self.name, "pipelineIdentifier": self.pipeline,
               "status": self.status, "inputValues": self.inputs, "resultsLocation": self.results_location,
               "startDate": int(self.started * 1000),
               "returnedFiles": {"results": list(self.returned)} if self.returned else None}
        if self.error:
            out["errorMessage"] = self.error
        return out

    @property
    def error(self) -> str:
        """Why the execution failed or was killed ("" otherwise)."""
        if self.killed:
            return self.killed
        return self.reason if self.status in ("ExecutionFailed", "Killed") else ""


def _executions(kb: KnowledgeBase, rows: list[dict]) -> list[Execution]:
    """The executions of ``rows`` (of :func:`queries.executions`), their inputs read in one query."""
    if not rows:
        return []
    inputs: dict[str, dict[str, str]] = {}
    returned: dict[str, list[str]] = {}
    for r in kb.store.query(queries.execution_inputs(r["execution"].value for r in rows)):
        iri = r["execution"].value
        if r.get("returned") is not None:
            returned.setdefault(iri, []).append(r["returned"].value)
        else:
            inputs.setdefault(iri, {})[r["name"].value] = r["value"].value
    out = []
    for row in rows:
        iri, status = row["execution"].value, row.get("status")
        started = datetime.fromisoformat(row["started"].value.replace("Z", "+00:00")).timestamp()
        out.append(Execution(
            id=iri.rsplit("/", 1)[-1], name=row["name"].value,
            pipeline=f"{row['simulator'].value.rsplit('/', 1)[-1]}/{term_text(row.get('version'))}",
            owner=Graphs.owner_of(row["graph"].value) or "", run_id=row["run"].value.rsplit("/run/", 1)[-1],
            run_status=_RUN_STATUS.get(status.value, "unknown") if status else "unknown", started=started,
            results_location=row["location"].value, inputs=inputs.get(iri, {}),
            returned=tuple(sorted(returned.get(iri, ()))), reason=term_text(row.get("reason")),
            killed=(term_text(row.get("note")) or "killed") if row.get("own") is not None else ""))
    return out


def list_executions(kb: KnowledgeBase, *, owner: str | None = None) -> list[Execution]:
    """The executions of the knowledge base (view), or those of ``owner``, newest first."""
    return _executions(kb, kb.store.query(queries.executions(owner=owner)).rows)


def count_executions(kb: KnowledgeBase, *, owner: str | None = None) -> int:
    """How many executions :func:`list_executions` would give (without reading their inputs)."""
    return len(kb.store.query(queries.executions(owner=owner)).rows)


def write_run_results(kb: KnowledgeBase, run_id: str) -> None:
    """Write the results of every execution carried out by run ``run_id`` (a :class:`Launcher` listener)."""
    for execution in _executions(kb, kb.store.query(queries.executions(run=f"{BASE}run/{run_id}")).rows):
        write_results(kb, execution, FileSpace(kb.settings.homes_url, execution.owner))


def get_execution(kb: KnowledgeBase, execution_id: str) -> Execution:
    """One execution the (view of the) knowledge base holds.

    Raises
    ------
    UnknownResourceError
        If there is none of that id in the view.
    """
    if not execution_id or not all(c.isalnum() or c == "-" for c in execution_id):
        raise UnknownResourceError(f"no execution {execution_id!r}")
    rows = kb.store.query(queries.executions(execution=execution_iri(execution_id))).rows
    if not rows:
        raise UnknownResourceError(f"no execution {execution_id!r}; GET /rest/executions lists yours")
    return _executions(kb, rows)[0]


def _document_of(execution: Execution, simulator: str, *, agent: str) -> Document:
    g = Graph()
    node = URIRef(execution_iri(execution.id))
    g.add((node, RDF.type, VIP.Execution))
    g.add((node, RDFS.label, Literal(execution.name, datatype=XSD.string)))
    g.add((node, VIP.pipeline, simulator_iri(simulator)))
    g.add((node, VIP.carriedOutBy, URIRef(f"{BASE}run/{execution.run_id}")))
    g.add((node, PROV.wasAssociatedWith, agent_iri(agent)))
    g.add((node, PROV.startedAtTime, xsd_datetime(execution.started)))
    g.add((node, VIP.resultsLocation, Literal(execution.results_location, datatype=XSD.string)))
    for name, value in sorted(execution.inputs.items()):
        setting = BNode()
        g.add((node, VIP.inputValue, setting))
        g.add((setting, RDF.type, VIP.ParameterSetting))
        g.add((setting, VIP.parameterName, Literal(name, datatype=XSD.string)))
        g.add((setting, VIP.settingValue, Literal(value, datatype=XSD.string)))
    for path in execution.returned:
        g.add((node, VIP.returnedFile, Literal(path, datatype=XSD.string)))
    if execution.killed:
        g.add((node, VIP.executionStatus, VIP.Killed))
        g.add((node, RDFS.comment, Literal(execution.killed)))
    return graph_document(g, f"execution {execution.id}")


def _model_for(kb: KnowledgeBase, reader: Reader, launch: Launch, files: FileSpace) -> str:
    if launch.model is not None:
        try:
            return resolve_model(kb.for_reader(reader), launch.model)
        except UnknownResourceError as err:
            raise ParameterError(f"inputValues.modelIdentifier: {err}") from None
    try:
        path = check_path(launch.archive or "")
        data = files.read(path)
    except FileSpaceError as err:
        raise ParameterError(f"inputValues.model: {err}") from None
    except UnknownResourceError:
        raise ParameterError(f"inputValues.model: no file {launch.archive} in your file space; upload it "
                             "first") from None
    with tempfile.TemporaryDirectory(prefix="vipkb-upload-") as tmp:
        archive = Path(tmp) / "model.zip"
        archive.write_bytes(data)
        try:
            return import_model(kb, archive, owner=reader.name).model
        except (ModelArchiveError, NotConformingError, InconsistentError) as err:
            # The message names the user's file, not the server's temporary copy.
            raise ParameterError(f"inputValues.model: {str(err).replace(str(archive), path)}") from None


def start_execution(kb: KnowledgeBase, launcher: Launcher, *, reader: Reader, pipeline: Pipeline, launch: Launch,
                    name: str, results_location: str, files: FileSpace) -> Execution:
    """Record an execution for ``reader`` and hand its run to the launcher (queued at once).

    The model comes from the catalog (as the reader sees it) or from an archive
    in the reader's file space, imported privately.  The run is private to the
    reader.

    Raises
    ------
    ParameterError
        For a bad name, results location, model or parameter value; nothing is recorded.
    """
    if not name.strip():
        raise ParameterError("name: give the execution a non-empty name")
    try:
        location = check_path(results_location or HOME)
    except FileSpaceError as err:
        raise ParameterError(f"resultsLocation: {err}") from None
    if not location.startswith(HOME):
        raise ParameterError(f"resultsLocation: {location} is not in your file space ({HOME}/...)")
    model = _model_for(kb, reader, launch, files)
    try:
        spec = plan_run(kb, model, pipeline.simulator, launch.values, seed=launch.seed, instants=launch.instants,
                        owner=reader.name)
    except SimulationError as err:
        raise ParameterError(f"inputValues: {err}") from None
    files.mkdir(location)  # only once everything checked: a refused launch leaves nothing behind
    run_id = launcher.submit(spec, agent=reader.name)
    execution = Execution(id=f"exec-{secrets.token_hex(6)}", name=name.strip(), pipeline=pipeline.identifier,
                          owner=reader.name, run_id=run_id, run_status="queued", started=time.time(),
                          results_location=location, inputs=launch.inputs, returned=())
    with kb.transaction(owner=reader.name) as tx:
        tx.put(_document_of(execution, pipeline.simulator, agent=reader.name))
    RunDirectory(kb.settings.runs_dir, run_id).log(f"execution {execution.id} ({execution.name}) by {reader.name}")
    return get_execution(kb, execution.id)


def write_results(kb: KnowledgeBase, execution: Execution, files: FileSpace) -> Execution:
    """Write a finished execution's outputs to its owner's file space, once; return it up to date.

    Nothing happens until the run has succeeded, nor after the results were
    written (even if the user deleted them since).
    """
    if execution.run_status != "succeeded" or execution.returned or execution.killed:
        return execution
    with _write_lock:
        execution = get_execution(kb, execution.id)
        if execution.returned or execution.killed:
            return execution
        details = show_run(kb, execution.run_id)
        catalog = FileCatalog(kb)
        records = {r.lfn: r for r in catalog.records(names=[o["lfn"] for o in details.outputs])}
        folder = files.mkdir(execution.results_folder).path
        written = []
        for output in sorted(details.outputs, key=lambda o: o["path"]):
            target = f"{folder}/{output['path']}"
            files.write(target, catalog.read(records[output["lfn"]]), parents=True)
            written.append(target)
        _record(kb, dataclasses.replace(execution, returned=tuple(sorted(written))))
        return get_execution(kb, execution.id)


def _record(kb: KnowledgeBase, execution: Execution) -> None:
    """Write ``execution`` again (its record is replaced as a whole)."""
    with kb.transaction(owner=execution.owner) as tx:
        tx.put(_document_of(execution, execution.pipeline.split("/", 1)[0], agent=execution.owner))


def kill_execution(kb: KnowledgeBase, execution: Execution, *, reader: Reader, files: FileSpace,
                   delete_files: bool = False) -> Execution:
    """Stop an execution's run (if it is still going) and optionally delete its results folder.

    Raises
    ------
    AccessDeniedError
        If the reader may not change the run.
    """
    reader.check_may_change(execution.owner or None, f"execution {execution.id}")
    if execution.status == "Running":
        reason = f"killed by {reader.name}"
        kill_run(kb, execution.run_id, reader=reader, wait=10.0, reason=f"execution {execution.id} {reason}")
        _record(kb, dataclasses.replace(execution, killed=reason))
    if delete_files and files.exists(execution.results_folder):
        files.delete(execution.results_folder)
    return get_execution(kb, execution.id)


def delete_execution(kb: KnowledgeBase, execution: Execution, *, reader: Reader, files: FileSpace,
                     delete_files: bool = False) -> None:
    """Kill an execution if it runs, then remove its record (and its results folder if asked)."""
    kill_execution(kb, execution, reader=reader, files=files, delete_files=delete_files)
    with kb.transaction(owner=execution.owner) as tx:
        tx.drop(str(Graphs.for_resource("execution", execution_iri(execution.id), owner=execution.owner)))
