"""Zero-temperature random-field Ising model (RFIM): the hysteresis field sweep.

Hamiltonian ``E = -J sum_<ij> s_i s_j - sum_i (h_i + H) s_i`` with J = 1, s = +-1 and
Gaussian random fields h_i of width (standard deviation) R. Geometry as for the clean
model: L x L periodic in 2D; L x L x L periodic in x and y with open z-surfaces in 3D.

The sweep (Sethna et al., PRL 70, 3347 (1993)) starts with all spins down at
H = -inf. The external field is raised exactly to the flip field of the least stable
spin, which flips; the avalanche it triggers then runs at fixed H: a down spin flips
when its local field ``J sum_j s_j + h_i + H`` becomes > 0. When the avalanche stops,
H is raised again. The flip fields of down spins only decrease as neighbours flip up,
so a binary heap of ``(flip field, spin)`` entries with lazy deletion gives the exact
dynamics in O(N log N). The sweep records the order in which spins flip and where each
avalanche ends; any stable configuration along the loop is then a prefix of that order.

Snapshot rule: a snapshot at up-fraction ``phi`` is the stable configuration reached
when the first avalanche that brings the number of up spins to at least ``phi * N`` has
finished (the state of the sample held at that field). Near the coercive field H_c,
where the magnetisation crosses zero, the up fraction changes fastest with H; the
generators draw ``phi`` around 1/2 (``up_fraction``, default [0.35, 0.65]).
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

#: Default range of up fractions at which snapshots are taken (around the coercive field).
UP_FRACTION = (0.35, 0.65)


@nb.njit(inline="always")
def _neighbours(i, lz, ly, lx, out):
    """Write the neighbours of flat site ``i`` into ``out``; return their number."""
    x = i % lx
    y = (i // lx) % ly
    z = i // (lx * ly)
    base = i - x
    out[0] = base + (x + 1 if x < lx - 1 else 0)
    out[1] = base + (x - 1 if x > 0 else lx - 1)
    row = i - y * lx
    out[2] = row + (y + 1 if y < ly - 1 else 0) * lx
    out[3] = row + (y - 1 if y > 0 else ly - 1) * lx
    k = 4
    if z > 0:
        out[k] = i - lx * ly
        k += 1
    if z < lz - 1:
        out[k] = i + lx * ly
        k += 1
    return k


@nb.njit(inline="always")
def _heap_push(keys, vals, n, key, val):
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        vals[i] = vals[parent]
        i = parent
    keys[i] = key
    vals[i] = val
    return n + 1


@nb.njit(inline="always")
def _heap_pop(keys, vals, n):
    """Remove the root; return the new size (the root must be read before)."""
    n -= 1
    key = keys[n]
    val = vals[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and keys[c + 1] < keys[c]:
            c += 1
        if keys[c] >= key:
            break
        keys[i] = keys[c]
        vals[i] = vals[c]
        i = c
    keys[i] = key
    vals[i] = val
    return n


@nb.njit(cache=True)
def field_sweep(h, lz, ly, lx):
    """Full zero-temperature sweep from all down to all up.

    Parameters
    ----------
    h : ndarray, float64, shape (N,)
        Random fields, flat in ``[z, y, x]`` order.
    lz, ly, lx : int
        Lattice shape (``lz = 1`` for 2D).

    Returns
    -------
    order : ndarray, int32, shape (N,)
        Sites in the order they flip.
    ends : ndarray, int64, shape (n_avalanches,)
        Number of up spins after each avalanche.
    fields : ndarray, float64, shape (n_avalanches,)
        External field H at which each avalanche ran.
    """
    n = h.shape[0]
    nup = np.zeros(n, np.int8)
    nnb = np.zeros(n, np.int8)
    up = np.zeros(n, np.bool_)
    nbr = np.empty(6, np.int64)
    cap = 7 * n + 1
    keys = np.empty(cap, np.float64)
    vals = np.empty(cap, np.int64)  # site * 8 + number of up neighbours at push time
    size = 0
    for i in range(n):
        q = _neighbours(i, lz, ly, lx, nbr)
        nnb[i] = q
        size = _heap_push(keys, vals, size, -(h[i] - q), i * 8)
    order = np.empty(n, np.int32)
    ends = np.empty(n, np.int64)
    fields = np.empty(n, np.float64)
    queue = np.empty(n, np.int64)
    n_up = 0
    n_av = 0
    while n_up < n:
        key = keys[0]
        site = vals[0] >> 3
        stamp = vals[0] & 7
        size = _heap_pop(keys, vals, size)
        if up[site] or stamp != nup[site]:
            continue  # stale entry
        field = key
        up[site] = True
        order[n_up] = site
        n_up += 1
        head, tail = 0, 1
        queue[0] = site
        while head < tail:
            s = queue[head]
            head += 1
            q = _neighbours(s, lz, ly, lx, nbr)
            for k in range(q):
                j = nbr[k]
                if up[j]:
                    continue
                nup[j] += 1
                local = h[j] + 2 * nup[j] - nnb[j] + field
                if local > 0.0:
                    up[j] = True
                    order[n_up] = j
                    n_up += 1
                    queue[tail] = j
                    tail += 1
                else:
                    size = _heap_push(keys, vals, size, field - local, j * 8 + nup[j])
        ends[n_av] = n_up
        fields[n_av] = field
        n_av += 1
    return order, ends[:n_av].copy(), fields[:n_av].copy()


@nb.njit(cache=True)
def snapshot(order, ends, count, n):
    """Stable configuration of a sweep once at least ``count`` spins are up.

    Parameters
    ----------
    order, ends : ndarray
        Flip order and avalanche ends from :func:`field_sweep`.
    count : int
        Number of up spins asked for; the snapshot is the state after the avalanche
        that reaches it (the last state if the sweep never does).
    n : int
        Number of sites.

    Returns
    -------
    ndarray, uint8, shape (n,)
        Flat configuration, 1 = up.
    """
    k = np.searchsorted(ends, count)
    k = min(k, ends.shape[0] - 1)
    out = np.zeros(n, np.uint8)
    for i in range(ends[k]):
        out[order[i]] = 1
    return out


@nb.njit(parallel=True, cache=True)
def _run_sweeps(hs, lz, ly, lx, fractions, out):
    """Sweep every realisation in ``hs`` (n_real, N) and store its snapshots.

    ``fractions`` (n_real, n_snap) are the up fractions; ``out`` (n_real, n_snap, N).
    """
    n = hs.shape[1]
    for r in nb.prange(hs.shape[0]):
        order, ends, _ = field_sweep(hs[r], lz, ly, lx)
        for k in range(fractions.shape[1]):
            count = int(math.ceil(fractions[r, k] * n))
            out[r, k] = snapshot(order, ends, count, n)


def sample_rfim(
    n_images: int,
    size: int,
    disorder,
    dim: int,
    seed=0,
    up_fraction=UP_FRACTION,
    snapshots_per_sweep: int | None = None,
    progress=None,
):
    """Snapshots of zero-temperature RFIM field sweeps, with metadata.

    Each realisation of the random fields gets its own disorder R, drawn uniformly in
    ``disorder`` (a number or a ``(low, high)`` pair); each sweep saves
    ``snapshots_per_sweep`` snapshots at up fractions drawn uniformly in
    ``up_fraction`` (see the module docstring for the rule). In 3D each snapshot gives
    the 13 slices of :func:`~napari_hamiltonian.simulate._common.slices13`.

    Returns
    -------
    images : ndarray, uint8, shape (n_images, size, size)
    disorder : ndarray, float, shape (n_images,)
    slices : ndarray, str, shape (n_images,)
    up_fraction : ndarray, float, shape (n_images,)
        The up fraction of the whole lattice at the snapshot (not of the slice).
    """
    n_images = check_count(n_images)
    size = check_size(size)
    low, high = check_range(disorder, "disorder", 0.0, np.inf, lo_open=True)
    f_lo, f_hi = check_range(up_fraction, "up_fraction", 0.0, 1.0)
    per_snap = N_SLICES if dim == 3 else 1
    n_snap_total = -(-n_images // per_snap)
    k = snapshots_per_sweep or (4 if dim == 3 else 1)
    k = min(check_count(k, "snapshots_per_sweep"), n_snap_total)
    n_real = -(-n_snap_total // k)
    lz = size if dim == 3 else 1
    n = lz * size * size
    rngs = spawn_generators(seed, n_real + 1)
    rs = draw_uniform(rngs[0], low, high, n_real)
    batch = 2 * nb.get_num_threads() if dim == 3 else 256
    images, fracs_all = [], []
    for b0 in range(0, n_real, batch):
        b1 = min(n_real, b0 + batch)
        hs = np.stack([rngs[1 + r].normal(0.0, rs[r], n) for r in range(b0, b1)])
        fr = np.stack([np.sort(draw_uniform(rngs[1 + r], f_lo, f_hi, k))
                       for r in range(b0, b1)])
        out = np.empty((b1 - b0, k, n), np.uint8)
        _run_sweeps(hs, lz, size, size, fr, out)
        vols = out.reshape(b1 - b0, k, lz, size, size)
        if dim == 3:
            vols = np.stack([[slices13(v) for v in vs] for vs in vols])
        images.append(vols.reshape(-1, size, size))
        fracs_all.append(np.repeat(fr.ravel(), per_snap))
        if progress is not None:
            progress((b1 - b0) * k * per_snap)
    images = np.concatenate(images)[:n_images]
    r_img = np.repeat(rs, k * per_snap)[:n_images]
    names = np.array(["2d"]) if dim == 2 else np.array(SLICE_NAMES)
    sl = np.tile(names, n_real * k)[:n_images]
    return images, r_img, sl, np.concatenate(fracs_all)[:n_images]


def rfim(n: int, size: int = 100, disorder=1.1, dim: int = 2, seed=0,
         up_fraction=UP_FRACTION) -> np.ndarray:
    """Snapshots of the zero-temperature random-field Ising model (RF-2D, RF-3D).

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Lattice side L (>= 8).
    disorder : float or (float, float)
        Width R of the Gaussian random fields, in units of J (> 0), or a range drawn
        uniformly per realisation.
    dim : {2, 3}
        2: L x L periodic lattice; 3: L x L x L lattice (periodic x, y, open z) of which
        13 slices per snapshot are returned.
    seed : int
        Seed; the same seed gives the same images.
    up_fraction : float or (float, float)
        Up fraction (metal fraction) of the whole lattice at which snapshots are taken,
        see the module docstring.

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
        1 = up (metal), 0 = down (insulator).
    """
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return sample_rfim(n, size, disorder, dim, seed, up_fraction)[0]
