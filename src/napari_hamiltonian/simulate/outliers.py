"""Images that none of the seven models of Table I drew ("none of these").

They teach the classifier to say so (outlier exposure, see
:class:`napari_hamiltonian.HamiltonianClassifier`) and measure its rejection. Each
category is a generator; parameters are drawn per image from the ranges below.

* The seven models outside their Table I ranges, by 10 % or more (within 10 % either
  answer is acceptable, so nothing there is used): ordered and hot clean Ising in 2D
  and in 3D slices, random-field Ising with much weaker or much stronger disorder in 2D
  and 3D. Half of each category's images are drawn in the quarter of its range next
  to Table I (:data:`NEAR_SHARE`, :data:`NEAR_SPAN`), where they are hardest to tell
  from the classes; the rest over the whole range.
* Patterns no lattice model of the seven makes: level sets of smooth Gaussian random
  fields (correlation lengths of 1 to 12 pixels, isotropic or stretched along one
  direction, any level), patterns with a characteristic length as dipolar magnets and
  Kerr or photoemission micrographs show them (labyrinths and bubbles: level sets of
  band-pass filtered noise, periods of 4 to 40 pixels), stripes (any period,
  orientation and duty cycle, with some defects), checkerboards and nearly uniform
  images.
* Any of the seven classes seen through an optical system whose point-spread function
  spans a pixel or more: Gaussian blur of sigma 1 to 3.5 px, noise, Otsu's threshold
  (:mod:`napari_hamiltonian.imaging.optics`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ._common import check_count, check_size

#: Category -> (model, parameter name, range) for out-of-range simulations.
OUT_OF_RANGE: dict[str, tuple[str, str, tuple[float, float]]] = {
    "C-2D ordered": ("ising2d", "temperature", (1.5, 2.02)),
    "C-2D hot": ("ising2d", "temperature", (2.91, 4.0)),
    "C-3D ordered": ("ising3d", "temperature", (3.6, 4.0)),
    "C-3D hot": ("ising3d", "temperature", (5.12, 6.5)),
    "RF-2D weak disorder": ("rfim2d", "disorder", (0.5, 0.9)),
    "RF-2D strong disorder": ("rfim2d", "disorder", (1.31, 2.5)),
    "RF-3D weak disorder": ("rfim3d", "disorder", (1.5, 2.02)),
    "RF-3D strong disorder": ("rfim3d", "disorder", (2.52, 4.0)),
}
#: Share of each out-of-range category drawn next to its Table I range, and the part of
#: the category's range (from the end nearest Table I) that counts as next to it.
NEAR_SHARE, NEAR_SPAN = 0.5, 0.25
#: Categories of patterns no lattice model of the seven makes.
PATTERNS = ("smooth field", "stretched field", "labyrinth", "bubbles", "stripes",
            "checkerboard", "uniform")
#: Periods (pixels) of the patterns with a characteristic length ("labyrinth",
#: "bubbles"), drawn log-uniformly.
PERIOD = (4.0, 40.0)
#: Point-spread functions (Gaussian sigma, px) of the blurred renders, and their noise.
BLUR_SIGMA, BLUR_NOISE = (1.0, 3.5), (0.05, 0.3)


def out_of_range(category: str, n: int, size: int = 100, seed=0) -> np.ndarray:
    """``n`` images of one of the seven models outside its range (:data:`OUT_OF_RANGE`):
    ``round(n * NEAR_SHARE)`` next to the Table I range, the rest over the whole range;
    in 3D the 13 slices of one configuration per chain (Ising) or sweep (RFIM).

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
    """
    from .table import CLASS_TABLE
    from .ising import sample_ising
    from .rfim import sample_rfim

    n = check_count(n)
    kind, _, (low, high) = OUT_OF_RANGE[category]
    table = next(r for k, _, r in CLASS_TABLE.values() if k == kind)
    step = (high - low) * NEAR_SPAN
    near = (low, low + step) if low >= table[1] else (high - step, high)
    sample = sample_ising if kind.startswith("ising") else sample_rfim
    dim = 3 if kind.endswith("3d") else 2
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    k = int(round(n * NEAR_SHARE))
    # 3D: one configuration per chain or sweep (13 slices each), so that the images
    # sample the parameter range over many lattices, not a few lattices' slices
    one = ({"per_chain": 1} if kind == "ising3d" else
           {"snapshots_per_sweep": 1} if kind == "rfim3d" else {})
    parts = [sample(m, size, r, dim, s, **one)[0]
             for m, r, s in zip((k, n - k), (near, (low, high)), seq.spawn(2)) if m]
    return np.concatenate(parts) if parts else np.empty((0, size, size), np.uint8)


def pattern(category: str, n: int, size: int = 100, seed=0) -> np.ndarray:
    """``n`` binary images of a non-physical pattern category (:data:`PATTERNS`).

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
    """
    n = check_count(n)
    size = check_size(size)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        if category == "smooth field":
            g = ndimage.gaussian_filter(rng.standard_normal((size, size)),
                                        math.exp(rng.uniform(0.0, math.log(12.0))),
                                        mode="wrap")
            img = g > np.quantile(g, rng.uniform(0.2, 0.8))
        elif category == "stretched field":
            long = math.exp(rng.uniform(math.log(3.0), math.log(30.0)))
            g = ndimage.gaussian_filter(rng.standard_normal((size, size)),
                                        (long, long / rng.uniform(3.0, 10.0)), mode="wrap")
            g = ndimage.rotate(g, rng.uniform(0, 180), reshape=False, mode="grid-wrap")
            img = g > np.quantile(g, rng.uniform(0.2, 0.8))
        elif category in ("labyrinth", "bubbles"):
            period = math.exp(rng.uniform(*np.log(PERIOD)))
            g = band_pass_noise(size, period, rng)
            share = rng.uniform(0.35, 0.65) if category == "labyrinth" \
                else rng.uniform(0.05, 0.3)
            img = g > np.quantile(g, 1.0 - share)
        elif category == "stripes":
            angle, period = rng.uniform(0, np.pi), rng.uniform(2.0, 30.0)
            phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform()
            img = (phase % 1.0) < rng.uniform(0.2, 0.8)
            img ^= rng.random((size, size)) < rng.uniform(0.0, 0.05)
        elif category == "checkerboard":
            cell = int(rng.integers(1, 9))
            img = ((yy // cell + xx // cell) % 2).astype(bool)
            img ^= rng.random((size, size)) < rng.uniform(0.0, 0.05)
        elif category == "uniform":
            img = rng.random((size, size)) < rng.uniform(0.0, 0.01)
        else:
            raise ValueError(f"unknown pattern {category!r}; choose from {PATTERNS}")
        out[i] = img
    return out


def band_pass_noise(size: int, period: float, rng: np.random.Generator,
                    width: float = 0.15) -> np.ndarray:
    """White noise filtered to a ring of wavenumbers around ``2 pi / period``: the
    Gaussian random field whose level sets are the labyrinths (level near the median)
    and bubbles (a level far in one tail) of a pattern with a characteristic length,
    as in dipolar magnets and Swift-Hohenberg relaxation (Seul and Andelman, Science
    267, 476 (1995)).

    Parameters
    ----------
    size : int
        Image side (pixels).
    period : float
        Characteristic period (pixels), at least 2.
    rng : numpy Generator
    width : float
        Relative width of the ring (standard deviation of ``|k|`` over its centre).

    Returns
    -------
    ndarray, float64, shape (size, size)
        Periodic field of zero mean.
    """
    k0 = 2 * np.pi / period
    ky = np.fft.fftfreq(size)[:, None] * 2 * np.pi
    kx = np.fft.rfftfreq(size)[None] * 2 * np.pi
    k = np.hypot(ky, kx)
    ring = np.exp(-0.5 * ((k - k0) / (width * k0)) ** 2)
    return np.fft.irfft2(np.fft.rfft2(rng.standard_normal((size, size))) * ring,
                         s=(size, size))


def none_set(n_per_category: int, size: int = 100, seed=0, categories=None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Images of none of the seven, ``n_per_category`` of each category.

    Parameters
    ----------
    n_per_category : int
    size : int
        Image side (pixels).
    seed : int or numpy.random.SeedSequence
    categories : sequence of str, optional
        Keys of :data:`OUT_OF_RANGE` and names of :data:`PATTERNS` (default: all of
        them, in that order).

    Returns
    -------
    X : ndarray, uint8, shape (n_categories * n_per_category, size, size)
    names : ndarray of str, shape (len(X),)
        The category of each image.
    """
    cats = list(categories or (*OUT_OF_RANGE, *PATTERNS))
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    xs = [draw(c, n_per_category, size, s) for c, s in zip(cats, seq.spawn(len(cats)))]
    return np.concatenate(xs), np.repeat(np.array(cats), n_per_category)


def draw(category: str, n: int, size: int = 100, seed=0) -> np.ndarray:
    """``n`` images of one category: :func:`out_of_range` for a key of
    :data:`OUT_OF_RANGE`, :func:`pattern` for a name of :data:`PATTERNS`."""
    if category in OUT_OF_RANGE:
        return out_of_range(category, n, size, seed)
    return pattern(category, n, size, seed)


def blurred(images: np.ndarray, seed=0) -> np.ndarray:
    """Binary images through a microscope: Gaussian blur (sigma in :data:`BLUR_SIGMA`),
    noise (:data:`BLUR_NOISE`, units of the contrast), then Otsu's threshold per image."""
    from ..imaging.optics import micrograph

    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, img in enumerate(images):
        out[i] = micrograph(img[None], float(rng.uniform(*BLUR_SIGMA)),
                            float(rng.uniform(*BLUR_NOISE)), rng)[0]
    return out
