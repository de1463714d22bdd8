"""The cluster-geometry verdict on frames nobody fitted it to, beside the CNN.

Independent-seed (3001, not the references' seeds) 400x400 frames of each class, drawn
as the training set is (Table I ranges; a 3D class's frames are slices of 400x400x400
lattices, a few per lattice):

* sharp frames, clusters of >= 10 px: how often the geometric verdict (classes whose
  shipped references the measured exponents are consistent with, 95 %) includes the
  class that drew the frame, how many classes it names on average, and how often it
  agrees with the CNN (the shipped lattice-scale model's majority over windows at
  stride 20 is among the consistent classes);
* the same frames through a microscope (Gaussian PSF of sigma 2 px, signal to noise 8,
  physical threshold), clusters of >= 50 px (the PSF's core, pi (2 sigma)^2): the
  verdict against the references measured through the models' 2 px microscope
  (``geometry-references-psf2.json``), and the CNN of that resolution.

Also the time of :func:`napari_hamiltonian.geometry.measure` on a 760x760 frame.

Run: ``python benchmarks/eval_geometry.py [--n 12]``; prints Markdown.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

SEED = 3001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="frames per class")
    parser.add_argument("--size", type=int, default=400)
    args = parser.parse_args()

    import napari_hamiltonian as nh
    from napari_hamiltonian import geometry as g
    from napari_hamiltonian.classes import CLASSES
    from napari_hamiltonian.imaging.optics import Instrument
    from napari_hamiltonian.output.summary import frame_summary
    from napari_hamiltonian.simulate import make_dataset, percolation
    from napari_hamiltonian.simulate.percolation import PC_2D

    refs = g.References.load()
    blurred_refs = g.References.load(psf_sigma=2.0)
    warnings.simplefilter("ignore")
    sharp_model, blur_model = nh.load_pretrained(), nh.load_pretrained(psf_sigma=2.0)
    microscope = Instrument(psf_sigma=2.0, insulator=0.0, metal=1.0, noise=1 / 8)
    rng = np.random.default_rng(SEED)
    print(f"Frames {args.size}x{args.size}, {args.n} per class, seed {SEED}.\n")
    print("| class | sharp: truth in verdict | classes named | CNN agrees | "
          "PSF 2 px: truth in verdict | classes named | CNN agrees |")
    print("|---|---|---|---|---|---|---|")
    totals = np.zeros(6)
    start = time.time()
    for k, c in enumerate(CLASSES):
        X, _, _ = make_dataset(args.n, size=args.size, seed=SEED + 101 * k, classes=[c],
                               progress=False)
        X = X[: args.n]
        row = []
        for images, model, references in (
                (X, sharp_model, refs),
                (microscope.render(X, rng), blur_model, blurred_refs)):
            truth = named = agree = 0
            for x in images:
                v = g.verdict(g.measure(x, references.min_size), references)
                cnn = frame_summary(nh.classify_image(x, model, stride=20))["majority"]
                truth += c in v.consistent
                named += len(v.consistent)
                agree += g.cnn_agrees(cnn, v)
            n = len(images)
            row += [truth / n, named / n, agree / n]
        totals += row
        print(f"| {c} | {row[0]:.0%} | {row[1]:.1f} | {row[2]:.0%} | {row[3]:.0%} | "
              f"{row[4]:.1f} | {row[5]:.0%} |")
    t = totals / len(CLASSES)
    print(f"| all | {t[0]:.0%} | {t[1]:.1f} | {t[2]:.0%} | {t[3]:.0%} | {t[4]:.1f} | "
          f"{t[5]:.0%} |")
    print(f"\n({time.time() - start:.0f} s)")
    x = percolation(1, size=760, p=PC_2D, seed=1)[0]
    g.measure(x)  # compiled and imported
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        g.measure(x)
        times.append(time.perf_counter() - t0)
    print(f"\n`geometry.measure` on a 760x760 frame at p_c (both phases, all four "
          f"measures): {min(times):.2f} s (best of 3).")


if __name__ == "__main__":
    main()
