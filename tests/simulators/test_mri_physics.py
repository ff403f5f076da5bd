"""MRI physics: Bloch solver against the closed forms, k-space image formation, noise statistics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from simulators.mri import bloch, kspace, sequences, signal
from simulators.mri.sequences import ADC, FreePrecession, HardPulse, ShapedPulse, Spoiler
from vipkb.errors import ParameterError, SimulationError

# The relaxation grid every sequence is checked on, as one array of isochromats.
T1 = np.array([300.0, 800.0, 1500.0, 2500.0])[:, None]
T2 = np.array([40.0, 80.0, 200.0])[None, :]
PD = 0.8


def relative_error(bloch_echo: np.ndarray, analytic: np.ndarray) -> float:
    return float(np.max(np.abs(np.abs(bloch_echo) - analytic) / analytic))


def test_bloch_matches_spin_echo_formula():
    worst = 0.0
    for tr in (300.0, 800.0, 2500.0):
        for te in (10.0, 40.0, 100.0):
            echoes = bloch.simulate(sequences.spin_echo_events(tr, te), t1=T1, t2=T2, pd=PD)
            worst = max(worst, relative_error(echoes[-1], signal.spin_echo(PD, T1, T2, tr=tr, te=te)))
    assert worst < 1e-10


def test_bloch_matches_spoiled_gradient_echo_formula():
    worst = 0.0
    for tr, te in ((8.0, 3.0), (30.0, 5.0), (150.0, 10.0), (600.0, 20.0)):
        for flip in (5.0, 15.0, 40.0, 90.0):
            events = sequences.gradient_echo_events(tr, te, flip, t1_max_ms=2500.0)
            echoes = bloch.simulate(events, t1=T1, t2=T2, pd=PD)
            expected = signal.gradient_echo(PD, T1, T2, tr=tr, te=te, flip_deg=flip)
            worst = max(worst, relative_error(echoes[-1], expected))
    # Limited by the approach to steady state the builder allows (1e-4).
    assert worst < 2e-4


def test_bloch_matches_inversion_recovery_formula():
    worst = 0.0
    for tr in (2000.0, 5000.0):
        for te in (15.0, 60.0):
            for ti in (50.0, 300.0, 900.0, 1800.0):
                echoes = bloch.simulate(sequences.inversion_recovery_events(tr, te, ti), t1=T1, t2=T2, pd=PD)
                expected = signal.inversion_recovery(PD, T1, T2, tr=tr, te=te, ti=ti)
                worst = max(worst, relative_error(echoes[-1], expected))
    assert worst < 1e-9


def test_background_with_zero_relaxation_times_gives_zero_signal():
    pd, t1, t2 = np.array([0.0, 1.0]), np.array([0.0, 800.0]), np.array([np.nan, 80.0])
    for value in (signal.spin_echo(pd, t1, t2, tr=500.0, te=20.0),
                  signal.gradient_echo(pd, t1, t2, tr=20.0, te=5.0, flip_deg=20.0),
                  signal.inversion_recovery(pd, t1, t2, tr=2000.0, te=20.0, ti=300.0),
                  np.abs(bloch.simulate(sequences.spin_echo_events(500.0, 20.0), t1=t1, t2=t2, pd=pd)[-1])):
        assert value[0] == 0.0 and value[1] > 0.0


def test_spin_echo_refocuses_static_off_resonance_and_gradient_echo_does_not():
    df = np.linspace(-100.0, 100.0, 401)
    se = bloch.simulate(sequences.spin_echo_events(500.0, 20.0), t1=800.0, t2=80.0, off_resonance_hz=df)[-1]
    assert abs(se.mean()) == pytest.approx(signal.spin_echo(1.0, 800.0, 80.0, tr=500.0, te=20.0), rel=1e-9)
    gre = bloch.simulate(sequences.gradient_echo_events(500.0, 20.0, 90.0), t1=800.0, t2=80.0,
                         off_resonance_hz=df)[-1]
    dephasing = abs(np.exp(-2j * np.pi * df * 20e-3).mean())
    assert dephasing < 0.1
    expected = signal.gradient_echo(1.0, 800.0, 80.0, tr=500.0, te=20.0, flip_deg=90.0) * dephasing
    assert abs(gre.mean()) == pytest.approx(expected, rel=1e-6)


def test_bipolar_gradient_forms_an_echo_at_equal_areas():
    x = np.linspace(-5.0, 5.0, 101)
    positions = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=-1)
    events = (HardPulse(flip_deg=90.0), FreePrecession(duration_ms=2.0, gradient_mt_m=(10.0, 0.0, 0.0)), ADC(),
              FreePrecession(duration_ms=2.0, gradient_mt_m=(-10.0, 0.0, 0.0)), ADC())
    dephased, echo = bloch.simulate(events, t1=np.inf, t2=np.inf, positions_mm=positions)
    assert abs(dephased.mean()) < 0.05
    np.testing.assert_allclose(echo, 1j, atol=1e-12)


def test_time_stepped_rectangular_pulse_gives_the_exact_rotation():
    flip, duration, n = 30.0, 1.0, 100
    b1 = flip / (360.0 * sequences.GAMMA_BAR_HZ_PER_UT * duration * 1e-3)
    pulse = ShapedPulse(b1_ut=[b1] * n, dt_ms=duration / n)
    assert pulse.flip_deg == pytest.approx(flip)
    df = np.array([0.0, 500.0])
    m = bloch.simulate((pulse, ADC()), t1=np.inf, t2=np.inf, off_resonance_hz=df)[0]
    # Constant effective field: stepping must compose to one rotation about it.
    w1, dw = 2 * np.pi * sequences.GAMMA_BAR_HZ_PER_UT * b1, 2 * np.pi * df[1]
    theta = np.hypot(w1, dw) * duration * 1e-3
    expected = bloch.rotation_matrix(np.array([w1, 0.0, dw]) / np.hypot(w1, dw), theta) @ [0.0, 0.0, 1.0]
    np.testing.assert_allclose(m, [1j * np.sin(np.deg2rad(flip)), expected[0] + 1j * expected[1]], atol=1e-12)


def test_sinc_pulse_selects_the_slice_it_was_designed_for():
    pulse = sequences.sinc_pulse(10.0, duration_ms=2.0, time_bandwidth=4.0, n_samples=200, slice_thickness_mm=5.0)
    z = np.linspace(-10.0, 10.0, 801)
    positions = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=-1)
    rephase = FreePrecession(duration_ms=1.0, gradient_mt_m=(0.0, 0.0, -pulse.gradient_mt_m[2]))
    m = bloch.simulate((pulse, rephase, ADC()), t1=np.inf, t2=np.inf, positions_mm=positions)[0]
    profile = np.abs(m)
    assert profile[400] == pytest.approx(np.sin(np.deg2rad(10.0)), rel=1e-9)
    inside = z[profile >= profile.max() / 2]
    assert inside.max() - inside.min() == pytest.approx(5.0, rel=0.03)
    assert np.ptp(np.angle(m[np.abs(z) < 1.5])) < 0.01


def test_repeated_shaped_pulse_propagator_equals_stepping_and_formula():
    b1 = 30.0 / (360.0 * sequences.GAMMA_BAR_HZ_PER_UT * 0.2e-3)

    def repetition() -> tuple:
        # New objects per repetition: every pulse is played by stepping.
        return (Spoiler(), ShapedPulse(b1_ut=[b1] * 20, dt_ms=0.01), FreePrecession(duration_ms=4.9), ADC(),
                FreePrecession(duration_ms=24.9))

    n_tr = sequences.gradient_echo_repetitions(30.0, 30.0, t1_max_ms=2500.0)
    stepped = bloch.simulate([e for _ in range(n_tr) for e in repetition()], t1=T1, t2=T2)
    propagated = bloch.simulate(repetition() * n_tr, t1=T1, t2=T2)
    np.testing.assert_allclose(propagated, stepped, rtol=1e-10, atol=1e-13)
    expected = signal.gradient_echo(1.0, T1, T2, tr=30.0, te=5.0, flip_deg=30.0)
    assert relative_error(propagated[-1], expected) < 0.01


def two_tissue_phantom() -> tuple[np.ndarray, float]:
    """64 x 64 x 4 object, left half white matter, right half grey matter; SE 500/20."""
    labels = np.zeros((64, 64, 4), dtype=int)
    labels[32:] = 1
    table = signal.spin_echo(np.array([0.7, 0.8]), np.array([500.0, 800.0]), np.array([70.0, 80.0]),
                             tr=500.0, te=20.0)
    return table[labels], float(table[1] / table[0])


@pytest.mark.parametrize("matrix", [(64, 64), (32, 32)], ids=["native", "truncated"])
def test_uniform_regions_keep_the_analytic_contrast(matrix):
    obj, ratio = two_tissue_phantom()
    k = kspace.acquire(obj, voxel_size_mm=(1.0, 1.0, 3.0), fov_mm=(64.0, 64.0), matrix=matrix,
                       slice_thickness_mm=3.0, slice_positions_mm=[0.0], noise_std=0.001,
                       rng=np.random.default_rng(7))
    image = np.abs(kspace.reconstruct(k))[:, :, 0]
    q = matrix[0] // 4
    left, right = image[q - 2:q + 2, 4:-4].mean(), image[3 * q - 2:3 * q + 2, 4:-4].mean()
    assert right / left == pytest.approx(ratio, rel=0.01)
    assert left == pytest.approx(obj[16, 16, 0], rel=0.01)


def test_slice_profile_averages_partial_volumes():
    obj = np.broadcast_to(np.array([1.0, 2.0, 3.0, 4.0]), (8, 8, 4))
    k = kspace.acquire(obj, voxel_size_mm=(1.0, 1.0, 1.0), fov_mm=(8.0, 8.0), matrix=(8, 8),
                       slice_thickness_mm=1.0, slice_positions_mm=[0.0, 0.5, 2.0])
    np.testing.assert_allclose(kspace.reconstruct(k)[4, 4], [2.5, 3.0, 2.0], atol=1e-12)


def test_background_is_rayleigh_and_signal_is_rician():
    sigma, amplitude = 0.05, 0.075
    obj = np.zeros((128, 128, 4))
    obj[32:96, 32:96] = amplitude
    k = kspace.acquire(obj, voxel_size_mm=(1.0, 1.0, 1.0), fov_mm=(128.0, 128.0), matrix=(128, 128),
                       slice_thickness_mm=1.0, slice_positions_mm=[-1.5, -0.5, 0.5, 1.5], noise_std=sigma,
                       rng=np.random.default_rng(2024))
    magnitude = np.abs(kspace.reconstruct(k))
    background = np.concatenate([magnitude[:24].ravel(), magnitude[104:].ravel()])
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.03)
    assert scipy.stats.kstest(background, "rayleigh", args=(0.0, sigma)).pvalue > 0.01
    inside = magnitude[40:88, 40:88].ravel()
    rician_mean = scipy.stats.rice.mean(amplitude / sigma, scale=sigma)
    assert inside.mean() == pytest.approx(rician_mean, rel=0.01)
    assert abs(inside.mean() / amplitude - 1) > 0.1  # the bias a Gaussian model would miss


def test_field_of_view_smaller_than_object_wraps_around():
    obj = np.zeros((64, 32, 1))
    obj[60, 10, 0] = 1.0  # x = 28.5 mm from the centre
    k = kspace.acquire(obj, voxel_size_mm=(1.0, 1.0, 1.0), fov_mm=(48.0, 32.0), matrix=(48, 32),
                       slice_thickness_mm=1.0, slice_positions_mm=[0.0])
    image = kspace.reconstruct(k)[:, :, 0]
    # Image pixel j sits at (j - 23.5) mm; 28.5 mm folds to 28.5 - 48 = -19.5 mm, pixel 4.
    assert np.unravel_index(np.argmax(np.abs(image)), image.shape) == (4, 10)
    assert abs(image[4, 10]) == pytest.approx(1.0, abs=1e-12)


def test_fov_off_the_voxel_grid_uses_the_exact_dft():
    obj, _ = two_tissue_phantom()
    common = dict(voxel_size_mm=(1.0, 1.0, 3.0), matrix=(40, 48), slice_thickness_mm=3.0, slice_positions_mm=[0.0])
    on_grid = kspace.acquire(obj, fov_mm=(60.0, 64.0), **common)
    off_grid = kspace.acquire(obj, fov_mm=(60.0 * (1 + 1e-7), 64.0), **common)
    np.testing.assert_allclose(off_grid, on_grid, rtol=0, atol=1e-4 * np.abs(on_grid).max())


def gaussian_blob(shape: tuple[int, int], centre: tuple[float, float], width: float) -> np.ndarray:
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * width**2))[:, :, None]


def centroid(image: np.ndarray) -> np.ndarray:
    grids = np.meshgrid(*(np.arange(n) for n in image.shape), indexing="ij")
    return np.array([(g * image).sum() / image.sum() for g in grids])


def test_chemical_shift_moves_an_object_by_df_over_bandwidth_pixels():
    obj = gaussian_blob((64, 64), (32.0, 32.0), 2.0)
    common = dict(voxel_size_mm=(1.0, 1.0, 1.0), fov_mm=(64.0, 64.0), matrix=(64, 64), slice_thickness_mm=1.0,
                  slice_positions_mm=[0.0], bandwidth_hz_per_pixel=100.0)
    shifted = kspace.reconstruct(kspace.acquire(obj, off_resonance_hz=250.0, **common))[:, :, 0].real
    np.testing.assert_allclose(centroid(shifted), [34.5, 32.0], atol=1e-6)
    # Water stays, fat (-3 bandwidths) moves exactly three pixels towards -readout.
    water, fat = gaussian_blob((64, 64), (20.0, 20.0), 1.5), gaussian_blob((64, 64), (44.0, 44.0), 1.5)
    df = np.where(fat > water, -300.0, 0.0)
    image = kspace.reconstruct(kspace.acquire(water + fat, off_resonance_hz=df, **common))
    moved = (water + fat) * (df != 0)
    expected = water + fat - moved + np.roll(moved, -3, axis=0)
    np.testing.assert_allclose(image, expected, atol=1e-12)


def test_same_seed_same_bytes_different_seed_differs():
    obj, _ = two_tissue_phantom()

    def run(seed: int, workers: int | None = None) -> bytes:
        k = kspace.acquire(obj, voxel_size_mm=(1.0, 1.0, 3.0), fov_mm=(64.0, 64.0), matrix=(48, 64),
                           slice_thickness_mm=3.0, slice_positions_mm=[-1.5, 1.5], noise_std=0.01,
                           rng=np.random.default_rng(seed), workers=workers)
        return kspace.reconstruct(k, workers=workers).tobytes()

    assert run(1) == run(1) == run(1, workers=2)
    assert run(1) != run(2)


@pytest.mark.parametrize(("fov", "matrix"), [((40.0, 45.0), (40, 30)), ((40.0, 45.0), (20, 30)),
                                             ((41.3, 45.0), (20, 30))], ids=["native", "coarser", "off-grid"])
def test_image_affine_puts_an_object_where_the_object_affine_does(fov, matrix):
    vox = np.array([1.0, 1.5, 2.0])
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) * vox
    affine[:3, 3] = [-12.0, 30.0, 7.5]
    obj = np.repeat(gaussian_blob((40, 30), (25.3, 11.7), 2.5), 10, axis=2) * (np.arange(10) == 4)
    positions = (np.arange(10) - 4.5) * 2.0
    geometry = dict(fov_mm=fov, matrix=matrix, slice_positions_mm=positions, slice_thickness_mm=2.0)
    image = kspace.reconstruct(kspace.acquire(obj, voxel_size_mm=vox, **geometry)).real
    world_object = affine @ [*centroid(obj), 1.0]
    world_image = kspace.image_affine(affine, obj.shape, **geometry) @ [*centroid(image), 1.0]
    # Exact at the native matrix; a coarser one loses the blob's faint high frequencies.
    np.testing.assert_allclose(world_image, world_object, atol=1e-3)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: signal.spin_echo(1.0, 800.0, 80.0, tr=20.0, te=30.0), "TE must be shorter than TR"),
    (lambda: signal.spin_echo(1.0, -800.0, 80.0, tr=500.0, te=20.0), "T1 must be a positive finite time"),
    (lambda: signal.spin_echo(-1.0, 800.0, 80.0, tr=500.0, te=20.0), "proton density must be finite and >= 0"),
    (lambda: signal.gradient_echo(1.0, 800.0, 40.0, tr=20.0, te=5.0, flip_deg=200.0), "between 0 and 180"),
    (lambda: signal.inversion_recovery(1.0, 800.0, 80.0, tr=1000.0, te=20.0, ti=990.0), r"TI \+ TE must be shorter"),
    (lambda: sequences.spin_echo_events(500.0, 20.0, n_tr=0), "n_tr must be a positive integer"),
    (lambda: sequences.gradient_echo_events(10.0, 12.0, 20.0), "te must be shorter than tr"),
    (lambda: FreePrecession(duration_ms=-1.0), "duration_ms must be >= 0"),
    (lambda: ShapedPulse(b1_ut=[], dt_ms=0.01), "at least one finite B1 sample"),
    (lambda: bloch.simulate([ADC()], t1=0.0, t2=80.0), "T1 must be > 0 ms"),
    (lambda: kspace.acquire(np.ones((4, 4, 1)), voxel_size_mm=(1, 1, 1), fov_mm=(-4, 4), matrix=(4, 4),
                            slice_thickness_mm=1.0, slice_positions_mm=[0.0]), "fov_mm must be 2 positive"),
    (lambda: kspace.acquire(np.ones((4, 4, 1)), voxel_size_mm=(1, 1, 1), fov_mm=(4, 4), matrix=(4, 0),
                            slice_thickness_mm=1.0, slice_positions_mm=[0.0]), "matrix must be 2 positive integers"),
    (lambda: kspace.acquire(np.ones((4, 4, 1)), voxel_size_mm=(1, 1, 1), fov_mm=(4, 4), matrix=(4, 4),
                            slice_thickness_mm=1.0, slice_positions_mm=[0.0], noise_std=0.1), "needs rng="),
    (lambda: kspace.acquire(np.ones((4, 4, 1)), voxel_size_mm=(1, 1, 1), fov_mm=(4, 4), matrix=(4, 4),
                            slice_thickness_mm=1.0, slice_positions_mm=[0.0], off_resonance_hz=200.0),
     "bandwidth_hz_per_pixel must be a positive number"),
    (lambda: kspace.image_affine(np.eye(4), (4, 4, 4), fov_mm=(4, 4), matrix=(4, 4), slice_positions_mm=[0, 1, 3],
                                 slice_thickness_mm=1.0), "equally spaced"),
])
def test_invalid_parameters_raise_parameter_error(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_impossible_inputs_raise_simulation_error():
    with pytest.raises(SimulationError, match="3-D array"):
        kspace.acquire(np.ones((4, 4)), voxel_size_mm=(1, 1, 1), fov_mm=(4, 4), matrix=(4, 4),
                       slice_thickness_mm=1.0, slice_positions_mm=[0.0])
    with pytest.raises(SimulationError, match="unknown event"):
        bloch.simulate(["not an event"], t1=800.0, t2=80.0)
