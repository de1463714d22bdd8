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

import warnings

import numpy as np
from scipy import ndimage

from .binary import otsu_threshold
from .region import check_mask, dark_in_every_frame, warn_of_a_dark_surround


def monomials(y, x, shape, degree: int) -> np.ndarray:
    """Monomials u^i v^j (i + j <= degree) of coordinates (y, x) of a frame of ``shape``
    scaled to [-1, 1], stacked on a last axis: the shapes a smooth light can take."""
    h, w = shape
    u, v = 2 * y / max(h - 1, 1) - 1, 2 * x / max(w - 1, 1) - 1
    pu, pv = [np.ones_like(u)], [np.ones_like(v)]
    for _ in range(degree):
        pu.append(pu[-1] * u)
        pv.append(pv[-1] * v)
    return np.stack([pu[i] * pv[j] for i in range(degree + 1)
                     for j in range(degree + 1 - i)], -1)


def _orders(degree: int) -> np.ndarray:
    """The total degree i + j of each of :func:`monomials`' columns, in their order."""
    return np.array([i + j for i in range(degree + 1) for j in range(degree + 1 - i)])


#: Pixels fitted at most (spread over the frames): the surface's error (degree 4) at
#: the field's corners, where a polynomial is least constrained, falls with their
#: number (20,000: up to 10 % of the contrast on ``samples.raw_microscope_stack``;
#: 200,000: 2.5 %; 600,000: the largest of seeds 0-6 1.8 % instead of 2.3 %).
FIT_PIXELS = 600_000
#: Distance (px) of a fitted pixel from a domain wall and from the region's edge: a
#: blurred wall or a bright electrode just outside the region leaks light this far
#: (2 sigma of a 2 px point-spread function).
WALL_MARGIN = 4
#: Residuals beyond this many robust standard deviations are left out of the refit
#: (specks, dust, a domain too small to erode away).
OUTLIER_SIGMAS = 3.0
#: Degrees ``degree="auto"`` chooses from, and the blocks (per side) its
#: cross-validation leaves out one at a time.
DEGREES = range(0, 7)
CV_BLOCKS = 8
#: A fitted light below this share of its mean inside the region is no camera's light
#: but a polynomial that cannot follow it (it is held there, and a warning says so).
LIGHT_FLOOR = 0.05


def _two_level_fit(design: np.ndarray, metal: np.ndarray, values: np.ndarray,
                   light: np.ndarray) -> tuple:
    """Coefficients of the light ``design @ coef`` with ``values = level[phase] * light``:
    each phase's level and the surface fitted in turn (least squares in intensity, by
    the normal equations: the monomials on [-1, 1] are well conditioned), three rounds,
    each refitted without residuals beyond ``OUTLIER_SIGMAS`` (scaled median absolute
    deviation). ``light``: the current estimate at these pixels.

    Returns
    -------
    coef : ndarray, shape (M,)
    level : ndarray, shape (N,)
        Each pixel's phase level.
    keep : ndarray of bool, shape (N,)
        The pixels the last fit kept (not outliers).
    """
    keep = np.ones(len(values), bool)
    for _ in range(3):
        level = np.ones(len(values))
        for phase in (metal, ~metal):
            sel = keep & phase
            if sel.any():
                level[phase] = (values[sel] @ light[sel]) / max(light[sel] @ light[sel],
                                                                 1e-300)
        weighted = design[keep] * level[keep, None]
        coef = np.linalg.lstsq(weighted.T @ weighted, weighted.T @ values[keep],
                               rcond=None)[0]
        light = design @ coef
        residual = values - level * light
        spread = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep])))
        keep = np.abs(residual) <= OUTLIER_SIGMAS * max(spread, 1e-12)
    return coef, level, keep


def _held_out_degree(weighted: np.ndarray, values: np.ndarray, ys: np.ndarray,
                     xs: np.ndarray, shape: tuple, degrees: range,
                     region: np.ndarray) -> int:
    """The lowest degree whose light predicts left-out parts of the field as well as
    the best degree does, within one standard error (the "one standard error" rule).

    The field is cut into ``CV_BLOCKS`` x ``CV_BLOCKS`` blocks; each is left out in
    turn, the surface fitted to the others (least squares from the blocks' summed
    normal equations, so each fit is a small solve) and its squared error on the block
    measured. A block is larger than a domain, so the residuals a domain shares (its
    wall's blur, a misjudged phase) cannot hide an over-fitted surface; where the light
    is quadratic, degree 4 wanders by up to 3.6 % of the contrast at the field's corners
    that degree 2 keeps under 1 %.

    Parameters
    ----------
    weighted : ndarray, shape (N, M)
        The monomials up to ``max(degrees)`` (:func:`monomials`) times each pixel's
        phase level.
    values : ndarray, shape (N,)
        The pixels' intensities.
    ys, xs : ndarray of int, shape (N,)
        The pixels' positions (px) in a frame of ``shape``.
    degrees : range
        The degrees to choose from.
    region : ndarray, shape (K, M)
        The monomials at pixels spread over the region: a degree whose surface,
        fitted to all blocks, falls below ``LIGHT_FLOOR`` of its mean there is no
        camera's light and is not chosen (unless every degree does).
    """
    orders = _orders(max(degrees))
    block = (ys * CV_BLOCKS // shape[0]) * CV_BLOCKS + xs * CV_BLOCKS // shape[1]
    order = np.argsort(block, kind="stable")
    weighted, values = weighted[order], values[order]
    edges = np.flatnonzero(np.diff(block[order])) + 1
    gram, moment, square, count = [], [], [], []
    for a, y in zip(np.split(weighted, edges), np.split(values, edges)):
        gram.append(a.T @ a)
        moment.append(a.T @ y)
        square.append(y @ y)
        count.append(len(y))
    total_gram, total_moment = np.sum(gram, 0), np.sum(moment, 0)
    errors, sane = {}, {}
    for degree in degrees:
        cols = np.flatnonzero(orders <= degree)
        sub = np.ix_(cols, cols)
        per_block = []
        for g, m, q, n in zip(gram, moment, square, count):
            coef = np.linalg.lstsq((total_gram - g)[sub], (total_moment - m)[cols],
                                   rcond=None)[0]
            per_block.append((q - 2 * coef @ m[cols] + coef @ g[sub] @ coef) / n)
        errors[degree] = np.array(per_block)
        light = region[:, cols] @ np.linalg.lstsq(total_gram[sub], total_moment[cols],
                                                  rcond=None)[0]
        if light.min() >= LIGHT_FLOOR * light.mean():
            sane[degree] = errors[degree]
    errors = sane or errors
    best = min(errors, key=lambda d: errors[d].mean())
    for degree in sorted(errors):
        excess = errors[degree] - errors[best]
        if excess.mean() <= excess.std() / np.sqrt(len(excess)):
            return degree
    return best


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


def _surface(frames: list, regions: list, degrees: range,
             two_phases: bool) -> tuple:
    """The illumination, up to a constant: a polynomial of one of ``degrees`` (the
    lowest that predicts left-out blocks of the field as well as any, chosen in each
    round but the first by :func:`_held_out_degree`) times one level per phase, fitted
    by robust least squares to the intensities of pixels inside the region. A first
    round fits a quadratic and one level to every pixel (the local mean brightness,
    smoothly: most of the vignetting, so that Otsu's threshold can split the phases at
    the field's dark corners; a higher degree there follows a coarse pattern's domains
    on a small frame and may fall to nothing); three more split each frame's pixels by
    Otsu's threshold after the current correction and keep those ``WALL_MARGIN`` px from
    a domain wall and from the region's edge.
    One level and one round without ``two_phases``.

    The fit is in intensity, not in log intensity: a camera's noise is the same in both
    phases, and in log the dark phase's pixels (insulator 60 against metal 150) weigh
    as much with 2.5 times the noise. Measured on ``samples.raw_microscope_stack``
    (seeds 0-7, the levels' largest spread across the field, fitted to the stack):
    0.4-1.0 % of the contrast (degree 4 always: 1.5-3.6 %; in log: 1.6-5.1 %); under
    an off-centre Gaussian illumination spot and a cos^4 vignetting (30 % and 26 %
    darker at the corners) 1.3-3.6 %, as with degree 4. On one frame alone the choice
    is less sure: 1.0-1.5 % under the quadratic light (degree 4: 2.0-6.0 %), but
    2.9-7.3 % under the spot, where it mostly keeps degree 2 (degree 4: 2.0-6.8 %).

    Returns
    -------
    light : ndarray, shape (H, W)
    degree : int
        The polynomial's degree.
    dipped : float
        The share of the region where the polynomial fell below ``LIGHT_FLOOR``.
    """
    shape = frames[0].shape
    top = max(degrees)
    gy, gx = np.mgrid[:shape[0], :shape[1]].astype(np.float64)
    grid = monomials(gy, gx, shape, top)
    inside = np.any(regions, 0)
    light = np.ones(shape)
    rng = np.random.default_rng(0)
    for split in ([False, True, True, True] if two_phases else [False]):
        rows, phases, values, current, where = [], [], [], [], []
        for f, region in zip(frames, regions):
            ok = region & (np.nan_to_num(f) > 0)
            metal = np.zeros(shape, bool)
            if split:
                corrected = f / light
                with np.errstate(invalid="ignore"):
                    metal = ok & (corrected > otsu_threshold(corrected[ok]))
                ok = _away_from_walls(metal, ok & ~metal)
            ys, xs = np.nonzero(ok)
            pick = rng.choice(len(ys), min(len(ys), FIT_PIXELS // len(frames) + 1),
                              replace=False)
            ys, xs = ys[pick], xs[pick]
            rows.append(monomials(ys.astype(float), xs.astype(float), shape, top))
            where.append((ys, xs))
            phases.append(metal[ys, xs])
            values.append(f[ys, xs])
            current.append(light[ys, xs])
        design, metal, values = (np.concatenate(rows), np.concatenate(phases),
                                 np.concatenate(values))
        current = np.concatenate(current)
        if two_phases and not split:  # the local brightness, smoothly: a quadratic
            cols = np.flatnonzero(_orders(top) <= min(top, 2))
            coef = _two_level_fit(design[:, cols], metal, values, current)[0]
        elif len(degrees) == 1:
            cols = np.arange(design.shape[1])
            coef = _two_level_fit(design, metal, values, current)[0]
        else:
            coef, level, keep = _two_level_fit(design, metal, values, current)
            ys, xs = (np.concatenate(w)[keep] for w in zip(*where))
            chosen = _held_out_degree(design[keep] * level[keep, None], values[keep],
                                      ys, xs, shape, degrees, grid[inside][::7])
            cols = np.flatnonzero(_orders(top) <= chosen)
            coef = _two_level_fit(design[:, cols], metal, values, current)[0]
        light = grid[..., cols] @ coef
        # a polynomial may dip to zero outside the fitted pixels: keep the division sane
        floor = LIGHT_FLOOR * light[inside].mean()
        dipped = float(np.mean(light[inside] < floor))
        light = np.maximum(light, floor)
    return light, int(_orders(top)[cols].max()), dipped


def illumination(image_or_stack, degree: int | str = "auto", reference=None,
                 mask=None) -> np.ndarray:
    """The illumination of an image or a stack, shape (H, W), mean 1 over the region.

    Both phases reflect the same light, so a frame is ``light(x) * reflectance(phase)``:
    the intensities of pixels away from domain walls are fitted by a smooth surface (a
    2D polynomial of ``degree``) times one level per phase, the phases
    found by Otsu's threshold after the correction so far (three rounds after a first
    that fits the local brightness; up to eight frames of a stack, evenly spaced).
    A ``UserWarning`` says when the surface falls to nothing inside the region. With a
    reference frame of one phase, the surface alone is fitted to it.

    Parameters
    ----------
    image_or_stack : array_like, shape (H, W) or (T, H, W)
        Grey frames (NaN allowed outside ``mask``, e.g. where an aligned stack has no
        data).
    degree : int or "auto"
        Degree of the polynomial. ``"auto"``: the lowest of 0-6 that predicts
        left-out blocks of the field as well as the best does (block cross-validation):
        2 for a lens's quadratic vignetting, mostly 4 for cos^4 vignetting or an
        off-centre illumination spot. A degree higher than the light needs adds its own
        wander at the field's corners.
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
    if not (isinstance(degree, str) and degree == "auto") and (
            isinstance(degree, (bool, str)) or not isinstance(degree, (int, np.integer))
            or not 0 <= degree <= 8):
        raise ValueError(f"degree must be \"auto\" or a whole number from 0 to 8, got "
                         f"{degree!r}")
    if reference is not None:
        base = np.asarray(reference, np.float64)
        if base.shape != shape:
            raise ValueError(f"the reference frame has shape {base.shape}, the frames "
                             f"{shape}: give a frame of the same field")
        frames = [base]
        picked = [0]
    else:
        stack = a[None] if a.ndim == 2 else a
        if mask is None:
            warn_of_a_dark_surround(dark_in_every_frame(stack),
                                    "without a mask the light is fitted to it too, "
                                    "and the sample's comes out wrong by several per cent",
                                    stacklevel=3)
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
    # twenty pixels a coefficient at least (a degree d surface has (d+1)(d+2)/2)
    pixels = min(r.sum() for r in regions)
    enough = [d for d in DEGREES if 10 * (d + 1) * (d + 2) <= pixels]
    degrees = range(degree, degree + 1) if degree != "auto" else \
        range(0, max(enough, default=0) + 1)
    if pixels < 10 * (max(degrees) + 1) * (max(degrees) + 2):
        raise ValueError("too few pixels of the sample to fit the illumination")
    light, chosen, dipped = _surface(frames, regions, degrees, reference is None)
    if dipped:
        warnings.warn(
            f"the flat field's light falls to nothing on {dipped:.1%} of the region: it "
            f"changes faster than a polynomial of degree {chosen} follows (a vignetting "
            "that darkens the corners by more than half?), and the frames there are "
            "wrong. Leave the darkest part of the field out with a region, or give a "
            "reference frame of one phase", UserWarning, stacklevel=3)
    return light / light[inside].mean()


def flat_field(image_or_stack, degree: int | str = "auto", reference=None,
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
