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
from napari.utils.notifications import show_error, show_info
from napari.viewer import Viewer
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..classes import NONE_NAME, class_color
from ..report import (
    bar_chart,
    criticality_distance,
    frame_summary,
    groups_message,
    unlike_message,
)
from ..sliding import iter_classify
from ._layers import label_colors, label_placement, legend_html, window_label_values
from ._worker import GeneratorRun

THRESHOLDS = ("none (binary)", "value", "otsu", "switching (stack)")
#: How the classes layer is drawn: opaque class colours (the legend's colours whatever
#: the pixels below), class outlines over the image, or not at all.
OVERLAYS = ("classes (opaque)", "outlines", "image only")
#: Resolution of the in-dock progress bar.
PROGRESS_STEPS = 1000


def _classify_frames(get_frame, frames, clf, stride, threshold, metal):
    """Worker body: yields ("progress", t, done, total) and ("frame", t, WindowResult)."""
    for t in frames:
        gen = iter_classify(get_frame(t), clf, stride, threshold, metal)
        while True:
            try:
                _, done, total = next(gen)
            except StopIteration as stop:
                yield ("frame", t, stop.value)
                break
            yield ("progress", t, done, total)


class ResultChart(QWidget):
    """Matplotlib canvas: class shares of the current frame and, for stacks, the
    proximity-to-criticality curve with the current frame marked."""

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4.2, 5.4), dpi=90, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(380)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.frame = None  # frame shown, for tests
        self.theme = theme
        self.hide()  # no blank chart before there is something to show

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

    def show_frame(self, t, result, curve: dict | None) -> None:
        """Redraw for frame ``t`` (result None: not classified yet; hidden while nothing
        at all has been classified)."""
        self.figure.clear()
        self.frame = t
        if result is None and not curve:
            self.hide()
            return
        self.show()
        ax1 = self.figure.add_subplot(2 if curve else 1, 1, 1)
        if result is None:
            ax1.text(0.5, 0.5, f"frame {t}: not classified yet\n(press Run)", ha="center",
                     va="center", transform=ax1.transAxes)
            ax1.set_axis_off()
        else:
            bar_chart(result.fractions(), title=f"frame {t}: windows per class "
                      "(confident share in brackets)", ax=ax1)
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
        self._follow_theme()
        self.canvas.draw_idle()


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
        self.preview_button = PushButton(text="Show binary preview")
        self.model_choice = ComboBox(label="model", choices=["shipped", "model file"])
        self.model_file = FileEdit(label="model file", filter="*.safetensors", visible=False)
        self.psf_sigma = FloatSpinBox(
            label="PSF sigma (px)", min=0.0, max=50.0, step=0.1, value=0.0,
            tooltip="Gaussian sigma of the microscope's point-spread function in pixels; "
            "picks the shipped model for that resolution (0: sharp images, the "
            "lattice-scale model)")
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
        self.progress = ProgressBar(label="progress", min=0, max=PROGRESS_STEPS, value=0,
                                    visible=False)
        self.status = Label(value="")
        self.legend = Label(value=legend_html())
        self.controls = Container(widgets=[
            self.layer_box, self.threshold_mode, self.threshold_value, self.metal,
            self.preview_button, self.model_choice, self.model_file, self.psf_sigma,
            self.fwhm_nm, self.pixel_nm, self.estimate_button, self.stride, self.confidence_k,
            self.overlay,
            self.run_button, self.run_all_button, self.cancel_button, self.save_button,
            self.progress, self.status, self.legend])
        for label in (self.status, self.legend):  # long messages wrap, not widen the dock
            label.native.setWordWrap(True)
        self.chart = ResultChart(self, theme=str(self.viewer.theme))
        self.viewer.events.theme.connect(self._on_theme)
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls.native)
        layout.addWidget(self.chart)

        self.results: dict[int, object] = {}
        self.curve: dict[int, tuple[float, str]] = {}
        self.worker = None
        self._pending = None
        self._key = None
        self._run_layer = None  # the image layer the results belong to
        self._cancelled = False
        self._progress_state = [0.0, 1, 0]
        self._switching = (None, None)  # (layer and metal, its switching maps)
        self._clf = None
        self._clf_source = None
        self._follow = False

        self.threshold_mode.changed.connect(self._on_threshold_mode)
        for w in (self.threshold_mode, self.threshold_value, self.metal):
            w.changed.connect(self._update_preview)  # the preview follows the settings
        self.confidence_k.changed.connect(self._on_confidence_k)
        self.model_choice.changed.connect(self._on_model_choice)
        self.fwhm_nm.changed.connect(self._on_resolution)
        self.pixel_nm.changed.connect(self._on_resolution)
        self.estimate_button.clicked.connect(self.estimate_psf)
        self.overlay.changed.connect(self._apply_overlay)
        self.layer_box.changed.connect(self._on_layer)
        self.preview_button.clicked.connect(self.show_preview)
        self.run_button.clicked.connect(lambda: self.run(all_frames=False))
        self.run_all_button.clicked.connect(lambda: self.run(all_frames=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self._save_dialog)
        self.viewer.layers.events.inserted.connect(self.layer_box.reset_choices)
        self.viewer.layers.events.removed.connect(self.layer_box.reset_choices)
        self.viewer.layers.events.removed.connect(self._on_removed)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self._on_layer(self.layer_box.value)

    def _on_theme(self, event=None) -> None:
        self.chart.theme = str(self.viewer.theme)
        self._refresh_chart()

    # ------------------------------------------------------------------ inputs
    def _image_layers(self, _=None):
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _on_threshold_mode(self, mode):
        self.threshold_value.visible = mode == "value"

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
            show_error("no image layer to estimate the point-spread function from")
            return None
        try:
            sigma = estimate_psf_sigma(self._frame_getter(layer)(self.current_frame()))
        except ValueError as err:
            show_error(f"cannot estimate the point-spread function: {err}")
            return None
        self.psf_sigma.value = round(sigma, 2)
        self.status.value = (f"estimated PSF sigma: {sigma:.2f} px (from frame "
                             f"{self.current_frame()}); the model for it is used on Run")
        return sigma

    def settings(self) -> dict:
        """Current settings as keyword arguments of iter_classify (plus the layer)."""
        mode = self.threshold_mode.value
        threshold = {"none (binary)": None, "otsu": "otsu", "switching (stack)": "switching"
                     }.get(mode, float(self.threshold_value.value))
        return {"layer": self.layer_box.value, "threshold": threshold,
                "metal": self.metal.value, "stride": int(self.stride.value)}

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
            return self._frame_getter(layer), s["threshold"], s["metal"]
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
        from ..pretrained import nearest_shipped

        shipped = self.model_choice.value == "shipped"
        sigma = nearest_shipped(float(self.psf_sigma.value))
        source = f"shipped, PSF {sigma:g} px" if shipped else str(self.model_file.value)
        if self._clf is None or self._clf_source != source:
            if shipped:
                from ..pretrained import load_pretrained
                self._clf = load_pretrained(sigma)
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
        binarize(self._frame_getter(layer)(self.current_frame()),
                 "otsu" if switching else s["threshold"], s["metal"], min_side=clf.window_)
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
            show_error(str(err))
            return
        layer = s["layer"]
        args = (s["threshold"], s["metal"])
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
            show_error(str(err))
            return
        key = (id(s["layer"]), s["threshold"], s["metal"], s["stride"], self._clf_source)
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
        self.worker = GeneratorRun(
            _classify_frames, (get_frame, frames, clf, s["stride"], threshold, metal),
            total=len(frames), desc="classifying windows",
            on_yield=lambda msg, s=s, clf=clf: self._on_yield(msg, s, clf),
            on_error=lambda err: show_error(f"classification failed: {err}"),
            on_finish=self._on_finished)
        self.cancel_button.enabled = True
        self.status.value = f"classifying {len(frames)} frame(s) ({self._clf_source})..."
        self._progress_state = [time.perf_counter(), len(frames), 0]  # start, frames, done
        self.progress.value = 0
        self.progress.visible = True
        self.worker.start()

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
        message = unlike_message([self.results[t] for t in frames], frames)
        groups = groups_message(getattr(self._clf, "class_groups_", []))
        head = (f"cancelled; {len(frames)} frame(s) classified before" if self._cancelled
                else f"{len(frames)} frame(s) classified")
        self._cancelled = False
        self.progress.visible = False
        self.status.value = head + "".join(
            f". {m[0].upper()}{m[1:]}" for m in (message, groups) if m)
        if self._pending is not None:
            s, clf, frames = self._pending
            self._pending = None
            self._start(s, clf, [t for t in frames if t not in self.results])

    def _on_yield(self, msg, s, clf) -> None:
        if msg[0] == "progress":
            _, t, done, total = msg
            if self.worker is not None:
                self.worker.progress.set_description(f"frame {t}: {done}/{total} parts")
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
        if self.worker is not None:
            self.worker.progress.update(1)

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

    # ------------------------------------------------------------------ output
    def _layers(self, layer, result):
        """The classes Labels layer for ``layer`` (created on first use): value k + 1 is
        class k, ``len(classes) + 1`` is "none of these" (grey), 0 not computed."""
        name = f"{layer.name} classes"
        ny, nx = result.labels.shape
        stack = layer.ndim == 3
        shape = ((layer.data.shape[0],) if stack else ()) + (ny, nx)
        scale, translate = label_placement(tuple(layer.scale), tuple(layer.translate), stack,
                                           result.stride, result.window)
        if name in self.viewer.layers and self.viewer.layers[name].data.shape == shape \
                and tuple(self.viewer.layers[name].scale) == scale:
            return self.viewer.layers[name]
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        values = {k + 1: c for k, c in enumerate(result.classes)}
        values[len(result.classes) + 1] = NONE_NAME
        labels = self._add_labels(name, shape, scale, translate, result, values)
        # the new layer must not take the selection (and show its paint tools)
        self.viewer.layers.selection.active = layer
        return labels

    def _add_labels(self, name, shape, scale, translate, result, values):
        from napari.utils.colormaps import DirectLabelColormap

        return self.viewer.add_labels(
            np.zeros(shape, np.uint8), name=name, scale=scale, translate=translate,
            opacity=1.0, colormap=DirectLabelColormap(color_dict=label_colors(result.classes)),
            metadata={"classes": list(result.classes), "logits": {}, "distance": {},
                      "scores": {}, "stride": result.stride, "window": result.window,
                      "label_values": values})

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
        classes = self._layers(layer, result)
        self._apply_overlay()
        values = window_label_values(result)
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
        self.chart.show_frame(t, self.results.get(t), self.curve if self._follow else None)

    def save(self, folder) -> Path:
        """Write the classified frames as label TIFFs, CSV and PNG charts to ``folder``."""
        from ..batch import save_frame, write_report

        if not self.results:
            raise ValueError("nothing to save yet: press Run first")
        folder = Path(folder)
        frames = sorted(self.results)
        for k, t in enumerate(frames):
            save_frame(folder / "frames" / f"t{k:05d}.npz", self.results[t])
        write_report(folder, self._clf, np.array(frames, float), xlabel="frame")
        return folder

    def _save_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Folder for the results")
        if not folder:
            return
        try:
            self.save(folder)
        except (ValueError, OSError) as err:
            show_error(str(err))
            return
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
