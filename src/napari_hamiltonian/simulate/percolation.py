"""Uncorrelated site percolation: every site is up (metal) with probability p."""

from __future__ import annotations

import numpy as np

from ._common import check_count, check_range, check_size, draw_uniform

#: Site-percolation threshold of the square lattice (Newman & Ziff 2000).
PC_2D = 0.592746


def sample_percolation(n_images: int, size: int, p, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Percolation images with per-image occupation ``p`` drawn uniformly in ``p``.

    ``p`` is a number, a ``(low, high)`` pair, or a list of such pairs (one pair is chosen
    per image with equal probability, as for the non-critical class P*).

    Returns
    -------
    images : ndarray, uint8, shape (n_images, size, size)
    p : ndarray, float, shape (n_images,)
    """
    n_images = check_count(n_images)
    size = check_size(size)
    ranges = np.asarray(p, dtype=float)
    ranges = [check_range(r, "p", 0.0, 1.0) for r in (ranges if ranges.ndim == 2 else [p])]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(ranges), n_images)
    ps = np.empty(n_images)
    for k, (lo, hi) in enumerate(ranges):
        sel = which == k
        ps[sel] = draw_uniform(rng, lo, hi, int(sel.sum()))
    images = np.empty((n_images, size, size), dtype=np.uint8)
    for i in range(n_images):
        images[i] = rng.random((size, size)) < ps[i]
    return images, ps


def percolation(n: int, size: int = 100, p=0.59, seed=0) -> np.ndarray:
    """Uncorrelated site-percolation images (P-2D, P-3D, P*).

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Image side (>= 8).
    p : float, (float, float) or list of (float, float)
        Occupation probability in [0, 1], a range drawn uniformly per image, or several
        ranges (one chosen per image with equal probability).
    seed : int
        Seed; the same seed gives the same images.

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
        1 = occupied = up (metal), 0 = empty.
    """
    return sample_percolation(n, size, p, seed)[0]
