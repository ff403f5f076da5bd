"""The simulator plugin contract: one abstract class and the result it returns.

A simulator is a subclass of :class:`Simulator` made known through the
``vipkb.simulators`` entry-point group (see :mod:`vipkb.simulation.registry`).
It declares what it is in class attributes, from which its RDF description is
generated (:mod:`vipkb.simulation.describe`), and computes images in
:meth:`Simulator.run`.
"""

from __future__ import annotations

import gzip
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import nibabel as nib
import numpy as np
from rdflib import URIRef

from vipkb.namespaces import VIP
from vipkb.simulation.instant import ModelInstant
from vipkb.simulation.parameters import SimulationParameters

__all__ = ["RawData", "SimulationResult", "Simulator", "nifti_image"]

#: Called with the fraction done (0..1) and a short message.
Progress = Callable[[float, str], None]


@dataclass(frozen=True, eq=False)
class RawData:
    """Raw data of a modality (k-space, sinogram...): an array and what its axes mean."""

    kind: URIRef
    array: np.ndarray
    axes: tuple[str, ...]
    description: str = ""

    def npy(self) -> bytes:
        """The array as ``.npy`` bytes (``numpy.load`` reads them back)."""
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(self.array), allow_pickle=False)
        return buffer.getvalue()


def nifti_image(array: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    """A NIfTI-1 image of a simulated volume, spatial units mm."""
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm", "sec")
    return image


def nifti_bytes(image: nib.Nifti1Image) -> bytes:
    """Gzip-compressed NIfTI-1 bytes with no timestamp, so equal images give equal bytes."""
    return gzip.compress(image.to_bytes(), compresslevel=1, mtime=0)  # float images barely compress: favour speed


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one run of a simulator on one instant produces.

    Attributes
    ----------
    image
        The reconstructed image, with the affine placing it in the model's world frame.
    raw
        Raw data by name (``kspace``, ``sinogram``...).
    preview
        A PNG of the image's middle slice.
    metadata
        JSON-ready facts needed to read the outputs (units, windows, notes on assumptions).
    """

    image: nib.Nifti1Image
    raw: Mapping[str, RawData]
    preview: bytes
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        """Every output as file name -> bytes; the same inputs and seed give the same bytes."""
        out = {"image.nii.gz": nifti_bytes(self.image), "preview.png": self.preview}
        out.update({f"{name}.npy": raw.npy() for name, raw in self.raw.items()})
        meta = dict(self.metadata)
        meta["raw"] = {name: {"kind": str(raw.kind), "axes": list(raw.axes), "shape": list(raw.array.shape),
                              "dtype": str(raw.array.dtype), "description": raw.description}
                       for name, raw in self.raw.items()}
        out["metadata.json"] = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
        return out

    def write(self, directory: str | Path) -> list[Path]:
        """Write :meth:`files` into ``directory`` (created if needed); return the paths."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in self.files().items():
            path = target / name
            path.write_bytes(data)
            written.append(path)
        return written


class Simulator(ABC):
    """Base class of every simulator plugin.

    A subclass provides these class attributes:

    ``name``
        Short identifier (``mri``), also its entry-point name and IRI path.
    ``label``, ``description``, ``version``
        Human-readable name, one paragraph on the physics, software version.
    ``modality``
        The ``vip:Modality`` simulated (``VIP.MR``).
    ``requires``
        Parameter kinds the model must give (``VIP.T1``...).
    ``dimensionality``
        Spatial dimensionalities of model accepted (``(2, 3)``).
    ``dynamics``
        Model dynamics accepted (``VIP.Static``...); one instant runs at a time.
    ``outputs``
        Output kinds produced (``VIP.Image``, ``VIP.KSpace``, ``VIP.Preview``...).
    ``Parameters``
        Its frozen :class:`SimulationParameters` subclass.
    ``stochastic``
        Whether results depend on the seed.

    and implements :meth:`run`.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    version: ClassVar[str]
    modality: ClassVar[URIRef]
    requires: ClassVar[tuple[URIRef, ...]]
    dimensionality: ClassVar[tuple[int, ...]] = (2, 3)
    dynamics: ClassVar[tuple[URIRef, ...]] = (VIP.Static, VIP.Moving, VIP.Longitudinal)
    outputs: ClassVar[tuple[URIRef, ...]]
    Parameters: ClassVar[type[SimulationParameters]]
    stochastic: ClassVar[bool] = True

    @abstractmethod
    def run(self, instant: ModelInstant, parameters: SimulationParameters, *, seed: int,
            progress: Progress | None = None) -> SimulationResult:
        """Simulate one model instant.

        Parameters
        ----------
        instant
            The model instant (tissue index volume, tissue table, parameter maps, affine).
        parameters
            An instance of ``self.Parameters``.
        seed
            Seed of every random draw; the same inputs and seed give the same bytes.
        progress
            Optional callback receiving the fraction done and a message.

        Raises
        ------
        SimulationError
            When the instant lacks what the physics needs (named in the message).
        """

    def run_metadata(self, instant: ModelInstant, parameters: SimulationParameters, seed: int,
                     **facts: Any) -> dict[str, Any]:
        """What every result's metadata says (simulator, version, parameters, seed, model), plus ``facts``."""
        return {"simulator": self.name, "version": self.version, "parameters": parameters.as_dict(), "seed": seed,
                "model": instant.source, **facts}

    def parameters(self, values: Mapping[str, Any] | None = None) -> SimulationParameters:
        """This simulator's parameters from names to values; defaults for the rest."""
        return self.Parameters.from_mapping(values or {})
