"""Equilibration of the clean-Ising chains: hot/cold starts and autocorrelation times.

Measures, for the update step used by the generators (one checkerboard Metropolis sweep
followed by a fixed number of Wolff clusters):

* the energy per spin of hot-start and cold-start chains against the number of steps,
  to read off how long thermalisation takes (the two must meet); the Wolff count is
  tuned (``IsingChains.tune_wolff``) after the first half of these steps, as the
  generators do;
* the integrated autocorrelation time tau_int of the energy and of |m| in equilibrium
  (Sokal's automatic window, c = 6), in steps.

Run: ``python benchmarks/bench_equilibration.py [--dim 2|3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_hamiltonian.simulate.ising import IsingChains


def tau_int(series: np.ndarray, c: float = 6.0) -> float:
    """Integrated autocorrelation time of a 1D series (Sokal's windowing), in samples."""
    x = np.asarray(series, float) - np.mean(series)
    n = len(x)
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    if acf[0] == 0:
        return 0.5
    acf /= acf[0]
    tau = 0.5
    for w in range(1, n):
        tau += acf[w]
        if w >= c * tau:
            break
    return tau


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--fraction", type=float, default=0.5,
                    help="Wolff clusters per step flip about this fraction of N")
    ap.add_argument("--temperatures", type=float, nargs="*", default=None)
    ap.add_argument("--therm", type=int, default=None, help="steps shown for hot/cold")
    ap.add_argument("--measure", type=int, default=None, help="equilibrium steps for tau")
    args = ap.parse_args()
    d3 = args.dim == 3
    temps = args.temperatures or ([4.45, 4.51, 4.65] if d3 else [2.25, 2.27, 2.45, 2.64])
    therm = args.therm or (60 if d3 else 200)
    measure = args.measure or (300 if d3 else 4000)
    nt = len(temps)
    print(f"dim={args.dim} L={args.size} step = 1 sweep + Wolff clusters flipping "
          f"~{args.fraction} N spins")
    t0 = time.perf_counter()
    chains = IsingChains(2 * nt, args.size, temps + temps, dim=args.dim, seed=1,
                         start="hot")
    cold = IsingChains(nt, args.size, temps, dim=args.dim, seed=2, start="cold")
    chains.spins[nt:] = cold.spins
    checkpoints = sorted({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, therm} & set(range(therm + 1)))
    done = 0
    print("steps  " + "  ".join(f"T={t:.3f} hot/cold" for t in temps))
    for cp in checkpoints:
        if done < therm // 2 <= cp:  # measure cluster sizes over the second half
            chains.step(therm // 2 - done)
            chains.reset_cluster_stats()
            done = therm // 2
        chains.step(cp - done)
        done = cp
        if cp == therm:
            chains.tune_wolff(args.fraction)
        e = chains.energy()
        print(f"{cp:5d}  " + "  ".join(f"{e[i]:+.4f}/{e[nt + i]:+.4f}" for i in range(nt)))
    es, ms = [], []
    for _ in range(measure):
        chains.step(1)
        es.append(chains.energy())
        ms.append(np.abs(chains.magnetization()))
    es, ms = np.array(es), np.array(ms)
    chains.reset_cluster_stats()
    chains.step(1)
    mean_cluster = chains.mean_cluster_fraction()
    print(f"\n{measure} equilibrium steps; tau_int in steps (both chains averaged)")
    print("T        <E>/N      tau_E   tau_|m|   mean cluster / N   clusters/step")
    for i, t in enumerate(temps):
        te = np.mean([tau_int(es[:, i]), tau_int(es[:, nt + i])])
        tm = np.mean([tau_int(ms[:, i]), tau_int(ms[:, nt + i])])
        print(f"{t:.3f}  {es[:, [i, nt + i]].mean():+.5f}  {te:7.2f}  {tm:7.2f}   "
              f"{mean_cluster[[i, nt + i]].mean():.4f}   {chains.n_wolff[[i, nt + i]]}")
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
