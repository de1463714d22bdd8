"""Models trained for a Gaussian point-spread function, read through other optics
(issue 13).

The card's independent test set (the images of the classes) rendered as
:func:`napari_hamiltonian.imaging.optics.render_training_set` renders it (intensities and signal
to noise 3-20 drawn per image, levels known exactly) through a Gaussian of 2 px, the
Airy pattern whose central peak matches it, and a defocus disk of the same second
moment (radius 4 px); each read by the shipped binary model for 2 px (physical
threshold) and the shipped grey model for 2 px (phase units).

Run: ``python benchmarks/eval_psf_shapes.py data/test_s1.npz`` (about 5 minutes).
Prints Markdown.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

#: (name, psf shape, width parameter in px): equal second moments per axis (a disk of
#: radius R has R^2 / 4), the Airy pattern matched at its peak.
OPTICS = (("Gaussian, sigma 2 px", "gaussian", 2.0),
          ("Airy, peak of sigma 2 px", "airy", 2.0),
          ("defocus disk, radius 4 px", "defocus", 4.0))


def main() -> None:
    import napari_hamiltonian as nh
    from napari_hamiltonian.imaging.optics import render_training_set
    from napari_hamiltonian.training.evaluation import evaluate
    from napari_hamiltonian.simulate import load_dataset

    t0 = time.perf_counter()
    X, y = load_dataset(sys.argv[1])[:2]
    keep = np.isin(y, nh.CLASSES)
    X, y = X[keep], y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"binary": nh.load_pretrained(2.0), "grey": nh.load_pretrained(2.0, "grey")}
    print("| optics | model | accuracy | " + " | ".join(nh.CLASSES) + " | accepted |")
    print("|---" * (4 + len(nh.CLASSES)) + "|")
    for name, shape, width in OPTICS:
        for kind, clf in models.items():
            images = render_training_set(X, width, seed=[0, 3], psf=shape,
                                         binarisation="none" if kind == "grey"
                                         else "physical")
            r = evaluate(clf, images, y)
            print(f"| {name} | {kind} | {r['accuracy']:.1%} | "
                  + " | ".join(f"{r['per_class'][c]:.0%}" for c in nh.CLASSES)
                  + f" | {r['confident']:.0%} |", flush=True)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
