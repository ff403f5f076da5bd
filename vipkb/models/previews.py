"""Pictures of object models for people: label-map slices of any layer and instant, and their colour legend."""

from __future__ import annotations

from dataclasses import dataclass

from vipkb.errors import UnknownResourceError
from vipkb.kb import KnowledgeBase
from vipkb.previews import label_colour, label_png
from vipkb.simulation.runner import instant_sources
from vipkb.simulation.source import InstantSource

__all__ = ["LegendEntry", "layer_preview", "legend", "model_geometry"]


@dataclass(frozen=True)
class LegendEntry:
    """One label of a layer: its value, tissue name and colour in the previews."""

    label: int
    tissue: str
    colour: str


def _source(kb: KnowledgeBase, model: str, time_point: int, instant: int) -> InstantSource:
    for source in instant_sources(kb, model):
        if (source.time_point, source.instant) == (time_point, instant):
            return source
    raise UnknownResourceError(f"{model} has no instant {time_point}/{instant}; its page lists them")


def model_geometry(kb: KnowledgeBase, model: str) -> dict[str, object]:
    """Shape of the label maps, number of axial slices and the layer names of the first instant."""
    layers = instant_sources(kb, model)[0].layers()
    shape = next(iter(layers.values())).shape
    return {"shape": tuple(int(n) for n in shape), "slices": int(shape[2]) if len(shape) > 2 else 1,
            "layers": sorted(layers)}


def layer_preview(kb: KnowledgeBase, model: str, *, time_point: int = 0, instant: int = 0, layer: str,
                  index: int | None = None, max_size: int = 384) -> bytes:
    """PNG of axial slice ``index`` (default: the middle) of one layer's label map.

    Raises
    ------
    UnknownResourceError
        For an unknown instant or layer, or a slice outside the volume.
    """
    layers = _source(kb, model, time_point, instant).layers()
    if layer not in layers:
        raise UnknownResourceError(f"no layer {layer!r} in {model} (layers: {', '.join(sorted(layers))})")
    volume = layers[layer]
    depth = volume.shape[2] if volume.ndim == 3 else 1
    if index is not None and not 0 <= index < depth:
        raise UnknownResourceError(f"slice {index} is outside 0..{depth - 1}")
    return label_png(volume, index=index, max_size=max_size)


def legend(tissues: list[tuple[int, str, str, list[str]]]) -> dict[str, list[LegendEntry]]:
    """Legend entries per layer from :attr:`ModelDescription.tissues` ``(label, tissue, layer, params)``."""
    out: dict[str, list[LegendEntry]] = {}
    for label, tissue, layer, _ in tissues:
        out.setdefault(layer, []).append(LegendEntry(label=label, tissue=tissue, colour=label_colour(label)))
    return out
