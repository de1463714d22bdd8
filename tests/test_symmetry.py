"""Symmetry reduction: an exact canonical form under Z2 x D4."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_hamiltonian import symmetry_reduce
from napari_hamiltonian.classifier.symmetry import transform


def quadrants(x):
    n = x.shape[-1]
    m = n // 2
    lo = n - m
    q1 = x[:m, lo:].sum()
    q2 = x[:m, :m].sum()
    q3 = x[lo:, :m].sum()
    q4 = x[lo:, lo:].sum()
    return q1, q2, q3, q4


def paper_reduce(x):
    """The paper's three steps, literally (valid when no step meets a tie)."""
    if x.sum() < x.size - x.sum():
        x = 1 - x
    best = max(range(4), key=lambda k: quadrants(np.rot90(x, k))[0])
    x = np.rot90(x, best)
    q1, q2, q3, q4 = quadrants(x)
    if q4 > q2:
        x = x[::-1, ::-1].T  # reflection about the anti-diagonal (through I and III)
    return x


@st.composite
def images(draw):
    n = draw(st.integers(2, 11))
    kind = draw(st.sampled_from(["random", "symmetric", "balanced", "constant"]))
    p = draw(st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.random((n, n)) < p).astype(np.uint8)
    if kind == "symmetric":  # ties in quadrant counts and lexicographic near-ties
        g = draw(st.integers(0, 7))
        x = x | transform(x, 2 * g)
    elif kind == "balanced":  # exactly half up when possible: tie in step 1
        flat = np.zeros(n * n, np.uint8)
        flat[: n * n // 2] = 1
        x = rng.permutation(flat).reshape(n, n)
    elif kind == "constant":
        x[:] = draw(st.integers(0, 1))
    return x


@settings(max_examples=400, deadline=None)
@given(images())
def test_reduction_is_invariant_under_all_16_operations(x):
    y = symmetry_reduce(x)
    for g in range(8):
        for flip in (False, True):
            np.testing.assert_array_equal(symmetry_reduce(transform(x, 2 * g + flip)), y)


@settings(max_examples=300, deadline=None)
@given(images())
def test_reduced_image_satisfies_the_paper_ordering(x):
    y = symmetry_reduce(x)
    assert 2 * y.sum() >= y.size
    q1, q2, q3, q4 = quadrants(y)
    assert q1 >= max(q2, q3, q4) and q2 >= q4
    # y is in the orbit of x
    assert any(np.array_equal(y, transform(x, op)) for op in range(16))


def test_matches_the_papers_steps_when_there_are_no_ties():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(600):
        n = int(rng.integers(4, 13))
        x = (rng.random((n, n)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
        up = x.sum()
        xx = x if 2 * up > x.size else 1 - x
        q = sorted(quadrants(xx))
        if 2 * up == x.size or q[-1] == q[-2] or len(set(q)) < 4:
            continue  # a tie somewhere: the paper's steps are ambiguous
        np.testing.assert_array_equal(symmetry_reduce(x), paper_reduce(x))
        checked += 1
    assert checked > 100


def test_batch_equals_single_and_conventions_are_kept():
    rng = np.random.default_rng(1)
    x = (rng.random((20, 10, 10)) < 0.5).astype(np.uint8)
    batch = symmetry_reduce(x)
    assert batch.shape == x.shape and batch.dtype == np.uint8
    for a, b in zip(x, batch):
        np.testing.assert_array_equal(symmetry_reduce(a), b)
    pm = symmetry_reduce(2 * x.astype(np.int8) - 1)
    assert pm.dtype == np.int8
    np.testing.assert_array_equal(pm, 2 * batch.astype(np.int8) - 1)
    np.testing.assert_array_equal(symmetry_reduce(x.astype(bool)), batch.astype(bool))
    np.testing.assert_array_equal(symmetry_reduce(x.astype(float)), batch)
    before = x.copy()
    symmetry_reduce(x)
    np.testing.assert_array_equal(x, before)  # the input is never modified


@pytest.mark.parametrize(
    "x,match",
    [
        (np.full((4, 4), 0.5), "must be binary"),
        (np.array([[0, 2], [1, 0]]), "threshold the image first"),
        (np.zeros((4, 6), np.uint8), "square"),
        (np.zeros((2, 2, 4, 4), np.uint8), "shape"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.array([["a"]]), "numeric"),
    ],
)
def test_bad_input_raises_clear_errors(x, match):
    with pytest.raises(ValueError, match=match):
        symmetry_reduce(x)


def test_grey_images_reduce_with_their_binarisation_and_are_invariant():
    from napari_hamiltonian.classifier.symmetry import N_OPERATIONS, reduce_grey, transform

    rng = np.random.default_rng(4)
    g = rng.normal(0.45, 0.6, (6, 20, 20)).astype(np.float32)
    g[np.abs(g - 0.5) < 1e-3] = 0.0  # no pixel at the threshold itself
    r = reduce_grey(g)
    np.testing.assert_array_equal((r > 0.5).astype(np.uint8),
                                  symmetry_reduce((g > 0.5).astype(np.uint8)))
    for op in range(N_OPERATIONS):
        np.testing.assert_allclose(reduce_grey(transform(g, op)), r, atol=1e-6)
    with pytest.raises(ValueError, match="square grey images"):
        reduce_grey(g[:, :, :10])
