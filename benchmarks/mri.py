"""MRI benchmark: the analytic image path against a bare FFT, and the Bloch solver's throughput.

It reports, in one run on one machine:

* the analytic path on a 256 x 256 x 64 labelled object with five tissues
  (steady-state spin-echo signal per tissue, mapped onto the voxels; k-space
  sampling with a 256 x 256 matrix, 64 slices and complex noise;
  reconstruction to a magnitude image), with scipy.fft on one thread and on
  all cores, side by side with a bare ``numpy.fft`` forward + inverse 2-D FFT
  of the same k-space shape (the floor: no physics, no noise);
* the isochromat Bloch solver's throughput (isochromat-steps per second) on a
  time-stepped slice-selective sinc pulse and on a hard-pulse spoiled
  gradient-echo event list, side by side with applying a precomputed 3 x 3
  matrix per isochromat-step (the floor: the rotation without computing it).

Run through ``python benchmarks/simulators.py [--only mri]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from bench_timing import timed

from simulators.mri import bloch, kspace, sequences, signal

SHAPE = (256, 256, 64)
VOXEL_MM = (1.0, 1.0, 2.0)
# Background, fat, CSF, grey and white matter at 1.5 T (PD, T1 ms, T2 ms), brain-phantom-like values.
TISSUES = np.array([(0.0, 0.0, 0.0), (1.0, 350.0, 70.0), (1.0, 2569.0, 329.0), (0.86, 833.0, 83.0),
                    (0.77, 500.0, 70.0)])


def phantom() -> np.ndarray:
    """Nested ellipsoids of tissue labels 1..4 inside an empty background (label 0)."""
    axes = [(np.arange(n) - (n - 1) / 2) * d for n, d in zip(SHAPE, VOXEL_MM, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    labels = np.zeros(SHAPE, dtype=np.uint8)
    for label, (a, b, c) in enumerate([(120, 100, 60), (110, 92, 55), (100, 85, 50), (70, 60, 35)], start=1):
        labels[(x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1.0] = label
    return labels


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls."""
    return timed(fn, repeats)[0]


def analytic_image(labels: np.ndarray, workers: int | None) -> np.ndarray:
    """Signal per tissue, onto the voxels, k-space, reconstruction: the simulator's analytic path."""
    pd, t1, t2 = TISSUES.T
    table = signal.spin_echo(pd, t1, t2, tr=500.0, te=20.0)
    positions = (np.arange(SHAPE[2]) - (SHAPE[2] - 1) / 2) * VOXEL_MM[2]
    k = kspace.acquire(table[labels], voxel_size_mm=VOXEL_MM, fov_mm=(256.0, 256.0), matrix=(256, 256),
                       slice_thickness_mm=VOXEL_MM[2], slice_positions_mm=positions, noise_std=0.01,
                       rng=np.random.default_rng(0), workers=workers)
    return np.abs(kspace.reconstruct(k, workers=workers))


def bare_fft(k: np.ndarray) -> np.ndarray:
    return np.fft.ifft2(np.fft.fft2(k, axes=(0, 1)), axes=(0, 1))


def rows(repeats: int = 3) -> list[tuple[str, ...]]:
    """Benchmark rows (what, measured, ratio to the floor)."""
    labels = phantom()
    k = np.zeros(SHAPE, dtype=complex)
    floor = median_time(lambda: bare_fft(k), repeats)
    ours = median_time(lambda: analytic_image(labels, None), repeats)
    ours_all = median_time(lambda: analytic_image(labels, -1), repeats)
    rng = np.random.default_rng(0)
    noise = median_time(lambda: rng.standard_normal((*SHAPE, 2)), repeats)
    size = "x".join(map(str, SHAPE))
    out = [
        (f"analytic SE image {size}, scipy.fft 1 thread (signal+acquire+noise+reconstruct)",
         f"{ours * 1e3:.0f} ms", f"{ours / floor:.2f}x floor"),
        (f"analytic SE image {size}, scipy.fft and noise on all cores",
         f"{ours_all * 1e3:.0f} ms", f"{ours_all / floor:.2f}x floor"),
        (f"  of which drawing the {2 * np.prod(SHAPE) / 1e6:.1f} M normals of the noise (1 thread)",
         f"{noise * 1e3:.0f} ms", f"{noise / floor:.2f}x floor"),
        (f"numpy.fft fft2 + ifft2 of the {size} k-space (floor)", f"{floor * 1e3:.0f} ms", "1x"),
    ]

    # Bloch: a time-stepped sinc pulse on a line of isochromats, stepped once.
    n_iso = 100_000
    z = np.linspace(-10.0, 10.0, n_iso)
    positions = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=-1)
    pulse = sequences.sinc_pulse(30.0, duration_ms=2.0, n_samples=200, slice_thickness_mm=5.0)
    events = (pulse, sequences.ADC())
    t = median_time(lambda: bloch.simulate(events, t1=800.0, t2=80.0, positions_mm=positions), repeats)
    shaped_rate = n_iso * len(pulse.b1_ut) / t
    rotation = np.random.default_rng(0).standard_normal((3, 3, n_iso))
    m = np.zeros((3, n_iso))

    def rotate_only() -> None:
        for _ in range(len(pulse.b1_ut)):
            m[...] = (rotation * m[None]).sum(axis=1)

    floor_rate = n_iso * len(pulse.b1_ut) / median_time(rotate_only, repeats)
    # Bloch: a hard-pulse spoiled gradient echo to steady state on a T1 x T2 grid.
    t1, t2 = np.meshgrid(np.linspace(200.0, 3000.0, 128), np.linspace(30.0, 300.0, 128), indexing="ij")
    gre = sequences.gradient_echo_events(10.0, 4.0, 15.0, t1_max_ms=3000.0)
    t = median_time(lambda: bloch.simulate(gre, t1=t1, t2=t2), repeats)
    event_rate = t1.size * len(gre) / t
    out += [
        (f"Bloch: sinc pulse, {len(pulse.b1_ut)} time steps x {n_iso:,} isochromats (Rodrigues per step)",
         f"{shaped_rate / 1e6:.1f} M isochromat-steps/s", f"{floor_rate / shaped_rate:.1f}x floor"),
        (f"Bloch: spoiled GRE to steady state, {len(gre):,} events x {t1.size:,} isochromats",
         f"{event_rate / 1e6:.1f} M isochromat-events/s", f"{floor_rate / event_rate:.1f}x floor"),
        ("numpy: apply a precomputed 3x3 rotation per isochromat-step (floor)",
         f"{floor_rate / 1e6:.1f} M isochromat-steps/s", "1x"),
    ]
    return out


EXPLANATION = """\
Why the image path sits above the floor: the floor is one forward and one
inverse FFT and nothing else.  The simulator does those two FFTs too (with
scipy.fft, a little faster than numpy.fft on one thread), plus what numpy
cannot skip: drawing two normals per k-space sample for the noise (about the
price of one FFT, see the row above), gathering the per-tissue signal onto
the voxels, the slice-profile pass and four phase-ramp passes (centring,
half-pixel shift) over the complex volume.  On several cores, scipy.fft's
threads and per-line child generators for the noise bring it close to or
under the single-threaded floor; going further needs fused kernels
(numexpr/numba) that the project does not depend on.
Each time step of a shaped pulse must compute its rotation, different for
every isochromat (the field's z part depends on position and off-resonance):
a square root, a cosine and a sine, then Rodrigues' formula and the
relaxation, about 45 array operations against the floor's 15.  A fused
kernel would remove the temporaries; numpy cannot.  Free precession and hard
pulses reuse per-event factors, so a hard-pulse sequence runs nearer it."""
