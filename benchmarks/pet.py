"""PET benchmark: Monte Carlo emission against its random-number floor, and MLEM/OSEM iteration times.

On one 128 x 128 slice (2 mm voxels: a water disc of radius 100 mm holding
uniform activity with a 4:1 hot lesion) and the GE Discovery 690 ring
(576 crystals, 381 x 288 sinogram), it reports median wall times of

* Monte Carlo emission on one thread, in decays per second (every decay
  counts, detected or not), without and with single Compton scatter;
* the floor those events need: the same random numbers drawn by the same
  ``numpy.random.Generator`` and nothing else (the multinomial split of each
  chunk over the voxels and four uniforms per decay), and the Monte Carlo
  rate as a fraction of it;
* the Monte Carlo on the default thread pool of the ray tracer;
* building the sparse system matrix, and one MLEM and one OSEM (8 subsets)
  iteration with attenuation correction, side by side with one projection
  pair of scikit-image (``radon`` and an unfiltered ``iradon``, 288 views),
  the closest peer of a forward + back projection.

Run through ``python benchmarks/simulators.py [--only pet]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

import numpy as np
from bench_timing import timed
from skimage.transform import iradon, radon

from simulators.pet.emission import CHUNK_EVENTS, batch_rng, simulate_batch
from simulators.pet.projector import SystemModel
from simulators.pet.recon import mlem, osem
from simulators.pet.scanner import DISCOVERY_690
from simulators.threads import default_workers
from simulators.xray.grid import VoxelGrid

N = 128
EVENTS = 1_000_000
MU_WATER_511 = 0.00960  # 1/mm (xraydb: 0.0960 cm^2/g)

EXPLANATION = """\
What is compared: a decay costs four uniforms and its share of a multinomial
split (the floor), then in numpy: its position and direction, the two ring
crossings, crystal look-up and binning, and for the decays that reach two
crystals in the sinogram an exact ray trace of their line through the
attenuation map (simulators.xray.siddon), which takes most of the time; the
floor is a small fraction of the total.  A per-LOR table of attenuation
would skip the tracing but is exact only for lines through crystal centres.
With scatter both photons are tracked by Woodcock steps (a voxel look-up
each) instead, plus the Klein-Nishina draws.  An MLEM iteration is one sparse
forward and one sparse back projection with the exact (Siddon) system matrix;
the peer pair (radon + unfiltered iradon) interpolates instead and is not an
adjoint pair.  A compiled kernel (numba, C or a GPU) is the next step if the
Monte Carlo needs more speed."""


def phantom() -> tuple[VoxelGrid, np.ndarray, np.ndarray]:
    """Grid, activity and 511 keV attenuation of the benchmark slice."""
    grid = VoxelGrid.centred((N, N), 2.0)
    x, y = grid.centres(0)[:, None], grid.centres(1)[None, :]
    r = np.hypot(x, y)
    activity = (r < 90.0).astype(float)
    activity[np.hypot(x - 50.0, y) < 25.0] = 4.0
    return grid, activity, np.where(r < 100.0, MU_WATER_511, 0.0)


def bare_random_numbers(activity: np.ndarray, n_events: int) -> None:
    """The draws of :func:`simulate_batch` without scatter, and nothing else."""
    rng = batch_rng(0, 0)
    voxels = np.flatnonzero(activity)
    p = activity.ravel()[voxels] / activity.sum()
    for start in range(0, n_events, CHUNK_EVENTS):
        n = min(CHUNK_EVENTS, n_events - start)
        rng.multinomial(n, p)
        rng.random((4, n))


def rows(repeats: int = 3) -> list[tuple[str, str, str]]:
    """Benchmark rows ``(what, measured, ratio)``."""
    grid, activity, mu = phantom()
    ring = DISCOVERY_690

    def mc(scatter: bool = False, workers: int | None = 1):
        return simulate_batch(activity, mu, grid, ring, n_events=EVENTS, seed=1, batch_index=0, scatter=scatter,
                              workers=workers)

    t_mc, result = timed(mc, repeats)
    t_scatter, with_scatter = timed(lambda: mc(scatter=True), repeats)
    t_pool, _ = timed(lambda: mc(workers=None), repeats)
    t_rng, _ = timed(lambda: bare_random_numbers(activity, EVENTS), repeats)
    t_build, model = timed(lambda: SystemModel(grid, ring, mu_511=mu), 1)
    sinogram = result.sinogram
    t_mlem, _ = timed(lambda: mlem(sinogram, model, n_iterations=1), repeats)
    osem(sinogram, model, n_iterations=1, n_subsets=8)  # builds the subset matrices once
    t_osem, _ = timed(lambda: osem(sinogram, model, n_iterations=1, n_subsets=8), repeats)
    theta = np.rad2deg(np.pi * 2 * np.arange(ring.n_angles) / ring.n_detectors)
    t_peer, _ = timed(lambda: iradon(radon(activity, theta=theta, circle=False), theta=theta, filter_name=None,
                                     circle=False, output_size=N), repeats)

    def rate(t: float) -> str:
        return f"{EVENTS / t / 1e6:.2f} M decays/s"

    detected = f"{result.n_trues / EVENTS:.1%} counted"
    return [
        (f"Monte Carlo, {N}x{N} slice, {ring.n_detectors}-crystal ring, 1 thread ({detected})", rate(t_mc),
         f"{t_rng / t_mc:.1%} of the floor's rate"),
        ("  floor: the same random numbers only (multinomial + 4 uniforms/decay)", rate(t_rng), "1x"),
        (f"  with single Compton scatter, 1 thread (scatter fraction "
         f"{with_scatter.n_scatter / (with_scatter.n_scatter + with_scatter.n_trues):.0%})", rate(t_scatter),
         f"{t_rng / t_scatter:.1%} of the floor's rate"),
        (f"  ray tracer on {default_workers()} threads", rate(t_pool), f"{t_mc / t_pool:.2f}x the 1-thread rate"),
        (f"system matrix {ring.n_radial}x{ring.n_angles} bins x {N}x{N} voxels ({model.matrix.nnz / 1e6:.1f} M "
         "non-zeros)", f"{t_build:.2f} s", "once per grid, ring and mu map"),
        ("MLEM iteration with attenuation correction", f"{t_mlem * 1e3:.0f} ms",
         f"{t_peer / t_mlem:.2f}x {'faster' if t_mlem < t_peer else 'SLOWER'} than radon + iradon"),
        ("OSEM iteration (8 subsets)", f"{t_osem * 1e3:.0f} ms",
         f"{t_peer / t_osem:.2f}x {'faster' if t_osem < t_peer else 'SLOWER'} than radon + iradon"),
        (f"  radon + unfiltered iradon, {N}x{N}, {ring.n_angles} views (peer)", f"{t_peer * 1e3:.0f} ms", "1x"),
    ]
