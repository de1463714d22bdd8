"""Finite optical resolution: what a microscope and a threshold make of a domain image.

A microscope blurs the domain pattern by its point-spread function and adds noise; the
user thresholds the grey image back to binary. Blur plus threshold smooths domain walls
and erases clusters smaller than the resolution, so a thresholded micrograph is not an
image of the lattice the models live on. :class:`Instrument` is that measurement,
simulated; :func:`estimate_psf_sigma` reads the point-spread function's width back from
a grey image. The model card measures how the lattice-scale classifier fares on such
images (:func:`napari_hamiltonian.output.report.evaluate_optics`); the models trained for a
given resolution (``train --psf-sigma``) learn from the renders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from .binary import otsu_thresholds
from .region import check_mask, largest_rectangle


def defocus_psf(radius: float) -> np.ndarray:
    """Point-spread function of a defocused lens: a uniform disk, (2r+1, 2r+1), sum 1."""
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = (xx ** 2 + yy ** 2 <= radius ** 2 + 0.5).astype(np.float32)
    return disk / disk.sum()


#: Noise of the model card's micrographs (standard deviation, units of the contrast).
TEST_NOISE = 0.1
#: Optical systems the model card measures accuracy through (:func:`micrograph`): name ->
#: point-spread function (a Gaussian's standard deviation in pixels, a pair for rows and
#: columns, or a kernel).
TEST_OPTICS: dict[str, object] = {
    "Gaussian, sigma 1 px": 1.0,
    "Gaussian, sigma 2 px": 2.0,
    "astigmatic Gaussian, sigma 0.7 x 2 px": (0.7, 2.0),
    "defocus disk, radius 2 px": defocus_psf(2),
    "defocus disk, radius 3 px": defocus_psf(3),
}


def optical_view(images: np.ndarray, psf, noise: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Grey images through a point-spread function, with white noise.

    Parameters
    ----------
    images : ndarray, shape (N, h, w)
        Binary domain images (0/1).
    psf : float, (float, float) or ndarray (k, k)
        Gaussian point-spread function of this standard deviation (pixels; a pair gives
        rows and columns; 0 means no blur), or the point-spread function itself
        (normalised to sum 1 here).
    noise : float
        Standard deviation of the additive Gaussian noise, in units of the contrast
        between metal (1) and insulator (0).
    rng : numpy Generator

    Returns
    -------
    ndarray, float32, shape (N, h, w)
        Grey levels, metal near 1 and insulator near 0. Images are blurred one by one
        with mirrored edges (no wrap-around between opposite sides).
    """
    g = np.asarray(images, np.float32)
    if isinstance(psf, np.ndarray):
        g = ndimage.convolve(g, (psf / psf.sum()).astype(np.float32)[None], mode="reflect")
    else:
        sy, sx = (psf, psf) if np.isscalar(psf) else psf
        if sy > 0 or sx > 0:
            g = ndimage.gaussian_filter(g, (0, sy, sx), mode="reflect")
    if noise > 0:
        g = g + rng.standard_normal(g.shape, np.float32) * np.float32(noise)
    return g


def micrograph(images: np.ndarray, psf, noise: float,
               rng: np.random.Generator) -> np.ndarray:
    """Binary images as a thresholded micrograph shows them: :func:`optical_view`, then
    Otsu's threshold of each image's own grey levels. uint8 0/1, shape (N, h, w)."""
    g = optical_view(images, psf, noise, rng)
    return (g > otsu_thresholds(g)[:, None, None]).view(np.uint8)


#: Binarisations of :class:`Instrument`: a fixed threshold at a physical level, Otsu's
#: threshold of each image, or none (grey levels).
BINARISATIONS = ("physical", "otsu", "none")
#: Shapes of the point-spread function of :class:`Instrument`.
PSF_SHAPES = ("gaussian", "airy", "defocus")
#: FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def psf_sigma_from_resolution(resolution_nm: float, pixel_size_nm: float) -> float:
    """The PSF sigma in pixels of a microscope whose resolution (the PSF's full width at
    half maximum) is ``resolution_nm``, imaged with pixels of ``pixel_size_nm``: FWHM /
    (2.355 pixel). ValueError naming the fix for lengths that are not > 0."""
    for name, value in (("resolution", resolution_nm), ("pixel size", pixel_size_nm)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not (math.isfinite(value) and value > 0):
            raise ValueError(f"the {name} must be a length in nm > 0, got {value!r}")
    return float(resolution_nm) / (FWHM_PER_SIGMA * float(pixel_size_nm))


def airy_psf(sigma: float) -> np.ndarray:
    """Point-spread function of an ideal circular aperture, the Airy pattern
    ``(2 J1(x) / x)^2``, scaled so that its central peak matches a Gaussian of standard
    deviation ``sigma`` pixels (first zero at ``2.97 sigma``), sampled out to the third
    dark ring; odd square kernel, sum 1."""
    from scipy.special import j1

    r = int(math.ceil(3.0 * 2.97 * sigma))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    x = np.hypot(yy, xx) * (3.8317 / (2.97 * sigma))
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(x > 0, (2 * j1(x) / x) ** 2, 1.0)
    return (a / a.sum()).astype(np.float32)


@dataclass(frozen=True)
class Instrument:
    """A microscope and a binarisation: how a lattice configuration becomes the user's
    image.

    Parameters
    ----------
    psf_sigma : float
        Width of the point-spread function, in camera pixels: the standard deviation of
        the Gaussian, or of the Gaussian whose peak the Airy pattern matches
        (``psf="airy"``), or the radius of the defocus disk (``psf="defocus"``). 0: no
        blur. A resolution given as a full width at half maximum ``FWHM`` (nm) with
        pixels of ``p`` nm is ``psf_sigma = FWHM / (2.355 p)``.
    pixels_per_site : int
        Camera pixels per lattice site along each axis (1: a pixel is a site).
    psf : {"gaussian", "airy", "defocus"}
        Shape of the point-spread function.
    insulator, metal : float
        Intensities of the two phases (any unit, e.g. the SNIM amplitude); their
        difference is the contrast.
    noise : float
        Standard deviation of the additive Gaussian noise, same unit as the
        intensities; signal to noise is ``|metal - insulator| / noise``.
    binarisation : {"physical", "otsu", "none"}
        "physical": metal where the intensity is beyond ``threshold`` (the paper's SNIM
        rule is a fixed level, a > 2.5); "otsu": Otsu's threshold of each image;
        "none": the grey image.
    threshold : float or None
        The physical level; None is halfway between ``insulator`` and ``metal``.
    """

    psf_sigma: float = 0.0
    pixels_per_site: int = 1
    psf: str = "gaussian"
    insulator: float = 0.0
    metal: float = 1.0
    noise: float = 0.0
    binarisation: str = "physical"
    threshold: float | None = None

    def __post_init__(self):
        if not (np.isfinite(self.psf_sigma) and self.psf_sigma >= 0):
            raise ValueError(f"psf_sigma must be a finite number >= 0 (pixels), got "
                             f"{self.psf_sigma!r}")
        if isinstance(self.pixels_per_site, bool) or \
                not isinstance(self.pixels_per_site, (int, np.integer)) \
                or self.pixels_per_site < 1:
            raise ValueError(f"pixels_per_site must be an integer >= 1, got "
                             f"{self.pixels_per_site!r}")
        if self.psf not in PSF_SHAPES:
            raise ValueError(f"psf must be one of {PSF_SHAPES}, got {self.psf!r}")
        if self.binarisation not in BINARISATIONS:
            raise ValueError(f"binarisation must be one of {BINARISATIONS}, got "
                             f"{self.binarisation!r}")
        if not (np.isfinite(self.metal) and np.isfinite(self.insulator)) \
                or self.metal == self.insulator:
            raise ValueError("metal and insulator must be two different finite "
                             f"intensities, got {self.metal!r} and {self.insulator!r}")
        if not (np.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise!r}")

    @property
    def level(self) -> float:
        """The physical threshold: ``threshold``, or halfway between the phases."""
        return (self.insulator + self.metal) / 2 if self.threshold is None \
            else float(self.threshold)

    def grey(self, configurations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Intensities of lattice configurations as the camera records them.

        Parameters
        ----------
        configurations : ndarray, shape (N, h, w) or (h, w)
            0/1 lattice configurations (1 = metal).
        rng : numpy Generator
            Source of the noise.

        Returns
        -------
        ndarray, float32, shape (N, h * pixels_per_site, w * pixels_per_site)
            (or without the leading axis for one configuration). Edges are mirrored
            for the blur.
        """
        c = np.asarray(configurations)
        one = c.ndim == 2
        c = c[None] if one else c
        k = int(self.pixels_per_site)
        if k > 1:
            c = np.repeat(np.repeat(c, k, axis=1), k, axis=2)
        psf = (self.psf_sigma if self.psf == "gaussian" else
               airy_psf(self.psf_sigma) if self.psf == "airy" else
               defocus_psf(self.psf_sigma)) if self.psf_sigma > 0 else 0.0
        g = optical_view(c, psf, 0.0, rng)
        g = np.float32(self.insulator) + g * np.float32(self.metal - self.insulator)
        if self.noise > 0:
            g += rng.standard_normal(g.shape, np.float32) * np.float32(self.noise)
        return g[0] if one else g

    def render(self, configurations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """:meth:`grey`, then the binarisation: uint8 0/1 (1 = metal) images, or the
        float32 grey levels for ``binarisation="none"``."""
        g = self.grey(configurations, rng)
        if self.binarisation == "none":
            return g
        one = g.ndim == 2
        g = g[None] if one else g
        if self.binarisation == "otsu":
            level = otsu_thresholds(g)[:, None, None]
        else:
            level = np.float32(self.level)
        b = (g > level) if self.metal > self.insulator else (g < level)
        b = b.view(np.uint8)
        return b[0] if one else b


#: Training renders with ``variety``: the PSF width is drawn within this factor of the
#: model's (a user's estimate is no better), its shape and the camera's noise per image.
VARIETY_SIGMA = (0.85, 1.15)
#: Noise models of the renders with ``variety``: additive Gaussian, Poisson shot noise,
#: Gaussian then an 8-bit camera's quantisation.
NOISE_MODELS = ("gaussian", "shot", "8-bit")


def render_training_set(X: np.ndarray, psf_sigma: float, seed, snr=(3.0, 20.0),
                        binarisation: str = "physical", level_error: float = 0.0,
                        psf: str = "gaussian", variety: bool = False,
                        window: int | None = None) -> np.ndarray:
    """Lattice images as micrographs of one resolution, for training and testing the
    models of that resolution: each image through its own :class:`Instrument` with a
    Gaussian point-spread function of ``psf_sigma`` px, intensities drawn per image
    (insulator in [0, 2), contrast in [0.5, 3)) and signal to noise log-uniform in
    ``snr``, then ``binarisation`` ("physical": halfway between the phases, or "otsu";
    "none": the grey levels in phase units, scaled so that insulator is 0 and metal 1).

    Parameters
    ----------
    X : ndarray, shape (N, H, W)
        0/1 lattice images (1 = metal).
    level_error : float
        For ``binarisation="none"``: the grey levels are scaled by phase levels as a
        user knows them, each of the two drawn per image uniformly within
        ``level_error`` (units of the contrast) of the true one, so that a model learns
        to read images whose levels were measured to that accuracy. 0: the true levels.
    psf : {"gaussian", "airy", "defocus"}
        Shape of the point-spread function (:class:`Instrument`; ``psf_sigma`` is the
        defocus disk's radius for "defocus").
    variety : bool
        Instruments as varied as real ones (issue 26): per image the PSF is a Gaussian or
        an Airy pattern (half each) of a width drawn log-uniformly within
        :data:`VARIETY_SIGMA` of ``psf_sigma``, and the noise one of
        :data:`NOISE_MODELS` (a third each) at the drawn signal to noise; ``psf`` is
        then ignored.
    window : int, optional
        Side of the window cut from the centre of each render: images larger than the
        window are blurred whole and cropped, so that the window's edges hold light
        from the field around it, as a window of a micrograph does (None: the whole
        image; edges mirrored for the blur).

    Returns
    -------
    ndarray, shape (N, window, window) (or of ``X``)
        uint8 0/1, or float32 for ``binarisation="none"`` (the same draws as the other
        two: with ``level_error=0``, thresholded at 1/2 it is the "physical" set of the
        same seed).
    """
    if binarisation not in ("physical", "otsu", "none"):
        raise ValueError(f"binarisation must be 'physical', 'otsu' or 'none' for training "
                         f"images, got {binarisation!r}")
    if not (0.0 <= level_error < 0.5):
        raise ValueError(f"level_error must be in [0, 0.5) (units of the contrast), got "
                         f"{level_error!r}")
    if level_error and binarisation != "none":
        raise ValueError("level_error applies to grey renders (binarisation='none')")
    rng = np.random.default_rng(seed)
    X = np.asarray(X)
    side = X.shape[-1] if window is None else int(window)
    if not 0 < side <= min(X.shape[-2:]):
        raise ValueError(f"window must be 1-{min(X.shape[-2:])} px for {X.shape[-2]}x"
                         f"{X.shape[-1]} images, got {window!r}")
    y0, x0 = (X.shape[-2] - side) // 2, (X.shape[-1] - side) // 2
    crop = (slice(y0, y0 + side), slice(x0, x0 + side))
    out = np.empty((len(X), side, side), np.float32 if binarisation == "none" else np.uint8)
    for i, image in enumerate(X):
        low, contrast = rng.uniform(0.0, 2.0), rng.uniform(0.5, 3.0)
        ratio = math.exp(rng.uniform(math.log(snr[0]), math.log(snr[1])))
        if variety:
            g = _varied_view(image, psf_sigma, low, contrast, ratio, rng)[crop]
        else:
            g = Instrument(psf_sigma, psf=psf, insulator=low, metal=low + contrast,
                           noise=contrast / ratio).grey(image, rng)[crop]
        ins, met = low, low + contrast
        if binarisation == "physical":
            out[i] = g > np.float32((ins + met) / 2)
            continue
        if binarisation == "otsu":
            out[i] = g > otsu_thresholds(g[None])[0]
            continue
        if level_error:
            ins, met = (v + contrast * rng.uniform(-level_error, level_error)
                        for v in (ins, met))
        out[i] = (g - ins) / (met - ins)
    return out


def _varied_view(image: np.ndarray, psf_sigma: float, low: float, contrast: float,
                 ratio: float, rng: np.random.Generator) -> np.ndarray:
    """One lattice image through an instrument drawn per image
    (``render_training_set(variety=True)``): grey levels, float32, shape of ``image``."""
    sigma = psf_sigma * math.exp(rng.uniform(*np.log(VARIETY_SIGMA)))
    airy = rng.random() < 0.5
    noise_model = NOISE_MODELS[int(rng.integers(len(NOISE_MODELS)))]
    g = np.asarray(image, np.float32)
    if airy:  # by FFT: the Airy pattern spans many pixels; edges mirrored as above
        k = airy_psf(sigma).astype(np.float32)
        h = k.shape[0] // 2
        g = signal.fftconvolve(np.pad(g, h, mode="symmetric"), k / k.sum(), mode="valid")
    else:
        g = ndimage.gaussian_filter(g, sigma, mode="reflect")
    g = (np.float32(low) + g * np.float32(contrast)).astype(np.float32)
    noise = contrast / ratio
    if noise_model == "shot":  # Poisson counts; the contrast over the metal's shot noise
        photons = ((low + contrast) / noise) ** 2  # is the drawn signal to noise
        return (rng.poisson(np.maximum(g, 0) * (photons / (low + contrast)))
                * ((low + contrast) / photons)).astype(np.float32)
    g += rng.standard_normal(g.shape, np.float32) * np.float32(noise)
    if noise_model == "8-bit":  # the camera's range: 3 noise widths around the phases
        bottom, step = low - 3 * noise, (contrast + 6 * noise) / 255
        g = (bottom + step * np.clip(np.round((g - bottom) / step), 0, 255)).astype(np.float32)
    return g


def _radial_spectrum(image: np.ndarray, bins: int):
    """Radially averaged power spectrum of a Hann-windowed image: (k (rad/px), power,
    number of Fourier modes) of the non-empty bins between 0 and pi."""
    g = np.asarray(image, np.float64)
    g = g - g.mean()
    hann = np.hanning(g.shape[0])[:, None] * np.hanning(g.shape[1])[None]
    power = np.abs(np.fft.rfft2(g * hann)) ** 2 / (hann ** 2).sum()
    ky = np.fft.fftfreq(g.shape[0]) * 2 * np.pi
    kx = np.fft.rfftfreq(g.shape[1]) * 2 * np.pi
    k = np.hypot(ky[:, None], kx[None])
    edges = np.linspace(0.0, np.pi, bins + 1)
    idx = np.digitize(k.ravel(), edges) - 1
    ok = (idx >= 1) & (idx < bins)  # the lowest bin holds the image-scale trend
    count = np.bincount(idx[ok], minlength=bins)
    total = np.bincount(idx[ok], power.ravel()[ok], minlength=bins)
    keep = count > 0
    centre = (edges[:-1] + edges[1:]) / 2
    return centre[keep], total[keep] / count[keep], count[keep]


#: F statistic (the blur-free fit's extra squared residual over the full fit's
#: variance) below which :func:`estimate_psf_sigma` finds no blur.
BLUR_EVIDENCE = 20.0


def estimate_psf_sigma(image, bins: int = 60, mask=None) -> float:
    """The width of a micrograph's point-spread function, from its power spectrum.

    A domain pattern blurred by a Gaussian of standard deviation ``sigma`` with white
    noise has the radially averaged power spectrum ``P(k) = A k^-alpha exp(-sigma^2
    k^2) + N``: the domain walls give a power law, the blur its Gaussian cut-off, the
    noise a floor. The four parameters are fitted to ``log P`` by least squares, each
    bin weighted by the square root of its number of Fourier modes (several starting
    widths, the best fit kept).

    Parameters
    ----------
    image : array_like, shape (H, W)
        The grey micrograph as the camera recorded it (not thresholded, not denoised,
        not aligned: a sub-pixel shift interpolates the noise, and its spectrum then
        falls like a blur's; measured on ``samples.raw_microscope_stack``: aligned
        frames shifted by about half a pixel read 0 or 1.7 px, their raw frames
        1.9-2.1 px for a 2 px PSF), at least 32 x 32 pixels. Larger images
        give better estimates (within 12 % on 400 x 400 renders of C-2D, RF-2D and P-2D
        with signal to noise 5 to 20 and sigma 1 to 4 px; ``tests/test_optics.py``).
    bins : int
        Radial bins of the power spectrum.
    mask : array_like of bool, shape (H, W), optional
        The region of interest, True on the sample: the spectrum is that of the largest
        rectangle inside it (an aperture's edge or an electrode would add power at every
        frequency and hide the cut-off).

    Returns
    -------
    float
        Gaussian standard deviation of the point-spread function, in pixels. Exactly 0
        when the spectrum shows no cut-off: when the fit without blur (``sigma = 0``)
        is as good, by an F statistic under :data:`BLUR_EVIDENCE` (sharp images,
        uncorrelated pixels such as percolation or camera noise, whose flat spectrum
        would leave any width possible; measured: F under 6 for those, over 90 for
        renders blurred by 0.7-3 px).
    """
    g = np.asarray(image)
    if g.ndim != 2:
        raise ValueError(f"image must be one 2D grey image (H, W), got shape {g.shape}")
    mask = check_mask(mask, g.shape)
    if mask is not None:
        g = g[largest_rectangle(mask)]
    if min(g.shape) < 32:
        raise ValueError(f"image is {g.shape[0]}x{g.shape[1]} pixels; the point-spread "
                         "function needs at least 32x32 to estimate")
    if g.dtype.kind not in "uif" or (g.dtype.kind == "f" and not np.isfinite(g).all()):
        raise ValueError("image must be real grey levels without NaN or infinity")
    if np.ptp(g) == 0:
        raise ValueError("image is uniform: it carries no information on the "
                         "point-spread function")
    sigma, f = psf_fit(g, bins)
    if f >= BLUR_EVIDENCE:
        return sigma
    if len(np.unique(g[:64, :64])) > 2:  # a grey image: a micrograph is always blurred
        import warnings
        warnings.warn(NO_BLUR_FOUND.format(shape=f"{g.shape[0]}x{g.shape[1]}"), UserWarning,
                      stacklevel=2)
    return 0.0


#: Warning when a grey image shows no measurable blur.
NO_BLUR_FOUND = (
    "no blur measurable in this {shape}-pixel grey image (its power spectrum fits no "
    "Gaussian cut-off better than none): a sharp image, uncorrelated pixels such as "
    "camera noise, a pattern whose own smoothness hides the point-spread function, or "
    "a frame resampled by alignment (its interpolated noise hides the cut-off: "
    "estimate on a raw frame). If it is a micrograph, take sigma from the instrument "
    "(resolution and pixel size) or estimate it on a larger region or another frame")


def psf_fit(image: np.ndarray, bins: int = 60) -> tuple[float, float]:
    """The fit behind :func:`estimate_psf_sigma` of a checked grey image: (the fitted
    Gaussian width in pixels, the F statistic of the fit against the same model without
    blur: the blur-free fit's extra squared residual over the full fit's residual
    variance)."""
    from scipy import optimize

    k, power, count = _radial_spectrum(image, bins)
    log_power, weight = np.log(np.maximum(power, 1e-300)), np.sqrt(count)
    log_k = np.log(k)

    def residual(q):
        log_a, alpha, sigma, log_noise = q
        model = np.logaddexp(log_a - alpha * log_k - (sigma * k) ** 2, log_noise)
        return (model - log_power) * weight

    noise0 = float(np.log(np.median(power[k > 0.85 * np.pi])))
    start = float(np.log(power[0]) + 2 * log_k[0])
    best = None
    for sigma0 in (0.3, 0.7, 1.5, 3.0, 5.0):
        fit = optimize.least_squares(residual, [start, 2.0, sigma0, noise0],
                                     bounds=([-60, 0, 0, -60], [60, 6, 30, 60]))
        if best is None or fit.cost < best.cost:
            best = fit
    # the same model without blur: where it fits about as well, the spectrum has no
    # Gaussian cut-off to read a width from (a flat spectrum leaves sigma arbitrary)
    sharp = optimize.least_squares(lambda q: residual([q[0], q[1], 0.0, q[2]]),
                                   [start, 2.0, noise0],
                                   bounds=([-60, 0, -60], [60, 6, 60]))
    f = (sharp.cost - best.cost) / max(best.cost / max(len(k) - 4, 1), 1e-300)
    return float(best.x[2]), float(f)
