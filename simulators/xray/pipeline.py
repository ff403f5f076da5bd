"""Polychromatic CT and radiography of a labelled object, end to end.

Each voxel holds a material index; each material is an elemental
composition and a mass density, whose attenuation at every energy of the
spectrum comes from :func:`vipkb.attenuation.linear_attenuation`.  The chain
is: exact path lengths per material (:func:`~simulators.xray.siddon.path_lengths`),
``N0 S(E) exp(-sum_t mu_t(E) L_t)`` photons per energy, Poisson noise,
energy-integrating detection, log-normalisation, then for CT the optional
water beam-hardening correction, filtered back-projection and Hounsfield
units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulators.xray.detector import Detector, WaterCorrection, hounsfield, water_correction
from simulators.xray.fbp import fbp_fan, fbp_parallel
from simulators.xray.geometry import ConeBeamRadiograph, FanBeam, ParallelBeam
from simulators.xray.grid import VoxelGrid
from simulators.xray.siddon import path_lengths
from simulators.xray.spectrum import Spectrum
from vipkb.attenuation import linear_attenuation
from vipkb.errors import ParameterError, SimulationError

__all__ = ["CTResult", "Material", "RadiographResult", "attenuation_matrix", "simulate_ct", "simulate_radiograph"]


@dataclass(frozen=True, kw_only=True)
class Material:
    """A material: name, ``((Z, mass fraction), ...)`` and mass density in kg/m3."""

    name: str
    composition: tuple[tuple[int, float], ...]
    density_kg_m3: float

    def __post_init__(self) -> None:
        comp = self.composition
        if not comp or any(not (isinstance(z, (int, np.integer)) and 1 <= z <= 98) or not w > 0 for z, w in comp):
            raise ParameterError(f"{self.name}: a composition is ((Z, mass fraction > 0), ...) with 1 <= Z <= 98; "
                                 f"got {comp!r}")
        if abs(sum(w for _, w in comp) - 1.0) > 0.01:
            raise ParameterError(f"{self.name}: mass fractions must sum to 1 (within 0.01); "
                                 f"they sum to {sum(w for _, w in comp):.4f}")
        if not 0 < self.density_kg_m3 <= 25_000:
            raise ParameterError(f"{self.name}: density_kg_m3 must be in (0, 25000]; got {self.density_kg_m3!r}")


def attenuation_matrix(materials: Sequence[Material], energies_kev: np.ndarray) -> np.ndarray:
    """Linear attenuation (1/mm), shape ``(n_materials, n_energies)``."""
    return np.array([np.atleast_1d(linear_attenuation(m.composition, m.density_kg_m3, energies_kev))
                     for m in materials])


def _lengths(labels: np.ndarray, materials: Sequence[Material], grid: VoxelGrid, starts: np.ndarray,
             ends: np.ndarray, workers: int | None) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != grid.shape:
        raise ParameterError(f"labels have shape {labels.shape} but the grid is {grid.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"labels must be integers (material indices); got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(materials)):
        raise SimulationError(f"labels run from {int(labels.min())} to {int(labels.max())} but only "
                              f"{len(materials)} materials are given (indices 0..{len(materials) - 1})")
    return path_lengths(labels, len(materials), starts_mm=starts, ends_mm=ends, voxel_size_mm=grid.voxel_size_mm,
                        origin_mm=grid.origin_mm, workers=workers)


@dataclass(frozen=True, kw_only=True, eq=False)
class CTResult:
    """A simulated CT slice.

    Attributes
    ----------
    sinogram
        Projections ``(n_detectors, n_views)`` as reconstructed (after the
        water correction when it was on).
    mu_per_mm
        Reconstructed linear attenuation at the reference energy, 1/mm.
    hu
        The same in Hounsfield units.
    grid
        The reconstruction grid.
    correction
        The water correction used (its ``reference_kev`` and
        ``mu_water_per_mm`` define the HU scale even when it was not applied).
    """

    sinogram: np.ndarray
    mu_per_mm: np.ndarray
    hu: np.ndarray
    grid: VoxelGrid
    correction: WaterCorrection


def simulate_ct(labels: np.ndarray, materials: Sequence[Material], *, grid: VoxelGrid,
                geometry: ParallelBeam | FanBeam, spectrum: Spectrum, detector: Detector,
                rng: np.random.Generator | None = None, beam_hardening_correction: bool = True,
                window: str = "ram-lak", reconstruction_grid: VoxelGrid | None = None,
                workers: int | None = None) -> CTResult:
    """Simulate a polychromatic CT scan of a 2-D label slice and reconstruct it in HU.

    Parameters
    ----------
    labels
        2-D integer slice on ``grid``; value ``i`` is ``materials[i]``.
    materials
        One per label value (index 0 is usually air).
    grid
        The slice's grid, axial plane, isocentre at the world origin.
    geometry
        :class:`ParallelBeam` or :class:`FanBeam`.
    spectrum, detector, rng
        Source, detector and dose, random generator for the quantum noise.
    beam_hardening_correction
        Apply the water correction before reconstruction.
    window
        Apodisation of the ramp filter (see :data:`simulators.xray.fbp.WINDOWS`).
    reconstruction_grid
        Output grid (default ``grid``).
    workers
        Threads for ray tracing and back-projection.
    """
    if grid.ndim != 2:
        raise SimulationError(f"CT simulates one axial slice: give a 2-D label image, not {grid.ndim}-D")
    if isinstance(geometry, FanBeam):
        if grid.radius_mm() >= geometry.source_to_isocentre_mm:
            raise SimulationError(f"the object grid (radius {grid.radius_mm():.0f} mm) must fit inside the source "
                                  f"circle (radius {geometry.source_to_isocentre_mm:g} mm)")
        if geometry.source_to_detector_mm - geometry.source_to_isocentre_mm <= grid.radius_mm():
            raise SimulationError("the detector must lie outside the object grid: increase source_to_detector_mm")
        rays = geometry.rays()
    elif isinstance(geometry, ParallelBeam):
        # Rays that start and end outside the grid take the tracer's fast path (no clipping per element).
        rays = geometry.rays(grid.radius_mm() + 1.0)
    else:
        raise ParameterError(f"geometry must be a ParallelBeam or a FanBeam; got {type(geometry).__name__}")
    # Trace once per material, then apply the spectrum: n_energies costs one matrix product, not one trace.
    lengths = _lengths(labels, materials, grid, *rays.flat(), workers)
    mu = attenuation_matrix(materials, spectrum.energies_kev)
    signal = detector.signal(lengths, mu, spectrum, rng=rng)
    # Built even when not applied: its reference energy defines the HU scale.
    correction = water_correction(spectrum)
    p = detector.projections(signal, spectrum)
    if beam_hardening_correction:
        p = correction(p)
    sinogram = p.reshape(rays.shape).T
    out_grid = reconstruction_grid or grid
    reconstruct = fbp_fan if isinstance(geometry, FanBeam) else fbp_parallel
    image = reconstruct(sinogram, geometry, out_grid, window=window, workers=workers)
    return CTResult(sinogram=sinogram, mu_per_mm=image, hu=hounsfield(image, correction.mu_water_per_mm),
                    grid=out_grid, correction=correction)


@dataclass(frozen=True, kw_only=True, eq=False)
class RadiographResult:
    """A simulated radiograph, arrays ``(n_rows, n_columns)``.

    Attributes
    ----------
    signal
        Recorded energy per pixel, keV.
    transmission
        ``signal`` over the unattenuated signal of the same pixel.
    projection
        ``-ln(transmission)``, starvation-guarded.
    """

    signal: np.ndarray
    transmission: np.ndarray
    projection: np.ndarray


def simulate_radiograph(labels: np.ndarray, materials: Sequence[Material], *, grid: VoxelGrid,
                        geometry: ConeBeamRadiograph, spectrum: Spectrum, detector: Detector,
                        rng: np.random.Generator | None = None, workers: int | None = None) -> RadiographResult:
    """Simulate a projection radiograph of a 3-D label volume from a point source.

    The dose (``detector.photons_per_element``) is the unattenuated photon
    number at the central pixel; other pixels get it times
    :meth:`ConeBeamRadiograph.relative_fluence`.  Parameters are as for
    :func:`simulate_ct`.
    """
    if grid.ndim != 3:
        raise SimulationError(f"a radiograph needs a 3-D label volume; got {grid.ndim}-D")
    rays = geometry.rays()
    if np.linalg.norm(rays.starts_mm[0, 0]) <= grid.radius_mm():
        raise SimulationError("the source lies inside the object grid: increase source_to_isocentre_mm")
    lengths = _lengths(labels, materials, grid, *rays.flat(), workers)
    mu = attenuation_matrix(materials, spectrum.energies_kev)
    rel = geometry.relative_fluence().reshape(-1)
    signal = detector.signal(lengths, mu, spectrum, rng=rng, relative_fluence=rel)
    flat = detector.flat_signal(spectrum) * rel
    projection = detector.projections(signal, spectrum, relative_fluence=rel)
    return RadiographResult(signal=signal.reshape(rays.shape), transmission=(signal / flat).reshape(rays.shape),
                            projection=projection.reshape(rays.shape))
