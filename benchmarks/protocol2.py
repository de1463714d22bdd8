"""A second, deliberately different protocol for the seven classes (issue 26, item 3).

Same Hamiltonians, same Table I parameter ranges, other choices everywhere else than
``simulate.make_dataset``, so that an evaluation on it shows whether the rejection keys
on our simulator's details instead of the physics:

* clean Ising 2D: a 256 x 256 periodic lattice started cold (all up) and thermalised
  for 300 steps; four 100 x 100 windows at random places per configuration (open
  boundaries as a camera's field of view has them);
* clean Ising 3D: a fully periodic 100^3 lattice (the paper's has open z), slices at
  random depths along x, y and z;
* random-field Ising 2D and 3D: lattices of 200 x 200 (2D, a random 100 x 100 window)
  and 100^3 (3D, random slices along every axis); the snapshot is chosen by
  magnetisation, the first state whose metal fraction reaches a value drawn uniformly
  in [0.2, 0.8] (ours: by field, 0.35-0.65), and half the sweeps run downwards (from all
  metal, fields reversed);
* percolation: another bit generator (Philox) and larger lattices cropped.

Images are stored with a margin of :data:`MARGIN` pixels (124 x 124), so that renders
blur the field around the window instead of mirroring its edges, and are rendered by
:func:`render`: an Airy or Gaussian point-spread function, Poisson shot noise, 8-bit
quantisation, then the physical threshold or the phase units.

    python benchmarks/protocol2.py data/protocol2_s500.npz --n-per-class 300 --seed 500
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import ndimage

from napari_hamiltonian.imaging.optics import airy_psf
from napari_hamiltonian.simulate import save_dataset
from napari_hamiltonian.simulate.table import CLASS_TABLE
from napari_hamiltonian.simulate.ising import IsingChains
from napari_hamiltonian.simulate.rfim import field_sweep

#: Pixels around each 100 x 100 window kept for the renders.
MARGIN = 12
WINDOW = 100
SIDE = WINDOW + 2 * MARGIN


def _crops(lattice: np.ndarray, k: int, rng) -> list[np.ndarray]:
    """``k`` random SIDE x SIDE crops of a periodic 2D lattice (wrapping around)."""
    out = []
    for _ in range(k):
        y, x = rng.integers(0, lattice.shape[0], 2)
        out.append(np.roll(lattice, (-y, -x), (0, 1))[:SIDE, :SIDE].copy())
    return out


def _slices(vol: np.ndarray, k: int, rng) -> list[np.ndarray]:
    """``k`` slices of a (L, L, L) volume at random depths along random axes, cropped
    (wrapping) to SIDE x SIDE from random places."""
    out = []
    for _ in range(k):
        axis, depth = int(rng.integers(3)), int(rng.integers(vol.shape[0]))
        plane = np.take(vol, depth, axis=axis)
        y, x = rng.integers(0, plane.shape[0], 2)
        out.append(np.tile(np.roll(plane, (-y, -x), (0, 1)), (2, 2))[:SIDE, :SIDE].copy())
    return out


def ising(n: int, dim: int, rng) -> np.ndarray:
    low, high = CLASS_TABLE["C-2D" if dim == 2 else "C-3D"][2]
    size = 256 if dim == 2 else WINDOW
    per = 4 if dim == 2 else 6
    n_conf = -(-n // per)
    chains = min(n_conf, 16 if dim == 2 else 4)
    rounds = -(-n_conf // chains)
    ch = IsingChains(chains, size, rng.uniform(low, high, chains), dim=dim,
                     seed=int(rng.integers(1 << 31)), start="cold", periodic_z=True)
    ch.step(150 if dim == 2 else 40)
    ch.reset_cluster_stats()
    ch.step(150 if dim == 2 else 40)
    ch.tune_wolff(0.5)
    out = []
    for _ in range(rounds):
        ch.step(10 if dim == 2 else 6)
        for lat in ch.lattices():
            out += _crops(lat, per, rng) if dim == 2 else _slices(lat, per, rng)
    return np.stack(out[:n])


def rfim(n: int, dim: int, rng) -> np.ndarray:
    low, high = CLASS_TABLE["RF-2D" if dim == 2 else "RF-3D"][2]
    size = 200 if dim == 2 else WINDOW
    lz = size if dim == 3 else 1
    per = 1 if dim == 2 else 8
    out = []
    while len(out) < n:
        r = rng.uniform(low, high)
        down = rng.random() < 0.5
        h = rng.normal(0.0, r, lz * size * size)
        order, ends, _ = field_sweep(-h if down else h, lz, size, size)
        m = rng.uniform(0.2, 0.8)
        count = math.ceil((1 - m if down else m) * h.size)
        k = min(int(np.searchsorted(ends, count)), len(ends) - 1)
        state = np.zeros(h.size, np.uint8)
        state[order[:ends[k]]] = 1
        if down:
            state = 1 - state  # the downward sweep of the fields h, mirrored exactly
        vol = state.reshape(lz, size, size)
        out += _crops(vol[0], per, rng) if dim == 2 else _slices(vol, per, rng)
    return np.stack(out[:n])


def percolation(n: int, code: str, rng) -> np.ndarray:
    ranges = CLASS_TABLE[code][2]
    ranges = ranges if isinstance(ranges, list) else [ranges]
    bits = np.random.Generator(np.random.Philox(int(rng.integers(1 << 31))))
    out = []
    for _ in range(n):
        low, high = ranges[int(bits.integers(len(ranges)))]
        out.append((bits.random((SIDE, SIDE)) < bits.uniform(low, high)).astype(np.uint8))
    return np.stack(out)


def make(n_per_class: int, seed: int):
    rng = np.random.default_rng([seed, 2])
    X, y = [], []
    for code in CLASS_TABLE:
        n = n_per_class * (2 if code == "P*" else 1)
        kind = CLASS_TABLE[code][0]
        if kind.startswith("ising"):
            x = ising(n, 3 if kind.endswith("3d") else 2, rng)
        elif kind.startswith("rfim"):
            x = rfim(n, 3 if kind.endswith("3d") else 2, rng)
        else:
            x = percolation(n, code, rng)
        X.append(x.astype(np.uint8))
        y += [code] * n
        print(code, len(x), flush=True)
    return np.concatenate(X), np.array(y)


def render(X: np.ndarray, sigma: float, kind: str, seed) -> np.ndarray:
    """Protocol-2 micrographs of SIDE x SIDE images, cropped to the 100 x 100 window:
    Airy (half of the images) or Gaussian PSF of ``sigma`` px over the whole crop,
    intensities drawn per image, Poisson shot noise at 30-1000 photons per metal pixel,
    8-bit quantisation; then the physical threshold (binary) or phase units (grey,
    exact levels)."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(X), WINDOW, WINDOW), np.float32 if kind == "grey" else np.uint8)
    m = slice(MARGIN, MARGIN + WINDOW)
    for i, img in enumerate(np.asarray(X, np.float64)):
        if sigma > 0:
            if rng.random() < 0.5:
                img = ndimage.convolve(img, airy_psf(sigma).astype(np.float64), mode="wrap")
            else:
                img = ndimage.gaussian_filter(img, sigma, mode="wrap")
        dark = rng.uniform(0.05, 0.5)  # insulator brightness relative to metal
        photons = math.exp(rng.uniform(math.log(30), math.log(1000)))
        counts = rng.poisson(photons * (dark + (1 - dark) * img))
        full = photons * 1.1
        grey8 = np.clip(np.round(255 * counts / full), 0, 255)  # 8-bit camera
        ins, met = 255 * photons * dark / full, 255 * photons / full
        phase = (grey8 - ins) / (met - ins)
        out[i] = phase[m, m] if kind == "grey" else (phase[m, m] > 0.5)
    return out


def crop(X: np.ndarray) -> np.ndarray:
    """The 100 x 100 windows of SIDE x SIDE images (lattice scale, no render)."""
    return np.ascontiguousarray(X[:, MARGIN:MARGIN + WINDOW, MARGIN:MARGIN + WINDOW])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--seed", type=int, default=500)
    args = ap.parse_args()
    X, y = make(args.n_per_class, args.seed)
    nan = np.full(len(y), np.nan)
    save_dataset(args.out, X, y, {"parameter": nan}, {"protocol": 2, "seed": args.seed,
                                                        "margin": MARGIN})


if __name__ == "__main__":
    main()
