"""Saying "none of these": the rejection that decides whether an image is one of the classes.

The paper's k-sigma rule (:mod:`napari_hamiltonian.classifier.confidence`) accepts nearly every
image, in any of its readings: ordered Ising, thresholded noise and blurred micrographs
land within k |sigma_c| of some training point. This rule uses two scores, each
calibrated on held-out images of the classes:

1. **Pattern statistics** (needs no example of what to reject): the image's two-point
   statistics (:mod:`napari_hamiltonian.classifier.correlations`: magnetisation, connected
   correlations along axes and diagonals, anisotropy, plaquette), standardised, are
   modelled per class by a Gaussian mixture (``COMPONENTS`` full-covariance components,
   scikit-learn's ``GaussianMixture``, covariances regularised by ``max(1e-4, d / (10
   n_c))`` for ``d`` statistics and ``n_c`` images) fitted on the training images of
   that class; the
   score is ``-max_c log p_c(statistics)``, the negative log-likelihood under the most
   likely class. The Table I models are narrow bands in these statistics; blurred
   micrographs (too smooth at one pixel), stripes (anisotropic), hot or ordered Ising
   (wrong correlations for their density) fall outside every band.
2. **Probability of "none of these"** from a small network (one hidden layer of 64
   ReLU units, logistic output; scikit-learn's ``MLPClassifier``) that reads the
   standardised features ``h`` of the CNN (the first dense layer's output after ReLU),
   the standardised statistics and the per-class log-likelihoods of score 1, trained on
   the training split's images of the classes against its images of none of them
   (``simulate/outliers.py``). Those images also train the CNN itself towards equal
   probabilities of all classes (outlier exposure, Hendrycks et al., ICLR 2019). 0 for
   a model trained without such images.

An image is **accepted** (confidently one of the classes) when both scores are at most
their thresholds, the ``1 - false_rejection / 2`` quantiles of the scores of the
validation split (images of the classes the network did not train on), so about
``false_rejection`` of such images are rejected.

**Cannot tell at this resolution.** Blur erases what separates some classes from
patterns none of the seven draws (a blurred random-field sweep from a level set of
smoothed noise, say). Where the model was calibrated against such patterns rendered
through its own instrument (:meth:`Rejection.calibrate_cannot_tell`), each class near
criticality ``c`` has a third threshold ``cannot_tell[c]`` on the probability of "none
of these": the largest at which held-out images of every pattern family are named
``c`` (accepted by both scores) at most ``CANNOT_TELL_SHARE x (share of the family's
accepted critical images predicted c)`` of the time, so that no family is named a
critical class in more than :data:`CANNOT_TELL_SHARE` of its images. A window that both
scores accept, predicted ``c``, with a probability above ``cannot_tell[c]``, is
"cannot tell at this resolution" (:data:`CANNOT_TELL`), neither a class nor "none of
these". P* (the paper's "not near criticality") has no such threshold: naming a
pattern P* claims no critical Hamiltonian.

The decision of one window (:meth:`Rejection.decide`) is one of :data:`REJECTED`,
:data:`ACCEPTED`, :data:`CANNOT_TELL`.

Measured on independent data (``benchmarks/eval_rejection.py``, figures in the model
card): the CNN-feature scores tried first (a Mahalanobis distance of ``h`` with a
tied covariance, Lee et al. 2018, and the energy of the logits, Liu et al. 2020)
rejected 57 % of hot 2D Ising images and 71 % of images blurred by a 1-pixel
point-spread function; they are not kept.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

#: Names of the scores, in column order.
SCORES = ("pattern statistics", "none probability")
#: Gaussian components per class in the statistics model.
COMPONENTS = 2
#: Floor of the per-class log-likelihoods the probe reads (keeps far outliers finite).
LOG_LIKELIHOOD_FLOOR = -200.0
#: Decisions of :meth:`Rejection.decide`: "none of these", confidently the predicted
#: class, "cannot tell at this resolution".
REJECTED, ACCEPTED, CANNOT_TELL = 0, 1, 2
#: Largest share of a pattern family's calibration images that may be named a class
#: near criticality (:meth:`Rejection.calibrate_cannot_tell`); half the 10 % the
#: evaluation allows, for the spread between calibration and new images.
CANNOT_TELL_SHARE = 0.05


class Rejection:
    """The calibrated rejection rule of a trained network.

    Parameters
    ----------
    center, scale : ndarray, shape (n_statistics,)
        Standardisation of the pattern statistics (training images of the classes).
    log_weights : ndarray, shape (n_classes, COMPONENTS)
        Log mixing weights of each class's Gaussian mixture.
    means : ndarray, shape (n_classes, COMPONENTS, n_statistics)
        Component means (standardised statistics).
    precision_cholesky : ndarray, shape (n_classes, COMPONENTS, n_statistics, n_statistics)
        ``L`` with ``L L^T`` the component's precision matrix (scikit-learn's
        ``precisions_cholesky_``).
    thresholds : ndarray, shape (2,)
        Largest accepted score of each of :data:`SCORES`.
    probe : dict of ndarray, optional
        The "none of these" network: ``mean``, ``scale`` (its input standardisation),
        ``w1``, ``b1``, ``w2``, ``b2``.
    cannot_tell : ndarray, shape (n_classes,), optional
        Per predicted class (the classifier's ``classes_`` order), the largest
        probability of "none of these" at which an accepted window is named that class;
        above it, up to ``thresholds[1]``, the window is :data:`CANNOT_TELL`. Infinite
        (the default) where the class is told from every calibrated pattern family.
    """

    def __init__(self, center: np.ndarray, scale: np.ndarray, log_weights: np.ndarray,
                 means: np.ndarray, precision_cholesky: np.ndarray, thresholds: np.ndarray,
                 probe: dict[str, np.ndarray] | None = None,
                 cannot_tell: np.ndarray | None = None):
        self.center = np.asarray(center, np.float64)
        self.scale = np.asarray(scale, np.float64)
        self.log_weights = np.asarray(log_weights, np.float64)
        self.means = np.asarray(means, np.float64)
        self.precision_cholesky = np.asarray(precision_cholesky, np.float64)
        self.thresholds = np.asarray(thresholds, np.float64)
        self.probe = None if probe is None else {
            k: np.ascontiguousarray(v, np.float64) for k, v in probe.items()}
        self.cannot_tell = np.full(len(self.log_weights), np.inf) if cannot_tell is None \
            else np.asarray(cannot_tell, np.float64)
        # log-density constant of each component: log |L| - d/2 log(2 pi)
        diag = np.diagonal(self.precision_cholesky, axis1=-2, axis2=-1)
        self._log_norm = (np.log(diag).sum(-1) - 0.5 * self.means.shape[-1]
                          * np.log(2 * np.pi) + self.log_weights)
        # y = z L - mu L for every component: L as one (d, C * K * d) matrix
        d = self.means.shape[-1]
        self._whiten = torch.from_numpy(np.ascontiguousarray(
            self.precision_cholesky.transpose(2, 0, 1, 3).reshape(d, -1), np.float32))
        self._white_means = torch.from_numpy(np.einsum(
            "ckd,ckde->cke", self.means, self.precision_cholesky).reshape(-1).astype(np.float32))
        self._probe = None
        if self.probe is not None:  # standardisation folded into the first layer, float32
            p = self.probe
            w1 = p["w1"] / p["scale"][:, None]
            self._probe = (np.ascontiguousarray(w1, np.float32),
                           (p["b1"] - p["mean"] @ w1).astype(np.float32),
                           p["w2"].astype(np.float32), p["b2"].astype(np.float32))

    @classmethod
    def fit(cls, features: np.ndarray, statistics: np.ndarray, labels: np.ndarray,
            n_classes: int, calibration: tuple, false_rejection: float,
            outliers: tuple | None = None, seed: int = 0) -> Rejection:
        """Class models from training images, thresholds from calibration images.

        Parameters
        ----------
        features : ndarray, shape (N, hidden)
            CNN features of training images of the classes.
        statistics : ndarray, shape (N, n_statistics)
            Their pattern statistics
            (:func:`~napari_hamiltonian.classifier.correlations.pattern_statistics`).
        labels : ndarray of int, shape (N,)
            Their class indices.
        calibration : (features (M, hidden), statistics (M, n_statistics))
            Held-out images of the classes.
        false_rejection : float
            Share of calibration images to reject (split between the scores).
        outliers : (features (K, hidden), statistics (K, n_statistics)), optional
            Training images of none of the classes: the probe learns them against the
            training images of the classes.
        seed : int
            Seed of the mixtures' initialisation and of the probe.
        """
        from sklearn.mixture import GaussianMixture

        statistics = np.asarray(statistics, np.float64)
        center = statistics.mean(0)
        scale = statistics.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (statistics - center) / scale
        n_stat = z.shape[1]
        log_weights = np.zeros((n_classes, COMPONENTS))
        means = np.zeros((n_classes, COMPONENTS, n_stat))
        chol = np.tile(np.eye(n_stat), (n_classes, COMPONENTS, 1, 1))
        for c in range(n_classes):
            zc = z[labels == c]
            if len(zc) < 2 * COMPONENTS:
                continue  # too few images for a mixture: a wide unit Gaussian
            # covariances regularised in standardised units, more for a class with few
            # images (in high dimension a full covariance of a few images overfits)
            gm = GaussianMixture(COMPONENTS, covariance_type="full",
                                 reg_covar=max(1e-4, n_stat / (10 * len(zc))),
                                 random_state=int(seed) % (2 ** 32)).fit(zc)
            log_weights[c] = np.log(gm.weights_)
            means[c], chol[c] = gm.means_, gm.precisions_cholesky_
        rule = cls(center, scale, log_weights, means, chol, np.zeros(len(SCORES)))
        if outliers is not None and len(outliers[0]):
            inside = rule._probe_input(np.asarray(features), statistics)
            outside = rule._probe_input(*outliers)
            rule = cls(center, scale, log_weights, means, chol, rule.thresholds,
                       _fit_probe(inside, outside, seed))
        scores = rule.scores(*calibration)
        rule.thresholds = np.quantile(scores, 1 - false_rejection / len(SCORES), axis=0)
        return rule

    def log_likelihoods(self, statistics: np.ndarray) -> np.ndarray:
        """(N, n_classes) float64: log-density of each class's mixture at the statistics."""
        z = (np.asarray(statistics, np.float64) - self.center) / self.scale
        # whitened offsets of every component as one float32 product: (N, C * K * d)
        y = torch.from_numpy(z.astype(np.float32)) @ self._whiten - self._white_means
        quad = (y ** 2).reshape(len(z), *self.means.shape).sum(-1).double()
        return torch.logsumexp(torch.from_numpy(self._log_norm) - 0.5 * quad, -1).numpy()

    def _probe_input(self, features: np.ndarray, statistics: np.ndarray,
                     log_likelihoods: np.ndarray | None = None) -> np.ndarray:
        """(N, hidden + n_statistics + n_classes) float64: what the probe reads."""
        z = (np.asarray(statistics, np.float64) - self.center) / self.scale
        ll = self.log_likelihoods(statistics) if log_likelihoods is None else log_likelihoods
        return np.hstack([np.asarray(features, np.float64), z,
                          np.maximum(ll, LOG_LIKELIHOOD_FLOOR)])

    def scores(self, features: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """(N, 2) float64: the scores :data:`SCORES`.

        Parameters
        ----------
        features : ndarray, shape (N, hidden)
            First dense layer's output after ReLU.
        statistics : ndarray, shape (N, n_statistics)
            Pattern statistics of the same images.
        """
        # matrix products through torch: numpy's BLAS threads spin after each call and
        # slow the network's next convolutions (a 760x760 frame at stride 4 took 50 %
        # longer with them)
        ll = self.log_likelihoods(statistics)
        if self._probe is not None:
            x = torch.from_numpy(self._probe_input(features, statistics, ll)
                                 .astype(np.float32))
            w1, b1, w2, b2 = (torch.from_numpy(v) for v in self._probe)
            a = (torch.relu(x @ w1 + b1) @ w2 + b2)[:, 0].double().numpy()
            none = 1.0 / (1.0 + np.exp(-np.clip(a, -60, 60)))
        else:
            none = np.zeros(len(ll))
        return np.stack([-ll.max(1), none], 1)

    def accepts(self, scores: np.ndarray) -> np.ndarray:
        """Bool, shape ``scores.shape[:-1]``: every score at most its threshold."""
        return np.all(np.asarray(scores) <= self.thresholds, axis=-1)

    def decide(self, scores: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """The decision of each window or image (see the module's docstring).

        Parameters
        ----------
        scores : ndarray, shape (..., 2)
            From :meth:`scores`.
        predicted : ndarray of int, shape (...)
            Index of the predicted class (the classifier's ``classes_`` order).

        Returns
        -------
        ndarray of int8, shape (...)
            :data:`REJECTED`, :data:`ACCEPTED` or :data:`CANNOT_TELL`.
        """
        scores = np.asarray(scores)
        passed = self.accepts(scores)
        unsure = passed & (scores[..., 1] > self.cannot_tell[np.asarray(predicted)])
        return np.where(unsure, CANNOT_TELL, np.where(passed, ACCEPTED, REJECTED)
                        ).astype(np.int8)

    def calibrate_cannot_tell(self, scores: np.ndarray, predicted: np.ndarray,
                              families: np.ndarray, critical: np.ndarray,
                              share: float = CANNOT_TELL_SHARE) -> np.ndarray:
        """Set :attr:`cannot_tell` from held-out images of patterns none of the seven drew.

        For every family ``f`` and critical class ``c``: of the family's ``n_f``
        images, ``a_f`` are accepted by both scores as some critical class, ``a_fc`` of
        them as ``c``; at most ``floor(share * n_f * a_fc / a_f)`` of the latter may
        stay named ``c``, the ones with the lowest probability of "none of these".
        ``cannot_tell[c]`` is the lowest such cut over the families, so every family is
        named a critical class in at most ``share`` of its images.

        Parameters
        ----------
        scores : ndarray, shape (N, 2)
            :meth:`scores` of the held-out images of none of the classes.
        predicted : ndarray of int, shape (N,)
            Their predicted classes.
        families : ndarray of str, shape (N,)
            The family (category) of each image.
        critical : ndarray of bool, shape (n_classes,)
            Which classes are near criticality (naming P* is not a claim to guard).
        share : float

        Returns
        -------
        ndarray, shape (n_classes,)
            The thresholds (also stored in :attr:`cannot_tell`).
        """
        scores, predicted = np.asarray(scores), np.asarray(predicted)
        families = np.asarray(families)
        named = self.accepts(scores) & np.asarray(critical)[predicted]
        cut = np.full(len(self.log_weights), np.inf)
        for f in np.unique(families):
            mine = families == f
            n_f, a_f = int(mine.sum()), int((mine & named).sum())
            for c in np.flatnonzero(critical):
                p = np.sort(scores[mine & named & (predicted == c), 1])
                allowed = int(np.floor(share * n_f * len(p) / max(a_f, 1)))
                if len(p) > allowed:  # at most `allowed` of them at or below the cut
                    cut[c] = min(cut[c], np.nextafter(p[allowed], -np.inf))
        self.cannot_tell = cut
        return cut

    _ARRAYS = ("center", "scale", "log_weights", "means", "precision_cholesky", "thresholds")

    def tensors(self) -> dict[str, np.ndarray]:
        """The rule as named arrays for the model file."""
        out = {f"rejection.{k}": getattr(self, k) for k in self._ARRAYS}
        for k, v in (self.probe or {}).items():
            out[f"rejection.probe.{k}"] = v
        if np.isfinite(self.cannot_tell).any():
            out["rejection.cannot_tell"] = self.cannot_tell
        return out

    @classmethod
    def from_tensors(cls, tensors: dict, path="the model file") -> Rejection | None:
        """Inverse of :meth:`tensors`; None for a model file without a rejection rule,
        or with one of an earlier version (with a warning: the paper's rule decides)."""
        if not any(k.startswith("rejection.") for k in tensors):
            return None
        if any(f"rejection.{k}" not in tensors for k in cls._ARRAYS):
            warnings.warn(f"{path} holds the rejection rule of an earlier version of "
                          "napari-hamiltonian, which this version does not read; the "
                          "paper's k-sigma rule decides confidence. Retrain the model "
                          "(`napari-hamiltonian train`) for the current rejection.",
                          stacklevel=3)
            return None
        probe = {k[len("rejection.probe."):]: v for k, v in tensors.items()
                 if k.startswith("rejection.probe.")} or None
        return cls(*(tensors[f"rejection.{k}"] for k in cls._ARRAYS), probe,
                   tensors.get("rejection.cannot_tell"))


def _fit_probe(inside: np.ndarray, outside: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Weights of a one-hidden-layer network telling ``outside`` rows from ``inside``."""
    from sklearn.neural_network import MLPClassifier

    x = np.vstack([inside, outside])
    y = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    net = MLPClassifier((64,), early_stopping=True, max_iter=300,
                        random_state=int(seed) % (2 ** 32)).fit((x - mean) / scale, y)
    return {"mean": mean, "scale": scale, "w1": net.coefs_[0], "b1": net.intercepts_[0],
            "w2": net.coefs_[1], "b2": net.intercepts_[1]}
