"""Calibrate the shipped models' rejection at their own resolution (issue 26).

Each model of a resolution (binary 1/2/3 px, grey 2/3 px), and the lattice-scale
model (its images of none of the classes also hold micrographs of the classes through
a PSF of 1 to 3.5 px, ``outliers.blurred``), gets its rejection fitted anew (``HamiltonianClassifier.calibrate_rejection``; the network is unchanged) from
images rendered through the instrument it is for: the images of the classes of a data
set of ``napari-hamiltonian generate``, and ``--n-none`` images of every category of
``simulate/outliers.py`` (out-of-range models, smoothed-noise level sets, stretched
fields, labyrinths and bubbles with a characteristic length, stripes, checkerboards,
nearly uniform images), all through the same renders as the model's training set
(``optics.render_training_set``: Gaussian PSF of the model's sigma, intensities and
signal to noise drawn per image; physical threshold, or grey levels with the level
error the grey models were trained with).

    python benchmarks/calibrate_shipped.py data/cal_s100.npz \
        --none data/none_s300.npz data/none_s301.npz --out-dir src/napari_hamiltonian/models

``--none`` names files of ``simulate.outliers.none_set`` images (written by this script
with ``--make-none N`` when missing, file i with seed 300 + i; the shipped calibration
used two files of 600 images per category).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_hamiltonian.imaging.optics import render_training_set
from napari_hamiltonian import HamiltonianClassifier
from napari_hamiltonian.classifier.pretrained import SHIPPED, SHIPPED_GREY, load_pretrained
from napari_hamiltonian.simulate import load_dataset
from napari_hamiltonian.simulate.outliers import blurred, none_set

#: Level error (share of the contrast) the grey models were trained with (their cards).
GREY_LEVEL_ERROR = 0.05


def load_none(path, make=None) -> tuple[np.ndarray, np.ndarray]:
    """(images, category names) from a file of :func:`none_set` images, written first
    when it is missing and ``make`` = (n_per_category, size, seed) is given."""
    path = Path(path)
    if not path.is_file():
        if make is None:
            raise SystemExit(f"{path} is missing: pass --make-none N to write it")
        X, names = none_set(*make)
        np.savez_compressed(path, X=np.packbits(X), shape=X.shape, names=names)
    with np.load(path) as f:
        shape = tuple(f["shape"])
        X = np.unpackbits(f["X"], count=int(np.prod(shape))).reshape(shape)
        return X, f["names"].astype(str)


def render(X: np.ndarray, sigma: float, kind: str, seed, variety: bool = False
           ) -> np.ndarray:
    """``X`` as the model of (sigma, kind) reads micrographs: the training renders
    (``variety``: through an instrument drawn per image, as ``train --render-variety``)."""
    if kind == "grey":
        return render_training_set(X, sigma, seed, binarisation="none",
                                   level_error=GREY_LEVEL_ERROR, variety=variety)
    return render_training_set(X, sigma, seed, variety=variety)


def models(which: str):
    """(sigma, kind, file name) of the shipped models (0: the lattice-scale model)."""
    out = [(s, "binary", f) for s, (f, _) in SHIPPED.items()]
    out += [(s, "grey", f) for s, (f, _) in SHIPPED_GREY.items()]
    return [m for m in out if which == "all" or f"{m[0]:g}{m[1][0]}" in which.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="+", help="data sets of the classes (napari-hamiltonian "
                    "generate; also files of simulate.variants.faithful_variants)")
    ap.add_argument("--none", required=True, nargs="+",
                    help="files of none_set images (concatenated)")
    ap.add_argument("--make-none", type=int, metavar="N",
                    help="write missing --none files with N images per category, file i "
                    "with seed 300 + i")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--models-dir", help="read the model files here where present "
                    "(default: the shipped ones)")
    ap.add_argument("--models", default="all", help="e.g. '1b,2b,3b,2g,3g' (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variety", action="store_true",
                    help="render through instruments drawn per image (models trained with "
                    "--render-variety)")
    ap.add_argument("--cannot-tell-only", action="store_true",
                    help="keep each model's rejection; set only its cannot-tell thresholds "
                    "from the --none images (all of them)")
    args = ap.parse_args()
    sets = [load_dataset(f) for f in args.data]
    X = np.concatenate([d[0] for d in sets])
    y = np.concatenate([d[1].astype(str) for d in sets])
    parts = [load_none(f, None if args.make_none is None else (args.make_none, 100, 300 + i))
             for i, f in enumerate(args.none)]
    Xn = np.concatenate([p[0] for p in parts])
    families = np.concatenate([p[1] for p in parts])
    images = np.concatenate([X, Xn])
    labels = np.concatenate([y.astype(str), np.full(len(Xn), "none")])
    fam = np.concatenate([np.full(len(X), ""), families])
    for sigma, kind, name in models(args.models):
        t0 = time.perf_counter()
        mine = Path(args.models_dir or "") / name
        clf = (HamiltonianClassifier.load(mine, device="cpu")
               if args.models_dir and mine.is_file() else load_pretrained(sigma or None, kind))
        if sigma == 0:  # sharp images; micrographs of the classes are none of them here
            rng = np.random.default_rng([args.seed, 0])
            k = len(Xn) // len(set(families))
            blurred_ = blurred(X[rng.choice(len(X), k, replace=False)], rng.integers(1 << 31))
            rendered = np.concatenate([images, blurred_])
            lab = np.concatenate([labels, np.full(k, "none")])
            fams = np.concatenate([fam, np.full(k, "blurred")])
        else:
            rendered = render(images, sigma, kind, [args.seed, int(sigma * 10), kind == "grey"],
                              args.variety)
            lab, fams = labels, fam
        if args.cannot_tell_only:  # the rejection kept; its thresholds from the none
            keep = lab == "none"
            clf.calibrate_cannot_tell(rendered[keep], fams[keep])
        else:
            clf.calibrate_rejection(rendered, lab, fams, random_state=args.seed)
        out = Path(args.out_dir) / name
        clf.save(out)
        print(f"{name}: cannot-tell thresholds {np.round(clf.rejection_.cannot_tell, 3)}, "
              f"thresholds {np.round(clf.rejection_.thresholds, 3)}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
