"""The per-window labels as integer values: on the napari layer and in ``labels.tif``.

One convention everywhere (layer, file, CSV column order, legend):

==========================  =====================================================
value                       meaning
==========================  =====================================================
0                           not classified (a frame nobody ran; transparent)
k + 1, k = 0 .. n - 1       class ``classes[k]`` (column k of the CSV), accepted
n + 1                       "none of these" (the rejection; neutral grey)
n + 2                       "cannot tell at this resolution" (light grey)
==========================  =====================================================

Classes the model cannot tell apart (``class_groups_``, e.g. "RF-2D or RF-3D") are one
region: every member takes the value and colour of the group's first class, named as
the group (the per-class logits stay in the results).

``labels.tif`` holds these values for every frame of the source stack, as (T, ny, nx)
uint8, with a JSON description (read by :func:`read_labels` and the plugin's reader)
giving the value -> class name and colour table, the stack's frame numbers that were
classified, the window geometry, and the scale and translate that place label pixel
(i, j) over the centre of its window in the image's world coordinates, so the file
opens in napari on top of its image.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..classes import (
    CANNOT_TELL_COLOR,
    CANNOT_TELL_NAME,
    NONE_COLOR,
    NONE_NAME,
    class_color,
)
from .files import atomic_write

#: Key of this package's block in the TIFF's JSON description.
METADATA_KEY = "napari_hamiltonian_labels"
NOT_CLASSIFIED = "not classified"


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
    lead_scale = (float(image_scale[0]),) if stack else ()
    lead_translate = (float(image_translate[0]),) if stack else ()
    scale = lead_scale + (stride * float(image_scale[-2]), stride * float(image_scale[-1]))
    translate = lead_translate + (float(image_translate[-2]) + half * float(image_scale[-2]),
                                  float(image_translate[-1]) + half * float(image_scale[-1]))
    return scale, translate


def _leaders(classes: Sequence[str], groups: Sequence[Sequence[str]]) -> np.ndarray:
    """Index of the class whose value each class takes: the first class of its group
    (itself when it has no group)."""
    index = {c: k for k, c in enumerate(classes)}
    leader = np.arange(len(classes))
    for g in groups:
        members = [index[c] for c in g if c in index]
        leader[members] = min(members, default=0)
    return leader


def label_names(classes: Sequence[str], groups: Sequence[Sequence[str]] = ()
                ) -> dict[int, str]:
    """Label value -> meaning (see the module's table; a group's members are named as
    the group)."""
    from ..classes import group_name

    names = {0: NOT_CLASSIFIED}
    names.update({k + 1: group_name(c, groups) for k, c in enumerate(classes)})
    names[len(classes) + 1] = NONE_NAME
    names[len(classes) + 2] = CANNOT_TELL_NAME
    return names


def label_colors(classes: Sequence[str], groups: Sequence[Sequence[str]] = ()) -> dict:
    """Label value -> colour: the class colours (a group's members that of its first
    class), "none of these" neutral grey, 0 (not classified) transparent; the ``None``
    key is napari's default colour."""
    leader = _leaders(classes, groups)
    colors = {None: "transparent", 0: "transparent"}
    colors.update({k + 1: class_color(classes[leader[k]], int(leader[k]))
                   for k in range(len(classes))})
    colors[len(classes) + 1] = NONE_COLOR
    colors[len(classes) + 2] = CANNOT_TELL_COLOR
    return colors


def label_values(result) -> np.ndarray:
    """Label values of a WindowResult, shape (ny, nx) uint8: class index + 1 where the
    window is accepted (the index of its group's first class for a class the model
    cannot tell from others, ``result.groups``), ``len(classes) + 1`` where it is none
    of the classes, ``len(classes) + 2`` where the model's resolution cannot tell, 0
    where the window is not classified (outside the region of interest)."""
    none = len(result.classes) + 1
    labels = _leaders(result.classes, result.groups)[result.labels]
    values = np.where(result.confident, labels + 1,
                      np.where(result.cannot_tell, none + 1, none)).astype(np.uint8)
    return np.where(result.inside, values, 0).astype(np.uint8)


def write_labels(path, results: dict, n_frames: int | None, image_scale=None,
                 image_translate=None, units: Sequence[str] | None = None) -> np.ndarray:
    """Write ``labels.tif`` (atomically) from per-frame results; return its values.

    Parameters
    ----------
    path : path-like
        The TIFF to write.
    results : dict of int -> WindowResult
        Classified frames by their frame number in the source stack (all with the same
        classes, stride, window and window grid).
    n_frames : int or None
        Frames of the source stack (unclassified ones are written as 0); None for a
        single image (the file is then (ny, nx)).
    image_scale, image_translate : sequence of float, optional
        The image's scale and translate in world units, (T, Y, X) or (Y, X); default
        one unit per pixel and no offset.
    units : sequence of str, optional
        The world units of the image's axes (napari's ``layer.units``), stored.
    """
    frames = sorted(results)
    first = results[frames[0]]
    stack = n_frames is not None
    ndim = 3 if stack else 2
    scale = tuple(image_scale) if image_scale is not None else (1.0,) * ndim
    translate = tuple(image_translate) if image_translate is not None else (0.0,) * ndim
    if stack and frames[-1] >= n_frames:
        raise ValueError(f"frame {frames[-1]} of a stack of {n_frames} frames")
    data = np.zeros(((n_frames,) if stack else ()) + first.labels.shape, np.uint8)
    for t in frames:
        if stack:
            data[t] = label_values(results[t])
        else:
            data[...] = label_values(results[t])
    layer_scale, layer_translate = label_placement(scale, translate, stack, first.stride,
                                                   first.window)
    colors = label_colors(first.classes, first.groups)
    info = {"values": {str(k): v for k, v in label_names(first.classes,
                                                          first.groups).items()},
            "colors": {str(k): c for k, c in colors.items() if k is not None},
            "classes": list(first.classes), "frames": [int(t) for t in frames],
            "stride": int(first.stride), "window": int(first.window),
            "scale": list(layer_scale), "translate": list(layer_translate),
            "units": [str(u) for u in units] if units is not None else None}
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, data, compression="zlib", photometric="minisblack",
                     metadata={METADATA_KEY: info})
    atomic_write(Path(path), buf.getvalue())
    return data


def labels_description(path) -> dict | None:
    """The class table and placement stored in a ``labels.tif`` by :func:`write_labels`,
    or None for any other file (or one that does not read); the pixels are not read."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            described = [m for m in (tif.shaped_metadata or ()) if METADATA_KEY in m]
    except (OSError, ValueError, tifffile.TiffFileError):
        return None
    return described[0][METADATA_KEY] if described else None


def read_labels(path) -> tuple[np.ndarray, dict]:
    """A labels file written by :func:`write_labels`: (values, napari layer keywords).

    The keywords (``name``, ``scale``, ``translate``, ``colormap``, ``opacity``,
    ``metadata``, and ``units`` when stored) make ``viewer.add_labels(values, **kwargs)``
    draw the labels over their image, in the legend's colours.

    Raises
    ------
    ValueError
        If the file holds no napari-hamiltonian class table (another TIFF).
    """
    import tifffile

    path = Path(path)
    info = labels_description(path)
    if info is None:
        raise ValueError(f"{path} is not a labels file written by napari-hamiltonian "
                         "(no class table in its description); open it as an image")
    try:  # a description edited or cut short names the file, not a KeyError
        colors = {int(k): c for k, c in info["colors"].items()}
        colors[None] = "transparent"
        kwargs = {"name": f"{path.parent.name} {path.stem}".strip(),
                  "scale": [float(v) for v in info["scale"]],
                  "translate": [float(v) for v in info["translate"]],
                  "colormap": colors, "opacity": 1.0,
                  "metadata": {"classes": [str(c) for c in info["classes"]],
                               "label_values": {int(k): str(v)
                                                for k, v in info["values"].items()},
                               "frames": info["frames"], "stride": int(info["stride"]),
                               "window": int(info["window"])}}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path}: its napari-hamiltonian class table is damaged "
                         f"({type(err).__name__}: {err}); open it as an image, or write "
                         "it again (classify, or the widget's Save results)") from None
    if info.get("units"):
        kwargs["units"] = info["units"]
    return tifffile.imread(path), kwargs
