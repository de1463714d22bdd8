"""The *Classify Hamiltonian* dock widget: a thin layer over :class:`.session.ClassifySession`.

It maps its controls (:mod:`._controls`) to :class:`~.session.RunSettings`, runs the
session's work in a ``thread_worker`` (progress, cancel at every unit of work) and turns
the session's results into the classes layer (:mod:`._classes_layer`) and the charts
(:mod:`._charts`), through :class:`._outputs.OutputActions`. Frames are classified
lazily: the displayed one first, each once (kept by the session), and all of them only
on *Run all frames*.
"""

from __future__ import annotations

import time

import numpy as np
from napari.layers import Image
from napari.viewer import Viewer
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..classes import standard_names
from ..imaging.reading import Reading
from . import _status
from ._controls import LEVELS, PROGRESS_STEPS, controls
from ._charts import GeometryChart, ParameterChart, ResultChart, _VerticalScroll
from ._classes_layer import outlines_name, reach_name, warm_labels_layer
from ._inputs import InputActions
from ._layers import units_of
from ..output.messages import for_dock
from ._outputs import OutputActions
from ._parameters import ParameterActions, parameters_name
from ._prepare import PrepareActions
from ._remembered import recall, remember
from ._worker import GeneratorRun
from .session import PER_FRAME_OTSU, ClassifySession, RunSettings


class ClassifyWidget(InputActions, PrepareActions, OutputActions, ParameterActions, QWidget):
    """Classify an image or a stack window by window with a HamiltonianClassifier."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.controls, named = controls(self._image_layers, self._region_layers)
        for name, widget in named.items():  # each control by its name: self.stride, ...
            setattr(self, name, widget)
        for label in (self.status, self.legend):  # long messages wrap, not widen the dock
            label.native.setWordWrap(True)
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.chart = ResultChart(self, theme=str(self.viewer.theme))
        # controls and chart scroll inside the dock: with the training dock beside it,
        # both fit a 1080p screen
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.controls.native)
        column.addWidget(self.progress.native)
        self.answer = QLabel()  # the displayed frame's answer in one sentence
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer.setStyleSheet("font-weight: bold")
        self.answer.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.answer.hide()
        # the answer first, right under the buttons, then its chart: seen without
        # scrolling on 1080p; the status's longer words and the legend below them
        column.addWidget(self.answer)
        column.addWidget(self.chart)
        self.parameter_chart = ParameterChart(self, theme=str(self.viewer.theme))
        column.addWidget(self.parameter_chart)
        column.addWidget(self.status.native)
        column.addWidget(self.legend.native)
        self.geometry_chart = GeometryChart(self, theme=str(self.viewer.theme))
        column.addWidget(self.geometry_chart)
        column.addStretch(1)
        scroll = _VerticalScroll(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self.session = ClassifySession()  # results, run key, model: tested without Qt
        self.worker = None
        self._pending = None
        self._cancelled = False
        self._failed = False  # the run ended in an error
        self._progress_state = [0.0, 1, 0]
        self._jobs: dict = {}  # one-shot background work (save, geometry) while it runs

        self._viewer_hooks = [  # (emitter, callback): undone when the dock is closed
            (self.viewer.events.theme, self._on_theme),
            *[(getattr(self.viewer.layers.events, e), box.reset_choices)
              for box in (self.layer_box, self.region_box) for e in ("inserted", "removed")],
            (self.viewer.layers.events.removed, self._on_removed),
            (self.viewer.dims.events.current_step, self._on_step)]
        for emitter, callback in self._viewer_hooks:
            emitter.connect(callback)
        self.threshold_mode.changed.connect(self._on_threshold_mode)
        for w in (self.threshold_mode, self.threshold_value, self.metal,
                  self.insulator_level, self.metal_level, self.smooth, self.smooth_frames):
            w.changed.connect(self._update_preview)  # the preview follows the settings
        self.levels_button.clicked.connect(self.suggest_levels)
        self.register_button.clicked.connect(self.register_drift)
        self.flat_button.clicked.connect(self.flat_field_layer)
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
        self.table_button.clicked.connect(self.show_table)
        self.figure_button.clicked.connect(self._figure_dialog)
        self.geometry_button.clicked.connect(self.measure_geometry)
        kept = recall(self)  # the settings (and results) of the last dock closed
        self._on_layer(self.layer_box.value)
        if kept is not None:  # its answer, chart and words, shown again
            self.session = kept
            self._refresh_chart()
            self.status.value = kept.summary(False)

    def event(self, event) -> bool:
        """A dock closed with its x is taken out of the window (its parent set to None)
        but lives on: it then stops listening to the viewer and stops its run, so that
        a dock opened again is the only one at work."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None \
                and getattr(self, "_viewer_hooks", None):
            self.close_down()
        return super().event(event)

    def close_down(self) -> None:
        """Stop the run and every connection to the viewer (the dock was closed); keep
        its settings for the next dock (:mod:`._remembered`)."""
        remember(self)
        self._pending = None
        if self.worker is not None:
            self._cancelled = True
            self.worker.quit()
        for emitter, callback in self._viewer_hooks:
            emitter.disconnect(callback)
        self._viewer_hooks = []

    @property
    def results(self) -> dict:
        """{frame: WindowResult} of the classified image (:attr:`ClassifySession.results`)."""
        return self.session.results

    @property
    def curve(self) -> dict:
        """{frame: (criticality distance, majority)} of a stack's classified frames."""
        return self.session.curve

    @property
    def _run_layer(self):
        """The image layer the results belong to."""
        return self.session.layer

    @property
    def _clf(self):
        return self.session.clf

    def _on_theme(self, event=None) -> None:
        self.chart.theme = self.geometry_chart.theme = self.parameter_chart.theme = \
            str(self.viewer.theme)
        self._refresh_chart()
        if not self.geometry_chart.isHidden():
            self.geometry_chart._drawn()

    def _error(self, message: str) -> None:
        _status.show_problem(self.status, for_dock(message))

    # ------------------------------------------------------------------ inputs
    def _image_layers(self, _=None):
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _on_threshold_mode(self, mode):
        self.threshold_value.visible = mode == "value"
        self.metal.visible = mode != LEVELS  # the levels say which side is metal
        for w in (self.insulator_level, self.metal_level, self.levels_button):
            w.visible = mode == LEVELS
        for w in (self.smooth, self.smooth_frames):
            w.visible = mode == "switching (stack)"
        layer = self.layer_box.value
        if mode == "otsu" and layer is not None and layer.ndim == 3:
            self.status.value = f"Note: {PER_FRAME_OTSU}"  # before the run, not after

    def reading(self) -> Reading:
        """How the controls say frames are read (ValueError for impossible settings)."""
        mode = self.threshold_mode.value
        if mode == LEVELS:
            return Reading(levels=(float(self.insulator_level.value),
                                   float(self.metal_level.value)))
        threshold = {"none (binary)": None, "otsu": "otsu", "otsu (whole stack)": "otsu-stack",
                     "switching (stack)": "switching"}.get(
            mode, float(self.threshold_value.value))
        if threshold == "switching":
            return Reading(threshold, self.metal.value, smooth=float(self.smooth.value),
                           smooth_frames=float(self.smooth_frames.value))
        return Reading(threshold, self.metal.value)

    def settings(self) -> RunSettings:
        """The controls as the session's run settings."""
        shipped = self.model_choice.value == "shipped"
        return RunSettings(self.layer_box.value, self.reading(), int(self.stride.value),
                           None if shipped else str(self.model_file.value),
                           float(self.psf_sigma.value), float(self.confidence_k.value),
                           self.region(), self._parameters_setting())

    def _frame_getter(self, layer):
        data = layer.data
        if layer.ndim == 2:
            return lambda t: np.asarray(data)
        return lambda t: np.asarray(data[t])

    def current_frame(self) -> int:
        layer = self.layer_box.value
        if layer is None or layer.ndim == 2:
            return 0
        axis = self.viewer.dims.ndim - layer.ndim  # the layer's first axis in the viewer
        return int(self.viewer.dims.current_step[axis])

    def classifier(self):
        """The selected classifier with the widget's k (loaded once per source)."""
        return self.session.choose(self.settings()).clf

    def _validate(self) -> RunSettings:
        """Check the inputs on the displayed frame; raises ValueError with the fix."""
        layer = self.layer_box.value
        if layer is None:
            raise ValueError("no image layer: open an image or a stack first (File > Open "
                             "Sample > Hamiltonian classifier)")
        if layer.rgb or layer.ndim not in (2, 3):
            raise ValueError(f"layer {layer.name!r} has shape {layer.data.shape}: use a 2D "
                             "grayscale/binary image or a (T, Y, X) stack")
        s = self.settings()
        if s.reading.switching and (layer.ndim != 3 or layer.data.shape[0] < 2):
            raise ValueError("the switching binarisation needs a stack of frames in sweep "
                             "order; for one image choose otsu or a grey level")
        clf = self.session.choose(s).clf
        frame = self._frame_getter(layer)(self.current_frame())
        from ..imaging.region import check_windows_inside

        check_windows_inside(s.region, clf.window_)
        s.reading.check(frame, clf, self._frame_region())
        from ..parameters.pretrained import regressor_for

        regressor_for(s.parameters, clf.psf_sigma)  # a blurred image: said before the run
        return s

    def _on_confidence_k(self, confidence_k) -> None:
        """New k: recompute the paper's k-sigma flags of cached frames from their
        distances (the rejection, shown as "none of these", does not use k)."""
        if self._clf is None:
            return
        self.session.set_confidence_k(confidence_k)
        self._refresh_chart()

    def _update_preview(self, _=None) -> None:
        layer = self.layer_box.value
        if layer is not None and f"{layer.name} binary preview" in self.viewer.layers:
            self.show_preview()

    def show_preview(self) -> None:
        """Add or update a layer with the binary image the classifier will see."""
        import dask.array as da

        try:
            s = self._validate()
        except ValueError as err:
            self._error(str(err))
            return
        layer = s.layer
        get_frame, reading = self.session.frame_source(layer, s.reading, s.region)
        if s.reading.switching:
            data = get_frame(slice(None))
        elif layer.ndim == 2:
            data = reading.binary(np.asarray(layer.data), s.region)
        else:
            from ..imaging.region import frame_mask

            def binary(block, block_info=None):
                t = block_info[0]["chunk-location"][0] if block_info else 0
                return reading.binary(block[0], frame_mask(s.region, t))[None]

            stack = da.from_array(layer.data, chunks=(1,) + tuple(layer.data.shape[1:]))
            data = stack.map_blocks(binary, dtype=np.uint8)
        name = f"{layer.name} binary preview"
        if name in self.viewer.layers:
            self.viewer.layers[name].data = data
        else:
            self.viewer.add_image(data, name=name, contrast_limits=(0, 1), opacity=0.6,
                                  colormap="gray", scale=layer.scale, translate=layer.translate,
                                  **units_of(layer))

    # ------------------------------------------------------------------ running
    def run(self, all_frames: bool = False) -> None:
        """Classify the displayed frame (or every frame) in a background thread."""
        try:
            s = self._validate()
        except ValueError as err:
            self.answer.hide()  # the last answer was of other settings than these
            self._error(str(err))
            return
        frames = self.session.start(s, self.current_frame(), all_frames)
        if not frames:  # classified already: shown again, with its words
            self._redraw_deleted()
            self._refresh_chart()
            if self.worker is None:
                self.status.value = self.session.summary(False)
            return
        if self.worker is not None:  # a second Run: stop the first, then start this one
            self._pending = (s, frames)
            self.worker.quit()
            return
        self._start(s, frames)

    def _start(self, s: RunSettings, frames) -> None:
        classes = standard_names(self.session.clf.classes_)

        def work():
            warm_labels_layer(classes)
            yield ("ready",)
            yield from self.session.work(s, frames)

        self.worker = GeneratorRun(
            work, (), total=len(frames), desc="classifying windows",
            on_yield=lambda msg, s=s, clf=self.session.clf: self._on_yield(msg, s, clf),
            on_error=self._on_run_error,
            on_finish=self._on_finished)
        self.cancel_button.enabled = True
        self.status.value = (f"classifying {len(frames)} frame(s) "
                             f"({self.session.model.label})...")
        self._progress_state = [time.perf_counter(), len(frames), 0]  # start, frames, done
        self.progress.value = 0
        self.progress.visible = True
        self.worker.start()
        # the chart ("classifying...") appears now, in its own event: neither in this
        # click's nor in the first result's (the empty classes layer follows on "ready")
        QTimer.singleShot(0, self._refresh_chart)

    def _on_run_error(self, err) -> None:
        self._failed = True
        self.answer.hide()
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
        cancelled, failed = self._cancelled, self._failed
        summary = self.session.summary(cancelled)
        self._cancelled = self._failed = False
        self.progress.visible = False
        if not failed and self.session.key is not None:  # an error, or the image's
            self.status.value = summary                     # closing, stays in view
        if self._pending is not None:
            s, frames = self._pending
            self._pending = None
            self._start(s, [t for t in frames if t not in self.results])
        elif not (cancelled or failed) and self._viewer_hooks:
            self._on_step()  # the slider moved during the run: the frame landed on

    def _on_yield(self, msg, s, clf) -> None:
        if msg[0] == "ready":  # the empty classes layer, in an event of its own
            if s.layer is self._run_layer and s.layer in self.viewer.layers:
                self._layers(s.layer, standard_names(clf.classes_), s.stride, clf.window_,
                             clf.class_groups_)
            return
        if msg[0] == "progress":
            _, t, done, total = msg
            if done == 0:  # napari's copy of the progress: once per frame
                self._later(lambda p: p.set_description(f"frame {t}"))
            self._show_progress(t, done / max(total, 1))
            return
        _, t, result = msg
        if self._pending is not None or s.layer is not self._run_layer:
            return  # results of a run being replaced, or of a closed image: not shown
        self.session.record(t, result)
        self._progress_state[2] += 1
        self._show_progress(t, 0.0)
        self._show_result(s.layer, t, result, clf)
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
        if layer is None or self.session.key is None or self.layer_box.value is not layer \
                or layer not in self.viewer.layers:
            return
        t = self.current_frame()
        self._redraw_deleted()
        if self.overlay.value == "outlines":  # outlines are drawn for the frame shown
            self._apply_overlay()
        self._refresh_chart()
        if self.session.follow and t not in self.results and self.worker is None:
            self.run(all_frames=False)

    def _show_image_state(self, layer) -> None:
        """The chosen image's own results in the chart and status, or none: no chart,
        geometry or words of another image stay on screen."""
        if not hasattr(self, "session"):
            return
        if layer is self._run_layer and self.results:
            self._refresh_chart()
            if self.worker is None:
                self.status.value = self.session.summary(False)
            return
        self.chart.show_frame(self.current_frame(), None, None)
        self.geometry_chart.hide()
        self.parameter_chart.hide()
        self.answer.hide()
        if self.worker is None and self._run_layer is not None:
            self.status.value = f"{layer.name}: not classified yet (press Run)"

    def _redraw_deleted(self) -> None:
        """Draw the classes layer again if the user deleted it (the results are kept)."""
        layer = self._run_layer
        if self.results and layer is not None and layer in self.viewer.layers \
                and (f"{layer.name} classes" not in self.viewer.layers
                     or reach_name(layer) not in self.viewer.layers):
            for k, r in sorted(self.results.items()):
                self._show_result(layer, k, r, self._clf)

    def _on_removed(self, event) -> None:
        """An image deleted: its results go with it (their layer, the chart)."""
        if event.value is not self._run_layer:
            return
        self._pending = None
        if self.worker is not None:
            self.worker.quit()
        self.session.forget()
        for name in (f"{event.value.name} classes", reach_name(event.value),
                     outlines_name(event.value), parameters_name(event.value)):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        self.chart.show_frame(0, None, None)
        self.parameter_chart.hide()
        self.answer.hide()
        self.status.value = f"{event.value.name} was closed; its results with it"


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
