"""Regular pixel grids on the imaging plane, in the probe's (x, z) frame (mm).

Images on a :class:`PlaneGrid` are arrays indexed ``image[iz, ix]``: rows run
in depth (``z``, away from the probe) and columns laterally (``x``, from the
first element towards the last), the usual display orientation of a B-mode
image.  ``x0_mm``/``z0_mm`` locate the *centre* of pixel ``[0, 0]``, as for
the voxel grids of the other simulators, so pixel ``[iz, ix]`` covers
``x0 + (ix +- 1/2) dx`` by ``z0 + (iz +- 1/2) dz``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.probe import check_number

__all__ = ["PlaneGrid"]


@dataclass(frozen=True, kw_only=True)
class PlaneGrid:
    """``nz`` x ``nx`` pixels of ``dz_mm`` x ``dx_mm``, pixel ``[0, 0]`` centred at ``(x0_mm, z0_mm)``.

    Examples
    --------
    >>> g = PlaneGrid.spanning(x_mm=(-1.0, 1.0), z_mm=(5.0, 6.0), dx_mm=0.5, dz_mm=0.5)
    >>> g.shape, g.x_mm().tolist(), g.z_mm().tolist()
    ((3, 5), [-1.0, -0.5, 0.0, 0.5, 1.0], [5.0, 5.5, 6.0])
    """

    nx: int
    nz: int
    dx_mm: float
    dz_mm: float
    x0_mm: float
    z0_mm: float

    def __post_init__(self) -> None:
        check_number("nx", self.nx, 1, 1 << 16, integer=True)
        check_number("nz", self.nz, 1, 1 << 16, integer=True)
        check_number("dx_mm", self.dx_mm, 0.0, 100.0, open_low=True)
        check_number("dz_mm", self.dz_mm, 0.0, 100.0, open_low=True)
        check_number("x0_mm", self.x0_mm, -1e4, 1e4)
        check_number("z0_mm", self.z0_mm, -1e4, 1e4)

    @classmethod
    def spanning(cls, *, x_mm: tuple[float, float], z_mm: tuple[float, float], dx_mm: float,
                 dz_mm: float) -> PlaneGrid:
        """The grid whose first and last pixel centres are the ends of ``x_mm`` and ``z_mm`` (or just inside)."""
        check_number("dx_mm", dx_mm, 0.0, 100.0, open_low=True)
        check_number("dz_mm", dz_mm, 0.0, 100.0, open_low=True)
        # A hair of tolerance so that ranges that are whole multiples of the spacing keep their last pixel.
        nx = int(np.floor((x_mm[1] - x_mm[0]) / dx_mm + 1e-9)) + 1
        nz = int(np.floor((z_mm[1] - z_mm[0]) / dz_mm + 1e-9)) + 1
        return cls(nx=nx, nz=nz, dx_mm=float(dx_mm), dz_mm=float(dz_mm), x0_mm=float(x_mm[0]),
                   z0_mm=float(z_mm[0]))

    @property
    def shape(self) -> tuple[int, int]:
        """``(nz, nx)``: the shape of an image on this grid."""
        return self.nz, self.nx

    def x_mm(self) -> np.ndarray:
        """Lateral positions of the pixel centres (columns)."""
        return self.x0_mm + self.dx_mm * np.arange(self.nx)

    def z_mm(self) -> np.ndarray:
        """Depths of the pixel centres (rows)."""
        return self.z0_mm + self.dz_mm * np.arange(self.nz)

    def extent_mm(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((x_low, x_high), (z_low, z_high))``: the outer edges of the pixels."""
        x, z = self.x_mm(), self.z_mm()
        return ((float(x[0] - self.dx_mm / 2), float(x[-1] + self.dx_mm / 2)),
                (float(z[0] - self.dz_mm / 2), float(z[-1] + self.dz_mm / 2)))
