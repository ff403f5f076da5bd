"""The MRI simulator plugin end to end: model instant in, image whose contrast the Bloch formulas predict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulators.mri import signal
from vipkb.errors import ParameterError
from vipkb.simulation import ModelInstant
from vipkb.simulation.runner import run_simulator

GREY = {"T1@1.5T [ms]": 1124.0, "T2@1.5T [ms]": 95.0, "T1@3T [ms]": 1820.0, "T2@3T [ms]": 99.0,
        "ProtonDensity [1]": 0.86}
WHITE = {"T1@1.5T [ms]": 884.0, "T2@1.5T [ms]": 72.0, "T1@3T [ms]": 1084.0, "T2@3T [ms]": 69.0,
         "ProtonDensity [1]": 0.77}


@pytest.fixture(scope="module")
def halves() -> ModelInstant:
    """Two uniform blocks (grey | white matter) in a 2 mm grid, background around them."""
    labels = np.zeros((64, 48, 8), dtype=np.uint8)
    labels[8:32, 8:40, :] = 1
    labels[32:56, 8:40, :] = 2
    return ModelInstant.from_labels(labels, [("grey", GREY), ("white", WHITE)], voxel_size=(2.0, 2.0, 2.0))


def _regions(image: np.ndarray) -> tuple[float, float]:
    # Centre of each block, well away from the edges' Gibbs ringing (1 mm pixels: block 1 is x 16..63).
    return float(image[28:52, 30:66].mean()), float(image[76:100, 30:66].mean())


@pytest.mark.parametrize(("sequence", "extra", "formula"), [
    ("spin_echo", {"tr": 600.0, "te": 20.0},
     lambda t: signal.spin_echo(t["ProtonDensity [1]"], t["T1@1.5T [ms]"], t["T2@1.5T [ms]"], tr=600, te=20)),
    ("gradient_echo", {"tr": 30.0, "te": 5.0, "flip_angle": 25.0},
     lambda t: signal.gradient_echo(t["ProtonDensity [1]"], t["T1@1.5T [ms]"], t["T2@1.5T [ms]"], tr=30, te=5,
                                    flip_deg=25)),
    ("inversion_recovery", {"tr": 3000.0, "te": 15.0, "ti": 300.0},
     lambda t: signal.inversion_recovery(t["ProtonDensity [1]"], t["T1@1.5T [ms]"], t["T2@1.5T [ms]"], tr=3000,
                                         te=15, ti=300)),
])
@pytest.mark.parametrize("model", ["analytic", "bloch"])
def test_contrast_between_uniform_regions_is_the_analytic_one(halves, sequence, extra, formula, model):
    values = {"sequence": sequence, "signal_model": model, "noise": 0.0, "fov_readout": 128.0, "fov_phase": 96.0,
              "matrix_readout": 128, "matrix_phase": 96, "slice_thickness": 4.0, **extra}
    result = run_simulator("mri", halves, values, seed=0)
    grey, white = _regions(result.image.get_fdata()[:, :, 0])
    assert grey == pytest.approx(float(formula(GREY)), rel=1e-3)
    assert grey / white == pytest.approx(float(formula(GREY) / formula(WHITE)), rel=0.01)


def test_background_noise_is_rayleigh(halves):
    sigma = 0.02
    # Native resolution (2 mm pixels on the 2 mm model grid): no interpolation ringing in the background.
    result = run_simulator("mri", halves, {"noise": sigma, "fov_readout": 128.0, "fov_phase": 96.0,
                                           "matrix_readout": 64, "matrix_phase": 48, "n_slices": 4}, seed=11)
    image = result.image.get_fdata()
    background = np.concatenate([image[:, :4, :].ravel(), image[:, 44:, :].ravel(), image[:4, 4:44, :].ravel()])
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.03)
    assert stats.kstest(background, stats.rayleigh(scale=sigma).cdf).pvalue > 0.01
    assert result.raw["kspace"].array.shape == (64, 48, 4)


def test_field_strength_selects_the_model_values(halves):
    at3 = run_simulator("mri", halves, {"field_strength": 3.0, "noise": 0.0, "tr": 600.0, "te": 20.0}, seed=0)
    expected = signal.spin_echo(0.86, 1820.0, 99.0, tr=600, te=20)
    # 256 mm FOV, 256 matrix: 1 mm pixels, the model centred; grey block at x -48..-1 mm.
    grey = at3.image.get_fdata()[128 - 40:128 - 8, 116:140, 0].mean()
    assert grey == pytest.approx(float(expected), rel=1e-3)
    with pytest.raises(Exception, match="no T1@7T value.*T1@1.5T, T1@3T"):
        run_simulator("mri", halves, {"field_strength": 7.0}, seed=0)


def test_chemical_shift_moves_fat_along_the_readout():
    labels = np.zeros((64, 16, 2), dtype=np.uint8)
    labels[28:36, 4:12, :] = 1
    fat = {**GREY, "ChemicalShift [ppm]": -3.4}
    inst = ModelInstant.from_labels(labels, [("fat", fat)], voxel_size=(1.0, 1.0, 1.0))
    common = {"noise": 0.0, "fov_readout": 64.0, "fov_phase": 16.0, "matrix_readout": 64, "matrix_phase": 16,
              "bandwidth": 108.6, "slice_thickness": 2.0, "field_strength": 1.5}
    on = run_simulator("mri", inst, {**common}, seed=0).image.get_fdata()[:, 8, 0]
    off = run_simulator("mri", inst, {**common, "chemical_shift": False}, seed=0).image.get_fdata()[:, 8, 0]
    x = np.arange(64)
    shift = (on * x).sum() / on.sum() - (off * x).sum() / off.sum()
    # -3.4 ppm at 1.5 T is -217 Hz; at 108.6 Hz per pixel that is -2 pixels.
    assert shift == pytest.approx(-3.4e-6 * 42.577478518e6 * 1.5 / 108.6, abs=0.01)


def test_gradient_echo_without_t2star_says_so(halves):
    result = run_simulator("mri", halves, {"sequence": "gradient_echo", "tr": 30.0, "te": 5.0}, seed=0)
    assert any("T2*" in n for n in result.metadata["notes"])


def test_cross_parameter_rules():
    with pytest.raises(ParameterError, match="te = 50.0 ms must be shorter than tr = 40.0 ms"):
        run_simulator("mri", ModelInstant.from_labels(np.ones((4, 4, 2), np.uint8), [("grey", GREY)]),
                      {"te": 50.0, "tr": 40.0}, seed=0)
