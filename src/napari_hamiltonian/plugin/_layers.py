"""Pure functions for the widget: its legend and the pixel size of an image layer (no Qt,
no viewer)."""

from __future__ import annotations

from collections.abc import Sequence

from ..classes import CLASSES
from ..imaging.files import NM_PER
from ..output.labelfile import label_colors, label_names


def legend_html() -> str:
    """The widget's legend: one swatch per class with its label value (the value in the
    classes layer and in the saved ``labels.tif``) and how to read the layers."""
    colors = label_colors(CLASSES)
    items = "".join(f'<span style="color:{colors[v]}">&#9632;</span>&nbsp;{v}&nbsp;{name}'
                    "&nbsp;&nbsp; " for v, name in label_names(CLASSES).items() if v)
    return (f"<small>{items}<br>grey: none of these (no class fits confidently); light "
            "grey: cannot tell at this resolution (a class, or a pattern none of the seven "
            "draws, seen through this point-spread function). Labels "
            "sit at window centres, inside the lime frame (a window reaches half its side "
            "beyond its label); one label pixel = stride x stride image pixels."
            "</small>")


def pixel_size_nm(scale: Sequence[float], units: Sequence[str] | None,
                  metadata: dict | None) -> float | None:
    """Pixel size (nm, along x) of an image layer, or None when nothing says it.

    From OME metadata when the layer carries it (``PhysicalSizeX`` with
    ``PhysicalSizeXUnit``, default micrometres as in OME), else from the layer's scale
    when its units are lengths (napari's ``layer.units``).
    """
    meta = metadata or {}
    ome = meta.get("ome", meta) if isinstance(meta.get("ome", meta), dict) else meta
    if "PhysicalSizeX" in ome:
        try:
            size = float(ome["PhysicalSizeX"])
        except (TypeError, ValueError):
            size = None
        factor = NM_PER.get(str(ome.get("PhysicalSizeXUnit", "µm")))
        if size and size > 0 and factor:
            return size * factor
    if units:
        factor = NM_PER.get(str(units[-1]))
        if factor and scale[-1] > 0:
            return float(scale[-1]) * factor
    return None


def units_of(layer, ndim: int | None = None) -> dict:
    """``{"units": ...}`` of an image layer for a layer placed over it (its last ``ndim``
    axes), so that napari's scale bar keeps the image's unit and warns of no mixed
    units; empty where napari has no layer units."""
    units = getattr(layer, "units", None)
    if units is None:
        return {}
    units = tuple(str(u) for u in units)
    return {"units": units if ndim is None else units[-ndim:]}
