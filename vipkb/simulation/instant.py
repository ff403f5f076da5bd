"""One instant of an object model, as arrays a simulator can compute with.

A model instant is a stack of object layers (anatomy, pathology, ...), each a
label map with a look-up table, plus optional parameter maps.  Simulators do
not care about layers: :class:`ModelInstant` flattens them into one integer
*tissue index* volume (later layers drawn over earlier ones where they are
labelled, as in VIP's layered models) and one table of tissues, and answers
"what is T1 at 1.5 T in every voxel" with :meth:`ModelInstant.parameter_volume`
(a parameter map wins over the look-up table).

Index 0 is the background: no tissue, no value.  Each caller says what the
background is for its physics (no spins for MRI, air for CT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vipkb.errors import SimulationError
from vipkb.models.archive import Archive
from vipkb.models.lut import Column
from vipkb.models.spec import CheckedModel, check_archive

__all__ = ["ModelInstant", "ParameterKey", "Tissue"]

Composition = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class ParameterKey:
    """Which parameter: its kind and the condition it was measured under."""

    kind: str
    field_strength: float | None = None
    frequency: float | None = None
    radiotracer: str | None = None

    @classmethod
    def of(cls, column: Column) -> ParameterKey:
        """The key of a look-up table column or parameter map."""
        return cls(kind=column.kind, field_strength=column.field_strength, frequency=column.frequency,
                   radiotracer=column.radiotracer)

    def matches(self, wanted: ParameterKey) -> bool:
        """Whether this value answers ``wanted``; an unconditioned value answers any condition."""
        return self.kind == wanted.kind and all(
            mine is None or mine == theirs
            for mine, theirs in ((self.field_strength, wanted.field_strength), (self.frequency, wanted.frequency),
                                 (self.radiotracer, wanted.radiotracer)))

    def __str__(self) -> str:
        text = self.kind + (f"({self.radiotracer})" if self.radiotracer else "")
        if self.field_strength is not None:
            text += f"@{self.field_strength:g}T"
        if self.frequency is not None:
            text += f"@{self.frequency:g}MHz"
        return text


@dataclass(frozen=True)
class Tissue:
    """One labelled part of the instant, with its parameter values."""

    index: int
    name: str
    layer: str
    label: int
    values: Mapping[ParameterKey, float | Composition] = field(default_factory=dict)

    def value(self, wanted: ParameterKey) -> float | Composition | None:
        """The value answering ``wanted``, preferring an exact condition match."""
        exact = self.values.get(wanted)
        if exact is not None:
            return exact
        for key, v in self.values.items():
            if key.matches(wanted):
                return v
        return None


@dataclass(frozen=True, eq=False)
class ModelInstant:
    """Tissue-index volume, tissue table and parameter maps of one instant.

    Parameters
    ----------
    tissue_index
        Integer volume; ``tissues[i - 1]`` describes voxels of value ``i``.
    tissues
        The tissues, ``tissues[k].index == k + 1``.
    affine
        Voxel-to-world (mm) transform of the grid, NIfTI convention.
    maps
        Parameter maps on the same grid, by key.
    source
        What the instant was read from (model IRI and instant), for messages.
    """

    tissue_index: np.ndarray
    tissues: tuple[Tissue, ...]
    affine: np.ndarray
    maps: Mapping[ParameterKey, np.ndarray] = field(default_factory=dict)
    source: str = "<phantom>"
    time_s: float | None = None

    def __post_init__(self) -> None:
        if self.tissue_index.ndim not in (2, 3):
            raise SimulationError(f"{self.source}: a model instant is 2-D or 3-D, not {self.tissue_index.ndim}-D")
        if [t.index for t in self.tissues] != list(range(1, len(self.tissues) + 1)):
            raise SimulationError(f"{self.source}: tissues must be numbered 1..n in order")
        if self.tissue_index.size and int(self.tissue_index.max()) > len(self.tissues):
            raise SimulationError(f"{self.source}: the tissue index volume names tissue "
                                  f"{int(self.tissue_index.max())} but only {len(self.tissues)} are described")

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape."""
        return tuple(int(n) for n in self.tissue_index.shape)

    @property
    def voxel_size(self) -> tuple[float, ...]:
        """Voxel edge lengths in mm, one per axis."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :self.tissue_index.ndim], axis=0))

    def centred_frame(self) -> np.ndarray:
        """World transform of the frame simulators work in: mm along the voxel axes, origin at the grid's centre.

        Examples
        --------
        >>> inst = ModelInstant.from_labels(np.zeros((4, 4, 2), np.uint8), [], voxel_size=(2.0, 2.0, 3.0))
        >>> (inst.centred_frame() @ [0.0, 0.0, 0.0, 1.0]).tolist()
        [3.0, 3.0, 1.5, 1.0]
        """
        n = self.tissue_index.ndim
        frame = np.eye(4)
        frame[:3, :n] = self.affine[:3, :n] / np.asarray(self.voxel_size)
        centre = np.zeros(4)
        centre[:n] = (np.asarray(self.shape, dtype=float) - 1) / 2
        centre[3] = 1.0
        frame[:3, 3] = (self.affine @ centre)[:3]
        return frame

    def central_slices(self, n_slices: int) -> range:
        """Indices of ``n_slices`` contiguous axial slices (third axis) centred on the grid.

        Raises
        ------
        SimulationError
            If the instant has fewer slices.

        Examples
        --------
        >>> ModelInstant.from_labels(np.zeros((2, 2, 5), np.uint8), []).central_slices(3)
        range(1, 4)
        """
        depth = 1 if self.tissue_index.ndim == 2 else self.shape[2]
        if n_slices > depth:
            raise SimulationError(f"n_slices = {n_slices} but {self.source} has {depth} axial slice(s)")
        first = (depth - n_slices) // 2
        return range(first, first + n_slices)

    def axial_slice(self, z: int) -> ModelInstant:
        """Slice ``z`` (third axis) as a 2-D instant with the same tissues; a 2-D instant is its own slice."""
        if self.tissue_index.ndim == 2:
            return self
        return ModelInstant(tissue_index=self.tissue_index[:, :, z], tissues=self.tissues,
                            affine=self.slab_affine(z), maps={k: v[:, :, z] for k, v in self.maps.items()},
                            source=f"{self.source}, slice {z}", time_s=self.time_s)

    def slab_affine(self, first_slice: int) -> np.ndarray:
        """The affine of a stack of this grid's axial slices starting at ``first_slice``."""
        affine = np.array(self.affine, dtype=float)
        affine[:3, 3] = affine[:3, 2] * first_slice + affine[:3, 3]
        return affine

    def keys(self, kind: str) -> list[ParameterKey]:
        """Every condition under which some tissue or map gives ``kind``."""
        found = {k for t in self.tissues for k in t.values if k.kind == kind}
        found |= {k for k in self.maps if k.kind == kind}
        return sorted(found, key=str)

    def property_table(self, wanted: ParameterKey, *, background: float = 0.0) -> np.ndarray:
        """Value of ``wanted`` per tissue index (entry 0 is ``background``).

        Raises
        ------
        SimulationError
            Naming the tissues without a value and the conditions available.
        """
        table = np.empty(len(self.tissues) + 1, dtype=np.float64)
        table[0] = background
        missing = []
        for t in self.tissues:
            v = t.value(wanted)
            if v is None or isinstance(v, tuple):
                missing.append(f"{t.name} (label {t.label} of layer {t.layer})")
            else:
                table[t.index] = v
        if missing:
            have = ", ".join(str(k) for k in self.keys(wanted.kind)) or "none"
            raise SimulationError(f"{self.source}: no {wanted} value for {', '.join(missing)}; "
                                  f"this instant has {wanted.kind} as: {have}")
        return table

    def parameter_volume(self, wanted: ParameterKey, *, background: float = 0.0,
                         dtype: type = np.float32) -> np.ndarray:
        """``wanted`` in every voxel: from a parameter map if there is one, else from the tissues."""
        for key, volume in self.maps.items():
            if key.matches(wanted):
                return np.asarray(volume, dtype=dtype)
        return self.property_table(wanted, background=background).astype(dtype)[self.tissue_index]

    def materials(self) -> list[tuple[Composition, float]]:
        """(composition, mass density in kg/m3) per tissue, for X-ray and 511 keV attenuation."""
        out = []
        for t in self.tissues:
            comp = t.value(ParameterKey("ElementalComposition"))
            density = t.value(ParameterKey("MassDensity"))
            if not isinstance(comp, tuple) or density is None:
                raise SimulationError(f"{self.source}: tissue {t.name} (label {t.label} of layer {t.layer}) lacks "
                                      "an elemental composition or a mass density, needed for X-ray attenuation")
            out.append((comp, float(density)))
        return out

    @classmethod
    def from_labels(cls, labels: np.ndarray, tissues: Sequence[tuple[str, Mapping[str, float | Composition]]], *,
                    voxel_size: Sequence[float] = (1.0, 1.0, 1.0), source: str = "<phantom>") -> ModelInstant:
        """Build an instant from one label map and ``(name, {header: value})`` per label 1..n.

        Headers follow the look-up table grammar (``T1@1.5T [ms]``); handy for
        phantoms in tests and notebooks.

        Examples
        --------
        >>> disc = np.zeros((8, 8), dtype=np.uint8); disc[2:6, 2:6] = 1
        >>> inst = ModelInstant.from_labels(disc, [("water", {"T1@1.5T [ms]": 2500.0})])
        >>> float(inst.parameter_volume(ParameterKey("T1", field_strength=1.5))[3, 3])
        2500.0
        """
        built = []
        for i, (name, values) in enumerate(tissues, start=1):
            keyed = {ParameterKey.of(Column.parse(h, source)): v for h, v in values.items()}
            built.append(Tissue(index=i, name=name, layer="phantom", label=i, values=keyed))
        n = labels.ndim
        affine = np.eye(4)
        affine[:n, :n] = np.diag(np.asarray(voxel_size[:n], dtype=float))
        return cls(tissue_index=np.asarray(labels, dtype=np.int32), tissues=tuple(built), affine=affine,
                   source=source)

    @classmethod
    def from_checked(cls, checked: CheckedModel, *, time_point: int = 0, instant: int = 0,
                     source: str | None = None) -> ModelInstant:
        """Flatten one instant of a checked model archive."""
        source = source or checked.archive.source
        pairs = {(tp.index, i.index): i for tp, i in checked.spec.instants()}
        try:
            spec = pairs[(time_point, instant)]
        except KeyError:
            available = ", ".join(f"{t}/{i}" for t, i in sorted(pairs))
            raise SimulationError(f"{source}: no instant {time_point}/{instant}; "
                                  f"it has (time point/instant) {available}") from None
        tissues: list[Tissue] = []
        index = None
        affine = None
        for layer in spec.layers:
            image = checked.archive.volume(layer.labels, labels=True)
            labels = np.asarray(image.dataobj).astype(np.int64)
            if index is None:
                index = np.zeros(labels.shape, dtype=np.int32)
                affine = np.asarray(image.affine, dtype=float)
            table = checked.tables[layer.lut]
            columns = {c.header: ParameterKey.of(c) for c in table.columns}
            lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
            for row in table.rows:
                tissues.append(Tissue(index=len(tissues) + 1, name=row.tissue, layer=layer.name, label=row.label,
                                      values={columns[h]: v for h, v in row.values.items()}))
                if row.label < lookup.size:
                    lookup[row.label] = len(tissues)
            # Later layers are drawn over earlier ones where they are labelled.
            drawn = labels > 0
            index[drawn] = lookup[labels[drawn]]
        maps = {ParameterKey.of(pm.column): np.asarray(checked.archive.volume(pm.file, labels=False).dataobj,
                                                       dtype=np.float32)
                for pm in spec.maps}
        return cls(tissue_index=index, tissues=tuple(tissues), affine=affine, maps=maps,
                   source=f"{source} (instant {time_point}/{instant})", time_s=spec.time_s)

    @classmethod
    def from_archive(cls, archive: Archive, *, time_point: int = 0, instant: int = 0) -> ModelInstant:
        """Check an archive (a model folder or zip read with ``read_archive``) and flatten one instant."""
        return cls.from_checked(check_archive(archive, {}), time_point=time_point, instant=instant)
