"""The CT and radiography plugins end to end: model instant in, Hounsfield units and radiographs out."""

from __future__ import annotations

import numpy as np
import pytest

from vipkb.errors import ParameterError, SimulationError
from vipkb.models.lut import parse_composition
from vipkb.simulation import ModelInstant
from vipkb.simulation.runner import run_simulator

WATER = {"MassDensity [kg/m3]": 1000.0, "ElementalComposition [mass fraction]": parse_composition(
    "H:0.111894 O:0.888106", "NIST water")}
# ICRU cortical bone (NIST ICRU-44 "Bone, Cortical"), 1920 kg/m3.
BONE = {"MassDensity [kg/m3]": 1920.0, "ElementalComposition [mass fraction]": parse_composition(
    "H:0.034 C:0.155 N:0.042 O:0.435 Na:0.001 Mg:0.002 P:0.103 S:0.003 Ca:0.225", "ICRU-44 cortical bone")}


def cylinder(n: int = 128, voxel: float = 1.5, depth: int = 3) -> tuple[ModelInstant, np.ndarray]:
    """A water cylinder (radius 60 mm) with a bone rod (radius 9 mm) off-centre, in air."""
    x, y = np.meshgrid((np.arange(n) - (n - 1) / 2) * voxel, (np.arange(n) - (n - 1) / 2) * voxel, indexing="ij")
    plane = np.zeros((n, n), dtype=np.uint8)
    plane[np.hypot(x, y) <= 60] = 1
    plane[np.hypot(x - 30, y) <= 9] = 2
    labels = np.repeat(plane[:, :, None], depth, axis=2)
    return ModelInstant.from_labels(labels, [("water", WATER), ("bone", BONE)],
                                    voxel_size=(voxel, voxel, 2.0)), np.hypot(x, y)


@pytest.mark.parametrize("geometry", ["fan", "parallel"])
def test_water_air_and_bone_land_at_their_hounsfield_units(geometry):
    inst, r = cylinder()
    result = run_simulator("ct", inst, {"geometry": geometry, "n_views": 360, "photons": 1e6}, seed=5)
    hu = result.image.get_fdata()[:, :, 0]
    x = (np.arange(128) - 63.5)[:, None] * 1.5
    centre = hu[r <= 15]
    assert abs(centre.mean()) <= 10
    assert hu[r >= 75].mean() == pytest.approx(-1000, abs=20)
    rod = hu[np.hypot(x - 30, (np.arange(128) - 63.5)[None, :] * 1.5) <= 5]
    # Cortical bone reads about +1000 to +2000 HU on clinical scanners (Hounsfield-scale tables, e.g.
    # Schneider et al. 2000, Phys Med Biol 45:459, doi:10.1088/0031-9155/45/2/314: cortical bone 1000-1600 HU).
    assert 1000 <= rod.mean() <= 2000
    assert result.metadata["image_units"] == "HU"
    sinogram = result.raw["sinogram"].array
    assert sinogram.shape[1:] == (360, 1) and sinogram.min() > -0.1


def test_without_water_correction_the_cylinder_cups():
    inst, r = cylinder()
    common = {"n_views": 360, "quantum_noise": False}
    raw = run_simulator("ct", inst, {**common, "beam_hardening_correction": False}, seed=0).image.get_fdata()
    fixed = run_simulator("ct", inst, {**common}, seed=0).image.get_fdata()
    cup = lambda im: im[(r > 45) & (r < 55), 0].mean() - im[r < 10, 0].mean()  # noqa: E731
    assert cup(raw) > 15 and abs(cup(fixed)) < 5


def test_ct_places_slices_and_keeps_the_model_grid():
    inst, _ = cylinder(n=48, voxel=2.0, depth=5)
    result = run_simulator("ct", inst, {"n_slices": 3, "n_views": 90, "geometry": "parallel"}, seed=1)
    assert result.image.shape == (48, 48, 3)
    expected = inst.affine.copy()
    expected[2, 3] = 2.0  # first scanned slice is model slice 1, at z = 2 mm
    np.testing.assert_allclose(result.image.affine, expected)
    assert result.metadata["slices"] == [1, 3]
    with pytest.raises(SimulationError, match="n_slices = 9 but .* has 5 axial slice"):
        run_simulator("ct", inst, {"n_slices": 9}, seed=1)


def test_ct_of_a_2d_instant():
    inst, _ = cylinder(n=48, voxel=2.0, depth=1)
    flat = ModelInstant(tissue_index=inst.tissue_index[:, :, 0], tissues=inst.tissues, affine=inst.affine)
    assert run_simulator("ct", flat, {"n_views": 60}, seed=0).image.shape == (48, 48, 1)


def test_fan_that_misses_the_model_is_refused():
    inst, _ = cylinder(n=64)
    with pytest.raises(SimulationError, match="the fan covers a radius"):
        run_simulator("ct", inst, {"n_detectors": 21, "n_views": 60}, seed=0)
    with pytest.raises(ParameterError, match="source_to_detector = 500.0 mm must exceed"):
        run_simulator("ct", inst, {"source_to_detector": 500.0}, seed=0)


def test_radiograph_shadow_of_a_sphere_is_where_geometry_puts_it():
    n, voxel = 64, 2.0
    axis = (np.arange(n) - (n - 1) / 2) * voxel
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    labels = np.zeros((n, n, n), dtype=np.uint8)
    labels[np.hypot(np.hypot(x - 20, y), z + 10) <= 12] = 1
    inst = ModelInstant.from_labels(labels, [("bone", BONE)], voxel_size=(voxel, voxel, voxel))
    inst.affine[:3, 3] = (-50.0, 30.0, 7.0)  # the model is not at the world origin
    result = run_simulator("radiography", inst, {"quantum_noise": False, "source_to_isocentre": 800.0,
                                                 "source_to_detector": 1000.0}, seed=0)
    image = result.image.get_fdata()[:, :, 0]
    shadow = np.array(np.nonzero(image > image.max() / 2), dtype=float).mean(axis=1)  # centroid (column, row)
    world = result.image.affine @ np.array([*shadow, 0.0, 1.0])
    # The sphere's centre in the world, projected from the source onto the panel (magnification 1000/800).
    centre = inst.affine @ np.array([(n - 1) / 2 + 10, (n - 1) / 2, (n - 1) / 2 - 5, 1.0])
    model_centre = inst.affine @ np.array([(n - 1) / 2] * 3 + [1.0])
    expected = model_centre[:3] + (centre[:3] - model_centre[:3]) * 1.25
    assert world[0] == pytest.approx(expected[0], abs=0.5) and world[2] == pytest.approx(expected[2], abs=0.5)
    assert world[1] == pytest.approx(model_centre[1] + 200.0)  # the panel is 200 mm beyond the centre (PA)
    # Through the centre the bone chord is 24 mm: transmission exp(-mu L) for an effective mu of cortical bone.
    assert 24 * 0.02 < image.max() < 24 * 0.2
    assert result.raw["detector_signal"].array.shape == image.shape


def test_lateral_projection_turns_the_panel():
    inst, _ = cylinder(n=40, voxel=2.0, depth=20)
    result = run_simulator("radiography", inst, {"projection": "left-lateral", "quantum_noise": False}, seed=0)
    # Columns run along +y (anterior) and the panel faces the subject's left side (-x).
    np.testing.assert_allclose(result.image.affine[:3, 0], [0.0, 1.0, 0.0], atol=1e-12)
    assert result.image.affine[0, 3] < -100
