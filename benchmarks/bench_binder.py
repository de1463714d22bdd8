"""3D Ising: Binder cumulants of two lattice sizes cross near T_c = 4.5115.

Fully periodic L^3 cubes (``IsingChains(periodic_z=True)``; the generators use open z,
which shifts a film's pseudo-critical point) sampled with the generators' update step.
U_L(T) = 1 - <m^4> / (3 <m^2>^2); the crossing of U_L and U_2L is found by linear
interpolation of their difference between neighbouring temperatures.

Run: ``python benchmarks/bench_binder.py [--sizes 8 16] [--steps 2000]`` (a few minutes).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_hamiltonian.simulate.ising import TC_3D, IsingChains


def binder(size: int, temps: np.ndarray, steps: int, chains_per_t: int, seed: int):
    """U_L at each temperature and its standard error (from independent chains)."""
    t_all = np.repeat(temps, chains_per_t)
    ch = IsingChains(len(t_all), size, t_all, dim=3, seed=seed, periodic_z=True)
    ch.step(100)
    ch.reset_cluster_stats()
    ch.step(100)
    ch.tune_wolff(0.5)
    m2 = np.zeros(len(t_all))
    m4 = np.zeros(len(t_all))
    for _ in range(steps):
        ch.step(1)
        m = ch.magnetization()
        m2 += m**2
        m4 += m**4
    m2, m4 = (m2 / steps).reshape(-1, chains_per_t), (m4 / steps).reshape(-1, chains_per_t)
    u = 1 - m4.mean(1) / (3 * m2.mean(1) ** 2)
    # jackknife over chains
    jk = np.array([1 - np.delete(m4, k, 1).mean(1) / (3 * np.delete(m2, k, 1).mean(1) ** 2)
                   for k in range(chains_per_t)])
    err = np.sqrt((chains_per_t - 1) * jk.var(axis=0))
    return u, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[8, 16])
    ap.add_argument("--temperatures", type=float, nargs="+",
                    default=[4.44, 4.47, 4.50, 4.53, 4.56, 4.59])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chains", type=int, default=8, help="chains per temperature")
    args = ap.parse_args()
    temps = np.array(args.temperatures)
    t0 = time.perf_counter()
    res = {L: binder(L, temps, args.steps, args.chains, seed=L) for L in args.sizes}
    a, b = args.sizes
    print(f"T        U_{a:<3d}              U_{b:<3d}")
    for i, t in enumerate(temps):
        print(f"{t:.3f}  {res[a][0][i]:.4f} +- {res[a][1][i]:.4f}   "
              f"{res[b][0][i]:.4f} +- {res[b][1][i]:.4f}")
    d = res[a][0] - res[b][0]
    k = np.flatnonzero(np.sign(d[:-1]) != np.sign(d[1:]))
    for i in k:
        tx = temps[i] - d[i] * (temps[i + 1] - temps[i]) / (d[i + 1] - d[i])
        print(f"crossing at T = {tx:.4f} (T_c = {TC_3D}, difference {tx - TC_3D:+.4f})")
    if not len(k):
        print("no crossing in the temperature range")
    print(f"wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
