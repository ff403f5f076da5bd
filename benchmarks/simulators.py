"""Simulator benchmarks: each simulator's hot path beside its peer or its floor, in one run.

* MRI (``benchmarks/mri.py``): the analytic path on a 256 x 256 x 64 model
  against a bare numpy FFT of the same k-space, the Bloch solver's throughput,
  and the whole plugin (model instant in, NIfTI + k-space + preview out) on
  the same model;
* CT (``benchmarks/ct.py``): forward projection + FBP of a 512 x 512 slice at
  720 views against scikit-image ``radon`` + ``iradon``, and radiograph rays/s;
* ultrasound (``benchmarks/ultrasound.py``): the same probe and 2,000
  scatterers against pymust ``simus`` + beamforming;
* PET (``benchmarks/pet.py``): Monte-Carlo events per second per core, as a
  fraction of the bare random-number generation they need, and OSEM
  iterations against scikit-image projections.

Usage: ``python benchmarks/simulators.py [--repeats 3] [--only mri|ct|ultrasound|pet]``.
Ratios matter, not absolute times: the machines are shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

# This file's name would shadow the ``simulators`` package: drop its folder from the path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from vipkb.simulation import ModelInstant  # noqa: E402
from vipkb.simulation.runner import run_simulator  # noqa: E402


def _sibling(name: str) -> ModuleType:
    """Load ``benchmarks/<name>.py`` by path (the folder is not on sys.path) as module ``bench_<name>``."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that the others can import it (bench_timing)
    spec.loader.exec_module(module)
    return module


_sibling("timing")
mri = _sibling("mri")
ct = _sibling("ct")
ultrasound = _sibling("ultrasound")
pet = _sibling("pet")


def plugin_rows(repeats: int) -> list[tuple[str, ...]]:
    """The MRI plugin end to end on the benchmark model, against the same floor as ``mri.rows``."""
    import numpy as np

    labels = mri.phantom()
    tissues = [(f"tissue {i}", {"ProtonDensity [1]": pd, "T1@1.5T [ms]": t1, "T2@1.5T [ms]": t2})
               for i, (pd, t1, t2) in enumerate(mri.TISSUES[1:], start=1)]
    instant = ModelInstant.from_labels(labels, tissues, voxel_size=mri.VOXEL_MM)
    values = {"te": 20.0, "tr": 500.0, "fov_readout": 256.0, "fov_phase": 256.0, "matrix_readout": 256,
              "matrix_phase": 256, "n_slices": mri.SHAPE[2], "slice_thickness": mri.VOXEL_MM[2]}
    k = np.zeros(mri.SHAPE, dtype=complex)
    floor = mri.median_time(lambda: mri.bare_fft(k), repeats)
    run = mri.median_time(lambda: run_simulator("mri", instant, values, seed=0), repeats)
    result = run_simulator("mri", instant, values, seed=0)
    files = mri.median_time(result.files, repeats)
    return [("MRI plugin run on the same model as a ModelInstant (image, k-space, preview in memory)",
             f"{run * 1e3:.0f} ms", f"{run / floor:.2f}x floor"),
            ("  then serialising: image.nii.gz (gzip), kspace.npy, preview.png, metadata.json",
             f"{files * 1e3:.0f} ms", f"{files / floor:.2f}x floor")]


def print_table(title: str, table: list[tuple[str, ...]], explanation: str = "") -> None:
    headers = ("what", "measured", "ratio")
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print(f"\n{title} (one run, one machine; compare ratios, not times)\n")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    if explanation:
        print("\n" + explanation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is reported)")
    parser.add_argument("--only", choices=["mri", "ct", "ultrasound", "pet"], help="run one simulator's benchmark")
    args = parser.parse_args()
    if args.only in (None, "mri"):
        print_table("MRI benchmark", mri.rows(args.repeats) + plugin_rows(args.repeats), mri.EXPLANATION)
    if args.only in (None, "ct"):
        print_table("CT / radiography benchmark", ct.rows(args.repeats), ct.EXPLANATION)
    if args.only in (None, "ultrasound"):
        print_table("Ultrasound benchmark", ultrasound.rows(args.repeats), ultrasound.EXPLANATION)
    if args.only in (None, "pet"):
        print_table("PET benchmark", pet.rows(args.repeats), pet.EXPLANATION)


if __name__ == "__main__":
    main()
