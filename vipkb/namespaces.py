"""Namespaces and IRI builders: the one place IRIs are spelled out.

:class:`VIP` is closed: asking for a term the ontology does not define raises
``AttributeError``, so a typo cannot silently create a new IRI.  A test keeps
the term list in step with ``ontologies/vip.ttl``.
"""

from __future__ import annotations

import hashlib
import re

from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, PROV, RDF, RDFS, SH, XSD, DefinedNamespace

#: Base of every resource minted by the platform.
BASE = "https://w3id.org/vipkb/"


class VIP(DefinedNamespace):
    """The VIPKB ontology, ``https://w3id.org/vipkb/ontology#``."""

    _fail = True
    _NS = Namespace("https://w3id.org/vipkb/ontology#")

    # Object models
    ObjectModel: URIRef
    TimePoint: URIRef
    Instant: URIRef
    ObjectLayer: URIRef
    AnatomicalLayer: URIRef
    PathologicalLayer: URIRef
    GeometricalLayer: URIRef
    ForeignBodyLayer: URIRef
    ExternalAgentLayer: URIRef
    LayerPart: URIRef
    Dynamics: URIRef
    Static: URIRef
    Moving: URIRef
    Longitudinal: URIRef
    hasTimePoint: URIRef
    hasInstant: URIRef
    hasObjectLayer: URIRef
    hasLayerPart: URIRef
    hasLabelledPart: URIRef
    dynamics: URIRef
    spatialDimensionality: URIRef
    timePointIndex: URIRef
    timePointOffset: URIRef
    instantIndex: URIRef
    instantTime: URIRef
    label: URIRef
    depicts: URIRef
    voxelSize: URIRef
    labelMap: URIRef
    # Physical parameters
    ParameterKind: URIRef
    Modality: URIRef
    PhysicalParameterLayer: URIRef
    LookUpTable: URIRef
    ParameterMap: URIRef
    PhysicalParameterValue: URIRef
    ElementFraction: URIRef
    hasLookUpTable: URIRef
    hasParameterMap: URIRef
    hasParameterValue: URIRef
    forLayerPart: URIRef
    parameterKind: URIRef
    numericValue: URIRef
    atFieldStrength: URIRef
    atFrequency: URIRef
    radiotracer: URIRef
    hasElementFraction: URIRef
    atomicNumber: URIRef
    massFraction: URIRef
    mapFile: URIRef
    tableFile: URIRef
    hasAvailableKind: URIRef
    requiresParameterKind: URIRef
    kindForModality: URIRef
    allowedUnit: URIRef
    dependsOnFieldStrength: URIRef
    hasNumericValue: URIRef
    MR: URIRef
    Ultrasound: URIRef
    CT: URIRef
    XRay: URIRef
    PET: URIRef
    T1: URIRef
    T2: URIRef
    T2Star: URIRef
    ProtonDensity: URIRef
    Susceptibility: URIRef
    ChemicalShift: URIRef
    ScattererDensity: URIRef
    ScattererReflectivity: URIRef
    SpeedOfSound: URIRef
    AcousticAttenuation: URIRef
    ElementalComposition: URIRef
    MassDensity: URIRef
    RadioactiveConcentration: URIRef
    Radiotracer: URIRef
    FDG: URIRef
    # Readiness
    readinessFor: URIRef
    readyFor: URIRef
    MRReadyPart: URIRef
    UltrasoundReadyPart: URIRef
    CTReadyPart: URIRef
    XRayReadyPart: URIRef
    PETReadyPart: URIRef
    MRReadyModel: URIRef
    UltrasoundReadyModel: URIRef
    CTReadyModel: URIRef
    XRayReadyModel: URIRef
    PETReadyModel: URIRef
    # Depicted entities
    AnatomicalEntity: URIRef
    Region: URIRef
    HeadOrgan: URIRef
    ThoracicOrgan: URIRef
    AbdominalOrgan: URIRef
    MusculoskeletalStructure: URIRef
    GenericTissue: URIRef
    SoftTissue: URIRef
    Lesion: URIRef
    LiverTumour: URIRef
    BrainTumour: URIRef
    MultipleSclerosisLesion: URIRef
    Material: URIRef
    Air: URIRef
    GeometricalObject: URIRef
    Cylinder: URIRef
    Sphere: URIRef
    Box: URIRef
    # Simulators
    Simulator: URIRef
    SimulatorParameter: URIRef
    OutputKind: URIRef
    simulatesModality: URIRef
    supportsDimensionality: URIRef
    supportsDynamics: URIRef
    producesOutput: URIRef
    softwareVersion: URIRef
    hasParameter: URIRef
    parameterName: URIRef
    valueType: URIRef
    defaultValue: URIRef
    minValue: URIRef
    maxValue: URIRef
    allowedValue: URIRef
    Image: URIRef
    KSpace: URIRef
    RFLines: URIRef
    Sinogram: URIRef
    ListMode: URIRef
    Projection: URIRef
    Preview: URIRef
    TimeSeries: URIRef
    # Runs and data
    SimulationRun: URIRef
    SimulatedData: URIRef
    RunStatus: URIRef
    ParameterSetting: URIRef
    Queued: URIRef
    Running: URIRef
    Succeeded: URIRef
    Failed: URIRef
    Killed: URIRef
    runStatus: URIRef
    seed: URIRef
    simulatedInstant: URIRef
    hasSetting: URIRef
    settingValue: URIRef
    failureReason: URIRef
    outputKind: URIRef
    relativePath: URIRef
    logicalFile: URIRef
    SimulationTask: URIRef
    hasTask: URIRef
    taskKey: URIRef
    worker: URIRef
    attempts: URIRef
    executionBackend: URIRef
    imagingModality: URIRef
    # Executions (REST API requests)
    Execution: URIRef
    pipeline: URIRef
    carriedOutBy: URIRef
    inputValue: URIRef
    resultsLocation: URIRef
    returnedFile: URIRef
    executionStatus: URIRef
    # Logical file catalog
    LogicalFile: URIRef
    Replica: URIRef
    StorageElement: URIRef
    logicalName: URIRef
    hasReplica: URIRef
    storageElement: URIRef


#: The ontology document's own IRI.
ONTOLOGY_IRI = URIRef("https://w3id.org/vipkb/ontology")
#: Namespace of the SHACL shapes.
VSH = Namespace("https://w3id.org/vipkb/shapes#")
QUDT = Namespace("http://qudt.org/schema/qudt/")
UNIT = Namespace("http://qudt.org/vocab/unit/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
OBO = Namespace("http://purl.obolibrary.org/obo/")

#: Prefixes known to SPARQL text written in VIPKB and shown to users.
PREFIXES: dict[str, str] = {
    "vip": str(VIP._NS),
    "vsh": str(VSH),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "sh": str(SH),
    "prov": str(PROV),
    "dcat": str(DCAT),
    "dcterms": str(DCTERMS),
    "qudt": str(QUDT),
    "unit": str(UNIT),
    "spdx": str(SPDX),
    "obo": str(OBO),
}


def sparql_prefixes() -> str:
    """Return the ``PREFIX`` header for SPARQL text, one line per prefix.

    >>> sparql_prefixes().splitlines()[0]
    'PREFIX vip: <https://w3id.org/vipkb/ontology#>'
    """
    return "\n".join(f"PREFIX {p}: <{iri}>" for p, iri in PREFIXES.items()) + "\n"


_PREFIX_DECL = re.compile(r"PREFIX\s+([A-Za-z][\w.-]*)?:", re.IGNORECASE)


def with_prefixes(sparql: str) -> str:
    """Prepend the VIPKB prefixes that ``sparql`` does not declare itself.

    >>> with_prefixes("PREFIX vip: <urn:x#> ASK {}").count("PREFIX vip:")
    1
    """
    declared = {m.group(1) or "" for m in _PREFIX_DECL.finditer(sparql)}
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items() if p not in declared) + sparql


class Graphs:
    """IRIs of the named graphs the knowledge base manages.

    The ontology, the shapes and the reasoner's inferences each live in one
    graph; every model, simulator and run lives in a graph of its own so it
    can be replaced or dropped atomically.

    Private resources (a user's runs, their outputs and files) live under
    ``graph/private/<owner>/``: only the owner and administrators can read
    those graphs (:mod:`vipkb.access`), and their catalog records go to the
    owner's own ``graph/private/<owner>/catalog``, the reasoner's inferences
    about their models to ``graph/private/<owner>/inferred``.
    """

    ONTOLOGY = URIRef(BASE + "graph/ontology")
    SHAPES = URIRef(BASE + "graph/shapes")
    INFERRED = URIRef(BASE + "graph/inferred")
    #: One record per data graph: source file, content hash, time of the write.
    CATALOG = URIRef(BASE + "graph/catalog")
    #: A graph that is never written: the default graph of a dataset that must have none.
    EMPTY = URIRef(BASE + "graph/empty")
    RESERVED = frozenset({ONTOLOGY, SHAPES, INFERRED, CATALOG, EMPTY})
    #: Prefix of every owner's private graphs.
    PRIVATE = BASE + "graph/private/"

    _KIND_OF_CLASS = {
        VIP.ObjectModel: "model",
        VIP.Simulator: "simulator",
        VIP.SimulationRun: "run",
        VIP.SimulatedData: "data",
        VIP.LogicalFile: "file",
        VIP.Execution: "execution",
    }

    @classmethod
    def kind_of(cls, rdf_class: str) -> str | None:
        """Return the graph kind (``model``, ``simulator``...) of a main class."""
        return cls._KIND_OF_CLASS.get(URIRef(rdf_class))

    @classmethod
    def main_classes(cls) -> tuple[URIRef, ...]:
        """Classes whose instances get a named graph of their own."""
        return tuple(cls._KIND_OF_CLASS)

    @classmethod
    def private_prefix(cls, owner: str) -> str:
        """The IRI prefix of ``owner``'s private graphs.

        >>> Graphs.private_prefix("alice")
        'https://w3id.org/vipkb/graph/private/alice/'
        """
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", owner or ""):
            raise ValueError(f"not an account name: {owner!r}")
        return f"{cls.PRIVATE}{owner}/"

    @classmethod
    def owner_of(cls, graph: str) -> str | None:
        """The account owning a private graph, None for a public one.

        >>> Graphs.owner_of("https://w3id.org/vipkb/graph/private/alice/run/r1")
        'alice'
        >>> Graphs.owner_of("https://w3id.org/vipkb/graph/run/r1") is None
        True
        """
        if not str(graph).startswith(cls.PRIVATE):
            return None
        return str(graph)[len(cls.PRIVATE):].split("/", 1)[0] or None

    @classmethod
    def catalog_for(cls, graph: str) -> URIRef:
        """The graph recording where ``graph`` came from: its owner's catalog if it is private."""
        owner = cls.owner_of(graph)
        return URIRef(cls.private_prefix(owner) + "catalog") if owner else cls.CATALOG

    @classmethod
    def inferred_for(cls, graph: str) -> URIRef:
        """The graph of the reasoner's inferences about the models of ``graph``: its owner's if it is private."""
        owner = cls.owner_of(graph)
        return URIRef(cls.private_prefix(owner) + "inferred") if owner else cls.INFERRED

    @classmethod
    def is_reserved(cls, graph: str) -> bool:
        """Whether ``graph`` is written by the knowledge base itself (never by a document)."""
        return URIRef(graph) in cls.RESERVED or (cls.owner_of(graph) is not None
                                                 and str(graph) in (str(cls.catalog_for(graph)),
                                                                    str(cls.inferred_for(graph))))

    @classmethod
    def for_resource(cls, kind: str, iri: str, *, owner: str | None = None) -> URIRef:
        """Return the graph holding the description of resource ``iri``.

        Resources minted under :data:`BASE` keep their path; others get a
        stable hash so that any IRI maps to one graph.  With an ``owner`` the
        graph is that account's private one.

        >>> Graphs.for_resource("model", "https://w3id.org/vipkb/model/brain")
        rdflib.term.URIRef('https://w3id.org/vipkb/graph/model/brain')
        >>> Graphs.for_resource("run", "https://w3id.org/vipkb/run/r1", owner="alice")
        rdflib.term.URIRef('https://w3id.org/vipkb/graph/private/alice/run/r1')
        """
        prefix = f"{BASE}{kind}/"
        if iri.startswith(prefix) and re.fullmatch(r"[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*", iri[len(prefix):]):
            local = iri[len(prefix):]
        else:
            local = "h-" + hashlib.sha256(iri.encode()).hexdigest()[:24]
        space = cls.private_prefix(owner) if owner else f"{BASE}graph/"
        return URIRef(f"{space}{kind}/{local}")
