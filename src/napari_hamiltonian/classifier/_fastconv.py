"""Fused CPU kernels for training the CNN: the same network with fewer operations.

On a CPU the two convolutions of :class:`~napari_hamiltonian.classifier.cnn.HamiltonianCNN` are
bound by arithmetic (conv2 alone is 99 M multiply-adds per 100 x 100 image forward, and
twice that backward), and pooling an unpooled (N, 32, 96, 96) map costs memory passes.
This module computes ``relu(max_pool(conv(x)))`` for both blocks with fewer operations:

* **Block 1** (1 -> 32 channels), fused with the 2 x 2 max-pool, the ReLU and the bias.
  The input is binary, so each filter row applied to a 5-pixel pattern is one of 32
  precomputed channel vectors: a position costs 5 vector additions instead of 25
  multiply-adds, and the weight gradient is accumulated the same way, per pattern. Only
  the pooled map and the position of each maximum (one byte) are stored, never the
  (N, 32, 96, 96) map.
* **Block 2** (32 -> 64 channels): Winograd's minimal filtering algorithm F(4x4, 5x5)
  (Lavin & Gray 2016): 8 x 8 input tiles are transformed, multiplied by the transformed
  filters as 64 matrix products (3872 x 32 x 64 for 32 images, run by torch's BLAS), and
  transformed back to 4 x 4 output tiles, fused with pooling, bias and ReLU. That is 6.2x
  fewer multiplications than the direct convolution, forward and backward.

Everything is the same arithmetic re-ordered, so the result equals the reference module
up to float32 rounding (the tests check outputs and gradients against it); the model's
parameters are the ordinary ``nn.Conv2d`` ones, so a model trained here predicts through
the standard path. Every parallel loop writes disjoint outputs and every reduction runs in
a fixed order, so training stays deterministic. Used by
:func:`napari_hamiltonian.classifier.cnn.train` on the CPU (figures in BENCHMARKS.md).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

#: Output tile side m, filter side r and input tile side alpha = m + r - 1 of F(m x m, r x r).
TILE, FILTER, ALPHA = 4, 5, 8


def winograd_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transforms ``(AT, G, BT)`` of F(4, 5) from the points 0, +-1, +-2, +-1/2 and infinity.

    Returns float64 arrays of shapes (4, 8), (8, 5) and (8, 8) such that for a signal ``d``
    of 8 samples and a filter ``g`` of 5, ``AT @ ((G @ g) * (BT @ d))`` is the valid
    correlation ``y[i] = sum_k g[k] d[i + k]`` (Toom-Cook, transposed).
    """
    points = np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5])

    def vandermonde(cols: int) -> np.ndarray:
        v = np.zeros((ALPHA, cols))
        v[:-1] = points[:, None] ** np.arange(cols)
        v[-1, -1] = 1.0  # the point at infinity picks the leading coefficient
        return v

    at = vandermonde(TILE).T
    g = vandermonde(FILTER)
    bt = np.linalg.inv(vandermonde(ALPHA)).T
    return at, g, bt


_AT64, _G64, _BT64 = winograd_matrices()
_AT, _BT = _AT64.astype(np.float32), _BT64.astype(np.float32)


@nb.njit(inline="always")
def _axpy(dst, w, src):  # pragma: no cover - numba
    """dst += w * src over 1-D float32 arrays of equal length; nothing when w == 0."""
    if w != 0:
        for q in range(dst.shape[0]):
            dst[q] += w * src[q]


# --------------------------------------------------------------------------- block 1
# Block 1 works on one pooled row (image n, row py) at a time, with the channels as the
# inner (vectorised) loop; its output is written directly in the phase-split layout that
# block 2 reads.

#: Marks, in the position-of-maximum arrays, a pooled value cut by the ReLU (no gradient).
_CUT = 255


#: Spin (+-1) of pixel s in 5-pixel pattern ``code``: (32, 5).
_PATTERN_SPINS = ((torch.arange(1 << FILTER)[:, None] >> torch.arange(FILTER)) & 1
                  ).to(torch.float32) * 2 - 1


def _row_tables(weight: torch.Tensor) -> torch.Tensor:
    """Filter rows applied to every 5-pixel binary pattern: (K, 1, 5, 5) -> (5, 32, K).

    ``table[r, code, k] = sum_s weight[k, 0, r, s] (2 bit_s(code) - 1)``: with binary
    images a 5 x 5 correlation is the sum of 5 table rows, one per filter row.
    """
    return torch.einsum("krs,cs->rck", weight.detach()[:, 0], _PATTERN_SPINS).contiguous()


@nb.njit(inline="always")
def _row_codes(images, n, y0, codes):  # pragma: no cover - numba
    """codes[r, x] = the 5-pixel pattern images[n, y0 + r, x:x + 5] as bits (pixel s: 2^s)."""
    for r in range(codes.shape[0]):
        for x in range(codes.shape[1]):
            c = 0
            for s in range(FILTER):
                c |= np.int64(images[n, y0 + r, x + s]) << s
            codes[r, x] = c


@nb.njit(parallel=True, fastmath=True, cache=True)
def _conv1_pool_forward(images, table, bias, hs, arg):  # pragma: no cover - numba
    """relu(max_pool(conv(2 x - 1))) of 0/1 uint8 images (N, H, W).

    ``table`` (5, 32, K) from :func:`_row_tables`, ``bias`` (K,). Writes the pooled map,
    phase-split for block 2, to hs (N, P, 4, P / 4, K), P = (H - 4) / 2, and to
    arg (N, P, P, K) the position 2 dy + dx of each maximum in its pooling cell, or
    ``_CUT`` where the ReLU cut it.
    """
    n_img, side_p, _, _, k_out = hs.shape
    side = 2 * side_p
    for band in nb.prange(n_img * side_p):
        n = np.int64(band) // side_p
        py = np.int64(band) - n * side_p
        codes = np.empty((FILTER + 1, side), np.int64)
        _row_codes(images, n, 2 * py, codes)
        acc = np.empty((4, k_out), np.float32)
        for px in range(side_p):
            for q in range(4):
                dy, dx = q // 2, q % 2
                dst = acc[q]
                dst[:] = bias
                for r in range(FILTER):
                    row = table[r, codes[dy + r, 2 * px + dx]]
                    for k in range(k_out):
                        dst[k] += row[k]
            o = hs[n, py, px % TILE, px // TILE]
            g = arg[n, py, px]
            for k in range(k_out):
                best, where = acc[0, k], 0
                for q in range(1, 4):
                    if acc[q, k] > best:
                        best, where = acc[q, k], q
                cut = best <= 0
                o[k] = np.float32(0.0) if cut else best
                g[k] = _CUT if cut else where


@nb.njit(parallel=True, fastmath=True, cache=True)
def _conv1_pool_backward(images, dhs, arg, hist):  # pragma: no cover - numba
    """Per-image gradient histograms of block 1 into hist (N, 5 * 32 + 1, K).

    ``dhs`` is the gradient of the pooled map in hs's layout. Each conv position adds,
    for the channels whose maximum it was (and that passed the ReLU), their gradient to
    row ``32 r + code`` for each filter row r, code being the position's 5-pixel pattern
    there, and to the last row (the bias). The weight gradient is then
    ``sum_code hist[32 r + code] (2 bit_s(code) - 1)`` (:func:`_row_tables` transposed):
    5 channel-vector additions per position instead of 25 multiply-adds.
    """
    n_img, side_p, _, _, k_out = dhs.shape
    codes_per_row = 1 << FILTER
    for n in nb.prange(n_img):
        h = hist[n]
        h[:] = 0.0
        grad = np.empty(k_out, np.float32)
        codes = np.empty((FILTER + 1, 2 * side_p), np.int64)
        for py in range(side_p):
            _row_codes(images, n, 2 * py, codes)
            for px in range(side_p):
                g = dhs[n, py, px % TILE, px // TILE]
                where = arg[n, py, px]
                for q in range(4):
                    for k in range(k_out):
                        grad[k] = g[k] if where[k] == q else np.float32(0.0)
                    dy, dx = q // 2, q % 2
                    for r in range(FILTER):
                        dst = h[r * codes_per_row + codes[dy + r, 2 * px + dx]]
                        for k in range(k_out):
                            dst[k] += grad[k]
                    dst = h[FILTER * codes_per_row]
                    for k in range(k_out):
                        dst[k] += grad[k]


# --------------------------------------------------------------------------- block 2


# Block 2 works on one band of tiles (image n, tile row ty) at a time, with every inner
# loop running over a whole band, (tiles x channels) contiguous values, so that it
# vectorises. Images are stored phase-split along x, hs[n, y, x % 4, x // 4, c], which
# makes the 8 columns of every tile of a band one contiguous run per column offset.


@nb.njit(parallel=True, fastmath=True, cache=True)
def _tiles_forward(hs, bt, v):  # pragma: no cover - numba
    """Winograd input transform ``BT d BT^T`` of all 8 x 8 tiles, stride 4.

    hs (N, S, 4, S / 4, C) phase-split images -> v (64, N * T * T, C), T = (S - 8) / 4 + 1.
    """
    n_img, side, _, nx, chans = hs.shape
    tiles = (side - ALPHA) // TILE + 1
    run, blk = nx * chans, tiles * chans
    for band in nb.prange(n_img * tiles):
        n = np.int64(band) // tiles
        y0 = TILE * (np.int64(band) - n * tiles)
        rows = np.zeros((ALPHA, TILE * run), np.float32)
        for a in range(ALPHA):
            dst = rows[a]
            for i in range(ALPHA):
                _axpy(dst, bt[a, i], hs[n, y0 + i].reshape(TILE * run))
        p0 = np.int64(band) * tiles
        for a in range(ALPHA):
            for b in range(ALPHA):
                dst = v[a * ALPHA + b, p0:p0 + tiles].reshape(blk)
                dst[:] = 0.0
                for j in range(ALPHA):
                    off = (j % TILE) * run + (j // TILE) * chans
                    _axpy(dst, bt[b, j], rows[a, off:off + blk])


@nb.njit(parallel=True, fastmath=True, cache=True)
def _tiles_backward(dv, bt, dhs):  # pragma: no cover - numba
    """Transpose of :func:`_tiles_forward`: dv (64, N * T * T, C) -> dhs (N, S, 4, S / 4, C).

    Tiles of neighbouring bands overlap, so each image is one sequential job.
    """
    n_img, side, _, nx, chans = dhs.shape
    tiles = (side - ALPHA) // TILE + 1
    run, blk = nx * chans, tiles * chans
    for n in nb.prange(n_img):
        dhs[n] = 0.0
        rows = np.empty((ALPHA, TILE * run), np.float32)
        for ty in range(tiles):
            rows[:] = 0.0
            p0 = (n * tiles + ty) * tiles
            for a in range(ALPHA):
                for b in range(ALPHA):
                    src = dv[a * ALPHA + b, p0:p0 + tiles].reshape(blk)
                    for j in range(ALPHA):
                        off = (j % TILE) * run + (j // TILE) * chans
                        dst = rows[a, off:off + blk]
                        _axpy(dst, bt[b, j], src)
            for i in range(ALPHA):
                dst = dhs[n, TILE * ty + i].reshape(TILE * run)
                for a in range(ALPHA):
                    _axpy(dst, bt[a, i], rows[a])


@nb.njit(parallel=True, fastmath=True, cache=True)
def _untile_pool_forward(m, at, bias_row, outs, arg):  # pragma: no cover - numba
    """Winograd output transform ``AT M AT^T`` fused with 2 x 2 max-pool, bias and ReLU.

    m (64, N * T * T, K) -> outs (N, 2 T, 2, T, K), the pooled map phase-split along x
    (pooled pixel (py, 2 tx + cx) at outs[n, py, cx, tx]); ``bias_row`` is the bias
    repeated T times (T K,), added after pooling (it is the same over a pooling cell);
    arg receives the position 2 dy + dx of each maximum inside its pooling cell.
    """
    n_img, side_p, _, tiles, k_out = outs.shape
    blk = tiles * k_out
    for band in nb.prange(n_img * tiles):
        n = np.int64(band) // tiles
        ty = np.int64(band) - n * tiles
        p0 = np.int64(band) * tiles
        part = np.zeros((TILE, ALPHA, blk), np.float32)
        for i in range(TILE):
            for b in range(ALPHA):
                dst = part[i, b]
                for a in range(ALPHA):
                    _axpy(dst, at[i, a], m[a * ALPHA + b, p0:p0 + tiles].reshape(blk))
        y = np.zeros((TILE, TILE, blk), np.float32)
        for i in range(TILE):
            for j in range(TILE):
                dst = y[i, j]
                for b in range(ALPHA):
                    _axpy(dst, at[j, b], part[i, b])
        for cy in range(2):
            for cx in range(2):
                o = outs[n, 2 * ty + cy, cx].reshape(blk)
                g = arg[n, 2 * ty + cy, cx].reshape(blk)
                y00, y01 = y[2 * cy, 2 * cx], y[2 * cy, 2 * cx + 1]
                y10, y11 = y[2 * cy + 1, 2 * cx], y[2 * cy + 1, 2 * cx + 1]
                for q in range(blk):
                    best, where = y00[q], 0
                    if y01[q] > best:
                        best, where = y01[q], 1
                    if y10[q] > best:
                        best, where = y10[q], 2
                    if y11[q] > best:
                        best, where = y11[q], 3
                    o[q] = max(best + bias_row[q], np.float32(0.0))
                    g[q] = where


@nb.njit(parallel=True, fastmath=True, cache=True)
def _untile_pool_backward(grads, outs, arg, at, dm):  # pragma: no cover - numba
    """Transpose of :func:`_untile_pool_forward` (without bias), phase-split grads -> dm."""
    n_img, side_p, _, tiles, k_out = outs.shape
    blk = tiles * k_out
    for band in nb.prange(n_img * tiles):
        n = np.int64(band) // tiles
        ty = np.int64(band) - n * tiles
        dy = np.empty((TILE, TILE, blk), np.float32)
        zero = np.float32(0.0)
        for cy in range(2):
            for cx in range(2):
                o = outs[n, 2 * ty + cy, cx].reshape(blk)
                g = arg[n, 2 * ty + cy, cx].reshape(blk)
                gr = grads[n, 2 * ty + cy, cx].reshape(blk)
                d00, d01 = dy[2 * cy, 2 * cx], dy[2 * cy, 2 * cx + 1]
                d10, d11 = dy[2 * cy + 1, 2 * cx], dy[2 * cy + 1, 2 * cx + 1]
                for q in range(blk):
                    gv = gr[q] if o[q] > 0 else zero
                    where = g[q]
                    d00[q] = gv if where == 0 else zero
                    d01[q] = gv if where == 1 else zero
                    d10[q] = gv if where == 2 else zero
                    d11[q] = gv if where == 3 else zero
        part = np.zeros((TILE, ALPHA, blk), np.float32)
        for i in range(TILE):
            for b in range(ALPHA):
                dst = part[i, b]
                for j in range(TILE):
                    _axpy(dst, at[j, b], dy[i, j])
        p0 = np.int64(band) * tiles
        for a in range(ALPHA):
            for b in range(ALPHA):
                dst = dm[a * ALPHA + b, p0:p0 + tiles].reshape(blk)
                dst[:] = 0.0
                for i in range(TILE):
                    _axpy(dst, at[i, a], part[i, b])


def _phase_split(x: torch.Tensor, phases: int) -> torch.Tensor:
    """(N, H, W, C) -> contiguous (N, H, phases, W / phases, C), x-phase-split copy."""
    n, h, w, c = x.shape
    return x.reshape(n, h, w // phases, phases, c).transpose(2, 3).contiguous()


def _phase_join(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_phase_split`: (N, H, p, W / p, C) -> contiguous (N, H, W, C)."""
    n, h, p, wp, c = x.shape
    return x.transpose(2, 3).reshape(n, h, wp * p, c)


class _Features(torch.autograd.Function):
    """Both convolution blocks; uint8 images (N, W, W) -> (N, 64, s, s) channels-last."""

    @staticmethod
    def forward(ctx, images, w1, b1, u2, b2):
        n, width, _ = images.shape
        side = (width - FILTER + 1) // 2
        k1, k2 = w1.shape[0], u2.shape[-1]
        hs = torch.empty((n, side, TILE, side // TILE, k1), dtype=torch.float32)
        arg1 = torch.empty((n, side, side, k1), dtype=torch.uint8)
        _conv1_pool_forward(images.numpy(), _row_tables(w1).numpy(), b1.detach().numpy(),
                            hs.numpy(), arg1.numpy())
        tiles = (side - ALPHA) // TILE + 1
        v = torch.empty((ALPHA * ALPHA, n * tiles * tiles, k1), dtype=torch.float32)
        _tiles_forward(hs.numpy(), _BT, v.numpy())
        m = torch.bmm(v, u2)
        outs = torch.empty((n, 2 * tiles, 2, tiles, k2), dtype=torch.float32)
        arg2 = torch.empty(outs.shape, dtype=torch.uint8)
        bias_row = b2.detach().repeat(tiles)
        _untile_pool_forward(m.numpy(), _AT, bias_row.numpy(), outs.numpy(), arg2.numpy())
        ctx.save_for_backward(images, arg1, v, u2, outs, arg2)
        return _phase_join(outs).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        images, arg1, v, u2, outs, arg2 = ctx.saved_tensors
        n, side, _, k1 = arg1.shape
        grads = _phase_split(grad.permute(0, 2, 3, 1), 2)
        dm = torch.empty((ALPHA * ALPHA, v.shape[1], u2.shape[-1]), dtype=torch.float32)
        _untile_pool_backward(grads.numpy(), outs.numpy(), arg2.numpy(), _AT, dm.numpy())
        du2 = torch.bmm(v.transpose(1, 2), dm)
        dv = torch.bmm(dm, u2.transpose(1, 2))
        db2 = torch.where(outs > 0, grads, 0.0).sum((0, 1, 2, 3))
        dhs = torch.empty((n, side, TILE, side // TILE, k1), dtype=torch.float32)
        _tiles_backward(dv.numpy(), _BT, dhs.numpy())
        hist = torch.empty((n, FILTER * (1 << FILTER) + 1, k1), dtype=torch.float32)
        _conv1_pool_backward(images.numpy(), dhs.numpy(), arg1.numpy(), hist.numpy())
        total = hist.sum(0)  # a fixed order over images: deterministic
        per_row = total[:-1].reshape(FILTER, 1 << FILTER, k1)
        dw1 = torch.einsum("rck,cs->krs", per_row, _PATTERN_SPINS).unsqueeze(1)
        return None, dw1, total[-1], du2, db2


_G = torch.from_numpy(_G64.astype(np.float32))


def supports(window: int) -> bool:
    """Whether :func:`features` handles ``window`` x ``window`` images (100 does).

    Block 2's tiles must cover its input exactly: window = 8 t + 20 for t >= 0.
    """
    return window >= 20 and window % 8 == 4


def features(images: torch.Tensor, conv1: torch.nn.Conv2d,
             conv2: torch.nn.Conv2d) -> torch.Tensor:
    """``relu(pool(conv2(relu(pool(conv1(2 images - 1))))))`` on the CPU.

    Parameters
    ----------
    images : Tensor
        uint8 0/1 images (N, W, W) on the CPU, with ``supports(W)``.
    conv1, conv2 : nn.Conv2d
        The network's two 5 x 5 convolutions (1 -> K1 and K1 -> K2 channels).

    Returns
    -------
    Tensor
        (N, K2, s, s) float32, channels-last in memory, s = ``cnn.feature_side(W)``.
        Gradients flow to the four convolution parameters (to conv2's weight through the
        filter transform G g G^T).
    """
    top = images.max().item() if images.numel() else None
    if images.dtype != torch.uint8 or (top is not None and top > 1):
        raise ValueError(f"the fused kernels take uint8 images of 0 and 1 (spins down/up), "
                         f"got {images.dtype}"
                         + (f" values up to {top}" if top is not None else "")
                         + "; convert them first, as HamiltonianClassifier does")
    if not supports(images.shape[-1]):
        raise ValueError(f"the fused kernels need a side of 8 t + 20 pixels, got "
                         f"{images.shape[-1]}")
    u = torch.einsum("ar,kcrs,bs->abck", _G, conv2.weight, _G)
    u = u.reshape(ALPHA * ALPHA, conv2.in_channels, conv2.out_channels)
    return _Features.apply(images.contiguous(), conv1.weight, conv1.bias, u, conv2.bias)
