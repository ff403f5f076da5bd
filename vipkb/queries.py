"""Named SPARQL queries: the ones the core, the CLI and the web share.

Queries read the union of the named graphs as their default graph (the
embedded store is asked for it; a remote server must be configured so, see
the README).  Terms are written into the text through :func:`iri`, which
cannot produce anything but one IRI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox

from vipkb.namespaces import PREFIXES, VIP, Graphs, sparql_prefixes


def iri(value: str) -> str:
    """Render an IRI for SPARQL text, refusing characters that could escape it.

    >>> iri("https://w3id.org/vipkb/model/x")
    '<https://w3id.org/vipkb/model/x>'
    """
    if any(c in value for c in '<>"{}|^`\\ \n\r\t'):
        raise ValueError(f"not an IRI: {value!r}")
    return f"<{value}>"


def values(variable: str, iris: Iterable[str]) -> str:
    """A ``VALUES ?variable { ... }`` block."""
    return f"VALUES ?{variable} {{ {' '.join(iri(v) for v in iris)} }}"


P = sparql_prefixes()


def inferred(pattern: str, graph: str = "inferred") -> str:
    """``pattern`` as the reasoner inferred it: in the inferences graph or an owner's private one (``?graph``).

    In a reader's dataset (:mod:`vipkb.access`) the private inference graphs are that reader's own only.
    """
    g = f"?{graph}"
    return (f"GRAPH {g} {{ {pattern} }} FILTER ({g} = {iri(Graphs.INFERRED)} || "
            f"(STRSTARTS(STR({g}), {literal(Graphs.PRIVATE)}) && STRENDS(STR({g}), \"/inferred\")))")

IS_INITIALISED = P + f"ASK {{ GRAPH {iri(Graphs.ONTOLOGY)} {{ ?o a owl:Ontology }} }}"


def referenced_types(resources: Iterable[str], exclude_graphs: Iterable[str]) -> str:
    """Types of resources a document points at, outside the graphs it replaces."""
    excluded = ", ".join(iri(g) for g in exclude_graphs)
    flt = f"FILTER (?g NOT IN ({excluded}))" if excluded else ""
    return P + f"SELECT DISTINCT ?s ?type WHERE {{ {values('s', resources)} GRAPH ?g {{ ?s a ?type }} {flt} }}"


def models_in_graphs(graphs: Iterable[str]) -> str:
    """Models described in the given graphs."""
    return P + f"SELECT DISTINCT ?model WHERE {{ {values('g', graphs)} GRAPH ?g {{ ?model a vip:ObjectModel }} }}"


def catalog_records(graphs: Iterable[str]) -> str:
    """Content hashes recorded for the given graphs (in their owners' catalogs for private ones)."""
    rows = " ".join(f"({iri(g)} {iri(Graphs.catalog_for(g))})" for g in graphs)
    return P + (f"SELECT ?g ?hash WHERE {{ VALUES (?g ?catalog) {{ {rows} }} "
                "GRAPH ?catalog { ?g dcterms:identifier ?hash } }")


ALL_MODEL_GRAPHS = P + (
    "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?model a vip:ObjectModel } "
    f"FILTER (?g NOT IN ({', '.join(iri(g) for g in sorted(Graphs.RESERVED))})) }}"
)

def literal(text: str) -> str:
    """Render a string as a SPARQL literal, escaped by Oxigraph.

    >>> literal("liver")
    '"liver"'
    """
    return str(ox.Literal(text))


@dataclass(frozen=True, kw_only=True)
class ModelFilter:
    """Search criteria for models; every given criterion must hold.

    Attributes
    ----------
    region
        A class IRI (or ``prefix:local``) or a class label such as
        "abdominal organ": models with a part depicting it or a subclass.
    layer_kind
        ``anatomical``, ``pathological``, ``geometrical``, ``foreign body``
        or ``external agent``.
    ready
        A modality name (``MR``, ``CT``...) the model must be ready for.
    dynamic
        True for moving or longitudinal models, False for static ones.
    text
        Case-insensitive substring of the model's or a part's label.
    all_versions
        Include superseded versions (by default only the latest).
    """

    region: str | None = None
    layer_kind: str | None = None
    ready: str | None = None
    dynamic: bool | None = None
    text: str | None = None
    all_versions: bool = False

    def patterns(self) -> str:
        """The SPARQL filters for these criteria."""
        out = []
        if not self.all_versions:
            out.append("FILTER NOT EXISTS { ?newer prov:wasRevisionOf ?model }")
        if self.region:
            if self.region.startswith(("http://", "https://")) or (
                    ":" in self.region and self.region.split(":", 1)[0] in PREFIXES):
                prefix, _, local = self.region.partition(":")
                target = iri(self.region if self.region.startswith("http") else PREFIXES[prefix] + local)
                match = f"BIND ({target} AS ?region)"
            else:
                match = f"?region rdfs:label ?rl . FILTER (LCASE(STR(?rl)) = LCASE({literal(self.region)})) ."
            # Region first: from it down the class hierarchy, then to parts and their model.
            out.append(f"FILTER EXISTS {{ {match} ?class rdfs:subClassOf* ?region . ?part vip:depicts ?class . "
                       "?model vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart ?part }")
        if self.layer_kind:
            out.append("FILTER EXISTS { ?model vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer ?l . "
                       f"?l a ?k . ?k rdfs:subClassOf vip:ObjectLayer ; rdfs:label ?kl . "
                       f"FILTER (LCASE(STR(?kl)) = LCASE({literal(self.layer_kind + ' layer')})) }}")
        if self.ready:
            out.append(f"FILTER EXISTS {{ {inferred('?model vip:readyFor ?m', 'readyGraph')} "
                       f"FILTER (LCASE(STRAFTER(STR(?m), \"#\")) = LCASE({literal(self.ready)})) }}")
        if self.dynamic is not None:
            out.append(f"FILTER {'NOT ' if not self.dynamic else ''}EXISTS {{ ?model vip:dynamics ?d . "
                       "FILTER (?d != vip:Static) }")
        if self.text:
            out.append("FILTER EXISTS { { ?model rdfs:label ?t } UNION { ?model vip:hasTimePoint/vip:hasInstant/"
                       "vip:hasObjectLayer/vip:hasLayerPart/rdfs:label ?t } "
                       f"FILTER (CONTAINS(LCASE(STR(?t)), LCASE({literal(self.text)}))) }}")
        return "\n  ".join(out)


def models(criteria: ModelFilter | None = None) -> str:
    """The model catalog: one row per model with structure counts, readiness and its private graph (if any)."""
    criteria = criteria or ModelFilter()
    return P + f"""
SELECT ?model ?label ?dynamics ?dimensionality
       (COUNT(DISTINCT ?instant) AS ?instants) (COUNT(DISTINCT ?part) AS ?parts)
       (GROUP_CONCAT(DISTINCT ?layerKindLabel; separator=", ") AS ?layers)
       (GROUP_CONCAT(DISTINCT ?modalityName; separator=", ") AS ?ready) (MIN(STR(?graph)) AS ?private)
WHERE {{
  {{ SELECT ?model ?graph WHERE {{ ?model a vip:ObjectModel . {criteria.patterns()}
      OPTIONAL {{ GRAPH ?graph {{ ?model a vip:ObjectModel }}
                 FILTER (STRSTARTS(STR(?graph), {literal(Graphs.PRIVATE)})) }}
  }} }}
  ?model rdfs:label ?label .
  OPTIONAL {{ ?model vip:dynamics ?dynamics }}
  OPTIONAL {{ ?model vip:spatialDimensionality ?dimensionality }}
  OPTIONAL {{ ?model vip:hasTimePoint/vip:hasInstant ?instant .
             ?instant vip:hasObjectLayer ?layer .
             ?layer vip:hasLayerPart ?part ; a ?layerKind .
             ?layerKind rdfs:subClassOf vip:ObjectLayer ; rdfs:label ?layerKindLabel . }}
  OPTIONAL {{ {inferred('?model vip:readyFor ?modality')}
             BIND (STRAFTER(STR(?modality), "#") AS ?modalityName) }}
}}
GROUP BY ?model ?label ?dynamics ?dimensionality
ORDER BY ?label ?model
"""


SIMULATORS = P + """
SELECT ?simulator ?label ?modality ?version (COUNT(DISTINCT ?param) AS ?parameters)
WHERE {
  ?simulator a vip:Simulator ; rdfs:label ?label ; vip:simulatesModality ?modality .
  OPTIONAL { ?simulator vip:softwareVersion ?version }
  OPTIONAL { ?simulator vip:hasParameter ?param }
}
GROUP BY ?simulator ?label ?modality ?version
ORDER BY ?label ?simulator
"""


def ready_for_modality(modality: str) -> str:
    """Models whose every labelled part has each kind the modality requires.

    Computed from the annotations directly (closed world), so it can run on
    any copy of the data, with or without the reasoner's materialisation.
    Written with ``MINUS`` rather than nested ``FILTER NOT EXISTS``: same
    answers, and Oxigraph evaluates it about 200 times faster on 1,000 models.
    """
    return P + f"""
SELECT DISTINCT ?model WHERE {{
  ?model a vip:ObjectModel ; vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart ?any .
  MINUS {{
    ?model vip:hasTimePoint ?tp . ?tp vip:hasInstant ?instant .
    ?instant vip:hasObjectLayer ?layer . ?layer vip:hasLayerPart ?part .
    {iri(modality)} vip:requiresParameterKind ?kind .
    MINUS {{ ?value vip:forLayerPart ?part ; vip:parameterKind ?kind }}
    MINUS {{ ?instant vip:hasParameterMap ?map . ?map vip:parameterKind ?kind }}
  }}
}} ORDER BY ?model"""


INFERRED_READY = P + f"""
SELECT ?model ?modality WHERE {{ {inferred('?model vip:readyFor ?modality')} }}
ORDER BY ?model ?modality"""

CLASS_COUNTS = P + f"""
SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {{
  {values('class', [VIP.ObjectModel, VIP.LayerPart, VIP.Simulator, VIP.SimulationRun, VIP.SimulatedData])}
  OPTIONAL {{ ?s a ?class }}
}} GROUP BY ?class"""

MODALITY_REQUIREMENTS = P + (
    "SELECT ?modality ?kind WHERE { ?modality a vip:Modality ; vip:requiresParameterKind ?kind }")


def model_versions(concept: str) -> str:
    """Every stored version of a model: IRI, version number, archive digest."""
    return P + f"""SELECT ?model ?version ?digest WHERE {{
  ?model dcterms:isVersionOf {iri(concept)} ; owl:versionInfo ?version ; dcterms:identifier ?digest }}"""


def is_model(model: str) -> str:
    """Whether ``model`` is an object model."""
    return P + f"ASK {{ {iri(model)} a vip:ObjectModel }}"


def model_files(model: str) -> str:
    """Path and SHA-256 of every file of a model."""
    return P + f"""SELECT ?path ?sha WHERE {{
  {iri(model)} dcat:distribution ?f . ?f vip:relativePath ?path ; spdx:checksum/spdx:checksumValue ?sha }}"""


def model_head(model: str) -> str:
    """Label, version, dynamics, voxel size and private graph (if any) of a model."""
    return P + f"""SELECT ?label ?version ?dynamics ?voxel ?private WHERE {{
  {iri(model)} rdfs:label ?label .
  OPTIONAL {{ {iri(model)} owl:versionInfo ?version }} OPTIONAL {{ {iri(model)} vip:dynamics ?dynamics }}
  OPTIONAL {{ {iri(model)} vip:voxelSize ?voxel }}
  OPTIONAL {{ GRAPH ?private {{ {iri(model)} a vip:ObjectModel }}
             FILTER (STRSTARTS(STR(?private), {literal(Graphs.PRIVATE)})) }} }}"""


def model_ready(model: str) -> str:
    """Modalities the reasoner found the model ready for."""
    return P + f"SELECT ?modality WHERE {{ {inferred(f'{iri(model)} vip:readyFor ?modality')} }}"


def model_instants(model: str) -> str:
    """Time point index, instant index and time of every instant."""
    return P + f"""SELECT ?tp ?i ?time WHERE {{
  {iri(model)} vip:hasTimePoint ?t . ?t vip:timePointIndex ?tp ; vip:hasInstant ?inst .
  ?inst vip:instantIndex ?i . OPTIONAL {{ ?inst vip:instantTime ?time }} }} ORDER BY ?tp ?i"""


def model_layers(model: str) -> str:
    """Layer names, kinds and the largest number of parts over instants."""
    return P + f"""SELECT ?name ?kind (MAX(?n) AS ?parts) WHERE {{
  {{ SELECT ?layer ?name ?kind (COUNT(?part) AS ?n) WHERE {{
      {iri(model)} vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer ?layer .
      ?layer rdfs:label ?name ; a ?kind ; vip:hasLayerPart ?part . ?kind rdfs:subClassOf vip:ObjectLayer .
  }} GROUP BY ?layer ?name ?kind }}
}} GROUP BY ?name ?kind ORDER BY ?name"""


def model_tissues(model: str) -> str:
    """Each (label, tissue, layer) with its parameters rendered as text."""
    return P + f"""SELECT DISTINCT ?label ?tissue ?layer ?param WHERE {{
  {iri(model)} vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer ?l .
  ?l rdfs:label ?layer ; vip:hasLayerPart ?part . ?part vip:label ?label ; rdfs:label ?tissue .
  OPTIONAL {{
    ?v vip:forLayerPart ?part ; vip:parameterKind ?kind ; qudt:unit ?unit .
    OPTIONAL {{ ?v vip:numericValue ?x }} OPTIONAL {{ ?v vip:atFieldStrength ?b }}
    OPTIONAL {{ ?unit qudt:symbol ?symbol }}
    BIND (CONCAT(STRAFTER(STR(?kind), "#"), IF(BOUND(?b), CONCAT("@", STR(?b), "T"), ""),
                 IF(BOUND(?x), CONCAT("=", STR(?x), IF(COALESCE(?symbol, "1") = "1", "", CONCAT(" ", ?symbol))), ""))
         AS ?param)
  }}
}} ORDER BY ?label"""


def part_compositions(model: str) -> str:
    """Each part of the model's first instant with its density and element fractions."""
    return P + f"""SELECT ?part ?label ?tissue ?layer ?density ?z ?fraction WHERE {{
  {iri(model)} vip:hasTimePoint ?tp . ?tp vip:timePointIndex 0 ; vip:hasInstant ?i . ?i vip:instantIndex 0 .
  ?i vip:hasObjectLayer ?l . ?l rdfs:label ?layer ; vip:hasLayerPart ?part .
  ?part vip:label ?label ; rdfs:label ?tissue .
  ?d vip:forLayerPart ?part ; vip:parameterKind vip:MassDensity ; vip:numericValue ?density .
  ?c vip:forLayerPart ?part ; vip:parameterKind vip:ElementalComposition ; vip:hasElementFraction ?e .
  ?e vip:atomicNumber ?z ; vip:massFraction ?fraction .
}}"""


def compatible_pairs(*, modality: str | None = None, model: str | None = None, all_versions: bool = False,
                     where: str | None = None, simulator: str | None = None) -> str:
    """Every (model instant, simulator) pair the simulator can run, decided in SPARQL.

    A pair is compatible when the simulator supports the model's dynamics and
    spatial dimensionality, and every labelled part of the instant carries each
    parameter kind the simulator requires (from its look-up table, or from a
    parameter map of the instant).  Closed world, like :func:`ready_for_modality`.
    """
    filters = []
    if modality is not None:
        filters.append(f"FILTER (?modality = {iri(modality)})")
    if model is not None:
        filters.append(f"FILTER (?model = {iri(model)})")
    if simulator is not None:
        filters.append(f"FILTER (?simulator = {iri(simulator)})")
    if not all_versions:
        filters.append("FILTER NOT EXISTS { ?newer prov:wasRevisionOf ?model }")
    if where:
        filters.append(f"FILTER ({where})")
    return P + f"""
SELECT ?model ?label ?tp ?i ?simulator ?name ?simulatorLabel ?modality WHERE {{
  ?simulator a vip:Simulator ; vip:simulatesModality ?modality ; rdfs:label ?simulatorLabel .
  OPTIONAL {{ ?simulator dcterms:identifier ?name }}
  ?model a vip:ObjectModel ; rdfs:label ?label ; vip:dynamics ?dynamics ; vip:spatialDimensionality ?dimensions ;
         vip:hasTimePoint ?timePoint .
  ?timePoint vip:timePointIndex ?tp ; vip:hasInstant ?instant .
  ?instant vip:instantIndex ?i .
  ?simulator vip:supportsDynamics ?dynamics ; vip:supportsDimensionality ?dimensions .
  {' '.join(filters)}
  MINUS {{
    ?simulator vip:requiresParameterKind ?kind .
    ?instant vip:hasObjectLayer/vip:hasLayerPart ?part .
    MINUS {{ ?value vip:forLayerPart ?part ; vip:parameterKind ?kind }}
    MINUS {{ ?instant vip:hasParameterMap ?map . ?map vip:parameterKind ?kind }}
  }}
}} ORDER BY ?model ?tp ?i ?simulator"""


def logical_files(prefix: str = "", names: Iterable[str] | None = None) -> str:
    """Every logical file whose name starts with ``prefix`` (or is in ``names``), one row per replica."""
    flt = f"FILTER (STRSTARTS(?name, {literal(prefix)}))" if prefix else ""
    block = f"VALUES ?name {{ {' '.join(literal(n) for n in names)} }}" if names is not None else ""
    return P + f"""SELECT ?file ?graph ?name ?sha ?size ?type ?created ?element WHERE {{
  {block}
  GRAPH ?graph {{ ?file a vip:LogicalFile }}
  ?file vip:logicalName ?name ; spdx:checksum/spdx:checksumValue ?sha ;
        dcat:byteSize ?size ; dcat:mediaType ?type .
  OPTIONAL {{ ?file dcterms:created ?created }}
  OPTIONAL {{ ?file vip:hasReplica/vip:storageElement ?element }}
  {flt} }} ORDER BY ?name ?element"""


def model_file_refs(model: str) -> str:
    """Path within the model and logical file name of every file of a model."""
    return P + f"""SELECT ?path ?name WHERE {{
  {iri(model)} dcat:distribution ?f . ?f vip:relativePath ?path ; vip:logicalFile/vip:logicalName ?name }}"""


def run_head(run: str) -> str:
    """Status, times, backend, agent, simulator, model, seed and failure reason of a run."""
    r = iri(run)
    return P + f"""SELECT ?graph ?label ?status ?started ?ended ?backend ?agent ?simulator ?version ?model ?seed
       ?reason
WHERE {{
  GRAPH ?graph {{ {r} a vip:SimulationRun }}
  {r} rdfs:label ?label ; vip:runStatus ?status ; prov:used ?model ;
      prov:wasAssociatedWith ?simulator . ?simulator a vip:Simulator .
  OPTIONAL {{ {r} prov:wasAssociatedWith ?agent . ?agent a prov:Person }}
  OPTIONAL {{ {r} prov:startedAtTime ?started }} OPTIONAL {{ {r} prov:endedAtTime ?ended }}
  OPTIONAL {{ {r} vip:executionBackend ?backend }} OPTIONAL {{ {r} vip:softwareVersion ?version }}
  OPTIONAL {{ {r} vip:seed ?seed }} OPTIONAL {{ {r} vip:failureReason ?reason }} }}"""


def run_settings(run: str) -> str:
    """Parameter settings of a run."""
    return P + f"""SELECT ?name ?value WHERE {{
  {iri(run)} vip:hasSetting ?s . ?s vip:parameterName ?name ; vip:settingValue ?value }} ORDER BY ?name"""


def run_tasks(run: str) -> str:
    """Tasks of a run with worker, times and attempts."""
    return P + f"""SELECT ?key ?worker ?started ?ended ?attempts WHERE {{
  {iri(run)} vip:hasTask ?t . ?t vip:taskKey ?key ; prov:startedAtTime ?started ; prov:endedAtTime ?ended .
  OPTIONAL {{ ?t vip:worker ?worker }} OPTIONAL {{ ?t vip:attempts ?attempts }} }} ORDER BY ?key"""


def run_outputs(run: str) -> str:
    """Simulated data generated by a run, with kind and logical file names."""
    return P + f"""SELECT ?data ?kind ?path ?name WHERE {{
  ?data prov:wasGeneratedBy {iri(run)} ; vip:outputKind ?kind ; dcat:distribution ?d .
  ?d vip:relativePath ?path ; vip:logicalFile/vip:logicalName ?name }} ORDER BY ?path"""


def runs(status: str | None = None, *, owner: str | None = None) -> str:
    """Every run (optionally of one status, or private to ``owner``), newest first, with status, simulator,
    model and times."""
    flt = f"FILTER (?status = {iri(status)})" if status else ""
    if owner:
        flt += f" FILTER (STRSTARTS(STR(?graph), {literal(Graphs.private_prefix(owner))}))"
    return P + f"""SELECT ?run ?graph ?label ?status ?simulator ?model ?started ?ended ?backend WHERE {{
  GRAPH ?graph {{ ?run a vip:SimulationRun }}
  ?run rdfs:label ?label ; vip:runStatus ?status ; prov:used ?model ;
       prov:wasAssociatedWith ?simulator . ?simulator a vip:Simulator .
  OPTIONAL {{ ?run prov:startedAtTime ?started }} OPTIONAL {{ ?run prov:endedAtTime ?ended }}
  OPTIONAL {{ ?run vip:executionBackend ?backend }} {flt} }} ORDER BY DESC(?started) ?run"""


def simulated_data(*, modality: str | None = None, kind: str | None = None, data: str | None = None) -> str:
    """Every simulated data item (or just ``data``) with its kind, modality, run, simulator and model, newest first."""
    filters = [values("data", [data])] if data else []
    if modality:
        filters.append(f"FILTER (?modality = {iri(modality)})")
    if kind:
        filters.append(f"FILTER (?kind = {iri(kind)})")
    return P + f"""SELECT ?data ?label ?kind ?modality ?run ?simulator ?model ?ended WHERE {{
  ?data a vip:SimulatedData ; rdfs:label ?label ; vip:outputKind ?kind ; vip:imagingModality ?modality ;
        prov:wasGeneratedBy ?run .
  ?run prov:used ?model ; prov:wasAssociatedWith ?simulator . ?simulator a vip:Simulator .
  OPTIONAL {{ ?run prov:endedAtTime ?ended }} {' '.join(filters)}
}} ORDER BY DESC(?ended) ?data"""


def data_files(data: str) -> str:
    """Files of one simulated data item and the instants it derives from."""
    return P + f"""SELECT ?path ?name ?size ?type ?instant WHERE {{
  {{ {iri(data)} dcat:distribution ?d . ?d vip:relativePath ?path ; vip:logicalFile ?f .
     ?f vip:logicalName ?name ; dcat:byteSize ?size ; dcat:mediaType ?type }}
  UNION {{ {iri(data)} prov:wasDerivedFrom ?instant . ?instant a vip:Instant }}
}} ORDER BY ?path ?instant"""


def inferred_about(resource: str) -> str:
    """What the reasoner inferred about a resource, as triples."""
    r = iri(resource)
    return P + f"CONSTRUCT {{ {r} ?p ?o }} WHERE {{ {inferred(f'{r} ?p ?o')} }}"


def about(resource: str) -> str:
    """Triples about a resource and pointing at it (for resources without a graph of their own)."""
    r = iri(resource)
    return P + f"CONSTRUCT {{ {r} ?p ?o . ?s ?q {r} }} WHERE {{ {{ {r} ?p ?o }} UNION {{ ?s ?q {r} }} }}"


def simulator_parameters(simulator: str) -> str:
    """Every parameter a simulator's description declares: name, type, default, bounds, unit, choices, doc."""
    return P + f"""SELECT ?name ?type ?default ?min ?max ?unit ?doc
       (GROUP_CONCAT(?choice; SEPARATOR="\\u001f") AS ?choices) WHERE {{
  {iri(simulator)} vip:hasParameter ?p . ?p vip:parameterName ?name ; vip:valueType ?type ; vip:defaultValue ?default .
  OPTIONAL {{ ?p vip:minValue ?min }} OPTIONAL {{ ?p vip:maxValue ?max }} OPTIONAL {{ ?p qudt:unit ?unit }}
  OPTIONAL {{ ?p rdfs:comment ?doc }} OPTIONAL {{ ?p vip:allowedValue ?choice }}
}} GROUP BY ?name ?type ?default ?min ?max ?unit ?doc ORDER BY ?name"""


# -- administration -----------------------------------------------------------

RUN_CAUSES = P + """SELECT ?run ?agent ?reason WHERE {
  GRAPH ?graph { ?run a vip:SimulationRun }
  OPTIONAL { ?run prov:wasAssociatedWith ?agent . ?agent a prov:Person }
  OPTIONAL { ?run vip:failureReason ?reason } }"""

GRAPH_SIZES = "SELECT ?graph (COUNT(*) AS ?quads) WHERE { GRAPH ?graph { ?s ?p ?o } } GROUP BY ?graph"


def executions(*, execution: str | None = None, run: str | None = None, owner: str | None = None) -> str:
    """Every execution (REST API request; or just ``execution``, those of ``run``, those of ``owner``), newest first:
    name, pipeline, run and its status
    (``?own``: the execution's own status once killed, ``?note`` why)."""
    flt = (values("execution", [execution]) if execution else "") + (values("run", [run]) if run else "")
    if owner:
        flt += f" FILTER (STRSTARTS(STR(?graph), {literal(Graphs.private_prefix(owner))}))"
    return P + f"""SELECT ?execution ?graph ?name ?simulator ?version ?run ?status ?reason ?started ?location
       ?agent ?own ?note WHERE {{
  GRAPH ?graph {{ ?execution a vip:Execution }} {flt}
  ?execution rdfs:label ?name ; vip:pipeline ?simulator ; vip:carriedOutBy ?run ; prov:startedAtTime ?started ;
             vip:resultsLocation ?location ; prov:wasAssociatedWith ?agent .
  OPTIONAL {{ ?simulator vip:softwareVersion ?version }}
  OPTIONAL {{ ?run vip:runStatus ?status }} OPTIONAL {{ ?run vip:failureReason ?reason }}
  OPTIONAL {{ ?execution vip:executionStatus ?own }} OPTIONAL {{ ?execution rdfs:comment ?note }}
}} ORDER BY DESC(?started) ?execution"""


def execution_inputs(executions: Iterable[str]) -> str:
    """The input values of executions as the client sent them, and the files written back for them."""
    return P + f"""SELECT ?execution ?name ?value ?returned WHERE {{
  {values("execution", executions)}
  {{ ?execution vip:inputValue [ vip:parameterName ?name ; vip:settingValue ?value ] }}
  UNION {{ ?execution vip:returnedFile ?returned }}
}}"""
