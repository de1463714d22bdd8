"""Drift registration of stacks: the sample moves sideways as it is heated or swept.

The paper registered its optical frames to 50 nm after the experiment (SI, S1B); before
each pixel's switching frame is found, every frame must show the same place. Shifts are
measured by phase correlation with sub-pixel refinement (scikit-image's
``phase_cross_correlation``) between consecutive frames, whose patterns differ least in
a sweep, and summed; since the errors of a sum grow with the number of frames, each
frame is then measured once more against the mean of the aligned stack, in which what
does not move with the sweep (electrodes, defects, the average pattern) stands out, so
that its error no longer depends on the frames before it. Each frame is shifted back
(cubic spline interpolation, which blurs less than linear); the region every frame
covers is returned as the mask of the aligned stack.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .region import check_mask


def _edges(frame: np.ndarray, highpass: float) -> np.ndarray:
    """A frame divided by its Gaussian-smoothed copy (``highpass`` px), minus 1: the
    camera's vignetting, which does not move with the sample, is gone; domain walls and
    electrode edges stay."""
    if not highpass:
        return frame
    smooth = ndimage.gaussian_filter(frame, highpass, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(frame / smooth - 1.0)


def _shift_between(reference: np.ndarray, moving: np.ndarray, upsample: int,
                   mask: np.ndarray | None, highpass: float = 0.0) -> np.ndarray:
    """(dy, dx) that moves ``moving`` onto ``reference`` (px). The frames are high-passed
    (:func:`_edges`) and tapered (a Tukey window) so that their edges, which the FFT
    would wrap, do not pull the correlation peak towards zero shift."""
    from skimage.filters import window
    from skimage.registration import phase_cross_correlation

    reference, moving = _edges(reference, highpass), _edges(moving, highpass)

    if mask is None:
        taper = window(("tukey", 0.3), reference.shape)
        shift, _, _ = phase_cross_correlation((reference - reference.mean()) * taper,
                                              (moving - moving.mean()) * taper,
                                              upsample_factor=upsample, normalization=None)
    else:
        shift = phase_cross_correlation(reference, moving, reference_mask=mask,
                                        moving_mask=mask)[0]
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
        Measure each frame's shift against the previous frame (and sum: best when the
        pattern changes along the sweep) or against the first.
    upsample : int
        Sub-pixel precision of the phase correlation (1 / upsample px).
    mask : array_like of bool, shape (H, W), optional
        Pixels to compare (the sample, without an aperture's surround); masked phase
        correlation is whole-pixel only.
    highpass : float
        Frames are compared after dividing each by its Gaussian-smoothed copy of this
        sigma (px; 0: as they are): the vignetting, fixed to the camera, would otherwise
        pull every shift towards zero (measured: the largest error 0.35-0.70 px without,
        0.15-0.30 px with 5 px, ``benchmarks/eval_raw_stack.py``).
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
        Pixels every aligned frame covers: the region of interest of the aligned stack.
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
        aligned, covered = _aligned(a, shifts)
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
    aligned, covered = _aligned(a, shifts)
    return aligned, shifts, covered


def _aligned(a: np.ndarray, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames shifted back by ``shifts`` (NaN where a frame does not reach) and the
    pixels every frame covers."""
    aligned = np.empty(a.shape, np.float32)
    reach = np.ones(a.shape[1:], np.float64)
    for t, frame in enumerate(a):
        aligned[t] = ndimage.shift(frame, -shifts[t], order=3, mode="constant",
                                   cval=np.nan)
        reach = np.minimum(reach, ndimage.shift(np.ones(a.shape[1:]), -shifts[t], order=1,
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
