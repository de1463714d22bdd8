"""The regressor's head trained on the statistics first, against the linear start
(issue 30): one family, the same images, the network with ``head_epochs`` 0 and N, and
the statistics baseline's gradient-boosted trees; errors overall and per quarter of the
first parameter's range.

    python benchmarks/eval_regressor_head.py C-3D --n 4000 --test 1000 --epochs 6
    python benchmarks/eval_regressor_head.py RF-2D --n 4000 --test 1000 --epochs 4
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_hamiltonian import HamiltonianRegressor
from napari_hamiltonian.parameters.baselines import StatisticsRegression
from napari_hamiltonian.parameters.families import family, simulate_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family")
    parser.add_argument("--n", type=int, default=4000, help="training images (seed 0)")
    parser.add_argument("--test", type=int, default=1000, help="test images (seed 1000)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--head-epochs", type=int, default=60)
    args = parser.parse_args()
    fam = family(args.family)
    X, y = simulate_family(fam.name, args.n, seed=0)
    Xt, yt = simulate_family(fam.name, args.test, seed=1000)
    lo, hi = fam.ranges[0]
    quarter = np.digitize(yt[:, 0], np.linspace(lo, hi, 5)[1:-1])

    def report(what: str, estimate: np.ndarray, seconds: float) -> None:
        err = np.abs(estimate[:, 0] - yt[:, 0])
        parts = ", ".join(f"{err[quarter == q].mean():.4f}" for q in range(4))
        print(f"| {what} | {err.mean():.4f} | {parts} | {seconds:.0f} |", flush=True)

    print(f"{fam.name}, {args.n} training images, {args.test} test images: "
          f"{fam.parameters[0]} MAE\n\n| model | all | per quarter of {lo:g}-{hi:g} | "
          "s |\n|---|---|---|---|")
    t0 = time.perf_counter()
    trees = StatisticsRegression(0).fit(X, y)
    report("statistics baseline (trees)", trees.predict(Xt), time.perf_counter() - t0)
    for head in (0, args.head_epochs):
        t0 = time.perf_counter()
        reg = HamiltonianRegressor(parameter_names=fam.parameters, epochs=args.epochs,
                                   statistics=fam.statistics, head_epochs=head,
                                   random_state=0).fit(X, y)
        report(f"network, {args.epochs} epochs, head_epochs={head}",
               reg.predict(Xt).reshape(len(Xt), -1), time.perf_counter() - t0)


if __name__ == "__main__":
    main()
