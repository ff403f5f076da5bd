"""The PET plugin end to end: calibrated activity, attenuation correction, list mode, batches."""

from __future__ import annotations

import numpy as np
import pytest

from vipkb.errors import SimulationError
from vipkb.models.lut import parse_composition
from vipkb.simulation import ModelInstant, get_simulator, merge_partials
from vipkb.simulation.runner import run_simulator

WATER = parse_composition("H:0.111894 O:0.888106", "NIST water")


@pytest.fixture(scope="module")
def cylinder() -> tuple[ModelInstant, np.ndarray]:
    """A water cylinder (radius 100 mm) at 10 kBq/mL with a 30 mm hot lesion at 40 kBq/mL, 4 mm voxels."""
    n, voxel = 64, 4.0
    axis = (np.arange(n) - (n - 1) / 2) * voxel
    x, y = np.meshgrid(axis, axis, indexing="ij")
    plane = np.zeros((n, n), dtype=np.uint8)
    plane[np.hypot(x, y) <= 100] = 1
    plane[np.hypot(x - 40, y) <= 30] = 2
    tissue = {"MassDensity [kg/m3]": 1000.0, "ElementalComposition [mass fraction]": WATER}
    inst = ModelInstant.from_labels(
        np.repeat(plane[:, :, None], 2, axis=2),
        [("water", {**tissue, "RadioactiveConcentration(FDG) [Bq/m3]": 1e10}),
         ("lesion", {**tissue, "RadioactiveConcentration(FDG) [Bq/m3]": 4e10})],
        voxel_size=(voxel, voxel, voxel))
    return inst, plane


def _means(image: np.ndarray, plane: np.ndarray) -> tuple[float, float, float]:
    n = plane.shape[0]
    axis = (np.arange(n) - (n - 1) / 2) * 4.0
    x, y = np.meshgrid(axis, axis, indexing="ij")
    lesion = image[np.hypot(x - 40, y) <= 18].mean()
    background = image[(np.hypot(x + 40, y) <= 30)].mean()
    centre = image[np.hypot(x, y + 40) <= 12].mean()
    return float(lesion), float(background), float(centre)


def test_reconstruction_is_calibrated_and_recovers_the_lesion(cylinder):
    inst, plane = cylinder
    result = run_simulator("pet", inst, {"events": 3_000_000, "events_per_batch": 1_000_000, "iterations": 6},
                           seed=3)
    lesion, background, _ = _means(result.image.get_fdata()[:, :, 0], plane)
    assert background == pytest.approx(1e10, rel=0.10)
    # Contrast recovery: (lesion / background - 1) / (4 - 1) within 10% of 1.
    assert (lesion / background - 1) / 3 == pytest.approx(1.0, abs=0.10)
    assert result.metadata["image_units"].startswith("Bq/m3")
    assert result.metadata["counts"]["emitted"] == [3_000_000]
    assert result.raw["sinogram"].array.sum() == result.metadata["counts"]["prompts"][0]


def test_without_attenuation_correction_the_centre_sinks(cylinder):
    inst, plane = cylinder
    common = {"events": 1_000_000, "iterations": 4}
    with_ac = _means(run_simulator("pet", inst, common, seed=1).image.get_fdata()[:, :, 0], plane)
    without = _means(run_simulator("pet", inst, {**common, "attenuation_correction": False},
                                   seed=1).image.get_fdata()[:, :, 0], plane)
    # A water cylinder of 100 mm radius transmits exp(-0.0096 x 200) ~ 15% through its centre.
    assert without[2] < 0.5 * with_ac[2]


def test_list_mode_histograms_to_the_sinogram(cylinder):
    inst, _ = cylinder
    result = run_simulator("pet", inst, {"events": 200_000, "events_per_batch": 50_000, "list_mode": True,
                                         "randoms_fraction": 0.2}, seed=9)
    events = result.raw["list_mode"].array
    sinogram = result.raw["sinogram"].array
    assert len(events) == sinogram.sum() and set(np.unique(events[:, 2])) == {0}
    from simulators.pet.emission import histogram
    from simulators.pet.scanner import PRESETS

    assert np.array_equal(histogram(events[:, :2], PRESETS["discovery-690"]), sinogram[:, :, 0])
    assert result.metadata["counts"]["randoms"][0] > 0


def test_finishing_with_missing_batches_is_refused(cylinder):
    inst, _ = cylinder
    sim = get_simulator("pet")()
    params = sim.parameters({"events": 100_000, "events_per_batch": 50_000})
    partial = merge_partials([sim.run_batch(inst, params, seed=0, index=0)])
    with pytest.raises(SimulationError, match=r"batches \[1\] are missing"):
        sim.finish(inst, params, partial, seed=0)
    with pytest.raises(SimulationError, match="batch 2 does not exist"):
        sim.run_batch(inst, params, seed=0, index=2)


def test_a_slice_without_tracer_is_named(cylinder):
    inst, plane = cylinder
    cold = ModelInstant.from_labels(np.repeat(plane[:, :, None], 1, axis=2),
                                    [(t.name, {"MassDensity [kg/m3]": 1000.0,
                                               "ElementalComposition [mass fraction]": WATER})
                                     for t in inst.tissues], source="cold phantom")
    with pytest.raises(SimulationError, match="cold phantom.*RadioactiveConcentration\\(FDG\\)"):
        run_simulator("pet", cold, seed=0)
