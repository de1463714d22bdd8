"""Pure functions for the widget: its legend and the pixel size of an image layer (no Qt,
no viewer)."""

from __future__ import annotations

from collections.abc import Sequence

from ..classes import CLASSES
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
            "sit at window centres; one label pixel = stride x stride image pixels."
            "</small>")


#: Nanometres per unit of the length units napari layers and OME files use.
_NM_PER = {"nm": 1.0, "nanometer": 1.0, "um": 1e3, "µm": 1e3, "micrometer": 1e3,
           "micron": 1e3, "mm": 1e6, "millimeter": 1e6, "m": 1e9, "meter": 1e9,
           "angstrom": 0.1, "Å": 0.1}


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
        factor = _NM_PER.get(str(ome.get("PhysicalSizeXUnit", "µm")))
        if size and size > 0 and factor:
            return size * factor
    if units:
        factor = _NM_PER.get(str(units[-1]))
        if factor and scale[-1] > 0:
            return float(scale[-1]) * factor
    return None


def ome_physical_size(path) -> dict:
    """``PhysicalSizeX`` and ``PhysicalSizeXUnit`` of an OME-TIFF file's first image, as
    strings ({} for a file without OME metadata or that cannot be read)."""
    import re

    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            xml = tif.ome_metadata or ""
    except Exception:  # noqa: BLE001 - any unreadable file: no pixel size from it
        return {}
    out = {}
    for key in ("PhysicalSizeX", "PhysicalSizeXUnit"):
        m = re.search(rf'\b{key}="([^"]+)"', xml)
        if m:
            out[key] = m.group(1)
    return out
