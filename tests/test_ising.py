"""Clean Ising generators against exact results."""

import itertools
import math

import numba
import numpy as np
import pytest
from scipy.special import ellipk

from napari_hamiltonian.simulate import ising2d, ising3d
from napari_hamiltonian.simulate.ising import (
    IsingChains,
    _wolff,
    from_split,
    sample_ising,
    to_split,
)


def onsager_energy(t):
    """Exact energy per spin of the infinite 2D Ising model (Onsager 1944)."""
    b = 1.0 / t
    k = 2.0 * math.sinh(2 * b) / math.cosh(2 * b) ** 2
    return -1.0 / math.tanh(2 * b) * (
        1 + 2 / math.pi * (2 * math.tanh(2 * b) ** 2 - 1) * ellipk(k * k)
    )


def yang_magnetisation(t):
    """Exact spontaneous magnetisation of the 2D Ising model (Yang 1952)."""
    return (1 - math.sinh(2 / t) ** -4) ** 0.125


def energy_2d(img):
    s = img.astype(np.int64) * 2 - 1
    return -(s * np.roll(s, 1, -1) + s * np.roll(s, 1, -2)).sum(axis=(-1, -2)) / s[0].size


@pytest.mark.parametrize("t", [2.0, 3.0])
def test_energy_and_magnetisation_match_onsager_and_yang(t):
    per_chain = 20
    imgs, temps, _ = sample_ising(16 * per_chain, 64, t, 2, seed=11, per_chain=per_chain)
    assert np.all(temps == t)
    e = energy_2d(imgs).reshape(16, per_chain).mean(axis=1)  # independent chain means
    err = e.std(ddof=1) / math.sqrt(len(e))
    assert abs(e.mean() - onsager_energy(t)) < 4 * err + 1e-3, (e.mean(), onsager_energy(t))
    if t < 2.269:
        m = np.abs(2 * imgs.mean(axis=(1, 2)) - 1).reshape(16, per_chain).mean(axis=1)
        merr = m.std(ddof=1) / math.sqrt(len(m))
        assert abs(m.mean() - yang_magnetisation(t)) < 4 * merr + 1e-3


def exact_averages(shape, t, periodic_z=False):
    """<E>/N and <|M|>/N by enumeration; periodic in the last two axes, first axis open
    unless ``periodic_z``. A periodic side of 2 couples each pair twice, as the kernels do.
    """
    n = int(np.prod(shape))
    z = e_sum = m_sum = 0.0
    for bits in itertools.product((-1, 1), repeat=n):
        s = np.array(bits).reshape(shape)
        e = -(s * np.roll(s, 1, -1)).sum() - (s * np.roll(s, 1, -2)).sum()
        e -= (s * np.roll(s, 1, 0)).sum() if periodic_z else (s[1:] * s[:-1]).sum()
        w = math.exp(-e / t)
        z += w
        e_sum += w * e
        m_sum += w * abs(s.sum())
    return e_sum / z / n, m_sum / z / n


@pytest.mark.parametrize(
    "dim,size,t,periodic_z", [(2, 4, 2.5, 0), (3, 2, 4.5, 0), (3, 2, 8.0, 0), (3, 2, 6.0, 1)]
)
def test_chains_sample_the_boltzmann_distribution_of_tiny_lattices(dim, size, t, periodic_z):
    shape = (size,) * dim if dim == 3 else (1, size, size)
    exact_e, exact_m = exact_averages(shape, t, periodic_z)
    chains = IsingChains(64, size, t, dim=dim, seed=3, periodic_z=periodic_z)
    chains.step(50)
    chains.reset_cluster_stats()
    chains.tune_wolff(0.5)
    es, ms = [], []
    for _ in range(300):
        chains.step(1)
        es.append(chains.energy())
        ms.append(np.abs(chains.magnetization()))
    es, ms = np.array(es).mean(axis=0), np.array(ms).mean(axis=0)  # per chain
    for got, exact in ((es, exact_e), (ms, exact_m)):
        err = got.std(ddof=1) / math.sqrt(len(got))
        assert abs(got.mean() - exact) < 4.5 * err, (got.mean(), exact, err)


def test_metropolis_alone_and_wolff_alone_are_each_correct():
    exact_e, _ = exact_averages((1, 4, 4), 2.2)
    for n_wolff in (0, 3):
        chains = IsingChains(64, 4, 2.2, seed=5)
        chains.n_wolff[:] = n_wolff
        chains.step(30)
        es = []
        for _ in range(300):
            if n_wolff:  # Wolff only: no Metropolis sweep in between
                stack = np.empty(16, np.int64)
                padd = np.uint64(-math.expm1(-2 / 2.2) * 18446744073709549568.0)
                for ch in range(64):
                    for _w in range(n_wolff):
                        _wolff(chains.spins[ch], chains.wst, ch, padd, stack)
            else:
                chains.step(1)
            es.append(chains.energy())
        es = np.array(es).mean(axis=0)
        err = es.std(ddof=1) / math.sqrt(len(es))
        assert abs(es.mean() - exact_e) < 4.5 * err


def test_split_layout_round_trip():
    rng = np.random.default_rng(0)
    for shape in [(1, 8, 8), (6, 6, 6), (3, 10, 4)]:
        full = rng.integers(0, 2, shape, dtype=np.uint8)
        split = to_split(full)
        assert split.shape == (2, shape[0] + 2, shape[1], shape[2] // 2)
        assert not split[:, [0, -1]].any()  # zero padding planes: open z
        np.testing.assert_array_equal(from_split(split), full)


def test_shapes_dtype_and_determinism():
    a = ising2d(5, size=16, temperature=2.3, seed=4)
    assert a.shape == (5, 16, 16) and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}
    np.testing.assert_array_equal(a, ising2d(5, size=16, temperature=2.3, seed=4))
    assert not np.array_equal(a, ising2d(5, size=16, temperature=2.3, seed=5))
    b = ising3d(15, size=8, temperature=(4.45, 4.65), seed=1)
    assert b.shape == (15, 8, 8)


def test_result_does_not_depend_on_the_number_of_threads():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sample_ising(30, 12, (2.2, 2.6), 2, seed=9, per_chain=5)
        numba.set_num_threads(before)
        many = sample_ising(30, 12, (2.2, 2.6), 2, seed=9, per_chain=5)
    finally:
        numba.set_num_threads(before)
    for x, y in zip(one, many):
        np.testing.assert_array_equal(x, y)


def test_3d_slices_are_cuts_of_one_configuration():
    imgs, temps, names = sample_ising(26, 8, (4.45, 4.65), 3, seed=2, per_chain=1)
    assert list(names[:13]) == list(names[13:])
    assert names[0] == "z-surface-0" and names[5] == "x-0" and names[9] == "y-0"
    # x-slice 0 and y-slice 0 share the line x = y = 0 along z
    np.testing.assert_array_equal(imgs[5][:, 0], imgs[9][:, 0])
    # z-surface 0 row 0 is the first row of y-slice 0
    np.testing.assert_array_equal(imgs[0][0], imgs[9][0])
    assert len(np.unique(temps)) == 2  # one temperature per chain, one chain each 13


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=0), "n must be"),
        (dict(n=2, size=6), "size must be an integer >= 8"),
        (dict(n=2, size=9), "size must be even"),
        (dict(n=2, temperature=0.0), "temperature must lie"),
        (dict(n=2, temperature=-1.0), "temperature must lie"),
        (dict(n=2, temperature=(2.5, 2.0)), "low <= high"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ising2d(**kwargs)
