"""The vectorised slab kernels behind :mod:`simulators.xray.siddon`.

Coordinates here are voxel units with voxel ``i`` spanning ``[i, i + 1)``.
A ray of a :class:`Group` advances along its dominant axis ``a``; along each
other axis its coordinate is ``alpha + slope * u`` with ``0 <= slope <= 1``
(mirrored axes make slopes non-negative).  In slab ``m`` (``u`` in
``[m, m + 1)``, clipped to the ray's ``[lo, hi]``, length ``du``) the ray ends
at ``w1`` in voxel ``k = floor(w1)``; it entered ``k`` inside the slab or
before, so it spent ``c = min((w1 - k) / slope, du)`` in voxel ``k`` and
``du - c`` in voxel ``k - 1``.  No sort and no branch per element.

The volume is zero-padded by two voxels on every side so that rays leaving
through a side face need no special case either: their coordinates are
clamped into the padding, whose values are zero (for labels: a dummy label
dropped at the end).  With ``V0`` the value of voxel ``k - 1`` and ``V1`` of
voxel ``k``, a 2-D slab contributes ``du V0 + c (V1 - V0)``.  In 3-D the ray
can cross one boundary per other axis; with ``cb`` and ``cc`` the lengths
after each crossing the slab contributes, exactly,
``du V00 + cb (V10 - V00) + cc (V01 - V00) + min(cb, cc) (V11 - V10 - V01 + V00)``
(first digit: ``kb - 1`` or ``kb``; second: ``kc - 1`` or ``kc``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD = 2


@dataclass(eq=False)
class Group:
    """Rays sharing a dominant axis and mirror pattern (internal to the tracer)."""

    axis: int
    others: tuple[int, ...]
    flips: tuple[bool, ...]
    rays: np.ndarray
    alpha: np.ndarray
    slope: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    mm_per_unit: np.ndarray

    def chunks(self, shape: tuple[int, ...], chunk_elements: int) -> list[Task]:
        """Work units of about ``chunk_elements`` ray-slab pairs."""
        per = max(1, chunk_elements // shape[self.axis])
        out = []
        for r0 in range(0, len(self.rays), per):
            sl = slice(r0, r0 + per)
            lo, hi = self.lo[sl], self.hi[sl]
            m0, m1 = int(np.floor(lo.min())), int(np.ceil(hi.max()))
            # The fast path assumes every ray of the chunk crosses every slab in full.
            out.append(Task(self, sl, m0, m1, bool(lo.max() <= m0 and hi.min() >= m1)))
        return out


@dataclass(eq=False)
class Task:
    """A chunk of one group's rays over slabs ``[m0, m1)``."""

    group: Group
    rows: slice
    m0: int
    m1: int
    fast: bool


class Tracer:
    """Padded copies of one volume and the kernel that traces a :class:`Task` through them.

    Parameters
    ----------
    volume
        Canonical 2-D/3-D volume (any view): values, or integer labels.
    n_labels
        ``None`` for line integrals (traced in float32), else the number of labels.
    """

    def __init__(self, volume: np.ndarray, n_labels: int | None) -> None:
        self.shape = volume.shape
        self.n_labels = n_labels
        if n_labels is None:
            dtype, fill = np.float32, 0
        else:
            dtype, fill = (np.int16 if n_labels < 2**15 else np.int32), n_labels
        # One copy: cast while writing into the padded array.
        self.padded = np.full(tuple(n + 2 * PAD for n in volume.shape), fill, dtype=dtype)
        self.padded[(slice(PAD, -PAD),) * volume.ndim] = volume
        self._planes: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray | None]] = {}

    def prepare(self, groups: list[Group]) -> None:
        """Build the per-orientation tables a 2-D trace needs (before any threads start)."""
        if len(self.shape) != 2:
            return
        for g in groups:
            key = (g.axis, g.flips[0])
            if key in self._planes:
                continue
            plane = self.padded if g.axis == 0 else self.padded.T
            plane = np.ascontiguousarray(plane[:, ::-1] if g.flips[0] else plane)
            diff = None
            if self.n_labels is None:
                diff = np.zeros_like(plane)
                diff[:, :-1] = plane[:, 1:] - plane[:, :-1]
            self._planes[key] = (plane.ravel(), None if diff is None else diff.ravel())

    def __call__(self, task: Task) -> tuple[np.ndarray, np.ndarray]:
        """Ray indices of the task and their integrals (or per-label lengths), mm-scaled."""
        g, rows = task.group, task.rows
        m = np.arange(task.m0, task.m1, dtype=np.float32)[None, :]
        alpha = (g.alpha[rows] + PAD).astype(np.float32)
        slope = g.slope[rows].astype(np.float32)
        inv = (1.0 / np.maximum(slope, 1e-30)).astype(np.float32)
        if task.fast:
            ua1, du = m + np.float32(1), None
        else:
            lo = g.lo[rows].astype(np.float32)[:, None]
            hi = g.hi[rows].astype(np.float32)[:, None]
            ua1 = np.minimum(m + np.float32(1), hi)
            du = np.maximum(ua1 - np.maximum(m, lo), np.float32(0))
        walls = []
        for j, b in enumerate(g.others):
            # Clamping into [1, padded size) keeps k - 1 and k inside the padding.
            wmax = np.nextafter(np.float32(self.shape[b] + 2 * PAD), np.float32(0))
            w = ua1 * slope[:, j, None]
            w += alpha[:, j, None]
            np.clip(w, np.float32(1), wmax, out=w)
            k = np.floor(w)
            after = np.subtract(w, k, out=w)  # length spent in voxel k, as w - k >= 0 always
            after *= inv[:, j, None]
            np.minimum(after, np.float32(1) if du is None else du, out=after)
            walls.append((k, after))
        slabs = np.arange(task.m0 + PAD, task.m1 + PAD)
        out = self._trace2(g, walls[0], slabs, du) if len(self.shape) == 2 else self._trace3(g, walls, slabs, du)
        scale = g.mm_per_unit[rows]
        return g.rays[rows], out * (scale if out.ndim == 1 else scale[:, None])

    def _trace2(self, g: Group, wall, slabs, du):
        kf, after = wall
        plane, diff = self._planes[(g.axis, g.flips[0])]
        offsets = slabs * (self.shape[g.others[0]] + 2 * PAD) - 1  # flat index of voxel k - 1
        if plane.size < 2**24:
            # Integers below 2**24 are exact in float32, and float32 -> int32 -> intp is the cheap cast.
            kf += offsets.astype(np.float32)
            k = kf.astype(np.int32).astype(np.intp)
        else:
            k = kf.astype(np.intp)
            k += offsets
        if self.n_labels is None:
            v = plane.take(k)
            step = diff.take(k)
            step *= after
            if du is not None:
                v *= du
            v += step
            return v.sum(axis=1).astype(np.float64)
        return self._accumulate(plane.take(k), du, (plane[1:].take(k), after))

    def _trace3(self, g: Group, walls, slabs, du):
        strides = [s // self.padded.itemsize for s in self.padded.strides]
        (kb, cb), (kc, cc) = walls
        base = slabs * strides[g.axis]
        offsets = []
        for axis, flip in zip(g.others, g.flips, strict=True):
            # A mirrored axis is walked backwards from its last padded voxel.
            if flip:
                base = base + (self.shape[axis] + 2 * PAD - 1) * strides[axis]
            offsets.append(-strides[axis] if flip else strides[axis])
        ob, oc = offsets
        # Index the lowest of the four corners so that the others are views at non-negative shifts.
        corners = (0, ob, oc, ob + oc)
        low = min(corners)
        small = np.int32 if self.padded.size < 2**31 else np.intp
        k = kb.astype(small) * small(ob)
        k += kc.astype(small) * small(oc)
        k += (base - ob - oc + low).astype(small)  # flat index of voxel (kb - 1, kc - 1), shifted by low
        k = k.astype(np.intp)
        flat = self.padded.reshape(-1)
        v00, v10, v01, v11 = (flat[o - low:].take(k) for o in corners)
        both = np.minimum(cb, cc)
        if self.n_labels is None:
            v11 -= v10
            v11 -= v01
            v11 += v00
            v11 *= both
            v10 -= v00
            v10 *= cb
            v01 -= v00
            v01 *= cc
            if du is not None:
                v00 *= du
            v00 += v10
            v00 += v01
            v00 += v11
            return v00.sum(axis=1).astype(np.float64)
        return self._accumulate(v00, du, (v10, cb - both), (v01, cc - both), (v11, both))

    def _accumulate(self, base: np.ndarray, du: np.ndarray | None, *moves) -> np.ndarray:
        """Per-ray, per-label lengths: each slab's ``du`` to the ``base`` label, then ``moves``.

        Labels change rarely along a ray, so the base lengths are summed per
        *run* of equal labels (found with one comparison pass) and only the
        runs are scattered.  A move ``(labels, weight)`` hands ``weight`` from
        the base label to ``labels``; only elements whose label differs
        (boundaries) are touched.  The padding's dummy label is dropped.
        """
        n_rays, n_slabs = base.shape
        width = self.n_labels + 1
        size = n_rays * width
        starts = np.empty(base.shape, dtype=bool)
        starts[:, 0] = True
        np.not_equal(base[:, 1:], base[:, :-1], out=starts[:, 1:])
        first = np.flatnonzero(starts)
        flat_base = base.ravel()
        if 4 * first.size > base.size:  # labels change too often for runs to pay (noise-like label maps)
            keys = np.add(base, (np.arange(n_rays) * width)[:, None], dtype=np.intp).ravel()
            sums = np.bincount(keys, weights=None if du is None else du.ravel(), minlength=size).astype(float)
        else:
            rows = first // n_slabs
            stop = np.minimum(np.append(first[1:], base.size), (rows + 1) * n_slabs)
            if du is None:
                length = (stop - first).astype(np.float64)
            else:
                total = np.cumsum(du, axis=1, dtype=np.float64).ravel()
                length = total[stop - 1] - np.where(first % n_slabs == 0, 0.0, total[first - 1])
            sums = np.bincount(rows * width + flat_base[first], weights=length, minlength=size)
        for labels, weight in moves:
            where = np.flatnonzero(labels != base)
            if where.size:
                moved = weight.ravel()[where]
                ray_keys = (where // n_slabs) * width
                sums += np.bincount(ray_keys + labels.ravel()[where], weights=moved, minlength=size)
                sums -= np.bincount(ray_keys + flat_base[where], weights=moved, minlength=size)
        # float32 rounding can leave -1e-7 where a label was only grazed.
        return np.maximum(sums.reshape(n_rays, width)[:, :-1], 0.0)
