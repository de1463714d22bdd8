"""The *Generate training data and train* dock widget."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, SpinBox
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..shipped import INPUT_KINDS
from ..training.recipe import TrainingRecipe, steps, train
from . import _status
from ._worker import GeneratorRun


def _generate_and_train(recipe: TrainingRecipe, out: Path):
    """Worker body: the recipe's training (:func:`~napari_hamiltonian.training.recipe.train`:
    simulate, render, fit), then the model saved; yields its progress messages."""
    clf = yield from train(recipe)
    clf.save(out)
    return clf


class TrainWidget(QWidget):
    """Simulate a training set with the seven generators and train a model file on it."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        r = TrainingRecipe  # defaults: the recipe's and the estimator's
        self.n_per_class = SpinBox(label="images per class", min=10, max=100000,
                                   value=r.n_per_class)
        self.n_none = SpinBox(label='"none of these" images', min=0, max=100000,
                              value=r.n_none, tooltip="images none of the seven models "
                              "drew, which teach the rejection")
        self.psf_sigma = FloatSpinBox(label="PSF sigma (px)", min=0.0, max=50.0, step=0.5,
                                      value=r.psf_sigma, tooltip="render the images "
                                      "through a microscope of this resolution (0: "
                                      "lattice scale)")
        self.input_kind = ComboBox(label="model reads", choices=INPUT_KINDS,
                                   value=r.input_kind, tooltip="binary: thresholded "
                                   "renders; grey: renders in phase units (PSF > 0)")
        self.seed = SpinBox(label="seed", min=0, max=2**31 - 1, value=r.seed)
        self.epochs = SpinBox(label="epochs", min=1, max=100, value=r.epochs)
        self.hidden = SpinBox(label="hidden units", min=4, max=4096, value=r.hidden_units)
        self.out = FileEdit(label="model file", mode="w", filter="*.safetensors",
                            value=str(Path.home() / "hamiltonian-model.safetensors"))
        self.go = PushButton(text="Generate and train")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(value="P* gets twice the images per class. The model file "
                            "can then be chosen in Classify Hamiltonian.")
        self.controls = Container(widgets=[self.n_per_class, self.n_none, self.psf_sigma,
                                           self.input_kind, self.seed, self.epochs,
                                           self.hidden, self.out, self.go,
                                           self.cancel_button, self.status])
        self.estimate = Label(value="")
        self.controls.insert(len(self.controls) - 3, self.estimate)
        for w in (self.n_per_class, self.n_none, self.psf_sigma, self.input_kind,
                  self.epochs):
            w.changed.connect(self._show_estimate)
        self._show_estimate()
        self.status.native.setWordWrap(True)  # long messages wrap, not widen the window
        QVBoxLayout(self).addWidget(self.controls.native)
        self.worker = None
        self.model = None
        self.go.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)

    def _error(self, message: str) -> None:
        _status.show_problem(self.status, message)

    def _show_estimate(self, _=None) -> None:
        """The time the settings take, before they are started."""
        from ..training.recipe import estimated_seconds

        try:
            seconds = estimated_seconds(self.recipe())
        except ValueError:
            self.estimate.value = ""
            return
        self.estimate.value = (f"about {max(seconds / 60, 1):.0f} min on 2 CPU cores "
                               "(simulating, rendering and training)")

    def recipe(self) -> TrainingRecipe:
        """The controls as a training recipe (ValueError for impossible ones)."""
        return TrainingRecipe(
            n_per_class=int(self.n_per_class.value), n_none=int(self.n_none.value),
            seed=int(self.seed.value), psf_sigma=float(self.psf_sigma.value),
            input_kind=self.input_kind.value, epochs=int(self.epochs.value),
            hidden_units=int(self.hidden.value))

    def start(self) -> None:
        """Start simulating and training in a background thread."""
        if self.worker is not None:
            show_info("training is already running")
            return
        out = Path(self.out.value)
        if out.suffix != ".safetensors" or not out.parent.is_dir():
            self._error(f"model file {out} must end in .safetensors, in an existing folder")
            return
        try:
            recipe = self.recipe()
        except ValueError as err:
            self._error(str(err))
            return
        self.worker = GeneratorRun(
            _generate_and_train, (recipe, out),
            total=steps(recipe), desc="simulating", on_yield=self._on_yield,
            on_return=self._on_returned,
            on_error=lambda err: self._error(f"training failed: {err}"),
            on_finish=self._on_finished)
        self.model = None
        self.cancel_button.enabled = True
        self.worker.start()

    def cancel(self) -> None:
        """Stop after the current class (training itself runs to its end)."""
        if self.worker is not None:
            self._cancelled = True
            self.worker.quit()
            self.status.value = "cancelling after the current step..."

    def _on_yield(self, msg) -> None:
        kind = msg[0]
        self.status.value = {
            "simulate": lambda: f"simulating {msg[2]} ({msg[1] + 1})",
            "render": lambda: f"rendering through a PSF of {msg[1]:g} px",
            "train": lambda: "training the CNN..."}[kind]()
        worker = self.worker
        if worker is not None and worker.progress is not None:
            worker.progress.set_description(self.status.value)
            if msg[:2] != ("simulate", 0):
                worker.progress.update(1)

    def _on_returned(self, clf) -> None:
        self.model = clf
        from ..output.messages import chance_message
        acc = (clf.validation_scores_[clf.training_info_.get("kept_epoch", 0) - 1]
               if clf.validation_scores_ else float("nan"))
        warning = chance_message(acc, len(clf.classes_))
        self.status.value = f"saved {self.out.value}: validation accuracy {acc:.2%}" + (
            f". Warning: {warning}" if warning else "")
        (show_warning if warning else show_info)(self.status.value)

    def _on_finished(self) -> None:
        self.worker = None
        self.cancel_button.enabled = False
        if self.__dict__.pop("_cancelled", False) and self.model is None:
            self.status.value = f"cancelled; no model written ({self.out.value} unchanged)"
