"""Site percolation: densities and the 2D spanning probability."""

import numpy as np
import pytest
from scipy import ndimage

from napari_hamiltonian.simulate import percolation
from napari_hamiltonian.simulate.percolation import PC_2D, sample_percolation


def spans(img):
    """True if an occupied nearest-neighbour cluster joins the top and bottom rows."""
    lab, _ = ndimage.label(img)
    return bool(np.intersect1d(lab[0][lab[0] > 0], lab[-1][lab[-1] > 0]).size)


def test_density_matches_p_within_binomial_error():
    imgs = percolation(200, size=50, p=0.3, seed=1)
    n = imgs.size
    assert abs(imgs.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)


def test_spanning_probability_near_threshold():
    # Top-bottom crossing probability of a square tends to 1/2 at p_c (Cardy, Ziff).
    n = 800
    at_pc = np.mean([spans(x) for x in percolation(n, size=64, p=PC_2D, seed=2)])
    assert abs(at_pc - 0.5) < 0.07
    assert np.mean([spans(x) for x in percolation(200, size=64, p=0.55, seed=3)]) < 0.15
    assert np.mean([spans(x) for x in percolation(200, size=64, p=0.64, seed=4)]) > 0.85


def test_p_star_draws_from_each_range():
    _, ps = sample_percolation(3000, 8, [(0.02, 0.2), (0.48, 0.52), (0.8, 0.98)], seed=5)
    bins = [(ps >= lo) & (ps <= hi) for lo, hi in [(0.02, 0.2), (0.48, 0.52), (0.8, 0.98)]]
    assert np.all(np.any(bins, axis=0))
    assert all(abs(b.mean() - 1 / 3) < 0.04 for b in bins)


@pytest.mark.parametrize("p", [-0.1, 1.5, (0.7, 0.2), float("nan")])
def test_bad_p_raises(p):
    with pytest.raises(ValueError, match="p must lie in"):
        percolation(2, p=p)
