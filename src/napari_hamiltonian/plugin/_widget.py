"""The *Classify Hamiltonian* dock widget.

It builds the inputs, runs :func:`napari_hamiltonian.sliding.iter_classify` in a
``thread_worker`` (progress, cancel at every unit of work) and turns results into layers
and a chart. Frames are classified lazily: the displayed one first, each once (cached),
and all of them only on *Run all frames*.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.layers import Image
from napari.utils.notifications import show_info
from napari.viewer import Viewer
from qtpy.QtCore import QEvent, QSize, Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from ..classes import class_color, standard_names
from ..labelfile import label_colors, label_names, label_placement, label_values
from ..report import (
    bar_chart,
    criticality_distance,
    frame_summary,
    geometry_plot,
    groups_message,
    levels_message,
    unlike_message,
)
from ..sliding import BINARY_FOR_GREY, iter_classify, n_windows, read_image, two_valued
from . import _status
from ._layers import legend_html
from ._worker import GeneratorRun

THRESHOLDS = ("none (binary)", "value", "otsu", "switching (stack)", "phase levels")
#: The threshold mode in which the two phases' intensities are given.
LEVELS = "phase levels"
#: How the classes layer is drawn: opaque class colours (the legend's colours whatever
#: the pixels below), class outlines over the image, or not at all.
OVERLAYS = ("classes (opaque)", "outlines", "image only")
#: Height (px) below which the dock's contents scroll.
MIN_DOCK_HEIGHT = 300
#: Pause (ms) before the chart is rendered after a change.
RENDER_DELAY_MS = 40
#: Height of the results chart in the dock (px).
CHART_HEIGHT = 400
#: Height of the cluster-geometry chart (px).
GEOMETRY_HEIGHT = 420
#: Resolution of the in-dock progress bar.
PROGRESS_STEPS = 1000


def _classify_frames(get_frame, frames, clf, stride, threshold, metal, levels=None):
    """Worker body: yields ("ready",) once a Labels layer has been built here, then
    ("progress", t, done, total) and ("frame", t, WindowResult)."""
    _warm_labels_layer(standard_names(clf.classes_))
    yield ("ready",)
    for t in frames:
        gen = iter_classify(get_frame(t), clf, stride, threshold, metal, levels=levels)
        while True:
            try:
                _, done, total = next(gen)
            except StopIteration as stop:
                yield ("frame", t, stop.value)
                break
            yield ("progress", t, done, total)


def _label_metadata(classes, stride: int, window: int) -> dict:
    """Metadata of a classes layer for a window grid (per-frame outputs are added as
    frames are drawn)."""
    return {"classes": list(classes), "logits": {}, "distance": {}, "scores": {},
            "stride": stride, "window": window, "label_values": label_names(classes)}


def _warm_labels_layer(classes) -> None:
    """Build a small classes layer (model only, no canvas) once, so that napari compiles
    its label-texture code (0.8 s) and imports what a Labels layer needs (pandas and
    scikit-image, 0.1-0.2 s) here, in the worker, rather than when the first classes
    layer is added on the GUI thread."""
    from napari.layers import Labels
    from napari.utils.colormaps import DirectLabelColormap

    Labels(np.zeros((2, 2), np.uint8),
           colormap=DirectLabelColormap(color_dict=label_colors(classes)))


class _Chart(QWidget):
    """A matplotlib canvas in the dock: fixed height, napari's theme, rendered after a
    pause (not in the event that changed it), hidden until there is something to show."""

    height_px = CHART_HEIGHT  # of the canvas

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent)
        height = self.height_px
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        # fixed margins, not a layout engine: a redraw (each slider step) costs half
        self.figure = Figure(figsize=(4.2, height / 75), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        # a fixed height: status lines that wrap longer do not resize (redraw) the chart
        self.canvas.setFixedHeight(height)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.theme = theme
        self.frame = None  # frame shown, for tests
        self.hide()  # no blank chart before there is something to show
        # rendering waits for a pause: not in the same event as the layer updates (one
        # long freeze), and once for several results arriving together
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(RENDER_DELAY_MS)
        self._render.timeout.connect(self.canvas.draw_idle)

    def _colours(self) -> tuple[str, str]:
        """(background, text) of napari's current theme."""
        from napari.utils.theme import get_theme

        try:
            t = get_theme(self.theme)
        except (KeyError, ValueError):
            t = get_theme("dark")
        return t.background.as_hex(), t.text.as_hex()

    def _follow_theme(self) -> None:
        """Paint the drawn chart in the theme's colours (default-black text only)."""
        from matplotlib.colors import to_hex
        from matplotlib.text import Text

        background, text = self._colours()
        self.figure.set_facecolor(background)
        for ax in self.figure.axes:
            ax.set_facecolor(background)
            ax.tick_params(colors=text, which="both")
            for spine in ax.spines.values():
                spine.set_color(text)
            legend = ax.get_legend()
            if legend is not None:
                legend.get_frame().set_facecolor(background)
        for item in self.figure.findobj(Text):
            if to_hex(item.get_color()) == "#000000":
                item.set_color(text)

    def _drawn(self) -> None:
        """The figure is complete: theme colours, render after the pause."""
        self._follow_theme()
        self._render.start()


class ResultChart(_Chart):
    """Class shares of the current frame and, for stacks, the proximity-to-criticality
    curve with the current frame marked."""

    def show_frame(self, t, result, curve: dict | None, running: bool = False) -> None:
        """Redraw for frame ``t`` (result None: not classified yet, or being classified
        when ``running``; hidden while nothing at all is classified or running)."""
        self.figure.clear()
        self.frame = t
        if result is None and not curve and not running:
            self.hide()
            return
        self.show()
        self.figure.subplots_adjust(left=0.15, right=0.97, top=0.93,
                                    bottom=0.13 if curve else 0.16, hspace=0.8)
        ax1 = self.figure.add_subplot(2 if curve else 1, 1, 1)
        if result is None:
            ax1.text(0.5, 0.5, f"frame {t}: " + ("classifying..." if running else
                                                  "not classified yet\n(press Run)"),
                     ha="center", va="center", transform=ax1.transAxes)
            ax1.set_axis_off()
        else:
            bar_chart(result.fractions(), title=f"frame {t}: windows per class "
                      "(confident share)", ax=ax1, cannot_tell=result.undecided())
            # names slanted: eight of them fit a narrow dock
            ax1.tick_params(axis="x", labelrotation=35, labelsize=7)
            for label in ax1.get_xticklabels():
                label.set_horizontalalignment("right")
        if curve:
            ax2 = self.figure.add_subplot(2, 1, 2)
            ts = sorted(curve)
            d = [curve[k][0] for k in ts]
            colors = [class_color(curve[k][1]) for k in ts]
            ax2.plot(ts, d, color="0.6", lw=1)
            ax2.scatter(ts, d, c=colors, s=24, edgecolor="black", linewidth=0.5, zorder=3)
            ax2.axvline(t, color="red", lw=1, label=f"frame {t}")
            ax2.set_xlabel("frame")
            ax2.set_ylabel(r"distance ($|\sigma_c|$)")
            ax2.set_title("proximity to criticality (majority class)", fontsize=9)
            ax2.set_ylim(bottom=0)
            ax2.legend(fontsize=7, frameon=False)
            if len(ts) == 1:  # one point: no meaningless tick range around it
                ax2.set_xticks(ts)
        self._drawn()


class GeometryChart(_Chart):
    """The cluster measures of one frame against the seven classes' references."""

    height_px = GEOMETRY_HEIGHT

    def show_geometry(self, t: int, geometry, references) -> None:
        """Draw frame ``t``'s measures (a Geometry) against ``references``."""
        self.figure.clear()
        self.frame = t
        self.show()
        geometry_plot([t], [geometry], references, title=f"frame {t}: cluster "
                      "geometry (dots) against the classes' references (bands)",
                      fig=self.figure)
        self.figure.subplots_adjust(left=0.1, right=0.86, top=0.9, bottom=0.09,
                                    hspace=0.55, wspace=0.45)
        self.figure.axes[0].get_legend().remove()  # the title says what the dot is
        for ax in self.figure.axes:
            ax.tick_params(labelsize=7)
            ax.set_xlabel("")
            ax.set_xticks([])
            ax.title.set_fontsize(8)
        self._drawn()


class _VerticalScroll(QScrollArea):
    """Scrolls its widget vertically only: as wide as the widget needs (the dock
    follows), as high as :data:`MIN_DOCK_HEIGHT` at least."""

    def __init__(self, inner: QWidget):
        super().__init__()
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the widget's needs changed
            self.updateGeometry()
        return super().eventFilter(obj, event)

    def _width(self, hint) -> int:
        return hint.width() + self.verticalScrollBar().sizeHint().width() + 4

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width(self.widget().minimumSizeHint()), MIN_DOCK_HEIGHT)

    def sizeHint(self) -> QSize:
        hint = self.widget().sizeHint()
        return QSize(self._width(hint), hint.height())


class ClassifyWidget(QWidget):
    """Classify an image or a stack window by window with a HamiltonianClassifier."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.layer_box = ComboBox(label="image", choices=self._image_layers)
        self.threshold_mode = ComboBox(label="threshold", choices=THRESHOLDS)
        self.threshold_value = FloatSpinBox(label="grey level", min=-1e12, max=1e12,
                                            step=0.1, value=0.5, visible=False)
        self.metal = ComboBox(label="metal is", choices=["bright", "dark"])
        self.insulator_level = FloatSpinBox(
            label="insulator level", min=-1e12, max=1e12, step=0.1, value=0.0,
            visible=False, tooltip="intensity of the insulating phase (e.g. the mean of a "
            "fully insulating frame)")
        self.metal_level = FloatSpinBox(
            label="metal level", min=-1e12, max=1e12, step=0.1, value=1.0, visible=False,
            tooltip="intensity of the metallic phase; with a PSF sigma > 0 the shipped grey "
            "model reads the image in these units, otherwise the threshold is halfway")
        self.levels_button = PushButton(text="Levels from the image", visible=False,
                                        tooltip="suggest the levels: the 1st and 99th "
                                        "percentiles of the displayed frame, smoothed over "
                                        "the PSF, metal on the side it is now; instrument "
                                        "values are better")
        self.preview_button = PushButton(text="Show binary preview")
        self.model_choice = ComboBox(label="model", choices=["shipped", "model file"])
        self.model_file = FileEdit(label="model file", filter="*.safetensors", visible=False)
        self.psf_sigma = FloatSpinBox(
            label="PSF sigma (px)", min=0.0, max=50.0, step=0.1, value=0.0,
            tooltip="Gaussian sigma of the microscope's point-spread function in pixels; "
            "picks the shipped model for that resolution (0: sharp images, the "
            "lattice-scale model; with phase levels, the grey model)")
        self.fwhm_nm = FloatSpinBox(label="resolution FWHM (nm)", min=0.0, max=1e6,
                                    step=10.0, value=0.0,
                                    tooltip="with the pixel size, sets PSF sigma")
        self.pixel_nm = FloatSpinBox(label="pixel size (nm)", min=0.0, max=1e6, step=1.0,
                                     value=0.0, tooltip="read from the layer's scale or "
                                     "OME metadata when they give it")
        self.estimate_button = PushButton(text="Estimate PSF sigma from the image")
        self.stride = SpinBox(label="stride (px)", min=1, max=100, value=4)
        self.confidence_k = FloatSpinBox(label="k (confidence)", min=0.0, max=1000.0,
                                         step=0.1, value=1.0)
        self.overlay = ComboBox(label="show", choices=OVERLAYS,
                                tooltip="opaque classes keep the legend's colours; "
                                "outlines leave the image visible")
        self.run_button = PushButton(text="Run (displayed frame)")
        self.run_all_button = PushButton(text="Run all frames")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.save_button = PushButton(text="Save results...")
        self.min_cluster = SpinBox(label="min cluster (px)", min=1, max=10**7, value=10,
                                   tooltip="smallest cluster in the geometry measures; "
                                   "follows the PSF sigma (its core's area), as the "
                                   "references for that resolution were measured")
        self.geometry_button = PushButton(text="Cluster geometry (displayed frame)")
        self.progress = ProgressBar(label="progress", min=0, max=PROGRESS_STEPS, value=0,
                                    visible=False)
        self.status = Label(value="")
        self.legend = Label(value=legend_html())
        self.controls = Container(widgets=[
            self.layer_box, self.threshold_mode, self.threshold_value, self.metal,
            self.insulator_level, self.metal_level, self.levels_button,
            self.preview_button, self.model_choice, self.model_file, self.psf_sigma,
            self.fwhm_nm, self.pixel_nm, self.estimate_button, self.stride, self.confidence_k,
            self.overlay,
            self.run_button, self.run_all_button, self.cancel_button, self.save_button,
            self.min_cluster, self.geometry_button,
            self.progress, self.status, self.legend])
        for label in (self.status, self.legend):  # long messages wrap, not widen the dock
            label.native.setWordWrap(True)
        self.chart = ResultChart(self, theme=str(self.viewer.theme))
        self.viewer.events.theme.connect(self._on_theme)
        # controls and chart scroll inside the dock: with the training dock beside it,
        # both fit a 1080p screen
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.controls.native)
        column.addWidget(self.chart)
        self.geometry_chart = GeometryChart(self, theme=str(self.viewer.theme))
        column.addWidget(self.geometry_chart)
        column.addStretch(1)
        scroll = _VerticalScroll(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self.results: dict[int, object] = {}
        self.curve: dict[int, tuple[float, str]] = {}
        self.worker = None
        self._pending = None
        self._key = None
        self._run_layer = None  # the image layer the results belong to
        self._cancelled = False
        self._failed = False  # the run ended in an error
        self._progress_state = [0.0, 1, 0]
        self._switching = (None, None)  # (layer and metal, its switching maps)
        self._clf = None
        self._clf_source = None
        self._follow = False
        self._jobs: dict = {}  # one-shot background work (save, geometry) while it runs

        self.threshold_mode.changed.connect(self._on_threshold_mode)
        for w in (self.threshold_mode, self.threshold_value, self.metal,
                  self.insulator_level, self.metal_level):
            w.changed.connect(self._update_preview)  # the preview follows the settings
        self.levels_button.clicked.connect(self.suggest_levels)
        self.confidence_k.changed.connect(self._on_confidence_k)
        self.model_choice.changed.connect(self._on_model_choice)
        self.fwhm_nm.changed.connect(self._on_resolution)
        self.psf_sigma.changed.connect(self._on_psf_sigma)
        self.pixel_nm.changed.connect(self._on_resolution)
        self.estimate_button.clicked.connect(self.estimate_psf)
        self.overlay.changed.connect(self._apply_overlay)
        self.layer_box.changed.connect(self._on_layer)
        self.preview_button.clicked.connect(self.show_preview)
        self.run_button.clicked.connect(lambda: self.run(all_frames=False))
        self.run_all_button.clicked.connect(lambda: self.run(all_frames=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self._save_dialog)
        self.geometry_button.clicked.connect(self.measure_geometry)
        self.viewer.layers.events.inserted.connect(self.layer_box.reset_choices)
        self.viewer.layers.events.removed.connect(self.layer_box.reset_choices)
        self.viewer.layers.events.removed.connect(self._on_removed)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self._on_layer(self.layer_box.value)

    def _on_theme(self, event=None) -> None:
        self.chart.theme = self.geometry_chart.theme = str(self.viewer.theme)
        self._refresh_chart()
        if not self.geometry_chart.isHidden():
            self.geometry_chart._drawn()

    def _error(self, message: str) -> None:
        _status.show_problem(self.status, message)

    # ------------------------------------------------------------------ inputs
    def _image_layers(self, _=None):
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _on_threshold_mode(self, mode):
        self.threshold_value.visible = mode == "value"
        self.metal.visible = mode != LEVELS  # the levels say which side is metal
        for w in (self.insulator_level, self.metal_level, self.levels_button):
            w.visible = mode == LEVELS

    def suggest_levels(self) -> tuple[float, float] | None:
        """Fill the phase levels from the displayed frame: its 1st and 99th percentiles
        after smoothing over the PSF sigma (at least 1 px), metal keeping its side (the
        brighter unless the metal level is now below the insulator's). A guess for
        images with both phases in domains larger than the blur; the instrument's values
        are better."""
        from scipy import ndimage

        layer = self.layer_box.value
        if layer is None:
            self._error("no image layer to take the phase levels from")
            return None
        frame = np.asarray(self._frame_getter(layer)(self.current_frame()), np.float64)
        smooth = ndimage.gaussian_filter(frame, max(float(self.psf_sigma.value), 1.0))
        low, high = (float(v) for v in np.percentile(smooth, [1, 99]))
        if low == high:
            self._error("the frame is uniform: enter the phase levels by hand")
            return None
        dark = self.metal_level.value < self.insulator_level.value
        ins, met = (high, low) if dark else (low, high)
        self.insulator_level.value, self.metal_level.value = ins, met
        self.status.value = (f"phase levels from frame {self.current_frame()}: insulator "
                             f"{ins:.4g}, metal {met:.4g} (a guess; check them)")
        return ins, met

    def _on_model_choice(self, choice):
        shipped = choice == "shipped"
        self.model_file.visible = not shipped
        for w in (self.psf_sigma, self.fwhm_nm, self.pixel_nm, self.estimate_button):
            w.visible = shipped

    def _on_layer(self, layer=None):
        """A new image: its pixel size from the layer's scale or OME metadata."""
        from ._layers import ome_physical_size, pixel_size_nm

        if layer is None:
            return
        units = [str(u) for u in getattr(layer, "units", ())] or None
        metadata = dict(layer.metadata)
        path = getattr(layer.source, "path", None)
        if path and str(path).lower().endswith((".tif", ".tiff")):
            metadata = {**ome_physical_size(path), **metadata}
        size = pixel_size_nm(tuple(layer.scale), units, metadata)
        if size is not None:
            self.pixel_nm.value = size

    def _on_psf_sigma(self, sigma) -> None:
        """A new resolution: the geometry's smallest cluster follows, as the references
        of the nearest shipped resolution (the ones compared with) were measured."""
        from ..geometry import References

        self.min_cluster.value = References.load(psf_sigma=float(sigma)).min_size

    def _on_resolution(self, _=None):
        """Resolution (FWHM, nm) and pixel size (nm) give the PSF sigma in pixels."""
        from ..optics import FWHM_PER_SIGMA

        if self.fwhm_nm.value > 0 and self.pixel_nm.value > 0:
            self.psf_sigma.value = round(self.fwhm_nm.value
                                         / (FWHM_PER_SIGMA * self.pixel_nm.value), 2)

    def estimate_psf(self) -> float | None:
        """Suggest the PSF sigma of the displayed frame (grey images) in the sigma box."""
        from ..optics import estimate_psf_sigma

        layer = self.layer_box.value
        if layer is None:
            self._error("no image layer to estimate the point-spread function from")
            return None
        try:
            sigma = estimate_psf_sigma(self._frame_getter(layer)(self.current_frame()))
        except ValueError as err:
            self._error(f"cannot estimate the point-spread function: {err}")
            return None
        self.psf_sigma.value = round(sigma, 2)
        self.status.value = (
            f"estimated PSF sigma: {sigma:.2f} px (from frame {self.current_frame()}); the "
            "model for it is used on Run" if sigma > 0 else
            f"no blur measurable in frame {self.current_frame()} (PSF sigma 0: a sharp "
            "image, or uncorrelated pixels such as camera noise); the lattice-scale model "
            "is used on Run")
        return sigma

    def settings(self) -> dict:
        """Current settings as keyword arguments of iter_classify (plus the layer)."""
        mode = self.threshold_mode.value
        levels = ((float(self.insulator_level.value), float(self.metal_level.value))
                  if mode == LEVELS else None)
        threshold = {"none (binary)": None, "otsu": "otsu", "switching (stack)": "switching",
                     LEVELS: None}.get(mode, float(self.threshold_value.value))
        return {"layer": self.layer_box.value, "threshold": threshold,
                "metal": self.metal.value, "stride": int(self.stride.value),
                "levels": levels}

    @staticmethod
    def _binarisation(s) -> tuple:
        """(threshold, metal) of the binary image the settings ``s`` make: with phase
        levels, halfway between them (what a grey model's statistics read too)."""
        from .._binary import check_levels, level_threshold

        if s["levels"] is None:
            return s["threshold"], s["metal"]
        return level_threshold(check_levels(s["levels"]))

    def _frame_getter(self, layer):
        data = layer.data
        if layer.ndim == 2:
            return lambda t: np.asarray(data)
        return lambda t: np.asarray(data[t])

    def _binary_getter(self, s):
        """(frame getter, threshold, metal) for iter_classify: for the switching
        binarisation the whole stack is binarised once (each pixel by its history)."""
        layer = s["layer"]
        if s["threshold"] != "switching":
            return (self._frame_getter(layer), *self._binarisation(s))
        key = (id(layer), s["metal"])
        if self._switching[0] != key:
            from ..switching import binarize_stack
            self._switching = (key, binarize_stack(np.asarray(layer.data), metal=s["metal"]))
        maps = self._switching[1]
        return (lambda t: maps[t]), None, "bright"

    def current_frame(self) -> int:
        layer = self.layer_box.value
        if layer is None or layer.ndim == 2:
            return 0
        axis = self.viewer.dims.ndim - layer.ndim  # the layer's first axis in the viewer
        return int(self.viewer.dims.current_step[axis])

    def classifier(self):
        """The selected classifier with the widget's k (loaded once per source)."""
        from ..pretrained import input_kind_for, nearest_shipped

        shipped = self.model_choice.value == "shipped"
        kind = input_kind_for(float(self.psf_sigma.value), self.settings()["levels"])
        sigma = nearest_shipped(float(self.psf_sigma.value), kind)
        source = (f"shipped, PSF {sigma:g} px{', grey' if kind == 'grey' else ''}"
                  if shipped else str(self.model_file.value))
        if self._clf is None or self._clf_source != source:
            if shipped:
                from ..pretrained import load_pretrained
                self._clf = load_pretrained(sigma, kind)
            else:
                path = Path(source)
                if not path.is_file():
                    raise ValueError(f"model file {path} does not exist; choose a .safetensors "
                                     "file written by `napari-hamiltonian train`")
                from ..estimator import HamiltonianClassifier
                self._clf = HamiltonianClassifier.load(path)
            self._clf_source = source
        self._clf.set_params(confidence_k=float(self.confidence_k.value))
        return self._clf

    def _validate(self):
        """Check the inputs on the displayed frame; raises ValueError with the fix."""
        from .._binary import binarize

        s = self.settings()
        layer = s["layer"]
        if layer is None:
            raise ValueError("no image layer: open an image or a stack first (File > Open "
                             "Sample > Hamiltonian classifier)")
        if layer.rgb or layer.ndim not in (2, 3):
            raise ValueError(f"layer {layer.name!r} has shape {layer.data.shape}: use a 2D "
                             "grayscale/binary image or a (T, Y, X) stack")
        switching = s["threshold"] == "switching"
        if switching and (layer.ndim != 3 or layer.data.shape[0] < 2):
            raise ValueError("the switching binarisation needs a stack of frames in sweep "
                             "order; for one image choose otsu or a grey level")
        clf = self.classifier()
        frame = self._frame_getter(layer)(self.current_frame())
        if switching:
            binarize(frame, "otsu", s["metal"], min_side=clf.window_)
        else:
            read_image(frame, clf, s["threshold"], s["metal"], s["levels"])
        return s, clf

    def _on_confidence_k(self, confidence_k) -> None:
        """New k: recompute the paper's k-sigma flags of cached frames from their
        distances (the rejection, shown as "none of these", does not use k)."""
        if self._clf is None:
            return
        self._clf.set_params(confidence_k=float(confidence_k))
        for r in self.results.values():
            r.paper_confident = self._clf.paper_confident(r.distance)
        self._refresh_chart()

    # ------------------------------------------------------------------ preview
    def _update_preview(self, _=None) -> None:
        layer = self.layer_box.value
        if layer is not None and f"{layer.name} binary preview" in self.viewer.layers:
            self.show_preview()

    def show_preview(self) -> None:
        """Add or update a layer with the binary image the classifier will see."""
        import dask.array as da

        from .._binary import binarize

        try:
            s, _ = self._validate()
        except ValueError as err:
            self._error(str(err))
            return
        layer = s["layer"]
        args = self._binarisation(s)
        if s["threshold"] == "switching":
            data = self._binary_getter(s)[0](slice(None))
        elif layer.ndim == 2:
            data = binarize(np.asarray(layer.data), *args)
        else:
            stack = da.from_array(layer.data, chunks=(1,) + tuple(layer.data.shape[1:]))
            data = stack.map_blocks(lambda b: binarize(b[0], *args)[None], dtype=np.uint8)
        name = f"{layer.name} binary preview"
        if name in self.viewer.layers:
            self.viewer.layers[name].data = data
        else:
            self.viewer.add_image(data, name=name, contrast_limits=(0, 1), opacity=0.6,
                                  colormap="gray", scale=layer.scale, translate=layer.translate)

    # ------------------------------------------------------------------ running
    def run(self, all_frames: bool = False) -> None:
        """Classify the displayed frame (or every frame) in a background thread."""
        try:
            s, clf = self._validate()
        except ValueError as err:
            self._error(str(err))
            return
        key = (id(s["layer"]), s["threshold"], s["metal"], s["levels"], s["stride"],
               self._clf_source)
        if key != self._key:
            self.results.clear()
            self.curve.clear()
            self._key = key
        self._run_layer = s["layer"]
        layer = s["layer"]
        n_frames = 1 if layer.ndim == 2 else layer.data.shape[0]
        current = self.current_frame()
        frames = [current] + ([t for t in range(n_frames) if t != current]
                              if all_frames else [])
        frames = [t for t in frames if t not in self.results]
        self._follow = layer.ndim == 3
        if not frames:
            self._refresh_chart()
            return
        if self.worker is not None:  # a second Run: stop the first, then start this one
            self._pending = (s, clf, frames)
            self.worker.quit()
            return
        self._start(s, clf, frames)

    def _start(self, s, clf, frames) -> None:
        get_frame, threshold, metal = self._binary_getter(s)
        if s["levels"] is not None:  # the model reads the image by its phase levels
            threshold, metal = None, "bright"
        self.worker = GeneratorRun(
            _classify_frames, (get_frame, frames, clf, s["stride"], threshold, metal,
                               s["levels"]),
            total=len(frames), desc="classifying windows",
            on_yield=lambda msg, s=s, clf=clf: self._on_yield(msg, s, clf),
            on_error=self._on_run_error,
            on_finish=self._on_finished)
        self.cancel_button.enabled = True
        self.status.value = f"classifying {len(frames)} frame(s) ({self._clf_source})..."
        self._progress_state = [time.perf_counter(), len(frames), 0]  # start, frames, done
        self.progress.value = 0
        self.progress.visible = True
        self.worker.start()
        # the chart ("classifying...") appears now, in its own event: neither in this
        # click's nor in the first result's (the empty classes layer follows on "ready")
        QTimer.singleShot(0, self._refresh_chart)

    def _on_run_error(self, err) -> None:
        self._failed = True
        self._error(f"classification failed: {err}")

    def cancel(self) -> None:
        """Stop the running classification at its next unit of work."""
        self._pending = None
        if self.worker is not None:
            self._cancelled = True
            self.worker.quit()
            self.status.value = "cancelling..."

    def _on_finished(self) -> None:
        self.worker = None
        self.cancel_button.enabled = False
        frames = sorted(self.results)
        message = unlike_message([self.results[t] for t in frames], frames, self._clf)
        groups = groups_message(getattr(self._clf, "class_groups_", []))
        levels = levels_message(self._clf, [self.results[t] for t in frames])
        head = (f"cancelled; {len(frames)} frame(s) classified before" if self._cancelled
                else f"{len(frames)} frame(s) classified")
        self._cancelled = False
        self.progress.visible = False
        unreliable = self._clf.unreliable() if self._clf is not None else None
        binary = self._binary_for_grey(frames)
        if not self._failed:  # an error stays in view, with its fix
            self.status.value = head + "".join(
                f". {m[0].upper()}{m[1:]}"
                for m in (unreliable, binary, message, groups, levels) if m)
        self._failed = False
        if self._pending is not None:
            s, clf, frames = self._pending
            self._pending = None
            self._start(s, clf, [t for t in frames if t not in self.results])

    def _binary_for_grey(self, frames) -> str:
        """The warning for a grey model reading a binary image ("" otherwise)."""
        layer = self._run_layer
        if self._clf is None or self._clf.input_kind != "grey" or not frames \
                or layer is None:
            return ""
        image = np.asarray(layer.data[frames[0]] if layer.ndim == 3 else layer.data)
        return BINARY_FOR_GREY if two_valued(image) else ""

    def _on_yield(self, msg, s, clf) -> None:
        if msg[0] == "ready":  # the empty classes layer, in an event of its own
            if s["layer"] is self._run_layer and s["layer"] in self.viewer.layers:
                self._layers(s["layer"], standard_names(clf.classes_), s["stride"],
                             clf.window_)
            return
        if msg[0] == "progress":
            _, t, done, total = msg
            if done == 0:  # napari's copy of the progress: once per frame
                self._later(lambda p: p.set_description(f"frame {t}"))
            self._show_progress(t, done / max(total, 1))
            return
        _, t, result = msg
        if self._pending is not None or s["layer"] is not self._run_layer:
            return  # results of a run being replaced, or of a closed image: not shown
        self.results[t] = result
        self._progress_state[2] += 1
        self._show_progress(t, 0.0)
        if self._follow:
            self.curve[t] = (criticality_distance(clf, result),
                             frame_summary(result)["majority"])
        self._show_result(s["layer"], t, result, clf)
        self._later(lambda p: p.update(1))

    def _later(self, step) -> None:
        """Apply ``step`` to the run's napari progress bar after this event: its widget
        processes pending events when changed, which would run the queued redraws
        inside this handler and add their time to one freeze."""
        worker = self.worker
        if worker is not None:
            QTimer.singleShot(0, lambda: self.worker is worker and step(worker.progress))

    def _show_progress(self, t: int, within: float) -> None:
        """Advance the in-dock bar: frames done plus the share ``within`` of frame ``t``,
        with the time left extrapolated from the time so far (nothing once the run has
        finished: its summary stays)."""
        if self.worker is None:
            return
        start, n_frames, n_done = self._progress_state
        share = min((n_done + within) / max(n_frames, 1), 1.0)
        self.progress.value = int(round(share * PROGRESS_STEPS))
        elapsed = time.perf_counter() - start
        left = elapsed * (1 - share) / share if share > 0 else None
        self.status.value = (f"frame {t}: {n_done} of {n_frames} frame(s) done, "
                             f"{share:.0%}" + (f", about {left:.0f} s left"
                                               if left is not None else ""))

    def _on_step(self, _event=None) -> None:
        """The slider moved: show the frame's results, classifying it first if the
        classified layer is the one selected (runs follow only that layer)."""
        layer = self._run_layer
        if layer is None or self._key is None or self.layer_box.value is not layer \
                or layer not in self.viewer.layers:
            return
        t = self.current_frame()
        if self.results and f"{layer.name} classes" not in self.viewer.layers:
            for k, r in sorted(self.results.items()):  # the user deleted it: draw again
                self._show_result(layer, k, r, self._clf)
        self._refresh_chart()
        if self._follow and t not in self.results and self.worker is None:
            self.run(all_frames=False)

    def _on_removed(self, event) -> None:
        """An image deleted: its results go with it (their layer, the chart)."""
        if event.value is not self._run_layer:
            return
        self._pending = None
        if self.worker is not None:
            self.worker.quit()
        self.results.clear()
        self.curve.clear()
        self._key = self._run_layer = None
        name = f"{event.value.name} classes"
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        self.chart.show_frame(0, None, None)
        self.status.value = f"{event.value.name} was closed; its results with it"

    # ------------------------------------------------------------------ geometry
    def measure_geometry(self) -> None:
        """The displayed frame's cluster geometry (:mod:`napari_hamiltonian.geometry`),
        measured in the background on the binary image the classifier sees, drawn
        against the seven classes' references and compared with the CNN in words."""
        from .._binary import binarize

        try:
            s, _ = self._validate()
        except ValueError as err:
            self._error(str(err))
            return
        get_frame, threshold, metal = self._binary_getter(s)
        t, min_size = self.current_frame(), int(self.min_cluster.value)

        sigma = float(getattr(self._clf, "psf_sigma", 0.0))  # the model's resolution

        def work():
            from ..geometry import References, measure

            binary = binarize(get_frame(t), threshold, metal)
            return t, measure(binary, min_size), References.load(psf_sigma=sigma)

        self._in_background(self.geometry_button, "cluster geometry", work,
                            self._on_geometry,
                            f"measuring the cluster geometry of frame {t}...")

    def _in_background(self, button, desc: str, work, on_return, status: str) -> None:
        """Run ``work()`` in a worker with ``button`` disabled until it ends, then
        ``on_return(its value)`` on the GUI thread; errors shown with ``desc``. The run
        is held in ``self._jobs[desc]`` while it lasts (Qt keeps only weak references to
        its callbacks)."""
        def gen():
            yield (desc,)
            return work()

        def finished():
            self._jobs.pop(desc, None)
            button.enabled = True

        button.enabled = False
        self.status.value = status
        self._jobs[desc] = GeneratorRun(
            gen, (), total=0, desc=desc, on_yield=lambda _: None, on_return=on_return,
            on_error=lambda err: self._error(f"{desc} failed: {err}"), on_finish=finished)
        self._jobs[desc].start()

    def _on_geometry(self, out) -> None:
        from ..geometry import agreement_message, verdict

        t, geometry, references = out
        v = verdict(geometry, references)
        self.geometry_chart.show_geometry(t, geometry, references)
        result = self.results.get(t) if self._run_layer is self.layer_box.value else None
        words = (agreement_message(result.answer(), v) if result
                 is not None else f"consistent with: {', '.join(v.consistent) or 'none'}"
                 " (press Run to compare with the CNN)")
        self.status.value = (f"frame {t}, cluster geometry ({geometry.n_clusters} "
                             f"clusters of >= {geometry.min_size} px; {geometry.n_edge} "
                             f"touching the edge left out): {words}")

    # ------------------------------------------------------------------ output
    def _layers(self, layer, classes, stride: int, window: int):
        """The classes Labels layer for ``layer`` (created on first use, reset for a new
        window grid), with the values of :mod:`napari_hamiltonian.labelfile` (those of
        the saved ``labels.tif``)."""
        name = f"{layer.name} classes"
        stack = layer.ndim == 3
        grid = n_windows(layer.data.shape[-2:], window, stride)
        shape = ((layer.data.shape[0],) if stack else ()) + grid
        scale, translate = label_placement(tuple(layer.scale), tuple(layer.translate), stack,
                                           stride, window)
        metadata = _label_metadata(classes, stride, window)
        if name in self.viewer.layers:  # a new grid (stride): the same layer, redrawn
            labels = self.viewer.layers[name]
            if labels.data.shape != shape or tuple(labels.scale) != scale:
                labels.data = np.zeros(shape, np.uint8)
                labels.scale, labels.translate = scale, translate
                labels.metadata.update(metadata)
            return labels
        from napari.utils.colormaps import DirectLabelColormap

        labels = self.viewer.add_labels(
            np.zeros(shape, np.uint8), name=name, scale=scale, translate=translate,
            opacity=1.0, colormap=DirectLabelColormap(color_dict=label_colors(classes)),
            metadata=metadata)
        # the new layer must not take the selection (and show its paint tools)
        self.viewer.layers.selection.active = layer
        return labels

    def _apply_overlay(self, _=None) -> None:
        """Draw the classes layer as :data:`OVERLAYS` says."""
        layer = self._run_layer
        name = None if layer is None else f"{layer.name} classes"
        if name is None or name not in self.viewer.layers:
            return
        classes = self.viewer.layers[name]
        mode = self.overlay.value
        classes.visible = mode != "image only"
        classes.opacity = 1.0
        classes.contour = 1 if mode == "outlines" else 0

    def _show_result(self, layer, t, result, clf) -> None:
        classes = self._layers(layer, result.classes, result.stride, result.window)
        self._apply_overlay()
        values = label_values(result)
        if layer.ndim == 3:
            classes.data[t] = values
        else:
            classes.data[...] = values
        classes.metadata["logits"][t] = result.logits
        classes.metadata["distance"][t] = result.distance
        classes.metadata["scores"][t] = result.scores
        classes.refresh()
        if t == self.current_frame() or self._follow:  # bars, or a new point on the curve
            self._refresh_chart()

    def _refresh_chart(self) -> None:
        t = self.current_frame()
        self.chart.show_frame(t, self.results.get(t), self.curve if self._follow else None,
                              running=self.worker is not None)

    def save(self, folder) -> Path:
        """Write the classified frames to ``folder`` (see :func:`batch.save_results`):
        ``labels.tif`` that opens over the image, the CSV with the stack's frame numbers
        and the charts."""
        from ..batch import save_results

        return save_results(folder, *self._save_args())

    def _save_args(self) -> tuple:
        """(results, classifier, source) of what is shown, taken on the GUI thread."""
        layer = self._run_layer
        if not self.results or layer is None:
            raise ValueError("nothing to save yet: press Run first")
        units = getattr(layer, "units", None)
        source = {"n_frames": int(layer.data.shape[0]) if layer.ndim == 3 else None,
                  "scale": [float(v) for v in layer.scale],
                  "translate": [float(v) for v in layer.translate],
                  "units": [str(u) for u in units] if units is not None else None,
                  "image": layer.name}
        return dict(self.results), self._clf, source

    def _save_dialog(self) -> None:
        """Ask for a folder (once there is something to save), then write in the
        background: charts take a second or more to draw."""
        from qtpy.QtWidgets import QFileDialog

        from ..batch import save_results

        try:
            args = self._save_args()
        except ValueError as err:
            self._error(str(err))
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the results")
        if not folder:
            return

        self._in_background(self.save_button, "saving results",
                            lambda: save_results(folder, *args), self._on_saved,
                            f"saving to {folder}...")

    def _on_saved(self, folder) -> None:
        self.status.value = (f"results written to {folder}; open its labels.tif with the "
                             "Hamiltonian classifier reader to see them over the image")
        show_info(f"results written to {folder}")


def classify_selected_layer(viewer: Viewer) -> None:
    """Layer-menu command: the Classify dock (the open one, whichever menu opened it;
    a new one only if none is open) with the selected image layer chosen."""
    widget = next((w for w in viewer.window.dock_widgets.values()
                   if isinstance(w, ClassifyWidget)), None)
    if widget is None:
        _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                         "Classify Hamiltonian")
    else:
        widget.parent().show()
        widget.parent().raise_()
    active = viewer.layers.selection.active
    if isinstance(active, Image):
        widget.layer_box.value = active
