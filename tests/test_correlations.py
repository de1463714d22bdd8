"""Pattern statistics: exact values, symmetry invariance, fast windows equal to crops."""

import math

import numpy as np
import pytest
from scipy.special import ellipk

from napari_hamiltonian.classifier.correlations import (
    DISTANCES,
    pattern_statistics,
    statistic_names,
    window_statistics,
)
from napari_hamiltonian.simulate import ising2d
from napari_hamiltonian.classifier.symmetry import N_OPERATIONS, transform


def column(name, window=100):
    return statistic_names(window).index(name)


def test_exact_values_of_simple_patterns():
    yy, xx = np.indices((60, 60))
    uniform, checker = np.ones((1, 60, 60), np.uint8), ((yy + xx) % 2)[None]
    stripes = (xx % 2)[None].astype(np.uint8)
    s = pattern_statistics(uniform)[0]
    assert s[column("|m|", 60)] == 1.0 and s[column("plaquette", 60)] == 1.0
    assert np.all(s[1:-1] == 0.0)  # no connected correlation, no anisotropy
    s = pattern_statistics(checker)[0]
    assert s[column("|m|", 60)] == 0.0
    for d in (1, 2, 3, 4, 6, 8, 12, 16):
        assert s[column(f"G({d})", 60)] == (-1.0) ** d
    assert s[column("Gdiag(1)", 60)] == 1.0 and s[column("|Cx-Cy|(1)", 60)] == 0.0
    s = pattern_statistics(stripes)[0]
    assert s[column("|Cx-Cy|(1)", 60)] == 2.0 and s[column("|Cx-Cy|(2)", 60)] == 0.0
    assert s[column("|Cdiag1-Cdiag2|(1)", 60)] == 0.0


def test_distances_longer_than_a_third_of_the_window_are_left_out():
    assert "G(32)" in statistic_names(100) and "G(12)" not in statistic_names(32)
    assert len(statistic_names(100)) == pattern_statistics(np.zeros((1, 100, 100),
                                                                   np.uint8)).shape[1]
    assert all(f"G({d})" in statistic_names(100) for d in DISTANCES)


def onsager_bond_correlation(t):
    """<s s'> of nearest neighbours of the infinite 2D Ising model: -u / 2 with u the
    exact energy per spin (Onsager 1944)."""
    b = 1.0 / t
    k = 2.0 * math.sinh(2 * b) / math.cosh(2 * b) ** 2
    u = -1.0 / math.tanh(2 * b) * (
        1 + 2 / math.pi * (2 * math.tanh(2 * b) ** 2 - 1) * ellipk(k * k))
    return -u / 2


@pytest.mark.parametrize("t", [1.8, 3.0])
def test_nearest_neighbour_correlation_of_2d_ising_matches_onsager(t):
    s = pattern_statistics(ising2d(24, size=64, temperature=t, seed=5))
    bond = s[:, column("G(1)", 64)] + s[:, column("|m|", 64)] ** 2  # C(1)
    err = bond.std() / math.sqrt(len(bond))
    assert abs(bond.mean() - onsager_bond_correlation(t)) < 4 * err + 5e-3


def test_uncorrelated_pixels_have_no_connected_correlation():
    rng = np.random.default_rng(0)
    s = pattern_statistics((rng.random((200, 100, 100)) < 0.3).astype(np.uint8))
    assert abs(s[:, column("|m|")].mean() - 0.4) < 0.005
    for d in (1, 8, 32):
        assert abs(s[:, column(f"G({d})")].mean()) < 3e-3


def test_statistics_are_invariant_under_the_16_symmetry_operations():
    rng = np.random.default_rng(1)
    images = (rng.random((5, 40, 40)) < rng.random((5, 1, 1))).astype(np.uint8)
    ref = pattern_statistics(images)
    for op in range(N_OPERATIONS):
        moved = np.stack([transform(im, op) for im in images])
        np.testing.assert_allclose(pattern_statistics(moved), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape,window,stride", [((130, 170), 100, 3), ((64, 48), 32, 1),
                                                 ((100, 100), 100, 1)])
def test_windows_of_an_image_equal_the_cropped_windows_exactly(shape, window, stride):
    rng = np.random.default_rng(2)
    image = (rng.random(shape) < 0.45).astype(np.uint8)
    ys, xs = np.meshgrid(np.arange(0, shape[0] - window + 1, stride),
                         np.arange(0, shape[1] - window + 1, stride), indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    crops = np.stack([image[y:y + window, x:x + window] for y, x in zip(ys, xs)])
    np.testing.assert_array_equal(window_statistics(image, window, ys, xs),
                                  pattern_statistics(crops))


def test_non_binary_input_is_refused():
    with pytest.raises(ValueError, match="binary"):
        pattern_statistics(np.full((1, 40, 40), 0.5))
    with pytest.raises(ValueError, match="square"):
        pattern_statistics(np.zeros((1, 40, 30), np.uint8))
