"""The classify dock's state without Qt: what a run is, which frames it still needs, the
results it made, and what to say about them.

:class:`ClassifySession` is to the dock what micro-sam's ``AnnotatorState`` is to its
annotator: the widget maps its controls to a :class:`RunSettings` and shows what the
session holds; everything decided here is tested without a viewer. Importing this module
loads neither napari nor Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..classifier.choice import ChosenModel, choose_model
from ..imaging.reading import BINARY_FOR_GREY, Reading, two_valued
from ..imaging.region import check_mask, fill_outside, frame_mask, region_digest
from ..inference.sliding import iter_classify
from ..output.messages import (answer_line, for_dock, groups_message, levels_message,
                               split_words, unlike_message)
from ..output.summary import criticality_distance, frame_row, frame_summary

#: Said after a run of a stack thresholded frame by frame by Otsu.
PER_FRAME_OTSU = ("otsu thresholds each frame at its own level, which draws every frame of "
                  "a sweep towards half metal and flattens the criticality curve; "
                  "'otsu (whole stack)', phase levels or switching keep each frame's "
                  "metal fraction")
#: The dock's default window step (pixels): a fast first answer; the CLI's default is 1.
DEFAULT_STRIDE = 4


@dataclass(frozen=True)
class RunSettings:
    """What the controls say, for one run.

    Attributes
    ----------
    layer : object
        The image (a napari Image layer, or anything with ``data``, ``ndim`` and
        ``name``): 2D (Y, X) or a stack (T, Y, X).
    reading : Reading
        How its frames are read.
    stride : int
        Window step (pixels).
    model_source : None or str
        None: the shipped models (``psf_sigma`` picks one); else a model file.
    psf_sigma : float
        Point-spread function of the image (Gaussian sigma, px), for the shipped models.
    confidence_k : float
        The paper's k of the k-sigma rule.
    region : ndarray of bool, shape (Y, X) or (T, Y, X), optional
        The region of interest, True on the sample (:func:`region_mask`).
    parameters : str, optional
        Also read a family's parameters ("auto" or a family's name,
        :func:`~napari_hamiltonian.inference.sliding.iter_classify`).
    """

    layer: object
    reading: Reading = field(default_factory=Reading)
    stride: int = DEFAULT_STRIDE
    model_source: str | None = None
    psf_sigma: float = 0.0
    confidence_k: float = 1.0
    region: np.ndarray | None = field(default=None, compare=False)
    parameters: str | None = None


class ClassifySession:
    """Results of the dock, keyed by the run settings that made them.

    A second Run with the same image, reading, stride and model reuses the frames
    already classified; any change of those (or of the image's data) starts afresh. A
    change of the parameters asked for only reads them again on the frames classified.
    With a stack the session follows the slider (``follow``) and keeps the criticality
    curve of the frames it classified.
    """

    def __init__(self):
        self.results: dict = {}
        self.curve: dict = {}
        self.read_with: dict = {}  # frame -> the parameters setting its result holds
        self.key: tuple | None = None
        self.layer = None
        self.follow = False
        self.model: ChosenModel | None = None
        self.settings: RunSettings | None = None
        self._models: dict = {}
        self._prepared: tuple = (None, None)

    @property
    def clf(self):
        """The classifier of the current run (None before the first)."""
        return None if self.model is None else self.model.clf

    def choose(self, settings: RunSettings) -> ChosenModel:
        """The model for ``settings`` (loaded once per source), with their k."""
        kind = settings.reading.input_kind(settings.psf_sigma)
        key = (settings.model_source, kind,
               None if settings.model_source else settings.psf_sigma)
        if key not in self._models:
            self._models = {key: choose_model(
                settings.model_source, settings.reading,
                None if settings.model_source else settings.psf_sigma)}
        chosen = self._models[key]
        chosen.clf.set_params(confidence_k=float(settings.confidence_k))
        return chosen

    @staticmethod
    def run_key(settings: RunSettings, model: ChosenModel) -> tuple:
        """What the classification depends on: the image (its object and data), the
        reading, the stride and the model (the parameters are read again on their own
        when only they change)."""
        layer, region = settings.layer, settings.region
        return (id(layer), id(layer.data), settings.reading, settings.stride, model.key,
                region_digest(region))

    def start(self, settings: RunSettings, current: int, all_frames: bool = False
              ) -> list[int]:
        """Begin a run: the frames still to classify (or whose parameters to read), the
        displayed one ``current`` first (all of them with ``all_frames``). Results of
        other settings are dropped; parameters read with another setting are dropped
        from the frames not in this run."""
        model = self.choose(settings)
        key = self.run_key(settings, model)
        if key != self.key:
            self.results.clear()
            self.curve.clear()
            self.read_with.clear()
            self.key = key
        self.model, self.layer, self.settings = model, settings.layer, settings
        n_frames = self.n_frames(settings.layer)
        self.follow = n_frames > 1 or settings.layer.ndim == 3
        frames = [current] + ([t for t in range(n_frames) if t != current]
                              if all_frames else [])
        todo = [t for t in frames if t not in self.results
                or self.read_with.get(t) != settings.parameters]
        for t, result in list(self.results.items()):  # no map of another setting stays
            if t not in todo and self.read_with.get(t) != settings.parameters:
                self.results[t] = replace(result, parameters=None)
                if settings.parameters is None:
                    self.read_with[t] = None
        return todo

    @staticmethod
    def n_frames(layer) -> int:
        """Frames of an image: 1 for a 2D one."""
        return 1 if layer.ndim == 2 else int(layer.data.shape[0])

    def frame_source(self, layer, reading: Reading, region=None) -> tuple:
        """(frame getter t -> 2D array, the reading of those frames): a switching reading
        binarises the whole stack once per image, reading and region (thresholds from
        the pixels inside ``region``)."""
        data = layer.data
        if not reading.switching:
            if layer.ndim == 2:
                return (lambda t: np.asarray(data)), reading
            return (lambda t: np.asarray(data[t])), reading
        key = (id(layer), id(data), reading,
               region_digest(region))
        if self._prepared[0] != key:
            self._prepared = (key, reading.prepare_stack(np.asarray(data), region))
        maps, frames = self._prepared[1]
        return (lambda t: maps[t]), frames

    def work(self, settings: RunSettings, frames: list[int]):
        """The run's body (a generator, for a worker thread): yields ("progress", t,
        done, total) within each frame and ("frame", t, WindowResult) after it."""
        get_frame, reading = self.frame_source(settings.layer, settings.reading,
                                               settings.region)
        clf = self.clf
        for t in frames:
            if t in self.results:  # classified: only the parameters asked for change
                yield ("frame", t, self._with_parameters(self.results[t], get_frame(t),
                                                         reading, settings, t))
                continue
            gen = iter_classify(get_frame(t), clf, settings.stride, reading=reading,
                                mask=frame_mask(settings.region, t),
                                parameters=settings.parameters)
            while True:
                try:
                    _, done, total = next(gen)
                except StopIteration as stop:
                    yield ("frame", t, stop.value)
                    break
                yield ("progress", t, done, total)

    def _with_parameters(self, result, frame, reading: Reading, settings: RunSettings,
                         t: int):
        """A classified frame's result with the parameters ``settings`` asks for read
        anew (:func:`~napari_hamiltonian.parameters.maps.read_parameters`)."""
        from ..parameters.maps import read_parameters
        from ..parameters.pretrained import regressor_for

        asked = regressor_for(settings.parameters, self.clf.psf_sigma, result.answer())
        if asked is None:
            return replace(result, parameters=None)
        mask = frame_mask(settings.region, t)
        _, binary = reading.model_input(frame, self.clf, mask)
        return replace(result, parameters=read_parameters(binary, asked[0], asked[1],
                                                          mask=mask))

    def record(self, t: int, result) -> None:
        """Keep frame ``t``'s result (and its point on the criticality curve)."""
        self.results[t] = result
        self.read_with[t] = None if self.settings is None else self.settings.parameters
        if self.follow:
            self.curve[t] = (criticality_distance(self.clf, result),
                             frame_summary(result)["majority"])

    def axis(self):
        """The sweep the classified stack's metadata carries (values per frame, name),
        or (None, "frame") (:func:`~napari_hamiltonian.output.folder.metadata_axis`)."""
        from ..output.folder import metadata_axis

        if self.layer is None:
            return None, "frame"
        return metadata_axis(dict(self.layer.metadata), self.n_frames(self.layer))

    def table_rows(self) -> list[dict]:
        """One row per classified frame, in frame order: the numbers ``fractions.csv``
        holds (the sweep's value when the stack carries one,
        :func:`~napari_hamiltonian.output.summary.frame_summary`, the paper's proximity
        to criticality)."""
        if self.clf is None:
            return []
        x, label = self.axis()
        return [frame_row(t, r, criticality_distance(self.clf, r),
                          None if x is None else (label, float(x[t])))
                for t, r in sorted(self.results.items())]

    def set_confidence_k(self, confidence_k: float) -> None:
        """New k: the paper's k-sigma flags of the kept frames, from their distances
        (the rejection does not use k)."""
        if self.clf is None:
            return
        self.clf.set_params(confidence_k=float(confidence_k))
        for r in self.results.values():
            r.paper_confident = self.clf.paper_confident(r.distance)

    def forget(self) -> None:
        """Drop every result (the image was closed)."""
        self.results.clear()
        self.curve.clear()
        self.read_with.clear()
        self.key = self.layer = None

    def binary_for_grey(self) -> str:
        """The warning for a grey model reading a binary image ("" otherwise)."""
        layer, frames = self.layer, sorted(self.results)
        if self.clf is None or self.clf.input_kind != "grey" or not frames or layer is None:
            return ""
        image = np.asarray(layer.data[frames[0]] if layer.ndim == 3 else layer.data)
        return BINARY_FOR_GREY if two_valued(image) else ""

    def levels_misfit(self) -> str:
        """The warning for phase levels most pixels of the first classified frame lie
        far outside of ("" otherwise)."""
        from ..imaging.reading import levels_misfit

        layer, frames = self.layer, sorted(self.results)
        levels = None if self.settings is None else self.settings.reading.levels
        if levels is None or not frames or layer is None or self.clf is None \
                or self.clf.input_kind != "grey":
            return ""
        image = np.asarray(layer.data[frames[0]] if layer.ndim == 3 else layer.data,
                           np.float64)
        region = self.settings.region
        if region is not None:
            image = np.where(frame_mask(np.asarray(region, bool), frames[0]), image, np.nan)
        ins, met = levels
        return levels_misfit((image - ins) / (met - ins), levels)

    def frame_sentence(self, t: int, pixel_nm: float = 0.0) -> str:
        """Frame ``t``'s answer in one sentence with what made it: "frame 3: RF-2D (88%
        named, ...); model: 2 px grey; phase levels 76 (insulator), 178 (metal); stride
        4 px (80 nm)" ("" before it is classified; one image is named, not "frame 0");
        lengths also in nm or µm when the pixel size ``pixel_nm`` is known (> 0)."""
        r = self.results.get(t)
        if r is None or self.model is None or self.settings is None:
            return ""

        def length(px: float) -> str:
            nm = px * pixel_nm
            return f"{px:g} px" + ("" if pixel_nm <= 0 else f" ({nm:.4g} nm)" if nm < 1000
                                   else f" ({nm / 1000:.3g} µm)")

        # a stack's frame by its number, one image by its name
        what = f"frame {t}" if self.layer is None or self.layer.ndim == 3 \
            else self.layer.name
        said = (f"{what}: {r.answer()} ({split_words(r)}); model: {self.model.label}; "
                f"{self.settings.reading.describe()}; stride {length(r.stride)}, windows "
                f"{length(r.window)}")
        if r.parameters is not None:
            from ..output.messages import parameter_words
            said += f"; {parameter_words(r.parameters)}"
        elif self.settings.parameters is not None:
            said += "; parameters: none (the classifier names no family here)"
        return said

    def summary(self, cancelled: bool = False) -> str:
        """The status line after a run: frames done, then in words whatever the user
        must know (an unreliable model, a binary image for a grey model, frames unlike
        every class, classes the model cannot tell apart, levels that look wrong)."""
        frames = sorted(self.results)
        results = [self.results[t] for t in frames]
        n = f"{len(frames)} frame{'' if len(frames) == 1 else 's'}"
        head = f"cancelled; {n} classified before" if cancelled else f"{n} classified"
        if results:
            head += ": " + answer_line(results, frames, counted=False)
        if self.clf is None:
            return head
        otsu = self.settings is not None and self.settings.reading.per_frame_otsu \
            and self.follow
        notes = self.model.notes if self.model is not None else ()
        words = (*notes, self.clf.unreliable(), self.binary_for_grey(), self.levels_misfit(),
                 unlike_message(results, frames, self.clf),
                 groups_message(self.clf.class_groups_, results),
                 levels_message(self.clf, results), PER_FRAME_OTSU if otsu else "")
        return for_dock(head + "".join(f". {m[0].upper()}{m[1:]}" for m in words if m))


def suggest_levels(frame, psf_sigma: float, dark: bool = False, mask=None
                   ) -> tuple[float, float]:
    """Phase levels (insulator, metal) guessed from one frame: its 1st and 99th
    percentiles after smoothing over the PSF sigma (at least 1 px), metal the brighter
    unless ``dark``; with a region ``mask``, of the pixels inside it. A guess for images
    with both phases in domains larger than the blur; the instrument's values are
    better. ValueError for a uniform frame, one that is not a 2D grey image, or one
    with NaN or infinite values where it is read."""
    from scipy import ndimage

    frame = np.asarray(frame)
    if frame.ndim != 2 or frame.dtype.kind not in "biuf":
        raise ValueError(f"phase levels are guessed from a grey image; this one has shape "
                         f"{frame.shape} and {frame.dtype} values (an RGB image? convert "
                         "it to grey first)")
    read = frame if mask is None else frame[np.asarray(mask, bool)]
    if frame.dtype.kind == "f" and not np.isfinite(read).all():
        raise ValueError("the frame holds NaN or infinite values"
                         + (" inside the region" if mask is not None else "")
                         + ": give a region that leaves them out, or enter the levels by "
                         "hand")
    frame = fill_outside(frame, mask)
    smooth = ndimage.gaussian_filter(np.asarray(frame, np.float64), max(psf_sigma, 1.0))
    low, high = (float(v) for v in np.percentile(
        smooth if mask is None else smooth[mask], [1, 99]))
    if low == high:
        raise ValueError("the frame is uniform: enter the phase levels by hand")
    return (high, low) if dark else (low, high)


def region_mask(region, image) -> np.ndarray | None:
    """The region of interest a napari layer draws over an image layer: the union of a
    Shapes layer's shapes, or a Labels layer's labels > 0 (per frame when it is a stack
    like the image); None without a layer. ValueError naming the fix when it does not
    fit the image or holds no pixel."""
    if region is None or image is None:
        return None
    shape = tuple(image.data.shape[-2:])
    if hasattr(region, "to_masks"):  # Shapes
        if region.nshapes == 0:
            raise ValueError(f"the region layer {region.name!r} has no shapes: draw the "
                             "sample's outline in it, or choose no region")
        masks = np.asarray(region.to_masks(mask_shape=shape))
        mask = masks.reshape(-1, *shape).any(0)
    else:  # Labels
        mask = np.asarray(region.data) > 0
        if mask.shape[-2:] != shape or (mask.ndim == 3 and mask.shape != image.data.shape):
            raise ValueError(f"the region layer {region.name!r} has shape {mask.shape}, the "
                             f"image {tuple(image.data.shape)}: paint the region on a "
                             "Labels layer of the image's shape")
    return check_mask(mask, tuple(image.data.shape))
