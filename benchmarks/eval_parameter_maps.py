"""Frame estimates and parameter maps of the shipped regressors (issue 30, second part).

1. Frames larger than a window: for each family, frames of the family's own simulator at
   parameters drawn over its training range, on lattices of side ``--size`` (400 px for
   the 2D families; 3D lattices of side ``--size-3d``, 200 by default, of which the
   13 slices are frames): coverage of the frame's nominal 90 % interval, its mean width
   beside the windows' own, the frame estimate's mean absolute error, and how often the
   windows' own intervals (calibrated on whole 100 px lattices) hold the frame's truth
   (the metal fraction of a window is its own, not the frame's: its coverage there
   measures nothing).
2. A disorder gradient: one 2D field sweep of 400 x 400 sites whose random fields have a
   width R rising linearly from ``R0`` to ``R1`` across x, snapshot at half metal: the
   slope of the map's R against the windows' mean true R (least squares over windows)
   over the true slope.
3. The bundled RF-2D stack (R = 1.1): each frame's disorder estimate and interval.

Seeds are independent of the training (0), window calibration (0) and frame calibration
(11) sets.

Run: ``python benchmarks/eval_parameter_maps.py [--frames 130] [--frames-3d 520]
[--families P C-2D ...] [--psf-sigma 2 --skip-extras]`` (about 20 min for every family
on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import napari_hamiltonian as nh
from napari_hamiltonian.parameters.families import as_micrographs, simulate_family
from napari_hamiltonian.parameters.maps import read_parameters
from napari_hamiltonian.samples import sample_path


def frames_coverage(name: str, n: int, size: int, seed: int = 4242,
                    psf_sigma: float = 0.0) -> dict:
    """Coverage and widths of the frame intervals of ``n`` frames of a family (seen
    through a microscope of PSF ``psf_sigma`` px and binarised, read by the regressor
    of that resolution)."""
    reg = nh.load_pretrained_regressor(name, psf_sigma)
    images, truth = simulate_family(name, n, size, seed=seed)
    images = as_micrographs(images, psf_sigma, seed)
    inside, width, own, error, windows = [], [], [], [], []
    for image, t in zip(images, truth):
        m = read_parameters(image, reg, name)
        low, high = m.frame_interval[:, 0], m.frame_interval[:, 1]
        inside.append((t >= low) & (t <= high))
        width.append(high - low)
        own.append(np.nanmean(m.interval[..., 1] - m.interval[..., 0], (0, 1)))
        error.append(np.abs(m.frame_estimate - t))
        read = m.inside
        windows.append(((m.interval[read][..., 0] <= t) & (t <= m.interval[read][..., 1]))
                       .mean(0))
    return {"family": name, "n": n, "size": size, "parameters": list(reg.parameter_names_),
            "coverage": np.mean(inside, 0), "frame_width": np.mean(width, 0),
            "window_width": np.mean(own, 0), "frame_mae": np.mean(error, 0),
            "window_coverage": np.mean(windows, 0),
            "n_independent": m.n_independent}


def gradient_frame(size: int, r0: float, r1: float, seed: int = 5) -> tuple:
    """A 2D field sweep whose disorder rises linearly across x, at half metal: (frame,
    R of each column)."""
    from napari_hamiltonian.simulate.rfim import field_sweep, snapshot

    r_of_x = np.linspace(r0, r1, size)
    h = np.random.default_rng(seed).normal(0.0, 1.0, (size, size)) * r_of_x[None, :]
    order, ends, _ = field_sweep(h.ravel(), 1, size, size)
    return snapshot(order, ends, size * size // 2, size * size).reshape(size, size), r_of_x


def gradient_slope(size: int = 400, r0: float = 0.8, r1: float = 2.0,
                   seeds=(5, 6, 7)) -> list[float]:
    """Map slope / true slope of R across x, per seed."""
    reg = nh.load_pretrained_regressor("RF-2D")
    out = []
    for seed in seeds:
        frame, r_of_x = gradient_frame(size, r0, r1, seed)
        m = read_parameters(frame, reg, "RF-2D")
        ny, nx = m.inside.shape
        true = np.array([r_of_x[j * m.stride:j * m.stride + m.window].mean()
                         for j in range(nx)])
        est = m.estimate[..., 0]
        slope = np.polyfit(np.tile(true, ny), est.ravel(), 1)[0]
        out.append(float(slope))
    return out


def bundled_stack() -> list[tuple]:
    """(frame, metal fraction, estimate, lower, upper) of R on the bundled stack."""
    import json

    import tifffile

    stack = tifffile.imread(sample_path("rf2d_stack.tif"))
    fractions = json.loads(sample_path("rf2d_stack_fields.json").read_text())
    reg = nh.load_pretrained_regressor("RF-2D")
    rows = []
    for t, frame in enumerate(stack):
        m = read_parameters(frame, reg, "RF-2D")
        rows.append((t, fractions.get("metal_fraction", [None] * len(stack))[t],
                     m.frame_estimate[0], *m.frame_interval[0]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=130,
                    help="frames per 2D family (default 130)")
    ap.add_argument("--frames-3d", type=int, default=520,
                    help="frames (slices) per 3D family: 13 per lattice (default 520, "
                    "40 lattices)")
    ap.add_argument("--size", type=int, default=400)
    ap.add_argument("--size-3d", type=int, default=200)
    ap.add_argument("--families", nargs="+", default=["P", "C-2D", "RF-2D", "C-3D",
                                                         "RF-3D"])
    ap.add_argument("--psf-sigma", type=float, default=0.0,
                    help="frames seen through a Gaussian PSF of this sigma (px) and "
                    "binarised, read by the shipped regressors of that resolution; the "
                    "gradient and the bundled stack are read at the lattice scale")
    ap.add_argument("--seed", type=int, default=4242,
                    help="of the frames (default 4242; the calibration frames' are 11 and "
                    "500)")
    ap.add_argument("--skip-extras", action="store_true",
                    help="only the frames' coverage (not the gradient and the stack)")
    args = ap.parse_args()
    for name in args.families:
        t0 = time.perf_counter()
        three = name.endswith("3D")
        size = args.size_3d if three else args.size
        r = frames_coverage(name, args.frames_3d if three else args.frames, size,
                            seed=args.seed, psf_sigma=args.psf_sigma)
        print(f"{name} ({r['n']} frames {size} px, PSF {args.psf_sigma:g} px, "
              f"{r['n_independent']:.0f} independent "
              f"windows each; {time.perf_counter() - t0:.0f} s)")
        for j, p in enumerate(r["parameters"]):
            print(f"  {p}: coverage {r['coverage'][j]:.3f}, frame width "
                  f"{r['frame_width'][j]:.4g}, window width {r['window_width'][j]:.4g} "
                  f"(ratio {r['frame_width'][j] / r['window_width'][j]:.2f}), frame MAE "
                  f"{r['frame_mae'][j]:.4g}; the windows' own intervals cover "
                  f"{r['window_coverage'][j]:.3f}", flush=True)
    if args.skip_extras:
        return
    slopes = gradient_slope(args.size)
    print("disorder gradient 0.8 -> 2.0 across x: map slope / true slope "
          + ", ".join(f"{s:.3f}" for s in slopes))
    print("bundled RF-2D stack (R = 1.1): frame, metal fraction, R estimate [90 % interval]")
    for t, f, e, lo, hi in bundled_stack():
        print(f"  {t} {f}: {e:.3f} [{lo:.3f}, {hi:.3f}] "
              f"{'covers' if lo <= 1.1 <= hi else 'MISSES'} 1.1")


if __name__ == "__main__":
    main()
