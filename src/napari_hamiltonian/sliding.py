"""Exact, fast sliding-window classification of whole images.

Every ``w x w`` window of an image (``w`` = the classifier's window, 100) is classified
exactly as ``clf.predict`` would classify it alone: symmetry reduction, then the CNN. The
computation is shared between windows instead of being run per window:

* Per-window symmetry reduction picks one of the 16 operations ``c`` of Z2 x D4 for each
  window (:func:`window_operations`). The reduced window is then a window of the whole
  image transformed by ``c``, so the CNN only has to run on (at most) 16 transformed
  images, each only over the region whose windows need it.
* With valid convolutions, a window's feature maps are crops of the whole image's: conv1
  once, max-pooling in its 2 x 2 phases (a window's pooling grid depends on its offset
  modulo 2, then 4), conv2 per phase.
* The first dense layer over a window's (64, 22, 22) features is a correlation of the
  pooled maps with the layer's weights, computed by FFT in overlap-save blocks, only for
  blocks that contain windows needing that variant. Complex products are done as one
  real batched matrix product per frequency.

Agreement with per-window ``clf.decision_function``: labels identical, logits within
1e-4 (float32 FFT rounding), tested on every window of small images and random windows
of large ones.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
from collections.abc import Generator
from dataclasses import dataclass

import numba as nb
import numpy as np
import torch
import torch.nn.functional as F

from ._binary import binarize
from .symmetry import _canonical

#: FFT block side for the first dense layer (output blocks of FFT - 21 positions).
FFT_SIDE = 64
#: FFT blocks per batched matrix product (memory: ~2 MB per block).
_BLOCK_BATCH = 64


@nb.njit(parallel=True, cache=True)
def _window_ops(b, n, ys, xs, out):
    for i in nb.prange(len(ys)):
        for j in range(len(xs)):
            out[i, j] = _canonical(b[ys[i]:ys[i] + n, xs[j]:xs[j] + n])


def window_operations(binary: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Symmetry operation ``2 g + flip`` that reduces each window, (ny, nx) int8.

    Exactly the choice :func:`napari_hamiltonian.symmetry_reduce` makes for the window
    alone.
    """
    ys = np.arange(0, binary.shape[0] - window + 1, stride)
    xs = np.arange(0, binary.shape[1] - window + 1, stride)
    out = np.empty((len(ys), len(xs)), np.int8)
    _window_ops(np.ascontiguousarray(binary), window, ys, xs, out)
    return out


def _transform_image(b: np.ndarray, c: int) -> np.ndarray:
    """The whole image under operation c (flip rows/cols, then transpose; spin flip)."""
    g, flip = divmod(c, 2)
    t, fr, fc = g >> 2, (g >> 1) & 1, g & 1
    y = b[::-1] if fr else b
    y = y[:, ::-1] if fc else y
    y = y.T if t else y
    return (1 - y) if flip else y


def _transform_positions(y0, x0, shape, n: int, c: int):
    """Top-left corners in the transformed image of windows at (y0, x0) in the original."""
    g = c // 2
    t, fr, fc = g >> 2, (g >> 1) & 1, g & 1
    ya = shape[0] - n - y0 if fr else y0
    xa = shape[1] - n - x0 if fc else x0
    return (xa, ya) if t else (ya, xa)


@dataclass
class WindowResult:
    """Per-window classification of one image.

    Window (i, j) covers ``image[i*stride : i*stride + window, j*stride : j*stride + window]``.

    Attributes
    ----------
    labels : ndarray of int, shape (ny, nx)
        Index into ``classes`` of each window's predicted class.
    confident : ndarray of bool, shape (ny, nx)
        The k-sigma rule (:mod:`napari_hamiltonian.confidence`).
    logits : ndarray of float32, shape (ny, nx, n_classes)
        Last layer before softmax, columns in ``classes`` order.
    distance : ndarray of float, shape (ny, nx)
        Distance to the nearest training point of the predicted class, in |sigma_c|.
    classes : tuple of str
        Class names: ``napari_hamiltonian.CLASSES`` for the seven-class models.
    stride, window : int
        Window step and side (pixels).
    """

    labels: np.ndarray
    confident: np.ndarray
    logits: np.ndarray
    distance: np.ndarray
    classes: tuple
    stride: int
    window: int

    def fractions(self) -> dict:
        """{class: (share of windows, share of windows that are of this class and
        confident)}, shares of all windows (the paper's bar charts)."""
        n = self.labels.size
        out = {}
        for k, c in enumerate(self.classes):
            mask = self.labels == k
            out[c] = (float(mask.sum() / n), float((mask & self.confident).sum() / n))
        return out


class _SharedCNN:
    """The classifier's weights, arranged for whole-image evaluation."""

    def __init__(self, clf):
        model = clf.model_
        p = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in model.state_dict().items()}
        self.window = clf.window_
        self.side = (self.window // 2 - 2) // 2 - 2  # 100 -> 22
        self.w1, self.b1 = p["conv1.weight"], p["conv1.bias"]
        self.w2, self.b2 = p["conv2.weight"], p["conv2.bias"]
        self.wf2, self.bf2 = p["fc2.weight"], p["fc2.bias"]
        self.bf1 = p["fc1.bias"]
        hidden = self.bf1.shape[0]
        self.hidden = hidden
        kern = p["fc1.weight"].reshape(hidden, 64, self.side, self.side)
        # correlation kernel in the frequency domain, as real block matrices per bin
        kf = torch.conj(torch.fft.rfft2(kern.double(), s=(FFT_SIDE, FFT_SIDE)))
        kf = kf.permute(2, 3, 1, 0).reshape(-1, 64, hidden)  # (bins, 64, hidden)
        kr, ki = kf.real.float(), kf.imag.float()
        # real form of the complex product with interleaved (re, im) rows and columns,
        # the layout of torch.view_as_real: row 2c+p is part p of input channel c,
        # column 2h+q part q of output h
        km = torch.empty(kf.shape[0], 64, 2, hidden, 2)
        km[:, :, 0, :, 0], km[:, :, 0, :, 1] = kr, ki
        km[:, :, 1, :, 0], km[:, :, 1, :, 1] = -ki, kr
        self.kmat = km.reshape(kf.shape[0], 128, 2 * hidden)

    def pooled(self, image: torch.Tensor, phases1, phases2) -> dict:
        """Pooled conv2 maps of a ±1 image (1, 1, H, W) for the requested phases.

        Returns {(py, px, qy, qx): (64, h, w) tensor} where the window whose top-left
        corner is (y, x) with y % 2 == py, (y // 2) % 2 == qy (same for x) has its
        (64, 22, 22) features at ``map[:, y // 4 : y // 4 + 22, x // 4 : x // 4 + 22]``.
        """
        c1 = F.conv2d(image, self.w1, self.b1)
        out = {}
        for py, px in phases1:
            p1 = F.relu(F.max_pool2d(c1[:, :, py:, px:], 2))
            c2 = F.conv2d(p1, self.w2, self.b2)
            for qy, qx in phases2[(py, px)]:
                out[(py, px, qy, qx)] = F.relu(F.max_pool2d(c2[:, :, qy:, qx:], 2))[0]
        return out

    def dense(self, blocks: torch.Tensor) -> torch.Tensor:
        """fc1 correlation of (nb, 64, F, F) feature blocks -> (B, B, nb, hidden).

        Output (a, b, n, h) is the sum over (c, u, v) of fc1 weight (h, c, u, v) times
        block (n, c, a + u, b + v), for the B = F - side + 1 positions per side where a
        window fits in the block (overlap-save).
        """
        nb_, hid = blocks.shape[0], self.hidden
        b = FFT_SIDE - self.side + 1
        xf = torch.fft.rfft2(blocks)  # (nb, 64, fy, fx)
        fy, fx = xf.shape[-2:]
        xr = torch.view_as_real(xf.permute(2, 3, 0, 1).contiguous())
        yr = torch.bmm(xr.reshape(fy * fx, nb_, 128), self.kmat)  # (bins, nb, 2 hidden)
        yf = torch.view_as_complex(yr.reshape(fy, fx, nb_, hid, 2))
        # inverse in two steps along the leading axes (no transposition), keeping only
        # the b rows needed after the first
        z = torch.fft.ifft(yf, dim=0)[:b]
        return torch.fft.irfft(z, n=FFT_SIDE, dim=1)[:, :b]

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """(m, hidden) fc1 sums without bias -> (m, n_classes) logits."""
        return F.linear(F.relu(h + self.bf1), self.wf2, self.bf2)


def _shared(clf) -> _SharedCNN:
    cache = clf.__dict__.get("_shared_cnn")
    if cache is None or cache[0] is not clf.model_:
        cache = (clf.model_, _SharedCNN(clf))
        clf.__dict__["_shared_cnn"] = cache
    return cache[1]


def _variant_logits(net: _SharedCNN, b: np.ndarray, c: int, y0: np.ndarray,
                    x0: np.ndarray) -> np.ndarray:
    """Logits of the windows at (y0, x0) (all reduced by operation c) of binary image b."""
    n = net.window
    ya, xa = _transform_positions(y0, x0, b.shape, n, c)
    # crop the transformed image to the region these windows cover
    top, left = int(ya.min()) & ~3, int(xa.min()) & ~3
    bottom, right = int(ya.max()) + n, int(xa.max()) + n
    img = _transform_image(b, c)[top:bottom, left:right]
    ya, xa = ya - top, xa - left
    x = torch.from_numpy(np.ascontiguousarray(img, np.float32)).mul_(2).sub_(1)[None, None]
    key1 = np.stack([ya % 2, xa % 2], 1)
    key2 = np.stack([(ya // 2) % 2, (xa // 2) % 2], 1)
    phases = {}
    for k1, k2 in zip(map(tuple, key1), map(tuple, key2)):
        phases.setdefault(k1, set()).add(k2)
    maps = net.pooled(x, list(phases), phases)
    bo = FFT_SIDE - net.side + 1  # output positions per block side
    pos = np.stack([ya // 4, xa // 4], 1)
    blocks, rows, block_of, offsets = [], [], [], []
    n_blocks = 0
    for key, fmap in maps.items():
        sel = np.flatnonzero((key1[:, 0] == key[0]) & (key1[:, 1] == key[1])
                             & (key2[:, 0] == key[2]) & (key2[:, 1] == key[3]))
        hm, wm = fmap.shape[1:]
        if hm < FFT_SIDE or wm < FFT_SIDE:
            fmap = F.pad(fmap, (0, max(FFT_SIDE - wm, 0), 0, max(FFT_SIDE - hm, 0)))
            hm, wm = fmap.shape[1:]
        # block k starts at k * bo, the last one shifted back to end at the map's edge
        code = (pos[sel, 0] // bo) * 65536 + pos[sel, 1] // bo
        ucode, inv = np.unique(code, return_inverse=True)
        start = np.minimum(np.stack(np.divmod(ucode, 65536), 1) * bo,
                           [hm - FFT_SIDE, wm - FFT_SIDE])
        windows = fmap.unfold(1, FFT_SIDE, 1).unfold(2, FFT_SIDE, 1)  # a view, no copy
        blocks.append(windows[:, torch.from_numpy(start[:, 0]), torch.from_numpy(start[:, 1])]
                      .transpose(0, 1))
        rows.append(sel)
        block_of.append(inv.ravel() + n_blocks)
        offsets.append(pos[sel] - start[inv.ravel()])
        n_blocks += len(ucode)
    del maps
    blocks = torch.cat(blocks)
    rows, block_of, offsets = map(np.concatenate, (rows, block_of, offsets))
    order = np.argsort(block_of, kind="stable")
    bounds = np.searchsorted(block_of[order], np.arange(0, n_blocks + _BLOCK_BATCH,
                                                        _BLOCK_BATCH))
    h = torch.empty(len(ya), net.hidden)
    for k, first in enumerate(range(0, n_blocks, _BLOCK_BATCH)):
        dense = net.dense(blocks[first:first + _BLOCK_BATCH])
        r = order[bounds[k]:bounds[k + 1]]
        h[torch.from_numpy(rows[r])] = dense[torch.from_numpy(offsets[r, 0]),
                                             torch.from_numpy(offsets[r, 1]),
                                             torch.from_numpy(block_of[r] - first)]
    return net.head(h).numpy()


@functools.cache
def _steady_memory() -> None:
    """Fix glibc's mmap threshold (Linux only).

    glibc raises the threshold after large blocks are freed; the big per-variant buffers
    then come from the heap and fragment it: over a 100-frame stack the peak RSS grew to
    4.3 GiB, against 1.2 GiB for 40 frames with a fixed 1 MiB threshold, at the same
    speed.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass


def iter_classify(image, clf=None, stride: int = 1, threshold=None, metal: str = "bright",
                  tile: int = 1024) -> Generator[tuple, None, WindowResult]:
    """Classify every window of an image, yielding progress; returns a WindowResult.

    The one implementation behind :func:`classify_image`, the command line and the
    napari widget. Yields ``("progress", done, total)`` after each unit of work (one
    symmetry variant of one tile), so a consumer can stop between units by closing the
    generator. The return value (``StopIteration.value``) is the
    :class:`WindowResult`.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Binary image, or grayscale with ``threshold``.
    clf : HamiltonianClassifier, optional
        Fitted classifier; default the shipped model.
    stride : int
        Window step (pixels).
    threshold : None, float or "otsu"
        None: the image must be binary. Otherwise the grey level separating metal from
        insulator.
    metal : "bright" or "dark"
        Which side of the threshold is metal (up, 1).
    tile : int
        Windows per tile side; bounds memory for very large images.
    """
    if clf is None:
        from .pretrained import load_pretrained
        clf = load_pretrained()
    n = clf.window_
    b = binarize(image, threshold, metal, min_side=n)
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    _steady_memory()
    net = _shared(clf)
    ops = window_operations(b, n, stride)
    ny, nx = ops.shape
    classes = tuple(str(c) for c in clf.classes_)
    logits = np.empty((ny, nx, len(classes)), np.float32)
    tiles = [(i, j) for i in range(0, ny, tile) for j in range(0, nx, tile)]
    work = [(t, c) for t in tiles for c in np.unique(ops[t[0]:t[0] + tile, t[1]:t[1] + tile])]
    yield ("progress", 0, len(work))
    with torch.no_grad():
        for done, ((i, j), c) in enumerate(work, 1):
            sub = ops[i:i + tile, j:j + tile]
            iy, ix = np.nonzero(sub == c)
            iy, ix = iy + i, ix + j
            logits[iy, ix] = _variant_logits(net, b, int(c), iy * stride, ix * stride)
            yield ("progress", done, len(work))
    pred = logits.reshape(-1, len(classes)).argmax(1)
    dist = clf.clusters_.distance(logits.reshape(-1, len(classes)), pred).reshape(ny, nx)
    order = _class_order(classes)
    return WindowResult(labels=np.argsort(order)[pred].reshape(ny, nx).astype(np.int16),
                        confident=dist <= clf.confidence_k,
                        logits=np.ascontiguousarray(logits[..., order]), distance=dist,
                        classes=tuple(classes[k] for k in order), stride=stride, window=n)


def _class_order(classes: tuple) -> list[int]:
    """Column order that puts the seven standard classes in CLASSES order."""
    from .simulate.dataset import CLASSES
    if set(classes) == set(CLASSES):
        return [classes.index(c) for c in CLASSES]
    return list(range(len(classes)))


def classify_image(image, clf=None, stride: int = 1, threshold=None,
                   metal: str = "bright") -> WindowResult:
    """Classify every window of one image (see :func:`iter_classify` for parameters).

    Returns
    -------
    WindowResult
        ``labels``, ``confident``, ``logits`` (columns in CLASSES order), ``fractions()``.
    """
    return _run(iter_classify(image, clf, stride, threshold, metal))


def _run(gen):
    """Exhaust a generator and return its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def n_windows(shape, window: int = 100, stride: int = 1) -> tuple[int, int]:
    """Number of windows (ny, nx) of an image of ``shape`` (H, W)."""
    return (math.floor((shape[0] - window) / stride) + 1,
            math.floor((shape[1] - window) / stride) + 1)


@dataclass
class StackResult:
    """Lazy per-window results of a (T, Y, X) stack; nothing is computed until asked.

    Attributes
    ----------
    logits : dask array, float32, shape (T, ny, nx, n_classes)
        Last layer before softmax, columns in ``classes`` order.
    distance : dask array, float64, shape (T, ny, nx)
        Nearest-training-point distance of the predicted class, in |sigma_c|.
    labels : dask array, int16, shape (T, ny, nx)
        Index into ``classes``.
    confident : dask array, bool, shape (T, ny, nx)
        ``distance <= k``.
    classes : tuple of str
    stride, window : int
    client : dask.distributed.Client or None
    """

    logits: object
    distance: object
    labels: object
    confident: object
    classes: tuple
    stride: int
    window: int
    client: object = None

    def compute(self, *arrays):
        """Compute dask arrays: on the cluster if a client was given, else one task at a
        time (each frame already uses every core through torch, so running frames side
        by side is no faster and holds several frames' buffers at once)."""
        if self.client is not None:
            return tuple(self.client.gather(self.client.compute(list(arrays))))
        import dask
        return dask.compute(*arrays, scheduler="synchronous")

    def frame(self, t: int) -> WindowResult:
        """Compute frame ``t`` into a :class:`WindowResult`."""
        logits, dist, labels, conf = self.compute(self.logits[t], self.distance[t],
                                                  self.labels[t], self.confident[t])
        return WindowResult(labels=labels, confident=conf, logits=logits, distance=dist,
                            classes=self.classes, stride=self.stride, window=self.window)


def _windows_in(start: int, stop: int, stride: int, n_total: int) -> tuple[int, int]:
    """Window indices whose origin (index * stride) lies in [start, stop)."""
    return min(-(-start // stride), n_total), min(-(-stop // stride), n_total)


def _stack_block(block, clf, stride, threshold, metal, ystarts, xstarts, ny, nx,
                 block_id=None):
    """Logits of the windows whose origin lies in this chunk (block has trailing overlap)."""
    n = clf.window_
    by, bx = block_id[1], block_id[2]
    i0, i1 = _windows_in(ystarts[by], ystarts[by + 1], stride, ny)
    j0, j1 = _windows_in(xstarts[bx], xstarts[bx + 1], stride, nx)
    out = np.zeros((block.shape[0], i1 - i0, j1 - j0, len(clf.classes_)), np.float32)
    if i1 <= i0 or j1 <= j0:
        return out
    oy, ox = i0 * stride - ystarts[by], j0 * stride - xstarts[bx]
    sub = block[:, oy:oy + (i1 - i0 - 1) * stride + n, ox:ox + (j1 - j0 - 1) * stride + n]
    for t in range(block.shape[0]):
        out[t] = _run(iter_classify(np.asarray(sub[t]), clf, stride, threshold, metal)).logits
    return out


def _distance_block(logits, clusters, order):
    z = logits[..., np.argsort(order)]  # back to the classifier's column order
    flat = z.reshape(-1, z.shape[-1])
    return clusters.distance(flat, flat.argmax(1)).reshape(z.shape[:-1])


def classify_stack(stack, clf=None, stride: int = 1, threshold=None, metal: str = "bright",
                   client=None) -> StackResult:
    """Classify every window of every frame of a stack, lazily with Dask.

    Parameters
    ----------
    stack : numpy or dask array, shape (T, Y, X)
        Frames; any chunking, including chunks that split frames spatially: windows that
        cross chunk borders are computed from overlapping chunks (``dask.array.overlap``
        with a trailing depth of ``window - 1``), so results do not depend on the
        chunking.
    clf, stride, threshold, metal
        As in :func:`classify_image`. With ``threshold="otsu"`` the threshold is
        computed per chunk; pass a number for stacks split spatially.
    client : dask.distributed.Client or str, optional
        A client or scheduler address. ``StackResult.compute`` and ``frame`` then run on
        that cluster (so does ``dask.compute`` while it is the default client). The model
        enters the graph as one key, so it is shipped to each worker once, not per task.

    Returns
    -------
    StackResult
        Lazy ``logits``, ``distance``, ``labels`` and ``confident``.
    """
    import dask
    import dask.array as da

    if clf is None:
        from .pretrained import load_pretrained
        clf = load_pretrained()
    if isinstance(client, str):
        from distributed import Client
        client = Client(client)
    n = clf.window_
    x = stack if isinstance(stack, da.Array) else da.from_array(np.asarray(stack),
                                                                  chunks=(1, -1, -1))
    if x.ndim != 3:
        raise ValueError(f"stack must have shape (T, Y, X), got {x.shape}; for one image "
                         "use classify_image")
    T, H, W = x.shape
    if H < n or W < n:
        raise ValueError(f"frames are {H}x{W} pixels, smaller than the {n}x{n} window")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    ny, nx = n_windows((H, W), n, stride)
    # overlap needs chunks at least as large as the depth
    if min(x.chunks[1]) < n - 1 or min(x.chunks[2]) < n - 1:
        x = x.rechunk({1: max(n, max(x.chunks[1])), 2: max(n, max(x.chunks[2]))})
    ystarts = np.concatenate([[0], np.cumsum(x.chunks[1])])
    xstarts = np.concatenate([[0], np.cumsum(x.chunks[2])])
    ych = tuple(int(np.subtract(*_windows_in(a, b, stride, ny)[::-1]))
                for a, b in zip(ystarts[:-1], ystarts[1:]))
    xch = tuple(int(np.subtract(*_windows_in(a, b, stride, nx)[::-1]))
                for a, b in zip(xstarts[:-1], xstarts[1:]))
    classes = tuple(str(c) for c in clf.classes_)
    model = dask.delayed(clf, pure=True)
    # each chunk also sees the window - 1 pixels after it (asymmetric overlap, no
    # boundary padding); a window belongs to the chunk holding its top-left pixel
    xo = da.overlap.overlap(x, depth={0: 0, 1: (0, n - 1), 2: (0, n - 1)},
                            boundary="none")
    logits = da.map_blocks(
        _stack_block, xo, model, stride, threshold, metal, ystarts, xstarts, ny, nx,
        dtype=np.float32, new_axis=[3], chunks=(x.chunks[0], ych, xch, (len(classes),)),
        meta=np.empty((0, 0, 0, 0), np.float32))
    order = _class_order(classes)  # the blocks' columns are already in this order
    clusters = dask.delayed(clf.clusters_, pure=True)
    distance = logits.map_blocks(_distance_block, clusters, order, drop_axis=3,
                                 dtype=np.float64, meta=np.empty((0, 0, 0), np.float64))
    labels = logits.argmax(axis=3).astype(np.int16)
    confident = distance <= clf.confidence_k
    return StackResult(logits=logits, distance=distance, labels=labels, confident=confident,
                       classes=tuple(classes[k] for k in order), stride=stride, window=n,
                       client=client)
