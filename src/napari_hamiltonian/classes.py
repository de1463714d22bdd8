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
#: Windows whose class the model's resolution cannot tell from patterns none of the
#: seven draws (:mod:`napari_hamiltonian.classifier.rejection`): a state of its own,
#: apart from a class and from "none of these".
CANNOT_TELL_NAME = "cannot tell at this resolution"
#: Their colour: a light neutral grey, apart from "none of these".
CANNOT_TELL_COLOR = "#dcdcdc"
#: The classes near criticality: every class but P*, the paper's "not near
#: criticality". Naming one of them (or a group of them) is the claim the rejection
#: must not make for an image none of the seven drew.
CRITICAL_CLASSES: tuple[str, ...] = tuple(c for c in CLASSES if c != "P*")


def reliable_accuracy(n_classes: int) -> float:
    """The validation accuracy a model needs before its answers may be certified:
    halfway from chance (``1 / n_classes``) to perfect. Below it the model cannot tell
    the classes apart (``HamiltonianClassifier.unreliable``)."""
    return (1 + 1 / max(n_classes, 1)) / 2


def class_color(name: str, index: int = 0) -> str:
    """Colour of a class (of a group "P-2D or P*": its first class); a class outside the
    seven gets matplotlib's colour cycle entry ``index``."""
    name = name.split(" or ")[0]
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


def standard_names(classes: Sequence[str]) -> tuple[str, ...]:
    """A model's class names in the order of results, layers and files: :data:`CLASSES`
    order for the seven-class models (see :func:`standard_order`)."""
    names = [str(c) for c in classes]
    return tuple(names[k] for k in standard_order(names))


#: Two classes are declared one group when more than this share of the validation
#: images of the pair are given the other's label: at that rate, naming one of them is
#: a guess (a coin would swap half).
GROUP_SWAP_SHARE = 0.2


def confusion_groups(confusion, classes: Sequence[str],
                     share: float = GROUP_SWAP_SHARE) -> list[tuple[str, ...]]:
    """Groups of classes a model cannot tell apart, from its confusion matrix.

    Classes a and b are linked when ``(C[a, b] + C[b, a]) / (C[a, a] + C[a, b] + C[b, a]
    + C[b, b]) > share``; groups are the connected sets of linked classes, each in
    :data:`CLASSES` order, groups of one left out.

    Parameters
    ----------
    confusion : array_like of int, shape (n_classes, n_classes)
        Rows true class, columns predicted, in ``classes`` order.
    classes : sequence of str
    share : float

    Returns
    -------
    list of tuple of str
    """
    import numpy as np

    c = np.asarray(confusion, np.float64)
    n = len(classes)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a in range(n):
        for b in range(a + 1, n):
            pair = c[a, a] + c[a, b] + c[b, a] + c[b, b]
            if pair > 0 and (c[a, b] + c[b, a]) / pair > share:
                parent[root(b)] = root(a)
    rank = {c: i for i, c in enumerate(CLASSES)}
    order = sorted(range(n), key=lambda k: (rank.get(str(classes[k]), len(rank)), k))
    groups = {}
    for k in order:
        groups.setdefault(root(k), []).append(str(classes[k]))
    return [tuple(g) for g in groups.values() if len(g) > 1]


def group_name(name: str, groups: Sequence[Sequence[str]]) -> str:
    """What to call a predicted class: its group ("P-2D or P*") if it has one."""
    for g in groups:
        if name in g:
            return " or ".join(g)
    return name
