"""Axis-aligned voxel grids in world millimetres.

A grid is the shape of a volume, its voxel size and the world position of
the centre of voxel ``(0, 0[, 0])``.  Array axis ``n`` runs along world axis
``n``.  NIfTI affines (``world = affine @ [i, j, k, 1]``) are accepted when
their linear part is a scaled permutation: :func:`canonical_grid` then
transposes and flips the array (views, no copies) into that canonical order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vipkb.errors import ParameterError

__all__ = ["VoxelGrid", "canonical_grid"]


@dataclass(frozen=True, kw_only=True)
class VoxelGrid:
    """Shape, voxel size (mm) and centre of the first voxel (mm) of a 2-D or 3-D grid.

    Examples
    --------
    >>> g = VoxelGrid.centred((4, 4), 0.5)
    >>> g.origin_mm, g.centres(0).tolist()
    ((-0.75, -0.75), [-0.75, -0.25, 0.25, 0.75])
    """

    shape: tuple[int, ...]
    voxel_size_mm: tuple[float, ...]
    origin_mm: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.shape)
        if n not in (2, 3) or any(int(s) < 1 for s in self.shape):
            raise ParameterError(f"a grid shape has 2 or 3 positive sizes; got {self.shape}")
        if len(self.voxel_size_mm) != n or len(self.origin_mm) != n:
            raise ParameterError(f"voxel_size_mm and origin_mm need {n} values for shape {self.shape}")
        if not all(np.isfinite(v) and v > 0 for v in self.voxel_size_mm):
            raise ParameterError(f"voxel sizes must be finite and > 0 mm; got {self.voxel_size_mm}")
        if not all(np.isfinite(self.origin_mm)):
            raise ParameterError(f"origin_mm must be finite; got {self.origin_mm}")

    @classmethod
    def centred(cls, shape: Sequence[int], voxel_size_mm: float | Sequence[float]) -> VoxelGrid:
        """A grid whose centre is the world origin (the isocentre of a CT scan)."""
        shape = tuple(int(s) for s in shape)
        size = _per_axis(voxel_size_mm, len(shape), "voxel_size_mm")
        return cls(shape=shape, voxel_size_mm=size,
                   origin_mm=tuple(-(n - 1) / 2 * s for n, s in zip(shape, size, strict=True)))

    @classmethod
    def from_affine(cls, shape: Sequence[int], affine: np.ndarray) -> VoxelGrid:
        """The canonical grid of an axis-aligned affine (see :func:`canonical_grid`)."""
        vol, size, origin = canonical_grid(np.broadcast_to(np.int8(0), tuple(shape)), None, None, affine)
        return cls(shape=vol.shape, voxel_size_mm=tuple(size.tolist()), origin_mm=tuple(origin.tolist()))

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return len(self.shape)

    def centres(self, axis: int) -> np.ndarray:
        """World coordinates (mm) of the voxel centres along ``axis``."""
        return self.origin_mm[axis] + self.voxel_size_mm[axis] * np.arange(self.shape[axis])

    def radius_mm(self) -> float:
        """Distance from the world origin to the farthest grid corner."""
        lo = np.asarray(self.origin_mm) - np.asarray(self.voxel_size_mm) / 2
        hi = lo + np.asarray(self.voxel_size_mm) * np.asarray(self.shape)
        return float(np.linalg.norm(np.maximum(np.abs(lo), np.abs(hi))))


def _per_axis(value: float | Sequence[float], n: int, name: str) -> tuple[float, ...]:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)) if np.ndim(value) == 0 else np.asarray(
        value, dtype=np.float64)
    if arr.shape != (n,):
        raise ParameterError(f"{name} needs 1 or {n} values; got {value!r}")
    return tuple(float(v) for v in arr)


def canonical_grid(volume: np.ndarray, voxel_size_mm: float | Sequence[float] | None,
                   origin_mm: Sequence[float] | None,
                   affine: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A view of ``volume`` with array axes along world axes and positive voxel sizes.

    Parameters
    ----------
    volume
        2-D or 3-D array.
    voxel_size_mm, origin_mm
        Voxel size (one or one per axis) and centre of voxel 0; the origin
        defaults to centring the grid on the world origin.
    affine
        Instead of the two above: a ``(d+1, d+1)`` or ``4 x 4`` voxel-to-world
        matrix whose linear part maps each array axis to one world axis.
        For a 2-D volume with a 4 x 4 affine the world plane is spanned by
        the two world axes the array axes map to.

    Returns
    -------
    tuple
        ``(view, voxel_size_mm, origin_mm)``, the last two as float arrays.
    """
    d = volume.ndim
    if affine is None:
        if voxel_size_mm is None:
            raise ParameterError("give the grid as voxel_size_mm (and optionally origin_mm) or as an affine")
        size = np.asarray(_per_axis(voxel_size_mm, d, "voxel_size_mm"))
        if not (np.isfinite(size).all() and (size > 0).all()):
            raise ParameterError(f"voxel sizes must be finite and > 0 mm; got {tuple(size)}")
        if origin_mm is None:
            origin = -(np.asarray(volume.shape) - 1) / 2 * size
        else:
            origin = np.asarray(_per_axis(origin_mm, d, "origin_mm"))
        if not np.isfinite(origin).all():
            raise ParameterError(f"origin_mm must be finite; got {tuple(origin)}")
        return volume, size, origin
    if voxel_size_mm is not None or origin_mm is not None:
        raise ParameterError("give either an affine or voxel_size_mm/origin_mm, not both")
    a = np.asarray(affine, dtype=np.float64)
    if a.shape not in ((d + 1, d + 1), (4, 4)) or not np.isfinite(a).all():
        raise ParameterError(f"a {d}-D volume needs a finite {d + 1}x{d + 1} or 4x4 affine; got shape {a.shape}")
    linear, shift = a[:-1, :d], a[:-1, -1]
    scale = np.abs(linear).max()
    nonzero = np.abs(linear) > 1e-9 * max(scale, 1e-300)
    if not (nonzero.sum(axis=0) == 1).all() or len(set(np.argmax(nonzero, axis=0))) != d:
        raise ParameterError("only axis-aligned affines (a scaled permutation, flips allowed) are supported; "
                             "resample rotated volumes first")
    world_axis = np.argmax(nonzero, axis=0)  # world axis of each array axis
    order = np.argsort(world_axis)  # array axes in world-axis order
    view = np.transpose(volume, order)
    size = linear[world_axis[order], order]
    origin = shift[world_axis[order]].copy()
    for w in np.flatnonzero(size < 0):
        view = np.flip(view, axis=w)
        origin[w] += size[w] * (view.shape[w] - 1)  # the last voxel becomes the first
        size[w] = -size[w]
    return view, size, origin
