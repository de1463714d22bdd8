"""Cluster geometry: exact 2D exponents, conventions, references and the verdict."""

import numpy as np
import pytest

from napari_hamiltonian import geometry as g
from napari_hamiltonian.simulate import ising2d, make_dataset, percolation
from napari_hamiltonian.simulate.percolation import PC_2D


@pytest.fixture(scope="module")
def critical_percolation():
    """Occupied clusters of 2D site percolation at p_c, 512x512."""
    return [g.measure(x, phases="1", seed=k)
            for k, x in enumerate(percolation(6, size=512, p=PC_2D, seed=11))]


def _mean(measures, m):
    values = [x.values[m] for x in measures if np.isfinite(x.values[m])]
    assert len(values) >= len(measures) // 2, f"{m} measured in too few images"
    return float(np.mean(values))


@pytest.mark.parametrize("m, tol", [("tau", 0.08), ("hull", 0.08), ("volume", 0.08),
                                    ("pair", 0.06)])
def test_critical_percolation_has_the_exact_2d_exponents(critical_percolation, m, tol):
    """tau = 187/91, d_h = 7/4, D = 91/48, eta = 5/24, within the finite-size error of
    six 512x512 images."""
    assert abs(_mean(critical_percolation, m) - g.EXACT_PERCOLATION_2D[m]) < tol


def test_ising_clusters_at_tc_have_the_exact_2d_dimensions():
    """Spin clusters of the 2D Ising model at T_c: hull 11/8, volume 187/96."""
    ms = [g.measure(x) for x in ising2d(4, size=256, temperature=2.269185, seed=5)]
    assert abs(_mean(ms, "hull") - 11 / 8) < 0.1
    assert abs(_mean(ms, "volume") - 187 / 96) < 0.12
    # and they are not percolation's: the hull is well below 7/4
    assert _mean(ms, "hull") < 7 / 4 - 0.2


def test_the_size_exponent_is_a_maximum_likelihood_fit():
    """Sizes drawn from a discrete power law of exponent 2.3 give 2.3 within 3 sigma."""
    rng = np.random.default_rng(0)
    support = np.arange(10, 2001)
    p = support ** -2.3
    sizes = rng.choice(support, size=4000, p=p / p.sum())
    tau, err = g.power_law_mle(sizes, 10, 2000)
    assert abs(tau - 2.3) < 3 * err and err < 0.05


def test_measures_do_not_depend_on_orientation_or_which_phase_is_metal():
    x = make_dataset(1, size=300, seed=3, classes=["C-2D"], progress=False)[0][0]
    ref = g.measure(x)
    assert np.isfinite(list(ref.values.values())).all()
    for y in (np.rot90(x), x[::-1], x.T, 1 - x):
        other = g.measure(np.ascontiguousarray(y))
        for m in g.MEASURES:
            assert other.values[m] == pytest.approx(ref.values[m], abs=1e-9), m


def test_clusters_touching_the_edge_are_left_out_and_counted():
    x = np.zeros((60, 60), np.uint8)
    x[0:10, 0:10] = 1  # touches the edge
    x[20:30, 20:30] = 1  # inside
    labels, n = g.clusters(x, "1")
    assert n == 2
    geo = g.measure(x, phases="1")
    assert geo.n_edge == 1


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="binar"):
        g.measure(np.random.default_rng(0).random((50, 50)))
    with pytest.raises(ValueError, match="min_size"):
        g.measure(np.zeros((50, 50), np.uint8), min_size=0)


def test_the_verdict_includes_the_truth_for_fresh_frames_of_each_2d_class():
    """Independent-seed 400x400 frames (not the references' seeds): the shipped
    references' verdict includes the class that drew each."""
    refs = g.References.load()
    assert set(refs.mean) == {"C-2D", "C-3D", "RF-2D", "RF-3D", "P-2D", "P-3D", "P*"}
    for c in ("C-2D", "RF-2D", "P-2D"):
        x = make_dataset(1, size=400, seed=4242, classes=[c], progress=False)[0][0]
        v = g.verdict(g.measure(x), refs)
        assert c in v.consistent, (c, v.chi2)
        assert abs(sum(v.likelihood.values()) - 1) < 1e-9


def test_a_uniform_image_has_no_geometry_and_says_so():
    geo = g.measure(np.ones((100, 100), np.uint8))
    v = g.verdict(geo)
    assert v.n_measures == 0 and not v.consistent
    assert "could not be measured" in g.agreement_message("C-2D", v)


def test_a_760_frame_gives_every_measure():
    """A microscope-sized frame at p_c: every measure finite (speed: bench_geometry)."""
    x = percolation(1, size=760, p=PC_2D, seed=1)[0]
    geo = g.measure(x)
    assert geo.n_clusters > 100 and all(np.isfinite(list(geo.values.values())))


def test_references_of_the_nearest_resolution_with_their_smallest_cluster():
    sharp, blurred = g.References.load(), g.References.load(psf_sigma=1.8)
    assert sharp.info["psf_sigma"] == 0 and sharp.min_size == g.MIN_SIZE
    assert blurred.info["psf_sigma"] == 2 and blurred.min_size == g.default_min_size(2)
    assert g.default_min_size(2) == 50  # pi (2 sigma)^2


def test_an_image_the_cnn_rejects_is_never_said_to_agree():
    """The geometry is no rejection: a pattern can fit a class's exponents. When the
    CNN finds the image unlike every class, the words say that, not "agrees"."""
    from napari_hamiltonian.classes import NONE_NAME

    fits = g.Verdict(chi2={"RF-2D": 1.0}, n_measures=4, consistent=["RF-2D"],
                     likelihood={"RF-2D": 1.0})
    words = g.agreement_message(NONE_NAME, fits)
    assert "unlike every class" in words and "agrees" not in words
    assert not g.cnn_agrees(NONE_NAME, fits)
    none = g.Verdict(chi2={"RF-2D": 99.0}, n_measures=4, consistent=[], likelihood={})
    assert "none of the seven references either" in g.agreement_message(NONE_NAME, none)
    assert "agrees with the CNN" in g.agreement_message("RF-2D", fits)


@pytest.mark.parametrize("sigma", g.REFERENCE_SIGMAS)
def test_references_hold_the_patterns_none_of_the_seven_draws(sigma):
    """Every resolution's references also measure labyrinths, bubbles and smoothed
    noise through the same microscope, and a fresh level set of smoothed noise through
    it is found consistent with its family."""
    from napari_hamiltonian.imaging.optics import render_training_set
    from napari_hamiltonian.simulate.outliers import pattern

    refs = g.References.load(psf_sigma=sigma)
    assert set(refs.outside) == set(g.OUTSIDE_FAMILIES)
    fits, measured = 0, 0
    for k in range(8):
        x = pattern("smooth field", 1, 384, seed=4242 + k)
        if sigma:
            x = render_training_set(x, sigma, seed=k)
        v = g.verdict(g.measure(x[0], refs.min_size), refs)
        if v.n_measures:  # long correlation lengths leave too few clusters to measure
            measured += 1
            fits += "smooth field" in v.outside
    assert measured >= 3 and fits >= 0.75 * measured


def test_the_geometry_never_agrees_when_it_cannot_exclude_a_non_physical_family():
    v = g.Verdict(chi2={"RF-2D": 1.0, "C-2D": 30.0}, n_measures=4, consistent=["RF-2D"],
                  likelihood={"RF-2D": 1.0, "C-2D": 0.0}, outside=["labyrinth"])
    words = g.agreement_message("RF-2D or RF-3D", v)
    assert "agrees" not in words and "cannot confirm" in words and "labyrinth" in words
    assert "agrees" in g.agreement_message("RF-2D", g.Verdict(
        chi2=v.chi2, n_measures=4, consistent=["RF-2D"], likelihood=v.likelihood,
        outside=[]))
    words = g.agreement_message("cannot tell at this resolution", v)
    assert "cannot tell" in words and "agrees" not in words


def test_an_empty_geometry_panel_says_why():
    """Issue 29: a measure that could not be fitted left its panel empty without a
    word; the dots are ringed so that the dark theme shows them."""
    from napari_hamiltonian.geometry import MEASURES, References, measure
    from napari_hamiltonian.output.figures import geometry_plot

    uniform = np.ones((120, 120), np.uint8)
    g = measure(uniform, 10)
    fig = geometry_plot([0], [g], References.load())
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    empty = [m for m in MEASURES if not np.isfinite(g.values[m])]
    assert empty and sum("not measurable:" in t for t in texts) == len(empty)


def test_no_cluster_measured_confirms_nothing():
    """Issue 31, item 10: with a --min-size larger than every cluster the pair
    connectivity alone was said to agree with the CNN; now nothing is confirmed."""
    from napari_hamiltonian.geometry.verdict import agreement_message, table_row

    frame = percolation(1, size=200, p=0.59, seed=1)[0]
    none = g.measure(frame, min_size=100_000)
    v = g.verdict(none)
    assert none.n_clusters == 0 and v.clusters == 0
    words = agreement_message("P-2D", v)
    assert "could not be measured" in words and "100000 pixels" in words
    assert "agrees" not in words
    assert table_row(none, v)["consistent with"] == ""
    assert "agrees" in agreement_message("P-2D", g.verdict(g.measure(frame, min_size=10)))
