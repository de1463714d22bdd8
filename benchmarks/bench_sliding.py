"""Whole-image classification: the shared (fast) path against batched per-window inference.

A 760x760 RF-2D field-sweep frame at stride 1 (436,921 windows) with the shipped model:
wall time and peak RSS of ``classify_image`` (run in a fresh subprocess), and the rate of
batched per-window ``decision_function`` on a random sample of windows in the same run,
extrapolated to the whole frame. Also a 100-frame 760x760 stack at stride 4 through
``classify_stack`` (``--stack``), and (``--strides``) the time per frame at strides 1-8
(the best of ``--repeats`` runs each, all in one process) against batched per-window
inference of the same windows, with the logits of 300 windows per stride checked
against it.

Run: ``python benchmarks/bench_sliding.py [--size 760] [--stack | --stack-only |
--strides] [--psf-sigma S]`` (``--psf-sigma``: the shipped model of that resolution).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
import napari_hamiltonian as nh
from napari_hamiltonian.samples import field_sweep_stack
size, mode, psf = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
repeats = int(sys.argv[4])
clf = nh.load_pretrained(psf or None)
out = {}
if mode == "image":
    img = field_sweep_stack(size=size, fractions=(0.5,), seed=1)[0][0]
    nh.classify_image(img[:110, :110], clf)  # compile numba, build FFT kernels
    t = time.perf_counter()
    res = nh.classify_image(img, clf, stride=1)
    out["seconds"] = time.perf_counter() - t
    out["windows"] = int(res.labels.size)
    out["fractions"] = {c: round(f, 4) for c, (f, _) in res.fractions().items()}
    rng = np.random.default_rng(0)
    n = clf.window_
    pick = rng.integers(0, size - n + 1, (2000, 2))
    wins = np.stack([img[i:i + n, j:j + n] for i, j in pick])
    t = time.perf_counter()
    z = clf.decision_function(wins)
    rate = len(wins) / (time.perf_counter() - t)
    out["naive_windows_per_s"] = rate
    out["naive_seconds_extrapolated"] = res.labels.size / rate
    zf = res.logits[pick[:, 0], pick[:, 1]]
    order = [list(clf.classes_).index(c) for c in res.classes]
    out["max_logit_difference"] = float(np.abs(z[:, order] - zf).max())
    out["labels_equal"] = bool((z[:, order].argmax(1) == res.labels[pick[:, 0], pick[:, 1]]).all())
elif mode == "strides":
    img = field_sweep_stack(size=size, fractions=(0.5,), seed=1)[0][0]
    n = clf.window_
    nh.classify_image(img[:n + 20, :n + 20], clf)  # compile numba, build FFT kernels
    rng = np.random.default_rng(0)
    pick = rng.integers(0, size - n + 1, (2000, 2))
    wins = np.stack([img[i:i + n, j:j + n] for i, j in pick])
    t = time.perf_counter()
    clf.decision_function(wins)
    out["naive_windows_per_s"] = rate = len(wins) / (time.perf_counter() - t)
    rows = []
    for stride in range(1, 9):
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            res = nh.classify_image(img, clf, stride=stride)
            best = min(best, time.perf_counter() - t)
        ny, nx = res.labels.shape
        k = rng.choice(ny * nx, min(300, ny * nx), replace=False)
        iy, ix = np.divmod(k, nx)
        z = clf.decision_function(np.stack([img[i * stride:i * stride + n,
                                                j * stride:j * stride + n]
                                            for i, j in zip(iy, ix)]))
        order = [list(clf.classes_).index(c) for c in res.classes]
        rows.append({"stride": stride, "windows": int(ny * nx), "seconds": best,
                     "naive_seconds": ny * nx / rate,
                     "max_logit_difference": float(np.abs(z[:, order] - res.logits[iy, ix]).max()),
                     "labels_equal": bool((z[:, order].argmax(1) == res.labels[iy, ix]).all())})
    out["strides"] = rows
else:
    import dask, tempfile, tifffile
    from napari_hamiltonian.imaging.files import read_stack
    frames = field_sweep_stack(size=size, fractions=tuple(np.linspace(0.05, 0.95, 100)),
                               seed=2)[0]
    path = tempfile.mktemp(suffix=".tif")
    tifffile.imwrite(path, frames, compression="zlib")
    del frames
    stack = read_stack(path)
    t = time.perf_counter()
    res = nh.classify_stack(stack, clf, stride=4)
    labels = res.compute(res.labels)[0]
    out["seconds"] = time.perf_counter() - t
    out["frames"] = int(labels.shape[0])
    out["windows_per_frame"] = int(labels[0].size)
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def run(size: int, mode: str, psf_sigma: float = 0.0, repeats: int = 1) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(size), mode, str(psf_sigma),
                           str(repeats)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=760)
    ap.add_argument("--stack", action="store_true")
    ap.add_argument("--stack-only", action="store_true")
    ap.add_argument("--strides", action="store_true",
                    help="only the time per frame at strides 1-8")
    ap.add_argument("--repeats", type=int, default=3,
                    help="with --strides: runs per stride, the best counts")
    ap.add_argument("--psf-sigma", type=float, default=0.0,
                    help="the shipped model of this resolution (default: lattice scale)")
    args = ap.parse_args()
    t = time.perf_counter()
    if args.strides:
        strides_part(args.size, args.psf_sigma, args.repeats)
    elif not args.stack_only:
        image_part(args.size, args.psf_sigma)
    if args.stack or args.stack_only:
        s = run(args.size, "stack")
        print(f"stack of {s['frames']} frames {args.size}x{args.size} at stride 4 "
              f"({s['windows_per_frame']} windows each): {s['seconds']:.0f} s, "
              f"{s['seconds'] / s['frames']:.2f} s/frame, peak RSS {s['peak_rss_gib']:.2f} GiB")
    print(json.dumps({"total_seconds": round(time.perf_counter() - t, 1)}))


def strides_part(size: int, psf_sigma: float, repeats: int) -> None:
    r = run(size, "strides", psf_sigma, repeats)
    print(f"{size}x{size} frame; batched per-window inference "
          f"{r['naive_windows_per_s']:.0f} windows/s; best of {repeats} runs per stride")
    print("| stride | windows | s per frame | per-window inference, s | speed-up | "
          "max abs logit difference (300 windows) | labels equal |")
    print("|---|---|---|---|---|---|---|")
    for row in r["strides"]:
        print(f"| {row['stride']} | {row['windows']} | {row['seconds']:.2f} | "
              f"{row['naive_seconds']:.1f} | {row['naive_seconds'] / row['seconds']:.1f}x | "
              f"{row['max_logit_difference']:.1e} | {row['labels_equal']} |")
    print(f"peak RSS {r['peak_rss_gib']:.2f} GiB")


def image_part(size: int, psf_sigma: float = 0.0) -> None:
    r = run(size, "image", psf_sigma)
    print(f"{size}x{size} at stride 1: {r['windows']} windows in "
          f"{r['seconds']:.1f} s, peak RSS {r['peak_rss_gib']:.2f} GiB")
    print(f"batched per-window inference: {r['naive_windows_per_s']:.0f} windows/s -> "
          f"{r['naive_seconds_extrapolated']:.0f} s for the frame; speed-up "
          f"{r['naive_seconds_extrapolated'] / r['seconds']:.1f}x")
    print(f"agreement on 2000 random windows: max |logit difference| "
          f"{r['max_logit_difference']:.2e}, labels equal: {r['labels_equal']}")
    print("class shares:", r["fractions"])


if __name__ == "__main__":
    main()
