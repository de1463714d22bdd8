"""Optical views: Otsu per image, micrographs, symmetry of the point-spread function."""

import numpy as np
import pytest

import napari_hamiltonian as nh
from napari_hamiltonian.imaging.binary import otsu_threshold, otsu_thresholds
from napari_hamiltonian.imaging.optics import defocus_psf, micrograph, optical_view
from napari_hamiltonian.classifier.symmetry import transform


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


def test_instrument_renders_sites_psf_intensities_noise_and_binarisation():
    from napari_hamiltonian.imaging.optics import Instrument

    rng = np.random.default_rng(0)
    config = (rng.random((20, 30)) < 0.4).astype(np.uint8)
    sharp = Instrument(pixels_per_site=3, insulator=1.0, metal=4.0).grey(config, rng)
    assert sharp.shape == (60, 90) and sharp.dtype == np.float32
    np.testing.assert_array_equal(sharp[::3, ::3], np.where(config == 1, 4.0, 1.0))
    assert np.all(sharp[1::3, 2::3] == sharp[::3, ::3])  # each site is 3x3 pixels
    blurred = Instrument(2.0, insulator=1.0, metal=4.0).grey(config, rng)
    assert blurred.min() > 1.0 and blurred.max() < 4.0  # the blur mixes the phases
    assert abs(blurred.mean() - sharp.mean()) < 0.02  # and keeps the mean intensity
    noisy = Instrument(insulator=1.0, metal=4.0, noise=0.5).grey(np.zeros((200, 200)), rng)
    assert abs(noisy.std() - 0.5) < 0.01 and abs(noisy.mean() - 1.0) < 0.01
    for psf in ("gaussian", "airy", "defocus"):
        out = Instrument(1.5, psf=psf, noise=0.05).render(config, np.random.default_rng(1))
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
        assert np.mean(out == config) > 0.6
    # dark metal: a physical threshold on the other side
    dark = Instrument(insulator=5.0, metal=2.0, threshold=3.5).render(config, rng)
    np.testing.assert_array_equal(dark, config)
    grey = Instrument(1.0, binarisation="none").render(config[None], rng)
    assert grey.dtype == np.float32 and grey.shape == (1, 20, 30)
    for bad in (dict(psf_sigma=-1), dict(pixels_per_site=0), dict(psf="square"),
                dict(binarisation="median"), dict(metal=0.0), dict(noise=np.nan)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Instrument(**bad)


def test_physical_threshold_keeps_the_density_that_otsu_discards():
    """After a blur, Otsu puts the level at the median grey value whatever the density;
    a physical level keeps the majority phase growing (the separability frontier)."""
    from napari_hamiltonian.imaging.optics import render_training_set

    X = nh.simulate.percolation(20, size=100, p=0.7, seed=3)
    phys = render_training_set(X, 2.0, seed=1, binarisation="physical")
    otsu = render_training_set(X, 2.0, seed=1, binarisation="otsu")
    assert phys.mean() > 0.8 and abs(otsu.mean() - 0.5) < 0.2


def test_grey_training_renders_are_the_physical_ones_before_the_threshold():
    """binarisation="none" gives the grey levels (insulator 0, metal 1) of the same draws:
    thresholded at 1/2 they are the physical-threshold renders of the same seed."""
    from napari_hamiltonian.imaging.optics import render_training_set

    X = nh.simulate.percolation(6, size=60, p=0.59, seed=4)
    grey = render_training_set(X, 2.0, seed=5, binarisation="none")
    assert grey.dtype == np.float32 and grey.shape == X.shape
    np.testing.assert_array_equal(grey > 0.5,
                                  render_training_set(X, 2.0, seed=5).astype(bool))
    flat = render_training_set(np.stack([np.zeros((60, 60), np.uint8),
                                         np.ones((60, 60), np.uint8)]), 2.0, seed=5,
                               binarisation="none")  # uniform insulator, uniform metal
    assert abs(np.median(flat[0])) < 0.05 and abs(np.median(flat[1]) - 1) < 0.05
    with pytest.raises(ValueError, match="'physical', 'otsu' or 'none'"):
        render_training_set(X, 2.0, seed=5, binarisation="median")


def test_grey_training_renders_scale_by_levels_known_to_the_stated_error():
    """With level_error e each image is scaled by phase levels within e of the true
    ones: an affine image of its exact-level render (same draws for the first image)."""
    from napari_hamiltonian.imaging.optics import render_training_set

    X = nh.simulate.percolation(8, size=60, p=0.59, seed=6)
    fits = []
    for k in range(len(X)):
        exact = render_training_set(X[k:k + 1], 2.0, seed=k, binarisation="none")[0]
        off = render_training_set(X[k:k + 1], 2.0, seed=k, binarisation="none",
                                  level_error=0.1)[0]
        slope, intercept = np.polyfit(exact.ravel(), off.ravel(), 1)
        np.testing.assert_allclose(off, slope * exact + intercept, atol=1e-4)
        ins, met = -intercept / slope, (1 - intercept) / slope  # the levels used
        assert abs(ins) <= 0.1 + 1e-4 and abs(met - 1) <= 0.1 + 1e-4
        fits.append((ins, met))
    assert np.std(fits) > 0.02  # drawn per image, not a constant shift
    for bad in (dict(level_error=0.6), dict(level_error=-0.1),
                dict(level_error=0.1, binarisation="physical")):
        with pytest.raises(ValueError, match="level_error"):
            render_training_set(X, 2.0, seed=5, **bad)


@pytest.fixture(scope="module")
def frames():
    from napari_hamiltonian.samples import field_sweep_stack

    return {"C-2D": nh.simulate.ising2d(1, size=256, temperature=2.4, seed=7)[0],
            "RF-2D": field_sweep_stack(size=256, disorder=1.1, fractions=(0.5,),
                                       seed=7)[0][0],
            "P-2D": nh.simulate.percolation(1, size=256, p=0.59, seed=7)[0]}


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("snr", [5, 20])
def test_estimated_psf_sigma_is_within_25_percent(frames, sigma, snr):
    from napari_hamiltonian.imaging.optics import Instrument

    rng = np.random.default_rng(int(sigma * 10 + snr))
    for name, frame in frames.items():
        grey = Instrument(sigma, insulator=0.3, metal=1.3, noise=1.0 / snr).grey(frame, rng)
        estimate = nh.estimate_psf_sigma(grey)
        assert abs(estimate / sigma - 1) <= 0.25, (name, estimate)


def test_estimate_psf_sigma_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match="uniform"):
        nh.estimate_psf_sigma(np.ones((64, 64)))
    with pytest.raises(ValueError, match="32x32"):
        nh.estimate_psf_sigma(np.random.default_rng(0).random((16, 64)))
    with pytest.raises(ValueError, match="2D"):
        nh.estimate_psf_sigma(np.zeros((2, 64, 64)))


def test_a_sharp_or_uncorrelated_image_has_no_measurable_blur(frames):
    """Sharp percolation and camera noise have flat spectra, from which any width would
    fit: the estimate is 0 (it was 2.4 px for sharp P-2D, 9 px for sparse P*, 30 px
    for white noise), while a sharp RF-2D frame keeps its near-0 estimate."""
    rng = np.random.default_rng(5)
    sharp = {"P-2D": frames["P-2D"] * 2000.0 + 1000.0,
             "P* (p = 0.1)": nh.simulate.percolation(1, size=256, p=0.1, seed=8)[0] * 1.0,
             "camera noise": 2000.0 + rng.normal(0, 150, (256, 256)),
             "noisy P-2D": frames["P-2D"] * 2000.0 + rng.normal(1000, 150, (256, 256))}
    import warnings
    for name, image in sharp.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert nh.estimate_psf_sigma(image) == 0.0, name
        said = any("no blur measurable" in str(w.message) for w in caught)
        assert said == (name in ("camera noise", "noisy P-2D")), name  # grey images only
    assert nh.estimate_psf_sigma(frames["RF-2D"] * 1.0) < 0.5
