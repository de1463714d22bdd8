"""Checks and conversions of binary domain images (1 = up = metal, 0 = down)."""

from __future__ import annotations

import numpy as np

#: Value conventions accepted for binary images.
CONVENTIONS = ("bool", "01", "pm1")


def as_binary(x, name: str = "X") -> tuple[np.ndarray, str]:
    """Return ``x`` as a uint8 array of 0/1 and the value convention it came in.

    Accepts bool, 0/1 (any numeric dtype) and -1/+1 arrays. Anything else raises a
    ValueError that says how to fix it.
    """
    a = np.asarray(x)
    if a.dtype == bool:
        return a.view(np.uint8), "bool"
    if a.dtype.kind not in "uif":
        raise ValueError(f"{name} must be a numeric or boolean array, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; replace them (e.g. np.nan_to_num) "
            "before classifying"
        )
    lo, hi = a.min(), a.max()
    if lo >= 0 and hi <= 1 and (a.dtype.kind in "ui" or np.all((a == 0) | (a == 1))):
        return a.astype(np.uint8, copy=False), "01"
    if lo >= -1 and hi <= 1 and np.all((a == -1) | (a == 1)):
        return (a > 0).view(np.uint8), "pm1"
    raise ValueError(
        f"{name} must be binary (bool, 0/1 or -1/+1) but has values in [{lo}, {hi}]; "
        "threshold the image first (e.g. threshold='otsu' or a number)"
    )


def restore(b: np.ndarray, convention: str, dtype) -> np.ndarray:
    """Inverse of :func:`as_binary`: 0/1 uint8 back to the input's convention and dtype."""
    if convention == "bool":
        return b.astype(bool)
    if convention == "pm1":
        return (2 * b.astype(np.int8) - 1).astype(dtype, copy=False)
    return b.astype(dtype, copy=False)
