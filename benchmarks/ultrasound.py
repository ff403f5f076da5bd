"""Ultrasound benchmark: pulse-echo RF and delay-and-sum against pymust (a Python port of MUST).

On the same probe (MUST's ``L11-5v``: 128 elements, 7.6 MHz, sampled at
30.4 MHz), one plane wave at 0 degrees and 2,000 scatterers of random
amplitude, uniform over 25.6 mm x 30 mm (5 to 35 mm deep), it reports
median wall times of

* the per-element RF: :func:`simulators.ultrasound.rf.simulate_rf` against
  ``pymust.simus`` (2-D, its defaults);
* beamforming the same RF (pymust's) onto a 256 x 128 grid (depth x lateral)
  at f/1.5 with a uniform aperture, and the envelope:
  :func:`simulators.ultrasound.beamform.delay_and_sum` + ``abs`` against
  ``pymust.rf2iq`` + ``pymust.dasmtx`` (linear interpolation) + the sparse
  product + ``pymust.bmode``;
* both on one thread too, and the totals;
* how closely the two agree: the correlation of the two envelope images of
  the same RF, and of the two simulators' RF envelopes.

Run through ``python benchmarks/simulators.py [--only ultrasound]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

import copy

import numpy as np
import pymust
from bench_timing import ratio, timed
from scipy.signal import hilbert

from simulators.threads import default_workers
from simulators.ultrasound.beamform import delay_and_sum
from simulators.ultrasound.grid import PlaneGrid
from simulators.ultrasound.probe import L11_5V
from simulators.ultrasound.rf import RFData, simulate_rf
from simulators.ultrasound.scatterers import Scatterers
from simulators.ultrasound.transmit import PlaneWave

N_SCATTERERS = 2000
F_NUMBER = 1.5

EXPLANATION = """\
What is compared: pymust's simus sums, for each of ~1,500 frequencies, the
far-field response of every element at every scatterer (frequency-domain,
exact per element, single process by default); VIPKB reduces the transmitted
wave at each scatterer to its envelope peak and writes one closed-form pulse
per scatterer and element, at exact times, in the time domain: ~20 samples
per echo instead of ~1,500 complex products (the model and what it gives up
are in simulators/ultrasound/rf.py).  pymust's dasmtx builds a sparse
delay-and-sum matrix (worth it when one matrix beamforms many frames; here it
is built once per image, as for a single B-mode); VIPKB gathers the upsampled
analytic signal directly, visiting only the elements inside the f-number
aperture.  Both are numpy only; VIPKB's chunks run on a thread pool (numpy
releases the GIL in its element-wise loops, not in the scatter-add of the
RF, np.bincount, which is what limits the thread speed-up).  The images of
the same RF agree closely; the two simulators' RF envelopes differ where the
models do (pulse spectrum: Gaussian vs MUST's windowed sine times a
generalised-normal probe response; one transmitted pulse vs the full sum)."""


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def rows(repeats: int = 3, workers: int | None = None) -> list[tuple[str, str, str]]:
    """Benchmark rows ``(what, measured, ratio to the peer)``, the peers on their own rows."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-12.8, 12.8, N_SCATTERERS)
    z = rng.uniform(5.0, 35.0, N_SCATTERERS)
    amplitude = rng.standard_normal(N_SCATTERERS)
    scatterers = Scatterers(x_mm=x, z_mm=z, amplitude=amplitude)
    transmit = PlaneWave()
    delays = transmit.delays_s(L11_5V)
    param = pymust.getparam("L11-5v")

    def must_simus():
        # simus fills in param.fs: a fresh copy per call, and that copy is the one to use afterwards.
        p = copy.deepcopy(param)
        rf, _ = pymust.simus(x[None] * 1e-3, z[None] * 1e-3, amplitude[None], delays[None], p)
        return rf, p

    t_rf, ours_rf = timed(lambda: simulate_rf(scatterers, L11_5V, delays, workers=workers), repeats)
    t_rf1, _ = timed(lambda: simulate_rf(scatterers, L11_5V, delays, workers=1), repeats)
    t_must_rf, (must_rf, must_param) = timed(must_simus, repeats)

    grid = PlaneGrid(nx=128, nz=256, dx_mm=0.2, dz_mm=30.0 / 255, x0_mm=-12.7, z0_mm=5.0)
    data = RFData(rf=must_rf, fs_hz=must_param.fs, delays_s=delays)

    def ours_das(w):
        return np.abs(delay_and_sum(data, L11_5V, transmit, grid, f_number=F_NUMBER, apodization="boxcar",
                                    workers=w))

    def must_das():
        p = copy.deepcopy(must_param)
        p.fnumber = F_NUMBER
        iq = pymust.rf2iq(must_rf, p)
        xx, zz = np.meshgrid(grid.x_mm() * 1e-3, grid.z_mm() * 1e-3)
        matrix = pymust.dasmtx(1j * np.array(iq.shape), xx, zz, delays[None], p)
        beamformed = (matrix @ iq.flatten(order="F")).reshape(xx.shape, order="F")
        return np.abs(beamformed), pymust.bmode(beamformed, 40)

    t_das, ours_image = timed(lambda: ours_das(workers), repeats)
    t_das1, _ = timed(lambda: ours_das(1), repeats)
    t_must_das, (must_image, _) = timed(must_das, repeats)

    n = min(len(ours_rf.rf), len(must_rf))
    rf_agreement = _correlation(np.abs(hilbert(ours_rf.rf[:n], axis=0)), np.abs(hilbert(must_rf[:n], axis=0)))
    image_agreement = _correlation(ours_image, must_image)
    threads = f"{workers or default_workers()} threads"
    setup = f"L11-5v, plane wave, {N_SCATTERERS:,} scatterers"
    return [
        (f"RF {setup}: VIPKB simulate_rf, {threads}", f"{t_rf:.3f} s", ratio(t_rf, t_must_rf, "simus")),
        ("  the same on 1 thread", f"{t_rf1:.3f} s", ratio(t_rf1, t_must_rf, "simus")),
        ("  pymust.simus (peer)", f"{t_must_rf:.3f} s", "1x"),
        (f"DAS + envelope, 256x128 grid, f/{F_NUMBER}: VIPKB delay_and_sum, {threads}", f"{t_das:.3f} s",
         ratio(t_das, t_must_das, "rf2iq + dasmtx + bmode")),
        ("  the same on 1 thread", f"{t_das1:.3f} s", ratio(t_das1, t_must_das, "rf2iq + dasmtx + bmode")),
        ("  pymust rf2iq + dasmtx + product + bmode (peer)", f"{t_must_das:.3f} s", "1x"),
        (f"RF + DAS + envelope: VIPKB, {threads}", f"{t_rf + t_das:.3f} s",
         ratio(t_rf + t_das, t_must_rf + t_must_das, "pymust")),
        ("  the same on 1 thread", f"{t_rf1 + t_das1:.3f} s", ratio(t_rf1 + t_das1, t_must_rf + t_must_das, "pymust")),
        ("  pymust simus + rf2iq + dasmtx + bmode (peer)", f"{t_must_rf + t_must_das:.3f} s", "1x"),
        ("envelope images of the same RF, VIPKB vs pymust: correlation", f"{image_agreement:.4f}", "-"),
        ("RF envelopes, VIPKB vs pymust simus: correlation", f"{rf_agreement:.3f}", "-"),
    ]
