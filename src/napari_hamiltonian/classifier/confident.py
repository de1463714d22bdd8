"""The confidence of a fitted classifier: the rejection's three window states
("confidently one of the classes", "none of these", "cannot tell at this resolution"),
the paper's k-sigma rule beside it, the safety net for a model that cannot classify, and
the calibration of the rejection without retraining the network (a mixin of
:class:`~napari_hamiltonian.classifier.estimator.HamiltonianClassifier`)."""

from __future__ import annotations


import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
)

from ..classes import reliable_accuracy
from ..imaging.binary import binarised
from .correlations import pattern_statistics

#: Precisions of the weights in a model file (:class:`HamiltonianClassifier` ``storage``).
STORAGE = ("float32", "float16")
from .cnn import train_validation_split


class ConfidenceMixin:
    """Confidence methods of :class:`HamiltonianClassifier` (which provides the network
    outputs, the pattern statistics and the fitted attributes they read)."""

    def calibrate_rejection(self, X, y, families=None, calibration_fraction: float = 0.5,
                            random_state=None) -> ConfidenceMixin:
        """Fit the rejection anew (:mod:`napari_hamiltonian.classifier.rejection`), the network
        unchanged: from images of the classes and of none of them, e.g. rendered through
        the instrument the model is for.

        The images of the classes are split (stratified): one part fits the class
        models of the pattern statistics and, against half of the images of none of
        the classes, the probe; the other (``calibration_fraction``) sets the
        thresholds to reject ``false_rejection`` of them. The other half of the images
        of none of the classes sets the "cannot tell at this resolution" thresholds
        (:meth:`Rejection.calibrate_cannot_tell`), family by family.

        Parameters
        ----------
        X : array-like, shape (N, w, w)
            Images as :meth:`fit` takes them.
        y : array-like of str, shape (N,)
            Class labels from ``classes_``, or ``outlier_label`` for images of none of
            them (at least one image of each class and some of none are needed).
        families : array-like of str, shape (N,), optional
            The family (category) of each image of none of the classes; each family is
            kept below the share of
            :data:`.rejection.CANNOT_TELL_SHARE` on its own. Default: one family.
        calibration_fraction : float
            Share of the images of the classes that calibrate the thresholds.
        random_state : int, RandomState or None
            Seeds the splits, the mixtures and the probe.

        Returns
        -------
        self
        """
        from .rejection import Rejection

        check_is_fitted(self)
        images = self._images(X, reset=False)
        y = np.asarray(y).astype(str)
        check_consistent_length(images, y)
        families = np.full(len(y), "none") if families is None \
            else np.asarray(families).astype(str)
        check_consistent_length(images, families)
        outlier = y == str(self.outlier_label)
        unknown = np.setdiff1d(y[~outlier], self.classes_.astype(str))
        if len(unknown):
            raise ValueError(f"y holds labels that are not classes of this model: "
                             f"{unknown.tolist()}; classes: {self.classes_.tolist()}, "
                             f"images of none of them: {self.outlier_label!r}")
        yi = np.full(len(y), -1, np.int64)
        yi[~outlier] = np.searchsorted(self.classes_.astype(str), y[~outlier])
        if len(np.unique(yi[~outlier])) < len(self.classes_) or outlier.sum() < 2:
            raise ValueError("calibrating the rejection needs images of every class and at "
                             f"least two of none of them ({self.outlier_label!r})")
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        gen = np.random.default_rng(seed)
        fit_in, cal_in = train_validation_split(np.where(outlier, -1, yi)[~outlier],
                                                calibration_fraction, gen)
        inside = np.flatnonzero(~outlier)
        fit_in, cal_in = inside[fit_in], inside[cal_in]
        codes = np.unique(families[outlier], return_inverse=True)[1]
        probe_out, cannot_out = train_validation_split(codes, 0.5, gen)
        probe_out, cannot_out = np.flatnonzero(outlier)[probe_out], \
            np.flatnonzero(outlier)[cannot_out]
        data = self._reduced(images)
        b = binarised(images)

        def outputs(idx):
            z, h = self._network_outputs(data[idx], hidden=True)
            return z, h, pattern_statistics(b[idx])

        _, h_fit, st_fit = outputs(fit_in)
        _, h_cal, st_cal = outputs(cal_in)
        _, h_probe, st_probe = outputs(probe_out)
        self.rejection_ = Rejection.fit(h_fit, st_fit, yi[fit_in], len(self.classes_),
                                        (h_cal, st_cal), self.false_rejection,
                                        outliers=(h_probe, st_probe), seed=seed)
        set_cannot_tell(self.rejection_, self.classes_, *outputs(cannot_out),
                         families[cannot_out])
        self.training_info_ = {**getattr(self, "training_info_", {}),
                               "rejection_calibration": {
                                   "n_classes_fit": int(len(fit_in)),
                                   "n_classes_calibration": int(len(cal_in)),
                                   "n_none_probe": int(len(probe_out)),
                                   "n_none_cannot_tell": int(len(cannot_out)),
                                   "families": sorted(set(families[outlier].tolist())),
                                   "seed": seed}}
        return self

    def calibrate_cannot_tell(self, X, families) -> ConfidenceMixin:
        """Set the "cannot tell at this resolution" thresholds of the rejection from
        images of none of the classes, family by family
        (:meth:`~napari_hamiltonian.classifier.rejection.Rejection.calibrate_cannot_tell`); the
        rest of the rejection and the network are unchanged.

        Parameters
        ----------
        X : array-like, shape (N, w, w)
            Images of none of the classes, as :meth:`fit` takes images.
        families : array-like of str, shape (N,)
            The family (category) of each.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        if getattr(self, "rejection_", None) is None:
            raise ValueError("this model has no rejection rule (a model file of an earlier "
                             "version): fit it, or calibrate_rejection")
        families = np.asarray(families).astype(str)
        check_consistent_length(np.asarray(X), families)
        set_cannot_tell(self.rejection_, self.classes_, *self.rejection_inputs(X), families)
        return self

    def rejection_inputs(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the decision reads, from one pass of the network: last-layer values
        (N, n_classes), the first dense layer's output after ReLU (N, hidden) and the
        pattern statistics (N, n_statistics, :mod:`napari_hamiltonian.classifier.correlations`)."""
        b, data = self._prepare(X)
        logits, hidden = self._network_outputs(data, hidden=True)
        return logits, hidden, pattern_statistics(b)

    def rejection_scores(self, X) -> np.ndarray:
        """(N, 2) scores of the rejection (:mod:`napari_hamiltonian.classifier.rejection`):
        negative log-likelihood of the pattern statistics under the likeliest class,
        probability of "none of these"; NaN for a model file without a rejection rule."""
        _, h, st = self.rejection_inputs(X)
        return self.rejection_scores_of(h, st)

    def rejection_scores_of(self, hidden: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """:meth:`rejection_scores` of features and statistics already computed."""
        check_is_fitted(self)
        if getattr(self, "rejection_", None) is None:
            from .rejection import SCORES
            return np.full((len(hidden), len(SCORES)), np.nan)
        return self.rejection_.scores(hidden, statistics)

    def decide(self, scores: np.ndarray, distance: np.ndarray, predicted) -> np.ndarray:
        """The decision on each image or window: the one place that makes it.

        Parameters
        ----------
        scores : ndarray, shape (..., 2)
            From :meth:`rejection_scores`.
        distance : ndarray, shape (...)
            From :meth:`confidence_distance`; decides alone (the paper's rule) for a
            model file that has no rejection rule (written before it existed).
        predicted : ndarray of str, shape (...)
            The predicted class names (from ``classes_``).

        Returns
        -------
        ndarray of int8, shape (...)
            ``rejection.ACCEPTED`` (confidently the predicted class),
            ``rejection.REJECTED`` ("none of these") or ``rejection.CANNOT_TELL``
            ("cannot tell at this resolution": accepted, but the class is one this
            model's resolution cannot tell from patterns none of the seven draws;
            :mod:`napari_hamiltonian.classifier.rejection`). Everything is rejected by a model
            that cannot classify (:meth:`unreliable`).
        """
        from .rejection import ACCEPTED, REJECTED

        check_is_fitted(self)
        distance = np.asarray(distance)
        if self.unreliable() is not None:
            return np.full(distance.shape, REJECTED, np.int8)
        if getattr(self, "rejection_", None) is None:
            return np.where(self.paper_confident(distance), ACCEPTED, REJECTED
                            ).astype(np.int8)
        index = np.searchsorted(self.classes_, np.asarray(predicted))
        return self.rejection_.decide(scores, np.minimum(index, len(self.classes_) - 1))

    def accepts(self, scores: np.ndarray, distance: np.ndarray, predicted) -> np.ndarray:
        """Bool, shape of ``distance``: :meth:`decide` says "confidently one of the
        classes"."""
        from .rejection import ACCEPTED

        return self.decide(scores, distance, predicted) == ACCEPTED

    def unreliable(self) -> str | None:
        """Why this model must not certify any image, or None.

        A model whose validation accuracy (of the epoch kept) is not at least halfway
        from chance (``1 / n_classes``) to perfect cannot classify: its rejection would
        still accept most images of the classes it was calibrated on, so it would mark
        wrong answers confident. Every image is then "none of these"
        (:meth:`decide`), and the front ends say why.
        """
        check_is_fitted(self)
        scores = getattr(self, "validation_scores_", None) or []
        if not scores:
            return None
        n = len(self.classes_)
        best = max(scores) if self.keep_best_epoch else scores[-1]
        needed = reliable_accuracy(n)
        if best >= needed:
            return None
        return (f"this model's validation accuracy is {best:.0%}, less than halfway from "
                f"chance ({1 / n:.0%}) to perfect ({needed:.0%} needed): it cannot tell "
                "the classes apart, so no window is marked confident. Train it longer or "
                "on more images, or use a shipped model (load_pretrained)")

    def confident_of(self, logits: np.ndarray, hidden: np.ndarray,
                     statistics: np.ndarray) -> np.ndarray:
        """:meth:`score_confidence` of :meth:`rejection_inputs` already computed."""
        logits = np.asarray(logits)
        return self.accepts(self.rejection_scores_of(hidden, statistics),
                            self.distance_of_logits(logits),
                            self.classes_[logits[..., :len(self.classes_)].argmax(-1)])

    def confidence_distance(self, X) -> np.ndarray:
        """Distance of each image's last-layer point to the nearest training point of its
        predicted class, in units of that class's ``|sigma_c|``, (N,) float: the paper's
        k-sigma rule, ``paper_confident(confidence_distance(X))``."""
        return self.distance_of_logits(self.logits(X))

    def distance_of_logits(self, logits: np.ndarray) -> np.ndarray:
        """:meth:`confidence_distance` of last-layer values already computed.

        Parameters
        ----------
        logits : ndarray, shape (N, n_classes)
            Columns in ``classes_`` order; the prediction is their argmax.
        """
        check_is_fitted(self)
        z = np.asarray(logits)[..., :len(self.classes_)]
        return self.clusters_.distance(z, z.argmax(-1))

    def paper_confident(self, distance: np.ndarray) -> np.ndarray:
        """The paper's k-sigma decision for distances from :meth:`distance_of_logits`
        (the "nearest point" reading): ``distance <= confidence_k``."""
        return np.asarray(distance) <= self.confidence_k

    def paper_confidence(self, X, reading: str = "nearest") -> np.ndarray:
        """(N,) bool: the paper's k-sigma rule, in one of its three readings.

        ``"nearest"``: within ``k |sigma_c|`` (Euclidean) of at least one training point
        of the predicted class c; ``"box"``: every component within ``k sigma_c,i`` of
        the centre of cluster c; ``"ellipsoid"``: ``sum_i ((z_i - mu_c,i) / sigma_c,i)^2
        <= k^2``. See :mod:`napari_hamiltonian.classifier.confidence`.
        """
        z = self.logits(X)
        if reading == "nearest":
            return self.paper_confident(self.distance_of_logits(z))
        return self.clusters_.within(z, z.argmax(1), self.confidence_k, reading)

    def score_confidence(self, X) -> np.ndarray:
        """(N,) bool: True where the image is confidently one of the classes.

        This is the rejection of :mod:`napari_hamiltonian.classifier.rejection` (the likelihood
        of the image's pattern statistics under the classes, and a learned probability
        of "none of these", both within thresholds calibrated on held-out images of the
        classes); False means "none of these" or "cannot tell at this resolution"
        (:meth:`decide` tells them apart).
        The paper's k-sigma rule is :meth:`paper_confidence`. For a model file without
        a rejection rule, the paper's rule decides.
        """
        return self.confident_of(*self.rejection_inputs(X))


def set_cannot_tell(rejection, classes, logits, hidden, statistics, families) -> None:
    """Calibrate ``rejection``'s "cannot tell" thresholds on images of none of the
    classes (their network outputs and pattern statistics, and their families); the
    classes near criticality are :data:`napari_hamiltonian.classes.CRITICAL_CLASSES`
    (every class, for a model of other classes than the seven)."""
    from ..classes import CLASSES, CRITICAL_CLASSES

    names = [str(c) for c in classes]
    critical = (np.array([c in CRITICAL_CLASSES for c in names])
                if set(names) == set(CLASSES) else np.ones(len(names), bool))
    rejection.calibrate_cannot_tell(rejection.scores(hidden, statistics),
                                    np.asarray(logits).argmax(1), families, critical)
