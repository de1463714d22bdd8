"""Do the shipped regressors' convolutions read the image? For each shipped regressor,
on images of its family (seed 99, through its microscope): the share of positive
activations after each convolution's ReLU, the spread across images of the window-mean
features the dense layer reads, and how much the estimates move when those features
are replaced by their mean over the images (0: the estimate is a function of the
pattern statistics alone).

    python benchmarks/conv_features.py [--n 60]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import napari_hamiltonian as nh
from napari_hamiltonian.classifier.symmetry import symmetry_reduce
from napari_hamiltonian.parameters import network
from napari_hamiltonian.parameters.families import as_micrographs, simulate_family
from napari_hamiltonian.shipped import REGRESSORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="images per family")
    args = parser.parse_args()
    images = {}
    print("| regressor | active after conv1 / conv2 / conv3 | largest feature spread | "
          "estimate moved / its error (mean, units of the first parameter) |\n"
          "|---|---|---|---|")
    for name, psf in sorted(REGRESSORS):
        if name not in images:
            images[name] = simulate_family(name, args.n, seed=99)
        X, y = images[name]
        X = as_micrographs(X, psf, 99)
        reg = nh.load_pretrained_regressor(name, psf_sigma=psf)
        model = reg.model_
        stats = torch.from_numpy(reg._standardised(network.statistics(X, reg.statistics)))
        with torch.no_grad():
            maps: list = []
            feats = model.features(network.to_input(symmetry_reduce(X)), maps)
            k = model.fc2.out_features // 2
            mean = feats.mean(0, keepdim=True).expand_as(feats)
            moved = np.abs(model.head(feats, stats)[:, :k].numpy()
                           - model.head(mean, stats)[:, :k].numpy())
        active = " / ".join(f"{float((m > 0).float().mean()):.1%}" for m in maps)
        moved = moved[:, 0].mean() * reg.target_scale_[0]
        error = np.abs(reg.predict(X).reshape(len(X), -1)[:, 0] - y[:, 0]).mean()
        print(f"| {name} at {psf:g} px | {active} | {float(feats.std(0).max()):.3g} | "
              f"{moved:.3g} / {error:.3g} |")


if __name__ == "__main__":
    main()
