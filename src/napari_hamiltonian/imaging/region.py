"""Regions of interest: where in a frame the sample is.

A region is a boolean mask of a frame's shape (or a stack's), True on the sample. A
window is classified only when it lies wholly inside the region; pixels outside it
(an aperture's dark surround, electrodes, a scale bar; NaN there is allowed) enter no
threshold, level, PSF estimate, share or cluster.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np


def check_mask(mask, shape: tuple[int, ...], what: str = "image") -> np.ndarray | None:
    """``mask`` as a C-contiguous bool array of ``shape`` (or of ``shape[-2:]`` for a
    stack, broadcast over frames), or None; ValueError naming the fix otherwise."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != bool:
        if m.dtype.kind not in "uif" or (m.dtype.kind == "f" and not np.isfinite(m).all()):
            raise ValueError(f"mask must be boolean (True on the sample) or numbers, got "
                             f"dtype {m.dtype}")
        m = m != 0
    if m.shape != tuple(shape) and m.shape != tuple(shape[-2:]):
        raise ValueError(f"mask has shape {m.shape}, the {what} {tuple(shape)}: give a mask "
                         "of the frame's shape (Y, X) or of the stack's (T, Y, X)")
    if not m.any():
        raise ValueError("the mask holds no pixel of the sample (all False or 0): "
                         "nothing to read; True (or nonzero) marks the sample")
    return np.ascontiguousarray(m)


#: Without a region, warn when more than this share of the field is dark in every
#: frame (below a tenth of the frames' median): an aperture's surround, which stays
#: with the camera.
DARK_SHARE = 0.05


def dark_in_every_frame(frames: np.ndarray) -> np.ndarray:
    """Pixels (H, W) below a tenth of the median of ``frames`` (H, W) or (T, H, W) in
    every frame (NaN is not dark): an aperture's surround, or none where the frames hold
    no light to be dark against (a median at or below zero)."""
    a = frames[None] if frames.ndim == 2 else frames
    median = np.nanmedian(a)
    if not median > 0:
        return np.zeros(a.shape[1:], bool)
    with np.errstate(invalid="ignore"):
        return (a < 0.1 * median).all(0)


def warn_of_a_dark_surround(dark: np.ndarray, spoils: str, stacklevel: int) -> None:
    """Warn, naming what it ``spoils``, when the pixels ``dark`` in every frame
    (:func:`dark_in_every_frame`) are more than :data:`DARK_SHARE` of the field and no
    region was given."""
    if dark.mean() > DARK_SHARE:
        warnings.warn(f"{dark.mean():.0%} of the field is dark in every frame (an "
                      f"aperture's surround?): {spoils}. Give the aperture's inside as the "
                      "region (mask=, --mask, or a Labels or Shapes layer in the dock)",
                      UserWarning, stacklevel=stacklevel + 1)


def region_digest(mask: np.ndarray | None) -> str | None:
    """SHA-256 of a region (its bits, packed), or None: what results folders record and
    caches key on."""
    if mask is None:
        return None
    return hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()


def windows_inside(mask: np.ndarray | None, shape: tuple[int, int], window: int,
                   stride: int) -> np.ndarray:
    """(ny, nx) bool: which windows of a frame of ``shape`` lie wholly inside ``mask``
    (all True without a mask); exact, from an integral image of the pixels outside."""
    ny = (shape[0] - window) // stride + 1
    nx = (shape[1] - window) // stride + 1
    if mask is None:
        return np.ones((ny, nx), bool)
    outside = np.zeros((shape[0] + 1, shape[1] + 1), np.int64)
    outside[1:, 1:] = np.cumsum(np.cumsum(~mask, 0), 1)
    y = np.arange(ny) * stride
    x = np.arange(nx) * stride
    count = (outside[y[:, None] + window, x[None] + window] - outside[y[:, None], x[None] + window]
             - outside[y[:, None] + window, x[None]] + outside[y[:, None], x[None]])
    return count == 0


def check_windows_inside(mask: np.ndarray | None, window: int, what: str = "region"
                         ) -> None:
    """ValueError naming the fix unless at least one ``window`` x ``window`` window lies
    wholly inside ``mask`` (of every frame, for a stack's)."""
    if mask is None:
        return
    for m in (mask if mask.ndim == 3 else [mask]):
        if m.shape[0] < window or m.shape[1] < window or \
                not windows_inside(m, m.shape, window, 1).any():
            raise ValueError(f"no {window}x{window}-pixel window lies wholly inside the "
                             f"{what}: nothing can be classified. Enlarge the region (the "
                             "model reads whole windows of the sample)")


def fill_outside(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``image`` with the pixels outside ``mask`` set to the median inside (NaN there
    allowed), so that nothing outside the region can fail a check or move a statistic;
    the input is not modified. Non-finite values inside the region stay (and are refused
    downstream, by name)."""
    if mask is None:
        return image
    a = np.asarray(image)
    out = a.astype(np.float64 if a.dtype.kind == "f" else a.dtype, copy=True)
    inside = a[mask]
    out[~mask] = np.median(inside[np.isfinite(inside)]) if inside.dtype.kind == "f" \
        else np.median(inside)
    return out.astype(a.dtype, copy=False) if a.dtype.kind != "f" else out


def largest_rectangle(mask: np.ndarray) -> tuple[slice, slice]:
    """The largest axis-aligned rectangle of True pixels of a 2D mask, as slices (the
    maximal-rectangle histogram method, O(H W))."""
    h, w = mask.shape
    heights = np.zeros(w, np.int64)
    best, where = 0, (slice(0, 0), slice(0, 0))
    for row in range(h):
        heights = np.where(mask[row], heights + 1, 0)
        bars = heights.tolist() + [0]
        stack: list[int] = []
        for col, height in enumerate(bars):
            while stack and bars[stack[-1]] >= height:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = bars[top] * (col - left)
                if area > best:
                    best = area
                    where = (slice(row - bars[top] + 1, row + 1), slice(left, col))
            stack.append(col)
    return where


def frame_mask(mask: np.ndarray | None, t: int) -> np.ndarray | None:
    """The mask of frame ``t`` of a stack's mask (a frame's mask is every frame's)."""
    if mask is None or mask.ndim == 2:
        return mask
    return mask[t]
