"""Physics of the X-ray/CT modules: exact ray tracing, radon agreement, HU calibration, noise, spectra."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, rescale

from simulators.xray.detector import WATER as WATER_COMPOSITION
from simulators.xray.detector import Detector, water_correction
from simulators.xray.fbp import fbp_parallel
from simulators.xray.geometry import ConeBeamRadiograph, FanBeam, ParallelBeam
from simulators.xray.grid import VoxelGrid
from simulators.xray.pipeline import Material, attenuation_matrix, simulate_ct, simulate_radiograph
from simulators.xray.siddon import line_integrals, path_lengths
from simulators.xray.spectrum import Spectrum, Tube
from vipkb.attenuation import linear_attenuation
from vipkb.errors import ParameterError, SimulationError

# Dry air near sea level, mass fractions and 1.205 kg/m3 (NIST X-ray mass attenuation tables, Table 2).
AIR = Material(name="air", composition=((6, 0.000124), (7, 0.755268), (8, 0.231781), (18, 0.012827)),
               density_kg_m3=1.205)
WATER = Material(name="water", composition=WATER_COMPOSITION[0], density_kg_m3=WATER_COMPOSITION[1])
# Cortical bone, ICRU Report 44 composition and 1920 kg/m3 (NIST X-ray mass attenuation tables, Table 2).
BONE = Material(name="cortical bone", density_kg_m3=1920.0,
                composition=((1, 0.034), (6, 0.155), (7, 0.042), (8, 0.435), (11, 0.001), (12, 0.002), (15, 0.103),
                             (16, 0.003), (20, 0.225)))
# A clinical-like CT beam: 120 kVp, 2.5 mm Al + 0.1 mm Cu.
CT_TUBE = Tube(kvp=120, aluminium_mm=2.5, copper_mm=0.1)
MU_60 = float(linear_attenuation(WATER.composition, WATER.density_kg_m3, 60.0))


def smooth_ball(grid: VoxelGrid, radius: float) -> np.ndarray:
    """Volume fraction of a centred ball per voxel (first-order partial-volume: exact for flat faces)."""
    axes = np.ix_(*(grid.centres(a) for a in range(grid.ndim)))
    distance = np.sqrt(sum(c**2 for c in axes))
    return np.clip(0.5 - (distance - radius) / grid.voxel_size_mm[0], 0.0, 1.0)


def chord(radius: float, offset: float) -> float:
    return 2.0 * np.sqrt(radius**2 - offset**2)


# --- exact ray tracing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("angle_deg", [0.0, 17.0, 45.0, 72.5, 90.0, 133.0, 251.0])
def test_disc_line_integrals_equal_chord_times_mu(angle_deg):
    grid = VoxelGrid.centred((440, 440), 0.25)
    mu = MU_60 * smooth_ball(grid, 50.0)
    offsets = np.array([0.1, 12.3, 27.9, 36.6])  # off voxel boundaries, up to 0.73 r
    th = np.deg2rad(angle_deg)
    u, d = np.array([np.cos(th), np.sin(th)]), np.array([-np.sin(th), np.cos(th)])
    got = line_integrals(mu, starts_mm=offsets[:, None] * u - 80 * d, ends_mm=offsets[:, None] * u + 80 * d,
                         voxel_size_mm=grid.voxel_size_mm, origin_mm=grid.origin_mm)
    expected = np.array([chord(50.0, s) for s in offsets]) * MU_60
    assert np.abs(got / expected - 1).max() < 0.005  # measured: 0.12 % at worst


def test_sphere_line_integrals_equal_chord_times_mu():
    # Voxelisation, not the tracer, limits this check (a ray samples the boundary voxels it happens to cross:
    # an error of order voxel / chord), hence 0.3 mm voxels and chords of at least 1.7 r.
    grid = VoxelGrid.centred((200, 200, 200), 0.3)
    mu = MU_60 * smooth_ball(grid, 29.0)
    rng = np.random.default_rng(7)
    directions = rng.normal(size=(12, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    # A point at distance `offset` from the centre, perpendicular to each direction.
    offsets = np.linspace(0.0, 14.5, 12)
    perp = np.cross(directions, rng.normal(size=(12, 3)))
    perp /= np.linalg.norm(perp, axis=1, keepdims=True)
    through = perp * offsets[:, None]
    got = line_integrals(mu, starts_mm=through - 90 * directions, ends_mm=through + 90 * directions,
                         voxel_size_mm=0.3)
    expected = np.array([chord(29.0, s) for s in offsets]) * MU_60
    assert np.abs(got / expected - 1).max() < 0.005  # measured: 0.12 % at worst


def clipped_length(starts, ends, low, high):
    """Length of each segment inside the box [low, high] (Liang-Barsky clipping)."""
    d = ends - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = np.where(d != 0, (low - starts) / d, -np.inf)
        t1 = np.where(d != 0, (high - starts) / d, np.inf)
    inside = np.where(d == 0, (starts >= low) & (starts <= high), True).all(axis=1)
    enter = np.clip(np.minimum(t0, t1).max(axis=1), 0, 1)
    leave = np.clip(np.maximum(t0, t1).min(axis=1), 0, 1)
    return np.where(inside, np.maximum(leave - enter, 0), 0) * np.linalg.norm(d, axis=1)


@pytest.mark.parametrize("shape", [(13, 9), (7, 11, 6)])
def test_path_lengths_sum_to_the_length_inside_the_grid(shape):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=shape)
    size = np.array([1.0, 0.6, 1.4])[: len(shape)]
    origin = -size * (np.array(shape) - 1) / 2
    starts = rng.uniform(-12, 12, size=(400, len(shape)))
    ends = rng.uniform(-12, 12, size=(400, len(shape)))
    ends[:10] = starts[:10]  # zero-length rays
    ends[10:20, 1:] = starts[10:20, 1:]  # axis-aligned rays
    got = path_lengths(labels, 4, starts_mm=starts, ends_mm=ends, voxel_size_mm=size, origin_mm=origin)
    half = size * np.array(shape) / 2
    assert got.shape == (400, 4) and (got >= 0).all()
    np.testing.assert_allclose(got.sum(axis=1), clipped_length(starts, ends, -half, half), atol=2e-4)


def test_path_lengths_match_dense_sampling_per_label():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, size=(6, 5, 4))
    starts, ends = rng.uniform(-6, 6, size=(25, 3)), rng.uniform(-6, 6, size=(25, 3))
    got = path_lengths(labels, 3, starts_mm=starts, ends_mm=ends, voxel_size_mm=1.0)
    n = 200_000
    t = (np.arange(n) + 0.5) / n
    for s, e, row in zip(starts, ends, got, strict=True):
        idx = np.round(s + t[:, None] * (e - s) + (np.array(labels.shape) - 1) / 2).astype(int)
        ok = ((idx >= 0) & (idx < labels.shape)).all(axis=1)
        sampled = np.bincount(labels[tuple(idx[ok].T)], minlength=3) * np.linalg.norm(e - s) / n
        np.testing.assert_allclose(row, sampled, atol=2e-3)  # the sampling's own resolution


@pytest.mark.parametrize("shape", [(60, 50), (30, 26, 22)])
def test_path_lengths_equal_line_integrals_of_each_label(shape):
    # Blocky labels (long runs along rays) take the run-length path of the accumulation.
    rng = np.random.default_rng(8)
    coarse = rng.integers(0, 3, size=tuple(s // 6 + 1 for s in shape))
    labels = coarse[np.ix_(*(np.arange(s) // 6 for s in shape))]
    starts = rng.uniform(-40, 40, size=(300, len(shape)))
    ends = -starts + rng.uniform(-5, 5, size=starts.shape)
    got = path_lengths(labels, 3, starts_mm=starts, ends_mm=ends, voxel_size_mm=0.9)
    for label in range(3):
        expected = line_integrals((labels == label).astype(float), starts_mm=starts, ends_mm=ends, voxel_size_mm=0.9)
        np.testing.assert_allclose(got[:, label], expected, atol=1e-4)


def test_axis_aligned_affine_with_flip_and_permutation():
    rng = np.random.default_rng(2)
    canonical = rng.random((5, 7, 4))  # world x, y, z
    stored = np.transpose(canonical, (1, 0, 2))[::-1]  # array axis 0 runs along -y, axis 1 along x
    affine = np.array([[0.0, 0.8, 0, -1.6], [-1.2, 0, 0, 3.6], [0, 0, 1.5, -2.25], [0, 0, 0, 1]])
    starts, ends = rng.uniform(-8, 8, size=(50, 3)), rng.uniform(-8, 8, size=(50, 3))
    via_affine = line_integrals(stored, starts_mm=starts, ends_mm=ends, affine=affine)
    direct = line_integrals(canonical, starts_mm=starts, ends_mm=ends, voxel_size_mm=(0.8, 1.2, 1.5),
                            origin_mm=(-1.6, 3.6 - 1.2 * 6, -2.25))
    np.testing.assert_allclose(via_affine, direct, rtol=1e-6)


# --- against scikit-image -----------------------------------------------------------------------------------


def skimage_layout(n: int) -> tuple[ParallelBeam, VoxelGrid]:
    """Geometry and grid that reproduce ``radon(image, theta, circle=True)`` for our ``image[::-1].T``.

    skimage rotates about pixel ``n // 2`` with x along columns and y up the
    rows; its detector bin ``k`` is at ``s = k - n // 2``.
    """
    geometry = ParallelBeam(n_views=180, n_detectors=n, detector_spacing_mm=1.0,
                            detector_offset_mm=(n - 1) / 2 - n // 2)
    return geometry, VoxelGrid(shape=(n, n), voxel_size_mm=(1.0, 1.0), origin_mm=(-(n // 2), -(n - 1 - n // 2)))


@pytest.fixture(scope="module")
def phantom():
    return rescale(shepp_logan_phantom(), 256 / 400)  # zero outside the inscribed circle


def test_sinogram_agrees_with_skimage_radon(phantom):
    geometry, grid = skimage_layout(phantom.shape[0])
    starts, ends = geometry.rays(400.0).flat()
    ours = line_integrals(phantom[::-1].T, starts_mm=starts, ends_mm=ends, voxel_size_mm=grid.voxel_size_mm,
                          origin_mm=grid.origin_mm).reshape(geometry.n_views, -1).T
    theirs = radon(phantom, theta=geometry.angles_deg(), circle=True)
    assert ours.shape == theirs.shape
    assert np.linalg.norm(ours - theirs) / np.linalg.norm(theirs) < 0.01  # measured: 0.70 %
    # At 0 and 90 deg skimage's rotation is exact, and so is the agreement; elsewhere its bilinear
    # interpolation blurs edges (the difference halves as the resolution doubles).
    for view in (0, 90):
        assert np.linalg.norm(ours[:, view] - theirs[:, view]) < 1e-6 * np.linalg.norm(theirs[:, view])


def test_fbp_agrees_with_skimage_iradon(phantom):
    geometry, grid = skimage_layout(phantom.shape[0])
    sinogram = radon(phantom, theta=geometry.angles_deg(), circle=True)
    ours = fbp_parallel(sinogram, geometry, grid, window="shepp-logan")[:, ::-1].T  # back to skimage's layout
    theirs = iradon(sinogram, theta=geometry.angles_deg(), circle=True, filter_name="shepp-logan")
    # Same filter, same interpolation; only the rim of the field of view is masked slightly differently.
    inner = np.hypot(*(np.mgrid[: grid.shape[0], : grid.shape[1]] - grid.shape[0] // 2)) < grid.shape[0] // 2 - 3
    assert np.linalg.norm((ours - theirs)[inner]) / np.linalg.norm(theirs[inner]) < 1e-4  # measured: 2e-6


# --- CT numbers -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slice_grid():
    return VoxelGrid.centred((128, 128), 2.0)


def radius_map(grid: VoxelGrid, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    return np.hypot(grid.centres(0)[:, None] - cx, grid.centres(1)[None, :] - cy)


def scan(labels, materials, grid, geometry=None, *, bhc=True, photons=1e6, seed=1):
    geometry = geometry or ParallelBeam(n_views=360, n_detectors=180, detector_spacing_mm=2.0)
    return simulate_ct(labels, materials, grid=grid, geometry=geometry, spectrum=CT_TUBE.spectrum(),
                       detector=Detector(photons_per_element=photons), rng=np.random.default_rng(seed),
                       beam_hardening_correction=bhc)


@pytest.fixture(scope="module")
def water_cylinder(slice_grid):
    return (radius_map(slice_grid) < 100.0).astype(np.int32)  # 200 mm water cylinder in air


def test_water_cylinder_reads_0_hu_and_air_minus_1000(slice_grid, water_cylinder):
    r = radius_map(slice_grid)
    hu = scan(water_cylinder, [AIR, WATER], slice_grid).hu
    assert abs(hu[r < 10].mean()) < 10  # measured: -0.04 HU (noise SD 7 HU per pixel)
    assert abs(hu[(r > 112) & (r < 125)].mean() + 1000) < 20  # measured: -999.0 HU


def test_beam_hardening_correction_removes_cupping(slice_grid, water_cylinder):
    r = radius_map(slice_grid)
    cupping = {}
    for bhc in (False, True):
        hu = scan(water_cylinder, [AIR, WATER], slice_grid, bhc=bhc).hu
        cupping[bhc] = hu[r < 10].mean() - hu[(r > 80) & (r < 90)].mean()
    assert cupping[False] < -15  # measured: -27.8 HU (centre -88, rim -60: darker and cupped)
    assert abs(cupping[True]) < 5  # measured: -0.06 HU


def test_cortical_bone_lands_in_published_hu_range(slice_grid):
    labels = (radius_map(slice_grid) < 100.0).astype(np.int32)
    labels[radius_map(slice_grid, 30.0) < 15.0] = 2
    hu = scan(labels, [AIR, WATER, BONE], slice_grid).hu
    # Bone: +700 to +3000 HU (T. M. Buzug, Computed Tomography, Springer 2008, Hounsfield scale table).
    assert 700 < hu[radius_map(slice_grid, 30.0) < 8.0].mean() < 3000  # measured: 1488 HU


def test_fan_beam_water_cylinder(slice_grid, water_cylinder):
    fan = FanBeam(n_views=360, n_detectors=200, source_to_isocentre_mm=570.0, source_to_detector_mm=1040.0,
                  detector_pitch_mm=3.0)
    r = radius_map(slice_grid)
    hu = scan(water_cylinder, [AIR, WATER], slice_grid, fan).hu
    assert abs(hu[r < 10].mean()) < 10  # measured: 1.0 HU
    assert abs(hu[(r > 112) & (r < 125)].mean() + 1000) < 20  # measured: -999.1 HU


def test_fan_and_parallel_agree_off_centre(slice_grid):
    labels = (radius_map(slice_grid, 40.0, -20.0) < 30.0).astype(np.int32)
    fan = FanBeam(n_views=360, n_detectors=200, source_to_isocentre_mm=570.0, source_to_detector_mm=1040.0,
                  detector_pitch_mm=3.0)
    inner = radius_map(slice_grid, 40.0, -20.0) < 15.0
    for geometry in (fan, None):
        assert abs(scan(labels, [AIR, WATER], slice_grid, geometry).hu[inner].mean()) < 10  # measured: 0.7, 0.6 HU


# --- detector, noise, spectrum --------------------------------------------------------------------------------


def test_poisson_variance_scales_with_dose():
    spectrum = CT_TUBE.spectrum()
    mu = attenuation_matrix([WATER], spectrum.energies_kev)
    lengths = np.full((40_000, 1), 150.0)
    rng = np.random.default_rng(3)
    variances = []
    for photons in (1e4, 4e4):
        det = Detector(photons_per_element=photons)
        p = det.projections(det.signal(lengths, mu, spectrum, rng=rng), spectrum)
        mean_photons = photons * spectrum.fluence * np.exp(-150.0 * mu[0])
        e = spectrum.energies_kev
        predicted = (mean_photons @ e**2) / (mean_photons @ e) ** 2  # var(ln S) ~ var(S) / S^2
        assert p.var() == pytest.approx(predicted, rel=0.05)  # measured: within 0.7 %
        variances.append(p.var())
    assert variances[0] / variances[1] == pytest.approx(4.0, rel=0.05)


def test_same_seed_same_data_other_seed_other_data(slice_grid, water_cylinder):
    a = scan(water_cylinder, [AIR, WATER], slice_grid, photons=1e4, seed=42)
    b = scan(water_cylinder, [AIR, WATER], slice_grid, photons=1e4, seed=42)
    c = scan(water_cylinder, [AIR, WATER], slice_grid, photons=1e4, seed=43)
    assert np.array_equal(a.sinogram, b.sinogram) and np.array_equal(a.hu, b.hu)
    assert not np.array_equal(a.sinogram, c.sinogram)


def test_results_do_not_depend_on_the_thread_count(slice_grid, water_cylinder):
    geometry = ParallelBeam(n_views=90, n_detectors=180, detector_spacing_mm=2.0)
    starts, ends = geometry.rays(200.0).flat()
    traced = [path_lengths(water_cylinder, 2, starts_mm=starts, ends_mm=ends, voxel_size_mm=2.0, workers=w,
                           chunk_elements=4096) for w in (1, 3)]
    assert np.array_equal(*traced)
    sinogram = traced[0][:, 1].reshape(90, 180).T * MU_60
    images = [fbp_parallel(sinogram, geometry, slice_grid, workers=w) for w in (1, 3)]
    assert np.array_equal(*images)


def test_mean_energy_rises_with_filtration():
    means = [Tube(kvp=100, aluminium_mm=al, copper_mm=cu).spectrum().mean_energy_kev
             for al, cu in ((1.0, 0.0), (2.5, 0.0), (6.0, 0.0), (6.0, 0.3))]
    assert means == sorted(means) and means[-1] - means[0] > 10


def test_spectrum_is_normalised_and_empty_above_kvp():
    for kvp in (40, 80.5, 150):
        s = Tube(kvp=kvp, aluminium_mm=2.5).spectrum()
        assert s.fluence.sum() == pytest.approx(1.0) and (s.fluence >= 0).all()
        assert s.energies_kev.max() < kvp and s.mean_energy_kev < kvp


def test_water_correction_is_identity_for_thin_water():
    bhc = water_correction(CT_TUBE.spectrum())
    thin = bhc.projection[1]  # 0.5 mm of water
    assert bhc(thin) == pytest.approx(bhc.mu_water_per_mm * bhc.thickness_mm[1], rel=1e-3)


# --- radiograph -----------------------------------------------------------------------------------------------


def test_radiograph_centre_pixel_matches_analytic_transmission():
    grid = VoxelGrid.centred((61, 101, 61), 1.0)
    axes = np.meshgrid(*(grid.centres(a) for a in range(3)), indexing="ij")
    labels = (np.sqrt(sum(c**2 for c in axes)) <= 40.5).astype(np.int32)  # central chord exactly 81 voxels
    geometry = ConeBeamRadiograph(n_rows=31, n_columns=31, pixel_pitch_mm=2.0, source_to_isocentre_mm=600.0,
                                  source_to_detector_mm=1000.0)
    spectrum = Tube(kvp=80, aluminium_mm=2.5).spectrum()
    result = simulate_radiograph(labels, [AIR, WATER], grid=grid, geometry=geometry, spectrum=spectrum,
                                 detector=Detector(photons_per_element=1e6, quantum_noise=False))
    mu = attenuation_matrix([AIR, WATER], spectrum.energies_kev)
    weight = spectrum.fluence * spectrum.energies_kev
    expected = weight @ np.exp(-81.0 * mu[1] - (101.0 - 81.0) * mu[0]) / weight.sum()
    assert result.transmission[15, 15] == pytest.approx(expected, rel=1e-5)
    assert result.transmission[0, 0] > result.transmission[15, 15]  # the corner ray misses most of the sphere


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "words"), [
    (lambda: Tube(kvp=10), "kvp must be a number in [20, 150]"),
    (lambda: Tube(kvp=120, copper_mm=-1), "copper_mm"),
    (lambda: Detector(photons_per_element=0), "photons_per_element must be a number in [1, 1e12]"),
    (lambda: ParallelBeam(n_views=0, n_detectors=10, detector_spacing_mm=1.0), "n_views must be an integer"),
    (lambda: FanBeam(n_views=10, n_detectors=10, source_to_isocentre_mm=500, source_to_detector_mm=400,
                     detector_pitch_mm=1.0), "source_to_detector_mm"),
    (lambda: Material(name="x", composition=((1, 0.5),), density_kg_m3=1000), "sum to 1"),
    (lambda: line_integrals(np.ones((4, 4)), starts_mm=np.zeros((3, 3)), ends_mm=np.ones((3, 3)),
                            voxel_size_mm=1.0), "shape (n_rays, 2)"),
    (lambda: path_lengths(np.full((4, 4), 3), 2, starts_mm=np.zeros((1, 2)), ends_mm=np.ones((1, 2)),
                          voxel_size_mm=1.0), "labels must lie in [0, 2)"),
    (lambda: line_integrals(np.ones((4, 4)), starts_mm=np.zeros((1, 2)), ends_mm=np.ones((1, 2)),
                            affine=np.array([[0.7, 0.7, 0], [-0.7, 0.7, 0], [0, 0, 1]])), "axis-aligned"),
    (lambda: fbp_parallel(np.zeros((8, 4)), ParallelBeam(n_views=4, n_detectors=8, detector_spacing_mm=1.0),
                          VoxelGrid.centred((8, 8), 1.0), window="gauss"), "available: ram-lak"),
    (lambda: Detector().signal(np.zeros((1, 1)), np.zeros((1, 1)), Spectrum.monochromatic(60.0)),
     "rng=np.random.default_rng"),
])
def test_invalid_parameters_raise_parameter_error(make, words):
    with pytest.raises(ParameterError) as info:
        make()
    assert words in str(info.value)


def test_labels_beyond_the_materials_are_a_simulation_error(slice_grid, water_cylinder):
    with pytest.raises(SimulationError, match="only 1 materials"):
        scan(water_cylinder, [AIR], slice_grid)
