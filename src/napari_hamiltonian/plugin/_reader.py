"""Reader of the saved ``labels.tif``: the class labels reopen over their image."""

from __future__ import annotations

from collections.abc import Callable

from ..output.labelfile import labels_description, read_labels


def get_reader(path: str | list[str]) -> Callable | None:
    """npe2 reader: a function for a ``labels.tif`` written by napari-hamiltonian (the
    widget's *Save results* or ``classify``), None for any other file."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return _read if labels_description(path) is not None else None


def _read(path: str | list[str]) -> list[tuple]:
    """One Labels layer with the file's values, class colours, names and placement."""
    data, kwargs = read_labels(path[0] if isinstance(path, list) else path)
    return [(data, kwargs, "labels")]
