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

from ..imaging.binary import as_binary, binarised, restore

#: Number of symmetry operations of Z2 x D4.
N_OPERATIONS = 16


@nb.njit(inline="always", cache=True)
def decode(op):
    """The parts of symmetry operation ``op`` in 0..15: (transpose, flip_rows,
    flip_cols, spin_flip), each 0 or 1.

    ``op = 2 g + spin_flip`` with the D4 element ``g = 4 transpose + 2 flip_rows +
    flip_cols``. Acting on an array, the operation flips its rows if ``flip_rows``, then
    its columns if ``flip_cols``, then transposes it if ``transpose``, then swaps up and
    down if ``spin_flip``: output pixel (i, j) of an n x n image reads input pixel
    (a', b'), where (a, b) = (j, i) if transpose else (i, j), a' = n-1-a if flip_rows
    else a, b' = n-1-b if flip_cols else b. Operation 0 is the identity. Every function
    of this module, the sliding windows and the training augmentation use this one
    decoding.
    """
    g = op >> 1
    return (g >> 2) & 1, (g >> 1) & 1, g & 1, op & 1


def _quadrant_maps() -> np.ndarray:
    """``perm[g, p]``: input quadrant seen at output quadrant position p under D4
    element g (operation ``2 g``).

    Positions are numbered 2 * row_half + col_half: 0 = II, 1 = I, 2 = III, 3 = IV.
    """
    perm = np.empty((8, 4), np.int64)
    for g in range(8):
        t, fr, fc, _ = decode(2 * g)
        for p in range(4):
            a, b = divmod(p, 2)
            if t:
                a, b = b, a
            perm[g, p] = 2 * (1 - a if fr else a) + (1 - b if fc else b)
    return perm


_QPERM = _quadrant_maps()
_II, _I, _III, _IV = 0, 1, 2, 3


@nb.njit(inline="always")
def _pixel(x, op, i, j, n):
    """Pixel (i, j) of image ``x`` (n x n) under operation ``op``."""
    t, fr, fc, flip = decode(op)
    a, b = (j, i) if t else (i, j)
    a = n - 1 - a if fr else a
    b = n - 1 - b if fc else b
    return x[a, b] ^ np.uint8(flip)


@nb.njit(cache=True)
def _greater(x, op1, op2, n):
    """True if image x under op1 is lexicographically larger than under op2."""
    for i in range(n):
        for j in range(n):
            p1 = _pixel(x, op1, i, j, n)
            p2 = _pixel(x, op2, i, j, n)
            if p1 != p2:
                return p1 > p2
    return False


@nb.njit(cache=True)
def _reducing_operation(x):
    """Operation that takes one square 0/1 image to its canonical form."""
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
    for op in range(16):
        g = op >> 1
        flip = op & 1
        up = n * n - total if flip else total
        if 2 * up < n * n:
            continue
        qq = np.empty(4, np.int64)
        for p in range(4):
            v = q[_QPERM[g, p]]
            qq[p] = m * m - v if flip else v
        if qq[_I] < qq[_II] or qq[_I] < qq[_III] or qq[_I] < qq[_IV] or qq[_II] < qq[_IV]:
            continue
        if best < 0 or _greater(x, op, best, n):
            best = op
    return best


@nb.njit(cache=True)
def _apply(x, op, out):
    n = x.shape[0]
    for i in range(n):
        for j in range(n):
            out[i, j] = _pixel(x, op, i, j, n)


@nb.njit(parallel=True, cache=True)
def _reduce_batch(xs, out):
    for k in nb.prange(xs.shape[0]):
        _apply(xs[k], _reducing_operation(xs[k]), out[k])


@nb.njit(parallel=True, cache=True)
def _operations_batch(xs, out):
    for k in nb.prange(xs.shape[0]):
        out[k] = _reducing_operation(xs[k])


@nb.njit(parallel=True, cache=True)
def _window_operations(b, n, ys, xs, out):
    for i in nb.prange(len(ys)):
        for j in range(len(xs)):
            out[i, j] = _reducing_operation(b[ys[i]:ys[i] + n, xs[j]:xs[j] + n])


def reducing_operation(x: np.ndarray) -> int:
    """The operation (0..15, see :func:`decode`) that :func:`symmetry_reduce` applies to
    one square uint8 0/1 image: ``symmetry_reduce(x) == transform(x, op)``."""
    return int(_reducing_operation(np.ascontiguousarray(x, np.uint8)))


def reduce_grey(G: np.ndarray) -> np.ndarray:
    """Grey images reduced by the operation that reduces their binarisation.

    Parameters
    ----------
    G : ndarray, shape (N, n, n)
        Grey images in phase units: insulator 0, metal 1 (noise and blur give any real
        value in between or beyond).

    Returns
    -------
    ndarray, float32, shape (N, n, n)
        ``transform(G[k], op_k)`` with ``op_k`` the :func:`reducing_operation` of
        ``G[k] > 1/2`` (the physical threshold), the spin flip being ``1 - g``: so the
        binarisation of the result is :func:`symmetry_reduce` of the binarisation, and
        the result is invariant under the 16 operations wherever no pixel sits exactly
        at 1/2.
    """
    g = np.asarray(G, np.float32)
    if g.ndim != 3 or g.shape[1] != g.shape[2]:
        raise ValueError(f"G must be a stack of square grey images (N, n, n), got shape "
                         f"{g.shape}")
    ops = np.empty(len(g), np.int64)
    _operations_batch(binarised(g), ops)
    return transform_each(g, ops)


def window_operations(binary: np.ndarray, window: int, stride: int) -> np.ndarray:
    """The reducing operation of every ``window`` x ``window`` window of an image.

    Parameters
    ----------
    binary : ndarray, uint8 0/1, shape (H, W)
    window, stride : int
        Window side and step (pixels).

    Returns
    -------
    ndarray, int8, shape (ny, nx)
        Entry (i, j) is :func:`reducing_operation` of ``binary[i*stride : i*stride +
        window, j*stride : j*stride + window]``.
    """
    ys = np.arange(0, binary.shape[0] - window + 1, stride)
    xs = np.arange(0, binary.shape[1] - window + 1, stride)
    out = np.empty((len(ys), len(xs)), np.int8)
    _window_operations(np.ascontiguousarray(binary), window, ys, xs, out)
    return out


def transform(x: np.ndarray, op: int) -> np.ndarray:
    """Apply symmetry operation ``op`` (0..15, see :func:`decode`) to images.

    Parameters
    ----------
    x : ndarray, shape (..., h, w)
        0/1 images (or any values, with ``1 - x`` as the spin flip). For h != w the
        transposing operations give (..., w, h).
    op : int
        Operation index; ``transform(x, 0)`` is a copy of ``x``.

    Returns
    -------
    ndarray, a new array
    """
    t, fr, fc, flip = decode(int(op))
    y = x[..., ::-1, :] if fr else x
    y = y[..., :, ::-1] if fc else y
    y = np.swapaxes(y, -1, -2) if t else y
    return (1 - y) if flip else y.copy()


def transform_each(x: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """Apply operation ``ops[k]`` to image ``x[k]`` of a batch of square images.

    Parameters
    ----------
    x : ndarray, shape (N, n, n)
    ops : ndarray of int, shape (N,)
        Operations in 0..15.

    Returns
    -------
    ndarray, shape (N, n, n)
        Vectorised per operation (at most 16 groups), no Python work per image.
    """
    out = np.empty_like(x)
    for op in np.unique(ops):
        idx = np.flatnonzero(ops == op)
        out[idx] = transform(x[idx], int(op))
    return out


def transform_positions(y0, x0, shape: tuple[int, int], window: int, op: int):
    """Where windows go under an operation applied to the whole image.

    Parameters
    ----------
    y0, x0 : ndarray of int
        Top-left corners of ``window`` x ``window`` windows in an image of ``shape``.
    op : int
        Operation (0..15) applied to the whole image with :func:`transform`.

    Returns
    -------
    (ndarray, ndarray)
        Top-left corners of the same windows in ``transform(image, op)``; the window
        there is ``transform(window, op)``.
    """
    t, fr, fc, _ = decode(int(op))
    ya = shape[0] - window - y0 if fr else y0
    xa = shape[1] - window - x0 if fc else x0
    return (xa, ya) if t else (ya, xa)


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
