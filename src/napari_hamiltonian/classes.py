"""The seven classes of Table I (Basak et al.): their names, order and colours.

The one place that knows the class list. Inference, reports and the napari plugin read
it from here, so none of them needs the simulators (numba) to learn the class names.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Class codes, in the order of the shipped model's outputs and of every table, CSV
#: column and label map this package writes.
CLASSES: tuple[str, ...] = ("C-2D", "C-3D", "RF-2D", "RF-3D", "P-2D", "P-3D", "P*")

#: One fixed colour per class (Okabe-Ito based, colour-blind safe), used by every plot
#: and by the napari Labels layer.
CLASS_COLORS: dict[str, str] = {
    "C-2D": "#0072B2", "C-3D": "#56B4E9", "RF-2D": "#D55E00", "RF-3D": "#E69F00",
    "P-2D": "#009E73", "P-3D": "#7FD1AE", "P*": "#CC79A7",
}


#: Colour of windows that are none of the classes: a neutral grey no class uses.
NONE_COLOR = "#9a9a9a"
#: Name shown for them.
NONE_NAME = "none of these"


def class_color(name: str, index: int = 0) -> str:
    """Colour of a class; a class outside the seven gets matplotlib's colour cycle entry
    ``index``."""
    if name in CLASS_COLORS:
        return CLASS_COLORS[name]
    return f"C{index % 10}"


def standard_order(classes: Sequence[str]) -> list[int]:
    """Column order that puts a model's classes in :data:`CLASSES` order.

    Parameters
    ----------
    classes : sequence of str
        A classifier's ``classes_`` (sorted, as scikit-learn stores them).

    Returns
    -------
    list of int
        ``order`` such that ``[classes[k] for k in order] == list(CLASSES)`` for the
        seven-class models; the identity for any other class set.
    """
    classes = [str(c) for c in classes]
    if set(classes) == set(CLASSES) and len(classes) == len(CLASSES):
        return [classes.index(c) for c in CLASSES]
    return list(range(len(classes)))
