"""How well the shipped model says "none of these" (issue: a rejection that works).

On independent-seed data (seed 1001, not the training or test sets' seeds): the rejected
share per category for the rejection (``score_confidence``) and the paper's k-sigma rule
(three readings), the accuracy on in-range images, and whole 400x400 frames.

Where possible the categories are drawn with generators that training never used, to
measure more than memorised categories:

* out of range: the seven models 12-40 % outside their Table I ranges, each category
  drawn from many independent lattices (4n images, one snapshot per RFIM sweep, n of
  them kept at random: a 3D sweep gives 13 correlated slices at one disorder);
* non-physical: level sets of fields with a power-law spectrum (not the Gaussian
  filter of training), random disks, wavy stripes, a few-pixel checkerboard with
  defects, nearly uniform images (under 1.5 % minority pixels: P* reaches down to 2 %,
  so sparser noise is in range), white noise at p = 0.5 smoothed by a 3x3 majority;
* blurred: each class through a Gaussian point-spread function of sigma 1, 2 and 3 px,
  noise 0.15, Otsu.

Run: ``python benchmarks/eval_rejection.py [--n 150] [--model FILE]``; prints Markdown.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

SEED = 1001


def power_law_field(rng, size, n):
    k = np.fft.fftfreq(size)
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    kk[0, 0] = 1.0
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        amp = kk ** (-rng.uniform(1.5, 3.5))
        amp[0, 0] = 0.0
        f = np.fft.ifft2(amp * np.exp(2j * np.pi * rng.random((size, size)))).real
        out[i] = f > np.quantile(f, rng.uniform(0.25, 0.75))
    return out


def disks(rng, size, n):
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        for _ in range(int(rng.integers(5, 40))):
            cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(2, 12)
            out[i] |= ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8)
    return out


def wavy_stripes(rng, size, n):
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        period, amp = rng.uniform(4, 20), rng.uniform(1, 8)
        a = rng.uniform(0, np.pi)
        u = xx * np.cos(a) + yy * np.sin(a)
        v = -xx * np.sin(a) + yy * np.cos(a)
        out[i] = np.sin(2 * np.pi * (u + amp * np.sin(v / rng.uniform(5, 20))) / period) > 0
    return out


def checker_defects(rng, size, n):
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        c = int(rng.integers(2, 6))
        out[i] = ((yy // c + xx // c) % 2) ^ (rng.random((size, size)) < 0.1)
    return out


def nearly_uniform(rng, size, n):
    return (rng.random((n, size, size)) < rng.uniform(0.0, 0.015, (n, 1, 1))).astype(np.uint8)


def majority_noise(rng, size, n):
    x = rng.random((n, size, size)) < 0.5
    return (ndimage.uniform_filter(x.astype(float), (0, 3, 3), mode="wrap") > 0.5
            ).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=150, help="images per category")
    ap.add_argument("--model", help="model file (default: the shipped model)")
    args = ap.parse_args()
    import napari_hamiltonian as nh
    from napari_hamiltonian.imaging.optics import micrograph
    from napari_hamiltonian.training.evaluation import acceptance
    from napari_hamiltonian.simulate.ising import sample_ising
    from napari_hamiltonian.simulate.rfim import sample_rfim

    t0 = time.perf_counter()
    clf = nh.HamiltonianClassifier.load(args.model) if args.model else nh.load_pretrained()
    n, size = args.n, 100
    rng = np.random.default_rng(SEED)
    X, y, _ = nh.simulate.make_dataset(max(n // 2, 1), size=size, seed=SEED, progress=False)
    rows = {}
    pred = clf.predict(X)
    acc = {c: float(np.mean(pred[y == c] == c)) for c in nh.CLASSES}
    rows["in range (all seven)"] = acceptance(clf, X)
    out_of_range = {
        "C-2D T 1.6-1.98 (ordered)": (sample_ising, (1.6, 1.98), 2),
        "C-2D T 2.95-3.6 (hot)": (sample_ising, (2.95, 3.6), 2),
        "C-3D T 3.7-3.95 (ordered)": (sample_ising, (3.7, 3.95), 3),
        "C-3D T 5.2-6.0 (hot)": (sample_ising, (5.2, 6.0), 3),
        "RF-2D R 0.6-0.88 (weak)": (sample_rfim, (0.6, 0.88), 2),
        "RF-2D R 1.34-2.0 (strong)": (sample_rfim, (1.34, 2.0), 2),
        "RF-3D R 1.6-2.0 (weak)": (sample_rfim, (1.6, 2.0), 3),
        "RF-3D R 2.55-3.2 (strong)": (sample_rfim, (2.55, 3.2), 3),
    }
    for k, (name, (gen, par, dim)) in enumerate(out_of_range.items()):
        # many independent lattices per category: a 3D RFIM sweep gives 13 slices per
        # snapshot and an Ising chain several configurations, all at one parameter
        extra = {"snapshots_per_sweep": 1} if gen is sample_rfim else {}
        pool = gen(4 * n, size, par, dim, SEED + k, **extra)[0]
        pick = np.random.default_rng(SEED + k).choice(len(pool), n, replace=False)
        rows[f"out of range: {name}"] = acceptance(clf, pool[pick])
    patterns = {"power-law field level sets": power_law_field, "random disks": disks,
                "wavy stripes": wavy_stripes, "checkerboard with defects": checker_defects,
                "nearly uniform": nearly_uniform, "majority-smoothed noise": majority_noise}
    for name, gen in patterns.items():
        rows[f"non-physical: {name}"] = acceptance(clf, gen(rng, size, n))
    for sigma in (1.0, 2.0, 3.0):
        rows[f"blurred, sigma {sigma:g} px"] = acceptance(
            clf, micrograph(X, sigma, 0.15, np.random.default_rng(SEED + int(sigma))))
    cols = list(next(iter(rows.values())))
    print("| images | " + " | ".join(f"rejected by {c}" for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{1 - r[c]:.1%}" for c in cols) + " |")
    groups = {"out of range": [], "non-physical": [], "blurred": []}
    for name, r in rows.items():
        for g in groups:
            if name.startswith(g):
                groups[g].append(1 - r["rejection"])
    print()
    print(f"in-range accepted: {rows['in range (all seven)']['rejection']:.1%}; accuracy "
          f"{np.mean(pred == y):.2%}, per class " + ", ".join(f"{c} {a:.1%}"
                                                             for c, a in acc.items()))
    for g, v in groups.items():
        print(f"{g}: rejected {np.mean(v):.1%} overall, lowest category {min(v):.1%}")
    # whole frames: 400x400 of each 2D class, sharp and blurred (sigma 2)
    from napari_hamiltonian.samples import field_sweep_stack
    frames = {
        "C-2D": nh.simulate.ising2d(1, size=400, temperature=2.4, seed=SEED)[0],
        "RF-2D": field_sweep_stack(size=400, disorder=1.1, fractions=(0.5,), seed=SEED)[0][0],
        "P-2D": nh.simulate.percolation(1, size=400, p=0.59, seed=SEED)[0],
        "P*": nh.simulate.percolation(1, size=400, p=0.1, seed=SEED)[0],
    }
    print("\n| 400x400 frame | accepted (sharp) | majority (sharp) | rejected (blurred, sigma 2) |")
    print("|---|---|---|---|")
    for name, img in frames.items():
        sharp = nh.classify_image(img, clf, stride=10)
        blur = nh.classify_image(micrograph(img[None], 2.0, 0.15, rng)[0], clf, stride=10)
        major = sharp.classes[int(np.bincount(sharp.labels.ravel()).argmax())]
        print(f"| {name} | {sharp.confident.mean():.1%} | {major} | {blur.rejected():.1%} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
