"""Whole-image classification: the shared (fast) path against batched per-window inference.

A 760x760 RF-2D field-sweep frame at stride 1 (436,921 windows) with the shipped model:
wall time and peak RSS of ``classify_image`` (run in a fresh subprocess), and the rate of
batched per-window ``decision_function`` on a random sample of windows in the same run,
extrapolated to the whole frame. Also a 100-frame 760x760 stack at stride 4 through
``classify_stack`` (``--stack``).

Run: ``python benchmarks/bench_sliding.py [--size 760] [--stack | --stack-only]
[--psf-sigma S]`` (``--psf-sigma``: the shipped model of that resolution).
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


def run(size: int, mode: str, psf_sigma: float = 0.0) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(size), mode, str(psf_sigma)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=760)
    ap.add_argument("--stack", action="store_true")
    ap.add_argument("--stack-only", action="store_true")
    ap.add_argument("--psf-sigma", type=float, default=0.0,
                    help="the shipped model of this resolution (default: lattice scale)")
    args = ap.parse_args()
    t = time.perf_counter()
    if not args.stack_only:
        image_part(args.size, args.psf_sigma)
    if args.stack or args.stack_only:
        s = run(args.size, "stack")
        print(f"stack of {s['frames']} frames {args.size}x{args.size} at stride 4 "
              f"({s['windows_per_frame']} windows each): {s['seconds']:.0f} s, "
              f"{s['seconds'] / s['frames']:.2f} s/frame, peak RSS {s['peak_rss_gib']:.2f} GiB")
    print(json.dumps({"total_seconds": round(time.perf_counter() - t, 1)}))


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
