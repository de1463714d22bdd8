"""The *Generate training data and train* dock widget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import Container, FileEdit, Label, PushButton, SpinBox
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..classes import CLASSES
from . import _status
from ._worker import GeneratorRun


def _generate_and_train(n_per_class, seed, epochs, hidden_units, out):
    """Worker body: simulate class by class, train, save; yields progress messages."""
    from ..estimator import HamiltonianClassifier
    from ..simulate.dataset import make_dataset

    xs, ys = [], []
    for k, c in enumerate(CLASSES):
        yield ("simulate", k, c)
        X, y, _ = make_dataset(n_per_class, seed=seed, classes=[c], progress=False)
        xs.append(X)
        ys.append(y)
    yield ("train", len(CLASSES), "training")
    clf = HamiltonianClassifier(epochs=epochs, hidden_units=hidden_units, random_state=seed)
    clf.fit(np.concatenate(xs), np.concatenate(ys))
    clf.save(out)
    return clf


class TrainWidget(QWidget):
    """Simulate a training set with the seven generators and train a model file on it."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.n_per_class = SpinBox(label="images per class", min=10, max=100000, value=1000)
        self.seed = SpinBox(label="seed", min=0, max=2**31 - 1, value=0)
        self.epochs = SpinBox(label="epochs", min=1, max=100, value=4)
        self.hidden = SpinBox(label="hidden units", min=4, max=4096, value=128)
        self.out = FileEdit(label="model file", mode="w", filter="*.safetensors",
                            value=str(Path.home() / "hamiltonian-model.safetensors"))
        self.go = PushButton(text="Generate and train")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(value="P* gets twice the images per class. The model file "
                            "can then be chosen in Classify Hamiltonian.")
        self.controls = Container(widgets=[self.n_per_class, self.seed, self.epochs,
                                           self.hidden, self.out, self.go,
                                           self.cancel_button, self.status])
        QVBoxLayout(self).addWidget(self.controls.native)
        self.worker = None
        self.model = None
        self.go.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)

    def _error(self, message: str) -> None:
        _status.show_problem(self.status, message)

    def start(self) -> None:
        """Start simulating and training in a background thread."""
        if self.worker is not None:
            show_info("training is already running")
            return
        out = Path(self.out.value)
        if out.suffix != ".safetensors" or not out.parent.is_dir():
            self._error(f"model file {out} must end in .safetensors, in an existing folder")
            return
        self.worker = GeneratorRun(
            _generate_and_train, (int(self.n_per_class.value), int(self.seed.value),
                                  int(self.epochs.value), int(self.hidden.value), out),
            total=len(CLASSES) + 1, desc="simulating", on_yield=self._on_yield,
            on_return=self._on_returned,
            on_error=lambda err: self._error(f"training failed: {err}"),
            on_finish=self._on_finished)
        self.cancel_button.enabled = True
        self.worker.start()

    def cancel(self) -> None:
        """Stop after the current class (training itself runs to its end)."""
        if self.worker is not None:
            self.worker.quit()
            self.status.value = "cancelling after the current step..."

    def _on_yield(self, msg) -> None:
        kind, k, what = msg
        self.status.value = (f"simulating {what} ({k + 1}/{len(CLASSES)})"
                             if kind == "simulate" else "training the CNN...")
        if self.worker is not None:
            self.worker.progress.set_description(self.status.value)
            if k:
                self.worker.progress.update(1)

    def _on_returned(self, clf) -> None:
        self.model = clf
        from ..report import chance_message

        acc = (clf.validation_scores_[clf.training_info_.get("kept_epoch", 0) - 1]
               if clf.validation_scores_ else float("nan"))
        warning = chance_message(acc, len(clf.classes_))
        self.status.value = f"saved {self.out.value}: validation accuracy {acc:.2%}" + (
            f". Warning: {warning}" if warning else "")
        (show_warning if warning else show_info)(self.status.value)

    def _on_finished(self) -> None:
        self.worker = None
        self.cancel_button.enabled = False
