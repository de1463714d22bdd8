"""How ``classify``'s options read its inputs: the Reading, the model of each input
(from --model, --psf-sigma once or per input, or --resolution and each file's pixel
size), the phase levels (once, per input, or from two frames of each) and the region
in a mask file."""

from __future__ import annotations

import argparse

from ..imaging.reading import Reading


def reading_of(args: argparse.Namespace):
    """The Reading the command's options describe."""
    return Reading(args.threshold, args.metal, getattr(args, "levels", None),
                   smooth=getattr(args, "smooth", 0.0),
                   smooth_frames=getattr(args, "smooth_frames", 0.0))


def model_of(args: argparse.Namespace, reading, psf_sigma: float | None = None):
    """The model of --model or --psf-sigma (or of ``psf_sigma``, one input's own) for
    frames read by ``reading`` (:func:`~napari_hamiltonian.classifier.choice.choose_model`);
    which shipped model stands in for a sigma without its own is printed, not warned."""
    from ..classifier.choice import choose_model

    chosen = choose_model(args.model, reading,
                          args.psf_sigma if psf_sigma is None else psf_sigma)
    for note in chosen.notes:
        print(f"note: {note}")
    return chosen


def psf_from_resolution(args: argparse.Namespace) -> dict | None:
    """Set ``args.psf_sigma`` from --resolution (nm) and the pixel size (--pixel-size, or
    what each input records), printing how it was found; where the inputs record
    different pixel sizes, return {input: PSF sigma} instead (each input then gets the
    model of its own resolution, :func:`models_of`), else None."""
    import math

    from ..imaging.files import pixel_size_nm
    from ..imaging.optics import psf_sigma_from_resolution

    if getattr(args, "resolution", None) is None:
        if getattr(args, "pixel_size", None) is not None:
            raise ValueError("--pixel-size is used with --resolution (the optical "
                             "resolution in nm); give both, or --psf-sigma in pixels")
        return None
    if args.psf_sigma is not None:
        raise ValueError("give --resolution (nm) or --psf-sigma (px), not both")
    if not (math.isfinite(args.resolution) and args.resolution > 0):
        raise ValueError(f"--resolution must be a length in nm > 0, got {args.resolution}")
    sizes = {path: args.pixel_size or pixel_size_nm(path) for path in args.inputs}
    missing = [str(p) for p, v in sizes.items() if not v]
    if missing:
        raise ValueError(f"no pixel size recorded in {', '.join(missing)}: give "
                         "--pixel-size NM")
    if any(not (math.isfinite(v) and v > 0) for v in sizes.values()):
        raise ValueError("--pixel-size must be a length in nm > 0")
    values = sorted(set(sizes.values()))
    source = "given" if args.pixel_size else "recorded in the file"
    if values[-1] > 1.01 * values[0]:  # each input its own PSF, and model
        per_input = {p: psf_sigma_from_resolution(args.resolution, v)
                     for p, v in sizes.items()}
        for p, v in sizes.items():
            print(f"note: {p}: PSF sigma {per_input[p]:.2f} px from the resolution "
                  f"{args.resolution:g} nm and its pixel size {v:g} nm (recorded in the "
                  "file)")
        return per_input
    args.psf_sigma = psf_sigma_from_resolution(args.resolution, values[0])
    print(f"note: PSF sigma {args.psf_sigma:.2f} px from the resolution "
          f"{args.resolution:g} nm and the pixel size {values[0]:g} nm ({source})")
    return None


def one_or_per_input(values: list | None, option: str, inputs: list) -> tuple:
    """(the value for every input, or None; {input: value}, or None) from an option
    given once for every input or once per input, in their order."""
    if values is None or len(values) == 1:
        return (None if values is None else values[0]), None
    if len(values) != len(inputs):
        raise ValueError(f"{option} was given {len(values)} times for {len(inputs)} "
                         f"inputs: give it once for every input, or once per input in "
                         "their order")
    return None, dict(zip(inputs, values))


def estimated_psfs(args: argparse.Namespace, mask) -> None:
    """Replace 'auto' in ``args.psf_sigma`` (once for every input, or per input) by each
    input's estimate (:func:`estimated_psf`), one value per input."""
    values = args.psf_sigma
    if values is None or "auto" not in values:
        return
    if args.model is not None:
        raise ValueError("--psf-sigma auto picks the shipped model of the images' "
                         "resolution: not with --model")
    if len(values) == 1:
        values = values * len(args.inputs)
    elif len(values) != len(args.inputs):
        return  # one_or_per_input names the mismatch
    args.psf_sigma = [estimated_psf(path, mask) if v == "auto" else v
                      for path, v in zip(args.inputs, values)]


#: Frames of a stack whose PSF estimates :func:`estimated_psf` takes the median of.
PSF_FRAMES = 5


def estimated_psf(path, mask) -> float:
    """The PSF sigma (px) of one input: the median of
    :func:`~napari_hamiltonian.estimate_psf_sigma` over up to :data:`PSF_FRAMES` frames
    spread over the stack, each inside ``mask`` (one frame may show too few domain walls,
    or none, to read a cut-off from); printed with the frames' values."""
    import warnings

    import numpy as np

    from ..imaging.files import read_stack
    from ..imaging.optics import estimate_psf_sigma
    from ..imaging.region import check_mask, frame_mask

    stack = read_stack(path)
    try:
        mask = check_mask(mask, stack.shape, "stack")
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    frames = np.unique(np.linspace(0, stack.shape[0] - 1,
                                   min(PSF_FRAMES, stack.shape[0])).round().astype(int))
    values, refused = {}, []
    for t in frames:
        with warnings.catch_warnings():  # a frame without blur is one vote of several
            warnings.simplefilter("ignore", UserWarning)
            try:
                values[int(t)] = estimate_psf_sigma(np.asarray(stack[t]),
                                                    mask=frame_mask(mask, int(t)))
            except ValueError as err:  # a uniform frame: the others may tell
                refused.append(f"frame {t}: {err}")
    if not values:
        raise ValueError(f"{path}: --psf-sigma auto: {refused[0]}; give --psf-sigma S "
                         "(px) or --resolution NM")
    sigma = float(np.median(list(values.values())))
    each = ", ".join(f"frame {t} {v:.2f}" for t, v in values.items())
    print(f"{path}: PSF sigma {sigma:.2f} px estimated (the median of {each})" +
          ("" if sigma > 0 else ": no blur measurable, so the lattice-scale model; if "
           "these are micrographs, give --psf-sigma S or --resolution NM"))
    return sigma


def readings_of(args: argparse.Namespace, mask) -> tuple:
    """(the Reading that picks the model, {input: its Reading}) from --threshold,
    --levels (once, or once per input) and --levels-from-frames (read inside ``mask``,
    the region of :func:`mask_file`)."""
    frames = args.levels_from_frames
    if frames is not None and (args.levels is not None or args.threshold is not None):
        raise ValueError("give --levels-from-frames, --levels or --threshold, one of them")
    args.levels, per_input = one_or_per_input(args.levels, "--levels", args.inputs)
    if frames is not None or per_input is not None:
        if per_input is not None and args.threshold is not None:
            raise ValueError("give --levels or --threshold, not both")
        readings = {path: frame_levels(path, frames, mask) if frames is not None else
                    Reading(levels=tuple(per_input[path])) for path in args.inputs}
        return Reading(levels=(0.0, 1.0)), readings  # the model reads levels
    reading = reading_of(args)
    return reading, {path: reading for path in args.inputs}


def models_of(args: argparse.Namespace, reading, per_input: dict | None) -> dict:
    """{input: ChosenModel}: one model for every input, or, where each input has its
    own PSF (``per_input``, {input: sigma}: --psf-sigma per input, or pixel sizes that
    differ), the shipped model of each one's resolution (loaded once per resolution)."""
    if per_input is None:
        chosen = model_of(args, reading)
        return {path: chosen for path in args.inputs}
    by_sigma = {}
    for sigma in per_input.values():
        if sigma not in by_sigma:
            by_sigma[sigma] = model_of(args, reading, sigma)
    return {path: by_sigma[per_input[path]] for path in args.inputs}


def frame_levels(path, frames, mask):
    """The Reading of one input whose phase levels come from two of its frames."""
    import numpy as np

    from ..imaging.files import read_stack

    try:
        reading = Reading.from_frames(np.asarray(read_stack(path)), frames[0], frames[1],
                                      mask)
    except ValueError as err:
        raise ValueError(f"{path}: --levels-from-frames: {err}") from None
    print(f"{path}: phase levels {reading.levels[0]:.4g} (insulator, frame {frames[0]}), "
          f"{reading.levels[1]:.4g} (metal, frame {frames[1]})")
    return reading


def mask_file(path):
    """The region of interest in an image file (nonzero = sample), or None."""
    if path is None:
        return None
    import numpy as np

    from ..imaging.files import read_stack

    try:
        mask = np.asarray(read_stack(path)) != 0
    except ValueError as err:
        raise ValueError(f"--mask: {err}") from None
    return mask[0] if len(mask) == 1 else mask
