"""Calibrate the frame estimates of shipped regressors anew (issue 30): the error a
frame's windows share (``HamiltonianRegressor.calibrate_frames``), measured on frames read
as parameter maps read them (100 px windows every 25 px). The networks and the windows'
own intervals do not change.

    python benchmarks/calibrate_regressor_frames.py P C-2D RF-2D C-3D RF-3D --seed 11 \
        --n-frames 300 --n-frames-3d 650 --out-dir src/napari_hamiltonian/models
    python benchmarks/calibrate_regressor_frames.py P C-2D RF-2D RF-3D --psf-sigma 2 \
        --seed 500 --n-frames 321 --n-frames-3d 240 --out-dir src/napari_hamiltonian/models

The frames (``parameters.families.calibration_frames``: 2D lattices of 300-500 px,
200 px slices of 3D lattices; through the instrument for a PSF > 0) are kept in
``--cache`` (``data/regcal``) so that a rerun does not simulate them again. Prints each
file's new SHA-256 for ``shipped.REGRESSORS``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_hamiltonian.classifier.modelfile import file_sha256
from napari_hamiltonian.parameters.families import FRAME_SIDES, calibration_frames
from napari_hamiltonian.parameters.frames import PARAMETER_STRIDE
from napari_hamiltonian.parameters.pretrained import load_pretrained_regressor
from napari_hamiltonian.shipped import REGRESSORS


def frames_of(name: str, n: int, seed: int, psf: float, cache: Path) -> tuple[list, np.ndarray]:
    """The calibration frames of a family, simulated once and kept in ``cache``."""
    path = cache / f"{name}_psf{psf:g}_n{n}_s{seed}_frames.npz"
    if path.exists():
        with np.load(path) as data:
            sides = [k for k in data.files if k.startswith("x")]
            frames = [f for k in sides for f in data[k]]
            return frames, np.concatenate([data["y" + k[1:]] for k in sides])
    t0 = time.perf_counter()
    frames, truth = calibration_frames(name, n, seed, psf)
    by_side: dict = {}
    for f, t in zip(frames, truth):
        by_side.setdefault(f.shape[0], ([], []))
        by_side[f.shape[0]][0].append(f)
        by_side[f.shape[0]][1].append(t)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"{p}{side}": np.stack(v[i])
                                 for side, v in by_side.items()
                                 for i, p in enumerate("xy")})
    print(f"{name}: simulated {len(frames)} frames in {time.perf_counter() - t0:.0f} s")
    return frames, truth  # side by side, the order the file gives back


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("families", nargs="+")
    ap.add_argument("--psf-sigma", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n-frames", type=int, default=300, help="2D families")
    ap.add_argument("--n-frames-3d", type=int, default=650, help="3D families (slices)")
    ap.add_argument("--stride", type=int, default=PARAMETER_STRIDE)
    ap.add_argument("--cache", type=Path, default=Path("data/regcal"))
    ap.add_argument("--out-dir", type=Path, required=True)
    args = ap.parse_args()
    for name in args.families:
        reg = load_pretrained_regressor(name, args.psf_sigma)
        n = args.n_frames_3d if name.endswith("3D") else args.n_frames
        frames, truth = frames_of(name, n, args.seed, args.psf_sigma, args.cache)
        t0 = time.perf_counter()
        reg.calibrate_frames(frames, truth, stride=args.stride)
        reg.training_info_["frame_calibration"] = {
            "n_frames": len(frames), "sides": list(FRAME_SIDES[name]), "seed": args.seed,
            "stride": args.stride}
        path = args.out_dir / REGRESSORS[(name, args.psf_sigma)][0]
        reg.save(path)
        print(f"{name} at {args.psf_sigma:g} px: {len(frames)} frames read in "
              f"{time.perf_counter() - t0:.0f} s; shared error over all frames "
              f"{np.round(reg.shared_error(), 4).tolist()}, 90 % conformal factor "
              f"{np.round(reg.frame_factor(0.9), 3).tolist()}\n  {path.name} "
              f"{file_sha256(path)}")


if __name__ == "__main__":
    main()
