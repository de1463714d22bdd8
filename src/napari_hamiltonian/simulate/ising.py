"""Clean Ising model (J = 1, nearest neighbours): checkerboard Metropolis + Wolff.

Lattices are stored in a *split checkerboard* layout so that the Metropolis update of
one colour is a straight, vectorisable loop: ``spins[c, z + 1, y, j]`` holds the spin at
``(z, y, x = 2 j + ((z + y + c) & 1))`` for colour ``c = (x + y + z) & 1``. Planes 0 and
``Lz + 1`` are zero padding, which makes the z direction open (a 2D lattice is the case
``Lz = 1``). x and y are periodic. Spins are uint8, 1 = up, 0 = down.

Random numbers: every ``(y, j)`` column of a chain carries its own xorshift64 stream
(Marsaglia 2003, shifts 13/7/17) whose top 31 bits drive the acceptance test, so
the eight lanes of an AVX2 register each have an independent stream; the Wolff updates
use a per-chain xorshift64* stream. All streams are seeded from :class:`numpy.random.
SeedSequence`, so a given seed gives the same samples whatever the number of threads.

The acceptance test is branch free: a spin with ``a`` aligned neighbours out of ``q``
costs ``dE = 2 (2 a - q)`` to flip, and flips when the 31-bit random integer is below
``2**31 * min(1, exp(-dE / T))``, taken from a three-entry table per plane.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._common import (
    N_SLICES,
    SLICE_NAMES,
    check_count,
    check_range,
    check_size,
    draw_uniform,
    slices13,
    spawn_generators,
)

#: Exact critical temperature of the 2D square-lattice Ising model (Onsager).
TC_2D = 2.0 / math.log(1.0 + math.sqrt(2.0))
#: Critical temperature of the simple-cubic Ising model (Ferrenberg et al. 2018).
TC_3D = 4.5115232

_U64 = np.uint64
_ONE31 = 2**31


# --------------------------------------------------------------------------- layout
def _parity(lz: int, ly: int) -> np.ndarray:
    """``(z + y) & 1`` as a boolean (lz, ly, 1) array."""
    return ((np.arange(lz)[:, None] + np.arange(ly)[None, :]) & 1).astype(bool)[..., None]


def to_split(full: np.ndarray) -> np.ndarray:
    """Full lattice ``(Lz, L, L)`` uint8 -> split layout ``(2, Lz + 2, L, L // 2)``."""
    lz, ly, lx = full.shape
    pairs = full.reshape(lz, ly, lx // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    par = _parity(lz, ly)
    out = np.zeros((2, lz + 2, ly, lx // 2), dtype=np.uint8)
    out[0, 1:-1] = np.where(par, odd, even)  # colour 0 sits at x = 2j + ((z + y) & 1)
    out[1, 1:-1] = np.where(par, even, odd)
    return out


def from_split(split: np.ndarray) -> np.ndarray:
    """Split layout ``(2, Lz + 2, L, H)`` -> full lattice ``(Lz, L, 2 H)`` uint8."""
    _, lzp, ly, h = split.shape
    c0, c1 = split[0, 1:-1], split[1, 1:-1]
    par = _parity(lzp - 2, ly)
    full = np.empty((lzp - 2, ly, h, 2), dtype=np.uint8)
    full[..., 0] = np.where(par, c1, c0)
    full[..., 1] = np.where(par, c0, c1)
    return full.reshape(lzp - 2, ly, 2 * h)


# --------------------------------------------------------------------------- kernels
@nb.njit(inline="always")
def _xorshift64star(state: np.ndarray, k: int) -> np.uint64:
    x = state[k]
    x ^= x >> _U64(12)
    x ^= x << _U64(25)
    x ^= x >> _U64(27)
    state[k] = x
    return x * _U64(0x2545F4914F6CDD1D)


@nb.njit(inline="always")
def _row(a, b, st, zp, y, ym, yp, j0, j1, dj, q, ta, tb, tc):
    """Metropolis update of sites j0..j1-1 of row (zp, y) of colour array ``a``."""
    first = q // 2 + 1  # the smallest number of aligned neighbours that costs energy
    for j in range(j0, j1):
        nup = (
            np.int32(b[zp - 1, y, j])
            + np.int32(b[zp + 1, y, j])
            + np.int32(b[zp, ym, j])
            + np.int32(b[zp, yp, j])
            + np.int32(b[zp, y, j])
            + np.int32(b[zp, y, j + dj])
        )
        s = np.int32(a[zp, y, j])
        k = q - nup + s * (2 * nup - q) - first  # aligned neighbours - first
        x = st[y, j]
        x ^= x << _U64(13)
        x ^= x >> _U64(7)
        x ^= x << _U64(17)
        st[y, j] = x
        r = np.uint32(x >> _U64(33))
        t = tb if k == 1 else tc
        t = ta if k == 0 else t
        t = np.uint32(_ONE31) if k < 0 else t
        a[zp, y, j] ^= np.uint8(r < t)


@nb.njit(inline="always")
def _half_sweep(spins, c, st, nnb, ta, tb, tc, periodic_z):
    """One Metropolis pass over all sites of colour ``c``."""
    a = spins[c]
    b = spins[1 - c]
    lz = a.shape[0] - 2
    if periodic_z:  # ghost planes: copies of the opposite surfaces (Lz even)
        b[0] = b[lz]
        b[lz + 1] = b[1]
    ly = a.shape[1]
    h = a.shape[2]
    for zp in range(1, lz + 1):
        z = zp - 1
        q = nnb[z]
        for y in range(ly):
            ym = y - 1 if y > 0 else ly - 1
            yp = y + 1 if y < ly - 1 else 0
            if (z + y + c) & 1:  # x = 2j + 1: right neighbour is j + 1
                _row(a, b, st, zp, y, ym, yp, 0, h - 1, 1, q, ta[z], tb[z], tc[z])
                _row(a, b, st, zp, y, ym, yp, h - 1, h, 1 - h, q, ta[z], tb[z], tc[z])
            else:  # x = 2j: left neighbour is j - 1
                _row(a, b, st, zp, y, ym, yp, 0, 1, h - 1, q, ta[z], tb[z], tc[z])
                _row(a, b, st, zp, y, ym, yp, 1, h, -1, q, ta[z], tb[z], tc[z])


@nb.njit(inline="always")
def _get(spins, z, y, x):
    return spins[(z + y + x) & 1, z + 1, y, x >> 1]


@nb.njit(inline="always")
def _flip(spins, z, y, x):
    spins[(z + y + x) & 1, z + 1, y, x >> 1] ^= np.uint8(1)


@nb.njit(cache=True)
def _wolff(spins, wst, k, padd, stack, periodic_z=False):
    """Grow and flip one Wolff cluster; return its size. Periodic in x, y; z open or not.

    ``padd`` is the bond probability 1 - exp(-2 / T) scaled to a uint64 threshold.
    """
    lz = spins.shape[1] - 2
    ly = spins.shape[2]
    lx = 2 * spins.shape[3]
    n = lz * ly * lx
    seed = np.int64(_xorshift64star(wst, k) % _U64(n))
    z0 = seed // (ly * lx)
    y0 = (seed // lx) % ly
    x0 = seed % lx
    s0 = _get(spins, z0, y0, x0)
    _flip(spins, z0, y0, x0)
    stack[0] = (z0 << 32) | (y0 << 16) | x0  # packed coordinates: no divisions below
    top = 1
    size = 1
    while top > 0:
        top -= 1
        site = stack[top]
        z = site >> 32
        y = (site >> 16) & 0xFFFF
        x = site & 0xFFFF
        for d in range(6):
            zz, yy, xx = z, y, x
            if d == 0:
                xx = x + 1 if x < lx - 1 else 0
            elif d == 1:
                xx = x - 1 if x > 0 else lx - 1
            elif d == 2:
                yy = y + 1 if y < ly - 1 else 0
            elif d == 3:
                yy = y - 1 if y > 0 else ly - 1
            elif d == 4:
                if z == lz - 1 and not (periodic_z and lz > 1):
                    continue
                zz = z + 1 if z < lz - 1 else 0
            else:
                if z == 0 and not (periodic_z and lz > 1):
                    continue
                zz = z - 1 if z > 0 else lz - 1
            if _get(spins, zz, yy, xx) == s0 and _xorshift64star(wst, k) < padd:
                _flip(spins, zz, yy, xx)
                stack[top] = (zz << 32) | (yy << 16) | xx
                top += 1
                size += 1
    return size


@nb.njit(cache=True)
def _thresholds(beta, nnb):
    """Per-plane 31-bit acceptance thresholds for 1, 2, 3 aligned neighbours past half."""
    lz = nnb.shape[0]
    ta = np.empty(lz, np.uint32)
    tb = np.empty(lz, np.uint32)
    tc = np.empty(lz, np.uint32)
    for z in range(lz):
        q = nnb[z]
        first = q // 2 + 1
        ta[z] = np.uint32(math.exp(-2.0 * beta * (2 * first - q)) * _ONE31)
        tb[z] = np.uint32(math.exp(-2.0 * beta * (2 * first + 2 - q)) * _ONE31)
        tc[z] = np.uint32(math.exp(-2.0 * beta * (2 * first + 4 - q)) * _ONE31)
    return ta, tb, tc


@nb.njit(parallel=True, cache=True)
def _advance(spins, st, wst, betas, nnb, n_steps, n_wolff, cluster_sum, periodic_z):
    """Run ``n_steps`` steps (one checkerboard sweep + ``n_wolff[ch]`` clusters) per chain.

    Chains run in parallel; each chain's result depends only on its own state.
    ``cluster_sum[ch]`` accumulates the flipped cluster sizes.
    """
    n_ch = spins.shape[0]
    n_sites = (spins.shape[2] - 2) * spins.shape[3] * spins.shape[4] * 2
    for ch in nb.prange(n_ch):
        beta = betas[ch]
        ta, tb, tc = _thresholds(beta, nnb)
        padd = np.uint64(-math.expm1(-2.0 * beta) * 18446744073709549568.0)
        stack = np.empty(n_sites, np.int64)
        sp = spins[ch]
        s = st[ch]
        acc = 0
        for _ in range(n_steps):
            _half_sweep(sp, 0, s, nnb, ta, tb, tc, periodic_z)
            _half_sweep(sp, 1, s, nnb, ta, tb, tc, periodic_z)
            for _w in range(n_wolff[ch]):
                acc += _wolff(sp, wst, ch, padd, stack, periodic_z)
        cluster_sum[ch] += acc


# --------------------------------------------------------------------------- chains
class IsingChains:
    """Independent Ising Markov chains advanced together, in parallel.

    Parameters
    ----------
    n_chains : int
        Number of chains.
    size : int
        Lattice side L (even): the lattice is L x L (``dim=2``, periodic) or
        L x L x L (``dim=3``, periodic in x and y, open in z).
    temperatures : array_like, shape (n_chains,)
        Temperature of each chain in units of J / k_B.
    dim : {2, 3}
        Dimension.
    seed : int or numpy.random.SeedSequence
        Seed of every random stream of the chains.
    start : {"hot", "cold"}
        Random (infinite temperature) or all-up initial configuration.
    periodic_z : bool
        Make z periodic too (3D only; a fully periodic cube, used to check the bulk
        critical point). The generators use open z, as in the paper.
    """

    def __init__(self, n_chains, size, temperatures, dim=2, seed=0, start="hot",
                 periodic_z=False):
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        if start not in ("hot", "cold"):
            raise ValueError(f"start must be 'hot' or 'cold', got {start!r}")
        if size < 2 or size % 2:
            raise ValueError(f"size must be even and >= 2, got {size}")
        temps = np.broadcast_to(np.asarray(temperatures, dtype=float), (n_chains,)).copy()
        if not np.all(np.isfinite(temps)) or np.any(temps <= 0):
            raise ValueError(f"temperature must be > 0, got {temperatures!r}")
        lz = size if dim == 3 else 1
        self.dim, self.size, self.temperatures = dim, size, temps
        self.nnb = np.full(lz, 6 if dim == 3 else 4, dtype=np.int32)
        self.periodic_z = bool(periodic_z and dim == 3)
        if dim == 3 and not self.periodic_z:
            self.nnb[[0, -1]] = 5  # open z-surfaces
        rngs = spawn_generators(seed, n_chains)
        h = size // 2
        self.spins = np.zeros((n_chains, 2, lz + 2, size, h), dtype=np.uint8)
        self.st = np.empty((n_chains, size, h), dtype=np.uint64)
        self.wst = np.empty(n_chains, dtype=np.uint64)
        for ch, rng in enumerate(rngs):
            if start == "hot":
                full = rng.integers(0, 2, (lz, size, size), dtype=np.uint8)
            else:
                full = np.ones((lz, size, size), dtype=np.uint8)
            self.spins[ch] = to_split(full)
            self.st[ch] = rng.integers(1, 2**63, (size, h), dtype=np.uint64)
            self.wst[ch] = rng.integers(1, 2**63, dtype=np.uint64)
        self.n_wolff = np.full(n_chains, 10, dtype=np.int64)
        self.reset_cluster_stats()

    @property
    def n_sites(self) -> int:
        """Number of spins of one chain."""
        return self.size ** self.dim

    def reset_cluster_stats(self) -> None:
        """Forget the cluster sizes accumulated so far."""
        self.cluster_sum = np.zeros(len(self.temperatures), dtype=np.int64)
        self.cluster_count = np.zeros(len(self.temperatures), dtype=np.int64)

    def mean_cluster_fraction(self) -> np.ndarray:
        """Mean Wolff cluster size / N of each chain since the last reset."""
        return self.cluster_sum / np.maximum(self.cluster_count, 1) / self.n_sites

    def tune_wolff(self, fraction: float = 0.5, max_clusters: int = 200) -> None:
        """Fix the Wolff clusters per step so that they flip ~``fraction`` x N spins.

        Uses the mean cluster size measured since the last reset. Call it during
        thermalisation only: once sampling starts the count stays fixed, so that the
        saved configurations are not biased towards the last cluster's size.
        """
        mean = np.maximum(self.cluster_sum / np.maximum(self.cluster_count, 1), 1.0)
        self.n_wolff = np.clip(np.ceil(fraction * self.n_sites / mean), 1, max_clusters)
        self.n_wolff = self.n_wolff.astype(np.int64)

    def step(self, n_steps: int = 1) -> None:
        """Advance every chain by ``n_steps`` x (one sweep + ``n_wolff[chain]`` clusters)."""
        _advance(
            self.spins, self.st, self.wst, 1.0 / self.temperatures, self.nnb,
            n_steps, self.n_wolff, self.cluster_sum, self.periodic_z,
        )
        self.cluster_count += n_steps * self.n_wolff

    def lattices(self) -> np.ndarray:
        """Current configurations, uint8 of shape (n_chains, L, L) or (n_chains, L, L, L)."""
        out = np.stack([from_split(s) for s in self.spins])
        return out[:, 0] if self.dim == 2 else out

    def energy(self) -> np.ndarray:
        """Energy per spin ``-sum_<ij> s_i s_j / N`` of each chain, shape (n_chains,)."""
        s = self.lattices().astype(np.int8) * 2 - 1
        if self.dim == 2:
            s = s[:, None]
        bonds = (s * np.roll(s, 1, axis=-1)).sum(axis=(1, 2, 3), dtype=np.int64)
        bonds += (s * np.roll(s, 1, axis=-2)).sum(axis=(1, 2, 3), dtype=np.int64)
        if self.periodic_z:
            bonds += (s * np.roll(s, 1, axis=1)).sum(axis=(1, 2, 3), dtype=np.int64)
        else:
            bonds += (s[:, 1:] * s[:, :-1]).sum(axis=(1, 2, 3), dtype=np.int64)
        return -bonds / self.n_sites

    def magnetization(self) -> np.ndarray:
        """Magnetisation per spin ``sum_i s_i / N`` of each chain, shape (n_chains,)."""
        s = self.lattices()
        axes = tuple(range(1, s.ndim))
        return 2.0 * s.mean(axis=axes) - 1.0


# --------------------------------------------------------------------------- sampling
#: Sampling protocol of the generators, chosen from ``benchmarks/bench_equilibration.py``
#: (figures in BENCHMARKS.md): thermalisation steps (the cluster count is tuned on the
#: second half of them and then fixed), steps between saved configurations (>= 2 x the
#: largest integrated autocorrelation time measured over the class's temperature range),
#: configurations saved per chain, and the share of N flipped by Wolff clusters per step.
PROTOCOL = {
    2: dict(n_therm=100, n_between=6, per_chain=40, wolff_fraction=0.5),
    3: dict(n_therm=60, n_between=5, per_chain=12, wolff_fraction=0.25),
}


def sample_ising(
    n_images: int,
    size: int,
    temperature,
    dim: int,
    seed=0,
    progress=None,
    **protocol,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equilibrium Ising configurations from independent chains, with metadata.

    Each chain gets its own temperature, drawn uniformly in ``temperature`` (a number or
    a ``(low, high)`` pair). It starts hot, is thermalised for ``n_therm`` steps (one
    step = one checkerboard Metropolis sweep + a fixed number of Wolff clusters, tuned
    during thermalisation to flip ``wolff_fraction`` x N spins), then saves
    ``per_chain`` configurations ``n_between`` steps apart. In 3D every configuration
    gives the 13 slices of :func:`~napari_hamiltonian.simulate._common.slices13`.

    Returns
    -------
    images : ndarray, uint8, shape (n_images, size, size)
        1 = up, 0 = down.
    temperatures : ndarray, float, shape (n_images,)
    slices : ndarray, str, shape (n_images,)
        ``"2d"`` or the slice name of :data:`SLICE_NAMES`.
    """
    n_images = check_count(n_images)
    size = check_size(size, even=True)
    low, high = check_range(temperature, "temperature", 0.0, np.inf, lo_open=True)
    p = {**PROTOCOL[dim], **protocol}
    per_meas = N_SLICES if dim == 3 else 1
    n_meas = -(-n_images // per_meas)
    n_chains = -(-n_meas // p["per_chain"])
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    t_seed, c_seed = ss.spawn(2)
    temps = draw_uniform(np.random.default_rng(t_seed), low, high, n_chains)
    chains = IsingChains(n_chains, size, temps, dim=dim, seed=c_seed, start="hot")
    half = p["n_therm"] // 2
    chains.step(half)
    chains.reset_cluster_stats()
    chains.step(p["n_therm"] - half)
    chains.tune_wolff(p["wolff_fraction"])
    n_rounds = -(-n_meas // n_chains)
    images = np.empty((n_rounds, n_chains, per_meas, size, size), dtype=np.uint8)
    for r in range(n_rounds):
        chains.step(p["n_between"])
        lat = chains.lattices()
        images[r] = lat[:, None] if dim == 2 else np.stack([slices13(v) for v in lat])
        if progress is not None:
            progress(n_chains * per_meas)
    # order: chain-major, so the first images use every chain before repeating none
    images = images.transpose(1, 0, 2, 3, 4).reshape(-1, size, size)[:n_images]
    t = np.repeat(temps, n_rounds * per_meas)[:n_images]
    names = np.array(["2d"]) if dim == 2 else np.array(SLICE_NAMES)
    sl = np.tile(names, n_chains * n_rounds)[:n_images]
    return images, t, sl


def ising2d(n: int, size: int = 100, temperature=2.3, seed=0) -> np.ndarray:
    """Equilibrium configurations of the clean 2D Ising model (C-2D).

    Periodic L x L square lattice, J = 1, checkerboard Metropolis + Wolff cluster
    updates (see :func:`sample_ising` and :data:`PROTOCOL` for the sampling protocol).

    Parameters
    ----------
    n : int
        Number of configurations.
    size : int
        Lattice side L (even, >= 8).
    temperature : float or (float, float)
        Temperature in units of J / k_B (> 0), or a range drawn uniformly per chain.
        The critical temperature is :data:`TC_2D` = 2.269...
    seed : int
        Seed; the same seed gives the same configurations.

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
        1 = up (metal), 0 = down (insulator).
    """
    return sample_ising(n, size, temperature, 2, seed)[0]


def ising3d(n: int, size: int = 100, temperature=4.5, seed=0) -> np.ndarray:
    """2D slices of the clean 3D Ising model (C-3D).

    L x L x L simple cubic lattice, periodic in x and y, open in z, J = 1. Every saved
    configuration gives 13 slices (two open z-surfaces, three interior z-slices, four
    x- and four y-slices, equally spaced; see
    :data:`~napari_hamiltonian.simulate._common.SLICE_NAMES`), in that order.

    Parameters
    ----------
    n : int
        Number of slices.
    size : int
        Lattice side L (even, >= 8).
    temperature : float or (float, float)
        Temperature in units of J / k_B (> 0), or a range drawn uniformly per chain.
        The bulk critical temperature is :data:`TC_3D` = 4.5115.
    seed : int
        Seed; the same seed gives the same slices.

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
        1 = up (metal), 0 = down (insulator).
    """
    return sample_ising(n, size, temperature, 3, seed)[0]
