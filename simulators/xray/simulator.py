"""The CT and radiography simulator plugins: a model instant through :mod:`simulators.xray.pipeline`.

Both take every tissue's elemental composition and mass density from the
model (the background is air), trace exact rays through the voxel grid,
apply the tube spectrum and the energy-integrating detector with Poisson
quantum noise, and return NIfTI images placed in the model's world frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulators.xray.detector import Detector
from simulators.xray.fbp import WINDOWS
from simulators.xray.geometry import ConeBeamRadiograph, FanBeam, ParallelBeam
from simulators.xray.grid import VoxelGrid
from simulators.xray.pipeline import Material, simulate_ct, simulate_radiograph
from simulators.xray.spectrum import Tube
from vipkb.errors import ParameterError, SimulationError
from vipkb.namespaces import UNIT, VIP
from vipkb.previews import slice_png
from vipkb.simulation import (
    ModelInstant,
    RawData,
    SimulationParameters,
    SimulationResult,
    Simulator,
    nifti_image,
    parameter,
)

#: Dry air near sea level: mass fractions and density (NIST, X-ray mass attenuation coefficients, Table 2,
#: https://physics.nist.gov/PhysRefData/XrayMassCoef/tab2.html).  The background of every model.
AIR = Material(name="air", composition=((6, 0.000124), (7, 0.755268), (8, 0.231781), (18, 0.012827)),
               density_kg_m3=1.20479)

#: Soft-tissue display window (level 40 HU, width 400 HU) for CT previews.
SOFT_TISSUE_WINDOW = (-160.0, 240.0)

#: Radiograph projections -> gantry angle of :class:`ConeBeamRadiograph` (0: beam along +y, anterior).
PROJECTIONS = {"pa": 0.0, "left-lateral": 90.0, "ap": 180.0, "right-lateral": 270.0}


def _materials(instant: ModelInstant) -> list[Material]:
    """Material per tissue index: air for the background, then each tissue of the instant."""
    return [AIR] + [Material(name=t.name, composition=comp, density_kg_m3=rho)
                    for t, (comp, rho) in zip(instant.tissues, instant.materials(), strict=True)]


def _detector_beyond_isocentre(p: CTParameters | RadiographyParameters) -> None:
    if p.source_to_detector <= p.source_to_isocentre:
        raise ParameterError(f"source_to_detector = {p.source_to_detector} mm must exceed "
                             f"source_to_isocentre = {p.source_to_isocentre} mm")


@dataclass(frozen=True, kw_only=True)
class TubeParameters(SimulationParameters):
    """Source and dose, shared by CT and radiography."""

    kvp: float = parameter(120.0, doc="Tube voltage (the highest photon energy, keV).", unit=UNIT.KiloV,
                           minimum=20.0, maximum=150.0)
    aluminium: float = parameter(2.5, doc="Total aluminium filtration (inherent plus added).", unit=UNIT.MilliM,
                                 minimum=0.0, maximum=20.0)
    copper: float = parameter(0.0, doc="Added copper filtration.", unit=UNIT.MilliM, minimum=0.0, maximum=3.0)
    photons: float = parameter(1e5, doc="Dose: unattenuated photons per detector element (per view for CT), "
                               "summed over the spectrum.", unit=UNIT.UNITLESS, minimum=1.0, maximum=1e12)
    quantum_noise: bool = parameter(True, doc="Draw Poisson photon numbers (quantum noise).")

    def tube(self) -> Tube:
        """The tube these parameters describe."""
        return Tube(kvp=self.kvp, aluminium_mm=self.aluminium, copper_mm=self.copper)


@dataclass(frozen=True, kw_only=True)
class CTParameters(TubeParameters):
    """Geometry, source, dose and reconstruction of an axial CT scan."""

    geometry: str = parameter("fan", doc="Fan beam (full 360 degree rotation, equiangular arc detector) or "
                              "parallel beam (180 degrees).", choices=("fan", "parallel"))
    n_views: int = parameter(720, doc="Projections per rotation.", minimum=16, maximum=10000)
    n_detectors: int = parameter(0, doc="Detector elements; 0 covers the model's field.", minimum=0,
                                 maximum=8192)
    detector_pitch: float = parameter(1.0, doc="Detector element pitch, measured at the isocentre.",
                                      unit=UNIT.MilliM, minimum=0.05, maximum=10.0)
    source_to_isocentre: float = parameter(570.0, doc="Source to rotation axis (fan beam).", unit=UNIT.MilliM,
                                           minimum=100.0, maximum=2000.0)
    source_to_detector: float = parameter(1040.0, doc="Source to detector (fan beam).", unit=UNIT.MilliM,
                                          minimum=150.0, maximum=4000.0)
    beam_hardening_correction: bool = parameter(True, doc="Linearise projections for water before reconstruction "
                                                "(removes cupping in soft tissue).")
    filter: str = parameter("ram-lak", doc="Apodisation of the ramp filter.", choices=tuple(WINDOWS))
    n_slices: int = parameter(1, doc="Contiguous axial model slices to scan, centred on the model.", minimum=1,
                              maximum=2048)

    def check(self) -> None:
        _detector_beyond_isocentre(self)


@dataclass(frozen=True, kw_only=True)
class RadiographyParameters(TubeParameters):
    """Projection, geometry, source and dose of a radiograph."""

    kvp: float = parameter(80.0, doc="Tube voltage (the highest photon energy, keV).", unit=UNIT.KiloV,
                           minimum=20.0, maximum=150.0)
    photons: float = parameter(1e4, doc="Dose: unattenuated photons at the central detector pixel, summed over "
                               "the spectrum.", unit=UNIT.UNITLESS, minimum=1.0, maximum=1e12)
    projection: str = parameter("pa", doc="Beam direction through the model (PA: from posterior to anterior).",
                                choices=tuple(PROJECTIONS))
    source_to_isocentre: float = parameter(850.0, doc="Source to the model's centre.", unit=UNIT.MilliM,
                                           minimum=100.0, maximum=5000.0)
    source_to_detector: float = parameter(1000.0, doc="Source to detector panel.", unit=UNIT.MilliM,
                                          minimum=150.0, maximum=6000.0)
    pixel_pitch: float = parameter(1.0, doc="Detector pixel pitch.", unit=UNIT.MilliM, minimum=0.05,
                                   maximum=10.0)
    n_rows: int = parameter(0, doc="Detector rows; 0 covers the magnified model.", minimum=0, maximum=8192)
    n_columns: int = parameter(0, doc="Detector columns; 0 covers the magnified model.", minimum=0, maximum=8192)

    def check(self) -> None:
        _detector_beyond_isocentre(self)


class CTSimulator(Simulator):
    """Axial CT: polychromatic fan- or parallel-beam projections, FBP in Hounsfield units."""

    name = "ct"
    label = "VIPKB CT simulator"
    description = ("Polychromatic X-ray CT: Kramers tube spectrum with aluminium/copper filtration, attenuation of "
                   "every tissue from its elemental composition and density (xraydb), exact ray tracing through "
                   "the voxels, Poisson quantum noise, energy-integrating detector, water beam-hardening "
                   "correction and filtered back-projection (fan or parallel beam) in Hounsfield units.")
    version = "1.0.0"
    modality = VIP.CT
    requires = (VIP.ElementalComposition, VIP.MassDensity)
    outputs = (VIP.Image, VIP.Sinogram, VIP.Preview)
    Parameters = CTParameters

    def run(self, instant: ModelInstant, parameters: CTParameters, *, seed: int,
            progress=None) -> SimulationResult:
        p = parameters
        say = progress or (lambda _f, _m: None)
        materials = _materials(instant)
        slices = instant.central_slices(p.n_slices)
        size = instant.voxel_size[:2]
        grid = VoxelGrid.centred(instant.shape[:2], size)
        n_det = p.n_detectors or 2 * math.ceil((grid.radius_mm() + 2 * p.detector_pitch) / p.detector_pitch) + 1
        if p.geometry == "fan":
            scale = p.source_to_detector / p.source_to_isocentre
            geometry = FanBeam(n_views=p.n_views, n_detectors=n_det, source_to_isocentre_mm=p.source_to_isocentre,
                               source_to_detector_mm=p.source_to_detector, detector_pitch_mm=p.detector_pitch * scale)
            if geometry.field_of_view_radius_mm() < grid.radius_mm():
                raise SimulationError(
                    f"the fan covers a radius of {geometry.field_of_view_radius_mm():.0f} mm but the model slice "
                    f"reaches {grid.radius_mm():.0f} mm: raise n_detectors or detector_pitch (or leave n_detectors "
                    "at 0)")
        else:
            geometry = ParallelBeam(n_views=p.n_views, n_detectors=n_det, detector_spacing_mm=p.detector_pitch)
        detector = Detector(photons_per_element=p.photons, quantum_noise=p.quantum_noise)
        spectrum = p.tube().spectrum()
        # One child generator per slice: the bytes do not depend on how slices are scheduled.
        rngs = np.random.SeedSequence(seed).spawn(len(slices))
        hu, sinograms, correction = [], [], None
        for n, (z, child) in enumerate(zip(slices, rngs, strict=True)):
            say(n / len(slices), f"slice {z}")
            labels = instant.axial_slice(z).tissue_index
            result = simulate_ct(labels, materials, grid=grid, geometry=geometry, spectrum=spectrum,
                                 detector=detector, rng=np.random.default_rng(child),
                                 beam_hardening_correction=p.beam_hardening_correction, window=p.filter)
            hu.append(result.hu.astype(np.float32))
            sinograms.append(result.sinogram.astype(np.float32))
            correction = result.correction
        image = np.stack(hu, axis=-1)
        nifti = nifti_image(image, instant.slab_affine(slices.start))
        say(1.0, "done")
        return SimulationResult(
            image=nifti,
            raw={"sinogram": RawData(kind=VIP.Sinogram, array=np.stack(sinograms, axis=-1),
                                     axes=("detector", "view", "slice"),
                                     description="-ln(I/I0) per detector element and view"
                                     + (", water-linearised" if p.beam_hardening_correction else ""))},
            preview=slice_png(image, window=SOFT_TISSUE_WINDOW),
            metadata=self.run_metadata(
                instant, p, seed, image_units="HU",
                hu_reference={"energy_kev": float(correction.reference_kev),
                              "mu_water_per_mm": float(correction.mu_water_per_mm)},
                spectrum_mean_kev=float(spectrum.mean_energy_kev), n_detectors=n_det,
                view_angles_deg=[float(a) for a in geometry.angles_deg()[:2]] + ["..."],
                slices=[slices.start, slices.stop - 1]))


class RadiographySimulator(Simulator):
    """Projection radiography from a point source onto a flat panel."""

    name = "radiography"
    label = "VIPKB radiography simulator"
    description = ("Polychromatic projection radiograph: Kramers tube spectrum with filtration, attenuation of "
                   "every tissue from its elemental composition and density (xraydb), exact ray tracing from a "
                   "point source through the voxels to every pixel of a flat panel, inverse-square and obliquity "
                   "fall-off, Poisson quantum noise and an energy-integrating detector.")
    version = "1.0.0"
    modality = VIP.XRay
    requires = (VIP.ElementalComposition, VIP.MassDensity)
    dimensionality = (3,)
    outputs = (VIP.Image, VIP.Projection, VIP.Preview)
    Parameters = RadiographyParameters

    def run(self, instant: ModelInstant, parameters: RadiographyParameters, *, seed: int,
            progress=None) -> SimulationResult:
        p = parameters
        say = progress or (lambda _f, _m: None)
        materials = _materials(instant)
        grid = VoxelGrid.centred(instant.shape, instant.voxel_size)
        if p.source_to_isocentre <= grid.radius_mm():
            raise SimulationError(f"the source ({p.source_to_isocentre:g} mm from the model's centre) would sit "
                                  f"inside the model (radius {grid.radius_mm():.0f} mm): raise source_to_isocentre")
        # Auto panel: the model's bounding sphere, magnified onto the detector, plus a margin of two pixels.
        magnified = 2 * grid.radius_mm() * p.source_to_detector / (p.source_to_isocentre - grid.radius_mm())
        auto = 2 * math.ceil(magnified / p.pixel_pitch / 2) + 4
        geometry = ConeBeamRadiograph(n_rows=p.n_rows or auto, n_columns=p.n_columns or auto,
                                      pixel_pitch_mm=p.pixel_pitch, source_to_isocentre_mm=p.source_to_isocentre,
                                      source_to_detector_mm=p.source_to_detector,
                                      angle_deg=PROJECTIONS[p.projection])
        say(0.05, "ray tracing")
        result = simulate_radiograph(instant.tissue_index, materials, grid=grid, geometry=geometry,
                                     spectrum=p.tube().spectrum(),
                                     detector=Detector(photons_per_element=p.photons, quantum_noise=p.quantum_noise),
                                     rng=np.random.default_rng(seed))
        # Image axes: (column, row, 1), placed on the panel in the model's world frame.
        image = result.projection.T[:, :, None].astype(np.float32)
        nifti = nifti_image(image, self._panel_affine(geometry, instant))
        say(1.0, "done")
        return SimulationResult(
            image=nifti,
            raw={"detector_signal": RawData(kind=VIP.Projection, array=result.signal.T.astype(np.float32),
                                            axes=("column", "row"),
                                            description="energy recorded per pixel, keV (before log-normalisation)")},
            preview=slice_png(image),
            metadata=self.run_metadata(instant, p, seed, image_units="-ln(I/I0), line integral of attenuation",
                                       detector=[geometry.n_columns, geometry.n_rows],
                                       magnification=p.source_to_detector / p.source_to_isocentre))

    @staticmethod
    def _panel_affine(geometry: ConeBeamRadiograph, instant: ModelInstant) -> np.ndarray:
        """Voxel (column, row, 0) -> world mm of the pixel centre, through the model's affine."""
        a = math.radians(geometry.angle_deg)
        # Columns run along (cos a, sin a, 0), rows along +z (the ConeBeamRadiograph convention).
        col_step = np.array([math.cos(a), math.sin(a), 0.0]) * geometry.pixel_pitch_mm
        row_step = np.array([0.0, 0.0, geometry.pixel_pitch_mm])
        local = np.eye(4)
        local[:3, 0], local[:3, 1] = col_step, row_step
        local[:3, 2] = np.cross(col_step, row_step) / geometry.pixel_pitch_mm
        local[:3, 3] = geometry.pixel_centres_mm()[0, 0]
        # The simulation's frame has its origin at the model's centre with axes along the voxel axes (in mm).
        return instant.centred_frame() @ local
