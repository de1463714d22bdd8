"""Classification of (T, Y, X) stacks with Dask: lazily, chunk by chunk, on a cluster.

Each chunk runs :func:`napari_hamiltonian.inference.sliding.iter_classify` on its frames; windows
that cross chunk borders are computed from overlapping chunks, so results do not depend
on the chunking. With a ``dask.distributed`` client the same graph runs on a cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..classes import standard_names
from ..classifier.choice import choose_model
from ..classifier.rejection import SCORES
from ..imaging.binary import (
    apply_threshold,
    resolve_threshold,
)
from ..imaging.reading import Reading
from ..imaging.region import check_mask, check_windows_inside
from ..tuning import steady_memory
from .sliding import (
    WindowResult,
    check_stride,
    exhaust,
    iter_classify,
    n_windows,
    psf_of,
)


@dataclass
class StackResult:
    """Lazy per-window results of a (T, Y, X) stack; nothing is computed until asked.

    Attributes
    ----------
    logits : dask array, float32, shape (T, ny, nx, n_classes)
        Last layer before softmax, columns in ``classes`` order.
    distance : dask array, float64, shape (T, ny, nx)
        The paper's k-sigma distance (nearest training point of the predicted class, in
        |sigma_c|).
    labels : dask array, int16, shape (T, ny, nx)
        Index into ``classes``.
    confident : dask array, bool, shape (T, ny, nx)
        The rejection: True where a window is confidently of its class.
    scores : dask array, float64, shape (T, ny, nx, len(SCORES))
        The rejection's scores (:data:`napari_hamiltonian.classifier.rejection.SCORES`).
    classes : tuple of str
    stride, window : int
    client : dask.distributed.Client or None
    clf : HamiltonianClassifier
        The classifier (for the paper's rule beside the rejection and its class groups).
    """

    logits: object
    distance: object
    labels: object
    confident: object
    scores: object
    classes: tuple
    stride: int
    window: int
    client: object = None
    clf: object = None

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
        logits, dist, labels, scores = self.compute(
            self.logits[t], self.distance[t], self.labels[t], self.scores[t])
        return WindowResult.of(self.clf, labels=labels, logits=logits,
                               distance=dist, classes=self.classes, stride=self.stride,
                               window=self.window, scores=scores)


def _windows_in(start: int, stop: int, stride: int, n_total: int) -> tuple[int, int]:
    """Window indices whose origin (index * stride) lies in [start, stop)."""
    return min(-(-start // stride), n_total), min(-(-stop // stride), n_total)


def _stack_block(block, levels, clf, stride, metal, phases, ystarts, xstarts, ny, nx,
                 region=None, block_id=None):
    """Per window whose origin lies in this chunk (block has trailing overlap), in
    float64 columns: the logits, the rejection scores, the paper's distance and the
    decision (1 = confident), all as :func:`iter_classify` gives them.

    ``levels`` (t, 1, 1) holds each frame's grey level (from the whole frame), or NaN for
    binary frames and for a grey model, which reads the frames in phase units of the
    intensities ``phases`` (insulator, metal). ``region``: the block of the stack's
    region of interest (same overlap), or None.
    """
    steady_memory()
    n = clf.window_
    by, bx = block_id[1], block_id[2]
    i0, i1 = _windows_in(ystarts[by], ystarts[by + 1], stride, ny)
    j0, j1 = _windows_in(xstarts[bx], xstarts[bx + 1], stride, nx)
    out = np.zeros((block.shape[0], i1 - i0, j1 - j0, len(clf.classes_) + _EXTRA),
                   np.float64)
    if i1 <= i0 or j1 <= j0:
        return out
    oy, ox = i0 * stride - ystarts[by], j0 * stride - xstarts[bx]
    window_of = (slice(None), slice(oy, oy + (i1 - i0 - 1) * stride + n),
                 slice(ox, ox + (j1 - j0 - 1) * stride + n))
    sub = block[window_of]
    inside = None if region is None else np.asarray(region[window_of])
    for t in range(block.shape[0]):
        frame, level = np.asarray(sub[t]), float(levels[t, 0, 0])
        mask = None if inside is None else inside[t]
        if mask is not None and not mask.any():  # no pixel of the sample here
            out[t] = np.nan
            out[t, ..., -1] = 0
            continue
        if np.isnan(level):  # binary frames, or a grey model's
            result = iter_classify(frame, clf, stride, reading=Reading(None, metal, phases),
                                   mask=mask)
        else:
            result = iter_classify(apply_threshold(frame, level, metal), clf, stride,
                                   mask=mask)
        res = exhaust(result)
        out[t, ..., :-_EXTRA] = res.logits
        out[t, ..., -_EXTRA:-2] = res.scores
        out[t, ..., -2] = res.distance
        out[t, ..., -1] = res.confident
    return out


#: Columns after the logits in a block: the scores, the distance and the decision.
_EXTRA = len(SCORES) + 2


def _frame_levels(frames, threshold, region=None, block_info=None):
    """(t, 1, 1) grey level of each whole frame of a (t, Y, X) block (from the pixels
    inside ``region``, the block's region of interest, when given)."""
    out = np.empty((frames.shape[0], 1, 1))
    first = block_info[0]["array-location"][0][0] if block_info else 0
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        if region is not None:
            frame = np.asarray(frame)[np.asarray(region[t])]
        if frame.dtype.kind == "f" and not np.isfinite(frame).all():
            raise ValueError(f"frame {first + t} contains NaN or infinite values; replace "
                             "them (e.g. np.nan_to_num) or crop them away first")
        try:
            out[t] = resolve_threshold(frame, threshold)
        except ValueError as err:
            raise ValueError(f"frame {first + t}: {err}") from None
    return out


def _overlap_chunks(chunks: tuple[int, ...], window: int) -> tuple[int, ...]:
    """Chunk sizes along one frame axis that each hold at least ``window - 1`` pixels
    (what the trailing overlap needs), keeping chunk borders where they are when
    possible: chunks that are too small are merged into their neighbour."""
    out: list[int] = []
    for c in chunks:
        if out and out[-1] < window - 1:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < window - 1:
        last = out.pop()
        out[-1] += last
    return tuple(out)


def classify_stack(stack, clf=None, stride: int = 1, threshold=None, metal: str = "bright",
                   client=None, psf_sigma: float | None = None, levels=None,
                   reading: Reading | None = None, mask=None,
                   resolution_nm: float | None = None,
                   pixel_size_nm: float | None = None) -> StackResult:
    """Classify every window of every frame of a stack, lazily with Dask.

    Parameters
    ----------
    stack : numpy or dask array, shape (T, Y, X), or path-like
        Frames (or a file of them, read lazily); any chunking, including chunks that
        split frames spatially: windows that cross chunk borders are computed from
        overlapping chunks (``dask.array.overlap`` with a trailing depth of
        ``window - 1``), so results do not depend on the chunking.
    clf, stride, threshold, metal, psf_sigma, levels
        As in :func:`classify_image` (``levels``: the two phases' intensities, the same
        for every frame). A threshold (a number or ``"otsu"``) is resolved
        on each whole frame, however the frame is chunked, exactly as
        :func:`classify_image` does: the same labels from every path.
    reading : Reading, optional
        How the frames are read, instead of ``threshold``, ``metal`` and ``levels``
        (:class:`~napari_hamiltonian.Reading`); a switching reading binarises the whole
        stack first (each pixel from the frame it switches).
    mask : array_like of bool, shape (Y, X) or (T, Y, X), optional
        The region of interest, True on the sample (:func:`classify_image`): windows
        not wholly inside it are not classified (NaN logits), thresholds come from the
        pixels inside it.
    resolution_nm, pixel_size_nm : float, optional
        The microscope's resolution (FWHM of its PSF, nm) and the pixel size (nm; read
        from the file's OME or ImageJ metadata when ``stack`` is one): they give
        ``psf_sigma``, and with it the shipped model for that resolution, as in
        :func:`classify_image`.
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

    reading = Reading.of(reading, threshold, metal, levels)
    check_stride(stride)
    if resolution_nm is not None or pixel_size_nm is not None:
        psf_sigma = psf_of(stack, psf_sigma, resolution_nm, pixel_size_nm)
    if isinstance(stack, (str, os.PathLike)):  # a file: read lazily, frame by frame
        from ..imaging.files import read_stack
        stack = read_stack(stack)
    if not isinstance(stack, da.Array):
        stack = np.asarray(stack)
    if stack.ndim != 3:
        hint = ("for one image use classify_image (or pass image[None])" if stack.ndim == 2
                else "RGB(A) frames: convert them to grayscale first" if stack.ndim == 4
                and stack.shape[-1] in (3, 4) else "give frames as (T, Y, X)")
        raise ValueError(f"stack must have shape (T, Y, X), got {stack.shape}; {hint}")
    if stack.dtype.kind not in "biuf":
        raise ValueError(f"stack must hold numbers, got dtype {stack.dtype}")
    if stack.shape[0] == 0:
        raise ValueError("the stack has no frames (T = 0)")
    mask = check_mask(mask, stack.shape, "stack")
    stack, reading = reading.prepare_stack(stack, mask)
    chosen = choose_model(clf, reading, psf_sigma)
    chosen.warn(stacklevel=2)
    clf = chosen.clf
    reading = reading.for_model(clf)
    threshold, metal, phases = reading.threshold, reading.metal, reading.levels
    if isinstance(client, str):
        from distributed import Client
        client = Client(client)
    n = clf.window_
    check_windows_inside(mask, n)
    x = stack if isinstance(stack, da.Array) else da.from_array(stack, chunks=(1, -1, -1))
    T, H, W = x.shape
    if H < n or W < n:
        raise ValueError(f"frames are {H}x{W} pixels, smaller than the {n}x{n} window")
    ny, nx = n_windows((H, W), n, stride)
    # overlap needs every chunk to hold at least the depth (window - 1)
    x = x.rechunk({1: _overlap_chunks(x.chunks[1], n), 2: _overlap_chunks(x.chunks[2], n)})
    region = None if mask is None else da.from_array(
        np.broadcast_to(mask, (T, H, W)), chunks=x.chunks)
    whole = () if region is None else (region.rechunk({1: -1, 2: -1}),)
    levels = da.map_blocks(
        _frame_levels, x.rechunk({1: -1, 2: -1}), threshold, *whole, dtype=np.float64,
        chunks=(x.chunks[0], (1,), (1,)), meta=np.empty((0, 0, 0), np.float64)) \
        if threshold is not None else da.full((T, 1, 1), np.nan, chunks=(x.chunks[0], 1, 1))
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
    depth = {0: 0, 1: (0, n - 1), 2: (0, n - 1)}
    regions = () if region is None else (da.overlap.overlap(region, depth=depth,
                                                             boundary="none"),)
    columns = da.map_blocks(
        _stack_block, xo, levels, model, stride, metal, phases, ystarts, xstarts, ny, nx,
        *regions, dtype=np.float64, new_axis=[3],
        chunks=(x.chunks[0], ych, xch, (len(classes) + _EXTRA,)),
        meta=np.empty((0, 0, 0, 0), np.float64))
    logits = columns[..., :-_EXTRA].astype(np.float32)
    scores = columns[..., -_EXTRA:-2]
    distance = columns[..., -2]
    confident = columns[..., -1] > 0.5
    labels = logits.argmax(axis=3).astype(np.int16)  # columns already in standard order
    return StackResult(logits=logits, distance=distance, labels=labels, confident=confident,
                       scores=scores, classes=standard_names(classes),
                       stride=stride, window=n, client=client, clf=clf)
