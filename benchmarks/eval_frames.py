"""Whole 400x400 frames at a PSF of 2 px over several seeds (issue 13).

The frames of ``eval_resolution.py`` (C-2D at T = 2.4, an RF-2D field sweep at R = 1.1
and half metal, P-2D at p = 0.59, the middle slice of a 400x400x100 RF-3D lattice at R
= 2.27; RF-3D for the first three seeds only, 30-90 s each), rendered the same way
(Gaussian PSF 2 px, signal to noise 8, physical threshold), for seeds 2001-2006: the
majority class over windows (stride 10), the share of windows of the true class and the
share accepted, for each model given ("shipped": the shipped model for 2 px;
"shipped-grey": the shipped grey model for 2 px; or model files). A grey model reads the
grey frame by its phase levels (insulator 1, metal 2), misjudged by ``--level-offset``
(units of the contrast, added to both).

Run: ``python benchmarks/eval_frames.py shipped shipped-grey [MODEL.safetensors ...]
[--level-offset 0.05]`` (about 5 min per model).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from eval_resolution import frame_400, render_frame  # noqa: E402

SEEDS = (2001, 2002, 2003, 2004, 2005, 2006)


def frames(seed: int):
    for name in ("RF-2D", "C-2D", "P-2D") + (("RF-3D",) if seed in SEEDS[:3] else ()):
        yield name, frame_400(name, seed)


def main() -> None:
    import argparse

    import napari_hamiltonian as nh

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["shipped"])
    ap.add_argument("--level-offset", type=float, default=0.0)
    args = ap.parse_args()
    models, offset = args.models, args.level_offset
    levels = (1.0 + offset, 2.0 + offset)
    clfs = []
    for m in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clfs.append(nh.load_pretrained(psf_sigma=2.0) if m == "shipped"
                        else nh.load_pretrained(2.0, "grey") if m == "shipped-grey"
                        else nh.HamiltonianClassifier.load(m))
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for name, frame in frames(seed):
            grey, binary = render_frame(frame, rng)
            out = []
            for m, clf in zip(models, clfs):
                r = (nh.classify_image(grey, clf, stride=10, levels=levels)
                     if clf.input_kind == "grey" else nh.classify_image(binary, clf, stride=10))
                labels = np.array(r.classes)[r.labels]
                share = {c: np.mean(labels == c) for c in r.classes}
                major = max(share, key=share.get)
                out.append(f"{Path(m).name}: {major} ({share[name]:.0%} of windows the "
                           f"truth, {r.confident.mean():.0%} accepted)")
            print(seed, name, " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
