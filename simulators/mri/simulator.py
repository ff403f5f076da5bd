"""The MRI simulator plugin: Bloch tissue signal, Cartesian k-space, FFT reconstruction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.mri import bloch, kspace, sequences, signal
from vipkb.errors import ParameterError
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

SEQUENCES = ("spin_echo", "gradient_echo", "inversion_recovery")


@dataclass(frozen=True, kw_only=True)
class MRIParameters(SimulationParameters):
    """Sequence, field, geometry and noise of one MR acquisition."""

    sequence: str = parameter("spin_echo", doc="Pulse sequence.", choices=SEQUENCES)
    signal_model: str = parameter(
        "analytic", doc="Tissue signal from the closed-form steady state, or by integrating the Bloch equations "
        "over the sequence's event list (same answer, slower).", choices=("analytic", "bloch"))
    field_strength: float = parameter(1.5, doc="Main field B0; the model must give T1/T2 at this field.",
                                      unit=UNIT.T, minimum=0.1, maximum=11.7)
    tr: float = parameter(500.0, doc="Repetition time.", unit=UNIT.MilliSEC, minimum=1.0, maximum=20000.0)
    te: float = parameter(15.0, doc="Echo time.", unit=UNIT.MilliSEC, minimum=0.5, maximum=500.0)
    ti: float = parameter(400.0, doc="Inversion time (inversion recovery only).", unit=UNIT.MilliSEC,
                          minimum=1.0, maximum=10000.0)
    flip_angle: float = parameter(30.0, doc="Excitation flip angle (gradient echo only; spin echo uses 90/180).",
                                  unit=UNIT.DEG, minimum=1.0, maximum=90.0)
    fov_readout: float = parameter(256.0, doc="Field of view along the readout (first model axis).",
                                   unit=UNIT.MilliM, minimum=10.0, maximum=600.0)
    fov_phase: float = parameter(256.0, doc="Field of view along the phase encoding (second model axis).",
                                 unit=UNIT.MilliM, minimum=10.0, maximum=600.0)
    matrix_readout: int = parameter(256, doc="Samples along the readout.", minimum=8, maximum=1024)
    matrix_phase: int = parameter(256, doc="Phase-encoding lines.", minimum=8, maximum=1024)
    slice_thickness: float = parameter(5.0, doc="Slice thickness (rectangular profile).", unit=UNIT.MilliM,
                                       minimum=0.5, maximum=50.0)
    n_slices: int = parameter(1, doc="Number of axial slices (third model axis).", minimum=1, maximum=512)
    slice_gap: float = parameter(0.0, doc="Gap between adjacent slices.", unit=UNIT.MilliM, minimum=0.0,
                                 maximum=100.0)
    slice_offset: float = parameter(0.0, doc="Centre of the slice stack relative to the model's centre.",
                                    unit=UNIT.MilliM, minimum=-500.0, maximum=500.0)
    bandwidth: float = parameter(130.0, doc="Readout bandwidth per pixel; sets the chemical-shift displacement.",
                                 unit=UNIT["HZ"], minimum=10.0, maximum=2000.0)
    chemical_shift: bool = parameter(True, doc="Apply the tissues' chemical shift (ChemicalShift values, ppm) as "
                                     "off-resonance during the readout.")
    noise: float = parameter(0.01, doc="Standard deviation of the complex Gaussian noise per channel, as a "
                             "fraction of the magnetisation of a fully relaxed PD = 1 voxel.",
                             unit=UNIT.UNITLESS, minimum=0.0, maximum=1.0)

    def check(self) -> None:
        if self.te >= self.tr:
            raise ParameterError(f"te = {self.te} ms must be shorter than tr = {self.tr} ms")
        if self.sequence == "inversion_recovery" and self.ti + self.te >= self.tr:
            raise ParameterError(f"ti + te = {self.ti + self.te} ms must be shorter than tr = {self.tr} ms")


class MRISimulator(Simulator):
    """Magnetic resonance imaging from T1, T2 (T2*) and proton density."""

    name = "mri"
    label = "VIPKB MRI simulator"
    description = ("Tissue magnetisation from the Bloch equations (closed-form steady state for spin echo, spoiled "
                   "gradient echo and inversion recovery, or an isochromat solver over the sequence's events), "
                   "Cartesian k-space sampling with slice profile, aliasing, truncation, chemical shift and complex "
                   "Gaussian noise, FFT reconstruction to a magnitude image.")
    version = "1.0.0"
    modality = VIP.MR
    requires = (VIP.T1, VIP.T2, VIP.ProtonDensity)
    dimensionality = (3,)
    outputs = (VIP.Image, VIP.KSpace, VIP.Preview)
    Parameters = MRIParameters

    def run(self, instant: ModelInstant, parameters: MRIParameters, *, seed: int,
            progress=None) -> SimulationResult:
        p = parameters
        say = progress or (lambda _f, _m: None)
        notes: list[str] = []
        b0 = p.field_strength
        pd = instant.property_table(ParameterKey("ProtonDensity"))
        t1 = instant.property_table(ParameterKey("T1", field_strength=b0), background=1.0)
        t2 = instant.property_table(ParameterKey("T2", field_strength=b0), background=1.0)
        t2star = t2
        if p.sequence == "gradient_echo":
            if instant.keys("T2Star"):
                t2star = instant.property_table(ParameterKey("T2Star", field_strength=b0), background=1.0)
            else:
                notes.append("the model gives no T2*; T2 stands in for it, so gradient echoes are too bright")
        shift_ppm = np.zeros_like(pd)
        if p.chemical_shift and instant.keys("ChemicalShift"):
            shift_ppm = instant.property_table(ParameterKey("ChemicalShift"))
        off_resonance = shift_ppm * 1e-6 * sequences.GAMMA_BAR_HZ_PER_T * b0
        say(0.05, "tissue signal")
        per_tissue = self._tissue_signal(p, pd, t1, t2, t2star, off_resonance)
        magnetisation = per_tissue[instant.tissue_index]
        off_map = off_resonance[instant.tissue_index] if np.any(off_resonance) else None
        say(0.3, "k-space")
        step = p.slice_thickness + p.slice_gap
        positions = p.slice_offset + (np.arange(p.n_slices) - (p.n_slices - 1) / 2) * step
        rng = np.random.default_rng(seed)
        k = kspace.acquire(magnetisation, voxel_size_mm=instant.voxel_size, fov_mm=(p.fov_readout, p.fov_phase),
                           matrix=(p.matrix_readout, p.matrix_phase), slice_thickness_mm=p.slice_thickness,
                           slice_positions_mm=positions, off_resonance_hz=off_map,
                           bandwidth_hz_per_pixel=p.bandwidth, noise_std=p.noise, rng=rng)
        say(0.8, "reconstruction")
        image = np.abs(kspace.reconstruct(k)).astype(np.float32)
        affine = kspace.image_affine(instant.affine, instant.shape, fov_mm=(p.fov_readout, p.fov_phase),
                                     matrix=(p.matrix_readout, p.matrix_phase), slice_positions_mm=positions,
                                     slice_thickness_mm=p.slice_thickness)
        nifti = nifti_image(image, affine)
        say(1.0, "done")
        return SimulationResult(
            image=nifti,
            raw={"kspace": RawData(kind=VIP.KSpace, array=k.astype(np.complex64), axes=("kx", "ky", "slice"),
                                   description="Cartesian k-space, DC at the centre (index n // 2)")},
            preview=slice_png(image),
            metadata=self.run_metadata(instant, p, seed,
                                       image_units="fraction of the equilibrium magnetisation of PD = 1", notes=notes))

    @staticmethod
    def _tissue_signal(p: MRIParameters, pd: np.ndarray, t1: np.ndarray, t2: np.ndarray, t2star: np.ndarray,
                       off_resonance: np.ndarray) -> np.ndarray:
        """Complex echo magnetisation per tissue index (entry 0 is the background)."""
        if p.signal_model == "analytic":
            if p.sequence == "spin_echo":
                s = signal.spin_echo(pd, t1, t2, tr=p.tr, te=p.te)
            elif p.sequence == "gradient_echo":
                s = signal.gradient_echo(pd, t1, t2star, tr=p.tr, te=p.te, flip_deg=p.flip_angle)
            else:
                s = signal.inversion_recovery(pd, t1, t2, tr=p.tr, te=p.te, ti=p.ti)
            return np.asarray(s, dtype=np.complex128)
        if p.sequence == "spin_echo":
            events = sequences.spin_echo_events(p.tr, p.te)
        elif p.sequence == "gradient_echo":
            # Enough repetitions for the longest T1 present to reach its steady state.
            events = sequences.gradient_echo_events(p.tr, p.te, p.flip_angle, t1_max_ms=float(t1.max()))
        else:
            events = sequences.inversion_recovery_events(p.tr, p.te, p.ti)
        relax2 = t2star if p.sequence == "gradient_echo" else t2
        echoes = bloch.simulate(events, t1=t1, t2=relax2, pd=pd)
        return np.abs(echoes[-1]).astype(np.complex128)
