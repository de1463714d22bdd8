"""Temperature stacks binarised as the paper's optical data were: by switching frame.

The SI of Basak et al. describes it: smooth the raw stack (a Gaussian of sigma 2.5
pixels, over about three frames), find for each pixel the frame at which its intensity
switches, and take the map "switched by frame t" as the binary image at t. A pixel that
has switched stays switched, as in a field or temperature sweep with return-point
memory, and every pixel is judged against its own history instead of one threshold.

Here the switching frame of a pixel is the first metal frame of the nested sequence
(insulator up to some frame, metal from it on) that disagrees least with the frames
thresholded one by one at their own Otsu levels, counting disagreeing frames; the
sweep goes from insulator to metal in the direction the stack's metal fraction grows.
A pixel's isolated noisy frames are outvoted by its history, so the maps are nested
exactly and, on rendered RF-2D field sweeps (``benchmarks/eval_switching.py``, tested
in ``tests/test_switching.py``), agree with the true maps better than per-frame Otsu
(88-99 % against 76-99 % of pixels for a point-spread function of 1-3 px and signal
to noise 3-10).

The smoothing is optional: ``sigma=2.5, time_sigma=1`` is the paper's, for a
point-spread function of about seven pixels. On those renders it helps at signal to
noise 3 (by up to 4 points) and costs up to 4 points at 10, so the default is none.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .binary import apply_threshold, check_metal, otsu_threshold, resolve_threshold
from .region import check_mask, fill_outside

#: Methods of :func:`binarize_stack`.
METHODS = ("switching", "otsu")


def binarize_stack(stack, method="switching", metal: str = "bright", sigma: float = 0.0,
                   time_sigma: float = 0.0, mask=None) -> np.ndarray:
    """Binary metal maps of a grey temperature (or field) stack.

    Parameters
    ----------
    stack : array_like, shape (T, H, W)
        Grey frames in sweep order (T >= 2 for "switching").
    method : "switching", "otsu" or float
        "switching": the paper's switching-frame maps (module docstring), nested
        exactly; "otsu": each frame at its own Otsu threshold; a number: that grey
        level for every frame.
    metal : "bright" or "dark"
        Which intensity is metal.
    sigma : float
        Spatial Gaussian smoothing before the switching analysis (pixels; 0 for none;
        the paper used 2.5).
    time_sigma : float
        Smoothing along the frames (frames; 0 for none; the paper smoothed over about
        three frames, ``time_sigma=1``).

    mask : array_like of bool, shape (H, W) or (T, H, W), optional
        The region of interest, True on the sample: thresholds come from the pixels
        inside it, pixels outside it (NaN allowed) are 0 in the maps.

    Returns
    -------
    ndarray, uint8 0/1, shape (T, H, W)
        1 = metal. The input is not modified.
    """
    a = np.asarray(stack)
    check_metal(metal)
    if a.ndim != 3:
        raise ValueError(f"stack must be 3D (frames, H, W), got shape {a.shape}")
    mask = check_mask(mask, a.shape, "stack")
    if mask is not None:
        region = np.broadcast_to(mask, a.shape)
        a = np.stack([fill_outside(f, m) for f, m in zip(a, region)])
        maps = binarize_stack(a, method, metal, sigma, time_sigma, None) if \
            not (isinstance(method, str) and method in METHODS) else \
            _binarize_inside(a, method, metal, sigma, time_sigma, region)
        return np.where(region, maps, 0).astype(np.uint8)
    if a.dtype.kind not in "uifb" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
        raise ValueError("stack must hold real grey levels without NaN or infinity")
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or a grey level, got "
                             f"{method!r}")
        if method == "otsu":
            return np.stack([apply_threshold(f, resolve_threshold(f, "otsu"), metal)
                             for f in a])
    else:
        level = resolve_threshold(a, float(method))
        return apply_threshold(a, level, metal)
    for name, value in (("sigma", sigma), ("time_sigma", time_sigma)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if len(a) < 2:
        raise ValueError("the switching method needs a stack of at least 2 frames; use "
                         "method='otsu' for a single frame")
    return _switching(a, metal, sigma, time_sigma)


def _binarize_inside(a: np.ndarray, method: str, metal: str, sigma: float,
                     time_sigma: float, region: np.ndarray) -> np.ndarray:
    """:func:`binarize_stack` with every Otsu threshold taken from the pixels inside
    ``region`` (the frames already filled outside it)."""
    if method == "otsu":
        return np.stack([apply_threshold(f, otsu_threshold(f[m]), metal)
                         for f, m in zip(a, region)])
    return _switching(a, metal, sigma, time_sigma, region)


def _switching(a: np.ndarray, metal: str, sigma: float, time_sigma: float,
               region: np.ndarray | None = None) -> np.ndarray:
    """The switching-frame maps of a checked stack (module docstring); Otsu's level of
    each frame from the pixels inside ``region`` when given."""
    g = a.astype(np.float32)
    if metal == "dark":
        g = -g
    if sigma > 0 or time_sigma > 0:
        g = ndimage.gaussian_filter(g, (time_sigma, sigma, sigma), mode="nearest")
    if region is None:
        rising = g[-1].mean() >= g[0].mean()  # metal fraction grows along the stack
    else:
        rising = g[-1][region[-1]].mean() >= g[0][region[0]].mean()
    if not rising:
        g = g[::-1]
        region = None if region is None else region[::-1]
    n = len(g)
    levels = np.array([otsu_threshold(f if region is None else f[m])
                       for f, m in zip(g, g if region is None else region)], np.float32)
    above = g > levels[:, None, None]
    # errors of "first metal frame = t" for t = 0..n: metal frames before t, insulator
    # frames from t on
    metal_before = np.concatenate([np.zeros((1,) + g.shape[1:], np.int32),
                                   np.cumsum(above, 0, dtype=np.int32)])
    insulator_after = (n - np.arange(n + 1))[:, None, None] - (metal_before[-1] - metal_before)
    first = np.argmin(metal_before + insulator_after, 0)
    out = (np.arange(n)[:, None, None] >= first[None]).view(np.uint8)
    return np.ascontiguousarray(out[::-1] if not rising else out)
