"""The classes layer of an image: a Labels layer of the window grid, with the label values
of :mod:`napari_hamiltonian.output.labelfile` (those of a saved ``labels.tif``), placed
over the image, drawn as opaque classes, outlines or not at all."""

from __future__ import annotations

import numpy as np

from ..inference.sliding import n_windows
from ..output.labelfile import label_colors, label_names, label_placement, label_values
from ._layers import units_of

#: How the classes layer is drawn: opaque class colours (the legend's colours whatever
#: the pixels below), class outlines over the image, or not at all.
OVERLAYS = ("classes (opaque)", "outlines", "image only")


def _label_metadata(classes, stride: int, window: int, groups=()) -> dict:
    """Metadata of a classes layer for a window grid (per-frame outputs are added as
    frames are drawn)."""
    return {"classes": list(classes), "logits": {}, "distance": {}, "scores": {},
            "stride": stride, "window": window, "groups": [list(g) for g in groups],
            "label_values": label_names(classes, groups)}


def warm_labels_layer(classes) -> None:
    """Build a small classes layer (model only, no canvas) once, so that napari compiles
    its label-texture code (0.8 s) and imports what a Labels layer needs (pandas and
    scikit-image, 0.1-0.2 s) here, in the worker, rather than when the first classes
    layer is added on the GUI thread."""
    from napari.layers import Labels
    from napari.utils.colormaps import DirectLabelColormap

    Labels(np.zeros((2, 2), np.uint8),
           colormap=DirectLabelColormap(color_dict=label_colors(classes)))


def classes_layer(viewer, layer, classes, stride: int, window: int, groups=()):
    """The classes Labels layer for ``layer`` (created on first use, reset for a new
    window grid or model groups), with the values and colours of
    :mod:`napari_hamiltonian.output.labelfile` (a group the model cannot tell apart
    drawn as one region)."""
    name = f"{layer.name} classes"
    stack = layer.ndim == 3
    grid = n_windows(layer.data.shape[-2:], window, stride)
    shape = ((layer.data.shape[0],) if stack else ()) + grid
    scale, translate = label_placement(tuple(layer.scale), tuple(layer.translate), stack,
                                       stride, window)
    metadata = _label_metadata(classes, stride, window, groups)
    from napari.utils.colormaps import DirectLabelColormap

    if name in viewer.layers:  # a new grid (stride) or model: the same layer, redrawn
        labels = viewer.layers[name]
        if labels.data.shape != shape or tuple(labels.scale) != scale:
            labels.data = np.zeros(shape, np.uint8)
            labels.scale, labels.translate = scale, translate
            labels.metadata.update(metadata)
        if labels.metadata.get("groups") != metadata["groups"]:
            labels.metadata.update(metadata)
            labels.colormap = DirectLabelColormap(color_dict=label_colors(classes, groups))
        return labels

    labels = viewer.add_labels(
        np.zeros(shape, np.uint8), name=name, scale=scale, translate=translate,
        opacity=1.0,
        colormap=DirectLabelColormap(color_dict=label_colors(classes, groups)),
        metadata=metadata, **units_of(layer))
    # the new layer must not take the selection (and show its paint tools)
    viewer.layers.selection.active = layer
    return labels


def apply_overlay(viewer, layer, mode: str) -> None:
    """Draw the classes layer of ``layer`` (if any) as ``mode`` of :data:`OVERLAYS` says."""
    name = None if layer is None else f"{layer.name} classes"
    if name is None or name not in viewer.layers:
        return
    classes = viewer.layers[name]
    classes.visible = mode != "image only"
    classes.opacity = 1.0
    classes.contour = 1 if mode == "outlines" else 0


def draw_result(viewer, layer, t: int, result) -> None:
    """Frame ``t``'s result into the classes layer of ``layer`` (its labels, and its
    logits, distances and scores in the layer's metadata)."""
    classes = classes_layer(viewer, layer, result.classes, result.stride, result.window,
                            result.groups)
    values = label_values(result)
    if layer.ndim == 3:
        classes.data[t] = values
    else:
        classes.data[...] = values
    classes.metadata["logits"][t] = result.logits
    classes.metadata["distance"][t] = result.distance
    classes.metadata["scores"][t] = result.scores
    classes.refresh()
