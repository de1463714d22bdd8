"""What the tool says to its user, in words: the answer for a set of frames, frames
unlike every class or that the resolution cannot tell, and advice that fits the model."""

from __future__ import annotations

import numpy as np

from ..classes import (
    CANNOT_TELL_NAME,
    NONE_NAME,
    reliable_accuracy,
)

#: What the stride costs, for the command line's and the widget's help (measured by
#: ``benchmarks/bench_sliding.py --strides``).
STRIDE_HELP = ("even strides are the fastest: at an odd stride the windows fall on both "
               "pooling grids of the network, and a frame takes 2-3 times as long as at "
               "the even stride below it")


#: What the tool says of a frame whose windows are mostly "none of these" ({advice}:
#: :data:`LATTICE_ADVICE` for the lattice-scale model, :data:`RESOLUTION_ADVICE` for a
#: model of a resolution).
UNLIKE_EVERY_CLASS = (
    "this image is unlike every training class ('none of these'): {share:.0%} of its "
    "windows were drawn by none of the seven models as far as the model can tell. "
    "{advice}")


LATTICE_ADVICE = (
    "If the microscope's point-spread function spans several pixels, the lattice-scale "
    "model cannot read the image: use the model for its resolution (psf_sigma, "
    "--psf-sigma or the widget's PSF sigma; estimate_psf_sigma estimates it from the grey "
    "image). Otherwise its domains come from none of the seven Hamiltonians, or from "
    "parameters outside their ranges")


RESOLUTION_ADVICE = (
    "Read at a point-spread function of {sigma:g} px: its domains come from none of the "
    "seven Hamiltonians, or from parameters outside their ranges, or the point-spread "
    "function is not {sigma:g} px (check it, e.g. with estimate_psf_sigma on a raw grey "
    "frame, before any denoising or alignment)")


#: Words for a frame the model's resolution cannot tell (``WindowResult.answer()``).
CANNOT_TELL_WORDS = (
    "cannot tell at this resolution: {share:.0%} of its windows look like a class near "
    "criticality but, seen through this point-spread function, also like patterns none "
    "of the seven models draws (level sets of smoothed noise, labyrinths, parameters "
    "outside Table I; the model card's table says which), so no class is named for "
    "them ({split}). {advice}")


#: Added where a frame read whole is mostly "none of these".
REGION_ADVICE = (". If part of the field is not the sample (an aperture's surround, "
                 "electrodes, a scale bar), give a region of interest (mask=, --mask, or a "
                 "Shapes or Labels layer in the dock): windows outside it are not "
                 "classified")

#: The same where a region was read (the user's, or the one every aligned frame covers).
REGION_CHECK = (". If part of the region is not the sample (electrodes, an aperture's "
                "surround, a scale bar), leave it out of the region (mask=, --mask, or "
                "paint it out of the region layer in the dock)")

SHARPER_ADVICE = "A sharper image (a smaller point-spread function) may tell them apart"


GREY_ADVICE = ("The grey model (the phase levels, levels= / --levels) or a sharper image "
               "may tell them apart")


#: The Python and command-line hints of the shared messages, and what the dock calls
#: the same thing (:func:`for_dock`).
DOCK_WORDS = (
    ("(psf_sigma, --psf-sigma or the widget's PSF sigma; estimate_psf_sigma estimates it "
     "from the grey image)", "(the PSF sigma box; 'Estimate PSF sigma from the image' "
     "measures it on the grey image)"),
    ("(check it, e.g. with estimate_psf_sigma on a raw grey frame, before any denoising "
     "or alignment)",
     "(check it with 'Estimate PSF sigma from the image' on the grey image before any "
     "denoising; on an aligned stack it reads the raw frame)"),
    ("(mask=, --mask, or a Shapes or Labels layer in the dock)",
     "(a Shapes or Labels layer chosen as the dock's region)"),
    ("(mask=, --mask, or paint it out of the region layer in the dock)",
     "(paint it out of the dock's region layer, label 0)"),
    ("(mask=, --mask)", "(the dock's region)"),
    ("(mask=, True on the sample)", "(the dock's region)"),
    ("(the phase levels, levels= / --levels)", "(threshold: phase levels)"),
    ("(load_pretrained(psf_sigma), or drop levels= / --levels and give a threshold)",
     "(choose a threshold instead of phase levels)"),
    ("(load_pretrained)", "(model: shipped)"),
    (" (e.g. np.nan_to_num)", ""),
    ("(threshold='otsu' or a number; on the command line --threshold otsu; a stack of "
     "a sweep: 'switching')", "(choose a threshold in the dock: 'switching (stack)' for "
     "a sweep, Otsu or a value for one image, or phase levels)"),
)


def for_dock(text: str) -> str:
    """A message of the shared core in the dock's terms (:data:`DOCK_WORDS`)."""
    for python, dock in DOCK_WORDS:
        text = text.replace(python, dock)
    return text


def split_words(result) -> str:
    """The shares of one result's windows in each state, in words."""
    return (f"{result.accepted():.0%} named, "
            f"{result.undecided():.0%} cannot tell, "
            f"{result.rejected():.0%} none of these")


def unlike_message(results, frames=None, clf=None) -> str:
    """Plain words for the frames whose windows are mostly rejected or that the model's
    resolution cannot tell ("" if none are).

    Parameters
    ----------
    results : sequence of WindowResult
    frames : sequence of int, optional
        Frame numbers of ``results`` (default 0, 1, ...).
    clf : HamiltonianClassifier, optional
        The model that read them: its resolution and input decide the advice.
    """
    frames = list(range(len(results))) if frames is None else list(frames)
    sigma = float(clf.psf_sigma)
    grey = clf.input_kind == "grey"
    advice = {NONE_NAME: RESOLUTION_ADVICE.format(sigma=sigma) if sigma else LATTICE_ADVICE,
              CANNOT_TELL_NAME: SHARPER_ADVICE if grey else GREY_ADVICE}
    out = []
    for answer, words, share in ((NONE_NAME, UNLIKE_EVERY_CLASS, "rejected"),
                                 (CANNOT_TELL_NAME, CANNOT_TELL_WORDS, "undecided")):
        hit = [(t, r) for t, r in zip(frames, results) if r.answer() == answer]
        if hit:
            which = (f"frame {hit[0][0]}" if len(hit) == 1 else
                     f"{len(hit)} of {len(results)} frames")
            t, worst = max(hit, key=lambda h: getattr(h[1], share)())
            split = split_words(worst) + ("" if len(hit) == 1 else f" in frame {t}")
            out.append(f"{which}: " + words.format(share=getattr(worst, share)(),
                                                   split=split, advice=advice[answer]))
            if answer == NONE_NAME:
                out[-1] += REGION_ADVICE if worst.inside.all() else REGION_CHECK
    return "; ".join(out)


def answer_line(results, frames=None, counted: bool = True) -> str:
    """What the model says of each frame, in one line: "RF-2D (88% named, 12% cannot
    tell, 0% none of these)" for one frame, the answers and their frame counts for a
    stack ("24 frames: " first unless ``counted`` is False)."""
    frames = list(range(len(results))) if frames is None else list(frames)
    if len(results) == 1:
        return f"{results[0].answer()} ({split_words(results[0])})"
    answers: dict = {}
    for t, r in zip(frames, results):
        answers.setdefault(r.answer(), []).append(t)
    return (f"{len(results)} frames: " if counted else "") + "; ".join(
        f"{a} in {len(ts)} (frame{'s' if len(ts) > 1 else ''} {_ranges(ts)})" for a, ts in
        sorted(answers.items(), key=lambda kv: -len(kv[1])))


def _ranges(frames) -> str:
    """Frame numbers as ranges: 0-3, 5, 7-8."""
    out, start = [], None
    for k, t in enumerate(frames):
        if start is None:
            start = t
        if k + 1 == len(frames) or frames[k + 1] != t + 1:
            out.append(f"{start}" if start == t else f"{start}-{t}")
            start = None
    return ", ".join(out)


def chance_message(accuracy: float, n_classes: int) -> str:
    """A warning when a trained model's validation accuracy is under
    :func:`~napari_hamiltonian.classes.reliable_accuracy` ("" otherwise, or without a
    validation accuracy): such a model certifies no window."""
    chance = 1.0 / max(n_classes, 1)
    if not np.isfinite(accuracy) or accuracy >= reliable_accuracy(n_classes):
        return ""
    return (f"validation accuracy {accuracy:.1%} is near chance ({chance:.1%} for "
            f"{n_classes} classes), less than halfway from it to perfect: the model has "
            "not learned to tell the classes apart and will mark no window confident; "
            "train on more images per class or for more epochs before using it")


def groups_message(groups, results=None) -> str:
    """Plain words for the classes a model cannot tell apart ("" if it can tell all);
    with ``results``, only the groups some classified window was named by."""
    if results is not None:
        named = {r.classes[k] for r in results
                 for k in np.unique(r.labels[r.confident | r.cannot_tell])}
        groups = [g for g in groups if named & set(g)]
    if not groups:
        return ""
    return ("at this resolution the model cannot tell apart "
            + "; ".join(" and ".join(g) for g in groups)
            + ": windows of these classes are named by their group ("
            + "; ".join(" or ".join(g) for g in groups) + ")")


#: Classes a grey model tells apart by density alone, which the phase levels set.
DENSITY_CLASSES = ("P-2D", "P*")


def levels_message(clf, results) -> str:
    """Plain words on what a grey model's answers rest on, where it matters: when one
    of the results (WindowResult) is mostly P-2D or P*, which the model tells apart by
    the density the phase levels set ("" otherwise, and for binary models)."""
    if clf.input_kind != "grey":
        return ""
    if not any(r.answer() in DENSITY_CLASSES for r in results):
        return ""
    return ("P-2D against P* rests on the phase levels: the grey model reads them apart "
            "by density, which levels off by 5 % of the contrast move as much as separates "
            "them; trust it with levels known to about 3 %, or compare the binary model")


def parameter_words(pmap) -> str:
    """A frame's parameters in words: ``"RF-2D: disorder 1.08 [0.98, 1.19], metal_fraction
    0.45 [0.44, 0.46] (90 % intervals)"``, with T/Tc (R/Rc, p/pc) where the family has a
    critical value."""
    parts = [f"{name} {pmap.frame_estimate[j]:.3g} [{pmap.frame_interval[j, 0]:.3g}, "
             f"{pmap.frame_interval[j, 1]:.3g}]" for j, name in enumerate(pmap.names)]
    ratio = pmap.relative_to_critical()
    if ratio is not None:
        parts.append(f"{pmap.ratio_name} {ratio[0]:.3g} [{ratio[1]:.3g}, {ratio[2]:.3g}]")
    which = f"; regressor for {pmap.psf_sigma:g} px" if pmap.psf_sigma else ""
    return f"{pmap.family}: " + ", ".join(parts) + f" ({pmap.coverage:.0%} intervals{which})"


def parameters_message(path, maps: dict, most: int = 8) -> str:
    """What ``classify --parameters`` read, frame by frame (at most ``most`` lines), and
    which frames name no family."""
    read = [t for t in sorted(maps) if maps[t] is not None]
    lines = [f"{path}: frame {t}: {parameter_words(maps[t])}" for t in read[:most]]
    if len(read) > most:
        lines.append(f"{path}: ... {len(read) - most} more frames in parameters.csv")
    skipped = [t for t in sorted(maps) if maps[t] is None]
    if skipped:
        lines.append(f"{path}: no parameters for frame(s) {_ranges(skipped)}: the "
                     "classifier names no family there ('none of these', a group of "
                     "classes it cannot tell apart, or P-3D); give --parameters FAMILY "
                     "to read one anyway")
    return "\n".join(lines)
