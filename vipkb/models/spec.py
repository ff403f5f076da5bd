"""The metadata of a model archive (``model.json``) and its consistency checks.

``model.json`` says how the archive's files fit together::

    {
      "id": "brain", "label": "Brain", "description": "...", "license": "https://...",
      "dynamics": "static",                      # static | moving | longitudinal
      "modalities": ["MR", "CT", "PET"],          # what the model claims to be ready for
      "tissues": {"csf": {"label": "cerebrospinal fluid", "depicts": ["obo:UBERON_0001359"]}},
      "sources": {"T1@1.5T [ms]": "https://doi.org/...",   # one citation per LUT column, or
                  "T2@3T [ms]": {"*": "https://doi.org/...", "csf": "Assumed: ..."}},  # per tissue
      "time_points": [{"index": 0, "offset_days": 0, "instants": [
          {"index": 0, "time_s": 0.0,
           "layers": [{"name": "anatomy", "kind": "anatomical", "labels": "anatomy.nii.gz", "lut": "anatomy.csv"}],
           "parameter_maps": [{"file": "t1.nii.gz", "parameter": "T1@1.5T [ms]", "source": "https://..."}]}
      ]}]
    }

:func:`check_archive` loads every volume and table and checks what the
shapes cannot see: label maps against look-up tables (both directions),
grids across layers and instants, sources for every column, and the
parameters each claimed modality needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vipkb.errors import ModelArchiveError
from vipkb.models.archive import Archive
from vipkb.models.lut import Column, LookUpTable, read_lut
from vipkb.namespaces import PREFIXES

LAYER_KINDS = {
    "anatomical": "AnatomicalLayer", "pathological": "PathologicalLayer", "geometrical": "GeometricalLayer",
    "foreign body": "ForeignBodyLayer", "external agent": "ExternalAgentLayer",
}
DYNAMICS = {"static": "Static", "moving": "Moving", "longitudinal": "Longitudinal"}
MODALITIES = ("MR", "Ultrasound", "CT", "XRay", "PET")


def expand_iri(value: str, where: str) -> str:
    """Expand ``obo:UBERON_0002107`` with the known prefixes; full IRIs pass through."""
    prefix, sep, local = value.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    if value.startswith(("http://", "https://", "urn:")):
        return value
    raise ModelArchiveError(f"{where}: {value!r} is neither a full IRI nor one of the prefixes "
                            f"{', '.join(sorted(PREFIXES))}")


@dataclass(frozen=True)
class Tissue:
    """A tissue named in look-up tables: what it depicts."""

    name: str
    label: str
    depicts: tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    """One object layer of one instant."""

    name: str
    kind: str
    labels: str
    lut: str


@dataclass(frozen=True)
class ParameterMap:
    """A volume of one parameter over an instant (e.g. a T1 map)."""

    file: str
    column: Column
    source: str


@dataclass(frozen=True)
class Instant:
    """One instant: its layers and parameter maps."""

    index: int
    time_s: float | None
    layers: tuple[Layer, ...]
    maps: tuple[ParameterMap, ...] = ()


@dataclass(frozen=True)
class TimePoint:
    """One time point: its instants."""

    index: int
    offset_days: float | None
    instants: tuple[Instant, ...]


@dataclass(frozen=True)
class ModelSpec:
    """The parsed, structurally checked ``model.json``."""

    id: str
    label: str
    description: str
    license: str | None
    dynamics: str
    modalities: tuple[str, ...]
    tissues: dict[str, Tissue]
    sources: dict[str, dict[str, str]]
    time_points: tuple[TimePoint, ...]

    def source(self, column: str, tissue: str) -> str | None:
        """The citation for one tissue's value in one column (tissue-specific first)."""
        by_tissue = self.sources.get(column, {})
        return by_tissue.get(tissue) or by_tissue.get("*")

    def instants(self) -> list[tuple[TimePoint, Instant]]:
        """Every (time point, instant) pair, in order."""
        return [(tp, i) for tp in self.time_points for i in tp.instants]


def _require(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> object:
    if key not in data:
        raise ModelArchiveError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ModelArchiveError(f"{where}: {key!r} must be a {names}, not {type(value).__name__}")
    return value


def parse_spec(meta: dict, source: str) -> ModelSpec:
    """Check the shape of ``model.json`` and return a :class:`ModelSpec`."""
    where = f"{source}: model.json"
    model_id = _require(meta, "id", str, where)
    if not model_id or not all(c.isalnum() or c in "-_." for c in model_id):
        raise ModelArchiveError(f"{where}: id {model_id!r} must be letters, digits, '-', '_' or '.'")
    dynamics = _require(meta, "dynamics", str, where)
    if dynamics not in DYNAMICS:
        raise ModelArchiveError(f"{where}: dynamics {dynamics!r} is not one of {', '.join(DYNAMICS)}")
    modalities = tuple(_require(meta, "modalities", list, where))
    for m in modalities:
        if m not in MODALITIES:
            raise ModelArchiveError(f"{where}: modality {m!r} is not one of {', '.join(MODALITIES)}")
    tissues = {}
    for name, t in _require(meta, "tissues", dict, where).items():
        tw = f"{where}, tissue {name!r}"
        depicts = tuple(expand_iri(d, tw) for d in _require(t, "depicts", list, tw))
        if not depicts:
            raise ModelArchiveError(f"{tw}: 'depicts' needs at least one class IRI")
        tissues[name] = Tissue(name=name, label=_require(t, "label", str, tw), depicts=depicts)
    sources: dict[str, dict[str, str]] = {}
    for column, cited in _require(meta, "sources", dict, where).items():
        if isinstance(cited, str):
            sources[column] = {"*": cited}
        elif isinstance(cited, dict) and all(isinstance(v, str) for v in cited.values()):
            sources[column] = dict(cited)
        else:
            raise ModelArchiveError(f"{where}: sources[{column!r}] must be a citation or a {{tissue: citation}} map")
    time_points = []
    for tp in _require(meta, "time_points", list, where):
        tpw = f"{where}, time point {tp.get('index')!r}"
        instants = []
        for inst in _require(tp, "instants", list, tpw):
            iw = f"{tpw}, instant {inst.get('index')!r}"
            layers = []
            for lay in _require(inst, "layers", list, iw):
                lw = f"{iw}, layer {lay.get('name')!r}"
                kind = _require(lay, "kind", str, lw)
                if kind not in LAYER_KINDS:
                    raise ModelArchiveError(f"{lw}: kind {kind!r} is not one of {', '.join(LAYER_KINDS)}")
                layers.append(Layer(name=_require(lay, "name", str, lw), kind=kind,
                                    labels=_require(lay, "labels", str, lw), lut=_require(lay, "lut", str, lw)))
            if not layers:
                raise ModelArchiveError(f"{iw}: an instant needs at least one layer")
            maps = []
            for pm in inst.get("parameter_maps", []):
                mw = f"{iw}, parameter map {pm.get('file')!r}"
                column = Column.parse(_require(pm, "parameter", str, mw), mw)
                if column.kind in ("ElementalComposition",):
                    raise ModelArchiveError(f"{mw}: a composition cannot be a parameter map; use a look-up table")
                maps.append(ParameterMap(file=_require(pm, "file", str, mw), column=column,
                                         source=_require(pm, "source", str, mw)))
            time_s = inst.get("time_s")
            instants.append(Instant(index=_require(inst, "index", int, iw),
                                    time_s=float(time_s) if time_s is not None else None, layers=tuple(layers),
                                    maps=tuple(maps)))
        offset = tp.get("offset_days")
        time_points.append(TimePoint(index=_require(tp, "index", int, tpw),
                                     offset_days=float(offset) if offset is not None else None,
                                     instants=tuple(instants)))
    if not time_points:
        raise ModelArchiveError(f"{where}: a model needs at least one time point")
    return ModelSpec(
        id=model_id, label=_require(meta, "label", str, where), description=str(meta.get("description", "")),
        license=meta.get("license"), dynamics=dynamics, modalities=modalities, tissues=tissues,
        sources=sources, time_points=tuple(time_points),
    )


@dataclass
class CheckedModel:
    """An archive whose volumes and tables agree with each other."""

    archive: Archive
    spec: ModelSpec
    tables: dict[str, LookUpTable] = field(default_factory=dict)
    labels_present: dict[tuple[int, int, str], set[int]] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    voxel_size: tuple[float, ...] = ()


def check_archive(archive: Archive, requirements: dict[str, set[str]]) -> CheckedModel:
    """Load every volume and table of ``archive`` and check they agree.

    Parameters
    ----------
    archive
        The archive, already read safely.
    requirements
        Parameter kinds (local names, e.g. ``T1``) each modality needs.

    Raises
    ------
    ModelArchiveError
        Naming the file, the label or the tissue at fault.
    """
    spec = parse_spec(archive.metadata(), archive.source)
    checked = CheckedModel(archive=archive, spec=spec)
    grid = None
    for tp, inst in spec.instants():
        for layer in inst.layers:
            image = archive.volume(layer.labels, labels=True)
            if image.ndim != 3:
                raise ModelArchiveError(f"{archive.source}: {layer.labels} is {image.ndim}-D; label maps are 3-D, "
                                        "one file per instant")
            this = (image.shape, image.affine)
            if grid is None:
                grid = this
                checked.shape = tuple(int(n) for n in image.shape)
                checked.voxel_size = tuple(float(z) for z in image.header.get_zooms()[:3])
            elif this[0] != grid[0] or not np.allclose(this[1], grid[1], atol=1e-4):
                raise ModelArchiveError(
                    f"{archive.source}: {layer.labels} (time point {tp.index}, instant {inst.index}) has shape "
                    f"{tuple(this[0])} and affine {np.round(this[1], 3).tolist()}, unlike the first label map "
                    f"(shape {tuple(grid[0])}, affine {np.round(grid[1], 3).tolist()}): all layers and instants "
                    "must share one grid")
            present = {int(v) for v in np.unique(np.asanyarray(image.dataobj))} - {0}
            table = checked.tables.get(layer.lut)
            if table is None:
                table = read_lut(archive.text(layer.lut), layer.lut)
                checked.tables[layer.lut] = table
            missing = sorted(present - table.labels())
            if missing:
                raise ModelArchiveError(f"{archive.source}: labels {missing} appear in {layer.labels} but not in "
                                        f"its look-up table {layer.lut}")
            checked.labels_present[(tp.index, inst.index, layer.name)] = present
        for pm in inst.maps:
            image = archive.volume(pm.file, labels=False)
            if image.shape != grid[0] or not np.allclose(image.affine, grid[1], atol=1e-4):
                raise ModelArchiveError(f"{archive.source}: parameter map {pm.file} is not on the grid of the "
                                        "label maps (shape and affine must match)")
            values = np.asanyarray(image.dataobj)
            if not np.all(np.isfinite(values)):
                raise ModelArchiveError(f"{archive.source}: parameter map {pm.file} holds NaN or infinite values")
            if values.min() < 0:
                raise ModelArchiveError(f"{archive.source}: parameter map {pm.file} holds negative values "
                                        f"(minimum {float(values.min()):g}); {pm.column.kind} cannot be negative")
    for lut_name, table in checked.tables.items():
        used = set().union(*(checked.labels_present[(tp.index, i.index, la.name)]
                             for tp, i in spec.instants() for la in i.layers if la.lut == lut_name))
        unused = sorted(table.labels() - used)
        if unused:
            raise ModelArchiveError(f"{archive.source}: labels {unused} are in look-up table {lut_name} but in "
                                    "none of the label maps that use it")
        for row in table.rows:
            if row.tissue not in spec.tissues:
                raise ModelArchiveError(f"{archive.source}: tissue {row.tissue!r} (label {row.label} in {lut_name}) "
                                        "is not described in model.json 'tissues'")
            for col in table.columns:
                if col.header in row.values and not spec.source(col.header, row.tissue):
                    raise ModelArchiveError(
                        f"{archive.source}: column {col.header!r} of {lut_name} has no entry in model.json "
                        f"'sources' for tissue {row.tissue!r}: cite where its values come from")
            kinds = {c.kind for c in table.columns if c.header in row.values}
            # A parameter map gives its kind to every tissue of the instants that carry it.
            kinds |= {pm.column.kind for _, i in spec.instants() for pm in i.maps
                      if any(la.lut == lut_name for la in i.layers)}
            for modality in spec.modalities:
                lacking = sorted(requirements.get(modality, set()) - kinds)
                if lacking:
                    raise ModelArchiveError(
                        f"{archive.source}: tissue {row.tissue!r} (label {row.label} in {lut_name}) lacks "
                        f"{', '.join(lacking)}, needed for {modality} which model.json claims")
    return checked
