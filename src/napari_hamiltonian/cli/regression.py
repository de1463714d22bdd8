"""``napari-hamiltonian train-regressor``: a family's parameter regressor, simulated,
trained, measured against the physics baselines and written with its card."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """The ``train-regressor`` subcommand."""
    tr = sub.add_parser(
        "train-regressor",
        help="simulate a family over wide parameter ranges and train its regressor",
        description="Simulate images of one family (ranges well beyond Table I), train a "
        "HamiltonianRegressor on them, measure it and the physics baseline on images of an "
        "independent seed, and write the model (safetensors, atomically) and its card.")
    tr.add_argument("family", help="the family whose parameters are estimated: C-2D, "
                    "C-3D (temperature), RF-2D, RF-3D (disorder, metal fraction) or P "
                    "(occupation)")
    tr.add_argument("--out", required=True, help="model file to write (.safetensors)")
    tr.add_argument("--card", help="also write the Markdown card to this file")
    tr.add_argument("--n-images", type=int, default=12000,
                    help="training images to simulate (default 12000)")
    tr.add_argument("--test-images", type=int, default=2000,
                    help="images of an independent seed to measure on (default 2000)")
    tr.add_argument("--epochs", type=int, default=8, help="passes over the data (default 8)")
    tr.add_argument("--seed", type=int, default=0, help="seed of the training images and "
                    "the network (the test images use seed + 1000; default 0)")
    tr.add_argument("--psf-sigma", type=float, default=0.0, metavar="S",
                    help="train for binarised micrographs of this point-spread function "
                    "(Gaussian sigma, px): every image is seen through such a microscope "
                    "and thresholded halfway between the phases (default 0: lattice "
                    "scale)")
    tr.add_argument("--overwrite", action="store_true", help="replace OUT (and CARD)")
    tr.set_defaults(func=train_regressor)


def train_regressor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..output.files import atomic_write, check_writable
    from ..parameters.families import as_micrographs, family, simulate_family
    from ..shipped import check_psf_sigma
    from ..training.regressors import card_section, evaluate_family, fit_family

    args.family = family(args.family).name  # an unknown name, before anything else
    check_psf_sigma(args.psf_sigma)
    out = Path(args.out)
    targets = [out] + ([Path(args.card)] if args.card else [])
    if args.card and Path(args.card).resolve() == out.resolve():
        raise ValueError(f"--out and --card both name {out}: give the card its own file")
    for path in targets:  # before the minutes of simulation and training
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name")
        if path.exists() and not args.overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
        check_writable(path.parent)
    for name in ("n_images", "test_images", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    print(f"simulating {args.n_images} {args.family} images (seed {args.seed})...")
    reg, images, targets_, _ = fit_family(args.family, args.n_images, args.seed,
                                          epochs=args.epochs, verbose=1,
                                          psf_sigma=args.psf_sigma)
    reg.save(out, overwrite=args.overwrite)
    print(f"wrote {out}")
    test_images, test_targets = simulate_family(args.family, args.test_images,
                                                seed=args.seed + 1000)
    test_images = as_micrographs(test_images, args.psf_sigma, args.seed + 1000)
    result = evaluate_family(reg, args.family, test_images, test_targets, images, targets_)
    for pname, r in result["parameters"].items():
        print(f"  {pname}: MAE {r['mae']:.4g} (baseline {r['baseline_mae']:.4g}); "
              f"90% interval covers {r['coverage']:.1%}")
    if args.card:
        atomic_write(Path(args.card), card_section(result, reg).encode())
        print(f"wrote {args.card}")
    return 0
