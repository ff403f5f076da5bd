"""The ultrasound simulator plugin: a transverse B-mode scan of one axial model slice.

The linear array lies on the model's anterior face (the top of the grid
along its second axis), centred laterally, and looks posteriorly into the
axial slice it images: lateral is the model's first axis, depth runs
against its second.  Background voxels carry no scatterers (they act as
coupling gel, not air).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.grid import PlaneGrid
from simulators.ultrasound.pipeline import simulate_bmode
from simulators.ultrasound.probe import LinearArray
from vipkb.errors import SimulationError
from vipkb.namespaces import UNIT, VIP
from vipkb.previews import slice_png
from vipkb.simulation import (
    ModelInstant,
    ParameterKey,
    RawData,
    SimulationParameters,
    SimulationResult,
    Simulator,
    nifti_image,
    parameter,
)


@dataclass(frozen=True, kw_only=True)
class UltrasoundParameters(SimulationParameters):
    """Probe (defaults: the Verasonics L11-5v as MUST describes it), medium, transmit and image."""

    centre_frequency: float = parameter(7.6, doc="Probe centre frequency.", unit=UNIT.MegaHZ, minimum=0.5,
                                        maximum=30.0)
    bandwidth: float = parameter(0.77, doc="Pulse-echo -6 dB fractional bandwidth.", unit=UNIT.UNITLESS,
                                 minimum=0.1, maximum=1.5)
    n_elements: int = parameter(128, doc="Elements of the linear array.", minimum=8, maximum=512)
    pitch: float = parameter(0.30, doc="Element pitch.", unit=UNIT.MilliM, minimum=0.05, maximum=2.0)
    element_width: float = parameter(0.27, doc="Element width (pitch minus kerf).", unit=UNIT.MilliM, minimum=0.01,
                                     maximum=2.0)
    element_height: float = parameter(5.0, doc="Element height in elevation.", unit=UNIT.MilliM, minimum=0.5,
                                      maximum=30.0)
    elevation_focus: float = parameter(18.0, doc="Focal depth of the elevation lens.", unit=UNIT.MilliM,
                                       minimum=1.0, maximum=300.0)
    speed_of_sound: float = parameter(1540.0, doc="Speed of sound of the medium (and of the beamformer).",
                                      unit=UNIT["M-PER-SEC"], minimum=1300.0, maximum=1800.0)
    attenuation: float = parameter(0.5, doc="Attenuation slope of the medium (soft tissue: about 0.5).",
                                   unit=UNIT.UNITLESS, minimum=0.0, maximum=5.0)
    n_angles: int = parameter(3, doc="Plane waves compounded (steered evenly within +-max_angle).", minimum=1,
                              maximum=64)
    max_angle: float = parameter(10.0, doc="Largest steering angle of the compounded plane waves.",
                                 unit=UNIT.DEG, minimum=0.0, maximum=30.0)
    f_number: float = parameter(1.5, doc="Receive f-number of the delay-and-sum beamformer.", unit=UNIT.UNITLESS,
                                minimum=0.5, maximum=5.0)
    depth: float = parameter(40.0, doc="Imaging depth below the array.", unit=UNIT.MilliM, minimum=5.0,
                             maximum=300.0)
    dynamic_range: float = parameter(60.0, doc="Dynamic range of the log-compressed B-mode image.",
                                     unit=UNIT.DeciB, minimum=10.0, maximum=120.0)
    amplitudes: str = parameter("gaussian", doc="Scatterer amplitude: the tissue's reflectivity times a standard "
                                "normal draw, or times a random sign.", choices=("gaussian", "sign"))
    slice_thickness: float = parameter(1.0, doc="Thickness of the slab whose scatterers are imaged.",
                                       unit=UNIT.MilliM, minimum=0.1, maximum=20.0)
    plane_offset: float = parameter(0.0, doc="Imaged axial plane relative to the model's centre.",
                                    unit=UNIT.MilliM, minimum=-500.0, maximum=500.0)
    lateral_offset: float = parameter(0.0, doc="Probe position along the model's first axis, from its centre.",
                                      unit=UNIT.MilliM, minimum=-500.0, maximum=500.0)

    def probe(self) -> LinearArray:
        """The linear array these parameters describe."""
        return LinearArray(centre_frequency_hz=self.centre_frequency * 1e6, fractional_bandwidth=self.bandwidth,
                           n_elements=self.n_elements, pitch_mm=self.pitch, element_width_mm=self.element_width,
                           element_height_mm=self.element_height, elevation_focus_mm=self.elevation_focus,
                           speed_of_sound_m_s=self.speed_of_sound)

    def angles(self) -> tuple[float, ...]:
        """Steering angles of the compounded plane waves."""
        return tuple(float(a) for a in np.linspace(-self.max_angle, self.max_angle, self.n_angles)) \
            if self.n_angles > 1 else (0.0,)


class UltrasoundSimulator(Simulator):
    """B-mode ultrasound from tissue scatterer density and reflectivity."""

    name = "ultrasound"
    label = "VIPKB ultrasound simulator"
    description = ("Ultrasound B-mode: scatterers drawn as a Poisson process from each tissue's scatterer density "
                   "and reflectivity, a linear-array probe, pulse-echo RF per element from a far-field model with "
                   "element directivity, elevation focusing and attenuation, compounded plane-wave transmits, "
                   "delay-and-sum beamforming, envelope detection and log compression.")
    version = "1.0.0"
    modality = VIP.Ultrasound
    requires = (VIP.ScattererDensity, VIP.ScattererReflectivity)
    dimensionality = (3,)
    outputs = (VIP.Image, VIP.RFLines, VIP.Preview)
    Parameters = UltrasoundParameters

    def run(self, instant: ModelInstant, parameters: UltrasoundParameters, *, seed: int,
            progress=None) -> SimulationResult:
        p = parameters
        say = progress or (lambda _f, _m: None)
        dx, dy, dz = instant.voxel_size
        nx, ny, nz = instant.shape
        k = int(round((nz - 1) / 2 + p.plane_offset / dz))
        if not 0 <= k < nz:
            raise SimulationError(f"plane_offset = {p.plane_offset} mm lies outside {instant.source} "
                                  f"(+-{nz * dz / 2:g} mm)")
        density = instant.property_table(ParameterKey("ScattererDensity"))
        reflectivity = instant.property_table(ParameterKey("ScattererReflectivity"))
        # Probe frame: x lateral (model axis 0, from the probe), z depth (against model axis 1, from the top face).
        probe = p.probe()
        half = probe.aperture_mm / 2
        image_grid = PlaneGrid.spanning(x_mm=(-half, half), z_mm=(probe.wavelength_mm, p.depth),
                                        dx_mm=probe.pitch_mm / 2, dz_mm=probe.wavelength_mm / 4)
        # Probe frame: x lateral (model axis 0, from the probe), z depth (against model axis 1, from the top face).
        # Only scatterers that can echo into the record and the aperture matter: crop the slice to them.
        tissue = instant.tissue_index[:, ::-1, k].T
        x = (np.arange(nx) - (nx - 1) / 2) * dx - p.lateral_offset
        reach = half + 5.0 + p.depth * np.tan(np.radians(p.max_angle))
        columns = np.flatnonzero(np.abs(x) <= reach)
        rows = min(ny, int(np.ceil((p.depth + 5.0) / dy)))
        if columns.size == 0:
            raise SimulationError(f"lateral_offset = {p.lateral_offset} mm puts the probe beside {instant.source}")
        tissue_grid = PlaneGrid(nx=columns.size, nz=rows, dx_mm=dx, dz_mm=dy, x0_mm=float(x[columns[0]]),
                                z0_mm=dy / 2)
        tissue = np.ascontiguousarray(tissue[:rows, columns[0]:columns[-1] + 1])
        say(0.05, "scatterers and RF")
        result = simulate_bmode(tissue, density, reflectivity, tissue_grid=tissue_grid, probe=probe,
                                rng=np.random.default_rng(seed), image_grid=image_grid,
                                slice_thickness_mm=p.slice_thickness, angles_deg=p.angles(), f_number=p.f_number,
                                attenuation_db_cm_mhz=p.attenuation, dynamic_range_db=p.dynamic_range,
                                amplitudes=p.amplitudes)
        bmode = result.bmode_db.T[:, :, None].astype(np.float32)  # (lateral, depth, 1)
        local = np.eye(4)
        local[:3, 0] = (image_grid.dx_mm, 0.0, 0.0)
        local[:3, 1] = (0.0, -image_grid.dz_mm, 0.0)
        local[:3, 2] = (0.0, 0.0, p.slice_thickness)
        local[:3, 3] = (image_grid.x0_mm + p.lateral_offset, ny * dy / 2 - image_grid.z0_mm, (k - (nz - 1) / 2) * dz)
        nifti = nifti_image(bmode, instant.centred_frame() @ local)
        say(1.0, "done")
        return SimulationResult(
            image=nifti,
            raw={"rf": RawData(kind=VIP.RFLines, array=result.rf.astype(np.float32),
                               axes=("transmit", "sample", "element"),
                               description=f"pulse-echo RF per element, sampled at {result.fs_hz:g} Hz; "
                                           f"transmits steered at {', '.join(f'{a:g}' for a in p.angles())} deg")},
            preview=slice_png(bmode[:, ::-1, 0], window=(-p.dynamic_range, 0.0),
                              spacing=(image_grid.dx_mm, image_grid.dz_mm)),
            metadata=self.run_metadata(
                instant, p, seed, image_units="dB relative to the brightest pixel", scatterers=len(result.scatterers),
                axial_slice=k, notes=["speed of sound is uniform (the model's SpeedOfSound values are not used)"]
                if instant.keys("SpeedOfSound") else []))
