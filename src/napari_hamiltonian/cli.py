"""Command line: ``napari-hamiltonian generate|train|classify|geometry|geometry-references|
report|demo``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from .classes import CLASSES


def _generate(args: argparse.Namespace) -> int:
    from .simulate.dataset import generate_to_file

    info = generate_to_file(args.out, args.n_per_class, args.size, args.seed,
                            args.classes, overwrite=args.overwrite, n_none=args.none)
    n = sum(args.n_per_class * (2 if c == "P*" else 1) for c in info["classes"]) + args.none
    print(f"wrote {n} images ({', '.join(info['classes'])}) of {args.size}x{args.size} "
          f"to {args.out} in {info['seconds']} s")
    return 0


def _train(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from ._files import atomic_write, check_writable
    from .estimator import HamiltonianClassifier
    from .report import (
        chance_message,
        evaluate,
        evaluate_optics,
        evaluate_resolution,
        model_card,
    )
    from .simulate.dataset import NONE, load_dataset

    out = Path(args.out)
    targets = [out] + ([Path(args.card)] if args.card else [])
    for path in targets:  # fail before the minutes of training
        if path.exists() and not args.overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    if args.card_notes and not Path(args.card_notes).is_file():
        raise FileNotFoundError(f"--card-notes {args.card_notes}: no such file")
    for path in targets:
        check_writable(path.parent)
    if not (args.psf_sigma >= 0 and args.psf_sigma < float("inf")):
        raise ValueError(f"--psf-sigma must be a number >= 0 (pixels), got {args.psf_sigma}")
    grey = args.input == "grey"
    if grey and not args.psf_sigma > 0:
        raise ValueError("--input grey trains on grey renders of a microscope: give its "
                         "--psf-sigma (> 0)")
    if not 0 <= args.level_error < 0.5:
        raise ValueError(f"--level-error must be in [0, 0.5) (units of the contrast), got "
                         f"{args.level_error}")
    X, y, _, meta = load_dataset(args.dataset)
    test = load_dataset(args.test) if args.test else None
    lattice_test = test
    if args.psf_sigma > 0:  # the models of a resolution learn from renders at it
        from .optics import render_training_set
        kind = {"binarisation": "none", "level_error": args.level_error} if grey else {}
        X = render_training_set(X, args.psf_sigma, seed=[args.seed, 0], **kind)
        if test is not None:  # tested with the levels known exactly
            test = (render_training_set(test[0], args.psf_sigma, seed=[args.seed, 1],
                                        binarisation="none" if grey else "physical"),
                    *test[1:])
    clf = HamiltonianClassifier(
        hidden_units=args.hidden_units, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, validation_fraction=args.validation_fraction,
        symmetry_reduction=not args.no_symmetry_reduction, augmentation=args.augmentation,
        psf_sigma=args.psf_sigma, input_kind=args.input, storage=args.storage,
        random_state=args.seed, verbose=1)
    clf.fit(X, y)
    del X, y
    clf.save(out, overwrite=args.overwrite)
    kept = clf.training_info_.get("kept_epoch", 0)
    acc = clf.validation_scores_[kept - 1] if clf.validation_scores_ and kept else None
    print(f"wrote {out}: validation accuracy {acc:.4%} (epoch {kept})"
          if acc is not None else f"wrote {out}")
    warning = chance_message(acc, len(clf.classes_)) if acc is not None else ""
    if warning:
        print(f"warning: {warning}")
    result = optics = rejection = resolution = None
    if test is not None:
        from .report import rejection_table
        outside = test[1] == NONE
        rejection = rejection_table(clf, test[0], test[1], test[2])
        for name, shares in rejection.items():
            print(f"  {name}: rejected {1 - shares['rejection']:.1%} (paper's rule "
                  f"rejects {1 - shares['paper nearest']:.1%})")
        test = (test[0][~outside], test[1][~outside], None, test[3])
        result = evaluate(clf, test[0], test[1])
        print(f"test set {args.test}: accuracy {result['accuracy']:.4%}, confident "
              f"{result['confident']:.2%}; per class "
              + ", ".join(f"{c} {a:.2%}" for c, a in result["per_class"].items()))
        if args.psf_sigma > 0:
            keep = lattice_test[1] != NONE
            resolution = evaluate_resolution(clf, lattice_test[0][keep], lattice_test[1][keep],
                                             seed=[args.seed, 2])
            for name, r in resolution.items():
                print(f"  {name}: accuracy {r['accuracy']:.2%}")
        else:
            optics = evaluate_optics(clf, test[0], test[1])
            for name, r in optics.items():
                print(f"  through {name}: accuracy {r['accuracy']:.2%}")
    if args.card:
        command = "napari-hamiltonian " + " ".join(shlex.quote(a) for a in args.argv)
        datasets = {args.dataset: meta, **({args.test: test[3]} if test else {})}
        notes = Path(args.card_notes).read_text() if args.card_notes else None
        card = model_card(clf, meta, result, test[3] if test else None, command, datasets,
                          optics, notes, rejection, resolution, out.stat().st_size,
                          level_error=args.level_error if grey else 0.0)
        atomic_write(Path(args.card), card.encode())
        print(f"wrote {args.card}")
    return 0


def _threshold(text: str | None):
    if text is None or text in ("otsu", "switching"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--threshold must be 'otsu', 'switching' or a number, got {text!r}") from None


def _temperatures(path: str | None):
    if path is None:
        return None
    import numpy as np
    try:
        return np.loadtxt(path, ndmin=1)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read temperatures from {path}: {err}; give one number "
                         "per line, one line per frame") from err


def _model(args: argparse.Namespace):
    """(classifier, file hash) of --model or --psf-sigma; which shipped model stands in
    for a --psf-sigma without its own is printed, not warned."""
    import warnings

    from .batch import model_and_hash
    from .pretrained import input_kind_for

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model_and_hash(args.model, args.psf_sigma,
                             input_kind_for(args.psf_sigma, getattr(args, "levels", None)))
    for w in caught:
        print(f"note: {w.message}")
    return out


def _classify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .batch import output_names, plan, run
    from .report import groups_message, levels_message

    clf, digest = _model(args)
    why = clf.unreliable()
    if why is not None:  # before any work; the frames' own warning is then not repeated
        warnings.warn(why, UserWarning, stacklevel=1)
    temps = _temperatures(args.temperatures)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the results")
    names = output_names(args.inputs)
    # every input checked before anything is written
    jobs = [plan(path, out / names[Path(path)], clf, digest, args.stride, args.threshold,
                 args.metal, temps, args.overwrite, args.levels) for path in args.inputs]
    client = None
    if args.scheduler:
        from distributed import Client
        client = Client(args.scheduler)
    try:
        for job in jobs:
            for note in job.notes:
                print(note)
            args.kept.append(job.folder)
            folder = run(job, clf, client, min_size=args.min_size)
            print(f"{job.path}: results in {folder}")
            _say_answer(job, clf)
            levels = levels_message(clf, list(job.frames.values()))
            if levels:
                print(f"{job.path}: note: {levels}")
        groups = groups_message(getattr(clf, "class_groups_", []))
        if groups:
            print(f"note: {groups}")
    finally:
        if client is not None:
            client.close()
    return 0


def _say_answer(job, clf) -> None:
    """Print, in words, what the model says of a finished job's frames, and which are
    mostly "none of these" or "cannot tell at this resolution"."""
    from .batch import geometry_disagreements
    from .report import answer_line, unlike_message

    print(f"{job.path}: " + answer_line(list(job.frames.values()), list(job.frames)))
    message = unlike_message(list(job.frames.values()), list(job.frames), clf)
    if message:
        print(f"{job.path}, {message}")
    disagree = geometry_disagreements(job.folder)
    if disagree:
        print(f"{job.path}, {disagree}")


def _report(args: argparse.Namespace) -> int:
    from .batch import check_model_of, recorded_levels, write_report

    args.levels = recorded_levels(args.folder)  # classified by a grey model if given
    clf, digest = _model(args)
    check_model_of(args.folder, digest)
    write_report(args.folder, clf, _temperatures(args.temperatures))
    print(f"wrote the report in {args.folder}")
    return 0


def _geometry(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from . import report
    from ._binary import binarize
    from .batch import read_stack
    from .geometry import MEASURES, References, measure, table_row, verdict

    refs = References.load(psf_sigma=args.psf_sigma)
    min_size = refs.min_size if args.min_size is None else args.min_size
    for path in args.inputs:
        stack = read_stack(path)
        rows, measures = [], []
        for t in range(stack.shape[0]):
            binary = binarize(np.asarray(stack[t]), args.threshold, args.metal)
            g = measure(binary, min_size, args.phases)
            v = verdict(g, refs)
            measures.append(g)
            cells = "  ".join(f"{m} {g.values[m]:.3f}+-{g.errors[m]:.3f}" for m in MEASURES)
            print(f"{path} frame {t}: {cells}  ({g.n_clusters} clusters, {g.n_edge} at the "
                  f"edge left out); consistent with: {', '.join(v.consistent) or 'none'}")
            rows.append({"frame": t, **table_row(g, v)})
        if args.out:
            out = Path(args.out) / Path(path).stem
            report.write_csv(out / "geometry.csv", rows)
            report.save_figure(report.geometry_plot(np.arange(len(measures)), measures,
                                                    refs), out / "geometry.png")
            print(f"wrote {out}/geometry.csv and geometry.png")
    return 0


def _geometry_references(args: argparse.Namespace) -> int:
    import time

    from pathlib import Path

    from ._files import check_writable
    from .geometry import build_references, reference_file

    if args.out and len(args.psf_sigma) != 1:
        raise ValueError("--out names one file: give one --psf-sigma with it")
    # never into the installed package: the shipped references are data of a release
    outs = [Path(args.out) if args.out else Path(reference_file(s).name)
            for s in args.psf_sigma]
    package = reference_file(0.0).parent.resolve()
    for out in outs:
        if out.resolve().parent == package:
            raise ValueError(f"{out} is the package's shipped references; write yours "
                             "elsewhere (--out FILE)")
        check_writable(out.resolve().parent)
    start = time.time()
    built = build_references(args.n_per_class, args.size, args.seed, args.psf_sigma,
                             None if args.min_size is None else
                             [args.min_size] * len(args.psf_sigma), args.lattices)
    for refs, out in zip(built, outs):
        refs.info.update(seconds=round(time.time() - start),
                         command="napari-hamiltonian " + " ".join(args.argv))
        refs.save(out)
        print(f"wrote the references of {len(refs.mean)} classes at PSF sigma "
              f"{refs.info['psf_sigma']:g} px to {out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .batch import classify_file, model_and_hash
    from .samples import sample_path

    clf, digest = model_and_hash(None)
    path = sample_path("rf2d_stack.tif")
    args.kept.append(args.out)
    fields = json.loads(sample_path("rf2d_stack_fields.json").read_text())["fields_H"]
    job = classify_file(path, args.out, clf, digest, args.stride, None, "bright",
                        None, fields, args.overwrite, xlabel="applied field H (J)")
    print(f"classified the bundled RF-2D field-sweep stack ({path.name}) with the shipped "
          f"model: see {job.folder}/fractions.csv and the PNGs in {job.folder}")
    _say_answer(job, clf)
    return 0


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
    gen.add_argument("--overwrite", action="store_true",
                     help="replace OUT if it exists")
    gen.set_defaults(func=_generate)

    tr = sub.add_parser(
        "train", help="train the CNN on a data set from `generate`",
        description="Train a HamiltonianClassifier on a .npz data set written by "
        "`napari-hamiltonian generate` and save it, atomically, as a safetensors model file.",
    )
    tr.add_argument("dataset", help="training data set (.npz from `generate`)")
    tr.add_argument("--out", default="model.safetensors",
                    help="model file to write (default: model.safetensors)")
    tr.add_argument("--test", help="independent test set (.npz) to report accuracy on")
    tr.add_argument("--card", help="also write a Markdown model card to this file")
    tr.add_argument("--card-notes", metavar="FILE",
                    help="Markdown file whose text the card carries under Notes")
    tr.add_argument("--epochs", type=int, default=4, help="passes over the data (default 4)")
    tr.add_argument("--hidden-units", type=int, default=128,
                    help="width of the dense layer (default 128)")
    tr.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    tr.add_argument("--learning-rate", type=float, default=1e-3,
                    help="Adam step size (default 1e-3)")
    tr.add_argument("--validation-fraction", type=float, default=0.2,
                    help="share held out for validation (default 0.2)")
    tr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tr.add_argument("--no-symmetry-reduction", action="store_true",
                    help="feed raw images (use with --augmentation)")
    tr.add_argument("--augmentation", action="store_true",
                    help="16-fold symmetry augmentation instead of reduction")
    tr.add_argument("--psf-sigma", type=float, default=0.0, metavar="S",
                    help="train for micrographs whose point-spread function is a Gaussian "
                    "of S pixels: every image is rendered through it (contrast and "
                    "signal to noise 3-20 drawn per image, physical threshold) before "
                    "training (default 0: lattice-scale images)")
    tr.add_argument("--input", choices=("binary", "grey"), default="binary",
                    help="what the model reads (with --psf-sigma): the render binarised at "
                    "the physical level (default), or its grey levels in phase units")
    tr.add_argument("--level-error", type=float, default=0.05, metavar="E",
                    help="with --input grey: each phase level is known to within E of the "
                    "contrast, drawn per training image (default 0.05)")
    tr.add_argument("--storage", choices=("float32", "float16"), default="float32",
                    help="precision of the weights in the file (float16: half the size)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace OUT (and CARD) if they exist")
    tr.set_defaults(func=_train)

    def window_options(p, stride_default):
        p.add_argument("--stride", type=int, default=stride_default,
                       help=f"window step in pixels (default {stride_default})")
        p.add_argument("--overwrite", action="store_true",
                       help="replace results made with other settings or another model")

    def image_options(p, threshold_help: str):
        p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or stack files")
        p.add_argument("--threshold", type=_threshold, default=None, help=threshold_help)
        p.add_argument("--metal", choices=("bright", "dark"), default="bright",
                       help="which side of the threshold is metal (default bright)")

    cl = sub.add_parser(
        "classify", help="classify every 100x100 window of image stacks",
        description="Classify every window of each frame of TIFF (single or multi-page), "
        ".npy or zarr stacks; write label maps, a CSV of class fractions and PNG charts "
        "to OUT/<name>/. Interrupted runs resume where they stopped.")
    image_options(cl, "'otsu' (each frame), a grey level, or 'switching' (the stack as a "
                  "whole: each pixel metal from the frame its intensity switches, as the "
                  "paper's optical data); omit for binary images")
    cl.add_argument("--out", required=True, help="results folder")
    window_options(cl, 1)
    cl.add_argument("--model", help="model file from `train` (default: the shipped model)")
    cl.add_argument("--psf-sigma", type=float, metavar="S",
                    help="point-spread function of the images (Gaussian sigma, pixels): "
                    "use the shipped model nearest to it (default: the lattice-scale "
                    "model)")
    cl.add_argument("--levels", type=float, nargs=2, metavar=("INSULATOR", "METAL"),
                    help="the two phases' intensities (e.g. from fully insulating and "
                    "fully metallic frames): with --psf-sigma the shipped grey model reads "
                    "the frames in these units; otherwise the threshold is halfway "
                    "between them, metal on the METAL side")
    cl.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    cl.add_argument("--temperatures", help="text file, one temperature per frame")
    cl.add_argument("--min-size", type=int, default=None, metavar="PX",
                    help="smallest cluster (pixels) in the cluster-geometry measures "
                    "(default: that of the references for the model's resolution, 10 "
                    "for sharp images)")
    cl.set_defaults(func=_classify)

    ge = sub.add_parser(
        "geometry", help="cluster geometry of binary images against the seven classes",
        description="Cluster-size exponent tau, hull and volume fractal dimensions and "
        "pair-connectivity exponent of each frame, and the classes whose references "
        "they are consistent with.")
    image_options(ge, "'otsu' or a grey level; omit for binary images")
    ge.add_argument("--min-size", type=int, default=None, metavar="PX",
                    help="smallest cluster (pixels) measured (default: that of the "
                    "references, 10 for sharp images)")
    ge.add_argument("--psf-sigma", type=float, default=0.0, metavar="S",
                    help="point-spread function (Gaussian sigma, px): compare with the "
                    "references measured through it (default 0: sharp)")
    ge.add_argument("--phases", choices=("both", "1", "0"), default="both",
                    help="clusters of both phases (default) or of one")
    ge.add_argument("--out", help="folder for <name>/geometry.csv and geometry.png")
    ge.set_defaults(func=_geometry)

    gr = sub.add_parser(
        "geometry-references", help="measure the seven classes' cluster geometry",
        description="Simulate images of each class over its Table I range and store the "
        "mean and spread of each cluster measure (the shipped references).")
    gr.add_argument("--n-per-class", type=int, default=26)
    gr.add_argument("--size", type=int, default=384)
    gr.add_argument("--seed", type=int, default=0)
    gr.add_argument("--lattices", type=int, default=10,
                    help="independent lattices per 3D class (default 10)")
    gr.add_argument("--min-size", type=int, default=None, metavar="PX",
                    help="default: 10 px, or the area of a disc of radius 2 sigma")
    gr.add_argument("--psf-sigma", type=float, nargs="+", default=[0.0], metavar="S",
                    help="resolutions: each image is also rendered through the "
                    "microscope of the models of that resolution (default 0: sharp)")
    gr.add_argument("--out", help="JSON file (default: the shipped file's name, "
                    "geometry-references[-psfS].json, in the current folder; the "
                    "package's own references are never written)")
    gr.set_defaults(func=_geometry_references)

    rp = sub.add_parser("report", help="redraw the CSV and charts of a results folder",
                        description="Rewrite labels, CSV and PNGs of OUT/<name> from its "
                        "frames, e.g. with a temperature list.")
    rp.add_argument("folder", help="a results folder OUT/<name> written by classify")
    rp.add_argument("--model", help="the model file used by classify (default: shipped)")
    rp.add_argument("--psf-sigma", type=float, metavar="S",
                    help="the --psf-sigma given to classify, if any")
    rp.add_argument("--temperatures", help="text file, one temperature per frame")
    rp.set_defaults(func=_report)

    dm = sub.add_parser("demo", help="classify the bundled sample stack with the shipped "
                        "model and write the report",
                        description="Classify the bundled RF-2D field-sweep stack with "
                        "the shipped model and write the report.")
    dm.add_argument("--out", default="hamiltonian-demo", help="results folder "
                    "(default: hamiltonian-demo)")
    window_options(dm, 4)
    dm.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-hamiltonian`` command."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
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
