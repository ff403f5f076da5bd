"""Example queries offered on the SPARQL page (editable there); each runs against the bundled data."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXAMPLES", "Example"]


@dataclass(frozen=True)
class Example:
    """A named example query."""

    name: str
    title: str
    query: str


EXAMPLES: tuple[Example, ...] = (
    Example("models-by-organ", "Models with a part depicting an abdominal organ (subclasses included)", """\
SELECT DISTINCT ?model ?label ?part ?organ WHERE {
  ?model a vip:ObjectModel ; rdfs:label ?label ;
         vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart ?p .
  ?p rdfs:label ?part ; vip:depicts ?organ .
  ?organ rdfs:subClassOf* vip:AbdominalOrgan .
} ORDER BY ?model ?part"""),
    Example("ready-for-modality", "Models the reasoner found ready for each modality", """\
SELECT ?modality (COUNT(DISTINCT ?model) AS ?models) (GROUP_CONCAT(DISTINCT ?label; separator=", ") AS ?which)
WHERE {
  ?model vip:readyFor ?modality ; rdfs:label ?label .
} GROUP BY ?modality ORDER BY ?modality"""),
    Example("compatible-simulators", "Simulators and the models whose every tissue has what they need", """\
SELECT ?simulator (COUNT(DISTINCT ?model) AS ?models) WHERE {
  ?simulator a vip:Simulator ; vip:supportsDynamics ?dynamics .
  ?model a vip:ObjectModel ; vip:dynamics ?dynamics .
  FILTER NOT EXISTS {
    ?simulator vip:requiresParameterKind ?kind .
    ?model vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart ?part .
    FILTER NOT EXISTS { ?value vip:forLayerPart ?part ; vip:parameterKind ?kind }
  }
} GROUP BY ?simulator ORDER BY ?simulator"""),
    Example("image-provenance", "Provenance of simulated images: run, simulator version, seed, model instant", """\
SELECT ?image ?run ?simulator ?version ?seed ?instant ?ended WHERE {
  ?image a vip:SimulatedData ; vip:outputKind vip:Image ; prov:wasGeneratedBy ?run ;
         prov:wasDerivedFrom ?instant . ?instant a vip:Instant .
  ?run prov:wasAssociatedWith ?simulator ; vip:softwareVersion ?version ; vip:seed ?seed .
  ?simulator a vip:Simulator .
  OPTIONAL { ?run prov:endedAtTime ?ended }
} ORDER BY DESC(?ended)"""),
    Example("liver-tumour-mr", "Simulated MR images of models with a liver tumour, with their parameters", """\
SELECT ?image ?version ?name ?value WHERE {
  ?image a vip:SimulatedData ; vip:imagingModality vip:MR ; vip:outputKind vip:Image ;
         prov:wasDerivedFrom ?instant ; prov:wasGeneratedBy ?run .
  ?model vip:hasTimePoint/vip:hasInstant ?instant ;
         vip:hasTimePoint/vip:hasInstant/vip:hasObjectLayer/vip:hasLayerPart/vip:depicts/rdfs:subClassOf*
           vip:LiverTumour .
  ?run vip:softwareVersion ?version ; vip:hasSetting [ vip:parameterName ?name ; vip:settingValue ?value ] .
} ORDER BY ?image ?name"""),
    Example("describe-simulator", "The RDF description of the MRI simulator", """\
DESCRIBE <https://w3id.org/vipkb/simulator/mri>"""),
)
