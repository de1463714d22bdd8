"""Optical views: Otsu per image, micrographs, symmetry of the point-spread function."""

import numpy as np
import pytest

import napari_hamiltonian as nh
from napari_hamiltonian._binary import otsu_threshold, otsu_thresholds
from napari_hamiltonian.optics import defocus_psf, micrograph, optical_view
from napari_hamiltonian.symmetry import transform


def _naive_otsu(image, bins=256):
    """Otsu's threshold by its definition: try every histogram edge, keep the best split."""
    a = np.asarray(image, np.float64).ravel()
    hist, edges = np.histogram(a, bins=bins, range=(a.min(), a.max()))
    best, arg = -1.0, None
    for k in range(1, bins):
        lo, hi = hist[:k], hist[k:]
        if lo.sum() == 0 or hi.sum() == 0:
            between = 0.0
        else:
            c = (edges[:-1] + edges[1:]) / 2
            m0 = (lo * c[:k]).sum() / lo.sum()
            m1 = (hi * c[k:]).sum() / hi.sum()
            between = lo.sum() * hi.sum() * (m0 - m1) ** 2
        if between > best:
            best, arg = between, edges[k]
    return arg


def test_batched_otsu_equals_the_definition_image_by_image():
    rng = np.random.default_rng(0)
    grey = rng.normal(size=(12, 40, 40)) + 2.0 * (rng.random((12, 40, 40)) < 0.3)
    grey[3] = np.round(grey[3] * 20)  # ties on a coarse grid of levels
    batch = otsu_thresholds(grey)
    for g, t in zip(grey, batch):
        assert t == pytest.approx(_naive_otsu(g), abs=1e-12)
        assert otsu_threshold(g) == t
    # a constant image keeps every pixel below its threshold; the one-image API refuses it
    assert otsu_thresholds(np.full((1, 5, 5), 3.0))[0] == 3.0
    with pytest.raises(ValueError, match="constant"):
        otsu_threshold(np.full((5, 5), 3.0))


def test_micrographs_are_binary_smoother_and_leave_the_input_alone():
    X, _, _ = nh.simulate.make_dataset(10, size=32, seed=3, classes=["C-2D", "P-2D"],
                                       progress=False)
    before = X.copy()

    def walls(a):
        return (a[:, 1:] != a[:, :-1]).sum() + (a[:, :, 1:] != a[:, :, :-1]).sum()

    for psf in (1.5, (0.7, 2.0), defocus_psf(2)):
        out = micrograph(X, psf, 0.1, np.random.default_rng(1))
        np.testing.assert_array_equal(X, before)
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
        # blur then threshold smooths domain walls: fewer unlike nearest-neighbour pairs
        assert walls(out) < 0.8 * walls(X)
        # each image keeps its domains: most pixels agree with the lattice
        assert np.mean(out == X) > 0.7
        np.testing.assert_array_equal(out, micrograph(X, psf, 0.1, np.random.default_rng(1)))
    # no blur and no noise: Otsu gives back the binary image itself
    np.testing.assert_array_equal(micrograph(X, 0.0, 0.0, np.random.default_rng(1)), X)
    assert defocus_psf(2).sum() == pytest.approx(1.0) and defocus_psf(2).shape == (5, 5)


def test_noise_free_gaussian_view_commutes_with_the_square_symmetries():
    """An isotropic point-spread function favours no direction: blur then rotate or
    reflect equals rotate or reflect then blur (mirrored edges keep this exact)."""
    X, _, _ = nh.simulate.make_dataset(2, size=32, seed=4, classes=["RF-2D"],
                                       progress=False)
    rng = np.random.default_rng(0)
    g = optical_view(X, 2.5, 0.0, rng)
    for op in range(0, 16, 2):  # the eight elements of D4, without the spin flip
        np.testing.assert_allclose(optical_view(transform(X, op), 2.5, 0.0, rng),
                                   transform(g, op), atol=1e-6)
