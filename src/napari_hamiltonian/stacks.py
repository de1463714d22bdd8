"""Classification of (T, Y, X) stacks with Dask: lazily, chunk by chunk, on a cluster.

Each chunk runs :func:`napari_hamiltonian.sliding.iter_classify` on its frames; windows
that cross chunk borders are computed from overlapping chunks, so results do not depend
on the chunking. With a ``dask.distributed`` client the same graph runs on a cluster.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass

import numpy as np

from .classes import standard_order
from .sliding import WindowResult, check_stride, exhaust, iter_classify, n_windows


@functools.cache
def _steady_memory() -> None:
    """Fix glibc's mmap threshold at 1 MiB in this process (Linux only).

    glibc raises its mmap threshold after large blocks are freed; the big per-variant
    buffers of whole-image classification then come from the heap and fragment it: over
    a 100-frame stack the peak RSS grew to 4.3 GiB, against 1.2 GiB for 40 frames with a
    fixed 1 MiB threshold, at the same speed. The setting is process-wide and glibc has
    no call that restores the dynamic threshold, so it is made only where stacks are
    classified (each Dask task of :func:`classify_stack`, in the process that runs it),
    never on import or for single images.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass


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
    _steady_memory()
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
        out[t] = exhaust(iter_classify(np.asarray(sub[t]), clf, stride, threshold, metal)).logits
    return out


def _distance_block(logits, clf, order):
    z = logits[..., np.argsort(order)]  # back to the classifier's column order
    return clf.distance_of_logits(z.reshape(-1, z.shape[-1])).reshape(z.shape[:-1])


def _confident_block(distance, clf):
    return clf.is_confident(distance)


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
    check_stride(stride)
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
    order = standard_order(classes)  # the blocks' columns are already in this order
    distance = logits.map_blocks(_distance_block, model, order, drop_axis=3,
                                 dtype=np.float64, meta=np.empty((0, 0, 0), np.float64))
    labels = logits.argmax(axis=3).astype(np.int16)
    confident = distance.map_blocks(_confident_block, model, dtype=bool,
                                    meta=np.empty((0, 0, 0), bool))
    return StackResult(logits=logits, distance=distance, labels=labels, confident=confident,
                       classes=tuple(classes[k] for k in order), stride=stride, window=n,
                       client=client)
