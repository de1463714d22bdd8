"""Zero-temperature RFIM sweep: exact avalanche dynamics."""

import numpy as np
import pytest

from napari_hamiltonian.simulate import rfim
from napari_hamiltonian.simulate.rfim import choose_states, field_sweep, sample_rfim


def neighbour_sum(s, periodic_axes):
    """Sum of +-1 neighbours; periodic along ``periodic_axes``, open along the others."""
    total = np.zeros(s.shape)
    for ax in range(s.ndim):
        if ax in periodic_axes:
            total += np.roll(s, 1, ax) + np.roll(s, -1, ax)
        else:
            pad = [(1, 1) if a == ax else (0, 0) for a in range(s.ndim)]
            p = np.pad(s, pad)
            sl_lo = [slice(None)] * s.ndim
            sl_hi = [slice(None)] * s.ndim
            sl_lo[ax], sl_hi[ax] = slice(0, -2), slice(2, None)
            total += p[tuple(sl_lo)] + p[tuple(sl_hi)]
    return total


def brute_force_state(h, H, periodic_axes, rng):
    """Relax from all down at field H, flipping unstable spins one at a time at random."""
    s = -np.ones(h.shape)
    while True:
        unstable = np.flatnonzero((s < 0) & (neighbour_sum(s, periodic_axes) + h + H > 0))
        if unstable.size == 0:
            return s > 0
        s.flat[rng.choice(unstable)] = 1


@pytest.mark.parametrize("shape,r", [((1, 8, 8), 1.0), ((1, 8, 8), 0.6), ((4, 4, 4), 1.8)])
def test_sweep_matches_brute_force_relaxation_in_any_order(shape, r):
    rng = np.random.default_rng(1)
    periodic = (1, 2)
    for _ in range(3):
        h = rng.normal(0, r, shape)
        order, ends, fields = field_sweep(h.ravel(), *shape)
        assert np.all(np.diff(fields) >= 0), "the field only rises"
        assert sorted(order) == list(range(h.size)), "every spin flips once"
        # probe fields between consecutive avalanches and before the first one
        probes = np.r_[fields[0] - 1.0, (fields[:-1] + fields[1:]) / 2]
        for k in range(0, len(probes), max(1, len(probes) // 12)):
            H = probes[k]  # after avalanche k - 1, before avalanche k
            expected = np.zeros(h.size, bool)
            expected[order[: (ends[k - 1] if k > 0 else 0)]] = True
            got = brute_force_state(h[0] if shape[0] == 1 else h, H,
                                    (0, 1) if shape[0] == 1 else periodic, rng)
            np.testing.assert_array_equal(got.ravel(), expected)


def test_every_stopped_avalanche_leaves_a_stable_state():
    rng = np.random.default_rng(2)
    shape = (6, 6, 6)
    h = rng.normal(0, 2.2, shape)
    order, ends, fields = field_sweep(h.ravel(), *shape)
    for k in range(0, len(ends), max(1, len(ends) // 20)):
        s = -np.ones(h.size)
        s[order[: ends[k]]] = 1
        s = s.reshape(shape)
        local = neighbour_sum(s, (1, 2)) + h + fields[k]
        assert np.all(local[s < 0] <= 0) and np.all(local[s > 0] >= -1e-12)


def test_3d_has_a_macroscopic_jump_below_rc_and_none_above():
    rng = np.random.default_rng(3)
    n = 32
    for r, big in ((2.0, True), (2.6, False)):
        for _ in range(3):
            _, ends, _ = field_sweep(rng.normal(0, r, n**3), n, n, n)
            largest = np.diff(np.r_[0, ends]).max() / n**3
            assert (largest > 0.5) == big, (r, largest)


def test_snapshots_are_distinct_states_chosen_by_field():
    imgs, rs, names, frac, field = sample_rfim(40, 16, (1.0, 1.19), 2, seed=4,
                                               up_fraction=(0.4, 0.6),
                                               snapshots_per_sweep=3)
    assert imgs.shape == (40, 16, 16) and np.all((rs >= 1.0) & (rs <= 1.19))
    assert set(names) == {"2d"} and np.all(frac >= 0.4)
    # the recorded up fraction is the snapshot's own (2D: the whole lattice)
    np.testing.assert_allclose(imgs.mean(axis=(1, 2)), frac)
    assert len({x.tobytes() for x in imgs}) == 40  # no image twice
    # within a sweep (same R), a higher field holds a state with more spins up
    for r in np.unique(rs):
        sel = rs == r
        order = np.argsort(field[sel])
        assert np.all(np.diff(frac[sel][order]) > 0)
    vol = sample_rfim(60, 8, 2.27, 3, seed=4, snapshots_per_sweep=2)
    assert vol[0].shape == (60, 8, 8) and vol[2][0] == "z-surface-0"
    assert len({x.tobytes() for x in vol[0]}) == 60


def test_the_field_window_and_the_weights_of_states():
    """States are drawn in the window, weighted by the field range they are held."""
    ends = np.array([10, 30, 50, 60, 90, 100])
    fields = np.array([0.0, 1.0, 1.1, 3.1, 3.2, 5.0])
    rng = np.random.default_rng(0)
    picks = [choose_states(ends, fields, 100, (0.3, 0.6), 1, rng)[0] for _ in range(3000)]
    counts = np.bincount(picks, minlength=6)
    assert counts[0] == counts[4] == counts[5] == 0  # outside the window
    # states 1, 2, 3 are held over 0.1, 2.0 and 0.1 of field
    assert abs(counts[2] / 3000 - 2.0 / 2.2) < 0.03
    three = choose_states(ends, fields, 100, (0.3, 0.6), 5, rng)
    assert three.tolist() == [1, 2, 3]  # without replacement, at most all of them


def test_determinism_and_errors():
    a = rfim(6, size=16, disorder=1.1, seed=7)
    np.testing.assert_array_equal(a, rfim(6, size=16, disorder=1.1, seed=7))
    assert a.dtype == np.uint8
    with pytest.raises(ValueError, match="disorder must lie"):
        rfim(2, disorder=0.0)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        rfim(2, dim=4)
    with pytest.raises(ValueError, match="up_fraction must lie"):
        rfim(2, up_fraction=1.5)
