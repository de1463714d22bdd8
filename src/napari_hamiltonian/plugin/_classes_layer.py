"""The classes layer of an image: a Labels layer of the window grid, with the label values
of :mod:`napari_hamiltonian.output.labelfile` (those of a saved ``labels.tif``), placed
over the image, drawn as opaque classes, outlines or not at all."""

from __future__ import annotations

import numpy as np

from ..inference.sliding import n_windows
from ..output.labelfile import label_colors, label_names, label_placement, label_values
from ._layers import units_of

#: Colour of the frame around the labelled area: seen on black, white and grey images
#: and unlike every class colour.
REACH_COLOR = "#c8ff00"

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
            mark_reach(viewer, layer, grid, stride, window)
        if labels.metadata.get("groups") != metadata["groups"]:
            labels.metadata.update(metadata)
            labels.colormap = DirectLabelColormap(color_dict=label_colors(classes, groups))
        return labels

    labels = viewer.add_labels(
        np.zeros(shape, np.uint8), name=name, scale=scale, translate=translate,
        opacity=1.0,
        colormap=DirectLabelColormap(color_dict=label_colors(classes, groups)),
        metadata=metadata, **units_of(layer))
    mark_reach(viewer, layer, grid, stride, window)
    # the new layer must not take the selection (and show its paint tools)
    viewer.layers.selection.active = layer
    return labels


def reach_name(layer) -> str:
    """Name of the layer that marks where ``layer``'s labels are."""
    return f"{layer.name} window centres"


def mark_reach(viewer, layer, grid: tuple, stride: int, window: int,
               inside: np.ndarray | None = None) -> None:
    """A lime frame (:data:`REACH_COLOR`) around the labelled area of ``layer`` (the
    window centres: a window reaches half its side beyond its label, the legend says),
    so that the unlabelled margin is marked on the image itself; one per image, moved
    for a new grid. With ``inside`` (bool (ny, nx): the windows classified, those in a
    region of interest) it frames those windows' labels."""
    half = (window - 1) / 2
    rows, cols = (0, grid[0] - 1), (0, grid[1] - 1)
    if inside is not None and inside.any() and not inside.all():
        ys, xs = np.nonzero(inside)
        rows, cols = (ys.min(), ys.max()), (xs.min(), xs.max())
    top, left = (half + (r[0] - 0.5) * stride for r in (rows, cols))
    bottom, right = (half + (r[1] + 0.5) * stride for r in (rows, cols))
    rect = np.array([[top, left], [top, right], [bottom, right], [bottom, left]])
    scale, translate = tuple(layer.scale)[-2:], tuple(layer.translate)[-2:]
    name = reach_name(layer)
    if name in viewer.layers:
        shapes = viewer.layers[name]
        shapes.scale, shapes.translate = scale, translate
        shapes.data = [rect]
        shapes.edge_color, shapes.face_color = REACH_COLOR, "transparent"
        return
    viewer.add_shapes(
        [rect], shape_type="rectangle", name=name, edge_color=REACH_COLOR,
        face_color="transparent", edge_width=max(1.0, 0.004 * max(layer.data.shape[-2:])),
        scale=scale, translate=translate, **units_of(layer, 2))
    viewer.layers.selection.active = layer


def smooth_labels(values: np.ndarray, factor: int) -> np.ndarray:
    """Labels (ny, nx) on a grid ``factor`` times finer, each fine pixel taking the value
    whose indicator, interpolated bilinearly between label centres, is largest there:
    boundaries run as smooth lines between the windows instead of the grid's stairs
    (a region of one value keeps its label pixels' footprint)."""
    from scipy.ndimage import zoom

    present = np.unique(values)
    if factor <= 1 or len(present) == 1:
        return np.repeat(np.repeat(values, factor, 0), factor, 1)
    best = np.full((values.shape[0] * factor, values.shape[1] * factor), -1.0, np.float32)
    out = np.zeros(best.shape, values.dtype)
    for v in present:
        share = zoom((values == v).astype(np.float32), factor, order=1, grid_mode=True,
                     mode="nearest")
        take = share > best
        out[take], best[take] = v, share[take]
    return out


def outlines_name(layer) -> str:
    """Name of the layer that draws ``layer``'s class outlines."""
    return f"{layer.name} outlines"


def draw_outlines(viewer, layer, classes, t: int) -> None:
    """Frame ``t``'s classes as smooth outlines at the image's resolution
    (:func:`smooth_labels`), in the classes' colours: one 2D layer, redrawn for the
    displayed frame."""
    values = np.asarray(classes.data[t] if classes.ndim == 3 else classes.data)
    stride, window = int(classes.metadata["stride"]), int(classes.metadata["window"])
    # one empty fine pixel around, so that the outer edge of the classes is drawn too
    fine = np.pad(smooth_labels(values, stride), 1)
    scale = tuple(float(v) for v in layer.scale[-2:])
    offset = (window - 1) / 2 - stride / 2 - 0.5  # fine pixel 0's centre, image pixels
    translate = tuple(float(layer.translate[-2 + k]) + offset * scale[k] for k in range(2))
    name = outlines_name(layer)
    if name in viewer.layers:
        outlines = viewer.layers[name]
        outlines.data, outlines.scale, outlines.translate = fine, scale, translate
        outlines.colormap = classes.colormap
        return
    outlines = viewer.add_labels(fine, name=name, scale=scale, translate=translate,
                                 opacity=1.0, colormap=classes.colormap,
                                 **units_of(layer, 2))
    outlines.contour = 3
    viewer.layers.selection.active = layer


def apply_overlay(viewer, layer, mode: str, t: int = 0) -> None:
    """Draw the classes of ``layer`` (if any) as ``mode`` of :data:`OVERLAYS` says: the
    classes layer, or for outlines the displayed frame ``t``'s smooth outlines."""
    name = None if layer is None else f"{layer.name} classes"
    if name is None or name not in viewer.layers:
        return
    classes = viewer.layers[name]
    classes.visible = mode == OVERLAYS[0]
    classes.opacity = 1.0
    classes.contour = 0
    if mode == "outlines":
        draw_outlines(viewer, layer, classes, t)
    elif outlines_name(layer) in viewer.layers:
        viewer.layers.remove(outlines_name(layer))
    if reach_name(layer) in viewer.layers:
        viewer.layers[reach_name(layer)].visible = mode != "image only"


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
    mark_reach(viewer, layer, values.shape, result.stride, result.window, result.inside)
    classes.refresh()
