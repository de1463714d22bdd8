"""Symmetry reduction: the Z2 x D4 canonical form of a domain image (Basak et al.).

The paper's steps, applied to every image before the CNN:

1. if the majority of spins is down, flip all spins;
2. rotate by 0, 90, 180 or 270 degrees so that quadrant I has the most up spins;
3. reflect about the diagonal through quadrants I and III if quadrant IV has more up
   spins than quadrant II.

Quadrant I is the top-right quarter as displayed (row 0 at the top), II top-left,
III bottom-left, IV bottom-right. For an odd side n = 2m + 1 the quadrants are the four
m x m corners; the middle row and column belong to none (they map onto each other under
every symmetry, so counts transform exactly).

Exact canonical form. Of the 16 images ``g(x)`` (8 rotations/reflections, each with or
without the spin flip), call *admissible* those that already satisfy the paper's
ordering: at least as many up as down spins, quadrant I >= II, III, IV, and II >= IV.
The result is the lexicographically largest admissible image (compared as bytes in
row-major order, up = 1 > down = 0). Without ties there is exactly one admissible image,
the paper's result; with ties the rule picks one deterministically. Since the admissible
set depends only on the orbit of ``x``, ``symmetry_reduce(g(x)) == symmetry_reduce(x)``
for all 16 operations ``g`` and every image, ties included.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._binary import as_binary, restore

# The 8 elements of D4 as (transpose, flip rows, flip columns): output pixel (i, j) of
# element g reads input pixel (a', b') where (a, b) = (j, i) if transpose else (i, j),
# a' = n-1-a if flip rows else a, b' = n-1-b if flip columns else b.
_D4 = np.array([(t, fr, fc) for t in (0, 1) for fr in (0, 1) for fc in (0, 1)], np.int64)


def _quadrant_maps() -> np.ndarray:
    """``perm[g, p]``: input quadrant seen at output quadrant position p under g.

    Positions are numbered 2 * row_half + col_half: 0 = II, 1 = I, 2 = III, 3 = IV.
    """
    perm = np.empty((8, 4), np.int64)
    for g, (t, fr, fc) in enumerate(_D4):
        for p in range(4):
            a, b = divmod(p, 2)
            if t:
                a, b = b, a
            perm[g, p] = 2 * (1 - a if fr else a) + (1 - b if fc else b)
    return perm


_QPERM = _quadrant_maps()
_II, _I, _III, _IV = 0, 1, 2, 3


@nb.njit(inline="always")
def _src(g, i, j, n):
    t, fr, fc = _D4[g, 0], _D4[g, 1], _D4[g, 2]
    a, b = (j, i) if t else (i, j)
    return (n - 1 - a if fr else a), (n - 1 - b if fc else b)


@nb.njit(inline="always")
def _pixel(x, c, i, j, n):
    """Pixel (i, j) of candidate c = 2 g + flip."""
    a, b = _src(c >> 1, i, j, n)
    return x[a, b] ^ np.uint8(c & 1)


@nb.njit(cache=True)
def _greater(x, c1, c2, n):
    """True if candidate image c1 is lexicographically larger than c2."""
    for i in range(n):
        for j in range(n):
            p1 = _pixel(x, c1, i, j, n)
            p2 = _pixel(x, c2, i, j, n)
            if p1 != p2:
                return p1 > p2
    return False


@nb.njit(cache=True)
def _canonical(x):
    """Index ``2 g + flip`` of the canonical candidate of one square 0/1 image."""
    n = x.shape[0]
    m = n // 2
    lo = n - m  # first row/column of the bottom/right half
    q = np.zeros(4, np.int64)
    total = 0
    for i in range(n):
        s_left = 0
        s_right = 0
        s_all = 0
        for j in range(n):
            v = np.int64(x[i, j])
            s_all += v
            s_left += v if j < m else 0
            s_right += v if j >= lo else 0
        total += s_all
        if i < m:
            q[_II] += s_left
            q[_I] += s_right
        elif i >= lo:
            q[_III] += s_left
            q[_IV] += s_right
    best = -1
    for c in range(16):
        g = c >> 1
        flip = c & 1
        up = n * n - total if flip else total
        if 2 * up < n * n:
            continue
        qq = np.empty(4, np.int64)
        for p in range(4):
            v = q[_QPERM[g, p]]
            qq[p] = m * m - v if flip else v
        if qq[_I] < qq[_II] or qq[_I] < qq[_III] or qq[_I] < qq[_IV] or qq[_II] < qq[_IV]:
            continue
        if best < 0 or _greater(x, c, best, n):
            best = c
    return best


@nb.njit(cache=True)
def _apply(x, c, out):
    n = x.shape[0]
    for i in range(n):
        for j in range(n):
            out[i, j] = _pixel(x, c, i, j, n)


@nb.njit(parallel=True, cache=True)
def _reduce_batch(xs, out):
    for k in nb.prange(xs.shape[0]):
        _apply(xs[k], _canonical(xs[k]), out[k])


def transform(x: np.ndarray, g: int, flip: bool = False) -> np.ndarray:
    """Apply symmetry ``g`` in 0..7 of D4 (and the spin flip) to (..., n, n) 0/1 images.

    Used by tests and by per-window reduction; ``transform(x, 0)`` is the identity.
    """
    t, fr, fc = _D4[g]
    y = np.swapaxes(x, -1, -2) if t else x
    if fr:
        y = y[..., ::-1, :]
    if fc:
        y = y[..., :, ::-1]
    return (1 - y) if flip else y.copy()


def symmetry_reduce(X) -> np.ndarray:
    """Canonical representative of each image under spin flip x rotations/reflections.

    Parameters
    ----------
    X : array_like, shape (N, n, n) or (n, n)
        Binary images: bool, 0/1 or -1/+1 (1 = up = metal). Square: rotations by
        90 degrees must map an image onto the same grid.

    Returns
    -------
    ndarray, same shape, dtype and value convention as ``X``
        The reduced images (see the module docstring for the exact rule).

    Raises
    ------
    ValueError
        If ``X`` is not binary, not 2D or 3D, or not square.
    """
    b, conv = as_binary(X)
    if b.ndim not in (2, 3):
        raise ValueError(f"X must have shape (N, n, n) or (n, n), got {b.shape}")
    if b.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"symmetry reduction needs square images, got {b.shape[-2]} x {b.shape[-1]}; "
            "crop them to a square first"
        )
    batch = np.ascontiguousarray(b.reshape((-1,) + b.shape[-2:]))
    out = np.empty_like(batch)
    _reduce_batch(batch, out)
    return restore(out.reshape(b.shape), conv, np.asarray(X).dtype)
