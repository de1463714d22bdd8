"""Sliding windows: the fast shared computation equals per-window predict, exactly."""

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import napari_hamiltonian as nh
from napari_hamiltonian import HamiltonianClassifier
from napari_hamiltonian import classify_image
from napari_hamiltonian import classify_stack
from napari_hamiltonian.inference import wholeimage
from napari_hamiltonian.inference.sliding import iter_classify
from napari_hamiltonian.classifier.symmetry import reducing_operation, window_operations


@pytest.fixture(scope="module")
def clf32():
    """A small seven-class model on 32x32 windows (trained in seconds), accurate enough
    (66 % on its validation images) that its rejection decides (``unreliable``)."""
    X, y, _ = nh.simulate.make_dataset(80, size=32, seed=21, progress=False)
    clf = HamiltonianClassifier(hidden_units=24, epochs=3, random_state=0).fit(X, y)
    assert clf.unreliable() is None
    return clf


def naive(clf, image, stride, rows=None):
    """Per-window decision_function, columns reordered like the sliding result."""
    n = clf.window_
    H, W = image.shape
    origins = [(i, j) for i in range(0, H - n + 1, stride) for j in range(0, W - n + 1, stride)]
    if rows is not None:
        origins = [origins[k] for k in rows]
    wins = np.stack([image[i:i + n, j:j + n] for i, j in origins])
    return clf.decision_function(wins)


def as_result_order(clf, res, z):
    return z[:, [list(clf.classes_).index(c) for c in res.classes]]


@pytest.mark.parametrize("stride", [1, 3, 4])
@pytest.mark.parametrize("direct_below", [0, None, 10**9])
def test_every_window_matches_predict(clf32, stride, direct_below, monkeypatch):
    """Every window equals predict, with the first dense layer by FFT blocks only
    (``direct_below`` 0), by direct products only (10**9) and as chosen per block."""
    if direct_below is not None:
        monkeypatch.setattr(wholeimage, "DIRECT_BELOW", direct_below)
    rng = np.random.default_rng(stride)
    # percolation at p = 0.5 makes windows need all 16 symmetry variants
    image = (rng.random((75, 83)) < 0.5).astype(np.uint8)
    res = classify_image(image, clf32, stride=stride)
    ny, nx = res.labels.shape
    assert (ny, nx) == ((75 - 32) // stride + 1, (83 - 32) // stride + 1)
    z = as_result_order(clf32, res, naive(clf32, image, stride)).reshape(ny, nx, -1)
    np.testing.assert_allclose(res.logits, z, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(res.labels, z.argmax(-1))
    wins = np.stack([image[i * stride:i * stride + 32, j * stride:j * stride + 32]
                     for i in range(ny) for j in range(nx)])
    scores = clf32.rejection_scores(wins)
    np.testing.assert_allclose(res.scores.reshape(scores.shape), scores, rtol=1e-3, atol=1e-3)
    # the decision is the same except within float rounding of a threshold
    clear = np.all(np.abs(scores - clf32.rejection_.thresholds)
                   > 1e-3 * (1 + np.abs(scores)), axis=1)
    np.testing.assert_array_equal(res.confident.ravel()[clear],
                                  clf32.score_confidence(wins)[clear])
    np.testing.assert_array_equal(res.paper_confident.ravel(),
                                  clf32.paper_confidence(wins))
    if stride == 1:
        assert len(np.unique(window_operations(image, 32, 1))) == 16


@pytest.mark.parametrize("shape", [(1, 3, 9, 12), (2, 4, 10, 7)])
def test_the_fast_max_pool_equals_torchs_on_every_grid(shape):
    import torch
    import torch.nn.functional as F

    x = torch.randn(shape)
    for py in (0, 1):
        for px in (0, 1):
            assert torch.equal(wholeimage.max_pool(x, py, px),
                               F.max_pool2d(x[:, :, py:, px:], 2))


def test_window_operations_are_the_symmetry_reduction_of_each_window():
    rng = np.random.default_rng(0)
    image = (rng.random((40, 44)) < 0.5).astype(np.uint8)
    ops = window_operations(image, 16, 2)
    for i in range(ops.shape[0]):
        for j in range(ops.shape[1]):
            assert ops[i, j] == reducing_operation(image[2 * i:2 * i + 16,
                                                         2 * j:2 * j + 16])


def test_seven_class_order_and_fractions(clf32):
    image = nh.simulate.ising2d(1, size=64, temperature=2.3, seed=2)[0]
    res = classify_image(image, clf32)
    assert res.classes == nh.CLASSES
    fr = res.fractions()
    assert list(fr) == list(nh.CLASSES)
    assert sum(f for f, _ in fr.values()) == pytest.approx(1)
    assert all(0 <= c <= f for f, c in fr.values())
    # each share is the count of that label over all windows, confident ones included
    for k, c in enumerate(nh.CLASSES):
        assert fr[c][0] == np.mean(res.labels == k)
        assert fr[c][1] == np.mean((res.labels == k) & res.confident)


def test_threshold_and_metal_side(clf32):
    rng = np.random.default_rng(3)
    b = nh.simulate.percolation(1, size=48, p=0.59, seed=4)[0]
    gray = b * 100.0 + rng.normal(0, 5, b.shape) + 20
    ref = classify_image(b, clf32)
    for thr in (70.0, "otsu"):
        res = classify_image(gray, clf32, threshold=thr)
        np.testing.assert_array_equal(res.logits, ref.logits)
    dark = classify_image(b, clf32, metal="dark")
    np.testing.assert_array_equal(dark.logits, classify_image(1 - b, clf32).logits)
    # the spin flip is a symmetry: swapping metal and insulator changes nothing
    np.testing.assert_array_equal(dark.labels, ref.labels)


@pytest.mark.parametrize("image, kwargs, match", [
    (np.random.default_rng(0).random((50, 50)), {}, "threshold"),
    (np.zeros((20, 50)), {}, "smaller than"),
    (np.zeros((50, 50, 3)), {"threshold": 0.5}, "RGB"),
    (np.zeros((2, 50, 50)), {}, "2D"),
    (np.full((50, 50), np.nan), {"threshold": 0.5}, "NaN"),
    (np.zeros((50, 50)), {"threshold": "mean"}, "otsu"),
    (np.zeros((50, 50)), {"metal": "up"}, "bright"),
    (np.zeros((50, 50)), {"stride": 0}, "stride"),
])
def test_bad_images_are_refused_clearly(clf32, image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        classify_image(image, clf32, **kwargs)


def test_generator_reports_progress_and_can_stop(clf32):
    image = (np.random.default_rng(5).random((60, 60)) < 0.5).astype(np.uint8)
    gen = iter_classify(image, clf32)
    first = next(gen)
    assert first[0] == "progress" and first[1] == 0 and first[2] >= 1
    second = next(gen)
    assert second[1] == 1
    gen.close()  # stopping between units is clean
    steps = list(iter_classify(image, clf32))
    assert [s[1] for s in steps] == list(range(steps[0][2] + 1))


def test_stack_is_lazy_and_independent_of_chunking(clf32):
    frames = np.stack([nh.simulate.percolation(1, size=70, p=p, seed=6)[0][:, :66]
                       for p in (0.3, 0.5, 0.7)])
    calls = []

    def load(t):
        calls.append(t)
        return frames[t]

    lazy = da.stack([da.from_delayed(dask.delayed(load)(t), frames.shape[1:], np.uint8)
                     for t in range(3)])
    res = classify_stack(lazy, clf32, stride=2)
    assert isinstance(res.labels, da.Array) and not calls
    ref = [classify_image(f, clf32, stride=2) for f in frames]
    assert res.labels.shape == (3,) + ref[0].labels.shape
    for chunks in [(1, -1, -1), (2, 40, 35), (3, 50, 66)]:
        r = classify_stack(da.from_array(frames, chunks=chunks), clf32, stride=2)
        logits, labels, conf = dask.compute(r.logits, r.labels, r.confident)
        for t in range(3):
            np.testing.assert_allclose(logits[t], ref[t].logits, atol=1e-5)
            np.testing.assert_array_equal(labels[t], ref[t].labels)
            np.testing.assert_array_equal(conf[t], ref[t].confident)
    np.testing.assert_array_equal(res.frame(1).labels, ref[1].labels)
    assert sorted(set(calls)) == [1]
    # the model is one key of the graph (a data node), shared by every task
    graph = dict(res.logits.__dask_graph__())
    holders = [k for k, v in graph.items() if getattr(v, "value", v) is clf32]
    assert len(holders) == 1
    tasks = [v for k, v in graph.items() if isinstance(k, tuple) and "_stack_block" in k[0]]
    assert len(tasks) > 1 and all(holders[0] in v.dependencies for v in tasks)


def test_stack_on_a_local_cluster(clf32):
    from distributed import Client, LocalCluster

    frames = np.stack([nh.simulate.percolation(1, size=48, p=0.5, seed=s)[0]
                       for s in range(2)])
    ref = [classify_image(f, clf32, stride=4) for f in frames]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        res = classify_stack(frames, clf32, stride=4, client=client)
        labels, logits = res.compute(res.labels, res.logits)
    for t in range(2):
        np.testing.assert_array_equal(labels[t], ref[t].labels)
        np.testing.assert_allclose(logits[t], ref[t].logits, atol=1e-5)


@pytest.mark.parametrize("threshold, match", [
    (float("nan"), "not a finite"), (float("inf"), "not a finite"),
    (-float("inf"), "not a finite"), (500.0, "outside the image's grey range"),
    (-5.0, "outside the image's grey range"), ("0.5", "'otsu'"), (True, "a number"),
])
def test_thresholds_that_make_no_sense_are_refused(clf32, threshold, match):
    gray = np.random.default_rng(0).normal(100, 20, (40, 40))
    with pytest.raises(ValueError, match=match):
        classify_image(gray, clf32, threshold=threshold)
    with pytest.raises(ValueError, match=match):
        r = classify_stack(gray[None], clf32, threshold=threshold)
        r.compute(r.labels)
    with pytest.raises(ValueError, match="constant"):
        classify_image(np.full((40, 40), 7.0), clf32, threshold="otsu")


def test_otsu_on_a_stack_is_otsu_of_the_whole_frame(clf32):
    """(H - window) % stride != 0: the windows do not cover the frame's last rows."""
    rng = np.random.default_rng(1)
    b = nh.simulate.percolation(1, size=47, p=0.55, seed=3)[0]
    gray = 100.0 * b + rng.normal(0, 15, b.shape)
    gray[-3:] += 400  # bright rows no window covers: they move the whole-frame Otsu level
    ref = classify_image(gray, clf32, stride=4, threshold="otsu")
    r = classify_stack(gray[None], clf32, stride=4, threshold="otsu")
    np.testing.assert_array_equal(r.compute(r.labels)[0][0], ref.labels)


@pytest.mark.parametrize("stack, match", [
    (np.zeros((40, 40)), "classify_image"),
    (np.zeros((2, 40, 40, 3)), "RGB"),
    (np.zeros((0, 40, 40)), "no frames"),
    (np.zeros((2, 20, 40)), "smaller than"),
])
def test_bad_stacks_are_refused_before_any_graph(clf32, stack, match):
    with pytest.raises(ValueError, match=match):
        classify_stack(stack, clf32)
    with pytest.raises(ValueError, match="metal"):
        classify_stack(np.zeros((1, 40, 40)), clf32, metal="up")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(32, 75), w=st.integers(32, 75), cy=st.integers(8, 80),
       cx=st.integers(8, 80), ct=st.integers(1, 2), stride=st.integers(1, 9),
       threshold=st.sampled_from([None, "otsu", "value"]), seed=st.integers(0, 1000))
def test_stack_equals_classify_image_for_any_chunking(clf32, h, w, cy, cx, ct, stride,
                                                     threshold, seed):
    rng = np.random.default_rng(seed)
    frames = (rng.random((2, h, w)) < rng.uniform(0.3, 0.7)).astype(np.uint8)
    if threshold is not None:
        frames = 80.0 * frames + rng.normal(0, 12, frames.shape)
    level = float(np.median(frames)) if threshold == "value" else threshold
    res = classify_stack(da.from_array(frames, chunks=(ct, cy, cx)), clf32, stride=stride,
                         threshold=level)
    labels, conf, logits = res.compute(res.labels, res.confident, res.logits)
    for t in range(2):
        ref = classify_image(frames[t], clf32, stride=stride, threshold=level)
        np.testing.assert_array_equal(labels[t], ref.labels)
        np.testing.assert_array_equal(conf[t], ref.confident)
        np.testing.assert_allclose(logits[t], ref.logits, atol=1e-5)


@pytest.fixture(scope="module")
def grey32():
    """A small grey-input model on 32x32 windows: renders at sigma 1 px in phase units."""
    from napari_hamiltonian.imaging.optics import render_training_set

    X, y, _ = nh.simulate.make_dataset(80, size=32, seed=22, progress=False)
    G = render_training_set(X, 1.0, seed=3, binarisation="none", level_error=0.05)
    return HamiltonianClassifier(hidden_units=24, epochs=3, random_state=0, psf_sigma=1.0,
                                 input_kind="grey").fit(G, y)


def test_a_grey_model_reads_every_window_in_phase_units(grey32):
    """Fast path equals per-window predict on the image in phase units, for any
    intensities (metal darker here); the rejection reads the binarisation at 1/2."""
    from napari_hamiltonian.imaging.optics import Instrument

    rng = np.random.default_rng(5)
    lattice = (rng.random((70, 77)) < 0.5).astype(np.uint8)
    micro = Instrument(1.0, insulator=300.0, metal=120.0, noise=20.0,
                       binarisation="none").grey(lattice, rng)
    res = classify_image(micro, grey32, stride=2, levels=(300.0, 120.0))
    units = (micro - 300.0) / (120.0 - 300.0)
    ny, nx = res.labels.shape
    z = as_result_order(grey32, res, naive(grey32, units, 2)).reshape(ny, nx, -1)
    np.testing.assert_allclose(res.logits, z, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(res.labels, z.argmax(-1))
    wins = np.stack([units[i * 2:i * 2 + 32, j * 2:j * 2 + 32]
                     for i in range(ny) for j in range(nx)])
    np.testing.assert_allclose(res.scores.reshape(-1, 2), grey32.rejection_scores(wins),
                               rtol=1e-3, atol=1e-3)
    # the same intensities as a stack, chunked across frames, give the same result
    stack = da.from_array(np.stack([micro, micro[::-1]]), chunks=(1, 40, 50))
    out = classify_stack(stack, grey32, stride=2, levels=(300.0, 120.0))
    np.testing.assert_allclose(out.frame(0).logits, res.logits, atol=1e-4, rtol=0)


def test_a_grey_model_needs_the_phase_levels_not_a_threshold(grey32):
    grey = np.random.default_rng(0).random((40, 40)) * 5
    with pytest.raises(ValueError, match="pass levels=\\(insulator, metal\\)"):
        classify_image(grey, grey32)
    with pytest.raises(ValueError, match="reads grey levels, not a thresholded"):
        classify_image(grey, grey32, threshold=2.5)
    with pytest.raises(ValueError, match="levels or threshold, not both"):
        classify_image(grey, grey32, threshold=2.5, levels=(0, 5))
    with pytest.raises(ValueError, match="two different finite"):
        classify_image(grey, grey32, levels=(1.0, 1.0))
    with pytest.raises(ValueError, match="reads grey levels, not a thresholded"):
        classify_stack(grey[None], grey32, threshold="otsu")
    # a binary image is its own phase units
    binary = (grey > 2.5).astype(np.uint8)
    np.testing.assert_allclose(classify_image(binary, grey32).logits,
                               classify_image(binary, grey32, levels=(0, 1)).logits)


def test_levels_give_a_binary_model_the_threshold_halfway(clf32):
    grey = np.random.default_rng(1).random((50, 50)) * 4
    by_levels = classify_image(grey, clf32, levels=(3.0, 1.0), stride=3)
    by_threshold = classify_image(grey, clf32, threshold=2.0, metal="dark", stride=3)
    np.testing.assert_array_equal(by_levels.logits, by_threshold.logits)
    stack = classify_stack(grey[None], clf32, levels=(3.0, 1.0), stride=3)
    np.testing.assert_allclose(stack.frame(0).logits, by_levels.logits, atol=1e-5)


def test_a_model_trained_to_chance_certifies_nothing_and_says_why():
    """The safety net: a model near chance level marks no window confident, whatever its
    rejection was calibrated to accept, and classify_image warns with the fix."""
    X, y, _ = nh.simulate.make_dataset(12, size=32, seed=21, progress=False)
    weak = HamiltonianClassifier(hidden_units=8, epochs=1, random_state=0).fit(X, y)
    why = weak.unreliable()
    assert why is not None and "validation accuracy" in why and "load_pretrained" in why
    image = nh.simulate.rfim(1, size=64, disorder=1.1, seed=3)[0]
    with pytest.warns(UserWarning, match="cannot tell the classes apart"):
        res = classify_image(image, weak, stride=4)
    assert not res.confident.any()
    assert res.answer() == "none of these"
    # its rejection alone would have accepted windows: the net is what refuses them
    assert weak.rejection_.accepts(res.scores).any()
    assert not weak.score_confidence(X[:20]).any()


def test_phase_levels_outside_the_image_are_refused_by_name(grey32):
    """Levels that put every pixel on one side are a mistake, not an image of one phase:
    refused, naming both levels and the image's range."""
    image = nh.simulate.percolation(1, size=64, p=0.59, seed=4)[0] * 2000.0 + 1000.0
    with pytest.raises(ValueError, match=r"phase levels -1000 .* and 300 .*\[1000, 3000\]"):
        classify_image(image, grey32, stride=8, levels=(-1000, 300))


def test_a_grey_model_warns_on_a_binary_image(grey32):
    image = nh.simulate.percolation(1, size=64, p=0.59, seed=4)[0]
    with pytest.warns(UserWarning, match="binary image"):
        classify_image(image, grey32, stride=8, levels=(0, 1))


def test_the_answer_is_the_majority_of_the_confident_windows(clf32):
    """A frame's answer counts only accepted windows: rejected ones of another class do
    not outvote them; mostly undecided windows read "cannot tell at this resolution"."""
    image = nh.simulate.percolation(1, size=64, p=0.59, seed=5)[0]
    res = classify_image(image, clf32, stride=4)
    res.groups = ()  # classes named on their own
    n = res.labels.size
    res.labels[:] = 0
    res.labels.flat[: n // 4] = 1
    res.confident[:] = False
    res.confident.flat[: n // 4] = True
    res.cannot_tell[:] = False
    assert res.majority() == res.classes[1]  # 3/4 of the windows are class 0, rejected
    assert res.answer() == "none of these"
    res.cannot_tell.flat[n // 4: n // 4 + n // 2] = True
    assert res.undecided() == pytest.approx((n // 2) / n)
    assert res.answer() == "cannot tell at this resolution"
    res.cannot_tell[:] = False
    res.confident.flat[: 3 * n // 4] = True
    assert res.answer() == res.majority()


def test_a_model_trained_without_symmetry_reduction_reads_windows_as_they_are():
    """Each window gets exactly what predict gives it, also for a model trained on raw
    images (augmented): no reduction in the fast path either."""
    X, y, _ = nh.simulate.make_dataset(20, size=32, seed=23, progress=False)
    raw = HamiltonianClassifier(hidden_units=16, epochs=1, random_state=0,
                                symmetry_reduction=False, augmentation=True).fit(X, y)
    image = nh.simulate.rfim(1, size=60, disorder=1.1, seed=6)[0]
    res = classify_image(image, raw, stride=7)
    z = as_result_order(raw, res, naive(raw, image, 7)).reshape(res.logits.shape)
    np.testing.assert_allclose(res.logits, z, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(res.labels, z.argmax(-1))


def test_phase_levels_most_pixels_lie_far_outside_of_are_said(grey32):
    """A first-time user's drive: levels 48 / 60 on an image whose phases are 50 / 200
    gave "none of these" without a word on the levels; true levels give no warning."""
    import warnings

    from napari_hamiltonian.imaging.optics import Instrument

    config = nh.simulate.percolation(1, size=64, p=0.59, seed=4)[0]
    image = Instrument(1.0, insulator=50, metal=200, noise=5).grey(
        config, np.random.default_rng(0))
    with pytest.warns(UserWarning, match=r"lie more than half the contrast.*\(40, 90\)"):
        classify_image(image, grey32, stride=8, levels=(40, 90))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classify_image(image, grey32, stride=8, levels=(50, 200))
    assert not any("lie more than" in str(w.message) for w in caught)
