"""The catalog: models (facets, search, slice previews), simulators, simulated data, catalogued files.

Server-rendered pages, readable without JavaScript; each page asks the core
for what it shows (a few SPARQL queries behind named functions), never
walking the graph itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from vipkb.catalog import list_models, list_simulators
from vipkb.data import describe_data, list_data
from vipkb.errors import UnknownResourceError
from vipkb.matching import MODALITIES, find_matches
from vipkb.models.previews import layer_preview, legend, model_geometry
from vipkb.models.repository import describe_model
from vipkb.namespaces import VIP
from vipkb.queries import ModelFilter
from vipkb.simulation.describe import simulator_iri
from vipkb.simulation.registry import get_simulator
from vipkb.storage import FileCatalog
from webapp.extensions import get_kb

__all__ = ["bp"]

bp = Blueprint("catalog", __name__)

LAYER_KINDS = ("anatomical", "pathological", "geometrical", "foreign body", "external agent")


def _int_arg(name: str, default: int | None) -> int | None:
    value = request.args.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        abort(400, f"{name} must be an integer, not {value!r}")


@bp.get("/")
def home():
    """Counts and the ways in."""
    return render_template("catalog/home.html", stats=get_kb().stats())


@bp.get("/models")
def models():
    """Models with facets (region, layer kind, readiness, dynamics) and free-text search."""
    dynamics = request.args.get("dynamics", "")
    criteria = ModelFilter(region=request.args.get("region") or None,
                           layer_kind=request.args.get("layer_kind") or None,
                           ready=request.args.get("ready") or None,
                           dynamic={"static": False, "dynamic": True}.get(dynamics),
                           text=request.args.get("text") or None)
    return render_template("catalog/models.html", models=list_models(get_kb(), criteria), args=request.args,
                           layer_kinds=LAYER_KINDS, modalities=MODALITIES)


@bp.get("/models/<path:ref>/preview.png")
def model_preview(ref: str):
    """One axial slice of one layer of one instant: ``?layer=&tp=&i=&z=``."""
    layer = request.args.get("layer") or abort(400, "give the layer to preview (?layer=...)")
    png = layer_preview(get_kb(), ref, time_point=_int_arg("tp", 0), instant=_int_arg("i", 0), layer=layer,
                        index=_int_arg("z", None), max_size=int(current_app.config["PREVIEW_MAX_SIZE"]))
    response = Response(png, mimetype="image/png")
    response.cache_control.public = True
    response.cache_control.max_age = 3600  # a model version never changes
    return response


@bp.get("/models/<path:ref>")
def model(ref: str):
    """A model version: layers with slice and instant sliders, tissues and parameters, readiness."""
    kb = get_kb()
    description = describe_model(kb, ref)
    geometry = model_geometry(kb, ref)
    instant_index = _int_arg("instant", 0)
    if not 0 <= instant_index < len(description.instants):
        abort(404, f"no instant {instant_index}; the model has {len(description.instants)}")
    slices = int(geometry["slices"])
    z = _int_arg("z", slices // 2)
    if not 0 <= z < slices:
        abort(404, f"no slice {z}; the model has {slices}")
    tp, i, _ = description.instants[instant_index]
    model_ref = description.iri.rsplit("/model/", 1)[1]
    return render_template("catalog/model.html", model=description, ref=model_ref, geometry=geometry,
                           instant_index=instant_index, tp=tp, i=i, z=z, legend=legend(description.tissues))


@bp.get("/simulators")
def simulators():
    """The simulators described in the knowledge base."""
    return render_template("catalog/simulators.html", simulators=list_simulators(get_kb()))


@bp.get("/simulators/<name>")
def simulator(name: str):
    """A simulator: physics, parameters (types, defaults, ranges, units) and the models it can run."""
    kb = get_kb()
    known = {s.id: s for s in list_simulators(kb)}
    if name not in known:
        raise UnknownResourceError(f"no simulator {name!r} in the knowledge base")
    try:
        cls = get_simulator(name)
    except UnknownResourceError:
        cls = None  # described but not installed here: the description is still shown
    matches = find_matches(kb, simulator=str(simulator_iri(name)))
    models: dict[str, list[str]] = {}
    for m in matches:
        models.setdefault(m.model.rsplit("/model/", 1)[1], []).append(f"{m.time_point}/{m.instant}")
    return render_template("catalog/simulator.html", summary=known[name], cls=cls,
                           specs=cls.Parameters.specs() if cls else (), models=models)


@bp.get("/data")
def data():
    """Simulated data, optionally of one modality."""
    modality = request.args.get("modality") or None
    if modality is not None and modality not in MODALITIES:
        abort(400, f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
    items = list_data(get_kb(), modality=str(VIP[modality]) if modality else None)
    return render_template("catalog/data.html", items=items, modalities=MODALITIES, args=request.args)


@bp.get("/data/<path:ref>")
def data_item(ref: str):
    """One simulated data item with its preview, files and provenance chain."""
    from vipkb.runs import show_run
    from webapp.linked import rdf_requested, rdf_response

    kb = get_kb()
    details = describe_data(kb, ref)
    media_type = rdf_requested()
    if media_type is not None:  # the page's path is also the data's IRI path: answer RDF clients with RDF
        return rdf_response(details.summary.iri, media_type)
    return render_template("catalog/data_item.html", item=details, run=show_run(kb, details.summary.run))


@bp.get("/files/<path:lfn>")
def file(lfn: str):
    """A catalogued file's bytes (checksum verified, from the first good replica)."""
    catalog = FileCatalog(get_kb())
    record = catalog.record(lfn)
    response = Response(catalog.read(record), mimetype=record.media_type.rsplit("media-types/", 1)[-1])
    if not record.media_type.endswith(("/image/png", "/application/json", "/text/csv")):
        response.headers["Content-Disposition"] = f"attachment; filename={lfn.rsplit('/', 1)[-1]}"
    response.headers["ETag"] = record.sha256
    return response


@bp.app_template_filter("model_url")
def model_url(iri: str) -> str:
    """Catalog page of a model (or instant) IRI."""
    return url_for("catalog.model", ref=iri.split("#", 1)[0].rsplit("/model/", 1)[-1])
