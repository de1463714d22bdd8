"""Finite optical resolution: what a microscope and a threshold make of a domain image.

A microscope blurs the domain pattern by its point-spread function and adds noise; the
user thresholds the grey image back to binary. Blur plus threshold smooths domain walls
and erases clusters smaller than the resolution, so a thresholded micrograph is not an
image of the lattice the models live on. The model card measures how the classifier
fares on such images (:func:`napari_hamiltonian.report.evaluate_optics`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._binary import otsu_thresholds


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
