"""Checks and conversions of binary domain images (1 = up = metal, 0 = down)."""

from __future__ import annotations

import numpy as np


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
        "threshold the image first (threshold='otsu' or a number; on the command line "
        "--threshold otsu; a stack of a sweep: 'switching')"
    )


def restore(b: np.ndarray, convention: str, dtype) -> np.ndarray:
    """Inverse of :func:`as_binary`: 0/1 uint8 back to the input's convention and dtype."""
    if convention == "bool":
        return b.astype(bool)
    if convention == "pm1":
        return (2 * b.astype(np.int8) - 1).astype(dtype, copy=False)
    return b.astype(dtype, copy=False)


def otsu_threshold(image: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a grayscale image: the grey level maximising the between-class
    variance of a ``bins``-bin histogram. Pixels above it form one class."""
    a = np.asarray(image)
    if a.size and a.min() == a.max():
        raise ValueError("the image is constant; Otsu's threshold is undefined. Pass a "
                         "number as threshold")
    return float(otsu_thresholds(a.reshape(1, -1), bins)[0])


def otsu_thresholds(images: np.ndarray, bins: int = 256) -> np.ndarray:
    """Otsu's threshold of each image of a stack, vectorised (no Python loop per image).

    Parameters
    ----------
    images : ndarray, shape (N, ...)
        Grey images (any real dtype).
    bins : int
        Histogram bins between each image's minimum and maximum.

    Returns
    -------
    ndarray, float64, shape (N,)
        Grey level maximising the between-class variance; pixels above it form one class.
        A constant image gets its own value (every pixel at or below it).
    """
    a = np.asarray(images, np.float64).reshape(len(images), -1)
    if a.shape[1] == 0:
        raise ValueError("images are empty; Otsu's threshold needs pixels")
    lo = a.min(1, keepdims=True)
    hi = a.max(1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    idx = np.minimum(((a - lo) / span * bins).astype(np.int64), bins - 1)
    idx += np.arange(len(a))[:, None] * bins  # one histogram per row, in one bincount
    hist = np.bincount(idx.ravel(), minlength=len(a) * bins).reshape(len(a), bins)
    width = span / bins
    centers = lo + (np.arange(bins) + 0.5) * width
    w0 = np.cumsum(hist, 1)
    w1 = w0[:, -1:] - w0
    m0 = np.cumsum(hist * centers, 1)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[:, -1:] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    best = np.argmax(between[:, :-1], 1)
    t = lo[:, 0] + (best + 1) * width[:, 0]
    return np.where(hi[:, 0] > lo[:, 0], t, lo[:, 0])


def check_threshold(threshold):
    """Validate a ``threshold`` argument before any data is read.

    Returns it unchanged (None, ``"otsu"`` or a float). Raises ValueError for any other
    string, a non-number, NaN or an infinite value.
    """
    if threshold is None or (isinstance(threshold, str) and threshold == "otsu"):
        return threshold
    if isinstance(threshold, str):
        raise ValueError(f"threshold must be None, a number or 'otsu', got {threshold!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
        raise ValueError(f"threshold must be None, a number or 'otsu', got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold {threshold} is not a finite grey level; give a number "
                         "between the image's darkest and brightest values, or 'otsu'")
    return float(threshold)


def check_metal(metal: str) -> str:
    """``metal`` unchanged if it is "bright" or "dark"; ValueError otherwise."""
    if metal not in ("bright", "dark"):
        raise ValueError(f"metal must be 'bright' or 'dark', got {metal!r}")
    return metal


def resolve_threshold(image: np.ndarray, threshold) -> float:
    """The grey level that separates metal from insulator in one whole image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey image (real values, finite).
    threshold : float or "otsu"
        A grey level, or Otsu's threshold of the whole image.

    Returns
    -------
    float
        The level; pixels above it are one phase, pixels at or below it the other.

    Raises
    ------
    ValueError
        If the level leaves every pixel on one side (outside the image's grey range, or
        a constant image): the binary image would be uniform, and the classifier's
        answer on it meaningless.
    """
    threshold = check_threshold(threshold)
    lo, hi = float(np.min(image)), float(np.max(image))
    if threshold == "otsu":
        if lo == hi:
            raise ValueError(f"the image is constant (every pixel is {lo:g}); Otsu's "
                             "threshold is undefined and there are no domains to classify")
        return otsu_threshold(image)
    if not lo <= threshold < hi:
        side = "insulator" if threshold >= hi else "metal"
        raise ValueError(f"threshold {threshold:g} is outside the image's grey range "
                         f"[{lo:g}, {hi:g}]: every pixel would be {side}. Choose a level "
                         "between the darkest and the brightest value, or 'otsu'")
    return threshold


def apply_threshold(image: np.ndarray, level: float, metal: str = "bright") -> np.ndarray:
    """uint8 0/1 image, 1 = metal: ``image > level`` (bright metal) or its complement."""
    b = (np.asarray(image) > level).view(np.uint8)
    return (1 - b).astype(np.uint8) if metal == "dark" else np.ascontiguousarray(b)


def check_image(image, min_side: int = 1) -> np.ndarray:
    """One 2D image as an array, with clear errors for RGB, stacks, small or non-finite
    images."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        raise ValueError(f"image has shape {a.shape}: looks like RGB(A); convert it to "
                         "grayscale first (e.g. image.mean(axis=-1)) and pass a threshold")
    if a.ndim != 2:
        raise ValueError(f"image must be 2D (H, W), got shape {a.shape}; for a stack use "
                         "classify_stack, for one frame pass stack[t]")
    if min(a.shape) < min_side:
        raise ValueError(f"image is {a.shape[0]}x{a.shape[1]} pixels, smaller than the "
                         f"{min_side}x{min_side} window; use a larger image")
    if a.dtype.kind not in "uifb":
        raise ValueError(f"image must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError("image contains NaN or infinite values; replace them (e.g. "
                         "np.nan_to_num), or give a region (mask=, True on the sample) "
                         "that leaves them out")
    return a


def binarize(image, threshold=None, metal: str = "bright", min_side: int = 1) -> np.ndarray:
    """One 2D image -> uint8 0/1 (1 = metal = up), with clear errors for bad input.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Binary (bool, 0/1, -1/+1) if ``threshold`` is None; otherwise grayscale.
    threshold : None, float or "otsu"
        Grey level separating metal from insulator (pixels exactly at it are insulator),
        checked by :func:`resolve_threshold` on the whole image.
    metal : "bright" or "dark"
        Which side of the threshold is metal. For binary input, "dark" swaps 0 and 1.
    min_side : int
        Smallest allowed height and width (the classifier's window).
    """
    check_metal(metal)
    threshold = check_threshold(threshold)
    a = check_image(image, min_side)
    if threshold is None:
        b, _ = as_binary(a, "image")
        return (1 - b).astype(np.uint8) if metal == "dark" else np.ascontiguousarray(b)
    if a.dtype == bool:
        a = a.view(np.uint8)
    return apply_threshold(a, resolve_threshold(a, threshold), metal)


def check_levels(levels) -> tuple[float, float] | None:
    """Validate a ``levels`` argument: None, or (insulator, metal), two different finite
    intensities; returned as a pair of floats."""
    if levels is None:
        return None
    try:
        ins, met = (float(v) for v in levels)
    except (TypeError, ValueError):
        raise ValueError(f"levels must be (insulator, metal): the two phases' intensities, "
                         f"two numbers, got {levels!r}") from None
    if not (np.isfinite(ins) and np.isfinite(met)) or ins == met:
        raise ValueError(f"levels must be two different finite intensities (insulator, "
                         f"metal), got {levels!r}")
    return ins, met


def level_threshold(levels: tuple[float, float]) -> tuple[float, str]:
    """The physical threshold of two phase levels: (halfway level, which side is metal)."""
    ins, met = levels
    return (ins + met) / 2, ("bright" if met > ins else "dark")


def phase_units(image, levels=None, min_side: int = 1) -> np.ndarray:
    """One 2D grey image in phase units: ``(image - insulator) / (metal - insulator)``.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Grey micrograph; without ``levels`` a binary image (bool, 0/1, -1/+1), whose
        phases are 0 and 1 already.
    levels : (float, float), optional
        Intensities of insulator and metal (either may be the brighter).
    min_side : int
        Smallest allowed height and width (the classifier's window).

    Returns
    -------
    ndarray, float32, shape (H, W)
        Insulator 0, metal 1.
    """
    levels = check_levels(levels)
    a = check_image(image, min_side)
    if levels is None:
        try:
            b, _ = as_binary(a, "image")
        except ValueError:
            raise ValueError("this model reads grey levels: pass levels=(insulator, metal), "
                             "the intensities of the two phases (e.g. from a fully "
                             "insulating and a fully metallic frame)") from None
        return b.astype(np.float32)
    ins, met = levels
    return ((a.astype(np.float64) - ins) / (met - ins)).astype(np.float32)


def as_grey(x, name: str = "X") -> np.ndarray:
    """Grey images in phase units as float32, with clear errors for what they cannot be."""
    a = np.asarray(x)
    if a.dtype.kind not in "uifb":
        raise ValueError(f"{name} must be numeric grey levels, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values; replace them (e.g. "
                         "np.nan_to_num) before classifying")
    return a


def binarised(images: np.ndarray) -> np.ndarray:
    """uint8 0/1 images: binary ones unchanged, grey ones in phase units thresholded at
    the physical level 1/2."""
    a = np.asarray(images)
    return a if a.dtype == np.uint8 else np.ascontiguousarray(a > 0.5).view(np.uint8)
