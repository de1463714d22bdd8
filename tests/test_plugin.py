"""The napari plugin in a real viewer (under Xvfb): samples, widget, layers, chart."""

import numpy as np
import pytest

pytest.importorskip("napari")

import tifffile  # noqa: E402

import napari_hamiltonian as nh  # noqa: E402
from napari_hamiltonian import HamiltonianClassifier  # noqa: E402
from napari_hamiltonian.plugin import _remembered, _status, _widget  # noqa: E402
from napari_hamiltonian.plugin._worker import NOTHREADS  # noqa: E402
from napari_hamiltonian.samples import sample_path  # noqa: E402

PLUGIN = "napari-hamiltonian"
STRIDE = 8


@pytest.fixture(autouse=True)
def no_threads(request, monkeypatch):
    """Widget work runs synchronously (no polling) unless a test is marked ``threads``."""
    if request.node.get_closest_marker("threads") is None:
        monkeypatch.setenv(NOTHREADS, "1")
    monkeypatch.setattr(_remembered, "_last", {})  # each test's docks start from defaults


@pytest.fixture
def errors(monkeypatch):
    """Messages shown as napari error notifications by the widget."""
    shown = []
    monkeypatch.setattr(_status, "show_error", shown.append)
    return shown


@pytest.fixture
def widget(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack")
    viewer.dims.set_current_step(0, 0)
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = STRIDE
    return w


def wait_idle(qtbot, w, timeout=120_000):
    qtbot.waitUntil(lambda: w.worker is None, timeout=timeout)


def test_manifest_is_discovered_with_its_contributions():
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest(PLUGIN)
    widgets = {w.display_name for w in manifest.contributions.widgets}
    assert widgets == {"Classify Hamiltonian", "Generate training data and train"}
    assert {s.key for s in manifest.contributions.sample_data} == {
        "rf2d_stack", "rf2d_stack_gray", "gallery"}
    menus = manifest.contributions.menus["napari/layers/context"]
    assert menus[0].command == "napari-hamiltonian.classify_layer"


def test_samples_open(make_napari_viewer):
    viewer = make_napari_viewer()
    for key, shape in (("rf2d_stack", (8, 300, 300)), ("rf2d_stack_gray", (8, 300, 300)),
                       ("gallery", (7, 100, 100))):
        layers = viewer.open_sample(PLUGIN, key)
        assert layers[0].data.shape == shape
    stack = viewer.layers["RF-2D field sweep"].data
    metal = stack.mean((1, 2))
    assert np.all(np.diff(metal) > 0)  # metal fraction rises frame by frame


def test_run_adds_aligned_layers_matching_classify_image(widget, qtbot):
    viewer = widget.viewer
    widget.run()
    wait_idle(qtbot, widget)
    assert list(widget.results) == [0]
    classes = viewer.layers["RF-2D field sweep classes"]
    ny = (300 - 100) // STRIDE + 1
    assert classes.data.shape == (8, ny, ny)
    assert tuple(classes.scale) == (1, STRIDE, STRIDE)
    assert tuple(classes.translate) == (0, 49.5, 49.5)
    frame = np.asarray(viewer.layers["RF-2D field sweep"].data[0])
    ref = nh.classify_image(frame, stride=STRIDE)
    # class k is label k + 1; windows that are none of the classes are label 8 (grey),
    # those the model cannot tell label 9 (light grey)
    np.testing.assert_array_equal(classes.data[0], np.where(
        ref.confident, ref.labels + 1, np.where(ref.cannot_tell, 9, 8)))
    assert classes.metadata["label_values"][8] == "none of these"
    assert classes.metadata["label_values"][9] == "cannot tell at this resolution"
    assert classes.colormap.color_dict[8] is not None
    assert classes.colormap.color_dict[9] is not None
    assert not classes.data[1:].any()  # other frames are not computed
    np.testing.assert_array_equal(classes.metadata["logits"][0], ref.logits)
    assert classes.metadata["classes"] == list(nh.CLASSES)
    # window (i, j) is centred on image pixel (i * stride + 49.5, j * stride + 49.5)
    assert np.allclose(classes.data_to_world((0, 2, 3)), (0, 2 * STRIDE + 49.5,
                                                          3 * STRIDE + 49.5))


@pytest.mark.threads
def test_chart_follows_the_frame_slider_and_computes_lazily(widget, qtbot):
    viewer = widget.viewer
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.chart.frame == 0
    curve_axis = widget.chart.figure.axes[1]
    fields = viewer.layers["RF-2D field sweep"].metadata["fields_H"]
    # one point: one tick, at its frame's applied field, the sweep the stack carries
    assert list(curve_axis.get_xticks()) == [pytest.approx(fields[0])]
    assert curve_axis.get_xlabel() == "applied field H"
    viewer.dims.set_current_step(0, 5)
    assert widget.chart.frame == 5
    qtbot.waitUntil(lambda: 5 in widget.results and widget.worker is None, timeout=120_000)
    assert sorted(widget.results) == [0, 5]
    assert sorted(widget.curve) == [0, 5]
    r = widget.results[5]  # issue 29: the frame's answer in one sentence
    assert not widget.answer.isHidden() and widget.answer.text() == (
        f"frame 5: {r.answer()} ({r.accepted():.0%} named, {r.undecided():.0%} cannot "
        f"tell, {r.rejected():.0%} none of these); model: {widget.session.model.label}; "
        f"binary frames as they are; stride {STRIDE} px, windows 100 px")
    widget.pixel_nm.value = 20.0  # a pixel size known: lengths in nm too
    assert widget.session.frame_sentence(5, 20.0).endswith(
        f"stride {STRIDE} px ({STRIDE * 20} nm), windows 100 px (2 µm)")
    texts = [t.get_text() for ax in widget.chart.figure.axes for t in ax.texts]
    assert any("%" in t for t in texts)  # the bars of frame 5 are drawn


def test_cancel_stops_a_run_of_all_frames(widget, monkeypatch):
    """Cancel pressed while the first frame is shown: no further frame is computed."""
    shown = widget._show_result

    def show_then_cancel(*args):
        shown(*args)
        widget.cancel()

    monkeypatch.setattr(widget, "_show_result", show_then_cancel)
    widget.run(all_frames=True)
    assert widget.worker is None
    assert list(widget.results) == [0]
    assert widget.status.value.startswith("cancelled; 1 frame classified before")


@pytest.mark.threads
def test_second_run_while_running_restarts_cleanly(widget, qtbot):
    widget.run(all_frames=True)
    widget.stride.value = 10
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None and widget._pending is None,
                    timeout=120_000)
    classes = widget.viewer.layers["RF-2D field sweep classes"]
    assert tuple(classes.scale) == (1, 10, 10)
    assert all(r.stride == 10 for r in widget.results.values())


def test_bad_input_shows_a_notification_and_leaves_layers(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack_gray")
    viewer.add_image(np.zeros((50, 50)), name="small")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    names = [layer.name for layer in viewer.layers]
    w.layer_box.value = viewer.layers["RF-2D field sweep (grayscale)"]
    w.run()
    assert "threshold" in errors[-1]
    w.layer_box.value = viewer.layers["small"]
    w.threshold_mode.value = "otsu"
    w.run()
    assert "smaller than" in errors[-1]
    # the whole message, fix included, stays in the dock (the toast elides it)
    import html

    assert html.escape(errors[-1]) in w.status.value
    assert [layer.name for layer in viewer.layers] == names
    assert w.worker is None


def test_threshold_preview_and_grayscale_run(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack_gray")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.threshold_mode.value = "otsu"
    w.stride.value = 20
    w.show_preview()
    preview = viewer.layers["RF-2D field sweep (grayscale) binary preview"]
    assert preview.data.shape == (8, 300, 300)
    frame = np.asarray(preview.data[2])
    assert set(np.unique(frame)) <= {0, 1}
    truth = tifffile.imread(sample_path("rf2d_stack.tif"))[2]
    assert np.mean(frame == truth) > 0.9  # Otsu recovers the domains through the blur
    w.metal.value = "dark"  # the preview follows the settings
    np.testing.assert_array_equal(np.asarray(preview.data[2]), 1 - frame)
    w.metal.value = "bright"
    w.run()
    wait_idle(qtbot, w)
    t = w.current_frame()
    res = w.results[t]
    # the run classifies what the preview shows: the Otsu-thresholded frame
    ref = nh.classify_image(np.asarray(preview.data[t]), stride=20)
    np.testing.assert_array_equal(res.labels, ref.labels)
    np.testing.assert_array_equal(res.confident, ref.confident)
    # blurred over 1.5 px and thresholded, the sweep is not a lattice image any more:
    # the lattice-scale model says "none of these" for most windows, and says so
    assert res.rejected() > 0.5
    assert "unlike every training class" in w.status.value


def test_saved_labels_reopen_over_the_image_with_the_layers_values(widget, qtbot,
                                                                   tmp_path):
    """Frames 2 and 5 classified, saved, reopened with the plugin's reader: the same
    values, scale, translate and class names as the classes layer; CSV frames 2 and 5."""
    import csv

    viewer = widget.viewer
    image = viewer.layers["RF-2D field sweep"]
    image.scale = (1.0, 0.05, 0.05)  # a microscope's micrometres per pixel
    image.translate = (0.0, 3.0, -1.0)
    for t in (2, 5):
        viewer.dims.set_current_step(0, t)
        widget.run()
        wait_idle(qtbot, widget)
    widget.save(tmp_path / "out")
    for name in ("labels.tif", "confident.tif", "fractions.csv", "criticality.png",
                 "distribution.png", "bars/t00005.png"):
        assert (tmp_path / "out" / name).is_file(), name
    with open(tmp_path / "out" / "fractions.csv") as f:
        assert [r["frame"] for r in csv.DictReader(f)] == ["2", "5"]
    # issue 29: the folder records what made the results, as classify's settings do
    import json

    made = json.loads((tmp_path / "out" / "report.json").read_text())["made_with"]
    assert made["stride"] == STRIDE and made["model"] == "shipped lattice-scale model"
    assert made["model_sha256"] == nh.classifier.pretrained.shipped_hash(None)
    assert (made["psf_sigma"], made["input"], made["window"]) == (0.0, "binary", 100)
    assert made["threshold"] is None and made["confidence_k"] == 1.0
    classes = viewer.layers["RF-2D field sweep classes"]
    (opened,) = viewer.open(tmp_path / "out" / "labels.tif", plugin=PLUGIN)
    assert opened.data.shape == classes.data.shape
    np.testing.assert_array_equal(np.asarray(opened.data), np.asarray(classes.data))
    assert not np.asarray(opened.data[0]).any() and np.asarray(opened.data[5]).all()
    np.testing.assert_allclose(opened.scale, classes.scale)
    np.testing.assert_allclose(opened.translate, classes.translate)
    assert opened.metadata["label_values"] == classes.metadata["label_values"]
    value = int(np.asarray(opened.data[5])[0, 0])
    np.testing.assert_allclose(opened.colormap.map(value), classes.colormap.map(value))


def test_save_with_nothing_classified_says_so_before_asking_where(widget, errors,
                                                                  monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: asked.append(a) or ""))
    widget.save_button.clicked.emit()
    assert not asked and "nothing to save" in errors[-1]


def test_changing_k_updates_the_papers_rule_without_recomputing(widget, qtbot):
    widget.run()
    wait_idle(qtbot, widget)
    res = widget.results[0]
    classes = widget.viewer.layers["RF-2D field sweep classes"]
    before = classes.data[0].copy()
    def said():
        return [ax.get_title().split("\n")[1] for ax in widget.chart.figure.axes
                if "k-sigma" in ax.get_title()]

    rule = "paper's k-sigma rule, k = {}: {:.0%}"
    assert said() == [rule.format(1, res.share(res.paper_confident))]
    widget.confidence_k.value = 0.0
    np.testing.assert_array_equal(res.paper_confident, res.distance <= 0)
    np.testing.assert_array_equal(classes.data[0], before)  # the rejection has no k
    assert widget.results[0] is res
    assert said() == [rule.format(0, res.share(res.distance <= 0))]  # issue 29, 9


def test_train_widget_writes_a_model_the_classifier_can_use(make_napari_viewer, qtbot,
                                                           tmp_path):
    viewer = make_napari_viewer()
    _, tw = viewer.window.add_plugin_dock_widget(PLUGIN, "Generate training data and train")
    tw.n_per_class.value = 8000  # the paper's set: the time it takes, said before Run
    tw.n_none.value = 16000
    assert tw.estimate.value.startswith("about ") and " min on 2 CPU cores" in tw.estimate.value
    assert 30 < int(tw.estimate.value.split()[1]) < 60
    tw.n_none.value = 0
    tw.n_per_class.value = 10
    tw.epochs.value = 1
    tw.hidden.value = 8
    tw.out.value = tmp_path / "mine.safetensors"
    tw.start()
    qtbot.waitUntil(lambda: tw.worker is None, timeout=300_000)
    clf = HamiltonianClassifier.load(tmp_path / "mine.safetensors")
    assert list(clf.classes_) == sorted(nh.CLASSES)
    viewer.open_sample(PLUGIN, "gallery")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.model_choice.value = "model file"
    w.model_file.value = tmp_path / "mine.safetensors"
    w.run()
    qtbot.waitUntil(lambda: w.worker is None, timeout=60_000)
    assert w.results[w.current_frame()].labels.shape == (1, 1)
    assert w.session.model.label == "mine.safetensors"


def test_layer_menu_command_opens_the_widget_on_the_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack")
    viewer.open_sample(PLUGIN, "gallery")
    viewer.layers.selection.active = viewer.layers["RF-2D field sweep"]
    _widget.classify_selected_layer(viewer)
    docked = list(viewer.window.dock_widgets.values())
    widget = [w for w in docked if isinstance(w, _widget.ClassifyWidget)][0]
    assert widget.layer_box.value is viewer.layers["RF-2D field sweep"]


def test_the_layer_command_reuses_the_dock_the_plugins_menu_opened(make_napari_viewer):
    from napari._app_model import get_app_model

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack")
    viewer.open_sample(PLUGIN, "gallery")
    get_app_model().commands.execute_command("napari-hamiltonian.classify_widget")
    viewer.layers.selection.active = viewer.layers["seven-class gallery"] \
        if "seven-class gallery" in viewer.layers else viewer.layers[-1]
    _widget.classify_selected_layer(viewer)
    docks = [w for w in viewer.window.dock_widgets.values()
             if isinstance(w, _widget.ClassifyWidget)]
    assert len(docks) == 1
    assert docks[0].layer_box.value is viewer.layers.selection.active


def test_an_image_unlike_every_class_is_shown_grey_and_said_in_words(make_napari_viewer):
    """A blurred, thresholded micrograph: windows are "none of these" (grey label 8)."""
    from napari_hamiltonian.imaging.optics import micrograph

    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    blurred = micrograph(frame[None], 2.5, 0.1, np.random.default_rng(0))[0]
    viewer.add_image(blurred, name="blurred", contrast_limits=(0, 1))
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.layer_box.value = viewer.layers["blurred"]
    w.stride.value = 20
    w.run()
    res = w.results[0]
    assert res.rejected() > 0.5
    labels = viewer.layers["blurred classes"].data
    assert np.mean(labels == 8) == pytest.approx(res.rejected())
    assert "unlike every training class" in w.status.value
    heights = [p.get_height() for p in w.chart.figure.axes[0].patches]
    assert heights[-1] == pytest.approx(100 * res.rejected())  # the "none" bar


def test_resolution_settings_pick_the_model_for_the_microscope(make_napari_viewer, qtbot,
                                                               errors):
    """Pixel size from the layer, PSF sigma from FWHM and pixel size or estimated from
    the image, the shipped model for that sigma, and the switching binarisation."""
    from napari_hamiltonian.imaging.optics import Instrument
    from napari_hamiltonian.classifier.pretrained import nearest_shipped
    from napari_hamiltonian.samples import field_sweep_stack

    frames, _ = field_sweep_stack(size=200, fractions=(0.3, 0.5, 0.7), seed=5)
    grey = Instrument(2.0, insulator=0.2, metal=1.0, noise=0.08).grey(
        frames, np.random.default_rng(0))
    viewer = make_napari_viewer()
    viewer.add_image(grey, name="sweep", scale=(1, 0.05, 0.05), units=("s", "um", "um"))
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    assert w.layer_box.value.name == "sweep"
    assert w.pixel_nm.value == pytest.approx(50.0)  # 0.05 um from the layer
    w.fwhm_nm.value = 235.5
    assert w.psf_sigma.value == pytest.approx(2.0, abs=0.01)  # 235.5 / (2.355 * 50)
    w.psf_sigma.value = 0.0
    w.estimate_psf()
    assert w.psf_sigma.value == pytest.approx(2.0, rel=0.25)
    assert "estimated PSF sigma" in w.status.value
    assert w.classifier().psf_sigma == nearest_shipped(w.psf_sigma.value)
    w.threshold_mode.value = "switching (stack)"
    w.stride.value = 25
    w.run(all_frames=True)
    wait_idle(qtbot, w)
    maps = nh.binarize_stack(grey)
    w.show_preview()  # the preview is the stack binarised as a whole
    np.testing.assert_array_equal(np.asarray(viewer.layers["sweep binary preview"].data), maps)
    for t in range(3):
        ref = nh.classify_image(maps[t], w.classifier(), stride=25)
        np.testing.assert_array_equal(w.results[t].labels, ref.labels)
    viewer.add_image(grey[0], name="one frame")
    w.layer_box.value = viewer.layers["one frame"]
    w.run()
    assert errors and "stack" in errors[-1]


def test_phase_levels_run_the_grey_model_of_the_resolution(make_napari_viewer, qtbot):
    """Phase levels and a PSF sigma: the shipped grey model reads the frames in phase
    units (as classify_image with levels does); the levels can be suggested from the
    image; the preview is the binarisation halfway between them."""
    from napari_hamiltonian.imaging.optics import Instrument
    from napari_hamiltonian.samples import field_sweep_stack

    frames, _ = field_sweep_stack(size=200, fractions=(0.4, 0.6), seed=6)
    grey = Instrument(2.0, insulator=1.0, metal=0.2, noise=0.08).grey(
        frames, np.random.default_rng(1))
    viewer = make_napari_viewer()
    viewer.add_image(grey, name="sweep")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.threshold_mode.value = "phase levels"
    shown = [not x.native.isHidden() for x in (w.insulator_level, w.metal_level, w.metal)]
    assert shown == [True, True, False]  # the levels say which side is metal
    w.psf_sigma.value = 2.0
    w.insulator_level.value, w.metal_level.value = 1.0, 0.0  # metal the darker
    ins, met = w.suggest_levels()
    assert ins == pytest.approx(1.0, abs=0.1) and met == pytest.approx(0.2, abs=0.1)
    w.insulator_level.value, w.metal_level.value = 1.0, 0.2
    clf = w.classifier()
    assert clf.input_kind == "grey" and clf.psf_sigma == 2.0
    w.stride.value = 25
    w.run()
    wait_idle(qtbot, w)
    ref = nh.classify_image(grey[0], psf_sigma=2.0, levels=(1.0, 0.2), stride=25)
    np.testing.assert_array_equal(w.results[0].labels, ref.labels)
    np.testing.assert_array_equal(w.results[0].confident, ref.confident)
    assert "sweep classes" in viewer.layers
    w.show_preview()
    np.testing.assert_array_equal(np.asarray(viewer.layers["sweep binary preview"].data[0]),
                                  grey[0] < 0.6)
    w.psf_sigma.value = 0.0  # sharp images: the lattice-scale model, threshold halfway
    assert w.classifier().input_kind == "binary" and w.classifier().psf_sigma == 0.0


def test_results_live_with_their_image_layer(widget, qtbot, make_napari_viewer):
    """Deleting the classes layer: redrawn on the next slider move; the slider follows
    only the classified layer; deleting the image takes its results along."""
    viewer = widget.viewer
    image = viewer.layers["RF-2D field sweep"]
    widget.run()
    wait_idle(qtbot, widget)
    assert viewer.layers.selection.active.name == image.name  # the new layer did not take it
    viewer.layers.remove("RF-2D field sweep classes")
    viewer.dims.set_current_step(0, 1)  # computes frame 1 and draws every frame again
    wait_idle(qtbot, widget)
    classes = viewer.layers["RF-2D field sweep classes"]
    assert np.all(np.asarray(classes.data[0]) > 0) and np.all(np.asarray(classes.data[1]) > 0)
    viewer.add_image(np.zeros((4, 150, 150), np.uint8), name="other")
    widget.layer_box.value = viewer.layers["other"]
    viewer.dims.set_current_step(0, 2)  # another layer selected: nothing runs
    wait_idle(qtbot, widget)
    assert sorted(widget.results) == [0, 1]
    widget.layer_box.value = image
    viewer.layers.remove(image)
    assert "RF-2D field sweep classes" not in viewer.layers
    assert widget.results == {} and "closed" in widget.status.value


def test_the_chart_waits_for_results_and_follows_napari_theme(widget, qtbot):
    from matplotlib.colors import to_hex
    from napari.utils.theme import get_theme

    assert widget.chart.isHidden()  # no blank chart before the first run
    widget.run()
    wait_idle(qtbot, widget)
    assert not widget.chart.isHidden()
    assert to_hex(widget.chart.figure.get_facecolor()) == get_theme("dark").background.as_hex()
    widget.viewer.theme = "light"
    assert to_hex(widget.chart.figure.get_facecolor()) == get_theme("light").background.as_hex()
    ticks = widget.chart.figure.axes[0].get_yticklabels()
    assert to_hex(ticks[0].get_color()) == get_theme("light").text.as_hex()



def test_pixel_size_comes_from_ome_metadata_or_the_layer_scale(make_napari_viewer, tmp_path):
    from napari_hamiltonian.plugin._layers import pixel_size_nm

    path = tmp_path / "scan.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 120, 120), np.uint8), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.05,
                               "PhysicalSizeXUnit": "µm"})
    viewer = make_napari_viewer()
    viewer.open(path, plugin="napari")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    assert w.pixel_nm.value == pytest.approx(50.0)
    assert pixel_size_nm((1.0, 1.0), ["pixel", "pixel"], {}) is None
    assert pixel_size_nm((2.0, 0.2), ["um", "um"], {}) == pytest.approx(200.0)
    assert pixel_size_nm((1, 1), None, {"PhysicalSizeX": "30", "PhysicalSizeXUnit": "nm"}) == 30


def test_the_dock_progress_bar_advances_within_one_large_image(make_napari_viewer):
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[4]
    viewer.add_image(np.tile(frame, (2, 2)), name="large")  # 600 x 600, one frame
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = 10
    seen, texts = [], []
    w.progress.changed.connect(lambda v: (seen.append(v), texts.append(w.status.value)))
    w.run()
    partial = [v for v in seen if 0 < v < _widget.PROGRESS_STEPS]
    assert len(partial) >= 3 and partial == sorted(partial)  # within the one frame
    assert seen[-1] == _widget.PROGRESS_STEPS
    assert any("s left" in t for t in texts)
    assert not w.progress.visible and w.status.value.startswith("1 frame classified")


def test_the_overlay_keeps_class_colours_or_shows_outlines(widget, qtbot):
    widget.run()
    wait_idle(qtbot, widget)
    classes = widget.viewer.layers["RF-2D field sweep classes"]
    assert classes.opacity == 1.0 and classes.contour == 0 and classes.visible
    # opaque: a drawn window shows its class colour exactly, as the legend's swatch
    from napari_hamiltonian.classes import class_color
    from napari_hamiltonian.output.labelfile import label_colors

    value = int(np.asarray(classes.data[0])[5, 5])
    names = list(widget.results[0].classes)
    assert label_colors(names)[value] == (class_color(names[value - 1], value - 1)
                                          if value <= len(names) else "#9a9a9a")
    widget.overlay.value = "outlines"
    # issue 29: outlines at the image's resolution, smooth, not the grid's stairs
    outlines = widget.viewer.layers["RF-2D field sweep outlines"]
    assert outlines.contour > 0 and outlines.visible and not classes.visible
    assert tuple(outlines.scale) == tuple(widget.viewer.layers["RF-2D field sweep"].scale)[-2:]
    fine = np.asarray(outlines.data)
    assert fine.shape == tuple(STRIDE * n + 2 for n in classes.data.shape[-2:])
    assert not fine[0].any() and not fine[:, -1].any()  # the classes' outer edge drawn
    widget.viewer.dims.set_current_step(0, 2)  # the outlines follow the frame shown
    wait_idle(qtbot, widget)
    assert not np.array_equal(np.asarray(outlines.data), fine) or \
        np.array_equal(np.asarray(classes.data[0]), np.asarray(classes.data[2]))
    widget.overlay.value = "image only"
    assert not classes.visible and "RF-2D field sweep outlines" not in widget.viewer.layers
    assert not widget.viewer.layers["RF-2D field sweep window centres"].visible


def test_smooth_outlines_follow_the_interpolated_boundary_not_the_grid():
    """A diagonal boundary between two classes on the label grid is a staircase; drawn
    finer it is a straight diagonal, and each region keeps its label pixels."""
    from napari_hamiltonian.plugin._classes_layer import smooth_labels

    values = np.where(np.add.outer(np.arange(8), np.arange(8)) < 8, 3, 5).astype(np.uint8)
    fine = smooth_labels(values, 4)
    assert fine.shape == (32, 32) and set(np.unique(fine)) == {3, 5}
    # label pixel centres keep their values
    np.testing.assert_array_equal(fine[1::4, 1::4], values)
    # the boundary is the anti-diagonal line, not stairs of 4 px
    first = [int(np.argmax(row == 5)) for row in fine if (row == 5).any()]
    assert len(first) >= 28 and np.abs(np.diff(first)).max() <= 2
    stairs = [int(np.argmax(row == 5)) for row in np.repeat(np.repeat(values, 4, 0), 4, 1)
              if (row == 5).any()]
    assert np.abs(np.diff(stairs)).max() == 4  # what the grid drawn bigger gives
    np.testing.assert_array_equal(smooth_labels(values, 1), values)


def test_both_docks_fit_a_1080p_screen(make_napari_viewer):
    """Controls and chart scroll inside the Classify dock: with the training dock open
    too, the two need less than a 1080p screen's height."""
    viewer = make_napari_viewer()
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    _, tw = viewer.window.add_plugin_dock_widget(PLUGIN, "Generate training data and train")
    w.chart.show_frame(0, None, None, running=True)  # the chart in view, as after Run
    needed = w.minimumSizeHint().height() + tw.minimumSizeHint().height()
    assert needed < 1080 - 200  # menus, title bars and the status bar take the rest



def test_a_long_message_wraps_and_does_not_widen_the_dock(make_napari_viewer, qtbot):
    """A first-time user's drive: the frame-7 paragraph widened the dock from 290 to
    550 px of a 1900 px window, shrinking the canvas; it wraps now."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1900, 1000)
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    qtbot.wait(50)
    width = w.width()
    w.status.value = "this image is unlike every training class; " * 12
    w.answer.setText("frame 7: none of these (30% named, 8% cannot tell, 62% none of "
                     "these); model: shipped lattice-scale model; stride 4 px")
    w.answer.show()
    qtbot.wait(50)
    assert w.width() <= width


def test_cluster_geometry_of_the_displayed_frame_beside_the_cnn(widget, qtbot):
    """The button measures the binary frame the classifier sees, draws it against the
    seven references and says in words whether it agrees with the CNN's majority."""
    from napari_hamiltonian import geometry

    w = widget
    w.viewer.dims.set_current_step(0, 4)
    w.run()
    wait_idle(qtbot, w)
    w.min_cluster.value = 12
    w.geometry_button.clicked.emit()
    qtbot.waitUntil(lambda: not w._jobs, timeout=60_000)
    assert not w.geometry_chart.isHidden() and w.geometry_chart.frame == 4
    assert len(w.geometry_chart.figure.axes) == len(geometry.MEASURES)
    frame = np.asarray(w.viewer.layers["RF-2D field sweep"].data[4])
    direct = geometry.measure(frame, 12)
    measured = [line for ax in w.geometry_chart.figure.axes for line in ax.containers]
    assert measured  # the error bars of the frame's values
    for ax, m in zip(w.geometry_chart.figure.axes, geometry.MEASURES):
        drawn = ax.containers[0].lines[0].get_ydata()[0]
        assert drawn == pytest.approx(direct.values[m], nan_ok=True), m
    assert np.isfinite(direct.values["tau"])
    assert "frame 4, cluster geometry" in w.status.value
    assert ("agrees with the CNN" in w.status.value or "cannot confirm" in w.status.value
            or "disagree" in w.status.value or "matches none" in w.status.value)


def test_min_cluster_follows_the_references_the_geometry_is_compared_with(widget):
    """A PSF sigma between shipped ones: the nearest references are used, so their
    smallest cluster, not one computed from the typed sigma."""
    from napari_hamiltonian import geometry

    widget.psf_sigma.value = 1.44
    assert widget.min_cluster.value == geometry.References.load(psf_sigma=1.0).min_size
    widget.psf_sigma.value = 2.0
    assert widget.min_cluster.value == geometry.default_min_size(2.0)


def test_garbage_of_background_work_is_freed_without_a_full_collection():
    """A save draws ~150,000 objects in reference cycles (matplotlib figures): while
    background work runs they must stay young, so that the collection at its end frees
    them without a full collection over napari's heap (0.2-0.5 s of frozen GUI)."""
    import gc
    import weakref

    from napari_hamiltonian.tuning import hold_full_collections, release_full_collections

    class Node:
        pass

    full = []

    def on_gc(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    before = gc.get_threshold()
    gc.collect()
    gc.callbacks.append(on_gc)
    try:
        hold_full_collections()
        chain = [Node() for _ in range(50_000)]  # one cycle of 100,000 tracked objects
        for a, b in zip(chain, chain[1:] + chain[:1]):
            a.next = b
        alive = weakref.ref(chain[0])
        del chain, a, b
        release_full_collections()
        assert alive() is None, "the cyclic garbage of the run was not freed"
        assert not full, "a full collection ran"
    finally:
        gc.callbacks.remove(on_gc)
    assert gc.get_threshold() == before


def test_a_shapes_region_restricts_every_step_to_the_sample(widget, qtbot):
    """An ellipse drawn in a Shapes layer is the region: windows not wholly inside it
    stay unlabelled (0), the rest equal classify_image with the same mask, and a
    region that does not fit the image is refused in words."""
    viewer = widget.viewer
    shapes = viewer.add_shapes([[[40, 40], [260, 260]]], shape_type="ellipse",
                               name="aperture")
    assert shapes in widget.region_box.choices
    widget.region_box.value = shapes
    mask = shapes.to_masks(mask_shape=(300, 300))[0]
    widget.run()
    wait_idle(qtbot, widget)
    frame = np.asarray(viewer.layers["RF-2D field sweep"].data[0])
    ref = nh.classify_image(frame, stride=STRIDE, mask=mask)
    classes = viewer.layers["RF-2D field sweep classes"]
    np.testing.assert_array_equal(classes.data[0] > 0, ref.inside)
    assert 0 < ref.inside.sum() < ref.inside.size
    np.testing.assert_array_equal(widget.results[0].confident, ref.confident)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the saved results record the region
        folder = widget.save(tmp)
        np.testing.assert_array_equal(tifffile.imread(folder / "region.tif") > 0, mask)
    labels = viewer.add_labels(np.zeros((8, 300, 300), np.uint8), name="painted")
    widget.region_box.value = labels
    widget.run()
    assert "no pixel of the sample" in widget.status.value
    wrong = viewer.add_labels(np.ones((50, 50), np.uint8), name="small")
    widget.region_box.value = wrong
    widget.run()
    assert "paint the region" in widget.status.value


def test_a_drifting_stack_is_registered_and_flat_fielded_as_layers(make_napari_viewer):
    """Register drift adds the aligned stack (shifts in its metadata) and the region every
    frame covers, and chooses them; Flat field adds the evened frames."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=10, field=200, max_drift=6, seed=1)
    viewer = make_napari_viewer()
    viewer.add_image(d["raw"], name="raw")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.register_drift()
    aligned = viewer.layers["raw aligned"]
    # a small field with few domains: within a pixel (accuracy: benchmarks/eval_raw_stack.py)
    np.testing.assert_allclose(aligned.metadata["shifts"], d["shifts"], atol=1.0)
    assert w.layer_box.value is aligned
    assert w.region_box.value is viewer.layers["raw covered"]
    assert "drift up to" in w.status.value
    from scipy import ndimage

    gold = ndimage.binary_dilation(d["electrodes"], iterations=6)
    covered = viewer.layers["raw covered"]
    covered.data = np.where(gold, 0, covered.data).astype(np.uint8)  # painted out, as asked
    w.flat_field_layer()
    flat = viewer.layers["raw aligned flat"]
    assert w.layer_box.value is flat
    region = w.region()
    assert np.isfinite(np.asarray(flat.data)[:, region]).all()
    # insulator pixels of frame 0 (away from walls): their spread is the vignetting's
    insulator = ndimage.binary_erosion(d["clean"][0] < 105, iterations=6) & region & ~gold
    yy, xx = np.mgrid[:200, :200] - 99.5
    r = np.hypot(yy, xx)
    centre, rim = insulator & (r < 50), insulator & (r > 85)
    for layer, low, high in ((aligned, 0.7, 0.9), (flat, 0.95, 1.05)):
        frame = np.asarray(layer.data)[0]
        assert low < frame[rim].mean() / frame[centre].mean() < high
    # the PSF of an aligned frame shifted by half a pixel: its interpolated noise hides
    # the cut-off (0 px); Estimate PSF reads the raw frame under the region (2 px)
    t = 1 + int(np.argmin(np.abs(d["shifts"][1:] % 1 - 0.5).max(1)))
    viewer.dims.set_current_step(0, t)
    assert 1.6 < w.estimate_psf() < 2.4
    assert f"from raw frame {t} of raw" in w.status.value
    w.layer_box.value = viewer.layers["raw"]
    w.region_box.value = None
    w.register_drift()  # the same again: what was made from it still holds
    assert "out of date" not in w.status.value
    # again with the painted region chosen: it is the sample's, not a camera region (it
    # would shrink by the drift at every rerun), and what was painted out stays out
    before = np.asarray(covered.data) > 0
    covered.data = np.where(gold, 0, covered.data).astype(np.uint8)
    painted = before & ~(np.asarray(covered.data) > 0)
    w.layer_box.value = viewer.layers["raw"]
    w.region_box.value = covered
    w.register_drift()
    assert viewer.layers["raw covered"] is covered and w.region_box.value is covered
    np.testing.assert_array_equal(np.asarray(covered.data) > 0, before & ~gold)
    assert f"the {painted.sum()} px painted out of it stay out" in w.status.value
    assert "out of date" not in w.status.value
    w.layer_box.value = viewer.layers["raw"]
    yy, xx = np.mgrid[:200, :200]
    disc = (yy - 100) ** 2 + (xx - 100) ** 2 < 90 ** 2
    w.region_box.value = viewer.add_labels(disc.astype(np.uint8), name="aperture")
    w.register_drift()  # another region, other shifts
    assert "out of date: raw aligned flat" in w.status.value


@pytest.mark.threads
def test_run_waits_for_register_drift(make_napari_viewer, qtbot):
    """While the drift is measured, Run, Run all, Estimate PSF and the preparation steps
    are held (they would read the frames the aligned stack is about to replace), and
    come back with the aligned stack chosen."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=6, field=160, max_drift=4, electrodes=0, seed=2)
    viewer = make_napari_viewer()
    viewer.add_image(d["raw"], name="raw")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    held = (w.run_button, w.run_all_button, w.estimate_button, w.register_button,
            w.flat_button)
    w.register_drift()
    assert not any(button.enabled for button in held)
    qtbot.waitUntil(lambda: not w._jobs, timeout=120_000)
    assert all(button.enabled for button in held)
    assert w.layer_box.value is viewer.layers["raw aligned"]


@pytest.mark.threads
def test_closing_the_viewer_during_a_job_drops_what_it_would_show(make_napari_viewer,
                                                                   qtbot):
    """A viewer closed while the drift is measured: the job ends without touching the
    deleted dock (an error raised from the worker's signal aborted Python)."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=6, field=160, max_drift=4, electrodes=0, seed=2)
    viewer = make_napari_viewer()
    viewer.add_image(d["raw"], name="raw")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.register_drift()
    viewer.close()
    with qtbot.capture_exceptions() as raised:
        qtbot.waitUntil(lambda: not w._jobs, timeout=120_000)
    assert raised == []


def test_register_drift_compares_the_chosen_region_only(make_napari_viewer):
    """Behind a round aperture (fixed to the camera) chosen as a Labels region, Register
    drift follows the sample, not the aperture's rim (0.71 px off without the region),
    and the region it chooses stays inside the aperture."""
    from napari_hamiltonian.imaging.drift import regions_in_frames
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=12, field=240, max_drift=8, electrodes=0, seed=5)
    yy, xx = np.mgrid[:240, :240]
    disc = (yy - 120) ** 2 + (xx - 120) ** 2 < 110 ** 2
    viewer = make_napari_viewer()
    viewer.add_image(np.where(disc, d["raw"], 3).astype(np.uint8), name="raw")
    aperture = viewer.add_labels(disc.astype(np.uint8), name="aperture")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.layer_box.value = viewer.layers["raw"]
    w.region_box.value = None  # without the region, the status says what is wrong
    w.register_drift()
    assert "dark in every frame" in w.status.value and "region" in w.status.value
    w.layer_box.value = viewer.layers["raw"]
    w.region_box.value = None
    w.flat_field_layer()  # the light fitted to the surround too: it says so
    assert "light is fitted to it too" in w.status.value
    w.layer_box.value = viewer.layers["raw"]
    w.region_box.value = aperture
    w.register_drift()
    assert "Warning" not in w.status.value
    assert "out of date" not in w.status.value  # nothing made from the first alignment
    shifts = np.asarray(viewer.layers["raw aligned"].metadata["shifts"])
    assert np.abs(shifts - d["shifts"]).max() < 0.2
    # the region chosen after it is what every frame shows inside the aperture (it was
    # the square every frame covers, 12,820 px of it on the dark surround)
    covered = np.asarray(w.region_box.value.data) > 0
    assert not (regions_in_frames(covered, d["shifts"]) & ~disc).any()


def test_switching_smoothing_and_the_stack_wide_otsu_are_offered(widget):
    """The dock builds the same readings as Python and the CLI."""
    widget.threshold_mode.value = "switching (stack)"
    assert not widget.smooth.native.isHidden() and not widget.smooth_frames.native.isHidden()
    widget.smooth.value, widget.smooth_frames.value = 2.5, 1.0
    assert widget.reading() == nh.Reading("switching", smooth=2.5, smooth_frames=1.0)
    widget.threshold_mode.value = "otsu (whole stack)"
    assert widget.smooth.native.isHidden()
    assert widget.reading() == nh.Reading("otsu-stack")


def test_per_frame_otsu_on_a_stack_is_explained_before_the_run(widget):
    widget.threshold_mode.value = "otsu"
    assert "flattens the criticality curve" in widget.status.value


def test_a_closed_dock_stops_listening_and_a_reopened_one_works_alone(widget, qtbot):
    """Issue 29, item 1: the dock closed with its x (napari takes it out of the window)
    no longer follows the slider nor runs; the dock opened again does, with the closed
    dock's settings and results (its answer shown again, nothing classified twice)."""
    viewer = widget.viewer
    widget.run()
    mode, smooth = widget.threshold_mode.value, widget.smooth.value
    widget.threshold_mode.value = "switching (stack)"
    widget.smooth.value, widget.confidence_k.value = 1.5, 2.0
    viewer.window.remove_dock_widget(widget)  # what the dock's x does
    viewer.dims.set_current_step(0, 3)
    assert widget.worker is None and sorted(widget.results) == [0]
    viewer.dims.set_current_step(0, 0)
    _, again = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    assert again is not widget
    # the settings are kept (they were all reset), and the results of frame 0 with them
    assert again.stride.value == STRIDE and again.confidence_k.value == 2.0
    assert again.threshold_mode.value == "switching (stack)" and again.smooth.value == 1.5
    assert again.layer_box.value is widget.layer_box.value
    assert not again.smooth.native.isHidden()
    assert sorted(again.results) == [0] and again.status.value.startswith("1 frame")
    assert not again.answer.isHidden() and again.answer.text().startswith("frame 0: ")
    assert again.chart.frame == 0
    again.threshold_mode.value, again.smooth.value = mode, smooth  # frame 0's reading
    again.run()
    assert sorted(again.results) == [0]  # nothing classified twice
    viewer.dims.set_current_step(0, 3)
    assert sorted(again.results) == [0, 3]
    viewer.dims.set_current_step(0, 4)  # only the open dock follows
    assert sorted(again.results) == [0, 3, 4] and widget.worker is None
    viewer.layers.remove(again.layer_box.value)  # the image gone: a new dock starts anew
    viewer.window.remove_dock_widget(again)
    viewer.open_sample(PLUGIN, "rf2d_stack")
    _, third = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    assert third.results == {} and third.answer.isHidden()


@pytest.mark.threads
def test_the_frame_landed_on_during_a_run_is_classified_after_it(widget, qtbot):
    """Issue 29, item 5: the slider moved while a frame was being classified; once that
    run ends, the frame on screen is classified and its chart leaves "classifying"."""
    viewer = widget.viewer
    widget.run()
    assert widget.worker is not None
    viewer.dims.set_current_step(0, 6)
    qtbot.waitUntil(lambda: 6 in widget.results and widget.worker is None, timeout=120_000)
    assert sorted(widget.results) == [0, 6]
    assert widget.chart.frame == 6
    texts = [t.get_text() for ax in widget.chart.figure.axes for t in ax.texts]
    assert not any("classifying" in t for t in texts)


def test_run_after_the_classes_layer_was_deleted_draws_it_again(make_napari_viewer):
    """Issue 29, item 6: deleting the results layer of a 2D image and pressing Run
    again shows the kept results again, with the answer in words."""
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    viewer.add_image(frame, name="frame")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = STRIDE
    w.run()
    first = np.asarray(viewer.layers["frame classes"].data).copy()
    viewer.layers.remove("frame classes")
    w.status.value = ""
    w.run()
    assert "frame classes" in viewer.layers
    np.testing.assert_array_equal(np.asarray(viewer.layers["frame classes"].data), first)
    assert w.status.value.startswith("1 frame classified: ")
    assert w.answer.text().startswith("frame: ")  # one image by its name, not "frame 0"


def test_phase_levels_belong_to_their_image(make_napari_viewer):
    """Issue 29, item 7: 8-bit levels do not carry over to a 16-bit image unchecked: the
    dock replaces them by a guess from the new image and says so; switching back gives
    the first image its own levels again."""
    from napari_hamiltonian.imaging.optics import Instrument

    truth = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    rng = np.random.default_rng(2)
    eight = Instrument(2.0, insulator=76, metal=178, noise=6).grey(truth, rng)
    sixteen = Instrument(2.0, insulator=9000, metal=41000, noise=900).grey(truth, rng)
    viewer = make_napari_viewer()
    viewer.add_image(eight, name="camera 8-bit")
    viewer.add_image(sixteen, name="camera 16-bit")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.layer_box.value = viewer.layers["camera 8-bit"]
    w.threshold_mode.value = "phase levels"
    w.insulator_level.value, w.metal_level.value = 76.0, 178.0
    w.layer_box.value = viewer.layers["camera 16-bit"]
    assert "were set for camera 8-bit and do not fit camera 16-bit" in w.status.value
    assert w.insulator_level.value == pytest.approx(9000, rel=0.15)
    assert w.metal_level.value == pytest.approx(41000, rel=0.15)
    w.layer_box.value = viewer.layers["camera 8-bit"]
    assert (w.insulator_level.value, w.metal_level.value) == (76.0, 178.0)


def test_results_layers_take_the_images_units(make_napari_viewer, qtbot, recwarn):
    """Issue 29, item 8: an image in micrometres gives layers in micrometres (no
    napari warning of inconsistent units; the scale bar keeps um)."""
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    image = viewer.add_image(frame, name="um image", scale=(0.05, 0.05),
                             units=("um", "um"))
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = STRIDE
    w.run()
    w.show_preview()
    for name in ("um image classes", "um image binary preview"):
        assert tuple(str(u) for u in viewer.layers[name].units) == \
            tuple(str(u) for u in image.units)
    assert not [m for m in recwarn if "nconsistent units" in str(m.message)]


def test_switching_image_shows_only_that_images_values(make_napari_viewer):
    """Issue 29, item 11: the chart, the status and the pixel size follow the chosen
    image; the first image's values come back with it."""
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    first = viewer.add_image(frame, name="first", scale=(20.0, 20.0), units=("nm", "nm"))
    second = viewer.add_image(frame[:200, :200].copy(), name="second")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.layer_box.value = first
    assert w.pixel_nm.value == 20.0
    w.stride.value = STRIDE
    w.run()
    said = w.status.value
    assert not w.chart.isHidden()
    w.layer_box.value = second
    assert w.chart.isHidden() and w.geometry_chart.isHidden()
    assert w.status.value == "second: not classified yet (press Run)"
    assert w.pixel_nm.value == 0.0  # nothing says the second image's pixel size
    w.layer_box.value = first
    assert not w.chart.isHidden() and w.chart.frame == 0
    assert w.status.value == said and w.pixel_nm.value == 20.0


def test_the_results_table_holds_the_numbers_of_fractions_csv(widget, tmp_path):
    """Issue 29: a table of results per frame inside napari, the same numbers as the
    saved fractions.csv, exportable."""
    import csv

    widget.run()
    widget.viewer.dims.set_current_step(0, 2)
    table = widget.show_table()
    assert table.table.rowCount() == 2
    header = [table.table.horizontalHeaderItem(j).text()
              for j in range(table.table.columnCount())]
    saved = widget.save(tmp_path / "saved")
    with open(saved / "fractions.csv") as fh:
        written = list(csv.DictReader(fh))
    exported = table.export(tmp_path / "table.csv")
    with open(exported) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["frame"] for r in rows] == ["0", "2"] == [r["frame"] for r in written]
    fields = widget.viewer.layers["RF-2D field sweep"].metadata["fields_H"]
    assert [float(r["applied field H"]) for r in written] == [fields[0], fields[2]]
    for mine, theirs in zip(rows, written):
        for key in header:
            assert mine[key] == theirs[key], key
    assert table.table.item(1, header.index("answer")).text() == \
        widget.results[2].answer()


def test_the_figure_of_a_frame_is_exported_at_publication_size(widget, tmp_path):
    """Issue 29: the map over the image with legend and scale bar, beside the bars, as
    PNG or SVG; a frame not classified is refused in words."""
    import matplotlib.image as mpimg

    with pytest.raises(ValueError, match="not classified yet"):
        widget.export_figure(tmp_path / "f.png")
    widget.run()
    widget.pixel_nm.value = 20.0
    png = widget.export_figure(tmp_path / "frame0.png")
    h, w = mpimg.imread(png).shape[:2]
    assert (w, h) == (7.2 * 300, 3.4 * 300)
    svg = widget.export_figure(tmp_path / "frame0.svg").read_text()
    assert "µm" in svg and "RF-2D" in svg  # the scale bar and the legend
    with pytest.raises(ValueError, match=".png or .svg"):
        widget.export_figure(tmp_path / "frame0.pdf")


@pytest.mark.threads
def test_cancel_in_the_training_dock_stops_cleanly_and_says_so(make_napari_viewer, qtbot,
                                                              tmp_path):
    """Issue 29, item 2: Cancel raised in the progress update and left the status on
    the step it was cancelled in; no model file is written."""
    viewer = make_napari_viewer()
    _, tw = viewer.window.add_plugin_dock_widget(PLUGIN, "Generate training data and train")
    tw.n_per_class.value = 40
    tw.epochs.value = 1
    tw.hidden.value = 8
    tw.out.value = tmp_path / "never.safetensors"
    tw.start()
    qtbot.waitUntil(lambda: tw.status.value.startswith("simulating"), timeout=60_000)
    tw.cancel()
    qtbot.waitUntil(lambda: tw.worker is None, timeout=300_000)
    assert tw.status.value.startswith("cancelled; no model written")
    assert not (tmp_path / "never.safetensors").exists()


def micrograph_dock(make_napari_viewer, psf_sigma, insulator, metal, noise, seed):
    """A viewer holding frame 3 of the sample sweep seen through a microscope (PSF
    ``psf_sigma`` px) as the image "micrograph", and the Classify dock with that PSF."""
    from napari_hamiltonian.imaging.optics import Instrument

    truth = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    grey = Instrument(psf_sigma, insulator=insulator, metal=metal, noise=noise).grey(
        truth, np.random.default_rng(seed))
    viewer = make_napari_viewer()
    viewer.add_image(grey, name="micrograph")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.psf_sigma.value = psf_sigma
    return viewer, w


def test_a_group_the_model_cannot_split_is_drawn_as_one_region(make_napari_viewer):
    """Issue 29: the 2 px model cannot tell RF-2D from RF-3D: their windows take one
    value and one colour on the map, named as the group, like the saved labels."""
    from napari_hamiltonian.output.labelfile import label_values

    viewer, w = micrograph_dock(make_napari_viewer, 2.0, 0.2, 1.0, 0.05, seed=1)
    w.threshold_mode.value = "otsu"
    w.stride.value = 20
    w.run()
    result = w.results[0]
    assert ("RF-2D", "RF-3D") in result.groups
    layer = viewer.layers["micrograph classes"]
    rf2d, rf3d = (list(result.classes).index(c) + 1 for c in ("RF-2D", "RF-3D"))
    colors = layer.colormap.color_dict
    np.testing.assert_allclose(colors[rf2d], colors[rf3d])
    assert layer.metadata["label_values"][rf2d] == "RF-2D or RF-3D"
    values = np.asarray(layer.data)
    accepted_rf = result.confident & np.isin(result.labels, [rf2d - 1, rf3d - 1])
    assert accepted_rf.any() and (values[accepted_rf] == rf2d).all()
    np.testing.assert_array_equal(values, label_values(result))


def test_an_image_whose_data_changed_is_classified_again(make_napari_viewer):
    """Issue 29, item 10: Run after the layer's data was replaced shows the new image's
    answer, not the cached one of the old data."""
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    layer = viewer.add_image(frame, name="frame")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = STRIDE
    w.run()
    before = w.results[0]
    edited = nh.simulate.percolation(1, size=frame.shape[0], p=0.3, seed=4)[0]
    layer.data = edited
    w.run()
    after = w.results[0]
    ref = nh.classify_image(edited, w.classifier(), stride=STRIDE)
    np.testing.assert_array_equal(after.labels, ref.labels)
    assert not np.array_equal(after.labels, before.labels)
    np.testing.assert_array_equal(np.asarray(viewer.layers["frame classes"].data),
                                  nh.output.labelfile.label_values(ref))


def test_the_dock_warns_of_a_binary_image_for_a_grey_model_and_a_chance_model(
        make_napari_viewer, tmp_path):
    """Issue 29, item 12: a binary image read by a grey model, and a model trained to
    chance, are said in the status, and the chance model's map holds no class colour."""
    from napari_hamiltonian.imaging.reading import BINARY_FOR_GREY

    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    viewer = make_napari_viewer()
    viewer.add_image(frame.astype(np.float32), name="binary")
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w.stride.value = 25
    w.psf_sigma.value = 2.0
    w.threshold_mode.value = "phase levels"
    w.insulator_level.value, w.metal_level.value = 0.0, 1.0
    w.run()
    assert w.classifier().input_kind == "grey"
    assert BINARY_FOR_GREY[1:40] in w.status.value  # as a sentence: capitalised
    X, y, _ = nh.simulate.make_dataset(12, size=100, seed=21, progress=False)
    weak = HamiltonianClassifier(hidden_units=8, epochs=1, random_state=0).fit(X, y)
    assert weak.unreliable() is not None
    weak.save(tmp_path / "weak.safetensors")
    w.threshold_mode.value = "none (binary)"
    w.psf_sigma.value = 0.0
    w.model_choice.value = "model file"
    w.model_file.value = tmp_path / "weak.safetensors"
    w.run()
    assert "cannot tell the classes apart" in w.status.value
    values = np.asarray(viewer.layers["binary classes"].data)
    assert (values > len(w.results[0].classes)).all()  # none of these / cannot tell only


def test_the_labelled_area_is_framed_on_the_image(make_napari_viewer):
    """Issue 29: the window centres, where labels are, are framed on the image (the
    unlabelled margin was explained only in small print); a new stride moves the frame,
    and closing the image takes it away."""
    viewer = make_napari_viewer()
    frame = tifffile.imread(sample_path("rf2d_stack.tif"))[3]
    image = viewer.add_image(frame, name="frame", scale=(0.05, 0.05), units=("um", "um"))
    _, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    for stride in (STRIDE, 20):
        w.stride.value = stride
        w.run()
        reach = viewer.layers["frame window centres"]
        ny, nx = w.results[0].labels.shape
        half = (w.results[0].window - 1) / 2
        corners = reach.data[0]
        assert corners.min(0) == pytest.approx([half - stride / 2] * 2)
        assert corners.max(0) == pytest.approx([half + (ny - 0.5) * stride,
                                                half + (nx - 0.5) * stride])
        assert tuple(reach.scale) == tuple(image.scale)
    viewer.layers.remove(image)
    assert "frame window centres" not in viewer.layers
    # with a region only the windows inside it are labelled: the frame is around them
    viewer2 = make_napari_viewer()
    image2 = viewer2.add_image(frame, name="frame")
    region = np.zeros(frame.shape, np.uint8)
    region[:, 150:280] = 1
    viewer2.add_labels(region, name="sample")
    _, w2 = viewer2.window.add_plugin_dock_widget(PLUGIN, "Classify Hamiltonian")
    w2.layer_box.value = image2
    w2.region_box.value = viewer2.layers["sample"]
    w2.stride.value = 10
    w2.run()
    inside = w2.results[0].inside
    cols = np.nonzero(inside.any(0))[0]
    corners = viewer2.layers["frame window centres"].data[0]
    half = (w2.results[0].window - 1) / 2
    assert corners[:, 1].min() == pytest.approx(half + (cols[0] - 0.5) * 10)
    assert corners[:, 1].max() == pytest.approx(half + (cols[-1] + 0.5) * 10)
    np.testing.assert_allclose(viewer2.layers["frame window centres"].edge_color[0],
                               [0.784, 1.0, 0.0, 1.0], atol=0.01)


def test_the_dock_says_which_model_stands_in_and_what_to_do(make_napari_viewer):
    """A first-time user's drive: with phase levels at PSF 1 px the grey 2 px model was
    used without a word (Python warned); the dock now says it, and that a binary 1 px
    model is shipped."""
    _, w = micrograph_dock(make_napari_viewer, 1.0, 50, 200, 5, seed=3)
    w.threshold_mode.value = "phase levels"
    w.insulator_level.value, w.metal_level.value = 50.0, 200.0
    w.stride.value = 25
    w.run()
    assert "using the nearest, the grey model for 2 px" in w.status.value
    assert "binary model for 1 px is shipped" in w.status.value


def test_phase_levels_that_do_not_fit_the_image_are_said_in_the_dock(make_napari_viewer):
    """A first-time user's drive: levels most pixels lie far outside of gave an answer
    with advice on everything but the levels; the dock now says the levels do not fit."""
    _, w = micrograph_dock(make_napari_viewer, 2.0, 50, 200, 5, seed=3)
    w.threshold_mode.value = "phase levels"
    w.stride.value = 25
    w.insulator_level.value, w.metal_level.value = 40.0, 90.0
    w.run()
    assert "the levels do not look like this image's two phases" in w.status.value
    w.insulator_level.value, w.metal_level.value = 50.0, 200.0
    w.run()
    assert "do not look like" not in w.status.value


def test_parameters_show_as_a_map_layer_a_curve_and_words(widget, qtbot, errors):
    """The parameters control reads RF-2D's disorder: a map layer over the image (equal
    to classify_image's), the frames' estimates with intervals in the chart, the words
    under the buttons; off again, the layer goes; a blurred model refuses before a run."""
    from napari_hamiltonian.plugin._parameters import PARAMETER_CHOICES
    from napari_hamiltonian.parameters.families import FAMILIES

    assert set(PARAMETER_CHOICES) == {"off", "auto", *FAMILIES}
    viewer = widget.viewer
    widget.parameters.value = "RF-2D"
    widget.run(all_frames=True)
    wait_idle(qtbot, widget)
    name = "RF-2D field sweep parameters"
    layer = viewer.layers[name]
    assert layer.data.shape == (8, 9, 9)  # frames, parameter windows at stride 25
    frame = viewer.layers["RF-2D field sweep"].data[4]
    direct = nh.classify_image(frame, stride=STRIDE, parameters="RF-2D").parameters
    np.testing.assert_allclose(layer.data[4], direct.estimate[..., 0], rtol=1e-6)
    # placed like the classes layer: window centres, one pixel per 25 image pixels
    assert tuple(layer.scale[-2:]) == (25.0, 25.0)
    assert tuple(layer.translate[-2:]) == pytest.approx((49.5, 49.5))
    assert widget.parameter_chart.isVisible() or not widget.isVisible()
    assert len(widget.parameter_chart.figure.axes) == 1
    viewer.dims.set_current_step(0, 4)
    widget._refresh_chart()
    assert "RF-2D: disorder" in widget.answer.text()
    classified = {t: r.logits for t, r in widget.results.items()}
    widget.parameters.value = "auto"  # the parameters alone are read again
    widget.run(all_frames=True)
    wait_idle(qtbot, widget)
    assert all(widget.results[t].logits is classified[t] for t in classified)
    assert widget.results[7].parameters is None  # "none of these": no family
    assert widget.results[4].parameters.family == "RF-2D"
    widget.parameters.value = "off"
    widget.run()
    wait_idle(qtbot, widget)
    assert name not in viewer.layers
    assert all(r.parameters is None for r in widget.results.values())
    assert "disorder" not in widget.answer.text()
    widget.parameters.value = "RF-2D"
    widget.psf_sigma.value = 3.0
    widget.run()
    assert any("no RF-2D regressor ships for a PSF of 3 px" in e for e in errors)
