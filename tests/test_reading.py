"""Reading (how frames become model input), the one model choice and the classify dock's
session, without Qt: every reading works from every Python entry point alike."""

import numpy as np
import pytest

import napari_hamiltonian as nh
from napari_hamiltonian.classifier.choice import choose_model
from napari_hamiltonian.imaging.reading import Reading
from napari_hamiltonian.plugin.session import ClassifySession, RunSettings, suggest_levels
from napari_hamiltonian.samples import field_sweep_stack, microscope_view


@pytest.fixture(scope="module")
def grey_stack():
    binary, _ = field_sweep_stack(size=130, fractions=(0.3, 0.45, 0.55, 0.7), seed=3)
    return microscope_view(binary, seed=3)


def test_reading_checks_itself_and_names_the_fix():
    with pytest.raises(ValueError, match="not both"):
        Reading("otsu", levels=(0, 1))
    with pytest.raises(ValueError, match="metal"):
        Reading("otsu", "shiny")
    with pytest.raises(ValueError, match="threshold='switching'"):
        Reading("otsu", smooth=2)
    with pytest.raises(ValueError, match="smooth"):
        Reading("switching", smooth=-1)
    with pytest.raises(ValueError, match="two different finite"):
        Reading(levels=(3, 3))
    with pytest.raises(ValueError, match="not both"):
        Reading.of(Reading("otsu"), threshold=0.5)


@pytest.mark.parametrize("reading", [Reading(), Reading("otsu", "dark"), Reading(0.25),
                                     Reading(levels=(200.0, 40.0)),
                                     Reading("switching", smooth=2.5, smooth_frames=1)])
def test_reading_round_trips_through_the_results_settings(reading):
    assert Reading.from_settings(reading.settings()) == reading


def test_levels_set_the_physical_threshold_for_a_binary_model():
    clf = nh.load_pretrained()
    got = Reading(levels=(200.0, 40.0)).for_model(clf)
    assert got == Reading(120.0, "dark")
    grey = nh.load_pretrained(2, "grey")
    with pytest.raises(ValueError, match="reads grey levels"):
        Reading("otsu").for_model(grey)


def test_switching_works_in_classify_image_and_classify_stack_alike(grey_stack):
    """One reading, the same windows from the image, the stack and the maps."""
    reading = Reading("switching", smooth=1.0)
    maps = nh.binarize_stack(grey_stack, sigma=1.0)
    direct = nh.classify_image(maps[2], stride=15)
    via_image = nh.classify_image(grey_stack, stride=15, reading=reading, frame=2)
    via_stack = nh.classify_stack(grey_stack, stride=15, reading=reading).frame(2)
    for res in (via_image, via_stack):
        np.testing.assert_array_equal(res.labels, direct.labels)
        np.testing.assert_allclose(res.logits, direct.logits, atol=1e-4)
    with pytest.raises(ValueError, match="reads a stack"):
        nh.classify_image(grey_stack[0], reading=reading)


def test_levels_work_in_classify_image_and_classify_stack_alike(grey_stack):
    levels = (float(grey_stack.min()), float(grey_stack.max()))
    loose = nh.classify_image(grey_stack[1], stride=15, psf_sigma=2, levels=levels)
    read = nh.classify_image(grey_stack[1], stride=15, psf_sigma=2,
                             reading=Reading(levels=levels))
    stack = nh.classify_stack(grey_stack, stride=15, psf_sigma=2,
                              reading=Reading(levels=levels)).frame(1)
    for res in (read, stack):
        np.testing.assert_array_equal(res.labels, loose.labels)
        np.testing.assert_array_equal(res.confident, loose.confident)


def test_one_model_choice_for_every_front_end(tmp_path):
    chosen = choose_model(None, Reading(levels=(0, 1)), 2.2)
    assert chosen.clf.input_kind == "grey" and chosen.clf.psf_sigma == 2.0
    assert chosen.label == "shipped model for 2 px, grey"
    assert any("nearest" in n for n in chosen.notes)
    assert choose_model(None, Reading(levels=(0, 1)), 2).notes == ()
    assert choose_model(None, Reading(levels=(0, 1))).clf.input_kind == "binary"
    path = chosen.clf.save(tmp_path / "m.safetensors")
    from napari_hamiltonian.classifier.modelfile import file_sha256
    mine = choose_model(path)
    assert mine.sha256 == file_sha256(path) and mine.label == "m.safetensors"
    with pytest.raises(ValueError, match="not both"):
        choose_model(path, psf_sigma=2)
    with pytest.raises(ValueError, match="no such file"):
        choose_model(tmp_path / "missing.safetensors")


class Layer:
    """What the session needs of an image layer."""

    def __init__(self, data, name="img"):
        self.data, self.name = data, name

    @property
    def ndim(self):
        return self.data.ndim


def test_session_reuses_results_until_a_setting_or_the_data_changes(grey_stack):
    session = ClassifySession()
    layer = Layer(grey_stack)
    s = RunSettings(layer, Reading("otsu"), stride=20, psf_sigma=2.0)
    frames = session.start(s, current=2, all_frames=True)
    assert frames == [2, 0, 1, 3] and session.follow
    for msg in session.work(s, frames[:2]):
        if msg[0] == "frame":
            session.record(msg[1], msg[2])
    assert sorted(session.results) == [0, 2] and sorted(session.curve) == [0, 2]
    assert session.start(s, current=2, all_frames=True) == [1, 3]  # kept
    assert session.summary().startswith("2 frames classified: ") and not \
        session.summary().startswith("2 frames classified: 2 frames")
    again = RunSettings(layer, Reading("otsu"), stride=10, psf_sigma=2.0)
    assert session.start(again, current=0) == [0] and not session.results  # new stride
    session.record(0, nh.classify_image(grey_stack[0], stride=10, threshold="otsu",
                                        psf_sigma=2))
    layer.data = grey_stack.copy()  # the image edited: its results are stale
    assert session.start(again, current=0) == [0] and not session.results
    session.forget()
    assert session.layer is None and session.key is None


def test_session_reads_a_switching_stack_once(grey_stack):
    session = ClassifySession()
    layer = Layer(grey_stack)
    reading = Reading("switching")
    get, frames_reading = session.frame_source(layer, reading)
    np.testing.assert_array_equal(get(1), nh.binarize_stack(grey_stack)[1])
    assert frames_reading == Reading()
    maps = session._prepared[1][0]
    session.frame_source(layer, reading)
    assert session._prepared[1][0] is maps  # binarised once per image and reading


def test_suggested_levels_keep_the_metal_side():
    frame = np.zeros((50, 50))
    frame[:, 25:] = 100.0
    assert suggest_levels(frame, 0.0) == pytest.approx((0.0, 100.0))
    assert suggest_levels(frame, 0.0, dark=True) == pytest.approx((100.0, 0.0))
    with pytest.raises(ValueError, match="uniform"):
        suggest_levels(np.ones((20, 20)), 1.0)
    # a first-time user's drive: NaN gave levels "nan", shown as 1e12 in the boxes
    frame[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*region"):
        suggest_levels(frame, 0.0)
    region = np.ones(frame.shape, bool)
    region[:10] = False
    assert suggest_levels(frame, 0.0, mask=region) == pytest.approx((0.0, 100.0))
    with pytest.raises(ValueError, match="RGB"):
        suggest_levels(np.zeros((20, 20, 3)), 0.0)


def test_one_otsu_threshold_for_a_stack_keeps_the_sweeps_metal_fractions():
    binary, _ = field_sweep_stack(size=200, fractions=(0.15, 0.5, 0.85), seed=8)
    grey = microscope_view(binary, seed=8)
    stack, reading = Reading("otsu-stack").prepare_stack(grey)
    from napari_hamiltonian.imaging.binary import otsu_threshold
    assert reading.threshold == pytest.approx(otsu_threshold(grey))
    whole = np.stack([reading.binary(f) for f in grey]).mean((1, 2))
    np.testing.assert_allclose(whole, [0.15, 0.5, 0.85], atol=0.05)
    lazy = nh.classify_stack(grey, stride=25, reading=Reading("otsu-stack"))
    direct = nh.classify_image(grey[0], stride=25, threshold=reading.threshold)
    np.testing.assert_array_equal(lazy.frame(0).labels, direct.labels)
    assert "whole stack" in Reading("otsu-stack").describe()


def test_the_docks_words_name_the_docks_controls_not_python():
    """A first-time user's drive: the dock said "mask=, --mask", "levels= / --levels",
    "load_pretrained"; each shared message's hint has the dock's name for it."""
    from napari_hamiltonian.imaging.reading import BINARY_FOR_GREY, ONE_PHASE
    from napari_hamiltonian.output import messages

    said = messages.for_dock(" ".join([
        messages.LATTICE_ADVICE, messages.RESOLUTION_ADVICE, messages.REGION_ADVICE,
        messages.REGION_CHECK,
        messages.GREY_ADVICE, BINARY_FOR_GREY, ONE_PHASE,
        "replace them (e.g. np.nan_to_num), or give a region (mask=, True on the sample)",
        "or use a shipped model (load_pretrained)"]))
    for python in ("mask=", "--mask", "levels=", "--levels", "load_pretrained",
                   "estimate_psf_sigma", "psf_sigma", "--psf-sigma", "np.nan_to_num"):
        assert python not in said, python
    assert "the dock's region" in said and "phase levels" in said
