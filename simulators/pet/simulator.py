"""The PET simulator plugin: Monte-Carlo emission in seeded batches, OSEM with attenuation correction.

Each axial slice of the model is one direct plane of the ring (no oblique
coincidences).  Batch ``i`` of a run covers slice ``i // batches_per_slice``
and draws its random numbers from ``SeedSequence(seed, spawn_key=(i,))``
only, so a run split over any number of workers merges, by integer
addition, to the same sinograms as the unsplit run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.pet.emission import batch_sizes, simulate_batch
from simulators.pet.projector import SystemModel
from simulators.pet.recon import osem
from simulators.pet.scanner import E_511, PRESETS
from simulators.xray.grid import VoxelGrid
from vipkb.attenuation import linear_attenuation
from vipkb.errors import SimulationError
from vipkb.models.lut import RADIOTRACERS
from vipkb.namespaces import UNIT, VIP
from vipkb.previews import slice_png
from vipkb.simulation import (
    BatchedSimulator,
    ModelInstant,
    ParameterKey,
    PartialResult,
    RawData,
    SimulationParameters,
    SimulationResult,
    nifti_image,
    parameter,
)


@dataclass(frozen=True, kw_only=True)
class PETParameters(SimulationParameters):
    """Tracer, scanner, statistics, physics options and reconstruction of a PET acquisition."""

    radiotracer: str = parameter("FDG", doc="Radiotracer whose activity concentration the model gives.",
                                 choices=RADIOTRACERS)
    scanner: str = parameter("discovery-690", doc="Scanner ring geometry (published preset).",
                             choices=tuple(PRESETS))
    events: int = parameter(2_000_000, doc="Decays simulated per slice.", minimum=1000, maximum=10_000_000_000)
    events_per_batch: int = parameter(500_000, doc="Decays per Monte-Carlo batch (the unit of work a worker "
                                      "takes; it does not change the result's statistics).", minimum=1000,
                                      maximum=100_000_000)
    scatter: bool = parameter(False, doc="Transport photons with single Compton scatter and the energy window.")
    randoms_fraction: float = parameter(0.0, doc="Mean random coincidences per true coincidence, spread "
                                        "uniformly over crystal pairs.", unit=UNIT.UNITLESS, minimum=0.0,
                                        maximum=10.0)
    list_mode: bool = parameter(False, doc="Also return the crystal pair of every detected coincidence.")
    positron_range: float = parameter(0.0, doc="Positron range blur (Gaussian FWHM per axis); 0 = off.",
                                      unit=UNIT.MilliM, minimum=0.0, maximum=20.0)
    noncollinearity: float = parameter(0.0, doc="Photon pair non-collinearity (Gaussian FWHM; about 0.5 deg in "
                                       "water); 0 = off.", unit=UNIT.DEG, minimum=0.0, maximum=10.0)
    iterations: int = parameter(4, doc="OSEM iterations.", minimum=1, maximum=500)
    subsets: int = parameter(8, doc="OSEM subsets of interleaved views (1: MLEM).", minimum=1, maximum=256)
    attenuation_correction: bool = parameter(True, doc="Model attenuation at 511 keV in the reconstruction.")
    n_slices: int = parameter(1, doc="Contiguous axial model slices to scan, centred on the model.", minimum=1,
                              maximum=2048)


class PETSimulator(BatchedSimulator):
    """2-D PET by Monte Carlo: decays, back-to-back 511 keV photons, attenuation, ring detection, OSEM."""

    name = "pet"
    label = "VIPKB PET simulator"
    description = ("Monte-Carlo PET: decay positions drawn in proportion to the model's activity, back-to-back "
                   "511 keV photons in random in-plane directions, survival through the 511 keV attenuation map "
                   "(xraydb, from each tissue's composition and density), detection on a ring scanner into "
                   "sinograms (optionally list mode), optional single Compton scatter and randoms, in seeded "
                   "batches that merge exactly; OSEM reconstruction with attenuation correction, calibrated to "
                   "activity concentration.")
    version = "1.0.0"
    modality = VIP.PET
    requires = (VIP.RadioactiveConcentration, VIP.ElementalComposition, VIP.MassDensity)
    outputs = (VIP.Image, VIP.Sinogram, VIP.ListMode, VIP.Preview)
    Parameters = PETParameters

    # -- the maps a batch needs ----------------------------------------------

    @staticmethod
    def _grid(instant: ModelInstant) -> VoxelGrid:
        return VoxelGrid.centred(instant.shape[:2], instant.voxel_size[:2])

    @staticmethod
    def _activity(plane: ModelInstant, p: PETParameters) -> np.ndarray:
        return plane.parameter_volume(ParameterKey("RadioactiveConcentration", radiotracer=p.radiotracer),
                                      dtype=np.float64)

    @staticmethod
    def _mu(plane: ModelInstant) -> np.ndarray:
        # The background counts as vacuum: air attenuates 511 keV photons by ~1e-5 /mm, negligible in a ring.
        table = np.array([0.0] + [float(linear_attenuation(comp, rho, E_511))
                                  for comp, rho in plane.materials()])
        return table[plane.tissue_index]

    def _per_slice(self, p: PETParameters) -> list[int]:
        return batch_sizes(p.events, p.events_per_batch)

    # -- the batched contract ------------------------------------------------

    def n_batches(self, instant: ModelInstant, parameters: PETParameters) -> int:
        return len(instant.central_slices(parameters.n_slices)) * len(self._per_slice(parameters))

    def run_batch(self, instant: ModelInstant, parameters: PETParameters, *, seed: int,
                  index: int) -> PartialResult:
        p = parameters
        slices = instant.central_slices(p.n_slices)
        sizes = self._per_slice(p)
        if not 0 <= index < len(slices) * len(sizes):
            raise SimulationError(f"batch {index} does not exist: this run has {len(slices) * len(sizes)}")
        k, sub = divmod(index, len(sizes))
        z = slices[k]
        scanner = PRESETS[p.scanner]
        plane = instant.axial_slice(z)
        activity = self._activity(plane, p)
        if not activity.any():
            raise SimulationError(f"{instant.source}: slice {z} holds no {p.radiotracer} activity")
        batch = simulate_batch(activity, self._mu(plane), self._grid(instant), scanner,
                               n_events=sizes[sub], seed=seed, batch_index=index, scatter=p.scatter,
                               randoms_fraction=p.randoms_fraction, list_mode=p.list_mode,
                               positron_range_fwhm_mm=p.positron_range, noncollinearity_fwhm_deg=p.noncollinearity)
        shape = (len(slices), *scanner.shape)
        counts = {}
        for name, sino in (("prompts", batch.sinogram), ("scatter", batch.scatter), ("randoms", batch.randoms)):
            full = np.zeros(shape, dtype=np.int64)
            full[k] = sino
            counts[name] = full
        emitted = np.zeros(len(slices), dtype=np.int64)
        emitted[k] = batch.n_emitted
        counts["emitted"] = emitted
        events = {}
        if p.list_mode:
            pairs = batch.list_mode.astype(np.int32)
            events[index] = {"pairs": pairs, "slice": np.full(len(pairs), k, dtype=np.int32)}
        return PartialResult(batches=(index,), counts=counts, events=events)

    def finish(self, instant: ModelInstant, parameters: PETParameters, merged: PartialResult, *,
               seed: int) -> SimulationResult:
        p = parameters
        slices = instant.central_slices(p.n_slices)
        expected = tuple(range(self.n_batches(instant, p)))
        if merged.batches != expected:
            missing = sorted(set(expected) - set(merged.batches))
            raise SimulationError(f"cannot finish: batches {missing[:10]}{'...' if len(missing) > 10 else ''} "
                                  "are missing from the merged result")
        scanner = PRESETS[p.scanner]
        grid = self._grid(instant)
        images = []
        for k, z in enumerate(slices):
            plane = instant.axial_slice(z)
            model = SystemModel(grid, scanner, mu_511=self._mu(plane) if p.attenuation_correction else None)
            prompts = merged.counts["prompts"][k]
            # Randoms are uniform over crystal pairs: their mean per bin is known from the measured total.
            randoms_level = merged.counts["randoms"][k].sum() / prompts.size
            decays = osem(prompts, model, n_iterations=p.iterations, n_subsets=min(p.subsets, scanner.n_angles),
                          additive=float(randoms_level))
            # Calibrate to Bq/m3: the simulated decays span an equivalent duration of N / (sum of A V); the
            # voxel volume V cancels, leaving decays per voxel x (sum of A) / N.
            scale = float(self._activity(plane, p).sum()) / int(merged.counts["emitted"][k])
            images.append((decays * scale).astype(np.float32))
        image = np.stack(images, axis=-1)
        nifti = nifti_image(image, instant.slab_affine(slices.start))
        raw = {"sinogram": RawData(kind=VIP.Sinogram, array=merged.counts["prompts"].transpose(1, 2, 0),
                                   axes=("radial", "view", "slice"),
                                   description="prompt coincidences (trues + scatter + randoms), integer counts")}
        if p.list_mode:
            pairs = merged.concatenated("pairs")
            raw["list_mode"] = RawData(kind=VIP.ListMode,
                                       array=np.column_stack([pairs, merged.concatenated("slice")]),
                                       axes=("event", "crystal_a, crystal_b, slice"),
                                       description="one row per prompt coincidence, in batch order")
        notes = []
        if p.scatter:
            notes.append("scatter is simulated but not corrected in the reconstruction")
        return SimulationResult(
            image=nifti, raw=raw, preview=slice_png(image),
            metadata=self.run_metadata(
                instant, p, seed, image_units="Bq/m3 (activity concentration)", scanner=scanner.name,
                slices=[slices.start, slices.stop - 1],
                counts={name: [int(c) for c in merged.counts[name].reshape(len(slices), -1).sum(axis=1)]
                        for name in ("prompts", "scatter", "randoms", "emitted")},
                notes=notes))
