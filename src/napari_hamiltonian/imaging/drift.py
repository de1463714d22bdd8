"""Drift registration of stacks: the sample moves sideways as it is heated or swept.

The paper registered its optical frames to 50 nm after the experiment (SI, S1B); before
each pixel's switching frame is found, every frame must show the same place. Shifts are
measured by phase correlation with sub-pixel refinement (scikit-image's
``phase_cross_correlation``) between consecutive frames, whose patterns differ least in
a sweep, and summed; since the errors of a sum grow with the number of frames, each
frame is then measured once more against the mean of the aligned stack, in which what
does not move with the sweep (electrodes, defects, the average pattern) stands out.
Domains that switch between two frames pull a correlation peak, so the shifts are then
refined by least squares on the pixels that did not change (:func:`_refined_shift`:
Gauss-Newton with robust weights, the camera's light fitted alongside), between each
frame and the two before it, and solved for one shift per frame. Each frame is shifted
back (cubic spline interpolation, which blurs less than linear); the region every frame
covers is returned as the mask of the aligned stack.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .illumination import monomials
from .region import check_mask, dark_in_every_frame, warn_of_a_dark_surround

#: Each frame's shift is refined against this many frames before it (pairs solved by
#: least squares): on ``samples.raw_microscope_stack`` (seeds 0-7) the largest error is
#: 0.04-0.09 px with 1 or 2, against 0.15-0.56 px from the correlation peaks alone.
REFINE_PAIRS = 2
#: Tukey's biweight constant (in robust standard deviations of the residual): pixels
#: whose domains switched between two frames get no weight.
TUKEY = 4.685
#: How far (px) a cubic spline and a gradient reach: pixels this close to a mask's edge
#: (an aperture's rim, fixed to the camera) see past it, so they are left out.
SPLINE_REACH = 2


def _edges(frame: np.ndarray, highpass: float, mask: np.ndarray | None) -> np.ndarray:
    """A frame divided by its Gaussian-smoothed copy (``highpass`` px), minus 1: the
    camera's vignetting, which does not move with the sample, is gone; domain walls and
    electrode edges stay. With a mask the copy is smoothed over the mask's pixels only
    (normalised convolution), so an aperture's rim makes no edge, and the result is 0
    outside it."""
    if not highpass:
        return frame if mask is None else np.where(mask, frame - frame[mask].mean(), 0.0)
    weight = np.ones(frame.shape) if mask is None else mask.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = ndimage.gaussian_filter(frame * weight, highpass, mode="nearest") \
            / ndimage.gaussian_filter(weight, highpass, mode="nearest")
        return np.nan_to_num((frame / smooth - 1.0) * weight)


def _taper(shape: tuple[int, int], mask: np.ndarray | None) -> np.ndarray:
    """The window both frames are multiplied by before their correlation: a Tukey window
    (the FFT would wrap the frames' edges), times, with a mask, the mask eroded by 8 px
    and smoothed by 3 px, so that an aperture's rim, which stays with the camera, does
    not pull the correlation peak towards zero shift."""
    from skimage.filters import window

    taper = window(("tukey", 0.3), shape)
    if mask is None:
        return taper
    inner = ndimage.binary_erosion(mask, iterations=8)
    return taper * ndimage.gaussian_filter(inner.astype(np.float64), 3.0)


def _shift_between(reference: np.ndarray, moving: np.ndarray, upsample: int,
                   mask: np.ndarray | None, highpass: float = 0.0) -> np.ndarray:
    """(dy, dx) that moves ``moving`` onto ``reference`` (px), from the peak of their
    cross-correlation (sub-pixel), the frames high-passed (:func:`_edges`) and tapered
    (:func:`_taper`)."""
    from skimage.registration import phase_cross_correlation

    taper = _taper(reference.shape, mask)
    reference, moving = _edges(reference, highpass, mask), _edges(moving, highpass, mask)
    shift, _, _ = phase_cross_correlation((reference - reference.mean()) * taper,
                                          (moving - moving.mean()) * taper,
                                          upsample_factor=upsample, normalization=None)
    return np.asarray(shift, np.float64)


def register_stack(stack, reference: str = "previous", upsample: int = 20,
                   mask=None, shifts=None, highpass: float = 5.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align the frames of a drifting stack.

    Parameters
    ----------
    stack : array_like, shape (T, H, W)
        Grey frames in sweep order (registration works on the raw frames, before any
        binarisation; flat-field them first if the illumination is uneven).
    reference : {"previous", "first"}
        Measure each frame's shift against the previous frame (and sum; refined against
        the :data:`REFINE_PAIRS` frames before it: best when the pattern changes along
        the sweep) or against the first.
    upsample : int
        Sub-pixel precision of the phase correlation that starts the refinement
        (1 / upsample px).
    mask : array_like of bool, shape (H, W), optional
        Pixels to compare, fixed to the camera (an aperture's inside): the correlation
        tapers the frames to it, the refinement weighs only pixels both frames show
        inside it. Without it, a rim that stays while the sample moves pulls the drift
        towards zero (``tests/test_region.py``: 0.71 px off, 0.14 px with it).
    highpass : float
        For the phase correlation, frames are compared after dividing each by its
        Gaussian-smoothed copy of this sigma (px; 0: as they are): the vignetting,
        fixed to the camera, would otherwise pull every shift towards zero (measured:
        the largest error 0.35-0.70 px without, 0.15-0.30 px with 5 px, before the
        refinement, which fits the light itself: 0.04-0.10 px,
        ``benchmarks/eval_raw_stack.py``).
    shifts : array_like, shape (T, 2), optional
        Shifts already measured (from the raw frames): the stack is only shifted back by
        them (to align a flat-fielded stack as its raw frames were).

    Returns
    -------
    aligned : ndarray, float32, shape (T, H, W)
        Each frame shifted back onto the first; NaN where a frame does not reach.
    shifts : ndarray, float64, shape (T, 2)
        (dy, dx) of each frame relative to the first, px (frame t shows the sample moved
        by ``shifts[t]``); ``shifts[0]`` is (0, 0).
    covered : ndarray of bool, shape (H, W)
        Pixels every aligned frame covers (inside ``mask`` in every frame, with one: an
        aperture stays with the camera while the sample moves): the region of interest
        of the aligned stack.
    """
    a = np.asarray(stack, np.float64)
    if a.ndim != 3 or len(a) < 2:
        raise ValueError(f"register_stack needs a stack of frames (T >= 2, H, W), got "
                         f"shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the stack holds NaN or infinite values; register the raw frames")
    if reference not in ("previous", "first"):
        raise ValueError(f"reference must be 'previous' or 'first', got {reference!r}")
    if isinstance(upsample, bool) or not isinstance(upsample, (int, np.integer)) \
            or upsample < 1:
        raise ValueError(f"upsample must be a whole number >= 1, got {upsample!r}")
    if not (np.isfinite(highpass) and highpass >= 0):
        raise ValueError(f"highpass must be a number of pixels >= 0, got {highpass!r}")
    mask = check_mask(mask, a.shape[1:])
    if shifts is not None:
        shifts = np.asarray(shifts, np.float64)
        if shifts.shape != (len(a), 2) or not np.isfinite(shifts).all():
            raise ValueError(f"shifts must be finite (dy, dx) per frame, shape "
                             f"({len(a)}, 2), got {shifts.shape}")
        aligned, covered = _aligned(a, shifts, mask)
        return aligned, shifts, covered
    shifts = np.zeros((len(a), 2))
    for t in range(1, len(a)):
        base = a[t - 1] if reference == "previous" else a[0]
        step = -_shift_between(base, a[t], upsample, mask, highpass)
        shifts[t] = step + (shifts[t - 1] if reference == "previous" else 0.0)
    if reference == "previous":  # each frame against the aligned mean: errors do not add
        aligned, covered = _aligned(a, shifts)
        template = aligned.mean(0)
        template = np.where(covered, template, template[covered].mean())
        shifts = np.array([shifts[t] - _shift_between(
            template, ndimage.shift(frame, -shifts[t], order=1, mode="nearest"), upsample,
            mask, highpass) for t, frame in enumerate(a)])
        shifts -= shifts[0]
    shifts = _refined(a, shifts, reference, mask)
    aligned, covered = _aligned(a, shifts, mask)
    if mask is None:
        # dark in every raw frame, more than in every aligned one: it stays with the
        # camera (an aperture's surround), not with the sample (a dark phase's domains)
        dark = dark_in_every_frame(a)
        if (dark & covered).sum() > (dark_in_every_frame(aligned) & covered).sum():
            warn_of_a_dark_surround(dark, "without a mask the drift is measured on the "
                                    "whole field, and a rim that stays with the camera "
                                    "pulls it towards zero", stacklevel=2)
    return aligned, shifts, covered


def _refined(a: np.ndarray, shifts: np.ndarray, reference: str,
             mask: np.ndarray | None) -> np.ndarray:
    """Shifts (T, 2) px refined pair by pair (:func:`_refined_shift`): each frame against
    the :data:`REFINE_PAIRS` frames before it (``reference="previous"``) or against the
    first, then one shift per frame by least squares, the first at (0, 0)."""
    terms = monomials(*np.mgrid[:a.shape[1], :a.shape[2]], a.shape[1:], 2)
    # pixels whose cubic spline and gradient reach only the sample (an aperture's edge
    # or surround, fixed to the camera, pulls otherwise)
    mask = None if mask is None else ndimage.binary_erosion(mask, iterations=SPLINE_REACH)
    rows, measured = [np.eye(len(a))[0]], [np.zeros(2)]
    for t in range(1, len(a)):
        for u in (range(max(0, t - REFINE_PAIRS), t) if reference == "previous" else (0,)):
            row = np.zeros(len(a))
            row[t], row[u] = 1.0, -1.0
            rows.append(row)
            measured.append(_refined_shift(a[u], a[t], shifts[t] - shifts[u], mask, terms))
    return np.linalg.lstsq(np.array(rows), np.array(measured), rcond=None)[0]


def _refined_shift(reference: np.ndarray, moving: np.ndarray, start: np.ndarray,
                   mask: np.ndarray | None, terms: np.ndarray,
                   iterations: int = 20) -> np.ndarray:
    """(dy, dx) px with ``moving(x + d)`` = ``reference(x)``, refined from ``start`` by
    Gauss-Newton least squares over the pixels both frames show.

    The model is ``reference * (1 + p1) + p0`` with p0, p1 quadratic in position (the
    camera's vignetting, which stays while the sample moves, and any offset); each pixel
    is weighted by Tukey's biweight of its residual, so the domains that switched
    between the frames (and their blurred surroundings) drop out instead of pulling
    the shift as they pull a correlation peak. Returns ``start`` where the frames hold
    no texture or the iteration leaves the start's pixel.
    """
    h, w = reference.shape
    start = np.array(start, np.float64)
    d = start.copy()
    margin = int(np.ceil(np.abs(d).max())) + 3
    if 2 * margin >= min(h, w) - 8:
        return start
    inner = (slice(margin, h - margin), slice(margin, w - margin))
    ref = reference[inner].ravel()
    basis = terms[inner].reshape(-1, terms.shape[-1])
    light = np.concatenate([basis, ref[:, None] * basis], 1)
    valid = np.ones(ref.shape, bool) if mask is None else mask[inner].ravel()
    weight = valid.astype(np.float64)
    for _ in range(iterations):
        warped = ndimage.shift(moving, -d, order=3, mode="nearest")
        gy, gx = np.gradient(warped)
        design = np.column_stack([gy[inner].ravel(), gx[inner].ravel(), -light])
        residual = ref - warped[inner].ravel()
        usable = valid if mask is None else valid & ndimage.shift(
            mask, -d, order=0, mode="constant", cval=False)[inner].ravel()
        weight = np.where(usable, weight, 0.0)  # both frames show the sample there
        for _ in range(2):  # solve, reweight by the residual, solve again
            weighted = design.T * weight
            step = np.linalg.lstsq(weighted @ design, weighted @ residual, rcond=None)[0]
            left = residual - design @ step
            kept = left[weight > 0]
            scale = 1.4826 * np.median(np.abs(kept)) if kept.size else 0
            if not scale > 0:
                return start
            u = left / (TUKEY * scale)
            weight = np.where(usable & (np.abs(u) < 1), (1 - u * u) ** 2, 0.0)
        if weight.sum() < 100 or not np.isfinite(step[:2]).all():
            return start
        d = d + step[:2]
        if np.abs(d - start).max() > 1.0:
            return start
        if np.abs(step[:2]).max() < 1e-3:
            break
    return d


def _aligned(a: np.ndarray, shifts: np.ndarray, mask: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Frames shifted back by ``shifts`` (NaN where a frame does not reach) and the
    pixels every frame covers: with a mask (fixed to the camera, as an aperture), the
    pixels every frame shows inside it, :data:`SPLINE_REACH` px in from its edge."""
    aligned = np.empty(a.shape, np.float32)
    seen = np.ones(a.shape[1:]) if mask is None else \
        ndimage.binary_erosion(mask, iterations=SPLINE_REACH).astype(np.float64)
    reach = np.ones(a.shape[1:], np.float64)
    for t, frame in enumerate(a):
        aligned[t] = ndimage.shift(frame, -shifts[t], order=3, mode="constant",
                                   cval=np.nan)
        reach = np.minimum(reach, ndimage.shift(seen, -shifts[t], order=1,
                                                mode="constant", cval=0.0))
    covered = (reach > 1 - 1e-6) & np.isfinite(aligned).all(0)
    aligned[:, ~covered] = np.nan
    return aligned, covered


def regions_in_frames(region, shifts) -> np.ndarray:
    """A region of the aligned stack, bool (H, W), as it lies in each raw frame: (T, H,
    W), shifted by each frame's drift (what :func:`~napari_hamiltonian.flat_field` of the
    raw frames needs, since the light belongs to the camera and the sample moves)."""
    region = np.asarray(region, bool)
    shifts = np.asarray(shifts, np.float64)
    return np.stack([ndimage.shift(region.astype(np.float64), s, order=1, mode="constant",
                                   cval=0.0) > 0.999 for s in shifts])
