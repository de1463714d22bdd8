"""``HamiltonianClassifier``: the CNN of Basak et al. as a scikit-learn classifier."""

from __future__ import annotations

import math
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
)

from ..classes import confusion_groups
from ..imaging.binary import as_binary, as_grey, binarised
from ..shipped import INPUT_KINDS
from . import cnn
from .cnn import train_validation_split
from .images import check_numbers, square_images
from .confidence import TrainingClusters
from .confident import ConfidenceMixin, set_cannot_tell
from .correlations import pattern_statistics
from .defaults import TRAINING
from .device import resolve_device
from .modelfile import package_version
from .symmetry import reduce_grey, symmetry_reduce

#: Precisions of the weights in a model file (:class:`HamiltonianClassifier` ``storage``).
STORAGE = ("float32", "float16")


class HamiltonianClassifier(ConfidenceMixin, ClassifierMixin, BaseEstimator):
    """CNN classifier of domain images by the Hamiltonian that drew them.

    Every image is symmetry reduced (:func:`napari_hamiltonian.symmetry_reduce`) before it
    reaches the network, in ``fit`` and in every prediction, so users pass raw images.

    Parameters
    ----------
    hidden_units : int, default=128
        Width of the first dense layer.
    epochs : int, default=4
        Passes over the training split (the paper stops at 4).
    batch_size : int, default=32
        Images per Adam step.
    learning_rate : float, default=1e-3
        Adam step size.
    validation_fraction : float, default=0.2
        Share of the images held out (stratified by class) to measure the validation
        accuracy after each epoch; 0 trains on everything.
    symmetry_reduction : bool, default=True
        Reduce every image to its Z2 x D4 canonical form first (the paper's method).
    augmentation : bool, default=False
        Instead show every training image under one of the 16 symmetry operations drawn
        at random anew each epoch (the 16-fold augmentation the paper compares against).
        Usually combined with ``symmetry_reduction=False``.
    confidence_k : float, default=1.0
        k of the paper's k-sigma rule (:mod:`napari_hamiltonian.classifier.confidence`), reported
        beside the rejection.
    outlier_label : str, int or None, default="none"
        Images with this label are "none of these" examples, not a class: training
        pushes their last-layer values towards equal probabilities (outlier exposure),
        and the rejection learns from their features. None: every label is a class.
    false_rejection : float, default=0.02
        Share of held-out images of the classes that the rejection
        (:mod:`napari_hamiltonian.classifier.rejection`) is calibrated to reject.
    psf_sigma : float, default=0.0
        Resolution of the images the model is for: the Gaussian standard deviation
        (pixels) of the point-spread function of the micrographs it was trained on, 0
        for lattice-scale images. A record, not a transformation: render the training
        images first (:func:`napari_hamiltonian.imaging.optics.render_training_set`, as
        ``napari-hamiltonian train --psf-sigma`` does); :func:`load_pretrained` selects
        shipped models by it.
    input_kind : {"binary", "grey"}, default="binary"
        What the images are. "binary": bool, 0/1 or -1/+1 domain images (the paper's
        input). "grey": micrographs in phase units, ``(intensity - insulator) / (metal -
        insulator)``, so insulator reads 0 and metal 1 and blur and noise give any real
        value; the network reads ``2 g - 1``, the symmetry reduction and the rejection's
        pattern statistics read the binarisation ``g > 1/2`` (the physical threshold).
        At a point-spread function of a few pixels the grey levels keep what a threshold
        erases (the model cards measure how much);
        :func:`napari_hamiltonian.classify_image` takes the two intensities as
        ``levels``.
    storage : {"float32", "float16"}, default="float32"
        Precision of the weights in the model file. With "float16" the trained weights
        are rounded to it before the rejection and the paper's clusters are computed, so
        the saved model is the one evaluated (the file is half the size).
    keep_best_epoch : bool, default=True
        Keep the weights of the epoch whose validation accuracy is the best (the latest
        of equals) instead of those after the last epoch; ignored without a validation
        split. The paper trains 4 epochs; an epoch can end on a worse state than the one
        before (measured: 99.8 % then 98.1 %).
    device : str, default="auto"
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    random_state : int, RandomState or None, default=None
        Seeds the split, shuffling, initialisation and dropout. With an int, ``fit`` gives
        the same model every time on CPU.
    verbose : int, default=0
        1 shows a progress bar and one line per epoch.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels, sorted; column order of ``predict_proba`` and ``decision_function``.
    n_features_in_ : int
        Pixels per image (``window_ ** 2``).
    window_ : int
        Side of the square images the network takes (pixels).
    model_ : HamiltonianCNN
        The trained torch module, in eval mode.
    clusters_ : TrainingClusters
        Last-layer points of the training split by true class (the paper's rule).
    rejection_ : Rejection
        The calibrated rejection rule behind :meth:`score_confidence`.
    validation_scores_ : list of float
        Validation accuracy after each epoch (empty if ``validation_fraction == 0``).
    validation_confusion_ : ndarray of int, shape (n_classes, n_classes)
        Confusion matrix of the validation split after the last epoch: rows true class,
        columns predicted class, both in ``classes_`` order.
    class_groups_ : list of tuple of str
        Classes the model cannot tell apart on its validation images
        (:func:`napari_hamiltonian.classes.confusion_groups`); outputs name the group
        ("P-2D or P*") instead of guessing. Empty when every class is separable.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    training_scores_ : list of float
        Accuracy on the training batches of each epoch (Fig. 5 of the paper).
    n_iter_ : int
        Epochs run.
    training_info_ : dict
        Sizes of the splits, training time (s), throughput (images/s) and versions.
    """

    def __init__(self, hidden_units: int = TRAINING["hidden_units"],
                 epochs: int = TRAINING["epochs"], batch_size: int = TRAINING["batch_size"],
                 learning_rate: float = TRAINING["learning_rate"],
                 validation_fraction: float = TRAINING["validation_fraction"],
                 symmetry_reduction: bool = TRAINING["symmetry_reduction"],
                 augmentation: bool = TRAINING["augmentation"],
                 confidence_k: float = 1.0, outlier_label="none",
                 false_rejection: float = 0.02, psf_sigma: float = 0.0,
                 input_kind: str = "binary", storage: str = TRAINING["storage"],
                 keep_best_epoch: bool = True,
                 device: str = "auto",
                 random_state=None, verbose: int = 0):
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.symmetry_reduction = symmetry_reduction
        self.augmentation = augmentation
        self.confidence_k = confidence_k
        self.outlier_label = outlier_label
        self.false_rejection = false_rejection
        self.psf_sigma = psf_sigma
        self.input_kind = input_kind
        self.storage = storage
        self.keep_best_epoch = keep_best_epoch
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.classifier_tags.poor_score = True
        # CUDA convolutions are not bit-reproducible; CPU training is.
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        checks = [
            ("hidden_units", self.hidden_units, Integral, lambda v: v >= 1, ">= 1"),
            ("epochs", self.epochs, Integral, lambda v: v >= 1, ">= 1"),
            ("batch_size", self.batch_size, Integral, lambda v: v >= 1, ">= 1"),
            ("learning_rate", self.learning_rate, Real, lambda v: 0 < v < math.inf,
             "> 0 and finite"),
            ("validation_fraction", self.validation_fraction, Real,
             lambda v: 0 <= v < 1, "in [0, 1)"),
            ("confidence_k", self.confidence_k, Real, lambda v: v >= 0, ">= 0"),
            ("false_rejection", self.false_rejection, Real, lambda v: 0 < v < 1,
             "in (0, 1)"),
            ("psf_sigma", self.psf_sigma, Real, lambda v: 0 <= v < math.inf,
             ">= 0 and finite"),
        ]
        check_numbers(checks)
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got "
                             f"{self.input_kind!r}")
        if self.storage not in STORAGE:
            raise ValueError(f"storage must be one of {STORAGE}, got {self.storage!r}")
        if self.augmentation and self.symmetry_reduction:
            # predictions see reduced images only; augmenting reduced images would train
            # on orientations the network never meets
            raise ValueError("augmentation=True needs symmetry_reduction=False (the two are "
                             "alternatives: reduce every image, or augment the raw ones)")

    def _images(self, X, reset: bool) -> np.ndarray:
        """Validate X into images of shape (N, w, w): uint8 0/1, or float32 phase units
        for ``input_kind="grey"``."""
        arr, side = square_images(self, X, reset)
        if reset:
            try:
                cnn.feature_side(side)
            except ValueError as err:
                raise ValueError(f"X has {arr.shape[1]} feature(s) (pixels) per image: "
                                 f"{err}") from None
        if self.input_kind == "grey":
            return as_grey(arr, "X").reshape(len(arr), side, side)
        binary, _ = as_binary(arr, "X")
        return binary.reshape(len(arr), side, side)

    def _reduced(self, images: np.ndarray) -> np.ndarray:
        """What the network reads of validated images: reduced if ``symmetry_reduction``."""
        if not self.symmetry_reduction:
            return images
        return reduce_grey(images) if self.input_kind == "grey" else symmetry_reduce(images)

    def _prepare(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The validated images' binarisation, uint8 0/1 (N, w, w), and what the network
        reads."""
        check_is_fitted(self)
        images = self._images(X, reset=False)
        return binarised(images), self._reduced(images)

    def _network_outputs(self, data: np.ndarray, hidden: bool = False):
        return cnn.predict_logits(self.model_, data, next(self.model_.parameters()).device,
                                  hidden=hidden)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train the CNN on images.

        Parameters
        ----------
        X : array-like, shape (N, w, w) or (N, w*w)
            Binary images (bool, 0/1 or -1/+1), or grey images in phase units for
            ``input_kind="grey"``; ``w`` a multiple of 4, >= 16 (the paper uses 100).
        y : array-like, shape (N,)
            Class labels, e.g. names from ``napari_hamiltonian.CLASSES``.

        Returns
        -------
        self
        """
        self._check_params()
        device = resolve_device(self.device)
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None: give one "
                             "class label per image")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be one label per image (N,), got shape {y.shape}")
        check_classification_targets(y)
        outlier = (y == self.outlier_label) if self.outlier_label is not None \
            else np.zeros(len(y), bool)
        classes, index = np.unique(y[~outlier], return_inverse=True)
        yi = np.full(len(y), -1, np.int64)  # -1: an image of none of the classes
        yi[~outlier] = index
        if len(classes) == 0:
            raise ValueError("y is empty (0 samples); pass one label per image")
        if len(classes) < 2:
            raise ValueError(f"y has one class ({classes[0]!r}); training needs images "
                             "of at least two classes")
        had = getattr(self, "n_features_in_", None)
        try:
            return self._fit(X, y, yi, classes, device)
        except BaseException:
            # a failed fit leaves the instance as it was (validate_data set this first)
            if had is None:
                self.__dict__.pop("n_features_in_", None)
            else:
                self.n_features_in_ = had
            raise

    def _fit(self, X, y, yi, classes, device):
        images = self._images(X, reset=True)
        check_consistent_length(images, y)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        gen = np.random.default_rng(seed)
        train_idx, val_idx = train_validation_split(yi, self.validation_fraction, gen)
        val_in = val_idx[yi[val_idx] >= 0]
        data = self._reduced(images)
        window = images.shape[1]
        fork = [device.index or 0] if device.type == "cuda" else []
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm
            progress = tqdm(total=self.epochs * len(train_idx), unit="img", desc="training")
        t0 = time.perf_counter()
        try:
            with torch.random.fork_rng(devices=fork):
                torch.manual_seed(seed)
                model = cnn.HamiltonianCNN(window, self.hidden_units, len(classes))
                model = model.to(device, memory_format=torch.channels_last)
                history, val_pred = cnn.train(
                    model, data[train_idx], yi[train_idx], epochs=self.epochs,
                    batch_size=self.batch_size, learning_rate=self.learning_rate, rng=gen,
                    device=device, augmentation=self.augmentation,
                    X_val=data[val_in], y_val=yi[val_in], progress=progress,
                    callback=self._report if self.verbose else None,
                    keep_best=self.keep_best_epoch)
        finally:
            if progress is not None:
                progress.close()
        seconds = time.perf_counter() - t0
        if self.storage == "float16":
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(p.half().float())
        train_in = train_idx[yi[train_idx] >= 0]
        train_logits, train_hidden = cnn.predict_logits(model, data[train_in], device,
                                                        hidden=True)
        # calibrated on held-out images of the classes (on the training split if none)
        calibration = val_in if len(val_in) else train_in
        val_logits, val_hidden = (cnn.predict_logits(model, data[val_in], device, hidden=True)
                                  if len(val_in) else (train_logits, train_hidden))
        if self.storage == "float16" and len(val_in):  # the rounded network's confusion
            val_pred = val_logits.argmax(1)
        train_out = train_idx[yi[train_idx] < 0]
        outliers = (cnn.predict_logits(model, data[train_out], device, hidden=True)[1],
                    pattern_statistics(binarised(data[train_out]))) if len(train_out) else None
        from .rejection import Rejection  # noqa: PLC0415 - the rule is read after training
        rejection = Rejection.fit(train_hidden, pattern_statistics(binarised(data[train_in])),
                                  yi[train_in], len(classes),
                                  (val_hidden, pattern_statistics(binarised(data[calibration]))),
                                  self.false_rejection, outliers=outliers, seed=seed)
        val_out = val_idx[yi[val_idx] < 0]
        if len(val_out) and outliers is not None:  # held-out outliers: "cannot tell"
            set_cannot_tell(rejection, classes,
                             *cnn.predict_logits(model, data[val_out], device, hidden=True),
                             pattern_statistics(binarised(data[val_out])),
                             np.zeros(len(val_out), int))
        # fitted attributes only now that training succeeded
        self.classes_ = classes
        self.window_ = window
        self.model_ = model
        self.clusters_ = TrainingClusters.from_logits(train_logits, yi[train_in],
                                                      len(classes))
        self.rejection_ = rejection
        self.validation_scores_ = [h["val_accuracy"] for h in history
                                   if h["val_accuracy"] is not None]
        self.loss_curve_ = [h["loss"] for h in history]
        self.training_scores_ = [h["train_accuracy"] for h in history]
        self.n_iter_ = self.epochs
        n = len(classes)
        self.validation_confusion_ = (
            np.bincount(yi[val_in] * n + val_pred, minlength=n * n).reshape(n, n)
            if val_pred is not None else np.zeros((n, n), np.int64))
        self.class_groups_ = confusion_groups(self.validation_confusion_,
                                              [str(c) for c in classes])
        train_seconds = history[-1]["seconds"] if history else 0.0
        self.training_info_ = {
            "n_train": int(len(train_in)), "n_validation": int(len(val_in)),
            "n_outliers_train": int(len(train_idx) - len(train_in)),
            "n_outliers_validation": int(len(val_idx) - len(val_in)),
            "seed": seed, "seconds_total": round(seconds, 2),
            "kept_epoch": next((h["epoch"] for h in history if h.get("kept")),
                               history[-1]["epoch"] if history else 0),
            "seconds_training_steps": round(train_seconds, 2),
            "images_per_second": round(self.epochs * len(train_idx)
                                       / max(train_seconds, 1e-9), 1),
            "torch_threads": torch.get_num_threads(), "device": str(device),
            "torch_version": torch.__version__, "package_version": package_version(),
        }
        return self

    def _report(self, rec: dict) -> None:
        acc = rec["val_accuracy"]
        print(f"epoch {rec['epoch']}: loss {rec['loss']:.4f}"
              + (f", validation accuracy {acc:.4%}" if acc is not None else ""), flush=True)

    # ------------------------------------------------------------------ prediction
    def logits(self, X) -> np.ndarray:
        """Last-layer values (before softmax) of each image, whatever the number of
        classes.

        Returns
        -------
        ndarray, float32, shape (N, n_classes)
            Columns in ``classes_`` order.
        """
        return self._network_outputs(self._prepare(X)[1])

    def decision_function(self, X) -> np.ndarray:
        """Last-layer values (before softmax).

        Returns
        -------
        ndarray, float32
            (N, n_classes), columns in ``classes_`` order; for two classes scikit-learn's
            convention (N,) of ``logit[:, 1] - logit[:, 0]``.
        """
        z = self.logits(X)
        return z[:, 1] - z[:, 0] if len(self.classes_) == 2 else z

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the last layer, (N, n_classes), columns in ``classes_`` order."""
        z = self.logits(X).astype(np.float64)
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class label of each image, (N,), from ``classes_``."""
        z = self.logits(X)
        return self.classes_[z.argmax(1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on (X, y). Labels the classifier never saw raise a ValueError."""
        check_is_fitted(self)
        unknown = np.setdiff1d(np.unique(np.asarray(y)), self.classes_)
        if len(unknown):
            raise ValueError(f"y contains labels the classifier was not trained on: "
                             f"{unknown.tolist()}; known classes: {self.classes_.tolist()}")
        return super().score(X, y, sample_weight)

    # ------------------------------------------------------------------ files
    def save(self, path, overwrite: bool = True) -> Path:
        """Write the fitted model to one safetensors file, atomically.

        Weights and training-cluster points are tensors; everything else (classes,
        architecture, parameters, training record, package version) is JSON in the
        file's header. Nothing is pickled. See :mod:`napari_hamiltonian.classifier.modelfile`.
        """
        check_is_fitted(self)
        from .modelfile import save_model
        return save_model(self, path, overwrite)

    @classmethod
    def load(cls, path, device: str = "auto", verify: bool = True
             ) -> HamiltonianClassifier:
        """Read a model written by :meth:`save`. Never unpickles anything.

        Everything that decides an answer (weights, classes, parameters) is checked
        against the file's content hash; ``verify=False`` loads an old (format 1) file
        that has none, for a user who trusts it.

        Raises
        ------
        ValueError
            If the file is not a napari-hamiltonian safetensors model (a pickle or torch
            file, say), is damaged or edited, or comes from an incompatible version.
        """
        from .modelfile import load_model
        return load_model(cls, path, device, verify)
