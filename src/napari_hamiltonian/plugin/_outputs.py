"""What the classify dock shows, measures and writes of the classification: the results
drawn (classes layer, answer, chart), the cluster geometry of the displayed frame
against the references, and the results saved to a folder, the last two in the
background (a mixin of :class:`._widget.ClassifyWidget`)."""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_info

from ._classes_layer import apply_overlay, classes_layer, draw_result
from ._worker import GeneratorRun


class OutputActions:
    """Results on screen (the classes layer, the frame's answer, the chart), geometry
    and saving of :class:`~napari_hamiltonian.plugin._widget.ClassifyWidget` (which
    provides the controls, the session and ``_validate``)."""
    def _layers(self, layer, classes, stride: int, window: int, groups=()):
        """The classes layer of ``layer`` (:func:`._classes_layer.classes_layer`)."""
        return classes_layer(self.viewer, layer, classes, stride, window, groups)

    def _apply_overlay(self, _=None) -> None:
        """Draw the classes layer as :data:`OVERLAYS` says."""
        apply_overlay(self.viewer, self._run_layer, self.overlay.value, self.current_frame())

    def _show_result(self, layer, t, result, clf) -> None:
        draw_result(self.viewer, layer, t, result)
        self._apply_overlay()
        self._show_parameters(layer)
        if t == self.current_frame() or self.session.follow:  # bars, or a curve point
            self._refresh_chart()

    def _refresh_chart(self) -> None:
        t = self.current_frame()
        sentence = self.session.frame_sentence(t, float(self.pixel_nm.value)) \
            if self.layer_box.value is self._run_layer else ""
        self.answer.setText(sentence)
        self.answer.setVisible(bool(sentence))
        self._refresh_table()
        self.chart.show_frame(t, self.results.get(t), self.curve if self.session.follow else None,
                              running=self.worker is not None,
                              k=float(self.confidence_k.value), axis=self.session.axis())
        self._refresh_parameter_chart()

    def measure_geometry(self) -> None:
        """The displayed frame's cluster geometry (:mod:`napari_hamiltonian.geometry`),
        measured in the background on the binary image the classifier sees, drawn
        against the seven classes' references and compared with the CNN in words."""
        try:
            s = self._validate()
        except ValueError as err:
            self._error(str(err))
            return
        get_frame, reading = self.session.frame_source(s.layer, s.reading, s.region)
        t, min_size = self.current_frame(), int(self.min_cluster.value)
        clf = self.session.choose(s).clf  # the model's resolution picks the references

        def work():
            from ..geometry import measure, references_for

            from ..imaging.region import frame_mask

            mask = frame_mask(s.region, t)
            binary = reading.binary(get_frame(t), mask)
            return t, measure(binary, min_size, mask=mask), references_for(clf)

        self._in_background((self.geometry_button,), "cluster geometry", work,
                            self._on_geometry,
                            f"measuring the cluster geometry of frame {t}...")

    def _in_background(self, buttons: tuple, desc: str, work, on_return, status: str
                       ) -> None:
        """Run ``work()`` in a worker with ``buttons`` disabled until it ends, then
        ``on_return(its value)`` on the GUI thread; errors shown with ``desc``. The run
        is held in ``self._jobs[desc]`` while it lasts (Qt keeps only weak references to
        its callbacks)."""
        def gen():
            yield (desc,)
            return work()

        def finished():
            self._jobs.pop(desc, None)
            for button in buttons:
                button.enabled = True

        for button in buttons:
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

    # ------------------------------------------------------------------ table
    def show_table(self):
        """Open (or bring back) the per-frame results table dock
        (:class:`._table.ResultsTable`): the numbers of ``fractions.csv``."""
        from ._table import ResultsTable

        table = self.__dict__.get("_table")
        if table is None or table.parent() is None:
            table = self._table = ResultsTable()
            self.viewer.window.add_dock_widget(table, name="Hamiltonian results table",
                                               area="bottom")
        table.parent().show()
        self._refresh_table()
        return table

    def _refresh_table(self) -> None:
        """The open table follows the results of the classified image."""
        table = self.__dict__.get("_table")
        if table is not None and table.parent() is not None:
            table.show_rows(self.session.table_rows())

    def export_figure(self, path) -> Path:
        """The displayed frame's class map over the image, with legend and scale bar
        (when the pixel size is known), beside its bar chart, as a PNG (300 dpi) or SVG
        (:func:`~napari_hamiltonian.output.figures.map_figure`)."""
        from ..output.figures import map_figure, save_figure

        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            raise ValueError(f"{path.name}: figures are written as .png or .svg")
        t = self.current_frame()
        layer = self._run_layer
        result = self.results.get(t) if layer is self.layer_box.value else None
        if result is None:
            raise ValueError(f"frame {t} is not classified yet: press Run first")
        image = self._frame_getter(layer)(t)
        fig = map_figure(image, result, self.session.frame_sentence(t),
                         float(self.pixel_nm.value))
        save_figure(fig, path, dpi=300)
        return path

    def _figure_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, chosen = QFileDialog.getSaveFileName(self, "Export the figure of this frame",
                                                   "frame.png", "PNG (*.png);;SVG (*.svg)")
        if not path:
            return
        if not Path(path).suffix:  # a name typed without its type: the type chosen
            path += ".svg" if chosen.startswith("SVG") else ".png"
        try:
            self.status.value = f"figure written to {self.export_figure(path)}"
        except ValueError as err:
            self._error(str(err))

    # ------------------------------------------------------------------ saving
    def save(self, folder) -> Path:
        """Write the classified frames to ``folder``
        (:func:`~napari_hamiltonian.output.report.save_results`):
        ``labels.tif`` that opens over the image, the CSV with the stack's frame numbers
        and the charts."""
        from ..output.report import save_results
        return save_results(folder, *self._save_args())

    def _save_args(self) -> tuple:
        """(results, classifier, source, region) of what is shown, taken on the GUI
        thread."""
        layer = self._run_layer
        if not self.results or layer is None:
            raise ValueError("nothing to save yet: press Run first")
        units = getattr(layer, "units", None)
        source = {"n_frames": int(layer.data.shape[0]) if layer.ndim == 3 else None,
                  "scale": [float(v) for v in layer.scale],
                  "translate": [float(v) for v in layer.translate],
                  "units": [str(u) for u in units] if units is not None else None,
                  "image": layer.name}
        settings, clf, model = self.session.settings, self._clf, self.session.model
        if settings is not None and model is not None:  # what made them, as the CLI's
            from .. import __version__                  # settings.json records it
            source["made_with"] = {
                "model": model.label, "model_sha256": model.sha256,
                "psf_sigma": float(clf.psf_sigma), "input": clf.input_kind,
                "window": int(clf.window_), "stride": int(settings.stride),
                "confidence_k": float(clf.confidence_k), **settings.reading.settings(),
                "package_version": __version__}
        return (dict(self.results), clf, source,
                None if settings is None else settings.region, self.session.axis())

    def _save_dialog(self) -> None:
        """Ask for a folder (once there is something to save), then write in the
        background: charts take a second or more to draw."""
        from qtpy.QtWidgets import QFileDialog

        from ..output.report import save_results
        try:
            args = self._save_args()
        except ValueError as err:
            self._error(str(err))
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder for the results")
        if not folder:
            return

        self._in_background((self.save_button,), "saving results",
                            lambda: save_results(folder, *args), self._on_saved,
                            f"saving to {folder}...")

    def _on_saved(self, folder) -> None:
        self.status.value = (f"results written to {folder}; open its labels.tif with the "
                             "Hamiltonian classifier reader to see them over the image")
        show_info(f"results written to {folder}")
