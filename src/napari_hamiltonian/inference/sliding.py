"""Exact, fast sliding-window classification of whole images: the generator API.

Every ``w x w`` window of an image (``w`` = the classifier's window, 100) is classified
exactly as ``clf.predict`` would classify it alone: symmetry reduction, then the CNN. The
computation is shared between windows instead of being run per window: per-window
symmetry reduction picks one of the 16 operations of Z2 x D4 for each window
(:func:`napari_hamiltonian.classifier.symmetry.window_operations`); the reduced window is then a
window of the whole image transformed by that operation, so the CNN only runs on (at
most) 16 transformed images, each only over the region whose windows need it
(:mod:`napari_hamiltonian.inference.wholeimage`).

Agreement with per-window ``clf.decision_function``: labels identical, logits within
1e-4 (float32 FFT rounding), tested on every window of small images and random windows
of large ones. :func:`iter_classify` is the one implementation behind
:func:`classify_image`, the Dask stacks (:mod:`napari_hamiltonian.inference.stacks`), the command
line and the napari widget.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch

from ..classes import CANNOT_TELL_NAME, NONE_NAME, standard_names, standard_order
from ..classifier.choice import choose_model
from ..classifier.correlations import window_statistics
from ..classifier.rejection import SCORES
from ..classifier.symmetry import window_operations
from ..imaging.reading import Reading
from ..imaging.region import (
    check_mask,
    check_windows_inside,
    frame_mask,
    windows_inside,
)
from ..parameters.maps import PARAMETER_STRIDE, check_parameter_stride, read_parameters
from ..parameters.pretrained import is_auto, regressor_for
from .wholeimage import variant_logits, whole_image_cnn

#: An image is unlike every class when more than this share of its windows are.
UNLIKE_SHARE = 0.5
#: Memory of one window's results while an image is classified (logits, scores, the
#: hidden layer of its variant's windows, statistics): peak RSS grew by 1.4-2.2 kB per
#: window at stride 1 on 400-1200 px frames.
BYTES_PER_WINDOW = 2200
#: Memory per pixel of a tile's convolutions (one variant's feature maps).
BYTES_PER_TILE_PIXEL = 600
#: Default tile side of :func:`iter_classify` in pixels of window corners: the
#: convolutions run over one tile (plus a window) at a time, whatever the stride.
TILE_PIXELS = 1024


@dataclass
class WindowResult:
    """Per-window classification of one image.

    Window (i, j) covers ``image[i*stride : i*stride + window, j*stride : j*stride + window]``.

    Attributes
    ----------
    labels : ndarray of int, shape (ny, nx)
        Index into ``classes`` of each window's predicted class.
    confident : ndarray of bool, shape (ny, nx)
        The rejection (:meth:`HamiltonianClassifier.score_confidence`): True where the
        window is confidently of its class; False for "none of these" and for "cannot
        tell at this resolution" (``cannot_tell``).
    logits : ndarray of float32, shape (ny, nx, n_classes)
        Last layer before softmax, columns in ``classes`` order.
    distance : ndarray of float, shape (ny, nx)
        The paper's k-sigma distance: to the nearest training point of the predicted
        class, in |sigma_c|.
    classes : tuple of str
        Class names: ``napari_hamiltonian.CLASSES`` for the seven-class models.
    stride, window : int
        Window step and side (pixels).
    scores : ndarray of float, shape (ny, nx, 2)
        The rejection's scores (:data:`napari_hamiltonian.classifier.rejection.SCORES`; NaN without
        a rejection rule).
    paper_confident : ndarray of bool, shape (ny, nx)
        The paper's k-sigma rule (nearest-point reading), reported beside the rejection.
    groups : tuple of tuple of str
        Classes the model cannot tell apart (``clf.class_groups_``): a window of one of
        them reads as the group ("P-2D or P*"), see :meth:`majority`.
    cannot_tell : ndarray of bool, shape (ny, nx)
        Windows the rejection accepts but whose predicted class the model's resolution
        cannot tell from patterns none of the seven draws ("cannot tell at this
        resolution", :mod:`napari_hamiltonian.classifier.rejection`); never ``confident``.
    inside : ndarray of bool, shape (ny, nx)
        Windows wholly inside the region of interest, the ones classified (all, without
        a region); the others have NaN logits, are neither confident nor "cannot tell",
        and no share counts them.
    parameters : ParameterMap or None
        The family's parameters read across the image
        (:class:`~napari_hamiltonian.parameters.maps.ParameterMap`, on its own window
        grid), when asked for; None otherwise.
    """

    labels: np.ndarray
    confident: np.ndarray
    logits: np.ndarray
    distance: np.ndarray
    classes: tuple
    stride: int
    window: int
    scores: np.ndarray | None = None
    paper_confident: np.ndarray | None = None
    groups: tuple = ()
    cannot_tell: np.ndarray | None = None
    inside: np.ndarray | None = None
    parameters: object = None

    def __post_init__(self):
        if self.cannot_tell is None:
            self.cannot_tell = np.zeros(np.shape(self.confident), bool)
        if self.inside is None:  # windows not classified carry NaN logits
            self.inside = np.isfinite(np.asarray(self.logits)).all(-1)

    def n_inside(self) -> int:
        """Windows classified (inside the region of interest)."""
        return int(self.inside.sum())

    def share(self, windows: np.ndarray) -> float:
        """Share of the windows classified (inside the region) that ``windows`` (bool,
        (ny, nx)) marks: every share of a result is one of these."""
        return float(np.sum(windows & self.inside) / max(self.n_inside(), 1))

    def fractions(self) -> dict:
        """{class: (share of windows, share of windows that are of this class and
        confident)}, shares of the windows classified (the paper's bar charts)."""
        out = {}
        for k, c in enumerate(self.classes):
            mask = self.labels == k
            out[c] = (self.share(mask), self.share(mask & self.confident))
        return out

    @classmethod
    def of(cls, clf, **fields) -> WindowResult:
        """A WindowResult of ``clf``'s outputs: ``fields`` are ``labels``, ``logits``,
        ``distance``, ``scores``, ``classes``, ``stride`` and ``window``; the decision of
        each window (:meth:`HamiltonianClassifier.decide`), the paper's rule and the
        class groups come from the classifier."""
        from ..classifier.rejection import ACCEPTED, CANNOT_TELL

        names = np.asarray(fields["classes"])[np.asarray(fields["labels"])]
        inside = np.isfinite(np.asarray(fields["logits"])).all(-1)
        with np.errstate(invalid="ignore"):  # NaN outside the region decides nothing
            states = clf.decide(fields["scores"], fields["distance"], names)
            paper = clf.paper_confident(fields["distance"]) & inside
        return cls(**fields, confident=(states == ACCEPTED) & inside,
                   cannot_tell=(states == CANNOT_TELL) & inside, paper_confident=paper,
                   groups=tuple(clf.class_groups_), inside=inside)

    def majority(self) -> str:
        """The most frequent class over the confident windows (over all windows when
        none is), named as its group if the model cannot tell it from others ("RF-2D or
        RF-3D")."""
        from ..classes import group_name

        counted = self.labels[self.confident if self.confident.any() else self.inside]
        k = int(np.bincount(counted.ravel(), minlength=len(self.classes)).argmax())
        return group_name(self.classes[k], self.groups)

    def accepted(self) -> float:
        """Share of windows confidently of their class."""
        return self.share(self.confident)

    def rejected(self) -> float:
        """Share of windows that are none of the classes ("none of these")."""
        return self.share(~self.confident & ~self.cannot_tell)

    def undecided(self) -> float:
        """Share of windows the model's resolution cannot tell ("cannot tell at this
        resolution")."""
        return self.share(self.cannot_tell)

    def answer(self) -> str:
        """What the model says of the whole image: "none of these" when more than
        :data:`UNLIKE_SHARE` of its windows are; else "cannot tell at this resolution"
        when that and "none of these" together are more than :data:`UNLIKE_SHARE`;
        else :meth:`majority` of the confident windows."""
        if self.rejected() > UNLIKE_SHARE:
            return NONE_NAME
        if self.rejected() + self.undecided() > UNLIKE_SHARE:
            return CANNOT_TELL_NAME
        return self.majority()


def iter_classify(image, clf=None, stride: int = 1, threshold=None, metal: str = "bright",
                  tile: int | None = None, psf_sigma: float | None = None, levels=None,
                  reading: Reading | None = None, mask=None, parameters=None,
                  parameter_stride: int = PARAMETER_STRIDE, coverage: float = 0.9
                  ) -> Generator[tuple, None, WindowResult]:
    """Classify every window of an image, yielding progress; returns a WindowResult.

    The one implementation behind :func:`classify_image`, the command line and the
    napari widget. Yields ``("progress", done, total)`` after each unit of work (one
    symmetry variant of one tile), so a consumer can stop between units by closing the
    generator. The return value (``StopIteration.value``) is the
    :class:`WindowResult`.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Binary image, or grayscale with ``threshold`` or ``levels``.
    clf : HamiltonianClassifier, optional
        Fitted classifier; default the shipped model for ``psf_sigma`` (with ``levels``
        and a ``psf_sigma`` > 0, the shipped grey model nearest to it).
    stride : int
        Window step (pixels).
    threshold : None, float or "otsu"
        None: the image must be binary. Otherwise the grey level separating metal from
        insulator.
    metal : "bright" or "dark"
        Which side of the threshold is metal (up, 1).
    tile : int, optional
        Windows per tile side; bounds memory for very large images (default: as many
        as span :data:`TILE_PIXELS` pixels at this stride).
    psf_sigma : float, optional
        Without ``clf``: the point-spread function (Gaussian sigma, px) of the image;
        the shipped model nearest to it classifies
        (:func:`~napari_hamiltonian.load_pretrained`).
    levels : (float, float), optional
        Intensities of insulator and metal in the image (either may be the brighter).
        A grey model (``input_kind="grey"``) reads the image in phase units,
        ``(image - insulator) / (metal - insulator)``, and needs them unless the image
        is binary; a binary model thresholds halfway between them, metal on the metal
        level's side (instead of ``threshold`` and ``metal``).
    reading : Reading, optional
        How the image is read, instead of ``threshold``, ``metal`` and ``levels``
        (:class:`~napari_hamiltonian.Reading`; a switching reading needs the stack:
        :meth:`Reading.prepare_stack` first, or :func:`classify_image` with ``frame``).
    mask : array_like of bool, shape (H, W), optional
        The region of interest, True on the sample (:mod:`~napari_hamiltonian.imaging.region`):
        only windows wholly inside it are classified (the others are "not classified",
        ``WindowResult.inside`` False, NaN logits), only its pixels set Otsu's
        threshold, and pixels outside it may be NaN. The work is that of the windows
        inside.
    parameters : None, str or HamiltonianRegressor
        Also read a family's parameters in windows of the binary image
        (:func:`~napari_hamiltonian.parameters.maps.read_parameters`;
        ``WindowResult.parameters``): a family's name ("C-2D", "C-3D", "RF-2D",
        "RF-3D", "P"), ``"auto"`` for the family of the class the classifier names (none
        for "none of these" or a group of classes), or a fitted regressor. The shipped
        regressor of the classifier's resolution reads the frame (lattice scale and 2 px
        ship; another resolution is refused before any work).
    parameter_stride : int
        Step (px) of the parameter windows.
    coverage : float
        Nominal coverage of the parameters' intervals.
    """
    reading = Reading.of(reading, threshold, metal, levels)
    mask = check_mask(mask, np.shape(image))
    chosen = choose_model(clf, reading, psf_sigma)
    chosen.warn(stacklevel=3)
    clf = chosen.clf
    check_parameter_stride(parameter_stride)
    asked = regressor_for(parameters, clf.psf_sigma)  # bad arguments fail before the work
    why = clf.unreliable()
    if why is not None:
        warnings.warn(why, UserWarning, stacklevel=3)
    n = clf.window_
    check_stride(stride)
    grey, b = reading.model_input(image, clf, mask)
    check_memory(b.shape, stride, 4, n, "the image")  # before the windows' results
    tile = tile or max(1, TILE_PIXELS // stride)
    net = whole_image_cnn(clf)
    if clf.symmetry_reduction:
        ops = window_operations(b, n, stride)
    else:  # a model trained on raw images reads every window as it is
        ops = np.zeros(n_windows(b.shape, n, stride), np.int8)
    ny, nx = ops.shape
    inside = windows_inside(mask, b.shape, n, stride)
    classes = tuple(str(c) for c in clf.classes_)
    logits = np.full((ny, nx, len(classes)), np.nan, np.float32)
    scores = np.full((ny, nx, len(SCORES)), np.nan, np.float64)
    tiles = [(i, j) for i in range(0, ny, tile) for j in range(0, nx, tile)]
    work = [(t, op) for t in tiles  # tiles and variants with windows inside the region
            for op in np.unique(ops[t[0]:t[0] + tile, t[1]:t[1] + tile][
                inside[t[0]:t[0] + tile, t[1]:t[1] + tile]])]
    yield ("progress", 0, len(work))
    statistics, current = None, None
    with torch.no_grad():
        for done, ((i, j), op) in enumerate(work, 1):
            sub = ops[i:i + tile, j:j + tile]
            in_sub = inside[i:i + tile, j:j + tile]
            if current != (i, j):  # the pattern statistics of the tile's windows inside
                current = (i, j)
                ty, tx = np.meshgrid(np.arange(sub.shape[0]) * stride,
                                     np.arange(sub.shape[1]) * stride, indexing="ij")
                region = b[i * stride:i * stride + int(ty[-1, 0]) + n,
                           j * stride:j * stride + int(tx[0, -1]) + n]
                values = window_statistics(region, n, ty[in_sub], tx[in_sub])
                statistics = np.full(sub.shape + values.shape[1:], np.nan)
                statistics[in_sub] = values
            ty, tx = np.nonzero((sub == op) & in_sub)
            iy, ix = ty + i, tx + j
            z, hidden = variant_logits(net, b if grey is None else grey, int(op),
                                       iy * stride, ix * stride)
            logits[iy, ix] = z
            scores[iy, ix] = clf.rejection_scores_of(hidden, statistics[ty, tx])
            yield ("progress", done, len(work))
    flat = logits.reshape(-1, len(classes))
    dist = np.full(ny * nx, np.nan)
    dist[inside.ravel()] = clf.distance_of_logits(flat[inside.ravel()])
    dist = dist.reshape(ny, nx)
    order = standard_order(classes)
    result = WindowResult.of(clf, labels=np.argsort(order)[flat.argmax(1)].reshape(ny, nx)
                             .astype(np.int16),
                             logits=np.ascontiguousarray(logits[..., order]), distance=dist,
                             classes=standard_names(classes), stride=stride,
                             window=n, scores=scores)
    if is_auto(parameters):
        asked = regressor_for(parameters, clf.psf_sigma, result.answer())
    if asked is not None:
        result.parameters = read_parameters(b, asked[0], asked[1], parameter_stride, mask,
                                            coverage)
    return result


def memory_needed(shape, stride: int = 1, itemsize: int = 4, window: int = 100) -> int:
    """Bytes of memory classifying one (H, W) frame of ``itemsize``-byte values takes:
    the frame with its float and binary copies, the windows' results and one tile's
    convolutions (an estimate from measured peaks, for refusing a frame that cannot fit
    before any of it is read)."""
    h, w = (int(v) for v in shape)
    ny, nx = n_windows((h, w), window, stride)
    tile_side = min(TILE_PIXELS + window + stride, max(h, w))
    return (h * w * (itemsize + 5) + max(ny, 0) * max(nx, 0) * BYTES_PER_WINDOW
            + tile_side ** 2 * BYTES_PER_TILE_PIXEL)


def check_memory(shape, stride: int = 1, itemsize: int = 4, window: int = 100,
                 what: str = "the frame") -> None:
    """ValueError when classifying a frame of ``shape`` needs more memory than this
    machine has (:func:`memory_needed`), naming the fix."""
    from ..tuning import physical_memory

    memory, need = physical_memory(), memory_needed(shape, stride, itemsize, window)
    if memory is not None and need > memory:
        larger = next((s for s in (2 * stride, 4 * stride, 8 * stride)
                       if memory_needed(shape, s, itemsize, window) <= memory), None)
        raise ValueError(
            f"{what} is {shape[0]}x{shape[1]} pixels: classifying it at stride {stride} "
            f"needs about {need / 2**30:,.0f} GiB of memory and this machine has "
            f"{memory / 2**30:.0f} GiB; crop it to the region you need or cut it into "
            "tiles" + (f", or classify at stride {larger}" if larger else ""))


def check_stride(stride) -> int:
    """``stride`` as an int; ValueError unless it is a positive integer."""
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def psf_of(image, psf_sigma, resolution_nm, pixel_size_nm) -> float:
    """The PSF sigma (px) of :func:`classify_image` and ``classify_stack`` from the
    resolution and the pixel size (given, or recorded in the file ``image``)."""
    from ..imaging.optics import psf_sigma_from_resolution

    if psf_sigma is not None:
        raise ValueError("give resolution_nm (with the pixel size) or psf_sigma (px), "
                         "not both")
    if resolution_nm is None:
        raise ValueError("pixel_size_nm is used with resolution_nm (the optical "
                         "resolution in nm); give both, or psf_sigma in pixels")
    if pixel_size_nm is None and isinstance(image, (str, os.PathLike)):
        from ..imaging.files import pixel_size_nm as recorded

        pixel_size_nm = recorded(image)
    if pixel_size_nm is None:
        raise ValueError("no pixel size is known for this image: give pixel_size_nm "
                         "(nm per pixel)")
    return psf_sigma_from_resolution(resolution_nm, pixel_size_nm)


def classify_image(image, clf=None, stride: int = 1, threshold=None,
                   metal: str = "bright", psf_sigma: float | None = None,
                   levels=None, reading: Reading | None = None,
                   frame: int | None = None, mask=None, resolution_nm: float | None = None,
                   pixel_size_nm: float | None = None, parameters=None,
                   parameter_stride: int = PARAMETER_STRIDE,
                   coverage: float = 0.9) -> WindowResult:
    """Classify every window of one image (see :func:`iter_classify` for parameters).

    Parameters
    ----------
    image : array_like or path-like
        As in :func:`iter_classify`, or a file holding it (TIFF, PNG, JPEG, ``.npy``,
        zarr; a stack needs ``frame``).
    frame : int, optional
        With a stack (T, Y, X) as ``image``: the frame to classify. A switching reading
        (``Reading("switching")``) needs the stack, since it reads each pixel's history.
    mask : array_like of bool, shape (H, W) (or the stack's (T, H, W)), optional
        The region of interest, True on the sample (see :func:`iter_classify`).
    resolution_nm, pixel_size_nm : float, optional
        The microscope's resolution (FWHM of its PSF, nm) and the pixel size (nm; read
        from a file's OME or ImageJ metadata when ``image`` is one): they give
        ``psf_sigma`` (:func:`~napari_hamiltonian.imaging.optics.psf_sigma_from_resolution`),
        and with it the shipped model for that resolution.
    parameters, parameter_stride, coverage
        Read a family's parameters too (``WindowResult.parameters``; see
        :func:`iter_classify`).

    Returns
    -------
    WindowResult
        ``labels``, ``confident``, ``logits`` (columns in CLASSES order), ``fractions()``,
        ``parameters``.
    """
    reading = Reading.of(reading, threshold, metal, levels)
    if resolution_nm is not None or pixel_size_nm is not None:
        psf_sigma = psf_of(image, psf_sigma, resolution_nm, pixel_size_nm)
    if isinstance(image, (str, os.PathLike)):  # a file: TIFF, PNG, JPEG, .npy, zarr
        from ..imaging.files import read_stack
        image = np.asarray(read_stack(image))
        image = image[0] if len(image) == 1 and frame is None else image
    if frame is not None or reading.switching:
        stack = np.asarray(image)
        if stack.ndim != 3 or frame is None:
            why = "the switching binarisation reads a stack: " if reading.switching else ""
            raise ValueError(f"{why}give a (T, Y, X) stack and frame=, the frame to "
                             f"classify (got shape {stack.shape}, frame={frame!r})")
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) \
                or not -len(stack) <= frame < len(stack):
            raise ValueError(f"frame must be an integer in [0, {len(stack)}), got {frame!r}")
        mask = check_mask(mask, stack.shape, "stack")
        stack, reading = reading.prepare_stack(stack, mask)
        image, mask = stack[frame], frame_mask(mask, frame)
    chosen = choose_model(clf, reading, psf_sigma)  # its window decides what fits
    chosen.warn(stacklevel=2)
    check_windows_inside(check_mask(mask, np.shape(image)), chosen.clf.window_)
    return exhaust(iter_classify(image, chosen.clf, stride, reading=reading, mask=mask,
                                 parameters=parameters, parameter_stride=parameter_stride,
                                 coverage=coverage))


def exhaust(gen):
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
