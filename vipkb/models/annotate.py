"""Turn a checked model archive into its RDF annotation (the ontology's terms).

Every resource gets a stable IRI under the model version's IRI (hash
fragments), so re-annotating the same archive gives the same triples and
linked-data clients can dereference the parts of a model.
"""

from __future__ import annotations

import re

import pyoxigraph as ox
from rdflib.namespace import DCAT, DCTERMS, OWL, PROV, RDF, RDFS, XSD

from vipkb.documents import Document
from vipkb.files import sha256
from vipkb.models.spec import DYNAMICS, LAYER_KINDS, CheckedModel
from vipkb.namespaces import BASE, QUDT, SPDX, VIP
from vipkb.storage.names import file_iri, media_type

#: A citation that is a bare IRI becomes a link; anything else stays text.
_IRI = re.compile(r"https?://[^\s<>\"{}|^`\\]+")


def _n(iri: object) -> ox.NamedNode:
    return ox.NamedNode(str(iri))


def _lit(value: object, datatype: object | None = None) -> ox.Literal:
    if datatype is None:
        return ox.Literal(str(value))
    return ox.Literal(str(value), datatype=_n(datatype))


def _double(x: float) -> ox.Literal:
    return _lit(repr(float(x)), XSD.double)


def _int(x: int) -> ox.Literal:
    return _lit(int(x), XSD.integer)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def model_iri(model_id: str, version: int) -> str:
    """IRI of one version of a model."""
    return f"{BASE}model/{model_id}/v{version}"


def model_lfn(model_id: str, version: int, path: str) -> str:
    """Logical file name of the file at ``path`` in a model version.

    >>> model_lfn("brain", 2, "anatomy.nii.gz")
    'model/brain/v2/anatomy.nii.gz'
    """
    return f"model/{model_id}/v{version}/{path}"


def concept_iri(model_id: str) -> str:
    """IRI of a model across its versions."""
    return f"{BASE}model/{model_id}"


def archive_digest(files: dict[str, bytes]) -> str:
    """SHA-256 over the archive's member names and contents, order-independent."""
    return sha256("".join(f"{name}\t{sha256(data)}\n" for name, data in sorted(files.items())).encode())


def annotate(checked: CheckedModel, *, version: int, previous: str | None) -> Document:
    """Build the annotation document of one model version."""
    spec = checked.spec
    iri = model_iri(spec.id, version)
    model = _n(iri)
    out: list[ox.Quad] = []

    def add(s: ox.NamedNode, p: object, o: ox.NamedNode | ox.Literal) -> None:
        out.append(ox.Quad(s, _n(p), o))

    files = {}
    for name, data in sorted(checked.archive.files.items()):
        f = _n(f"{iri}#file-{_slug(name)}")
        files[name] = f
        add(f, RDF.type, _n(DCAT.Distribution))
        add(f, VIP.relativePath, _lit(name))
        add(f, DCAT.byteSize, _int(len(data)))
        add(f, DCAT.mediaType, _n(media_type(name)))
        add(f, VIP.logicalFile, _n(file_iri(model_lfn(spec.id, version, name))))
        checksum = _n(f"{iri}#sha256-{_slug(name)}")
        add(f, SPDX.checksum, checksum)
        add(checksum, SPDX.algorithm, _n(SPDX.checksumAlgorithm_sha256))
        add(checksum, SPDX.checksumValue, _lit(sha256(data), XSD.hexBinary))
        add(model, DCAT.distribution, f)

    add(model, RDF.type, _n(VIP.ObjectModel))
    add(model, RDFS.label, _lit(spec.label))
    if spec.description:
        add(model, DCTERMS.description, _lit(spec.description))
    if spec.license:
        add(model, DCTERMS.license, _n(spec.license))
    add(model, VIP.spatialDimensionality, _int(3))
    add(model, VIP.dynamics, _n(VIP[DYNAMICS[spec.dynamics]]))
    add(model, DCTERMS.isVersionOf, _n(concept_iri(spec.id)))
    add(model, OWL.versionInfo, _lit(str(version)))
    add(model, DCTERMS.identifier, _lit(archive_digest(checked.archive.files)))
    if previous:
        add(model, PROV.wasRevisionOf, _n(previous))
    add(model, VIP.voxelSize, _lit(" x ".join(f"{z:g}" for z in checked.voxel_size) + " mm"))

    for tp in spec.time_points:
        tp_node = _n(f"{iri}#tp{tp.index}")
        add(model, VIP.hasTimePoint, tp_node)
        add(tp_node, RDF.type, _n(VIP.TimePoint))
        add(tp_node, VIP.timePointIndex, _int(tp.index))
        if tp.offset_days is not None:
            add(tp_node, VIP.timePointOffset, _double(tp.offset_days))
        for inst in tp.instants:
            inst_id = f"tp{tp.index}-i{inst.index}"
            inst_node = _n(f"{iri}#{inst_id}")
            add(tp_node, VIP.hasInstant, inst_node)
            add(inst_node, RDF.type, _n(VIP.Instant))
            add(inst_node, VIP.instantIndex, _int(inst.index))
            if inst.time_s is not None:
                add(inst_node, VIP.instantTime, _double(inst.time_s))
            for layer in inst.layers:
                _annotate_layer(add, checked, iri, inst_id, inst_node, tp.index, inst.index, layer, files)
            for pm in inst.maps:
                map_node = _n(f"{iri}#{inst_id}-map-{_slug(pm.column.header)}")
                add(inst_node, VIP.hasParameterMap, map_node)
                add(map_node, RDF.type, _n(VIP.ParameterMap))
                add(map_node, VIP.parameterKind, _n(pm.column.kind_iri))
                add(map_node, QUDT.unit, _n(pm.column.unit))
                add(map_node, VIP.mapFile, files[pm.file])
                add(map_node, DCTERMS.source, _n(pm.source) if _IRI.fullmatch(pm.source) else _lit(pm.source))
                if pm.column.field_strength is not None:
                    add(map_node, VIP.atFieldStrength, _double(pm.column.field_strength))
                if pm.column.frequency is not None:
                    add(map_node, VIP.atFrequency, _double(pm.column.frequency))
    return Document(quads=tuple(out), source=f"{checked.archive.source} (model {spec.id} v{version})",
                    format=ox.RdfFormat.N_TRIPLES)


def _annotate_layer(add, checked: CheckedModel, iri: str, inst_id: str, inst_node: ox.NamedNode,
                    tp_index: int, inst_index: int, layer, files: dict[str, ox.NamedNode]) -> None:
    spec = checked.spec
    layer_id = f"{inst_id}-{_slug(layer.name)}"
    layer_node = _n(f"{iri}#{layer_id}")
    add(inst_node, VIP.hasObjectLayer, layer_node)
    add(layer_node, RDF.type, _n(VIP[LAYER_KINDS[layer.kind]]))
    add(layer_node, RDFS.label, _lit(layer.name))
    add(layer_node, VIP.labelMap, files[layer.labels])
    table = checked.tables[layer.lut]
    lut_node = _n(f"{iri}#{layer_id}-lut")
    add(layer_node, VIP.hasLookUpTable, lut_node)
    add(lut_node, RDF.type, _n(VIP.LookUpTable))
    add(lut_node, VIP.tableFile, files[layer.lut])
    present = checked.labels_present[(tp_index, inst_index, layer.name)]
    for row in table.rows:
        if row.label not in present:
            continue  # this instant's map does not use the label
        tissue = spec.tissues[row.tissue]
        part = _n(f"{iri}#{layer_id}-{row.label}")
        add(layer_node, VIP.hasLayerPart, part)
        add(part, RDF.type, _n(VIP.LayerPart))
        add(part, VIP.label, _int(row.label))
        add(part, RDFS.label, _lit(tissue.label))
        for cls in tissue.depicts:
            add(part, VIP.depicts, _n(cls))
        for col in table.columns:
            value = row.values.get(col.header)
            if value is None:
                continue
            v = _n(f"{iri}#{layer_id}-{row.label}-{_slug(col.header)}")
            add(lut_node, VIP.hasParameterValue, v)
            add(v, RDF.type, _n(VIP.PhysicalParameterValue))
            add(v, VIP.forLayerPart, part)
            add(v, VIP.parameterKind, _n(col.kind_iri))
            add(v, QUDT.unit, _n(col.unit))
            source = spec.source(col.header, row.tissue)
            add(v, DCTERMS.source, _n(source) if _IRI.fullmatch(source) else _lit(source))
            if col.field_strength is not None:
                add(v, VIP.atFieldStrength, _double(col.field_strength))
            if col.frequency is not None:
                add(v, VIP.atFrequency, _double(col.frequency))
            if col.radiotracer:
                add(v, VIP.radiotracer, _n(VIP[col.radiotracer]))
            if isinstance(value, tuple):
                for z, fraction in value:
                    e = _n(f"{v.value}-Z{z}")
                    add(v, VIP.hasElementFraction, e)
                    add(e, RDF.type, _n(VIP.ElementFraction))
                    add(e, VIP.atomicNumber, _int(z))
                    add(e, VIP.massFraction, _double(fraction))
            else:
                add(v, VIP.numericValue, _double(value))
