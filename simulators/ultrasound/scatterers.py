"""Point scatterers: drawn from per-tissue density and reflectivity tables over the imaging plane.

Tissue is modelled as a random medium of sub-resolution point scatterers
(Wagner, Smith, Sandrik & Lopez, "Statistics of speckle in ultrasound
B-scans", IEEE Trans. Sonics Ultrason. 30, 156, 1983): their positions form a
homogeneous Poisson process within each tissue and their amplitudes are
independent, zero-mean random variables scaled by the tissue's reflectivity.
The mean echo intensity of a region is then proportional to
``density * reflectivity^2``, and with many scatterers per resolution cell the
envelope is Rayleigh distributed (fully developed speckle).

A 2-D label slice stands for a slab of the model ``slice_thickness_mm``
thick, so a volume density ``n`` (per m^3, the unit of the knowledge base's
``ScattererDensity``) gives ``n * thickness`` scatterers per unit area of the
plane.  The scatterers either lie in the plane (``y = None``, the 2-D model)
or get an elevation drawn uniformly across the slab (``elevation=True``), so
that the probe's elevation beam profile weights them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.grid import PlaneGrid
from simulators.ultrasound.probe import check_number
from vipkb.errors import ParameterError, SimulationError

__all__ = ["AMPLITUDES", "MAX_SCATTERERS", "Scatterers", "draw_scatterers"]

#: Default cap on the number of scatterers.  The RF costs about 1 us per scatterer and element on one core.
MAX_SCATTERERS = 1_000_000

#: Random factors a scatterer's amplitude can be drawn with: standard normal, or +-1 with equal odds.
AMPLITUDES = ("gaussian", "sign")


@dataclass(frozen=True, kw_only=True, eq=False)
class Scatterers:
    """Point scatterers in the probe frame, mm, with their (signed, unitless) amplitudes.

    ``y_mm`` is ``None`` for scatterers in the imaging plane (2-D model),
    otherwise their elevation.  Arrays are converted to 1-D float64.

    Examples
    --------
    >>> s = Scatterers(x_mm=[0.0, 1.0], z_mm=[10.0, 20.0], amplitude=[1.0, 0.5])
    >>> len(s), s.y_mm is None
    (2, True)
    """

    x_mm: np.ndarray
    z_mm: np.ndarray
    amplitude: np.ndarray
    y_mm: np.ndarray | None = None

    def __post_init__(self) -> None:
        names = ("x_mm", "z_mm", "amplitude") + (() if self.y_mm is None else ("y_mm",))
        arrays = {name: np.atleast_1d(np.asarray(getattr(self, name), dtype=np.float64)) for name in names}
        n = arrays["x_mm"].shape
        for name, a in arrays.items():
            if a.ndim != 1 or a.shape != n:
                raise ParameterError(f"scatterer {name} must be a 1-D array like x_mm (shape {n}); got {a.shape}")
            if not np.isfinite(a).all():
                raise ParameterError(f"scatterer {name} must be finite")
            object.__setattr__(self, name, a)
        if (arrays["z_mm"] <= 0).any():
            raise SimulationError("scatterers must lie in front of the array (z_mm > 0); got a depth of "
                                  f"{arrays['z_mm'].min():g} mm")

    def __len__(self) -> int:
        return self.x_mm.size

    def subset(self, rows: slice | np.ndarray) -> Scatterers:
        """The scatterers ``rows`` (a slice or indices)."""
        return Scatterers(x_mm=self.x_mm[rows], z_mm=self.z_mm[rows], amplitude=self.amplitude[rows],
                          y_mm=None if self.y_mm is None else self.y_mm[rows])


def _table(name: str, values: np.ndarray, n_tissues: int) -> np.ndarray:
    table = np.asarray(values, dtype=np.float64)
    if table.ndim != 1 or table.size < n_tissues:
        raise SimulationError(f"{name} needs one value per tissue index 0..{n_tissues - 1} (entry 0 is the "
                              f"background); got {table.size} value(s)")
    bad = ~np.isfinite(table) | (table < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{name} must be finite and >= 0 for every tissue (allowed: 0 <= value < inf); "
                             f"tissue {i} has {float(table[i])!r}")
    return table


def draw_scatterers(tissue_index: np.ndarray, density_per_m3: np.ndarray, reflectivity: np.ndarray, *,
                    grid: PlaneGrid, slice_thickness_mm: float, rng: np.random.Generator,
                    elevation: bool = False, amplitudes: str = "gaussian", max_scatterers: int = MAX_SCATTERERS,
                    subsample: bool = False) -> Scatterers:
    """Draw the scatterers of a tissue slice.

    Every pixel gets a Poisson number of scatterers with mean
    ``density[t] * pixel area * slice thickness`` (``t`` its tissue), placed
    uniformly in the pixel: a homogeneous Poisson process over each tissue.
    Amplitudes are ``reflectivity[t]`` times a standard normal (or random
    sign) factor.  Pixels with ``z <= 0`` (at or behind the array face) are
    skipped.

    Parameters
    ----------
    tissue_index
        Integer slice ``(nz, nx)`` on ``grid``; value ``t`` indexes the tables.
    density_per_m3, reflectivity
        Per-tissue tables indexed by tissue index (entry 0 is the background):
        scatterers per m^3 and their relative amplitude, both >= 0.
    grid
        The slice's pixels in the probe frame.
    slice_thickness_mm
        Thickness of the slab the slice stands for (0.01 to 50 mm); sets the
        scatterers per unit area and, with ``elevation``, their spread in ``y``.
    rng
        Random generator (``np.random.default_rng(seed)``): the same seed
        gives the same scatterers.
    elevation
        Draw ``y`` uniformly in ``+-slice_thickness_mm / 2`` (3-D model).
    amplitudes
        ``"gaussian"`` or ``"sign"``, see :data:`AMPLITUDES`.
    max_scatterers
        Cap on the *expected* number of scatterers.
    subsample
        Above the cap, thin every density by ``q = max_scatterers / expected``
        and scale amplitudes by ``1 / sqrt(q)``, which keeps each region's mean
        echo intensity (``density * reflectivity^2``); speckle stays fully
        developed as long as about ten scatterers remain per resolution cell.
        Without it, exceeding the cap raises :class:`SimulationError`.

    Examples
    --------
    >>> grid = PlaneGrid(nx=2, nz=1, dx_mm=1.0, dz_mm=1.0, x0_mm=0.0, z0_mm=10.0)  # two 1 x 1 mm pixels
    >>> s = draw_scatterers(np.array([[0, 1]]), [0.0, 1e11], [0.0, 1.0], grid=grid, slice_thickness_mm=1.0,
    ...                     rng=np.random.default_rng(0))  # 1e11 /m^3 = 100 /mm^3: ~100 in the second pixel
    >>> len(s), bool(s.x_mm.min() >= 0.5 and s.x_mm.max() < 1.5)
    (104, True)
    """
    labels = np.asarray(tissue_index)
    if labels.shape != grid.shape:
        raise ParameterError(f"tissue_index has shape {labels.shape} but the grid is (nz, nx) = {grid.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"tissue_index must hold integers (tissue indices); got {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise SimulationError(f"tissue indices must be >= 0; got {int(labels.min())}")
    check_number("slice_thickness_mm", slice_thickness_mm, 0.01, 50.0)
    check_number("max_scatterers", max_scatterers, 1, 1e9, integer=True)
    if amplitudes not in AMPLITUDES:
        raise ParameterError(f"amplitudes must be one of {AMPLITUDES}; got {amplitudes!r}")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy Generator (np.random.default_rng(seed)); the global RNG is never "
                             "used")
    n_tissues = int(labels.max()) + 1 if labels.size else 1
    density = _table("density_per_m3", density_per_m3, n_tissues)
    reflect = _table("reflectivity", reflectivity, n_tissues)

    # Scatterers per pixel: m^-3 -> mm^-3 is 1e-9.
    per_pixel = density * 1e-9 * grid.dx_mm * grid.dz_mm * slice_thickness_mm
    mean = per_pixel[labels]
    mean[grid.z_mm() <= 0, :] = 0.0
    expected = float(mean.sum())
    gain = 1.0
    if expected > max_scatterers:
        if not subsample:
            raise SimulationError(
                f"the slice would hold about {expected:.3g} scatterers, above the cap of {max_scatterers:g}: "
                "lower the densities, image a smaller region or a thinner slice, raise max_scatterers (the RF "
                "costs about 1 us per scatterer and element), or pass subsample=True")
        q = max_scatterers / expected
        mean *= q
        gain = 1.0 / np.sqrt(q)
    counts = rng.poisson(mean).ravel()
    pixel = np.repeat(np.arange(counts.size), counts)
    iz, ix = np.divmod(pixel, grid.nx)
    n = pixel.size
    x = grid.x0_mm + grid.dx_mm * (ix + rng.random(n) - 0.5)
    z = grid.z0_mm + grid.dz_mm * (iz + rng.random(n) - 0.5)
    factor = rng.standard_normal(n) if amplitudes == "gaussian" else rng.choice([-1.0, 1.0], size=n)
    amplitude = gain * reflect[labels.ravel()[pixel]] * factor
    y = slice_thickness_mm * (rng.random(n) - 0.5) if elevation else None
    # Part of a pixel that straddles the array face could land at z <= 0: those few are dropped.
    front = z > 0
    return Scatterers(x_mm=x[front], z_mm=z[front], amplitude=amplitude[front],
                      y_mm=None if y is None else y[front])
