"""CT benchmark: exact forward projection and FBP against scikit-image's radon/iradon.

On one 512 x 512 slice (the Shepp-Logan phantom) and 720 parallel views over
180 deg with 512 detector bins, it reports median wall times of

* forward projection: VIPKB's exact ray tracing (:func:`simulators.xray.siddon.line_integrals`)
  side by side with ``skimage.transform.radon(circle=True)`` (rotate the image
  with bilinear interpolation, sum columns);
* filtered back-projection: :func:`simulators.xray.fbp.fbp_parallel` side by
  side with ``skimage.transform.iradon`` (same ramp filter, linear
  interpolation), and the two together;
* both also on one thread, to show what the thread pool adds;
* per-material path lengths of the same rays (the polychromatic primitive),
  and rays per second of a 3-D radiograph (256^3 volume, 512 x 512 panel),
  which have no peer in scikit-image.

The geometry is laid out so that both compute the same line integrals (see
``skimage_layout`` in ``tests/simulators/test_xray_physics.py``); their
relative L2 differences are printed as well.

Run through ``python benchmarks/simulators.py [--only ct]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

import numpy as np
from bench_timing import ratio, timed
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, rescale

from simulators.threads import default_workers
from simulators.xray.fbp import fbp_parallel
from simulators.xray.geometry import ConeBeamRadiograph, ParallelBeam
from simulators.xray.grid import VoxelGrid
from simulators.xray.siddon import line_integrals, path_lengths

N = 512
VIEWS = 720

EXPLANATION = """\
What is compared: radon rotates the image once per view (compiled bilinear
interpolation) and sums columns; VIPKB computes every ray's exact
intersection length with every pixel it crosses (no interpolation: the
sinograms differ by the blur of radon's rotation, printed above).  Both FBPs
use the same band-limited ramp filter and linear interpolation.  VIPKB is
numpy only: each kernel costs about a dozen array passes and two gathers per
ray and pixel layer, chunked to stay in cache and spread over a thread pool
(numpy releases the GIL in those loops).  A compiled kernel (numba, C or a
GPU) fusing the passes into one loop is the next step if more speed is
needed.  Per-label path lengths also pay a scatter-add per run of equal
labels (numpy's bincount holds the GIL, so threads help less there)."""


def rows(repeats: int = 3, workers: int | None = None) -> list[tuple[str, ...]]:
    """Benchmark rows ``(what, measured, ratio to the peer)``, the peers on their own rows."""
    image = rescale(shepp_logan_phantom(), N / 400)
    ours_image = np.ascontiguousarray(image[::-1].T)  # world x along axis 0, y along axis 1
    geometry = ParallelBeam(n_views=VIEWS, n_detectors=N, detector_spacing_mm=1.0,
                            detector_offset_mm=(N - 1) / 2 - N // 2)
    grid = VoxelGrid(shape=(N, N), voxel_size_mm=(1.0, 1.0), origin_mm=(-(N // 2), -(N - 1 - N // 2)))
    starts, ends = geometry.rays(N).flat()
    theta = geometry.angles_deg()

    def forward(w):
        return line_integrals(ours_image, starts_mm=starts, ends_mm=ends, voxel_size_mm=1.0,
                              origin_mm=grid.origin_mm, workers=w).reshape(VIEWS, N).T

    t_fp, sino = timed(lambda: forward(workers), repeats)
    t_fp1, _ = timed(lambda: forward(1), repeats)
    t_sk_fp, sk_sino = timed(lambda: radon(image, theta=theta, circle=True), repeats)
    t_fbp, rec = timed(lambda: fbp_parallel(sk_sino, geometry, grid, workers=workers), repeats)
    t_fbp1, _ = timed(lambda: fbp_parallel(sk_sino, geometry, grid, workers=1), repeats)
    t_sk_fbp, sk_rec = timed(lambda: iradon(sk_sino, theta=theta, circle=True), repeats)
    labels = np.digitize(ours_image, [0.1, 0.25, 0.5, 0.9]).astype(np.int16)
    t_pl, _ = timed(lambda: path_lengths(labels, 5, starts_mm=starts, ends_mm=ends, voxel_size_mm=1.0,
                                         origin_mm=grid.origin_mm, workers=workers), repeats)
    sino_diff = np.linalg.norm(sino - sk_sino) / np.linalg.norm(sk_sino)
    # The two mask the rim of the field of view slightly differently; compare inside it.
    inner = np.hypot(*(np.mgrid[:N, :N] - N // 2)) < N // 2 - 3
    rec_diff = np.linalg.norm((rec[:, ::-1].T - sk_rec)[inner]) / np.linalg.norm(sk_rec[inner])

    n3 = 256
    axes = np.ix_(*(np.arange(n3) - (n3 - 1) / 2,) * 3)
    volume = (sum(a**2 for a in axes) < 100.0**2).astype(np.float32) * np.float32(0.02)
    panel = ConeBeamRadiograph(n_rows=512, n_columns=512, pixel_pitch_mm=0.8, source_to_isocentre_mm=1000.0,
                               source_to_detector_mm=1500.0)
    r_starts, r_ends = panel.rays().flat()
    t_rad, _ = timed(lambda: line_integrals(volume, starts_mm=r_starts, ends_mm=r_ends, voxel_size_mm=1.0,
                                            workers=workers), repeats)

    size = f"{N}x{N}, {VIEWS} views"
    threads = f"{workers or default_workers()} threads"
    return [
        (f"forward projection {size}: VIPKB exact ray tracing, {threads}", f"{t_fp:.2f} s",
         ratio(t_fp, t_sk_fp, "radon")),
        ("  the same on 1 thread", f"{t_fp1:.2f} s", ratio(t_fp1, t_sk_fp, "radon")),
        ("  skimage.transform.radon(circle=True) (peer)", f"{t_sk_fp:.2f} s", "1x"),
        (f"FBP {size}: VIPKB fbp_parallel, {threads}", f"{t_fbp:.2f} s", ratio(t_fbp, t_sk_fbp, "iradon")),
        ("  the same on 1 thread", f"{t_fbp1:.2f} s", ratio(t_fbp1, t_sk_fbp, "iradon")),
        ("  skimage.transform.iradon(circle=True) (peer)", f"{t_sk_fbp:.2f} s", "1x"),
        (f"forward projection + FBP {size}: VIPKB, {threads}", f"{t_fp + t_fbp:.2f} s",
         ratio(t_fp + t_fbp, t_sk_fp + t_sk_fbp, "radon + iradon")),
        ("  radon + iradon (peer)", f"{t_sk_fp + t_sk_fbp:.2f} s", "1x"),
        (f"per-label path lengths (5 labels) {size}, {threads}", f"{t_pl:.2f} s", "no peer"),
        (f"3-D radiograph rays, {n3}^3 volume, 512x512 panel, {threads}",
         f"{len(r_starts) / t_rad / 1e6:.2f} M rays/s", "no peer"),
        ("sinogram vs radon's, relative L2 (exact vs bilinear rotation)", f"{sino_diff:.2%}", "-"),
        ("FBP vs iradon on radon's sinogram, relative L2 inside the FOV", f"{rec_diff:.1e}", "-"),
    ]
