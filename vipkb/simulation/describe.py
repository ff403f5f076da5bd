"""The RDF description of a simulator, generated from its class.

One source of truth: the class attributes and the parameter dataclass of a
:class:`~vipkb.simulation.plugin.Simulator` become a ``vip:Simulator`` with
one ``vip:SimulatorParameter`` per field, which the knowledge base validates
against the SHACL shapes like any other document.
"""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from vipkb.documents import Document, parse_document
from vipkb.namespaces import BASE, QUDT, VIP
from vipkb.simulation.parameters import ParameterSpec
from vipkb.simulation.plugin import Simulator

__all__ = ["describe", "description_document", "simulator_iri"]

_XSD_OF = {float: XSD.double, int: XSD.integer, bool: XSD.boolean, str: XSD.string}


def simulator_iri(name: str) -> URIRef:
    """IRI of the simulator named ``name``.

    >>> str(simulator_iri("mri"))
    'https://w3id.org/vipkb/simulator/mri'
    """
    return URIRef(f"{BASE}simulator/{name}")


def _typed(value: object, kind: type) -> Literal:
    return Literal(value, datatype=_XSD_OF[kind])


def _describe_parameter(graph: Graph, node: URIRef, spec: ParameterSpec) -> None:
    graph.add((node, RDF.type, VIP.SimulatorParameter))
    graph.add((node, VIP.parameterName, Literal(spec.name, datatype=XSD.string)))
    graph.add((node, RDFS.comment, Literal(spec.doc)))
    graph.add((node, VIP.valueType, _XSD_OF[spec.type]))
    graph.add((node, VIP.defaultValue, _typed(spec.default, spec.type)))
    if spec.minimum is not None:
        graph.add((node, VIP.minValue, _typed(spec.minimum, spec.type)))
    if spec.maximum is not None:
        graph.add((node, VIP.maxValue, _typed(spec.maximum, spec.type)))
    if spec.unit is not None:
        graph.add((node, QUDT.unit, spec.unit))
    for choice in spec.choices:
        graph.add((node, VIP.allowedValue, Literal(choice, datatype=XSD.string)))


def describe(simulator: type[Simulator]) -> Graph:
    """The simulator's description as an rdflib graph.

    Examples
    --------
    >>> from vipkb.simulation.registry import get_simulator
    >>> g = describe(get_simulator("mri"))
    >>> (simulator_iri("mri"), VIP.simulatesModality, VIP.MR) in g
    True
    """
    graph = Graph()
    iri = simulator_iri(simulator.name)
    graph.add((iri, RDF.type, VIP.Simulator))
    graph.add((iri, RDFS.label, Literal(simulator.label)))
    graph.add((iri, RDFS.comment, Literal(simulator.description)))
    graph.add((iri, DCTERMS.identifier, Literal(simulator.name)))
    graph.add((iri, VIP.simulatesModality, simulator.modality))
    graph.add((iri, VIP.softwareVersion, Literal(simulator.version, datatype=XSD.string)))
    for kind in simulator.requires:
        graph.add((iri, VIP.requiresParameterKind, kind))
    for n in simulator.dimensionality:
        graph.add((iri, VIP.supportsDimensionality, Literal(n, datatype=XSD.integer)))
    for dynamics in simulator.dynamics:
        graph.add((iri, VIP.supportsDynamics, dynamics))
    for output in simulator.outputs:
        graph.add((iri, VIP.producesOutput, output))
    for spec in simulator.Parameters.specs():
        node = URIRef(f"{iri}#{spec.name}")
        graph.add((iri, VIP.hasParameter, node))
        _describe_parameter(graph, node, spec)
    return graph


def description_document(simulator: type[Simulator], *, max_bytes: int) -> Document:
    """The description parsed as a knowledge-base document, ready for a transaction."""
    text = describe(simulator).serialize(format="nt")
    return parse_document(text, format=ox.RdfFormat.N_TRIPLES, source=f"simulator {simulator.name}",
                          max_bytes=max_bytes)
