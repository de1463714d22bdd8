"""The commands of ``napari-hamiltonian``, one function each (``args`` from
:func:`napari_hamiltonian.cli.build_parser`); each returns the exit status."""

from __future__ import annotations

import argparse
import json
import warnings

from .inputs import (
    estimated_psfs,
    mask_file,
    model_of,
    models_of,
    one_or_per_input,
    psf_from_resolution,
    reading_of,
    readings_of,
)



def generate(args: argparse.Namespace) -> int:
    from ..simulate.generate import generate_to_file

    info = generate_to_file(args.out, args.n_per_class, args.size, args.seed,
                            args.classes, overwrite=args.overwrite, n_none=args.none,
                            protocol=args.protocol)
    n = sum(args.n_per_class * (2 if c == "P*" else 1) for c in info["classes"]) + args.none
    print(f"wrote {n} images ({', '.join(info['classes'])}) of {args.size}x{args.size} "
          f"to {args.out} in {info['seconds']} s")
    return 0


def train(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from ..output.files import atomic_write, check_writable
    from ..inference.sliding import exhaust
    from ..output.messages import chance_message
    from ..training.recipe import TrainingRecipe
    from ..training.recipe import train as train_recipe
    from ..training.evaluation import evaluate, evaluate_optics, evaluate_resolution
    from ..training.card import model_card
    from ..simulate.dataset import NONE, load_dataset

    out = Path(args.out)
    if args.card and Path(args.card).resolve() == out.resolve():
        raise ValueError(f"--out and --card both name {out}: the card would overwrite the "
                         "model; give the card its own file (e.g. MODEL_CARD.md)")
    targets = [out] + ([Path(args.card)] if args.card else [])
    for path in targets:  # fail before the minutes of training
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name for the "
                             f"{'model' if path == out else 'card'} (e.g. "
                             f"{path / ('model.safetensors' if path == out else 'MODEL_CARD.md')})")
        if path.exists() and not args.overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    if args.card_notes and not Path(args.card_notes).is_file():
        raise FileNotFoundError(f"--card-notes {args.card_notes}: no such file")
    for path in targets:
        check_writable(path.parent)
    recipe = TrainingRecipe(
        seed=args.seed, psf_sigma=args.psf_sigma, input_kind=args.input,
        level_error=args.level_error, epochs=args.epochs, hidden_units=args.hidden_units,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        validation_fraction=args.validation_fraction,
        symmetry_reduction=not args.no_symmetry_reduction, augmentation=args.augmentation,
        storage=args.storage, render_variety=args.render_variety, window=args.window,
        periodic_margin=args.periodic_margin)
    X, y, meta, extra = _training_sets(args.dataset)
    test = load_dataset(args.test) if args.test else None
    side = recipe.window or X.shape[1]
    if test is not None and (min(test[0].shape[1:]) < side if recipe.window else
                             test[0].shape[1:] != X.shape[1:]):
        raise ValueError(f"--test {args.test} holds {test[0].shape[1]}x{test[0].shape[2]} "
                         f"images; the model reads {side}x{side} windows: generate the test "
                         f"set with --size {side} (checked before the training, not after)")
    lattice_test = test
    if test is not None:  # tested with the levels known exactly
        test = (recipe.render(test[0], stream=1, exact_levels=True), *test[1:])
    clf = exhaust(train_recipe(recipe, X, y, verbose=1))
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
        from ..training.evaluation import rejection_table
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
        datasets = {**dict(zip(args.dataset, [meta, *extra])),
                    **({args.test: test[3]} if test else {})}
        notes = Path(args.card_notes).read_text() if args.card_notes else None
        card = model_card(clf, meta, result, test[3] if test else None, command, datasets,
                          optics, notes, rejection, resolution, out.stat().st_size,
                          level_error=recipe.level_error * (recipe.input_kind == "grey"),
                          variety=recipe.render_variety, extra_sets=extra)
        atomic_write(Path(args.card), card.encode())
        print(f"wrote {args.card}")
    return 0


def _training_sets(paths: list[str]):
    """(X, y, first file's header, the other files' headers) of the data sets joined;
    images of one side only."""
    import numpy as np

    from ..simulate.dataset import load_dataset

    sets = [load_dataset(p) for p in paths]
    sides = {s[0].shape[1:] for s in sets}
    if len(sides) > 1:
        raise ValueError("the training data sets hold images of different sizes ("
                         + ", ".join(f"{p}: {s[0].shape[1]}x{s[0].shape[2]}"
                                     for p, s in zip(paths, sets))
                         + "); generate them with one --size")
    X = np.concatenate([s[0] for s in sets]) if len(sets) > 1 else sets[0][0]
    y = np.concatenate([s[1] for s in sets]) if len(sets) > 1 else sets[0][1]
    return X, y, sets[0][3], [s[3] for s in sets[1:]]


def _temperatures(path: str | None):
    if path is None:
        return None
    import numpy as np
    try:
        values = np.loadtxt(path, ndmin=1)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read temperatures from {path}: {err}; give one number "
                         "per line, one line per frame") from err
    if values.ndim != 1:
        raise ValueError(f"{path} holds {values.shape[1]} columns; give one number per "
                         "line, one line per frame")
    return values


def classify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..output.files import claimed
    from ..output.folder import output_names

    if args.psf_sigma is not None and args.resolution is not None:
        raise ValueError("give --resolution (nm) or --psf-sigma (px), not both")
    mask = mask_file(args.mask)
    estimated_psfs(args, mask)
    args.psf_sigma, psf_per_input = one_or_per_input(args.psf_sigma, "--psf-sigma",
                                                     args.inputs)
    reading, readings = readings_of(args, mask)
    from_resolution = psf_from_resolution(args)
    chosen = models_of(args, reading, psf_per_input or from_resolution)
    if args.parameters is not None:  # a family that is not, or blurred frames: now
        from ..parameters.pretrained import regressor_for
        for c in chosen.values():
            regressor_for(args.parameters, c.clf.psf_sigma)
    for why in {c.clf.unreliable() for c in chosen.values()} - {None}:
        # before any work; the frames' own warning is then not repeated
        warnings.warn(why, UserWarning, stacklevel=1)
    temps = _temperatures(args.temperatures)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the results")
    names = output_names(args.inputs)
    _refuse_inside_input(out, args.inputs)
    with claimed(out):  # no other run writes into --out meanwhile
        return _classify_into(args, out, names, readings, chosen, temps, mask)



def _refuse_inside_input(out, inputs) -> None:
    """ValueError if the output folder ``out`` is an input or inside one (a zarr store,
    say): results must never be written into the user's data."""
    from pathlib import Path

    from ..imaging.files import zarr_store

    target = Path(out).resolve()
    for path in inputs:
        source = zarr_store(Path(path).resolve())
        if source is None:  # only a zarr store holds files of its own
            continue
        if target == source or source in target.parents:
            raise ValueError(f"--out {out} is inside the input {path}: the results would "
                             "be written into your data; choose a folder outside it")


def _classify_into(args, out, names, readings, chosen, temps, mask) -> int:
    """``classify``'s work once --out is held: every input planned (checked) before
    anything is written, then run."""
    from pathlib import Path

    from ..inference.batch import plan, run
    from ..output.messages import groups_message, levels_message, parameters_message

    from ..imaging.preparation import Preparation

    # every input checked before anything is written
    preparation = Preparation(args.register, args.flat_field)
    jobs = [plan(path, out / names[Path(path)], chosen[path].clf, chosen[path].sha256,
                 args.stride, readings[path], temps,
                 args.overwrite, mask, preparation, chosen[path].label)
            for path in args.inputs]
    client = None
    if args.scheduler:
        from distributed import Client
        client = Client(args.scheduler)
    try:
        for path, job in zip(args.inputs, jobs):
            clf = chosen[path].clf
            for note in job.notes:
                print(note)
            args.kept.append(job.folder)
            folder = run(job, clf, client, xlabel=args.sweep, min_size=args.min_size,
                         keep_steps=args.keep_steps, parameters=args.parameters,
                         parameter_stride=args.parameter_stride)
            print(f"{job.path}: results in {folder}")
            if job.reused:
                print(f"{job.path}: {job.reused} of {len(job.frames)} frames were kept from "
                      "an earlier run of the same input with the same settings "
                      "(--overwrite computes them again)")
            _say_answer(job, clf)
            if args.parameters is not None:
                print(parameters_message(job.path, job.parameters))
            levels = levels_message(clf, list(job.frames.values()))
            if levels:
                print(f"{job.path}: note: {levels}")
        for model in {id(c): c for c in chosen.values()}.values():
            groups = groups_message(model.clf.class_groups_,
                                    [r for path, job in zip(args.inputs, jobs)
                                     if chosen[path] is model for r in job.frames.values()])
            if groups:
                print(f"note: {groups}")
    finally:
        if client is not None:
            client.close()
    return 0




def _say_answer(job, clf) -> None:
    """Print, in words, what the model says of a finished job's frames, and which are
    mostly "none of these" or "cannot tell at this resolution"."""
    from ..output.report import geometry_disagreements
    from ..output.messages import answer_line, unlike_message
    print(f"{job.path}: " + answer_line(list(job.frames.values()), list(job.frames)))
    message = unlike_message(list(job.frames.values()), list(job.frames), clf)
    if message:
        print(f"{job.path}, {message}")
    disagree = geometry_disagreements(job.folder)
    if disagree:
        print(f"{job.path}, {disagree}")


def report(args: argparse.Namespace) -> int:
    from ..output.folder import check_model_of, recorded_model, recorded_reading
    from ..output.report import write_report
    model = recorded_model(args.folder)
    if args.model is None and args.psf_sigma is None \
            and str(model.get("file") or "").startswith("shipped"):
        args.psf_sigma = model.get("psf_sigma") or None  # the shipped model it was
    chosen = model_of(args, recorded_reading(args.folder))  # grey model if levels were given
    check_model_of(args.folder, chosen.sha256)
    write_report(args.folder, chosen.clf, _temperatures(args.temperatures))
    print(f"wrote the report in {args.folder}")
    return 0


def geometry(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from ..output import figures, summary
    from ..imaging.files import read_stack
    from ..imaging.region import check_mask, frame_mask
    from ..geometry import MEASURES, References, measure, table_row, verdict
    from ..geometry.verdict import NO_CLUSTER

    from ..output.files import check_writable
    from ..output.folder import output_names

    refs = References.load(psf_sigma=args.psf_sigma)
    min_size = refs.min_size if args.min_size is None else args.min_size
    reading, mask = reading_of(args), mask_file(args.mask)
    outs = {}
    if args.out:  # one folder per input, named as classify names them; checked first
        for path, name in output_names(args.inputs).items():
            out = outs[path] = Path(args.out) / name
            _refuse_inside_input(out, args.inputs)
            taken = [f for f in ("geometry.csv", "geometry.png") if (out / f).exists()]
            if taken and not args.overwrite:
                raise ValueError(f"{out} already holds {' and '.join(taken)}; pass "
                                 "--overwrite to replace them, or choose another --out")
            check_writable(out)
    for path in args.inputs:
        stack = read_stack(path)
        region = check_mask(mask, stack.shape, "stack")
        stack, frames = reading.prepare_stack(stack, region)
        rows, measures = [], []
        for t in range(stack.shape[0]):
            binary = frames.binary(np.asarray(stack[t]), frame_mask(region, t))
            g = measure(binary, min_size, args.phases, mask=frame_mask(region, t))
            v = verdict(g, refs)
            measures.append(g)
            cells = "  ".join(f"{m} {g.values[m]:.3f}+-{g.errors[m]:.3f}" for m in MEASURES)
            print(f"{path} frame {t}: {cells}  ({g.n_clusters} clusters, {g.n_edge} at the "
                  f"edge left out); consistent with: "
                  + ("nothing can be said: " + NO_CLUSTER.format(min_size=min_size)
                     if g.n_clusters == 0 else ', '.join(v.consistent) or 'none'))
            rows.append({"frame": t, **table_row(g, v)})
        if args.out:
            out = outs[Path(path)]
            summary.write_csv(out / "geometry.csv", rows)
            figures.save_figure(figures.geometry_plot(np.arange(len(measures)), measures,
                                                    refs), out / "geometry.png")
            print(f"wrote {out}/geometry.csv and geometry.png")
    return 0


def geometry_references(args: argparse.Namespace) -> int:
    import time

    from pathlib import Path

    from ..output.files import check_writable
    from ..geometry import build_references, reference_file

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


def demo(args: argparse.Namespace) -> int:
    from ..classifier.choice import choose_model
    from ..inference.batch import classify_file
    from ..samples import sample_path

    chosen = choose_model()
    clf = chosen.clf
    path = sample_path("rf2d_stack.tif")
    args.kept.append(args.out)
    fields = json.loads(sample_path("rf2d_stack_fields.json").read_text())["fields_H"]
    job = classify_file(path, args.out, clf, chosen.sha256, args.stride, None, None, fields,
                        args.overwrite, xlabel="applied field H (J)")
    print(f"classified the bundled RF-2D field-sweep stack ({path.name}) with the shipped "
          f"model: see {job.folder}/fractions.csv and the PNGs in {job.folder}")
    _say_answer(job, clf)
    return 0
