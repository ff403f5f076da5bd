"""PET physics: ring binning, line integrals against radon, attenuation, Monte Carlo counts, batches, MLEM/OSEM."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from skimage.transform import radon

from simulators.pet import emission, projector, recon, scanner, scatter
from simulators.pet.emission import batch_rng, histogram, merge, simulate, simulate_batch
from simulators.pet.projector import (
    SystemModel,
    attenuation_factors,
    expected_counts,
    line_integral_sinogram,
    system_matrix,
)
from simulators.pet.recon import mlem, osem
from simulators.pet.scanner import DISCOVERY_690, RingScanner, preset
from simulators.xray.detector import WATER
from simulators.xray.grid import VoxelGrid
from simulators.xray.siddon import line_integrals
from vipkb.attenuation import linear_attenuation
from vipkb.errors import ParameterError, SimulationError

MU_WATER = float(linear_attenuation(WATER[0], WATER[1], 511.0))  # 1/mm
# A small clinical-like ring: 4.9 mm crystal pitch, 192 views x 181 radial bins, field of view radius 201 mm.
RING = RingScanner(radius_mm=300.0, n_detectors=384, crystal_width_mm=4.6, n_radial=181)
GRID = VoxelGrid.centred((64, 64), 4.0)
LESION = (50.0, 0.0, 25.0)  # centre x, y and radius (mm)
LESION_RATIO = 4.0


def distance(grid: VoxelGrid, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    return np.hypot(grid.centres(0)[:, None] - cx, grid.centres(1)[None, :] - cy)


def disc_fraction(grid: VoxelGrid, radius: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """Area fraction of a disc per voxel, to first order (partial volume at the edge)."""
    return np.clip(0.5 - (distance(grid, cx, cy) - radius) / grid.voxel_size_mm[0], 0.0, 1.0)


def lesion_phantom(grid: VoxelGrid) -> tuple[np.ndarray, np.ndarray]:
    """Activity 1 in a disc of radius 90 mm with a 4:1 hot lesion, inside a water disc of radius 100 mm."""
    activity = (distance(grid) < 90.0).astype(float)
    activity[distance(grid, *LESION[:2]) < LESION[2]] = LESION_RATIO
    return activity, np.where(distance(grid) < 100.0, MU_WATER, 0.0)


@pytest.fixture(scope="module")
def acquisition():
    """Four million decays of the lesion phantom in four batches (about 640 k true coincidences)."""
    activity, mu = lesion_phantom(GRID)
    batches = simulate(activity, mu, GRID, RING, n_events=4_000_000, events_per_batch=1_000_000, seed=2024)
    return activity, mu, merge(batches)


# --- scanner geometry ---------------------------------------------------------------------------------------------


def test_every_bin_is_one_crystal_pair_and_its_lor():
    a, b = RING.pair_of_bin()
    flat = np.arange(RING.n_bins).reshape(RING.shape)
    assert np.array_equal(RING.bin_of_pair(a, b), flat) and np.array_equal(RING.bin_of_pair(b, a), flat)
    every = RING.bin_of_pair(*np.meshgrid(np.arange(384), np.arange(384)))
    assert np.array_equal(np.bincount(every[every >= 0]), np.full(RING.n_bins, 2))  # (a, b) and (b, a)
    theta, s = RING.lor_geometry()
    starts, ends, _ = RING.lors()
    normal = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    for points in (starts[..., 0, :], ends[..., 0, :]):
        assert np.abs((points * normal).sum(-1) - s).max() < 1e-9
    # A view interleaves two angles pi/N apart; s grows by about half a crystal pitch per radial bin.
    assert set(np.round(np.diff(theta, axis=0).ravel() * 384 / np.pi).astype(int)) == {-1, 1}
    assert np.diff(s[:, 0]).min() > 0 and abs(np.diff(s[:, 0])[90] - RING.crystal_pitch_mm / 2) < 1e-3


def test_geometric_sensitivity_sums_over_sub_lors():
    # The face-pair measure is exact for any subdivision, so the sub-LOR sensitivities add up to the bin's.
    whole = RING.lors(1)[2][..., 0]
    assert np.allclose(RING.lors(5)[2].sum(-1), whole, rtol=1e-12)
    # Small-face limit w^2 / (2 R) |sin alpha| / pi, alpha = half the angle between the crystals.
    alpha = np.arccos(RING.lor_geometry()[1] / RING.radius_mm)
    assert np.allclose(whole, RING.crystal_width_mm**2 / (2 * RING.radius_mm) * np.sin(alpha) / np.pi, rtol=1e-4)


def test_clinical_preset_geometry():
    d690 = preset("discovery-690")
    assert d690 is DISCOVERY_690 and d690.n_angles == 288 and d690.shape == (381, 288)
    assert 4.2 < d690.crystal_pitch_mm < 4.5  # 4.2 mm crystals plus gaps
    assert 345 < d690.fov_radius_mm < 352  # the 70 cm transaxial field of view
    with pytest.raises(ParameterError, match="discovery-690"):
        preset("biograph")


# --- projections ---------------------------------------------------------------------------------------------------


def test_activity_line_integrals_agree_with_skimage_radon():
    n, v = 128, 2.0
    # skimage rotates about pixel n // 2 with x along columns, y up the rows (see test_xray_physics.skimage_layout).
    grid = VoxelGrid(shape=(n, n), voxel_size_mm=(v, v), origin_mm=(-(n // 2) * v, -(n - 1 - n // 2) * v))
    activity = disc_fraction(grid, 90.0) + (LESION_RATIO - 1) * disc_fraction(grid, 30.0, 40.0, -20.0)
    ours = line_integral_sinogram(activity, grid, RING)
    theta, s = RING.lor_geometry()
    angles = np.unique(theta)
    theirs_at = radon(activity.T[::-1], theta=np.rad2deg(angles), circle=True) * v  # pixels -> mm
    theirs = np.empty_like(ours)
    for i, angle in enumerate(angles):
        sel = theta == angle
        theirs[sel] = np.interp(s[sel], v * (np.arange(n) - n // 2), theirs_at[:, i])
    # Differences: radon's bilinear rotation and our interpolation of its sinogram to the LORs' offsets.
    assert np.linalg.norm(ours - theirs) / np.linalg.norm(theirs) < 0.01  # measured: 0.62 %


def test_system_matrix_matches_exact_line_integrals():
    grid = VoxelGrid(shape=(40, 56), voxel_size_mm=(5.0, 3.5), origin_mm=(-97.0, -96.0))
    image = np.random.default_rng(5).random(grid.shape)
    starts, ends, _ = RING.lors()
    exact = line_integrals(image, starts_mm=starts.reshape(-1, 2), ends_mm=ends.reshape(-1, 2),
                           voxel_size_mm=grid.voxel_size_mm, origin_mm=grid.origin_mm)
    ours = system_matrix(grid, RING) @ image.ravel()
    assert np.abs(ours - exact).max() < 1e-5 * exact.max()  # float32 tracer vs float64 matrix
    model = SystemModel(grid, RING)
    y = np.random.default_rng(6).random(RING.shape)
    assert np.isclose((model.forward(image) * y).sum(), (image * model.back(y)).sum(), rtol=1e-12)  # adjoint


def test_water_attenuation_at_511_kev_matches_xraydb():
    # xraydb (Elam tables): water 0.0960 cm^2/g at 511 keV, i.e. 0.00960 /mm at 1 g/cm^3.
    assert abs(MU_WATER / 0.00960 - 1) < 0.005


def test_attenuation_factors_equal_chord_through_water_disc():
    grid = VoxelGrid.centred((500, 500), 0.5)
    factors = attenuation_factors(MU_WATER * disc_fraction(grid, 100.0), grid, RING)
    s = RING.lor_geometry()[1]
    inner = np.abs(s) < 70.0  # chords of at least 1.4 r: voxelisation of the edge stays small
    expected = np.exp(-2 * np.sqrt(100.0**2 - s[inner] ** 2) * MU_WATER)
    assert np.abs(factors[inner] / expected - 1).max() < 0.005  # measured: 0.37 %
    assert np.all(factors[np.abs(s) > 101.0] == 1.0)


# --- Monte Carlo ----------------------------------------------------------------------------------------------------


def chi_square(counts: np.ndarray, expected: np.ndarray, minimum: float = 20.0) -> tuple[float, int, float]:
    sel = expected >= minimum
    chi2 = float(((counts[sel] - expected[sel]) ** 2 / expected[sel]).sum())
    return chi2, int(sel.sum()), float(scipy.stats.chi2.sf(chi2, sel.sum()))


def test_counts_agree_with_expected_counts(acquisition):
    activity, mu, sinogram = acquisition
    expected = expected_counts(activity, mu, GRID, RING, n_events=4_000_000)
    chi2, dof, p = chi_square(sinogram, expected)
    # measured: chi2/dof = 1.011 over 13,920 bins, p = 0.19 (with oversample=3 in expected_counts: 1.003, p = 0.40)
    assert dof > 10_000 and p > 0.001
    assert abs(sinogram.sum() / expected.sum() - 1) < 4 / np.sqrt(expected.sum())
    # LORs passing outside the water disc get nothing: no scatter, no randoms by default.
    assert sinogram[np.abs(RING.lor_geometry()[1]) > 100.0].sum() == 0


def test_scatter_keeps_trues_exact_and_adds_a_plausible_scatter_fraction():
    activity, mu = lesion_phantom(GRID)
    result = simulate_batch(activity, mu, GRID, RING, n_events=1_500_000, seed=9, batch_index=0, scatter=True)
    trues = result.sinogram - result.scatter
    expected = expected_counts(activity, mu, GRID, RING, n_events=1_500_000)
    chi2, dof, p = chi_square(trues, expected)
    assert p > 0.001  # Woodcock tracking samples the same survival as exact ray tracing; measured p = 0.52
    fraction = result.n_scatter / (result.n_scatter + result.n_trues)
    # In-plane single scatter, 425 keV threshold, 20 cm water disc (NEMA 3-D scatter fractions: 30-45 %).
    assert 0.2 < fraction < 0.45  # measured: 0.32
    outside = np.abs(RING.lor_geometry()[1]) > 100.0  # LORs missing the water disc see only scatter
    assert result.scatter[outside].sum() > 0 and trues[outside].sum() == 0


def test_klein_nishina_sampling_matches_the_cross_section():
    def cross_section(c):  # d sigma / d Omega at 511 keV (k = 1) up to a constant; E'/E = 1 / (2 - c)
        return (2 - c) ** -2 * (1 / (2 - c) + (2 - c) - (1 - c * c))

    norm = scipy.integrate.quad(cross_section, -1, 1)[0]
    mean = scipy.integrate.quad(lambda c: c * cross_section(c), -1, 1)[0] / norm  # 0.2914
    in_window = scipy.integrate.quad(cross_section, 2 - 511 / 425, 1)[0] / norm  # E' >= 425 keV: 0.2686
    n = 400_000
    c = scatter.klein_nishina_cos(np.random.default_rng(0).random(n))
    assert abs(c.mean() - mean) < 4 * c.std() / np.sqrt(n)
    assert abs((c >= 2 - 511 / 425).mean() - in_window) < 4 * np.sqrt(in_window * (1 - in_window) / n)


def test_batch_stream_is_the_spawned_child_whatever_the_number_of_batches():
    for n in (4, 11):
        child = np.random.default_rng(np.random.SeedSequence(77).spawn(n)[3])
        assert np.array_equal(batch_rng(77, 3).random(5), child.random(5))


def test_split_run_merges_bit_for_bit():
    activity, mu = lesion_phantom(GRID)
    options = dict(n_events=900_000, events_per_batch=150_000, seed=31, scatter=True, randoms_fraction=0.1,
                   list_mode=True)
    whole = simulate(activity, mu, GRID, RING, **options)
    first = simulate(activity, mu, GRID, RING, batches=range(2), **options)
    second = simulate(activity, mu, GRID, RING, batches=[5, 3, 4, 2], **options)
    for part in ("sinogram", "scatter", "randoms"):
        assert np.array_equal(merge(second + first, part=part), merge(whole, part=part))
    assert np.array_equal(merge([merge(first), merge(second)]), merge(whole))
    assert merge(whole).sum() > 0 and merge(whole, part="randoms").sum() > 0


def test_determinism_and_seed_dependence():
    activity, mu = lesion_phantom(GRID)
    runs = [simulate_batch(activity, mu, GRID, RING, n_events=200_000, seed=s, batch_index=1, workers=w)
            for s, w in ((5, 1), (5, 2), (6, None))]
    assert np.array_equal(runs[0].sinogram, runs[1].sinogram)  # threads do not change results
    assert not np.array_equal(runs[0].sinogram, runs[2].sinogram)


def test_list_mode_histograms_to_the_sinogram():
    activity, mu = lesion_phantom(GRID)
    result = simulate_batch(activity, mu, GRID, RING, n_events=300_000, seed=3, batch_index=(2, 0), scatter=True,
                            randoms_fraction=0.3, list_mode=True)
    assert result.list_mode.dtype == np.int32 and len(result.list_mode) == result.sinogram.sum()
    assert np.array_equal(histogram(result.list_mode, RING), result.sinogram)
    assert result.batch_index == (2, 0)


def test_randoms_are_a_uniform_fraction_of_trues():
    activity, mu = lesion_phantom(GRID)
    result = simulate_batch(activity, mu, GRID, RING, n_events=1_000_000, seed=4, batch_index=0,
                            randoms_fraction=0.5)
    assert abs(result.n_randoms - 0.5 * result.n_trues) < 4 * np.sqrt(0.5 * result.n_trues)
    mean = result.n_randoms / RING.n_bins
    chi2 = ((result.randoms - mean) ** 2 / mean).sum()
    assert scipy.stats.chi2.sf(chi2, RING.n_bins - 1) > 0.001


def test_positron_range_and_noncollinearity_blur_a_point_source():
    grid = VoxelGrid.centred((41, 41), 0.5)
    activity = np.zeros(grid.shape)
    activity[20, 20] = 1.0  # a 0.5 mm point at the centre, in air

    def spread(**options):
        sino = simulate_batch(activity, np.zeros(grid.shape), grid, RING, n_events=60_000, seed=1, batch_index=0,
                              **options).sinogram
        rho = RING.rho[:, None] * np.ones(RING.n_angles)
        return np.sqrt((sino * rho**2).sum() / sino.sum())

    sharp = spread()
    assert spread(noncollinearity_fwhm_deg=0.5) > 1.2 * sharp
    assert spread(positron_range_fwhm_mm=3.0) > 1.2 * sharp


# --- reconstruction -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(acquisition):
    _, mu, _ = acquisition
    return SystemModel(GRID, RING, mu_511=mu), SystemModel(GRID, RING)


def regions() -> dict[str, np.ndarray]:
    to_lesion = distance(GRID, *LESION[:2])
    background = (distance(GRID) < 80.0) & (to_lesion > LESION[2] + 15.0)
    return {"lesion": to_lesion < LESION[2] - 10.0, "background": background,
            "centre": distance(GRID) < 15.0, "rim": background & (distance(GRID) > 60.0)}


@pytest.mark.parametrize("n_iterations, n_subsets", [(60, 1), (8, 8)])
def test_reconstruction_recovers_lesion_contrast(acquisition, models, n_iterations, n_subsets):
    activity, _, sinogram = acquisition
    image = osem(sinogram, models[0], n_iterations=n_iterations, n_subsets=n_subsets)
    roi = regions()
    ratio = image[roi["lesion"]].mean() / image[roi["background"]].mean()
    assert abs(ratio / LESION_RATIO - 1) < 0.10  # measured: 3.995 (MLEM 60), 3.968 (OSEM 8 x 8)
    assert abs((ratio - 1) / (LESION_RATIO - 1) - 1) < 0.10  # contrast recovery coefficient
    # Decays per voxel: the background level matches the truth once attenuation is corrected.
    truth = activity * 4_000_000 / activity.sum()
    assert abs(image[roi["background"]].mean() / truth[roi["background"]].mean() - 1) < 0.05


def test_without_attenuation_correction_the_centre_is_depressed(acquisition, models):
    _, _, sinogram = acquisition
    roi = regions()
    flatness = [image[roi["centre"]].mean() / image[roi["rim"]].mean()
                for image in (mlem(sinogram, m, n_iterations=40) for m in models)]
    assert abs(flatness[0] - 1) < 0.08  # measured: 1.005 with attenuation correction
    assert flatness[1] < 0.6  # measured: 0.33 without


def test_osem_with_additive_randoms_term():
    activity, mu = lesion_phantom(GRID)
    result = simulate_batch(activity, mu, GRID, RING, n_events=1_000_000, seed=8, batch_index=0,
                            randoms_fraction=1.0)
    model = SystemModel(GRID, RING, mu_511=mu)
    known = result.n_randoms / RING.n_bins
    roi = regions()
    ratios = []
    for additive in (known, None):
        image = osem(result.sinogram, model, n_iterations=6, n_subsets=8, additive=additive)
        ratios.append(image[roi["lesion"]].mean() / image[roi["background"]].mean())
    # Measured: 3.96 with the randoms term, 3.10 without (randoms add a flat pedestal).
    assert abs(ratios[0] / LESION_RATIO - 1) < 0.10 and ratios[1] < 0.9 * ratios[0]


# --- parameters -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    dict(n_detectors=383), dict(n_detectors=2), dict(radius_mm=-1.0), dict(crystal_width_mm=5.0),
    dict(n_radial=384), dict(n_radial=0), dict(energy_window_kev=(520.0, 650.0)), dict(n_detectors=384.0),
])
def test_invalid_scanner_raises(fields):
    base = dict(radius_mm=300.0, n_detectors=384, crystal_width_mm=4.6, n_radial=181)
    with pytest.raises(ParameterError):
        RingScanner(**{**base, **fields})


@pytest.mark.parametrize("options", [
    dict(n_events=-1), dict(n_events=1.5), dict(seed=-3), dict(batch_index=-1), dict(batch_index=1.0),
    dict(batch_index=()), dict(randoms_fraction=-0.1),
    dict(positron_range_fwhm_mm=float("nan")), dict(noncollinearity_fwhm_deg=45.0),
])
def test_invalid_simulation_parameters_raise(options):
    activity, mu = lesion_phantom(GRID)
    with pytest.raises(ParameterError):
        simulate_batch(activity, mu, GRID, RING, **{**dict(n_events=10, seed=1, batch_index=0), **options})


def test_invalid_inputs_raise():
    activity, mu = lesion_phantom(GRID)
    kw = dict(n_events=10, seed=1, batch_index=0)
    with pytest.raises(ParameterError):
        simulate_batch(activity[:10], mu, GRID, RING, **kw)
    with pytest.raises(ParameterError):
        simulate_batch(-activity, mu, GRID, RING, **kw)
    with pytest.raises(ParameterError):
        simulate_batch(activity, mu, VoxelGrid.centred((64, 64, 4), 4.0), RING, **kw)
    with pytest.raises(SimulationError):
        simulate_batch(np.zeros(GRID.shape), mu, GRID, RING, **kw)
    with pytest.raises(SimulationError, match="beyond the detector ring"):
        simulate_batch(np.ones((64, 64)), mu, VoxelGrid.centred((64, 64), 8.0), RING, **kw)
    with pytest.raises(ParameterError):
        simulate(activity, mu, GRID, RING, n_events=100, seed=1, events_per_batch=50, batches=[2])
    with pytest.raises(ParameterError):
        merge([np.zeros((2, 2), np.int64), np.zeros((3, 2), np.int64)])
    with pytest.raises(ParameterError):
        osem(np.ones(RING.shape), SystemModel(VoxelGrid.centred((8, 8), 20.0), RING), n_iterations=0)
    with pytest.raises(ParameterError):
        RING.lors(0)


@pytest.mark.parametrize("module", [scanner, projector, emission, recon, scatter])
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
