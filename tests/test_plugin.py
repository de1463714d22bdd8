"""The napari plugin in a real viewer (under Xvfb): samples, widget, layers, chart."""

import numpy as np
import pytest

pytest.importorskip("napari")

import tifffile  # noqa: E402

import napari_hamiltonian as nh  # noqa: E402
from napari_hamiltonian import HamiltonianClassifier  # noqa: E402
from napari_hamiltonian.plugin import _widget  # noqa: E402
from napari_hamiltonian.plugin._worker import NOTHREADS  # noqa: E402
from napari_hamiltonian.samples import sample_path  # noqa: E402

PLUGIN = "napari-hamiltonian"
STRIDE = 8


@pytest.fixture(autouse=True)
def no_threads(request, monkeypatch):
    """Widget work runs synchronously (no polling) unless a test is marked ``threads``."""
    if request.node.get_closest_marker("threads") is None:
        monkeypatch.setenv(NOTHREADS, "1")


@pytest.fixture
def errors(monkeypatch):
    """Messages shown as napari error notifications by the widget."""
    shown = []
    monkeypatch.setattr(_widget, "show_error", shown.append)
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
    # class k is label k + 1; windows that are none of the classes are label 8 (grey)
    np.testing.assert_array_equal(classes.data[0], np.where(ref.confident, ref.labels + 1, 8))
    assert classes.metadata["label_values"][8] == "none of these"
    assert classes.colormap.color_dict[8] is not None
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
    viewer.dims.set_current_step(0, 5)
    assert widget.chart.frame == 5
    qtbot.waitUntil(lambda: 5 in widget.results and widget.worker is None, timeout=120_000)
    assert sorted(widget.results) == [0, 5]
    assert sorted(widget.curve) == [0, 5]
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


def test_save_writes_tiff_csv_and_png(widget, qtbot, tmp_path):
    widget.run()
    wait_idle(qtbot, widget)
    widget.save(tmp_path / "out")
    for name in ("labels.tif", "confident.tif", "fractions.csv", "criticality.png",
                 "distribution.png", "bars/t00000.png"):
        assert (tmp_path / "out" / name).is_file(), name


def test_changing_k_updates_the_papers_rule_without_recomputing(widget, qtbot):
    widget.run()
    wait_idle(qtbot, widget)
    res = widget.results[0]
    classes = widget.viewer.layers["RF-2D field sweep classes"]
    before = classes.data[0].copy()
    widget.confidence_k.value = 0.0
    np.testing.assert_array_equal(res.paper_confident, res.distance <= 0)
    np.testing.assert_array_equal(classes.data[0], before)  # the rejection has no k
    assert widget.results[0] is res


def test_train_widget_writes_a_model_the_classifier_can_use(make_napari_viewer, qtbot,
                                                           tmp_path):
    viewer = make_napari_viewer()
    _, tw = viewer.window.add_plugin_dock_widget(PLUGIN, "Generate training data and train")
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
    assert w._clf_source == str(tmp_path / "mine.safetensors")


def test_layer_menu_command_opens_the_widget_on_the_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "rf2d_stack")
    viewer.open_sample(PLUGIN, "gallery")
    viewer.layers.selection.active = viewer.layers["RF-2D field sweep"]
    _widget.classify_selected_layer(viewer)
    docked = list(viewer.window.dock_widgets.values())
    widget = [w for w in docked if isinstance(w, _widget.ClassifyWidget)][0]
    assert widget.layer_box.value is viewer.layers["RF-2D field sweep"]


def test_an_image_unlike_every_class_is_shown_grey_and_said_in_words(make_napari_viewer):
    """A blurred, thresholded micrograph: windows are "none of these" (grey label 8)."""
    from napari_hamiltonian.optics import micrograph

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
