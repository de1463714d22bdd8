"""Command line: ``napari-hamiltonian generate|train|classify|geometry|geometry-references|
report|demo|train-regressor``."""

from __future__ import annotations

import argparse
import sys
import warnings

from ..classes import CLASSES
from . import commands, regression


def _threshold(text: str | None):
    if text is None:
        return text
    if text.lower() in ("otsu", "otsu-stack", "switching"):
        return text.lower()
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--threshold must be 'otsu', 'otsu-stack', 'switching' or a number, got "
            f"{text!r}") from None


def _psf(text: str):
    """A PSF sigma in pixels, or 'auto' (estimated from each input's frames)."""
    if text.lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--psf-sigma must be a number of pixels or 'auto', got {text!r}") from None


def _positive(text: str) -> int:
    """A whole number >= 1 (a pixel count), refused by argparse before any work."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``napari-hamiltonian`` command."""
    parser = argparse.ArgumentParser(
        prog="napari-hamiltonian",
        description="Which Hamiltonian drew these domains? Simulate, train, classify.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser(
        "generate",
        help="simulate the seven-class training set of Table I to a .npz file",
        description="Simulate the seven-class training set (Table I of Basak et al.) "
        "and write it, compressed and atomically, to one .npz file.",
    )
    gen.add_argument("out", nargs="?", default="dataset.npz",
                     help="output .npz file (default: dataset.npz)")
    gen.add_argument("--n-per-class", type=int, default=1000,
                     help="images per class, P* gets twice as many (default 1000; "
                     "the paper's set is 8000)")
    gen.add_argument("--size", type=int, default=100, help="image side (default 100)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--none", type=int, default=0, metavar="N",
                     help="also N images that none of the seven models drew (label "
                     "'none': out-of-range models, patterns, blurred renders), for "
                     "training and measuring the rejection (default 0)")
    gen.add_argument("--classes", nargs="+", choices=CLASSES, default=None,
                     metavar="CLASS", help=f"subset of {', '.join(CLASSES)}")
    gen.add_argument("--protocol", choices=("table", "variants"), default="table",
                     help="'table': the training set of Table I (default); 'variants': "
                     "the same Hamiltonians by other choices (C-2D and RF-2D windows of "
                     "lattices twice as large, random-field snapshots at metal fraction "
                     "0.2-0.8), to add to a training set")
    gen.add_argument("--overwrite", action="store_true",
                     help="replace OUT if it exists")
    gen.set_defaults(func=commands.generate)

    from ..shipped import INPUT_KINDS
    from ..training.recipe import TrainingRecipe

    tr = sub.add_parser(
        "train", help="train the CNN on a data set from `generate`",
        description="Train a HamiltonianClassifier on a .npz data set written by "
        "`napari-hamiltonian generate` and save it, atomically, as a safetensors model file.",
    )
    tr.add_argument("dataset", nargs="+", help="training data set(s) (.npz from "
                    "`generate`; several are joined)")
    tr.add_argument("--out", default="model.safetensors",
                    help="model file to write (default: model.safetensors)")
    tr.add_argument("--test", help="independent test set (.npz) to report accuracy on")
    tr.add_argument("--card", help="also write a Markdown model card to this file")
    tr.add_argument("--card-notes", metavar="FILE",
                    help="Markdown file whose text the card carries under Notes")
    r = TrainingRecipe  # its defaults are the estimator's
    tr.add_argument("--epochs", type=int, default=r.epochs,
                    help=f"passes over the data (default {r.epochs})")
    tr.add_argument("--hidden-units", type=int, default=r.hidden_units,
                    help=f"width of the dense layer (default {r.hidden_units})")
    tr.add_argument("--batch-size", type=int, default=r.batch_size,
                    help=f"images per step (default {r.batch_size})")
    tr.add_argument("--learning-rate", type=float, default=r.learning_rate,
                    help=f"Adam step size (default {r.learning_rate:g})")
    tr.add_argument("--validation-fraction", type=float, default=r.validation_fraction,
                    help=f"share held out for validation (default {r.validation_fraction})")
    tr.add_argument("--seed", type=int, default=r.seed, help=f"random seed (default {r.seed})")
    tr.add_argument("--no-symmetry-reduction", action="store_true",
                    help="feed raw images (use with --augmentation)")
    tr.add_argument("--augmentation", action="store_true",
                    help="16-fold symmetry augmentation instead of reduction")
    tr.add_argument("--psf-sigma", type=float, default=r.psf_sigma, metavar="S",
                    help="train for micrographs whose point-spread function is a Gaussian "
                    "of S pixels: every image is rendered through it (contrast and "
                    "signal to noise 3-20 drawn per image, physical threshold) before "
                    "training (default 0: lattice-scale images)")
    tr.add_argument("--input", choices=INPUT_KINDS, default=r.input_kind,
                    help="what the model reads (with --psf-sigma): the render binarised at "
                    "the physical level (default), or its grey levels in phase units")
    tr.add_argument("--level-error", type=float, default=r.level_error, metavar="E",
                    help="with --input grey: each phase level is known to within E of the "
                    f"contrast, drawn per training image (default {r.level_error})")
    tr.add_argument("--render-variety", action="store_true",
                    help="with --psf-sigma: per image an Airy or Gaussian PSF within 15 %% "
                    "of S and Gaussian, shot or 8-bit camera noise, so that the model "
                    "reads other instruments than one exact Gaussian")
    tr.add_argument("--window", type=int, default=r.window, metavar="N",
                    help="the model's window side: larger images are rendered whole and "
                    "their centre N x N kept, so a window's edges carry the blur of the "
                    "field around it (default: the images' side)")
    tr.add_argument("--periodic-margin", type=int, default=r.periodic_margin, metavar="PX",
                    help="with --psf-sigma: render each image with PX pixels of its "
                    "periodic continuation around it, then cut them, so that the edges "
                    "carry blur from the lattice around them instead of mirrored edges "
                    "(default 0)")
    tr.add_argument("--storage", choices=("float32", "float16"), default=r.storage,
                    help="precision of the weights in the file (float16: half the size)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace OUT (and CARD) if they exist")
    tr.set_defaults(func=commands.train)

    from ..output.messages import STRIDE_HELP

    def window_options(p, stride_default):
        p.add_argument("--stride", type=int, default=stride_default,
                       help=f"window step in pixels (default {stride_default}); "
                       + STRIDE_HELP)
        p.add_argument("--overwrite", action="store_true",
                       help="replace results made with other settings or another model")

    def image_options(p, threshold_help: str):
        p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or stack files")
        p.add_argument("--mask", metavar="FILE", help="region of interest: an image file "
                       "of the frames' shape (or the stack's), nonzero on the sample; "
                       "windows not wholly inside it are not classified, and nothing "
                       "outside it enters thresholds, shares or the cluster geometry")
        p.add_argument("--threshold", type=_threshold, default=None, help=threshold_help)
        p.add_argument("--metal", choices=("bright", "dark"), default="bright",
                       help="which side of the threshold is metal (default bright)")

    cl = sub.add_parser(
        "classify", help="classify every 100x100 window of image stacks",
        description="Classify every window of each frame of TIFF (single or multi-page), "
        "PNG, JPEG, .npy or zarr stacks; write label maps, a CSV of class fractions and PNG charts "
        "to OUT/<name>/. Interrupted runs resume where they stopped.")
    image_options(cl, "'otsu' (each frame its own), 'otsu-stack' (one for the whole "
                  "stack), a grey level, or 'switching' (the stack as a whole: each pixel "
                  "metal from the frame its intensity switches, as the paper's optical "
                  "data); omit for binary images")
    cl.add_argument("--out", required=True, help="results folder")
    window_options(cl, 1)
    cl.add_argument("--model", help="model file from `train` (default: the shipped model)")
    cl.add_argument("--psf-sigma", type=_psf, nargs="+", metavar="S",
                    help="point-spread function of the images (Gaussian sigma, pixels): "
                    "use the shipped model nearest to it (default: the lattice-scale "
                    "model); one value for every input, or one per input in their order. "
                    "'auto': estimated from each input's grey frames as the camera "
                    "recorded them (the median over up to five frames across the stack, "
                    "inside --mask; printed)")
    cl.add_argument("--levels-from-frames", type=int, nargs=2, metavar=("INSULATOR", "METAL"),
                    help="the phase levels of each stack from two of its frames, one fully "
                    "insulating and one fully metallic (frame numbers; inside --mask)")
    cl.add_argument("--resolution", type=float, metavar="NM",
                    help="the microscope's optical resolution (FWHM of its point-spread "
                    "function, nm) instead of --psf-sigma: with the pixel size it gives "
                    "the PSF sigma in pixels (inputs recording different pixel sizes get "
                    "each the model of its own resolution)")
    cl.add_argument("--pixel-size", type=float, metavar="NM",
                    help="pixel size in nm (default: what the TIFF records, OME or ImageJ)")
    cl.add_argument("--levels", type=float, nargs=2, action="append",
                    metavar=("INSULATOR", "METAL"),
                    help="the two phases' intensities (e.g. from fully insulating and "
                    "fully metallic frames): with --psf-sigma the shipped grey model reads "
                    "the frames in these units; otherwise the threshold is halfway "
                    "between them, metal on the METAL side. Once for every input, or "
                    "once per input in their order")
    cl.add_argument("--register", action="store_true",
                    help="measure the drift of the stack's frames (comparing only the "
                    "pixels inside --mask, e.g. an aperture's inside) and align them "
                    "first; the region every frame covers becomes the region (within "
                    "--mask, drawn on the first frame, whose pixels are the aligned "
                    "stack's: it is applied in every frame as the camera saw it and to "
                    "the aligned stack, so an electrode marked where the first frame "
                    "shows it is cut out with the drift's width around it; do not mark "
                    "every place it drifts to)")
    cl.add_argument("--keep-steps", action="store_true",
                    help="keep each step's frames to check them: prepared.tif (after "
                    "--register and --flat-field; NaN outside the region read) and "
                    "binary.tif (the binarised frames)")
    cl.add_argument("--flat-field", action="store_true",
                    help="divide the camera's uneven light out of the frames first "
                    "(fitted inside the region; with --register, to the raw frames)")
    cl.add_argument("--smooth", type=float, default=0.0, metavar="PX",
                    help="with --threshold switching: Gaussian smoothing of each frame "
                    "before the analysis, in pixels (the paper's is 2.5; default 0)")
    cl.add_argument("--smooth-frames", type=float, default=0.0, metavar="FRAMES",
                    help="with --threshold switching: Gaussian smoothing along the stack, "
                    "in frames (the paper's is 1; default 0)")
    cl.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    cl.add_argument("--temperatures", help="text file, one value of the sweep per frame "
                    "(temperature, or field with --sweep)")
    cl.add_argument("--sweep", default="temperature", metavar="LABEL",
                    help="what the --temperatures values are, with units, for the CSV "
                    "and the charts (e.g. 'applied field (mT)'; default temperature)")
    cl.add_argument("--min-size", type=_positive, default=None, metavar="PX",
                    help="smallest cluster (pixels) in the cluster-geometry measures "
                    "(default: that of the references for the model's resolution, 10 "
                    "for sharp images)")
    cl.add_argument("--parameters", metavar="FAMILY",
                    help="also estimate the Hamiltonian's parameters: FAMILY is C-2D, "
                    "C-3D (temperature), RF-2D, RF-3D (disorder R, metal fraction) or P "
                    "(occupation p), or 'auto' for the family of the class each frame "
                    "is named; writes parameters.csv (each frame's estimate with its 90 "
                    "%% interval) and parameters-FAMILY.tif (maps). Read by the "
                    "shipped regressor of the model's resolution (lattice scale or 2 px)")
    cl.add_argument("--parameter-stride", type=_positive, default=25, metavar="PX",
                    help="step of the windows the parameters are read in (default 25)")
    cl.set_defaults(func=commands.classify)

    ge = sub.add_parser(
        "geometry", help="cluster geometry of binary images against the seven classes",
        description="Cluster-size exponent tau, hull and volume fractal dimensions and "
        "pair-connectivity exponent of each frame, and the classes whose references "
        "they are consistent with.")
    image_options(ge, "'otsu' or a grey level; omit for binary images")
    ge.add_argument("--min-size", type=_positive, default=None, metavar="PX",
                    help="smallest cluster (pixels) measured (default: that of the "
                    "references, 10 for sharp images)")
    ge.add_argument("--psf-sigma", type=float, default=0.0, metavar="S",
                    help="point-spread function (Gaussian sigma, px): compare with the "
                    "references measured through it (default 0: sharp)")
    ge.add_argument("--phases", choices=("both", "1", "0"), default="both",
                    help="clusters of both phases (default) or of one")
    ge.add_argument("--out", help="folder for <name>/geometry.csv and geometry.png")
    ge.add_argument("--overwrite", action="store_true",
                    help="replace geometry.csv and geometry.png in --out if they exist")
    ge.set_defaults(func=commands.geometry)

    gr = sub.add_parser(
        "geometry-references", help="measure the seven classes' cluster geometry",
        description="Simulate images of each class over its Table I range and store the "
        "mean and spread of each cluster measure (the shipped references).")
    gr.add_argument("--n-per-class", type=int, default=26)
    gr.add_argument("--size", type=int, default=384)
    gr.add_argument("--seed", type=int, default=0)
    gr.add_argument("--lattices", type=int, default=10,
                    help="independent lattices per 3D class (default 10)")
    gr.add_argument("--min-size", type=_positive, default=None, metavar="PX",
                    help="default: 10 px, or the area of a disc of radius 2 sigma")
    gr.add_argument("--psf-sigma", type=float, nargs="+", default=[0.0], metavar="S",
                    help="resolutions: each image is also rendered through the "
                    "microscope of the models of that resolution (default 0: sharp)")
    gr.add_argument("--out", help="JSON file (default: the shipped file's name, "
                    "geometry-references[-psfS].json, in the current folder; the "
                    "package's own references are never written)")
    gr.set_defaults(func=commands.geometry_references)

    rp = sub.add_parser("report", help="redraw the CSV and charts of a results folder",
                        description="Rewrite labels, CSV and PNGs of OUT/<name> from its "
                        "frames, e.g. with a temperature list.")
    rp.add_argument("folder", help="a results folder OUT/<name> written by classify")
    rp.add_argument("--model", help="the model file used by classify (default: the "
                    "shipped model the folder records)")
    rp.add_argument("--psf-sigma", type=float, metavar="S",
                    help="the --psf-sigma given to classify (default: the one the folder "
                    "records)")
    rp.add_argument("--temperatures", help="text file, one temperature per frame")
    rp.set_defaults(func=commands.report)

    dm = sub.add_parser("demo", help="classify the bundled sample stack with the shipped "
                        "model and write the report",
                        description="Classify the bundled RF-2D field-sweep stack with "
                        "the shipped model and write the report.")
    dm.add_argument("--out", default="hamiltonian-demo", help="results folder "
                    "(default: hamiltonian-demo)")
    window_options(dm, 4)
    dm.set_defaults(func=commands.demo)
    regression.add_parser(sub)
    return parser


def _refuse_unknown(parser: argparse.ArgumentParser, command: str, unknown: list) -> None:
    """Exit (status 2) naming the unknown arguments with the nearest option of
    ``command`` each may have meant, under that command's usage (argparse alone shows
    the top-level usage and no suggestion)."""
    import difflib

    sub = next(a for a in parser._actions
               if isinstance(a, argparse._SubParsersAction)).choices[command]
    options = [o for action in sub._actions for o in action.option_strings]
    said = []
    for arg in unknown:
        near = difflib.get_close_matches(arg.split("=")[0], options, 1) \
            if arg.startswith("-") else []
        said.append(f"{arg} (did you mean {near[0]}?)" if near else arg)
    sub.error(f"unrecognized arguments: {' '.join(said)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-hamiltonian`` command."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # the command's own usage, and the option a typo was meant to be
        _refuse_unknown(parser, args.command, unknown)
    args.argv = argv
    args.kept = []  # results folders a run has started writing into
    shown = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if str(message) not in shown:  # each warning once per command, in words
            shown.add(str(message))
            print(f"napari-hamiltonian {args.command}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():  # warnings in words, without source lines
            warnings.showwarning = show_warning
            return args.func(args)
    except (ValueError, OSError) as err:  # FileExistsError and FileNotFoundError included
        text = str(err) if not isinstance(err, OSError) or err.filename is None or \
            str(err.filename) in str(err) else f"{err.filename}: {err.strerror or err}"
        print(f"napari-hamiltonian {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.kept:
            print(f"interrupted; the frames finished so far are kept in "
                  f"{', '.join(map(str, args.kept))} and the same command continues from "
                  "there. No file was left half-written", file=sys.stderr)
        else:
            print("interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
