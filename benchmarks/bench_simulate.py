"""Speed of the generators and of symmetry reduction.

* ns per Metropolis spin update (checkerboard sweeps only, no Wolff), 2D 100^2 and
  3D 100^3, with as many chains as threads (both cores busy);
* ``symmetry_reduce`` throughput on a batch of 100x100 images;
* wall time of the paper's full training set (``make_dataset(8000)``: 64,000 images),
  per class (``--full``; about 5 minutes here).

Run: ``python benchmarks/bench_simulate.py [--full]``.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from napari_hamiltonian import symmetry_reduce
from napari_hamiltonian.simulate import make_dataset
from napari_hamiltonian.simulate.ising import IsingChains


def spin_update_ns(dim: int, size: int = 100, sweeps: int | None = None) -> float:
    """Wall-clock ns per spin update over all chains (one chain per thread)."""
    n_ch = numba.get_num_threads()
    chains = IsingChains(n_ch, size, 4.5 if dim == 3 else 2.3, dim=dim, seed=0)
    chains.n_wolff[:] = 0
    chains.step(1)  # compile
    sweeps = sweeps or (40 if dim == 3 else 4000)
    t = time.perf_counter()
    chains.step(sweeps)
    return (time.perf_counter() - t) / (sweeps * n_ch * chains.n_sites) * 1e9


def symmetry_rate(n: int = 50_000) -> float:
    """Images per second reduced by ``symmetry_reduce`` on an (n, 100, 100) batch."""
    rng = np.random.default_rng(0)
    x = (rng.random((n, 100, 100)) < rng.random((n, 1, 1))).astype(np.uint8)
    symmetry_reduce(x[:8])
    t = time.perf_counter()
    symmetry_reduce(x)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="time make_dataset(8000)")
    args = ap.parse_args()
    print(f"threads: {numba.get_num_threads()}")
    for dim in (2, 3):
        print(f"Metropolis {dim}D L=100: {spin_update_ns(dim):.2f} ns per spin update")
    print(f"symmetry_reduce: {symmetry_rate():,.0f} images/s (100x100)")
    if args.full:
        from napari_hamiltonian.simulate.dataset import CLASSES

        total = 0.0
        for code in CLASSES:
            t = time.perf_counter()
            X, _, _ = make_dataset(8000, seed=0, classes=[code], progress=False)
            dt = time.perf_counter() - t
            total += dt
            print(f"  {code:6s} {len(X):6d} images  {dt:6.1f} s")
        print(f"full training set (64,000 images): {total:.1f} s")


if __name__ == "__main__":
    main()
