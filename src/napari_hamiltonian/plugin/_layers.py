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
