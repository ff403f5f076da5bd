"""The knowledge base: one interface over any store, with guarded writes.

Every write goes parse -> SHACL validation -> reasoning -> one atomic commit.
A :class:`Transaction` gathers documents (each replacing one named graph)
and graph drops; on commit it validates them together, classifies the models
they describe, and sends everything (the graphs, the refreshed inferences and
the catalog records) as one SPARQL update request.  If any step fails,
nothing reaches the store.

Examples
--------
>>> from vipkb.stores.oxigraph_ import EmbeddedStore
>>> kb = KnowledgeBase(EmbeddedStore(None), settings=Settings(reasoner="off"))
>>> report = kb.init(load_data=False)
>>> kb.is_initialised()
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
import pyshacl
from rdflib import Graph
from rdflib.namespace import DCTERMS, RDF

from vipkb import queries
from vipkb.access import Reader, ScopedStore
from vipkb.config import Settings
from vipkb.documents import Document, load_path, parse_document
from vipkb.errors import (
    ConfigurationError,
    DocumentError,
    NotConformingError,
    NotInitialisedError,
    QueryError,
    ReservedGraphError,
    UnknownResourceError,
)
from vipkb.namespaces import VIP, Graphs, with_prefixes
from vipkb.reasoning import classify_models, inference_triples
from vipkb.resources import data_files, ontology_files, shape_files
from vipkb.results import QueryResult
from vipkb.stores import Store, open_store, quads_to_sparql_data
from vipkb.updates import plan_update
from vipkb.validation import ValidationReport, Validator, rdflib_graph

_RDF_TYPE = ox.NamedNode(str(RDF.type))
_OBJECT_MODEL = ox.NamedNode(str(VIP.ObjectModel))
_MAIN_CLASSES = {ox.NamedNode(str(c)) for c in Graphs.main_classes()}


def content_hash(triples: Iterable[ox.Triple | ox.Quad]) -> str:
    """SHA-256 of a graph's canonical form (RDFC-1.0), independent of blank-node labels."""
    ds = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    ds.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    h = hashlib.sha256()
    for line in sorted(str(q) for q in ds):
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class GraphWrite:
    """One named graph to be replaced by a document's statements."""

    graph: str
    triples: tuple[ox.Triple, ...]
    source: str
    hash: str


@dataclass
class CommitResult:
    """What one commit changed."""

    written: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    triples: int = 0
    ready: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class InitReport:
    """What ``init`` did: which reserved graphs it (re)loaded and which data."""

    ontology_loaded: bool = False
    shapes_loaded: bool = False
    data: CommitResult = field(default_factory=CommitResult)
    #: One :class:`vipkb.models.repository.ImportResult` per bundled model archive.
    models: list = field(default_factory=list)
    #: The commit of the installed simulators' descriptions.
    simulators: CommitResult = field(default_factory=CommitResult)

    @property
    def changed(self) -> bool:
        """Whether init wrote anything."""
        return bool(self.ontology_loaded or self.shapes_loaded or self.data.written or self.simulators.written
                    or any(not m.unchanged for m in self.models))


def _main_resources(triples: Iterable[ox.Triple]) -> list[tuple[str, str]]:
    found = set()
    for t in triples:
        if t.predicate == _RDF_TYPE and t.object in _MAIN_CLASSES and isinstance(t.subject, ox.NamedNode):
            found.add((Graphs.kind_of(t.object.value), t.subject.value))
    return sorted(found)


class Transaction:
    """A group of graph replacements and drops committed atomically.

    Use through :meth:`KnowledgeBase.transaction`; leaving the ``with`` block
    normally commits, an exception discards everything.
    """

    def __init__(self, kb: KnowledgeBase, *, owner: str | None = None) -> None:
        self.kb = kb
        #: The account whose private graphs receive the documents (None: public graphs).
        self.owner = owner
        self.writes: dict[str, GraphWrite] = {}
        self.drops: set[str] = set()
        self.skipped: list[str] = []
        self.result: CommitResult | None = None

    def put(self, document: Document, *, graph: str | None = None, skip_unchanged: bool = False) -> list[str]:
        """Stage ``document`` to replace its graph(s); return the graph IRIs.

        A triple document goes to ``graph`` if given, else to the graph of
        the one model, simulator, run or simulated data it describes (the
        owner's private graph in a transaction for an owner).  A dataset
        document (TriG, N-Quads) replaces each graph it names.
        """
        staged: dict[str, list[ox.Triple]] = {}
        if document.is_dataset:
            for q in document.quads:
                if isinstance(q.graph_name, ox.DefaultGraph):
                    raise DocumentError("statements outside any named graph in a dataset document; "
                                        "put them in a GRAPH block", source=document.source)
                staged.setdefault(q.graph_name.value, []).append(q.triple)
        else:
            triples = [q.triple for q in document.quads]
            staged[graph or self._graph_for(triples, document.source)] = triples
        for g, triples in staged.items():
            if Graphs.is_reserved(g):
                raise ReservedGraphError(
                    f"{document.source}: graph <{g}> is managed by the knowledge base; "
                    "it is written by `vipkb init` only"
                )
            self.writes[g] = GraphWrite(graph=g, triples=tuple(triples), source=document.source,
                                        hash=content_hash(triples))
            self.drops.discard(g)
        if skip_unchanged:
            self._skip_unchanged(list(staged))
        return list(staged)

    def _graph_for(self, triples: list[ox.Triple], source: str) -> str:
        mains = _main_resources(triples)
        if len(mains) == 1:
            kind, iri = mains[0]
            return str(Graphs.for_resource(kind, iri, owner=self.owner))
        if not mains:
            raise DocumentError("the document describes no vip:ObjectModel, vip:Simulator, vip:SimulationRun, "
                                "vip:LogicalFile "
                                "or vip:SimulatedData; name the target graph explicitly (--graph)", source=source)
        names = ", ".join(f"<{iri}>" for _, iri in mains)
        raise DocumentError(f"the document describes {len(mains)} main resources ({names}); load one per "
                            "document, or name the target graph explicitly (--graph)", source=source)

    def _skip_unchanged(self, graphs: list[str]) -> None:
        res = self.kb.store.query(queries.catalog_records(graphs))
        known = {r["g"].value: r["hash"].value for r in res}
        for g in graphs:
            if known.get(g) == self.writes[g].hash:
                self.skipped.append(g)
                del self.writes[g]

    def drop(self, graph: str) -> None:
        """Stage the removal of a data graph."""
        if Graphs.is_reserved(graph):
            raise ReservedGraphError(f"graph <{graph}> is managed by the knowledge base and cannot be dropped")
        self.writes.pop(graph, None)
        self.drops.add(graph)

    # -- commit -----------------------------------------------------------

    def validate(self) -> ValidationReport:
        """Validate the staged documents together, against the store's context."""
        if not self.writes:
            return ValidationReport(conforms=True)
        validator = self.kb.validator
        data = validator.data_graph()
        sources: dict = {}
        subjects: set[ox.NamedNode | ox.BlankNode] = set()
        objects: set[ox.NamedNode] = set()
        for w in self.writes.values():
            data.extend(ox.Quad(t.subject, t.predicate, t.object) for t in w.triples)
            for t in w.triples:
                sources.setdefault(t.subject, w.source)
                subjects.add(t.subject)
                if isinstance(t.object, ox.NamedNode):
                    objects.add(t.object)
        referenced = sorted(o.value for o in objects - subjects)
        replaced = sorted(set(self.writes) | self.drops)
        for start in range(0, len(referenced), 500):
            res = self.kb.store.query(queries.referenced_types(referenced[start:start + 500], replaced))
            data.extend(ox.Quad(r["s"], _RDF_TYPE, r["type"]) for r in res)
        return validator.validate(data, focus=subjects, sources=sources)

    def commit(self) -> CommitResult:
        """Validate, reason, and write everything in one update request."""
        kb = self.kb
        result = CommitResult(skipped=list(self.skipped))
        if not self.writes and not self.drops:
            self.result = result
            return result
        report = self.validate()
        if not report.conforms:
            sources = sorted({v.source for v in report.results if v.source}) or ["<input>"]
            raise NotConformingError(report, source=", ".join(sources))

        model_writes = [w for w in self.writes.values()
                        if any(t.predicate == _RDF_TYPE and t.object == _OBJECT_MODEL for t in w.triples)]
        inferred: list[ox.Triple] = []
        if model_writes and kb.settings.reasoner == "hermit":
            inferences = classify_models(kb.ontology_triples(), [w.triples for w in model_writes])
            inferred = inference_triples(inferences)
            result.ready = {i.model: sorted(m.rsplit("#", 1)[-1] for m in i.ready_for) for i in inferences}

        touched = sorted(set(self.writes) | self.drops)
        # The models written, with their graphs (inferences about a private model go to its owner's graph).
        model_graph = {t.subject.value: w.graph for w in model_writes for t in w.triples
                       if t.predicate == _RDF_TYPE and t.object == _OBJECT_MODEL}
        stale_models = {r["model"].value for r in kb.store.query(queries.models_in_graphs(touched))}
        stale_models |= set(model_graph)

        now = ox.Literal(datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                         datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime"))
        inserts: list[ox.Quad] = []
        for w in self.writes.values():
            g = ox.NamedNode(w.graph)
            catalog = ox.NamedNode(str(Graphs.catalog_for(w.graph)))
            inserts.extend(ox.Quad(t.subject, t.predicate, t.object, g) for t in w.triples)
            inserts.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.source)), ox.Literal(w.source), catalog))
            inserts.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.identifier)), ox.Literal(w.hash), catalog))
            inserts.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.modified)), now, catalog))
            for _kind, iri in _main_resources(w.triples):
                inserts.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.subject)), ox.NamedNode(iri), catalog))
        inserts.extend(ox.Quad(t.subject, t.predicate, t.object,
                               ox.NamedNode(str(Graphs.inferred_for(model_graph.get(t.subject.value, "")))))
                       for t in inferred)

        ops = [f"DROP SILENT GRAPH {queries.iri(g)}" for g in touched]
        for catalog_graph in sorted({str(Graphs.catalog_for(g)) for g in touched}):
            ops.append(f"DELETE {{ GRAPH {queries.iri(catalog_graph)} {{ ?g ?p ?o }} }} "
                       f"WHERE {{ {queries.values('g', touched)} GRAPH {queries.iri(catalog_graph)} "
                       "{ ?g ?p ?o } }")
        for inferred_graph in sorted({str(Graphs.inferred_for(g)) for g in touched} if stale_models else ()):
            ops.append(f"DELETE {{ GRAPH {queries.iri(inferred_graph)} {{ ?m ?p ?o }} }} "
                       f"WHERE {{ {queries.values('m', sorted(stale_models))} "
                       f"GRAPH {queries.iri(inferred_graph)} {{ ?m ?p ?o }} }}")
        if inserts:
            ops.append("INSERT DATA {\n" + quads_to_sparql_data(inserts) + "\n}")
        kb.store.update(" ;\n".join(ops))

        result.written = sorted(self.writes)
        result.dropped = sorted(self.drops)
        result.triples = sum(len(w.triples) for w in self.writes.values())
        self.result = result
        return result

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: type | None, *rest: object) -> None:
        if exc_type is None:
            self.commit()


class KnowledgeBase:
    """Models, simulators, runs and simulated data as linked data.

    Parameters
    ----------
    store
        Where the quads live (:func:`vipkb.stores.open_store`).
    settings
        Limits and the reasoner choice.
    """

    def __init__(self, store: Store, *, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings.from_env()
        self._validator: Validator | None = None
        self._ontology: list[ox.Triple] | None = None

    @classmethod
    def open(cls, settings: Settings | None = None) -> KnowledgeBase:
        """Open the knowledge base the settings (or the environment) name."""
        settings = settings or Settings.from_env()
        return cls(open_store(settings), settings=settings)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def for_reader(self, reader: Reader) -> KnowledgeBase:
        """A read-only view holding only what ``reader`` may see (see :mod:`vipkb.access`)."""
        view = KnowledgeBase(ScopedStore(self.store, reader), settings=self.settings)
        view._validator, view._ontology = self._validator, self._ontology
        return view

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state --------------------------------------------------------------

    def is_initialised(self) -> bool:
        """Whether the ontology has been loaded (``vipkb init``)."""
        return bool(self.store.query(queries.IS_INITIALISED).boolean)

    def _require_initialised(self) -> None:
        if not self.is_initialised():
            raise NotInitialisedError(
                f"the knowledge base ({self.store.describe()}) has no ontology yet; run `vipkb init` first"
            )

    def ontology_triples(self) -> list[ox.Triple]:
        """The ontology graph's triples, read once."""
        if self._ontology is None:
            self._require_initialised()
            self._ontology = self.store.graph_triples(ox.NamedNode(str(Graphs.ONTOLOGY)))
        return self._ontology

    @property
    def validator(self) -> Validator:
        """The SHACL validator built from the store's shapes and ontology graphs."""
        if self._validator is None:
            shapes = rdflib_graph(self.store.graph_triples(ox.NamedNode(str(Graphs.SHAPES))))
            self._validator = Validator(shapes, self.ontology_triples())
        return self._validator

    # -- initialisation ----------------------------------------------------

    def _read_bundle(self, files: list[Path], what: str) -> list[ox.Triple]:
        if not files:
            raise ConfigurationError(f"no {what} files found; check VIPKB_RESOURCES")
        triples: list[ox.Triple] = []
        for f in files:
            doc = load_path(f, max_bytes=max(self.settings.max_document_bytes, f.stat().st_size))
            triples.extend(q.triple for q in doc.quads)
        return triples

    def init(self, *, load_data: bool = True,
             progress: Callable[[str], None] | None = None) -> InitReport:
        """Load the bundled ontology, shapes and data; skip what is already there.

        Running it again changes nothing unless a bundled file changed: the
        ontology and shapes are replaced only when their content differs, and
        each data document only when its graph's content differs.
        """
        report = InitReport()
        say = progress or (lambda _msg: None)
        ontology = self._read_bundle(ontology_files(self.settings), "ontology")
        shapes = self._read_bundle(shape_files(self.settings), "shapes")
        reserved = [(Graphs.ONTOLOGY, ontology), (Graphs.SHAPES, shapes)]
        recorded = {r["g"].value: r["hash"].value
                    for r in self.store.query(queries.catalog_records([str(g) for g, _ in reserved]))}
        ops = []
        catalog = ox.NamedNode(str(Graphs.CATALOG))
        for graph, triples in reserved:
            digest = content_hash(triples)
            if recorded.get(str(graph)) == digest:
                continue
            if graph == Graphs.SHAPES:
                _check_shapes(shapes)  # only shapes about to be loaded need the SHACL-SHACL check
            g = ox.NamedNode(str(graph))
            quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]
            quads.append(ox.Quad(g, ox.NamedNode(str(DCTERMS.identifier)), ox.Literal(digest), catalog))
            ops.append(f"DROP SILENT GRAPH {queries.iri(str(graph))}")
            ops.append(f"DELETE WHERE {{ GRAPH {queries.iri(str(Graphs.CATALOG))} "
                       f"{{ {queries.iri(str(graph))} ?p ?o }} }}")
            ops.append("INSERT DATA {\n" + quads_to_sparql_data(quads) + "\n}")
            if graph == Graphs.ONTOLOGY:
                report.ontology_loaded = True
            else:
                report.shapes_loaded = True
        if ops:
            self.store.update(" ;\n".join(ops))
            self._validator = None
            self._ontology = None
            say(f"ontology {'loaded' if report.ontology_loaded else 'unchanged'}, "
                f"shapes {'loaded' if report.shapes_loaded else 'unchanged'}")
        if report.ontology_loaded:
            self.reclassify()
        if load_data:
            with self.transaction() as tx:
                for f in data_files(self.settings):
                    tx.put(load_path(f, max_bytes=self.settings.max_document_bytes), skip_unchanged=True)
            report.data = tx.result or CommitResult()
            if report.data.written or report.data.skipped:
                say(f"data: {len(report.data.written)} graph(s) written, {len(report.data.skipped)} unchanged")
            # Model archives are imported by the repository, which builds on this class.
            from vipkb.models.repository import import_bundled

            report.models = import_bundled(self, progress=say)
            # So are the descriptions of the installed simulator plugins.
            from vipkb.simulation.runner import register_simulators

            report.simulators = register_simulators(self, progress=say)
        return report

    def reclassify(self) -> int:
        """Recompute the reasoner's inferences for every model; return how many."""
        if self.settings.reasoner != "hermit":
            return 0
        graphs = [r["g"].value for r in self.store.query(queries.ALL_MODEL_GRAPHS)]
        data = [self.store.graph_triples(ox.NamedNode(g)) for g in graphs]
        inferences = classify_models(self.ontology_triples(), data)
        # Each model's inferences go to the inference graph of the graph describing it (an owner's if private).
        target = {t.subject.value: str(Graphs.inferred_for(g)) for g, triples in zip(graphs, data, strict=True)
                  for t in triples if t.predicate == _RDF_TYPE and t.object == _OBJECT_MODEL}
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(target.get(t.subject.value,
                                                                                  str(Graphs.INFERRED))))
                 for t in inference_triples(inferences)]
        ops = [f"DROP SILENT GRAPH {queries.iri(g)}" for g in sorted({str(Graphs.INFERRED), *target.values()})]
        if quads:
            ops.append("INSERT DATA {\n" + quads_to_sparql_data(quads) + "\n}")
        self.store.update(" ;\n".join(ops))
        return len(graphs)

    # -- writes --------------------------------------------------------------

    def transaction(self, *, owner: str | None = None) -> Transaction:
        """Start a group of writes that commit together (see :class:`Transaction`).

        With an ``owner``, documents go to that account's private graphs.
        """
        self._require_initialised()
        return Transaction(self, owner=owner)

    def parse(self, data: bytes | str | BinaryIO, *, format: ox.RdfFormat, source: str = "<input>") -> Document:
        """Parse a document under this knowledge base's size limit."""
        return parse_document(data, format=format, source=source, max_bytes=self.settings.max_document_bytes)

    def load(self, document: Document, *, graph: str | None = None) -> CommitResult:
        """Validate and write one document, replacing its graph."""
        with self.transaction() as tx:
            tx.put(document, graph=graph)
        assert tx.result is not None
        return tx.result

    def load_file(self, path: str | Path, *, graph: str | None = None, format: str | None = None) -> CommitResult:
        """Read, validate and write the document at ``path``."""
        return self.load(load_path(path, max_bytes=self.settings.max_document_bytes, format=format), graph=graph)

    def validate(self, document: Document, *, graph: str | None = None) -> ValidationReport:
        """Validate a document as a write would, without writing anything."""
        tx = self.transaction()
        tx.put(document, graph=graph)
        return tx.validate()

    def update(self, sparql: str) -> CommitResult:
        """Apply a SPARQL update as a guarded write.

        The update runs in an in-memory sandbox holding the graphs it names
        (see :mod:`vipkb.updates`); the graphs it changed are then validated,
        reasoned on and committed in one transaction.  The VIPKB prefixes are
        predeclared.

        Raises
        ------
        QueryError
            If the update is malformed or does not name its graphs.
        NotConformingError
            If a changed graph no longer conforms; nothing is written.
        """
        plan = plan_update(sparql)
        for g in plan.writes:
            if Graphs.is_reserved(g):
                raise ReservedGraphError(f"graph <{g}> is managed by the knowledge base; updates cannot write it")
        sandbox = ox.Store()
        for g in sorted(plan.reads):
            node = ox.NamedNode(g)
            sandbox.extend(ox.Quad(t.subject, t.predicate, t.object, node) for t in self.store.graph_triples(node))
        existed = {g for g in plan.writes if sandbox.contains_named_graph(ox.NamedNode(g))}
        try:
            sandbox.update(with_prefixes(sparql))
        except SyntaxError as err:
            raise QueryError(f"malformed SPARQL update: {err}") from None
        except OSError as err:
            raise QueryError(f"SPARQL update failed: {err}") from None
        with self.transaction() as tx:
            for g in sorted(plan.writes):
                quads = tuple(ox.Quad(q.subject, q.predicate, q.object)
                              for q in sandbox.quads_for_pattern(None, None, None, ox.NamedNode(g)))
                if quads:
                    tx.put(Document(quads=quads, source="SPARQL update", format=ox.RdfFormat.N_TRIPLES), graph=g)
                elif g in existed:
                    tx.drop(g)
        assert tx.result is not None
        return tx.result

    def drop(self, graph: str) -> CommitResult:
        """Remove one data graph (and the inferences about its models)."""
        if ox.NamedNode(graph) not in self.store.named_graphs():
            raise UnknownResourceError(f"no graph <{graph}> in the knowledge base; `vipkb stats --graphs` lists them")
        with self.transaction() as tx:
            tx.drop(graph)
        assert tx.result is not None
        return tx.result

    # -- reads ---------------------------------------------------------------

    def query(self, sparql: str) -> QueryResult:
        """Evaluate a SPARQL query; the VIPKB prefixes are predeclared.

        Prefixes the query declares itself take precedence over ours.
        """
        return self.store.query(with_prefixes(sparql))

    def export(self, output: BinaryIO, format: ox.RdfFormat = ox.RdfFormat.TRIG) -> None:
        """Write every named graph as TriG or N-Quads."""
        if format not in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS):
            raise DocumentError("export writes datasets: use TriG or N-Quads", source="export")
        self.store.dump(output, format)

    def stats(self) -> dict[str, int]:
        """Counts of the main resources, graphs and quads."""
        counts = {r["class"].value.rsplit("#", 1)[-1]: int(r["n"].value)
                  for r in self.store.query(queries.CLASS_COUNTS)}
        out = {
            "models": counts.get("ObjectModel", 0),
            "layer parts": counts.get("LayerPart", 0),
            "simulators": counts.get("Simulator", 0),
            "runs": counts.get("SimulationRun", 0),
            "simulated data": counts.get("SimulatedData", 0),
        }
        out["named graphs"] = len(self.store.named_graphs())
        out["quads"] = self.store.quad_count()
        return out


#: Content hashes of the shapes this process found valid SHACL (the check takes seconds; shapes rarely change).
_VALID_SHAPES: set[str] = set()


def _check_shapes(shapes: list[ox.Triple]) -> None:
    # The shapes themselves are checked against SHACL-SHACL at init, once per content in a process.
    digest = content_hash(shapes)
    if digest in _VALID_SHAPES:
        return
    try:
        pyshacl.validate(Graph(), shacl_graph=rdflib_graph(shapes), meta_shacl=True, advanced=True)
    except Exception as err:  # pyshacl raises its own ReportableRuntimeError family
        raise ConfigurationError(f"the bundled SHACL shapes are not valid SHACL: {err}") from None
    _VALID_SHAPES.add(digest)
