"""The estimators' inputs: ``X`` a stack of square images, as scikit-learn validates
it, and their numeric hyperparameters."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data


def square_images(estimator, X, reset: bool) -> tuple[np.ndarray, int]:
    """``X`` (N, h, w) or (N, h*w) validated by scikit-learn for ``estimator``: (the
    images flattened (N, side * side), side). ValueError naming the fix for a sparse
    matrix, non-square images, a single image or a pixel count that is not a square."""
    if sp.issparse(X):
        raise ValueError("X is a sparse matrix; pass a dense array of images "
                         "(N, h, w) or (N, h*w), e.g. X.toarray()")
    arr = np.asarray(X)
    window = getattr(estimator, "window_", None)
    if arr.ndim == 3:
        n, h, w = arr.shape
        if h != w:
            raise ValueError(f"images must be square, got {h}x{w}; crop them first "
                             "(classify_image reads a large image window by window)")
        arr = arr.reshape(n, h * w)
    elif arr.ndim == 2 and not reset and window is not None \
            and arr.shape == (window, window):
        raise ValueError(f"X has shape {arr.shape}: one image; pass a stack of images "
                         "(N, h, w), e.g. image[np.newaxis]")
    elif arr.ndim != 2:
        raise ValueError(f"X must be a stack of square images (N, h, w) or flattened "
                         f"images (N, h*w); got shape {arr.shape}. For one image pass "
                         "image[np.newaxis]")
    arr = validate_data(estimator, arr, reset=reset, dtype=None, ensure_all_finite=False)
    side = math.isqrt(arr.shape[1])
    if side * side != arr.shape[1]:
        raise ValueError(f"X has {arr.shape[1]} feature(s) (pixels) per image, which is "
                         "not a square number; pass images (N, h, w) or flattened square "
                         "images")
    return arr, side


def check_numbers(checks) -> None:
    """ValueError for the first ``(name, value, kind, ok, text)`` whose value is a bool,
    not of ``kind`` (e.g. ``numbers.Real``) or fails ``ok``: "NAME must be a number
    TEXT, got VALUE"."""
    for name, value, kind, ok, text in checks:
        if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
            raise ValueError(f"{name} must be a number {text}, got {value!r}")
