"""PNG previews of volumes: one slice, windowed, in radiological view.

Used for simulated images and for model label maps alike.  NIfTI volumes
are stored with the first axis running to the subject's left... right (RAS+
world); a preview shows an axial slice with anterior up and the subject's
right on the viewer's left, as radiologists read images.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["label_colour", "label_palette", "label_png", "slice_png"]


def _axial(volume: np.ndarray, index: int | None) -> np.ndarray:
    if volume.ndim == 2:
        plane = volume
    elif volume.ndim == 3:
        plane = volume[:, :, volume.shape[2] // 2 if index is None else index]
    else:
        raise ValueError(f"a preview needs a 2-D or 3-D volume, not {volume.ndim}-D")
    # Array (x, y) -> image rows (top = anterior = high y), columns x.
    return np.flipud(np.asarray(plane).T)


def slice_png(volume: np.ndarray, *, index: int | None = None, window: tuple[float, float] | None = None,
              max_size: int = 512, spacing: tuple[float, float] | None = None) -> bytes:
    """Grey-scale PNG of an axial slice.

    Parameters
    ----------
    volume
        2-D or 3-D array (complex values are shown as magnitude).
    index
        Slice along the third axis; the middle one by default.
    window
        (low, high) mapped to black and white; default: the 0.5 and 99.5
        percentiles of the slice, so one bright voxel does not grey out the rest.
    max_size
        Longest side of the PNG in pixels; smaller slices are enlarged by an
        integer factor (nearest neighbour, so voxels stay visible).
    spacing
        Pixel size along the volume's first two axes (mm) when it is not
        square: the slice is then resampled (bilinear) to its true shape,
        ``max_size`` pixels along its longer side.

    Examples
    --------
    >>> slice_png(np.arange(16.0).reshape(4, 4))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    plane = _axial(np.abs(volume) if np.iscomplexobj(volume) else volume, index).astype(np.float64)
    lo, hi = window if window is not None else np.percentile(plane, [0.5, 99.5])
    scaled = np.clip((plane - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    pixels = np.round(scaled * 255).astype(np.uint8)
    if spacing is not None and not np.isclose(spacing[0], spacing[1]):
        width, height = pixels.shape[1] * spacing[0], pixels.shape[0] * spacing[1]
        scale = max_size / max(width, height)
        image = Image.fromarray(pixels).resize((max(1, round(width * scale)), max(1, round(height * scale))),
                                               Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
    return _png(pixels, max_size)


def label_png(labels: np.ndarray, *, index: int | None = None, max_size: int = 512) -> bytes:
    """Colour PNG of an axial slice of a label map (label 0 black, others from a fixed palette)."""
    plane = _axial(labels, index).astype(np.int64)
    rgb = label_palette(int(plane.max(initial=0)) + 1)[plane]
    return _png(rgb, max_size)


def label_palette(n: int) -> np.ndarray:
    """RGB colours (``n`` x 3, uint8) of labels ``0..n-1`` in :func:`label_png`; label 0 is black.

    >>> label_palette(3)[0].tolist(), label_palette(3).shape
    ([0, 0, 0], (3, 3))
    """
    # Golden-angle hues keep neighbouring labels distinguishable without a colour-map dependency.
    hues = (np.arange(n) * 0.381966) % 1.0
    palette = np.stack([_hsv_channel(hues, s) for s in (5.0, 3.0, 1.0)], axis=1)
    palette[0] = 0
    return np.round(palette * 255).astype(np.uint8)


def label_colour(label: int) -> str:
    """The ``#rrggbb`` colour of ``label`` in :func:`label_png` (for legends).

    >>> label_colour(0)
    '#000000'
    """
    r, g, b = label_palette(label + 1)[label]
    return f"#{r:02x}{g:02x}{b:02x}"


def _hsv_channel(h: np.ndarray, shift: float) -> np.ndarray:
    # Saturation 0.65, value 0.95: the standard HSV->RGB formula for one channel.
    k = (shift + h * 6.0) % 6.0
    return 0.95 - 0.95 * 0.65 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _png(pixels: np.ndarray, max_size: int) -> bytes:
    factor = max(1, max_size // max(pixels.shape[:2]))
    if factor > 1:
        pixels = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
