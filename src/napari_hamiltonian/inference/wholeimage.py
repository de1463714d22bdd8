"""The CNN evaluated over a whole image at once: every window's logits, shared work.

With valid convolutions, a window's feature maps are crops of the whole image's: conv1
runs once, max-pooling in its 2 x 2 phases (a window's pooling grid depends on its
offset modulo 2, then 4), conv2 per phase. The first dense layer over a window's
(64, 22, 22) features is a correlation of the pooled maps with the layer's weights,
computed by FFT in overlap-save blocks, only for blocks that contain windows that need
it. Complex products are done as one real batched matrix product per frequency. A block
that only a few windows need (a large stride, or the few windows of one symmetry variant
there) costs more by FFT than those windows' features multiplied by the layer's weights
directly, so such windows are gathered and multiplied instead (:data:`DIRECT_BELOW`).

Windows whose reducing symmetry operation is ``op`` are windows of the whole image
transformed by ``op`` (:func:`napari_hamiltonian.classifier.symmetry.transform_positions`), so
:func:`variant_logits` runs the network on that transformed image only.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F

from ..classifier.symmetry import transform, transform_positions

#: FFT block side for the first dense layer (output blocks of FFT_SIDE - 21 positions).
FFT_SIDE = 64
#: FFT blocks per batched matrix product (memory: ~2 MB per block).
BLOCKS_PER_PRODUCT = 64
#: A block of the first dense layer goes by FFT when at least this many windows need
#: it, else its windows are multiplied directly: on 2 CPU cores one 64 x 64 block (two
#: FFTs and the product over 2,112 frequencies) takes about as long as the direct
#: products of 60 windows (``benchmarks/bench_sliding.py --strides``).
DIRECT_BELOW = 64
#: Windows per direct product (memory: 124 kB of features per window).
WINDOWS_PER_PRODUCT = 256


class WholeImageCNN:
    """A classifier's weights, arranged for whole-image evaluation.

    Parameters
    ----------
    model : HamiltonianCNN
        The trained network (any device; the weights are copied to the CPU).
    window : int
        Side of the network's square input (pixels).
    """

    def __init__(self, model, window: int):
        weights = {name: value.detach().to("cpu", torch.float32).contiguous()
                   for name, value in model.state_dict().items()}
        self.window = window
        self.side = (window // 2 - 2) // 2 - 2  # feature map side: 100 -> 22
        self.conv1_weight, self.conv1_bias = weights["conv1.weight"], weights["conv1.bias"]
        self.conv2_weight, self.conv2_bias = weights["conv2.weight"], weights["conv2.bias"]
        self.fc2_weight, self.fc2_bias = weights["fc2.weight"], weights["fc2.bias"]
        self.fc1_bias = weights["fc1.bias"]
        hidden = self.fc1_bias.shape[0]
        self.hidden = hidden
        kernel = weights["fc1.weight"].reshape(hidden, 64, self.side, self.side)
        # the weights in the order of channels-last features, for direct products
        self.fc1_weight_hwc = kernel.permute(0, 2, 3, 1).reshape(hidden, -1).contiguous()
        # correlation kernel in the frequency domain, as real block matrices per bin
        spectrum = torch.conj(torch.fft.rfft2(kernel.double(), s=(FFT_SIDE, FFT_SIDE)))
        spectrum = spectrum.permute(2, 3, 1, 0).reshape(-1, 64, hidden)  # (bins, 64, hidden)
        real, imag = spectrum.real.float(), spectrum.imag.float()
        # real form of the complex product with interleaved (re, im) rows and columns,
        # the layout of torch.view_as_real: row 2c+p is part p of input channel c,
        # column 2h+q part q of output h
        matrix = torch.empty(spectrum.shape[0], 64, 2, hidden, 2)
        matrix[:, :, 0, :, 0], matrix[:, :, 0, :, 1] = real, imag
        matrix[:, :, 1, :, 0], matrix[:, :, 1, :, 1] = -imag, real
        self.kernel_matrix = matrix.reshape(spectrum.shape[0], 128, 2 * hidden)

    def pooled(self, image: torch.Tensor, phases1, phases2) -> dict:
        """Pooled conv2 maps of a ±1 image (1, 1, H, W) for the requested phases.

        Returns {(py, px, qy, qx): (64, h, w) tensor} where the window whose top-left
        corner is (y, x) with y % 2 == py, (y // 2) % 2 == qy (same for x) has its
        (64, 22, 22) features at ``map[:, y // 4 : y // 4 + 22, x // 4 : x // 4 + 22]``.
        """
        conv1 = F.conv2d(image, self.conv1_weight, self.conv1_bias)
        out = {}
        for py, px in phases1:
            pooled1 = max_pool(conv1, py, px).relu_()
            conv2 = F.conv2d(pooled1, self.conv2_weight, self.conv2_bias)
            for qy, qx in phases2[(py, px)]:
                out[(py, px, qy, qx)] = max_pool(conv2, qy, qx).relu_()[0]
        return out

    def dense(self, blocks: torch.Tensor) -> torch.Tensor:
        """fc1 correlation of (n_blocks, 64, F, F) feature blocks -> (B, B, n_blocks,
        hidden).

        Output (a, b, n, h) is the sum over (c, u, v) of fc1 weight (h, c, u, v) times
        block (n, c, a + u, b + v), for the B = F - side + 1 positions per side where a
        window fits in the block (overlap-save).
        """
        n_blocks, hidden = blocks.shape[0], self.hidden
        positions = FFT_SIDE - self.side + 1
        spectrum = torch.fft.rfft2(blocks)  # (n_blocks, 64, freq_y, freq_x)
        freq_y, freq_x = spectrum.shape[-2:]
        as_real = torch.view_as_real(spectrum.permute(2, 3, 0, 1).contiguous())
        product = torch.bmm(as_real.reshape(freq_y * freq_x, n_blocks, 128),
                            self.kernel_matrix)  # (bins, n_blocks, 2 hidden)
        product = torch.view_as_complex(product.reshape(freq_y, freq_x, n_blocks, hidden, 2))
        # inverse in two steps along the leading axes (no transposition), keeping only
        # the rows needed after the first
        rows = torch.fft.ifft(product, dim=0)[:positions]
        return torch.fft.irfft(rows, n=FFT_SIDE, dim=1)[:, :positions]

    def direct(self, parts: list) -> torch.Tensor:
        """fc1 sums (without bias) of windows multiplied directly.

        ``parts`` is a list of ``(fmap, y, x)``: a pooled map (64, h, w) and the
        positions (arrays of int) where windows' features start in it. Their
        (side, side, 64) features are gathered (channels last, so that each feature
        row is one contiguous run) and multiplied by the layer's weights,
        :data:`WINDOWS_PER_PRODUCT` at a time across the parts (small products would
        each stream the whole weight matrix from memory). Returns (m, hidden), rows in
        the order of the parts' windows.
        """
        side, length = self.side, self.side * self.side * 64
        views, owner, ys, xs = [], [], [], []
        for k, (fmap, y, x) in enumerate(parts):
            channels, h, w = fmap.shape
            last = fmap.permute(1, 2, 0).contiguous()
            views.append(last.as_strided((h - side + 1, w - side + 1, side, side, channels),
                                         (w * channels, channels, w * channels, channels, 1)))
            owner.append(np.full(len(y), k))
            ys.append(y)
            xs.append(x)
        owner, ys, xs = map(np.concatenate, (owner, ys, xs))
        out = torch.empty(len(ys), self.hidden)
        buffer = torch.empty(min(WINDOWS_PER_PRODUCT, len(ys)), side, side, 64)
        for first in range(0, len(ys), WINDOWS_PER_PRODUCT):
            part = slice(first, first + WINDOWS_PER_PRODUCT)
            chunk = owner[part]
            for k in np.unique(chunk):
                at = np.flatnonzero(chunk == k)
                buffer[torch.from_numpy(at)] = views[k][torch.from_numpy(ys[part][at]),
                                                        torch.from_numpy(xs[part][at])]
            out[part] = F.linear(buffer[:len(chunk)].reshape(-1, length),
                                 self.fc1_weight_hwc)
        return out

    def head(self, fc1_sums: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, hidden) fc1 sums without bias -> (m, n_classes) logits and the (m, hidden)
        first dense layer's output after ReLU."""
        hidden = F.relu(fc1_sums + self.fc1_bias)
        return F.linear(hidden, self.fc2_weight, self.fc2_bias), hidden


def max_pool(x: torch.Tensor, py: int, px: int) -> torch.Tensor:
    """2 x 2 max-pooling of (N, C, H, W) maps on the grid that starts at row ``py`` and
    column ``px``: ``F.max_pool2d(x[:, :, py:, px:], 2)``, equal to it, as the maximum
    of four strided views (6-8 times faster on the CPU for these map sizes)."""
    h, w = (x.shape[2] - py) // 2 * 2, (x.shape[3] - px) // 2 * 2
    a = x[:, :, py:py + h, px:px + w]
    return torch.maximum(torch.maximum(a[:, :, 0::2, 0::2], a[:, :, 0::2, 1::2]),
                         torch.maximum(a[:, :, 1::2, 0::2], a[:, :, 1::2, 1::2]))


#: Whole-image weights per trained network; an entry goes when its network does.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def whole_image_cnn(clf) -> WholeImageCNN:
    """The :class:`WholeImageCNN` of a fitted classifier, built once per network."""
    net = _CACHE.get(clf.model_)
    if net is None:
        net = _CACHE[clf.model_] = WholeImageCNN(clf.model_, clf.window_)
    return net


def variant_logits(net: WholeImageCNN, binary: np.ndarray, op: int, y0: np.ndarray,
                   x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits of the windows at (y0, x0) of an image, all reduced by operation op.

    Parameters
    ----------
    net : WholeImageCNN
    binary : ndarray, shape (H, W)
        uint8 0/1, or float32 in phase units for a grey model (insulator 0, metal 1;
        the spin flip is ``1 - g``).
    op : int
        The symmetry operation (0..15) that reduces each of these windows.
    y0, x0 : ndarray of int, shape (m,)
        Top-left corners of the windows.

    Returns
    -------
    logits : ndarray, float32, shape (m, n_classes)
        Logits in the classifier's column order, equal to those of each window reduced
        and passed through the network alone (within float32 FFT rounding).
    hidden : ndarray, float32, shape (m, hidden)
        The first dense layer's output after ReLU.
    """
    n = net.window
    ya, xa = transform_positions(y0, x0, binary.shape, n, op)
    # crop the transformed image to the region these windows cover
    top, left = int(ya.min()) & ~3, int(xa.min()) & ~3
    bottom, right = int(ya.max()) + n, int(xa.max()) + n
    img = transform(binary, op)[top:bottom, left:right]
    ya, xa = ya - top, xa - left
    x = torch.from_numpy(np.ascontiguousarray(img, np.float32)).mul_(2).sub_(1)[None, None]
    key1 = np.stack([ya % 2, xa % 2], 1)
    key2 = np.stack([(ya // 2) % 2, (xa // 2) % 2], 1)
    phases = {}
    for k1, k2 in zip(map(tuple, key1), map(tuple, key2)):
        phases.setdefault(k1, set()).add(k2)
    maps = net.pooled(x, list(phases), phases)
    per_block = FFT_SIDE - net.side + 1  # output positions per block side
    pos = np.stack([ya // 4, xa // 4], 1)
    fc1_sums = torch.empty(len(ya), net.hidden)
    blocks, rows, block_of, offsets = [], [], [], []
    n_blocks, direct, direct_rows = 0, [], []
    for key, fmap in maps.items():
        sel = np.flatnonzero((key1[:, 0] == key[0]) & (key1[:, 1] == key[1])
                             & (key2[:, 0] == key[2]) & (key2[:, 1] == key[3]))
        # block k starts at k * per_block, the last one shifted back to end at the edge
        code = (pos[sel, 0] // per_block) * 65536 + pos[sel, 1] // per_block
        ucode, inv = np.unique(code, return_inverse=True)
        inv = inv.ravel()
        kept = np.bincount(inv) >= DIRECT_BELOW  # blocks enough windows need
        by_fft = kept[inv]
        if not by_fft.all():
            few = sel[~by_fft]
            direct.append((fmap, pos[few, 0], pos[few, 1]))
            direct_rows.append(few)
        if not by_fft.any():
            continue
        # the kept blocks, numbered 0.. in their order
        sel, inv, ucode = sel[by_fft], (np.cumsum(kept) - 1)[inv[by_fft]], ucode[kept]
        hm, wm = fmap.shape[1:]
        if hm < FFT_SIDE or wm < FFT_SIDE:
            fmap = F.pad(fmap, (0, max(FFT_SIDE - wm, 0), 0, max(FFT_SIDE - hm, 0)))
            hm, wm = fmap.shape[1:]
        start = np.minimum(np.stack(np.divmod(ucode, 65536), 1) * per_block,
                           [hm - FFT_SIDE, wm - FFT_SIDE])
        windows = fmap.unfold(1, FFT_SIDE, 1).unfold(2, FFT_SIDE, 1)  # a view, no copy
        blocks.append(windows[:, torch.from_numpy(start[:, 0]), torch.from_numpy(start[:, 1])]
                      .transpose(0, 1))
        rows.append(sel)
        block_of.append(inv + n_blocks)
        offsets.append(pos[sel] - start[inv])
        n_blocks += len(ucode)
    del maps
    if direct:
        fc1_sums[torch.from_numpy(np.concatenate(direct_rows))] = net.direct(direct)
        del direct
    if n_blocks:
        blocks = torch.cat(blocks)
        rows, block_of, offsets = map(np.concatenate, (rows, block_of, offsets))
        order = np.argsort(block_of, kind="stable")
        bounds = np.searchsorted(block_of[order],
                                 np.arange(0, n_blocks + BLOCKS_PER_PRODUCT,
                                           BLOCKS_PER_PRODUCT))
        for k, first in enumerate(range(0, n_blocks, BLOCKS_PER_PRODUCT)):
            dense = net.dense(blocks[first:first + BLOCKS_PER_PRODUCT])
            r = order[bounds[k]:bounds[k + 1]]
            fc1_sums[torch.from_numpy(rows[r])] = dense[
                torch.from_numpy(offsets[r, 0]), torch.from_numpy(offsets[r, 1]),
                torch.from_numpy(block_of[r] - first)]
    logits, hidden = net.head(fc1_sums)
    return logits.numpy(), hidden.numpy()
