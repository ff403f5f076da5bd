"""DL reasoning with HermiT (through owlready2) on the ontology plus models.

The reasoner checks that the ontology and the written annotations are
consistent, and classifies each model into the readiness classes
(``vip:MRReadyModel`` ...): a model is ready for a modality when every one of
its labelled parts carries that modality's required parameter kinds.  That
"every" is a universal restriction, which OWL's open world cannot conclude
from the parts it happens to know; the knowledge base holds a model's whole
description in the model's graph, so before reasoning we close each model's
parts (``hasLabelledPart only {p1, ..., pn}``), the standard closure axiom.

Reasoning runs per write on the ontology plus the written models only, since
a model's classification depends on nothing else.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import owlready2
import pyoxigraph as ox

from vipkb.errors import ConfigurationError, InconsistentError
from vipkb.namespaces import VIP

_PARTS_QUERY = f"""
SELECT ?model ?part WHERE {{
  ?model a <{VIP.ObjectModel}> ;
         <{VIP.hasTimePoint}>/<{VIP.hasInstant}>/<{VIP.hasObjectLayer}>/<{VIP.hasLayerPart}> ?part .
}}"""

_READINESS_QUERY = f"""
SELECT ?class ?modality WHERE {{ ?class <{VIP.readinessFor}> ?modality }}"""


@dataclass(frozen=True)
class Inference:
    """What the reasoner concluded about one model."""

    model: str
    #: (readiness class, modality) pairs the model was classified into.
    readiness: frozenset[tuple[str, str]]

    @property
    def ready_for(self) -> frozenset[str]:
        """IRIs of the modalities the model is ready for."""
        return frozenset(m for _, m in self.readiness)


def _require_java() -> None:
    if shutil.which(owlready2.JAVA_EXE) is None and shutil.which("java") is None:
        raise ConfigurationError(
            "the HermiT reasoner needs Java (a `java` on PATH); install a JRE (>= 11) "
            "or set VIPKB_REASONER=off to skip reasoning"
        )


#: Models reasoned on together.  Shared individuals (parameter kinds, units)
#: join all models into one ABox component, so HermiT's cost grows faster
#: than linearly with the models of one call: measured 0.96 s for 1 model,
#: 0.23 s/model in groups of 20, 0.83 s/model in groups of 100.
CHUNK = 16


def classify_models(ontology: Sequence[ox.Triple], graphs: Iterable[Sequence[ox.Triple]]) -> list[Inference]:
    """Run HermiT on the ontology plus each model graph and return the readiness.

    Parameters
    ----------
    ontology
        The ontology's triples.
    graphs
        One sequence of triples per model graph (its whole description).

    Raises
    ------
    InconsistentError
        If the ontology and the data contradict each other.
    """
    _require_java()
    graphs = list(graphs) or [[]]  # no models: still check the ontology's consistency
    out: list[Inference] = []
    for start in range(0, len(graphs), CHUNK):
        out.extend(_classify(ontology, [t for g in graphs[start:start + CHUNK] for t in g]))
    return sorted(out, key=lambda i: i.model)


def _classify(ontology: Sequence[ox.Triple], data: list[ox.Triple]) -> list[Inference]:
    scratch = ox.Store()
    scratch.extend(ox.Quad(t.subject, t.predicate, t.object) for t in ontology)
    scratch.extend(ox.Quad(t.subject, t.predicate, t.object) for t in data)

    parts: dict[str, list[str]] = {}
    for row in scratch.query(_PARTS_QUERY):
        if isinstance(row["part"], ox.NamedNode) and isinstance(row["model"], ox.NamedNode):
            parts.setdefault(row["model"].value, []).append(row["part"].value)
    readiness = {r["class"].value: r["modality"].value for r in scratch.query(_READINESS_QUERY)}

    buffer = io.BytesIO()
    ox.serialize((q.triple for q in scratch), buffer, ox.RdfFormat.N_TRIPLES)
    world = owlready2.World()
    try:
        onto = world.get_ontology("https://w3id.org/vipkb/reasoning").load(
            fileobj=io.BytesIO(buffer.getvalue()), format="ntriples"
        )
        labelled = world[str(VIP.hasLabelledPart)]
        with onto:
            for model, model_parts in parts.items():
                world[model].is_a.append(labelled.only(owlready2.OneOf([world[p] for p in model_parts])))
        try:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            raise InconsistentError(
                "the reasoner found the data inconsistent with the ontology (e.g. an individual in two "
                "disjoint classes, or two values for a functional property); check the types and "
                "single-valued properties of the document"
            ) from None
        classes = {iri: world[iri] for iri in readiness}
        out = []
        for model in sorted(parts):
            ancestors = set(world[model].INDIRECT_is_a)
            ready = frozenset((iri, readiness[iri]) for iri, cls in classes.items() if cls in ancestors)
            out.append(Inference(model=model, readiness=ready))
        return out
    finally:
        world.close()


def inference_triples(inferences: Iterable[Inference]) -> list[ox.Triple]:
    """The triples materialised for the given inferences.

    Each model gets its inferred readiness classes as ``rdf:type`` and the
    matching modalities as ``vip:readyFor``, the form queries use.
    """
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    ready_for = ox.NamedNode(str(VIP.readyFor))
    out = []
    for inf in inferences:
        model = ox.NamedNode(inf.model)
        for cls, modality in sorted(inf.readiness):
            out.append(ox.Triple(model, rdf_type, ox.NamedNode(cls)))
            out.append(ox.Triple(model, ready_for, ox.NamedNode(modality)))
    return out
