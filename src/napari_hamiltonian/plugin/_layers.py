"""Pure functions that place and colour the result layers (no Qt, no viewer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..classes import CLASS_COLORS, NONE_COLOR, NONE_NAME, class_color


def label_placement(image_scale: Sequence[float], image_translate: Sequence[float],
                    stack: bool, stride: int, window: int) -> tuple[tuple, tuple]:
    """Scale and translate of a per-window label layer over an image layer.

    Label pixel (i, j) stands for the window whose top-left image pixel is
    (i * stride, j * stride); it is drawn centred on the window's centre, image pixel
    (i * stride + (window - 1) / 2, ...), one label pixel per stride x stride pixels.

    Parameters
    ----------
    image_scale, image_translate : sequence of float
        The image layer's ``scale`` and ``translate`` (world units per pixel, world
        offset), (T, Y, X) for a stack or (Y, X).
    stack : bool
        Whether the image layer is a (T, Y, X) stack (the labels then are too).
    stride, window : int
        Window step and side (pixels).

    Returns
    -------
    (scale, translate) : tuple of float
    """
    half = (window - 1) / 2
    lead_scale = (image_scale[0],) if stack else ()
    lead_translate = (image_translate[0],) if stack else ()
    scale = lead_scale + (stride * image_scale[-2], stride * image_scale[-1])
    translate = lead_translate + (image_translate[-2] + half * image_scale[-2],
                                  image_translate[-1] + half * image_scale[-1])
    return scale, translate


def label_colors(classes: Sequence[str]) -> dict:
    """Label value -> colour for a class layer: value k + 1 is class ``classes[k]``,
    ``len(classes) + 1`` is "none of these" (neutral grey); 0 (not computed) is
    transparent."""
    colors = {None: "transparent", 0: "transparent"}
    colors.update({k + 1: class_color(c, k) for k, c in enumerate(classes)})
    colors[len(classes) + 1] = NONE_COLOR
    return colors


def window_label_values(result) -> np.ndarray:
    """Label values of a WindowResult for the class layer (see :func:`label_colors`):
    the class index + 1 where the window is accepted, ``len(classes) + 1`` where it is
    none of the classes."""
    none = len(result.classes) + 1
    return np.where(result.confident, result.labels + 1, none).astype(np.uint8)


def legend_html() -> str:
    """The widget's legend: one swatch per class and how to read the layers."""
    colors = {**CLASS_COLORS, NONE_NAME: NONE_COLOR}
    items = "".join(f'<span style="color:{c}">&#9632;</span>&nbsp;{name}&nbsp;&nbsp; '
                    for name, c in colors.items())
    return (f"<small>{items}<br>grey: none of these (no class fits confidently). Labels "
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
