"""Parameter maps and frame estimates (issue 30): windows across a frame, a frame's
estimate whose interval counts the windows' overlap, a disorder gradient seen as a map,
the bundled RF-2D sweep, and the Python, command-line and file front ends."""

from __future__ import annotations

import copy
import csv
import json

import numpy as np
import pytest
import tifffile

import napari_hamiltonian as nh
from napari_hamiltonian.parameters.families import simulate_family
from napari_hamiltonian.output.messages import parameter_words
from napari_hamiltonian.parameters.maps import read_parameters
from napari_hamiltonian.samples import sample_path


@pytest.fixture(scope="module")
def percolation_frame():
    images, p = simulate_family("P", 1, 300, seed=77, ranges=[(0.55, 0.55)])
    return images[0], float(p[0, 0])


def test_a_frame_estimate_is_narrower_than_a_window_and_covers(percolation_frame):
    frame, p = percolation_frame
    reg = nh.load_pretrained_regressor("P")
    m = read_parameters(frame, reg, "P", stride=25)
    assert m.estimate.shape == (9, 9, 1) and m.interval.shape == (9, 9, 1, 2)
    # nine disjoint windows' worth at most; the edge pixels are in fewer windows
    assert 6.0 < m.n_independent < 9.0
    assert read_parameters(frame, reg, "P", stride=100).n_independent == pytest.approx(9.0)
    low, high = m.frame_interval[0]
    assert low <= p <= high
    window_width = np.mean(m.interval[..., 0, 1] - m.interval[..., 0, 0])
    assert high - low < 0.7 * window_width
    # the windows' own estimates are those of the regressor on each window alone
    np.testing.assert_allclose(m.estimate[2, 3], reg.predict(frame[None, 50:150, 75:175])[0])
    ratio = m.relative_to_critical()
    assert ratio[0] == pytest.approx(m.frame_estimate[0] / 0.592746, rel=1e-4)


def test_overlapping_windows_do_not_narrow_the_frame_interval(percolation_frame):
    """Eighteen times the windows at stride 10 as at stride 50: the same pixels, nearly
    the same independent windows, so an interval of the same size (windows counted as
    independent would make it four times narrower)."""
    frame, _ = percolation_frame
    reg = nh.load_pretrained_regressor("P")
    dense, sparse = (read_parameters(frame, reg, "P", stride=s) for s in (10, 50))
    assert dense.inside.sum() > 16 * sparse.inside.sum()
    assert 6.0 < dense.n_independent < sparse.n_independent <= 9.0
    w_dense, w_sparse = (np.ptp(m.frame_interval[0]) for m in (dense, sparse))
    assert 0.6 < w_dense / w_sparse < 2.0


def test_a_region_keeps_the_windows_outside_unread(percolation_frame):
    frame, _ = percolation_frame
    mask = np.zeros(frame.shape, bool)
    mask[:, :200] = True
    m = read_parameters(frame, nh.load_pretrained_regressor("P"), "P", stride=25, mask=mask)
    assert m.inside[:, :5].all() and not m.inside[:, 5:].any()
    assert np.isnan(m.estimate[:, 5:]).all()
    disjoint = read_parameters(frame, nh.load_pretrained_regressor("P"), "P", stride=100,
                               mask=mask)
    assert disjoint.n_independent == pytest.approx(6.0)  # 300 x 200 px of the region
    assert m.n_independent < 6.0


def gradient_frame(size, r0, r1, seed):
    from napari_hamiltonian.simulate.rfim import field_sweep, snapshot

    r_of_x = np.linspace(r0, r1, size)
    h = np.random.default_rng(seed).normal(0.0, 1.0, (size, size)) * r_of_x[None, :]
    order, ends, _ = field_sweep(h.ravel(), 1, size, size)
    return snapshot(order, ends, size * size // 2, size * size).reshape(size, size), r_of_x


def test_a_disorder_gradient_shows_as_a_map_with_its_slope():
    frame, r_of_x = gradient_frame(400, 0.8, 2.0, seed=5)
    m = read_parameters(frame, nh.load_pretrained_regressor("RF-2D"), "RF-2D", stride=50)
    ny, nx = m.inside.shape
    true = np.array([r_of_x[j * 50:j * 50 + 100].mean() for j in range(nx)])
    slope = np.polyfit(np.tile(true, ny), m.estimate[..., 0].ravel(), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.2)


def test_the_bundled_sweep_reads_its_disorder_on_the_transition_frames():
    """The bundled RF-2D stack was drawn at R = 1.1: the frames of the transition (metal
    fraction 0.35-0.65) give intervals that hold it, and every frame's metal-fraction
    interval holds the frame's own share, though at this low disorder the windows'
    middle-weighted mean is a few hundredths off it (the calibration frames, which say
    a narrower interval would do, do not narrow it)."""
    stack = tifffile.imread(sample_path("rf2d_stack.tif"))
    fractions = json.loads(sample_path("rf2d_stack_fields.json").read_text())["metal_fraction"]
    reg = nh.load_pretrained_regressor("RF-2D")
    for frame, fraction in zip(stack, fractions):
        m = read_parameters(frame, reg, "RF-2D")
        if 0.3 < fraction < 0.7:
            low, high = m.frame_interval[0]
            assert low <= 1.1 <= high, (fraction, m.frame_estimate, m.frame_interval)
        assert m.frame_interval[1, 0] <= frame.mean() <= m.frame_interval[1, 1], fraction
    assert reg.frame_factor(0.9)[1] == 1.0


def test_classify_image_carries_the_parameters_and_auto_takes_the_named_family():
    stack = tifffile.imread(sample_path("rf2d_stack.tif"))
    res = nh.classify_image(stack[3], stride=25, parameters="RF-2D", parameter_stride=50)
    assert res.parameters.family == "RF-2D"
    assert res.parameters.names == ("disorder", "metal_fraction")
    assert res.parameters.estimate.shape == (5, 5, 2)
    direct = read_parameters(stack[3], nh.load_pretrained_regressor("RF-2D"), "RF-2D", 50)
    np.testing.assert_array_equal(res.parameters.estimate, direct.estimate)
    auto = nh.classify_image(stack[3], stride=25, parameters="auto")
    from napari_hamiltonian.parameters.maps import FAMILY_OF_CLASS
    assert (auto.parameters is None) == (auto.answer() not in FAMILY_OF_CLASS)
    if auto.parameters is not None:
        assert auto.parameters.family == FAMILY_OF_CLASS[auto.answer()]
    assert nh.classify_image(stack[3], stride=50).parameters is None


def test_parameters_are_refused_where_they_would_mislead():
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    with pytest.raises(ValueError, match="unknown family 'RF-4D'"):
        nh.classify_image(frame, stride=50, parameters="RF-4D")
    with pytest.raises(ValueError, match="no RF-2D regressor ships for a PSF of 3 px"):
        nh.classify_image(frame, stride=50, psf_sigma=3.0, parameters="RF-2D")
    mine = nh.load_pretrained_regressor("RF-2D")  # lattice scale, on blurred frames
    with pytest.raises(ValueError, match="PSF sigma 0 px and the frames are read at 3"):
        nh.classify_image(frame, stride=50, psf_sigma=3.0, parameters=mine)
    with pytest.raises(ValueError, match="parameter stride must be a positive integer"):
        nh.classify_image(frame, stride=50, parameters="RF-2D", parameter_stride=0)
    with pytest.raises(ValueError, match="at least that large"):
        read_parameters(frame[:80], nh.load_pretrained_regressor("RF-2D"))


def test_classify_parameters_on_the_command_line(tmp_path, capsys):
    from napari_hamiltonian.cli import main

    out = tmp_path / "out"
    assert main(["classify", str(sample_path("rf2d_stack.tif")), "--out", str(out),
                 "--stride", "50", "--parameters", "RF-2D", "--parameter-stride", "50"]) == 0
    said = capsys.readouterr().out
    assert "frame 3: RF-2D: disorder" in said and "90% intervals" in said
    folder = out / "rf2d_stack"
    with open(folder / "parameters.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and {r["parameter"] for r in rows} == {"disorder",
                                                                  "metal_fraction"}
    maps = tifffile.imread(folder / "parameters-RF-2D.tif")
    assert maps.shape == (8, 2, 5, 5) and maps.dtype == np.float32
    with tifffile.TiffFile(folder / "parameters-RF-2D.tif") as tif:
        said = tif.shaped_metadata[0]
    assert said["channels"] == ["disorder", "metal_fraction"] and said["stride_px"] == 50
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[5]
    direct = read_parameters(frame, nh.load_pretrained_regressor("RF-2D"), "RF-2D", 50)
    np.testing.assert_allclose(maps[5], np.moveaxis(direct.estimate, -1, 0), rtol=1e-6)
    row = next(r for r in rows if r["frame"] == "5" and r["parameter"] == "disorder")
    assert float(row["lower"]) == pytest.approx(direct.frame_interval[0, 0])
    assert row["over_critical"] == ""  # the 2D field sweep has no critical disorder
    # refused before any work: blurred frames, a family that is not
    assert main(["classify", str(sample_path("rf2d_stack.tif")), "--out",
                 str(tmp_path / "b"), "--psf-sigma", "3", "--threshold", "0.5",
                 "--parameters", "RF-2D"]) == 2
    assert "no RF-2D regressor ships for a PSF of 3 px" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    assert main(["classify", str(sample_path("rf2d_stack.tif")), "--out",
                 str(tmp_path / "c"), "--parameters", "Potts"]) == 2
    err = capsys.readouterr().err
    assert "unknown family 'Potts'" in err and "or 'auto'" in err


@pytest.fixture(scope="module")
def small_regressor():
    """A regressor of p on 32 px windows (one epoch: its windows err in their own way)."""
    images, p = simulate_family("P", 300, 32, seed=9)
    return nh.HamiltonianRegressor(parameter_names=("p",), epochs=1, random_state=0) \
        .fit(images, p)


def test_the_frame_calibration_measures_what_windows_share_and_survives_the_file(
        small_regressor, tmp_path):
    """Frames whose windows all err alike (a shift added to every image of a frame)
    show as a shared error; the frames are read as the maps read them; the file keeps
    it; a regressor without it says what to do."""
    reg = copy.deepcopy(small_regressor)
    with pytest.raises(ValueError, match="calibrate_frames"):
        reg.shared_error()
    frames, q = simulate_family("P", 40, 64, seed=10)  # four disjoint 32 px windows each
    assert reg.calibrate_frames(frames, q) is reg
    assert reg.frame_stride_ == 25 and reg.frame_noise_.shape == (40, 1)
    honest = reg.shared_error()[0]
    assert honest >= 0
    again = nh.HamiltonianRegressor.load(reg.save(tmp_path / "p.safetensors"))
    np.testing.assert_array_equal(again.shared_error(), reg.shared_error())
    np.testing.assert_array_equal(again.shared_error([0.5]), reg.shared_error([0.5]))
    np.testing.assert_array_equal(again.frame_factor(0.8), reg.frame_factor(0.8))
    assert again.frame_stride_ == 25
    # in disjoint windows: each frame's noise is its four windows' variance over four
    reg.calibrate_frames(frames, q, stride=32)
    np.testing.assert_array_equal(reg.frame_independent_, 4.0)
    windows = frames[3].reshape(2, 32, 2, 32).transpose(0, 2, 1, 3).reshape(4, 32, 32)
    mu = (reg.predict(windows) - reg.target_mean_[0]) / reg.target_scale_[0]
    assert reg.frame_noise_[3, 0] == pytest.approx(mu.var(ddof=1) / 4, rel=1e-5)
    assert reg.frame_errors_[3, 0] == pytest.approx(
        mu.mean() - (q[3, 0] - reg.target_mean_[0]) / reg.target_scale_[0], rel=1e-5)
    # every frame's truth off by 0.05: an error its windows share, which no average removes
    shifted = reg.calibrate_frames(frames, q + 0.05).shared_error()[0]
    assert 0.04 < shifted < 0.06 + honest
    with pytest.raises(ValueError, match="at least 20 frames"):
        reg.calibrate_frames(frames[:5], q[:5])
    with pytest.raises(ValueError, match="two 32 x 32 windows"):
        reg.calibrate_frames(frames[:30, :32, :40], q[:30])
    with pytest.raises(ValueError, match="positive integer"):
        reg.calibrate_frames(frames, q, stride=0)
    with pytest.raises(ValueError, match="needs more than the 40 frames"):
        reg.frame_factor(0.99)


def test_frame_intervals_cover_frames_whose_windows_share_an_unknown_error(
        small_regressor):
    """Each frame's truth is off by its own random amount (as a sample's unusual pattern
    would put it): the frame interval, calibrated on such frames, covers about the
    nominal share of new ones, where the windows' spread alone covers few."""
    reg = copy.deepcopy(small_regressor)
    rng = np.random.default_rng(3)
    frames, q = simulate_family("P", 240, 64, seed=11)
    reg.calibrate_frames(frames, q + rng.normal(0, 0.03, q.shape))
    new, p = simulate_family("P", 240, 64, seed=12)
    truth = p[:, 0] + rng.normal(0, 0.03, len(p))
    inside, spread_only = [], []
    for frame, t in zip(new, truth):
        m = read_parameters(frame, reg, "P")
        low, high = m.frame_interval[0]
        inside.append(low <= t <= high)
        half = 1.645 * m.estimate[m.inside][:, 0].std(ddof=1) / np.sqrt(m.n_independent)
        spread_only.append(abs(m.frame_estimate[0] - t) <= half)
    assert 0.84 <= np.mean(inside) <= 0.96
    assert np.mean(spread_only) < 0.75


def test_a_micrograph_gets_its_disorder_from_the_regressor_of_its_resolution():
    """The user's path on a blurred grey frame: the PSF 2 px model classifies it with the
    phase levels, and the parameters come from the 2 px regressor, whose frame interval
    holds the disorder the film was drawn with (not much narrower than a window's: the
    instrument's noise, which sets how the blurred frame binarises, is shared by all its
    windows)."""
    from napari_hamiltonian.imaging.optics import Instrument

    frame, _ = gradient_frame(400, 1.1, 1.1, seed=8)  # uniform R = 1.1, half metal
    grey = Instrument(2.0, insulator=50.0, metal=200.0, noise=15.0).grey(
        frame, np.random.default_rng(8))
    res = nh.classify_image(grey, psf_sigma=2.0, levels=(50.0, 200.0), stride=25,
                            parameters="RF-2D")
    m = res.parameters
    assert m.psf_sigma == 2.0 and m.family == "RF-2D"
    low, high = m.frame_interval[0]
    assert low <= 1.1 <= high
    assert "regressor for 2 px" in parameter_words(m)
    lattice = read_parameters(frame, nh.load_pretrained_regressor("RF-2D"), "RF-2D")
    assert lattice.frame_interval[0, 0] <= 1.1 <= lattice.frame_interval[0, 1]


def test_the_regressor_of_the_nearest_shipped_resolution_is_loaded():
    from napari_hamiltonian.parameters.pretrained import regressor_for

    assert nh.load_pretrained_regressor("P", 2.3).training_info_["psf_sigma"] == 2.0
    assert nh.load_pretrained_regressor("P", 0.4).training_info_.get("psf_sigma", 0) == 0
    with pytest.raises(ValueError, match=r"no P regressor ships for a PSF of 1 px .*"
                                         r"train-regressor P --psf-sigma 1"):
        nh.load_pretrained_regressor("P", 1.0)
    reg, name = regressor_for("auto", 2.0, "P*")
    assert name == "P" and reg.training_info_["psf_sigma"] == 2.0
    assert regressor_for("auto", 2.0, "RF-2D or RF-3D") is None
    with pytest.raises(ValueError, match="at 3 px"):
        regressor_for("auto", 3.0)


def test_family_names_are_read_in_any_case():
    """"rf-2d" is RF-2D and "Auto" is auto, in the loader and the classification alike;
    the record keeps the family's own spelling."""
    assert nh.load_pretrained_regressor("p").training_info_["family"] == "P"
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[5]
    named = nh.classify_image(frame, stride=10, parameters="rf-2d", parameter_stride=100)
    assert named.parameters.family == "RF-2D"
    auto = nh.classify_image(frame, stride=10, parameters="Auto", parameter_stride=100)
    assert auto.answer() == "RF-2D" and auto.parameters.family == "RF-2D"
    np.testing.assert_array_equal(auto.parameters.estimate, named.parameters.estimate)
