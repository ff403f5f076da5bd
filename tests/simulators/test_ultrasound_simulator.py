"""The ultrasound plugin end to end: scatterers from the look-up table, B-mode placed in the model's world."""

from __future__ import annotations

import numpy as np
import pytest

from vipkb.errors import SimulationError
from vipkb.simulation import ModelInstant
from vipkb.simulation.runner import run_simulator

#: Dense enough for fully developed speckle: 20 scatterers per mm^2 in a 1 mm slab.
SOFT = {"ScattererDensity [m-3]": 2e10, "ScattererReflectivity [1]": 0.5}


def block(n_lateral: int = 100, n_depth: int = 100, voxel: float = 0.4) -> tuple[ModelInstant, np.ndarray]:
    """Uniform tissue with a hyperechoic disc (reflectivity x2), probe on top (high second-axis index)."""
    x = (np.arange(n_lateral) - (n_lateral - 1) / 2) * voxel
    depth = (n_depth - np.arange(n_depth) - 0.5) * voxel  # distance below the top face
    xx, dd = np.meshgrid(x, depth, indexing="ij")
    plane = np.ones((n_lateral, n_depth), dtype=np.uint8)
    plane[np.hypot(xx - 5.0, dd - 22.0) <= 4.0] = 2
    labels = np.repeat(plane[:, :, None], 3, axis=2)
    inst = ModelInstant.from_labels(labels, [("soft", SOFT), ("bright", {**SOFT, "ScattererReflectivity [1]": 1.0})],
                                    voxel_size=(voxel, voxel, 1.0))
    return inst, plane


@pytest.fixture(scope="module")
def scanned():
    inst, plane = block()
    result = run_simulator("ultrasound", inst, {"depth": 35.0, "n_angles": 1, "attenuation": 0.0}, seed=4)
    return inst, result


def _lateral_depth(inst: ModelInstant, result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every B-mode pixel's lateral position and depth below the top face (mm, model frame), and its amplitude."""
    nx, nz, _ = result.image.shape
    i, j = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    world = result.image.affine @ np.stack([i, j, np.zeros_like(i), np.ones_like(i)]).reshape(4, -1)
    local = np.linalg.inv(inst.centred_frame()) @ world  # origin at the model's centre, mm along its axes
    top = inst.shape[1] * inst.voxel_size[1] / 2
    amplitude = 10 ** (result.image.get_fdata()[:, :, 0] / 20)
    return local[0].reshape(nx, nz), top - local[1].reshape(nx, nz), amplitude


def test_brighter_tissue_is_brighter_by_its_reflectivity(scanned):
    inst, result = scanned
    x, depth, amplitude = _lateral_depth(inst, result)
    disc = amplitude[np.hypot(x - 5.0, depth - 22.0) <= 2.5].mean()
    around = amplitude[(np.hypot(x + 5.0, depth - 22.0) <= 2.5)].mean()
    # Reflectivity 1.0 against 0.5: twice the echo amplitude (6 dB); speckle leaves about 10% of scatter.
    assert disc / around == pytest.approx(2.0, rel=0.2)


@pytest.mark.slow
def test_fully_developed_speckle_is_rayleigh():
    # 300 scatterers per mm^2 of the plane (about 10 per resolution cell of the L11-5v at f/1.5) in a band
    # around the elevation focus; the rest of the model is scatter-free so the run stays short.
    voxel, n = 0.25, 120
    x = (np.arange(n) - (n - 1) / 2) * voxel
    depth = (n - np.arange(n) - 0.5) * voxel
    xx, dd = np.meshgrid(x, depth, indexing="ij")
    band = ((np.abs(xx) <= 8) & (dd >= 13) & (dd <= 27)).astype(np.uint8)
    inst = ModelInstant.from_labels(np.repeat(band[:, :, None], 3, axis=2),
                                    [("soft", {**SOFT, "ScattererDensity [m-3]": 3e11})],
                                    voxel_size=(voxel, voxel, 1.0))
    flat = []
    for seed in (1, 2):
        result = run_simulator("ultrasound", inst, {"depth": 28.0, "n_angles": 1, "attenuation": 0.0,
                                                    "amplitudes": "sign"}, seed=seed)
        lateral, below, amplitude = _lateral_depth(inst, result)
        cols, rows = np.abs(lateral[:, 0]) <= 5.0, (below[0] > 16.0) & (below[0] < 24.0)
        envelope = amplitude[np.ix_(cols, rows)]
        # Remove the beam's smooth depth trend (spreading, transmit amplitude) before pooling the statistics.
        z = below[0][rows]
        trend = np.polyval(np.polyfit(z, np.log((envelope**2).mean(axis=0)), 2), z)
        flat.append(envelope / np.exp(0.5 * trend)[None, :])
    flat = np.concatenate(flat)
    assert flat.mean() / flat.std() == pytest.approx(1.913, rel=0.05), flat.mean() / flat.std()


def test_outputs_and_placement(scanned):
    inst, result = scanned
    assert result.raw["rf"].array.shape[0] == 1 and result.raw["rf"].array.shape[2] == 128
    # Lateral axis along the model's first axis, depth against its second; the probe on the top face.
    assert result.image.affine[0, 0] > 0 and result.image.affine[1, 1] < 0
    x, depth, _ = _lateral_depth(inst, result)
    assert 0 < depth.min() < 0.5 and depth.max() == pytest.approx(35.0, abs=0.1)
    assert abs(x.mean()) < 0.2  # the probe is centred laterally
    assert result.metadata["scatterers"] > 10_000


def test_bad_placements_are_refused():
    inst, _ = block(40, 40)
    with pytest.raises(SimulationError, match="plane_offset = 50.0 mm lies outside"):
        run_simulator("ultrasound", inst, {"plane_offset": 50.0}, seed=0)
    with pytest.raises(SimulationError, match="beside"):
        run_simulator("ultrasound", inst, {"lateral_offset": 200.0}, seed=0)
