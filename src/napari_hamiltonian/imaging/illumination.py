"""Flat field: slowly varying illumination (vignetting, uneven camera sensitivity)
divided out, so that one threshold or one pair of phase levels holds across the field.

The paper normalised its camera's sensitivity to the substrate (SI, S1B). Here the
illumination is either measured, from a reference frame of one phase (a fully
insulating frame at the start of a sweep), or estimated from the data: a smooth surface
fitted to the image, or to a stack's mean frame, in which every pixel of a sweep has
been both phases and the pattern averages out. Only the region of interest is fitted,
so an aperture's surround or an electrode does not leak into the sample's illumination.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .binary import otsu_threshold
from .region import check_mask


def monomials(y, x, shape, degree: int) -> np.ndarray:
    """Monomials u^i v^j (i + j <= degree) of coordinates (y, x) of a frame of ``shape``
    scaled to [-1, 1], stacked on a last axis: the shapes a smooth light can take."""
    h, w = shape
    u, v = 2 * y / max(h - 1, 1) - 1, 2 * x / max(w - 1, 1) - 1
    return np.stack([u ** i * v ** j for i in range(degree + 1)
                     for j in range(degree + 1 - i)], -1)


#: Pixels fitted at most (spread over the frames): the surface's error at the field's
#: corners, where a polynomial is least constrained, falls with their number (20,000:
#: up to 10 % of the contrast on ``samples.raw_microscope_stack``; 200,000: 2.5 %;
#: 600,000: the largest of seeds 0-6 1.8 % instead of 2.3 %).
FIT_PIXELS = 600_000
#: Distance (px) of a fitted pixel from a domain wall and from the region's edge: a
#: blurred wall or a bright electrode just outside the region leaks light this far
#: (2 sigma of a 2 px point-spread function).
WALL_MARGIN = 4
#: Residuals beyond this many robust standard deviations are left out of the refit
#: (specks, dust, a domain too small to erode away).
OUTLIER_SIGMAS = 3.0


def _two_level_fit(design: np.ndarray, metal: np.ndarray, values: np.ndarray,
                   light: np.ndarray) -> np.ndarray:
    """Coefficients of the light ``design @ coef`` with ``values = level[phase] * light``:
    each phase's level and the surface fitted in turn (least squares in intensity),
    three rounds, each refitted without residuals beyond ``OUTLIER_SIGMAS`` (scaled
    median absolute deviation). ``light``: the current estimate at these pixels."""
    keep = np.ones(len(values), bool)
    for _ in range(3):
        level = np.ones(len(values))
        for phase in (metal, ~metal):
            sel = keep & phase
            if sel.any():
                level[phase] = (values[sel] @ light[sel]) / max(light[sel] @ light[sel],
                                                                 1e-300)
        coef = np.linalg.lstsq(design[keep] * level[keep, None], values[keep],
                               rcond=None)[0]
        light = design @ coef
        residual = values - level * light
        spread = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep])))
        keep = np.abs(residual) <= OUTLIER_SIGMAS * max(spread, 1e-12)
    return coef


def _away_from_walls(metal: np.ndarray, insulator: np.ndarray) -> np.ndarray:
    """Pixels ``WALL_MARGIN`` px inside a phase's domain; closer to the walls where the
    domains are too fine to keep a tenth of the pixels that far (a labyrinth of 6 px
    period)."""
    both = metal | insulator
    for margin in range(WALL_MARGIN, 0, -1):
        core = ndimage.binary_erosion(metal, iterations=margin) | \
            ndimage.binary_erosion(insulator, iterations=margin)
        if core.sum() >= 0.1 * both.sum():
            return core
    return both


def _surface(frames: list, regions: list, degree: int, two_phases: bool) -> np.ndarray:
    """The illumination, up to a constant: a polynomial of ``degree`` times one level
    per phase, fitted by robust least squares to the intensities of pixels inside the
    region (each frame's pixels split by Otsu's threshold after the current
    correction, ``WALL_MARGIN`` px from a domain wall and from the region's edge),
    three rounds; one phase only without ``two_phases``.

    The fit is in intensity, not in log intensity: a camera's noise is the same in both
    phases, and in log the dark phase's pixels (insulator 60 against metal 150) weigh
    as much with 2.5 times the noise. Measured on ``samples.raw_microscope_stack``
    (seeds 0-7, the levels' largest spread across the field): 1.5-3.7 % of the
    contrast against 1.6-5.1 % in log; under an off-centre Gaussian illumination spot
    1.5-3.8 % against 2.4-4.7 %, under a cos^4 vignetting 1.6-3.9 % against 2.4-4.9 %.
    """
    shape = frames[0].shape
    gy, gx = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    grid = monomials(gy, gx, shape, degree)
    inside = np.any(regions, 0)
    light = np.ones(shape)
    rng = np.random.default_rng(0)
    for _ in range(3 if two_phases else 1):
        rows, phases, values, current = [], [], [], []
        for f, inside in zip(frames, regions):
            ok = inside & (np.nan_to_num(f) > 0)
            metal = np.zeros(shape, bool)
            if two_phases:
                corrected = f / light
                with np.errstate(invalid="ignore"):
                    metal = ok & (corrected > otsu_threshold(corrected[ok]))
                ok = _away_from_walls(metal, ok & ~metal)
            ys, xs = np.nonzero(ok)
            pick = rng.choice(len(ys), min(len(ys), FIT_PIXELS // len(frames) + 1),
                              replace=False)
            ys, xs = ys[pick], xs[pick]
            rows.append(monomials(ys.astype(float), xs.astype(float), shape, degree))
            phases.append(metal[ys, xs])
            values.append(f[ys, xs])
            current.append(light[ys, xs])
        coef = _two_level_fit(np.concatenate(rows), np.concatenate(phases),
                              np.concatenate(values), np.concatenate(current))
        light = grid @ coef
        # a polynomial may dip to zero outside the fitted pixels: keep the division sane
        light = np.maximum(light, 0.05 * light[inside].mean())
    return light


def illumination(image_or_stack, degree: int = 4, reference=None,
                 mask=None) -> np.ndarray:
    """The illumination of an image or a stack, shape (H, W), mean 1 over the region.

    Both phases reflect the same light, so a frame is ``light(x) * reflectance(phase)``:
    the intensities of pixels away from domain walls are fitted by a smooth surface (a
    2D polynomial of ``degree``) times one level per phase, the phases
    found by Otsu's threshold after the correction so far (three rounds; up to eight
    frames of a stack, evenly spaced). With a reference frame of one phase, the surface
    alone is fitted to it.

    Parameters
    ----------
    image_or_stack : array_like, shape (H, W) or (T, H, W)
        Grey frames (NaN allowed outside ``mask``, e.g. where an aligned stack has no
        data).
    degree : int
        Degree of the polynomial (4: vignetting and an off-centre illumination spot).
    reference : array_like, shape (H, W), optional
        A frame of one phase only (fully insulating or fully metallic) under the same
        illumination, fitted instead of the data.
    mask : array_like of bool, shape (H, W) or (T, H, W), optional
        The region of interest, True on the sample: only its pixels are fitted. Per
        frame for a drifting stack: the illumination belongs to the camera, the sample
        moves under it, so fit the raw frames with the region where it is in each
        (``register_stack`` gives the shifts).
    """
    a = np.asarray(image_or_stack, np.float64)
    if a.ndim not in (2, 3):
        raise ValueError(f"give an image (H, W) or a stack (T, H, W), got shape {a.shape}")
    shape = a.shape[-2:]
    mask = check_mask(mask, a.shape)
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) \
            or not 0 <= degree <= 8:
        raise ValueError(f"degree must be a whole number from 0 to 8, got {degree!r}")
    if reference is not None:
        base = np.asarray(reference, np.float64)
        if base.shape != shape:
            raise ValueError(f"the reference frame has shape {base.shape}, the frames "
                             f"{shape}: give a frame of the same field")
        frames = [base]
        picked = [0]
    else:
        stack = a[None] if a.ndim == 2 else a
        picked = np.unique(np.linspace(0, len(stack) - 1, 8).astype(int))
        frames = list(stack[picked])
    # pixels at or below zero (clipped at the camera's floor) carry no light to fit
    with np.errstate(invalid="ignore"):
        regions = [(np.isfinite(f) & (f > 0)) if mask is None else
                   np.isfinite(f) & (f > 0) & (mask if mask.ndim == 2 else mask[t])
                   for f, t in zip(frames, picked)]
    inside = np.any(regions, 0)
    sample = [r.sum() / max((np.isfinite(f) if mask is None else
                             mask if mask.ndim == 2 else mask[t]).sum(), 1)
              for f, r, t in zip(frames, regions, picked)]
    frames = [np.where(r, f, np.nan) for f, r in zip(frames, regions)]
    if min(sample) < 0.5:
        raise ValueError("more than half of the sample's pixels are at or below zero: the "
                         "flat field divides by the light, which needs intensities above "
                         "the camera's floor (do not subtract a dark frame that takes the "
                         "sample to zero; give a region that leaves dark parts out)")
    if min(r.sum() for r in regions) < 10 * (degree + 1) * (degree + 2):
        raise ValueError("too few pixels of the sample to fit the illumination")
    light = _surface(frames, regions, degree, reference is None)
    return light / light[inside].mean()


def flat_field(image_or_stack, degree: int = 4, reference=None,
               mask=None) -> np.ndarray:
    """Frames with the slowly varying illumination divided out (:func:`illumination`).

    Returns
    -------
    ndarray, float32, shape of the input
        ``frames / illumination``: the phases' levels the same across the field, the
        mean brightness unchanged. Pixels outside ``mask`` are divided by the nearest
        estimate and carry no meaning. The input is not modified.
    """
    a = np.asarray(image_or_stack)
    light = illumination(a, degree, reference, mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a / light).astype(np.float32)
