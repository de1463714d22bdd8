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

Snapshot rule (chosen by field, as the paper takes snapshots "near the coercive field
strength, where the metal/insulator domain fraction changes most rapidly with respect to
uniform field"): each stable state of a sweep is held over a range of the applied field,
from the field of the avalanche that made it to the field of the next one. The field
window of a sweep is where its up fraction goes from ``up_fraction[0]`` to
``up_fraction[1]`` (default 0.35 to 0.65, around the coercive field H_c where it crosses
1/2). A sweep's snapshots are distinct stable states in that window, drawn without
replacement with probability proportional to the field range each is held over: the
states a slow field ramp across the window would show, never the same state twice. In
3D, slices that repeat an image already taken (two states differing only away from
that slice) are dropped and replaced, so no image appears twice. The up fraction and
the field H of every snapshot are recorded.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ._common import (
    SLICE_NAMES,
    check_count,
    check_range,
    check_size,
    draw_uniform,
    slices13,
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
def _run_sweeps(hs, lz, ly, lx, orders, ends, fields, n_avalanches):
    """Sweep every realisation in ``hs`` (n_real, N); store each sweep's flip order,
    avalanche ends and fields (rows padded past ``n_avalanches[r]``)."""
    for r in nb.prange(hs.shape[0]):
        order, e, f = field_sweep(hs[r], lz, ly, lx)
        orders[r] = order
        ends[r, :len(e)] = e
        fields[r, :len(f)] = f
        n_avalanches[r] = len(e)


def choose_states(ends: np.ndarray, fields: np.ndarray, n: int, up_fraction, k: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Avalanche indices of up to ``k`` distinct stable states in a sweep's field window.

    State ``a`` (the configuration after avalanche ``a``) is held for fields from
    ``fields[a]`` to ``fields[a + 1]``. The window spans the states from the first with
    at least ``up_fraction[0] * n`` up spins to the first with at least
    ``up_fraction[1] * n``; states are drawn without replacement with probability
    proportional to the field range they are held over; states held over no field
    range are left out (unless all are, then equal weights).
    """
    lo = int(np.searchsorted(ends, math.ceil(up_fraction[0] * n)))
    hi = int(np.searchsorted(ends, math.ceil(up_fraction[1] * n)))
    last = len(ends) - 1
    cand = np.arange(min(lo, last), min(hi, last) + 1)
    width = fields[np.minimum(cand + 1, last)] - fields[cand]
    held = width > 0  # a state followed by an avalanche at the same field is never held
    if held.any():
        cand, width = cand[held], width[held]
    else:
        width = np.ones(len(cand))
    pick = rng.choice(len(cand), size=min(k, len(cand)), replace=False,
                      p=width / width.sum())
    return np.sort(cand[pick])


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
    ``disorder`` (a number or a ``(low, high)`` pair); each sweep gives up to
    ``snapshots_per_sweep`` distinct snapshots chosen by field in the window set by
    ``up_fraction`` (see the module docstring). In 3D each snapshot gives the 13 slices
    of :func:`~napari_hamiltonian.simulate._common.slices13`. No image is returned twice.

    Returns
    -------
    images : ndarray, uint8, shape (n_images, size, size)
    disorder : ndarray, float, shape (n_images,)
    slices : ndarray, str, shape (n_images,)
    up_fraction : ndarray, float, shape (n_images,)
        The true up fraction of the whole lattice at the snapshot (not of the slice).
    field : ndarray, float, shape (n_images,)
        The applied field H (units of J) of the avalanche that made the snapshot's state.
    """
    n_images = check_count(n_images)
    size = check_size(size)
    low, high = check_range(disorder, "disorder", 0.0, np.inf, lo_open=True)
    window = check_range(up_fraction, "up_fraction", 0.0, 1.0)
    k = check_count(snapshots_per_sweep or (4 if dim == 3 else 1), "snapshots_per_sweep")
    lz = size if dim == 3 else 1
    n = lz * size * size
    names = np.array(["2d"]) if dim == 2 else np.array(SLICE_NAMES)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    r_rng = np.random.default_rng(seq.spawn(1)[0])
    batch = 2 * nb.get_num_threads() if dim == 3 else 256
    seen: set[bytes] = set()
    images, rs, sls, fracs, hs_out = [], [], [], [], []
    count = 0
    while count < n_images:
        before = count
        per_sweep = k * len(names)
        n_real = min(batch, -(-(n_images - count) // per_sweep))
        gens = [np.random.default_rng(c) for c in seq.spawn(n_real)]
        r_batch = draw_uniform(r_rng, low, high, n_real)
        hs = np.stack([g.normal(0.0, r, n) for g, r in zip(gens, r_batch)])
        orders = np.empty((n_real, n), np.int32)
        ends = np.zeros((n_real, n), np.int64)
        fields = np.zeros((n_real, n), np.float64)
        n_av = np.zeros(n_real, np.int64)
        _run_sweeps(hs, lz, size, size, orders, ends, fields, n_av)
        del hs
        for r in range(n_real):
            e, f = ends[r, :n_av[r]], fields[r, :n_av[r]]
            for a in choose_states(e, f, n, window, k, gens[r]):
                state = np.zeros(n, np.uint8)
                state[orders[r, :e[a]]] = 1
                vol = state.reshape(lz, size, size)
                for img, name in zip(slices13(vol) if dim == 3 else vol, names):
                    key = img.tobytes()
                    if key in seen or count >= n_images:
                        continue
                    seen.add(key)
                    images.append(img)
                    rs.append(r_batch[r])
                    sls.append(name)
                    fracs.append(e[a] / n)
                    hs_out.append(f[a])
                    count += 1
        if progress is not None:
            progress(count - before)
    return (np.stack(images), np.array(rs), np.array(sls), np.array(fracs),
            np.array(hs_out))


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
    up_fraction : (float, float)
        The field window: snapshots are stable states held at fields where the sweep's
        up (metal) fraction lies in this range (see the module docstring).

    Returns
    -------
    ndarray, uint8, shape (n, size, size)
        1 = up (metal), 0 = down (insulator).
    """
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return sample_rfim(n, size, disorder, dim, seed, up_fraction)[0]
