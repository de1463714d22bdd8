"""How well the shipped models read micrographs at the instrument's resolution.

On independent-seed data (seed 2001, not the training or test sets' seeds):

* per-window accuracy over the seven classes of the shipped model for each point-spread
  function (Gaussian sigma 1, 2, 3 px), on renders through
  :func:`napari_hamiltonian.imaging.optics.render_training_set` (contrast and signal to noise
  3-20 drawn per image), binarised at the physical level and by Otsu; the lattice-scale
  model on the same renders for comparison; the classes each model declares one group;
* whole 400x400 frames blurred at sigma 2 (Instrument, signal to noise 8, physical
  threshold) of C-2D, RF-2D, P-2D and an RF-3D surface (the middle slice of a
  400x400x100 lattice): the majority class over windows, and the PSF sigma estimated
  from the grey frame;
* the lattice-scale model on the sharp frames (its file and answers are unchanged by
  the models of other resolutions).

Run: ``python benchmarks/eval_resolution.py [--n 150]``; prints Markdown.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

SEED = 2001


def rf3d_surface(size: int, depth: int, disorder: float, seed: int) -> np.ndarray:
    """Middle slice of a zero-temperature RF-3D field sweep at half metal fraction."""
    from napari_hamiltonian.simulate.rfim import field_sweep, snapshot

    n = size * size * depth
    h = np.random.default_rng(seed).normal(0.0, disorder, n)
    order, ends, _ = field_sweep(h, depth, size, size)
    state = snapshot(order, ends, n // 2, n).reshape(depth, size, size)
    return state[depth // 2]


def frame_400(name: str, seed: int) -> np.ndarray:
    """A 400x400 frame of class ``name``: C-2D at T = 2.4, an RF-2D field sweep at R =
    1.1 and half metal, P-2D at p = 0.59, or the RF-3D surface of :func:`rf3d_surface`
    at R = 2.27."""
    import napari_hamiltonian as nh
    from napari_hamiltonian.samples import field_sweep_stack

    if name == "C-2D":
        return nh.simulate.ising2d(1, size=400, temperature=2.4, seed=seed)[0]
    if name == "RF-2D":
        return field_sweep_stack(size=400, disorder=1.1, fractions=(0.5,), seed=seed)[0][0]
    if name == "P-2D":
        return nh.simulate.percolation(1, size=400, p=0.59, seed=seed)[0]
    return rf3d_surface(400, 100, 2.27, seed)


def render_frame(frame: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(grey, binary) of a frame through the 2 px microscope of the whole-frame checks:
    Gaussian PSF, signal to noise 8, physical threshold."""
    from napari_hamiltonian.imaging.optics import Instrument

    ins = Instrument(2.0, insulator=1.0, metal=2.0, noise=1 / 8)
    grey = ins.grey(frame, rng)
    return grey, (grey > ins.level).view(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=150, help="images per class")
    ap.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    args = ap.parse_args()
    import napari_hamiltonian as nh
    from napari_hamiltonian.imaging.optics import render_training_set

    t0 = time.perf_counter()
    X, y, _ = nh.simulate.make_dataset(args.n, size=100, seed=SEED, progress=False)
    lattice = nh.load_pretrained()
    print("| sigma (px) | binarisation | model | accuracy | "
          + " | ".join(nh.CLASSES) + " | accepted |")
    print("|---" * (5 + len(nh.CLASSES)) + "|")
    groups = {}
    for sigma in args.sigmas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = nh.load_pretrained(psf_sigma=sigma)
        groups[sigma] = (clf.psf_sigma, clf.class_groups_)
        for binarisation in ("physical", "otsu"):
            R = render_training_set(X, sigma, [SEED, int(sigma * 100)], binarisation=binarisation)
            for name, model in ((f"psf {clf.psf_sigma:g}", clf), ("lattice", lattice)):
                pred = model.predict(R)
                per = [np.mean(pred[y == c] == c) for c in nh.CLASSES]
                print(f"| {sigma:g} | {binarisation} | {name} | {np.mean(pred == y):.1%} | "
                      + " | ".join(f"{p:.0%}" for p in per)
                      + f" | {model.score_confidence(R).mean():.0%} |")
    print()
    for sigma, (chosen, g) in groups.items():
        print(f"model for sigma {chosen:g} px: groups "
              + ("; ".join(" or ".join(x) for x in g) if g else "none"))
    clf2 = nh.load_pretrained(psf_sigma=2.0)
    print("\n| 400x400 frame | majority, sharp (lattice model) | majority, sigma 2 (psf 2 "
          "model) | windows of the truth | accepted | estimated sigma |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(SEED)
    for name in ("C-2D", "RF-2D", "P-2D", "RF-3D"):
        frame = frame_400(name, SEED)
        sharp = nh.classify_image(frame, lattice, stride=10)
        grey, binary = render_frame(frame, rng)
        blurred = nh.classify_image(binary, clf2, stride=10)
        share = np.mean(np.array(blurred.classes)[blurred.labels] == name)
        major = blurred.classes[int(np.bincount(blurred.labels.ravel()).argmax())]
        print(f"| {name} | {sharp.majority()} | {major} | {share:.0%} | "
              f"{blurred.confident.mean():.0%} | {nh.estimate_psf_sigma(grey):.2f} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
