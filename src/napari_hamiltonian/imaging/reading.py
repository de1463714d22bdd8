"""How a frame becomes model input: the one description every front end builds.

A :class:`Reading` says how the grey (or binary) frames of an image or stack are read
by a model: as they are (binary images), at a threshold (a grey level or Otsu's, with
the metal side), by the phases' intensities (``levels``), or by each pixel's switching
frame over the whole stack (``"switching"``, with optional smoothing). Python
(``classify_image(..., reading=...)``), the command line (``--threshold``, ``--levels``,
``--smooth``) and the widget each build one; every layer below carries it unchanged, and
the results folder records it (:meth:`Reading.settings`, :meth:`Reading.from_settings`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .binary import (
    binarised,
    binarize,
    check_levels,
    check_metal,
    check_threshold,
    level_threshold,
    otsu_threshold,
    phase_units,
)
from .region import fill_outside

#: Warning for a binary image given to a grey model.
BINARY_FOR_GREY = (
    "this image holds two values only (a binary image), but the model reads micrographs' "
    "grey levels (a grey model): its answers on binary images are not measured and can "
    "be confidently wrong. Use the binary model for the resolution "
    "(load_pretrained(psf_sigma), or drop levels= / --levels and give a threshold)")

#: Share of pixels more than half the contrast beyond either phase level above which
#: the levels are said not to fit the image (blur and noise keep true levels' images
#: within it).
LEVELS_FAR_SHARE = 0.05
#: Warning for phase levels most pixels lie far outside of.
LEVELS_MISFIT = (
    "{share:.0%} of the pixels lie more than half the contrast below the insulator level "
    "or above the metal level ({levels[0]:g}, {levels[1]:g}): the levels do not look like "
    "this image's two phases (the answers rest on them), or something else is in the "
    "field (electrodes, an aperture's surround: give a region of interest). Check the "
    "levels, e.g. with the levels guessed from the image")


def levels_misfit(grey: np.ndarray, levels) -> str:
    """:data:`LEVELS_MISFIT` when more than :data:`LEVELS_FAR_SHARE` of an image in
    phase units (``grey``; NaN outside a region ignored) lies more than half the
    contrast beyond the two levels, else ""."""
    if levels is None:
        return ""
    with np.errstate(invalid="ignore"):
        far = (grey < -0.5) | (grey > 1.5)
    share = float(far.sum() / max(np.isfinite(grey).sum(), 1))
    return LEVELS_MISFIT.format(share=share, levels=levels) if share > LEVELS_FAR_SHARE \
        else ""


#: Warning for an automatic threshold that leaves the sample nearly all one phase.
ONE_PHASE = ("after {what} {share:.0%} of the sample is one phase: the threshold probably "
             "split something else (an electrode, a dark surround, uneven light) from the "
             "sample rather than its two phases. Check the binary preview, give a region "
             "of interest (mask=, --mask) or the phase levels")
#: Share of one phase beyond which :data:`ONE_PHASE` is said.
ONE_PHASE_SHARE = 0.95

SWITCHING = "switching"
#: One Otsu threshold for every frame of a stack, from all its pixels.
STACK_OTSU = "otsu-stack"


@dataclass(frozen=True)
class Reading:
    """How frames are read (immutable; checked when made).

    Parameters
    ----------
    threshold : None, float, "otsu", "otsu-stack" or "switching"
        None: the frames are binary already (bool, 0/1 or -1/+1). A number: the grey
        level separating the phases (pixels at it are insulator), for every frame.
        "otsu": Otsu's threshold of each whole frame (which draws every frame of a sweep
        towards half metal and flattens the criticality curve). "otsu-stack": one Otsu
        threshold from every pixel of the stack, for all its frames. "switching": each
        pixel metal from the frame its intensity switches in a stack (the paper's
        optical data).
    metal : "bright" or "dark"
        Which side of the threshold is metal (up, 1).
    levels : (float, float), optional
        Intensities of insulator and metal (either may be the brighter), instead of a
        threshold: a grey model reads the frames in phase units
        ``(image - insulator) / (metal - insulator)``; a binary model thresholds halfway
        between them, metal on the metal level's side.
    smooth : float
        "switching" only: Gaussian smoothing of each frame before the analysis (px).
    smooth_frames : float
        "switching" only: Gaussian smoothing along the stack (frames; the paper's is 1).
    """

    threshold: float | str | None = None
    metal: str = "bright"
    levels: tuple[float, float] | None = None
    smooth: float = 0.0
    smooth_frames: float = 0.0

    def __post_init__(self):
        if not self.switching and not self.stack_wide:
            object.__setattr__(self, "threshold", check_threshold(self.threshold))
        check_metal(self.metal)
        object.__setattr__(self, "levels", check_levels(self.levels))
        if self.levels is not None and self.threshold is not None:
            raise ValueError("pass levels or threshold, not both (--levels or "
                             "--threshold): levels=(insulator, metal) set the threshold "
                             "halfway between the phases")
        for name in ("smooth", "smooth_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
            if value and not self.switching:
                raise ValueError(f"{name} smooths the stack for the switching "
                                 "binarisation: give threshold='switching' with it")
            object.__setattr__(self, name, float(value))

    @classmethod
    def of(cls, reading: Reading | None = None, threshold=None, metal: str = "bright",
           levels=None) -> Reading:
        """``reading``, or one made of the loose arguments of the older signatures;
        ValueError for both at once."""
        if reading is None:
            return cls(threshold, metal, levels)
        if not isinstance(reading, Reading):
            raise ValueError(f"reading must be a napari_hamiltonian.Reading, got "
                             f"{type(reading).__name__}")
        if threshold is not None or levels is not None or metal != "bright":
            raise ValueError("give reading= or threshold/metal/levels, not both")
        return reading

    @classmethod
    def from_frames(cls, stack, insulator, metal, mask=None) -> Reading:
        """The phase levels of a sweep from its reference frames: the median intensity
        inside ``mask`` of the fully insulating frames ``insulator`` and of the fully
        metallic frames ``metal`` (frame indices, or lists of them), one pair for the
        whole stack."""
        a = np.asarray(stack)
        if a.ndim != 3:
            raise ValueError(f"reference frames come from a stack (T, Y, X), got shape "
                             f"{a.shape}")
        levels = []
        for name, frames in (("insulator", insulator), ("metal", metal)):
            frames = np.atleast_1d(frames)
            if frames.size == 0 or frames.dtype.kind not in "iu" or \
                    not ((-len(a) <= frames) & (frames < len(a))).all():
                raise ValueError(f"the {name} frames must be frame numbers in [0, {len(a)}),"
                                 f" got {list(frames)}")
            values = a[frames] if mask is None else a[frames][
                :, np.broadcast_to(mask, a.shape)[0]]
            values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
            levels.append(float(np.median(values)))
        return cls(levels=tuple(levels))

    @property
    def stack_wide(self) -> bool:
        """Whether one Otsu threshold is taken from the whole stack."""
        return isinstance(self.threshold, str) and self.threshold == STACK_OTSU

    @property
    def per_frame_otsu(self) -> bool:
        """Whether each frame gets its own Otsu threshold."""
        return isinstance(self.threshold, str) and self.threshold == "otsu"

    @property
    def switching(self) -> bool:
        """Whether frames are read by their switching over a stack."""
        return isinstance(self.threshold, str) and self.threshold == SWITCHING

    def input_kind(self, psf_sigma: float | None) -> str:
        """Which shipped model reads such frames: the grey one when the phase levels are
        known and the frames are micrographs (``psf_sigma`` > 0), else the binary one."""
        return "grey" if self.levels is not None and psf_sigma is not None \
            and psf_sigma > 0 else "binary"

    def for_model(self, clf) -> Reading:
        """The reading ``clf`` applies: a binary model thresholds halfway between the
        phase levels (metal on the metal level's side); a grey model reads the levels
        and takes no threshold (ValueError)."""
        if clf.input_kind == "grey":
            if self.threshold is not None:
                raise ValueError("this model reads grey levels, not a thresholded image: "
                                 "give the phase levels (levels=(insulator, metal), "
                                 "--levels INSULATOR METAL), the intensities of the two "
                                 "phases, instead of a threshold")
            return self
        if self.levels is not None:
            return Reading(*level_threshold(self.levels))
        return self

    def inside(self, image, mask: np.ndarray | None) -> tuple[np.ndarray, Reading]:
        """A frame and this reading restricted to a region: pixels outside ``mask``
        set to the median inside (NaN there allowed), Otsu's threshold taken from the
        pixels inside (:mod:`.region`). Unchanged without a mask."""
        if mask is None:
            return image, self
        image = np.asarray(image)
        if image.shape != mask.shape:
            raise ValueError(f"the mask has shape {mask.shape}, the frame {image.shape}: "
                             "give a mask of the frame's shape")
        image = fill_outside(image, mask)
        if self.per_frame_otsu:
            return image, Reading(otsu_threshold(np.asarray(image)[mask]), self.metal)
        return image, self

    def model_input(self, image, clf, mask: np.ndarray | None = None
                    ) -> tuple[np.ndarray | None, np.ndarray]:
        """What ``clf`` reads of one 2D frame: (the frame in phase units, or None for a
        binary model; its uint8 0/1 binarisation). Clear errors for bad frames. With a
        ``mask``, only the pixels inside it count (:meth:`inside`)."""
        if self.switching:
            raise ValueError("the switching binarisation reads a whole stack: binarise it "
                             "first (Reading.prepare_stack) or use classify_stack")
        if self.stack_wide:  # one image: its own Otsu threshold is the stack's
            return Reading("otsu", self.metal).model_input(image, clf, mask)
        image, reading = self.for_model(clf).inside(image, mask)
        if clf.input_kind != "grey":
            b = binarize(image, reading.threshold, reading.metal, min_side=clf.window_)
            if self.per_frame_otsu:
                _one_phase([b if mask is None else b[mask]], "Otsu's threshold")
            return None, b
        grey = phase_units(image, reading.levels, min_side=clf.window_)
        if reading.levels is not None and not float(np.min(grey)) <= 0.5 < float(np.max(grey)):
            lo, hi = float(np.min(image)), float(np.max(image))
            ins, met = reading.levels
            raise ValueError(f"the phase levels {ins:g} (insulator) and {met:g} (metal) put "
                             "every pixel on one side of halfway between them: the image's "
                             f"grey range is [{lo:g}, {hi:g}]. Give the intensities of the "
                             "two phases as they are in this image")
        if two_valued(grey):
            warnings.warn(BINARY_FOR_GREY, UserWarning, stacklevel=3)
        elif misfit := levels_misfit(grey, reading.levels):
            warnings.warn(misfit, UserWarning, stacklevel=3)
        return grey, binarised(grey)

    def check(self, frame, clf, mask: np.ndarray | None = None) -> None:
        """Raise the ValueError (naming the fix) that reading ``frame`` for ``clf`` would
        raise, before any work: most input errors show on one frame. A switching
        reading is checked as Otsu's (its maps come from the whole stack later)."""
        first = Reading("otsu", self.metal) if self.switching else self
        first.model_input(frame, clf, mask)

    def binary(self, image, mask: np.ndarray | None = None) -> np.ndarray:
        """One 2D frame binarised (uint8 0/1, 1 = metal) by the physical threshold: the
        halfway level of the phase levels, or the threshold (the cluster geometry reads
        this); with a ``mask``, Otsu from the pixels inside it."""
        if self.stack_wide:
            return Reading("otsu", self.metal).binary(image, mask)
        if mask is not None:
            image, reading = self.inside(image, mask)
            return reading.binary(image)
        if self.levels is not None:
            return binarize(image, *level_threshold(self.levels))
        return binarize(image, self.threshold, self.metal)

    def prepare_stack(self, stack, mask: np.ndarray | None = None
                      ) -> tuple[np.ndarray, Reading]:
        """A stack ready to read frame by frame, and the reading of its frames: for
        "switching", the switching maps (uint8 0/1; thresholds from the pixels inside
        ``mask``) and a binary reading; otherwise the stack and this reading unchanged."""
        if self.stack_wide:
            a = np.asarray(stack)
            region = None if mask is None else np.broadcast_to(mask, a.shape)
            inside = a if region is None else a[region]
            inside = inside[np.isfinite(inside)] if inside.dtype.kind == "f" else inside
            level = otsu_threshold(inside)
            _one_phase([f > level if region is None else (f > level)[region[t]]
                        for t, f in enumerate(a)], "one Otsu threshold for the stack",
                       every=True)
            return stack, Reading(level, self.metal)
        if not self.switching:
            return stack, self
        from .switching import binarize_stack

        a = np.asarray(stack)
        if a.ndim != 3 or len(a) < 2:
            raise ValueError(f"the switching binarisation needs a stack of frames in sweep "
                             f"order (T >= 2, H, W), got shape {a.shape}; use 'otsu' or a "
                             "grey level for one image")
        return (binarize_stack(a, metal=self.metal, sigma=self.smooth,
                               time_sigma=self.smooth_frames, mask=mask), Reading())

    def settings(self) -> dict:
        """The reading as recorded in a results folder's ``settings.json``: the physical
        threshold and metal side (halfway between the levels when levels are given),
        the levels, and the switching smoothing when not zero."""
        threshold, metal = (level_threshold(self.levels) if self.levels is not None
                            else (self.threshold, self.metal))
        out = {"threshold": threshold, "metal": metal}
        if self.levels is not None:
            out["levels"] = list(self.levels)
        if self.smooth:
            out["smooth"] = self.smooth
        if self.smooth_frames:
            out["smooth_frames"] = self.smooth_frames
        return out

    @classmethod
    def from_settings(cls, settings: dict) -> Reading:
        """Inverse of :meth:`settings`."""
        if settings.get("levels") is not None:
            return cls(levels=tuple(settings["levels"]))
        return cls(settings.get("threshold"), settings.get("metal", "bright"),
                   smooth=settings.get("smooth", 0.0),
                   smooth_frames=settings.get("smooth_frames", 0.0))

    def describe(self) -> str:
        """The reading in words, for status lines and reports."""
        if self.levels is not None:
            return f"phase levels {self.levels[0]:g} (insulator), {self.levels[1]:g} (metal)"
        if self.threshold is None:
            return "binary frames as they are" + (" (dark is metal)"
                                                  if self.metal == "dark" else "")
        if self.switching:
            smooth = [f"{self.smooth:g} px" if self.smooth else "",
                      f"{self.smooth_frames:g} frame{'s' if self.smooth_frames != 1 else ''}"
                      if self.smooth_frames else ""]
            smooth = " and ".join(s for s in smooth if s)
            return (f"switching frame of each pixel, {self.metal} metal"
                    + (f", smoothed over {smooth}" if smooth else ""))
        level = ("Otsu's threshold of each frame" if self.per_frame_otsu else
                 "one Otsu threshold for the whole stack" if self.stack_wide else
                 f"threshold {self.threshold:g}")
        return f"{level}, {self.metal} metal"


def two_valued(image: np.ndarray) -> bool:
    """Whether an image holds at most two distinct values (a binary image)."""
    low, high = np.nanmin(image), np.nanmax(image)
    return bool(np.all((image == low) | (image == high)))


def _one_phase(binaries, what: str, every: bool = False) -> None:
    """Warn (:data:`ONE_PHASE`) when one binary image (or, with ``every``, every one of a
    stack, since a sweep's first and last frames may rightly be one phase) is more than
    :data:`ONE_PHASE_SHARE` one phase."""
    shares = [max(float(np.mean(b)), 1 - float(np.mean(b))) for b in binaries if np.size(b)]
    if shares and (min(shares) if every else max(shares)) > ONE_PHASE_SHARE:
        worst = min(shares) if every else max(shares)
        warnings.warn(ONE_PHASE.format(what=what, share=worst), UserWarning, stacklevel=4)
