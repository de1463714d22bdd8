"""Saying "none of these": the rejection that decides whether an image is one of the classes.

The paper's k-sigma rule (:mod:`napari_hamiltonian.confidence`) accepts nearly every
image, in any of its readings: ordered Ising, thresholded noise and blurred micrographs
land within k |sigma_c| of some training point. This rule uses three scores, each
calibrated on held-out images of the seven classes:

1. **Mahalanobis distance in feature space** (Lee et al., NeurIPS 2018): ``h`` is the
   first dense layer's output (after ReLU, ``hidden_units`` values) of the image. Each
   class c is a Gaussian with mean ``mu_c`` (training images of c) and one covariance
   ``Sigma`` shared by all classes (pooled within-class, shrunk towards its diagonal by
   1 %); the score is ``min_c (h - mu_c)^T Sigma^-1 (h - mu_c)``.
2. **Energy** (Liu et al., NeurIPS 2020): ``-logsumexp(z)`` of the classes' last-layer
   values.
3. **Probability of "none of these"** from a small network (one hidden layer of 64
   ReLU units, logistic output; scikit-learn's ``MLPClassifier``) that reads the
   standardised features ``h`` of an image, trained on the training
   split's images of the classes against its images of none of them
   (``simulate/outliers.py``). Those images also train the CNN itself towards equal
   probabilities of all classes (outlier exposure, Hendrycks et al., ICLR 2019), which
   makes the energy informative. 0 for a model trained without such images.

The first two need no example of what to reject; the third learns the categories it
was shown. An image is **accepted** (confidently one of the classes) when every score
is at most its threshold; the thresholds are the ``1 - false_rejection / 3`` quantiles
of the scores of the validation split (images of the classes the network did not train
on), so about ``false_rejection`` of such images are rejected.
"""

from __future__ import annotations

import numpy as np
import torch

#: Names of the scores, in column order.
SCORES = ("mahalanobis", "energy", "none probability")


class Rejection:
    """The calibrated rejection rule of a trained network.

    Parameters
    ----------
    means : ndarray, shape (n_classes, hidden)
        Class means of the features.
    whitening : ndarray, shape (hidden, hidden)
        ``W`` with ``W W^T = Sigma^-1``: the Mahalanobis distance is a Euclidean one
        after ``h @ W``.
    thresholds : ndarray, shape (3,)
        Largest accepted score of each of :data:`SCORES`.
    """

    def __init__(self, means: np.ndarray, whitening: np.ndarray, thresholds: np.ndarray,
                 probe: dict[str, np.ndarray] | None = None):
        self.means = np.ascontiguousarray(means, np.float32)
        self.whitening = np.ascontiguousarray(whitening, np.float32)
        self.thresholds = np.asarray(thresholds, np.float64)
        self.probe = None if probe is None else {
            k: np.ascontiguousarray(v, np.float64) for k, v in probe.items()}
        self._white_means = self.means @ self.whitening
        self._probe = None
        if self.probe is not None:  # standardisation folded into the first layer, float32
            p = self.probe
            w1 = p["w1"] / p["scale"][:, None]
            self._probe = (np.ascontiguousarray(w1, np.float32),
                           (p["b1"] - p["mean"] @ w1).astype(np.float32),
                           p["w2"].astype(np.float32), p["b2"].astype(np.float32))

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, n_classes: int,
            calibration: tuple[np.ndarray, np.ndarray], false_rejection: float,
            outliers: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0
            ) -> Rejection:
        """Class statistics from training features, thresholds from calibration images.

        Parameters
        ----------
        features : ndarray, shape (N, hidden)
            Features of training images of the classes.
        labels : ndarray of int, shape (N,)
            Their class indices.
        calibration : (features (M, hidden), logits (M, n_classes))
            Held-out images of the classes.
        false_rejection : float
            Share of calibration images to reject (split between the scores).
        outliers : (features (K, hidden), logits (K, n_classes)), optional
            Training images of none of the classes: the probe learns their features
            against ``features``.
        seed : int
            Seed of the probe's initialisation and early-stopping split.
        """
        features = np.asarray(features, np.float64)
        means = np.stack([features[labels == c].mean(0) if np.any(labels == c)
                          else np.zeros(features.shape[1]) for c in range(n_classes)])
        centred = features - means[labels]
        cov = centred.T @ centred / max(len(features) - n_classes, 1)
        cov = 0.99 * cov + 0.01 * np.diag(np.diag(cov)) + 1e-6 * np.eye(len(cov)) \
            * max(np.trace(cov) / len(cov), 1e-12)
        # W W^T = cov^-1 with W = L^-T, L the Cholesky factor of cov
        whitening = np.linalg.inv(np.linalg.cholesky(cov)).T
        probe = None
        if outliers is not None and len(outliers[0]):
            probe = _fit_probe(features, np.asarray(outliers[0], np.float64), seed)
        rule = cls(means, whitening, np.zeros(len(SCORES)), probe)
        scores = rule.scores(*calibration)
        rule.thresholds = np.quantile(scores, 1 - false_rejection / len(SCORES), axis=0)
        return rule

    def scores(self, features: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """(N, 3) float64: the scores :data:`SCORES`.

        Parameters
        ----------
        features : ndarray, shape (N, hidden)
            First dense layer's output after ReLU.
        logits : ndarray, shape (N, n_classes)
        """
        # matrix products through torch: numpy's BLAS threads spin after each call and
        # slow the network's next convolutions (a 760x760 frame at stride 4 took 50 %
        # longer with them)
        feats = torch.from_numpy(np.ascontiguousarray(features, np.float32))
        white = feats @ torch.from_numpy(self.whitening)
        means = torch.from_numpy(self._white_means)
        # squared distances to each class mean, without an (N, C, hidden) array
        d2 = ((white ** 2).sum(1, keepdim=True) - 2 * white @ means.T
              + (means ** 2).sum(1)).numpy()
        z = np.asarray(logits, np.float64)
        top = z.max(1)
        energy = -(top + np.log(np.exp(z - top[:, None]).sum(1)))
        if self._probe is not None:
            w1, b1, w2, b2 = (torch.from_numpy(v) for v in self._probe)
            a = (torch.relu(feats @ w1 + b1) @ w2 + b2)[:, 0].double().numpy()
            none = 1.0 / (1.0 + np.exp(-np.clip(a, -60, 60)))
        else:
            none = np.zeros(len(z))
        return np.stack([np.maximum(d2.min(1), 0.0), energy, none], 1)

    def accepts(self, scores: np.ndarray) -> np.ndarray:
        """Bool, shape ``scores.shape[:-1]``: every score at most its threshold."""
        return np.all(np.asarray(scores) <= self.thresholds, axis=-1)

    def tensors(self) -> dict[str, np.ndarray]:
        """The rule as named arrays for the model file."""
        out = {"rejection.means": self.means, "rejection.whitening": self.whitening,
               "rejection.thresholds": self.thresholds.astype(np.float64)}
        for k, v in (self.probe or {}).items():
            out[f"rejection.probe.{k}"] = v
        return out

    @classmethod
    def from_tensors(cls, tensors: dict) -> Rejection | None:
        """Inverse of :meth:`tensors`; None for a model file without a rejection rule."""
        if "rejection.means" not in tensors:
            return None
        probe = {k[len("rejection.probe."):]: v for k, v in tensors.items()
                 if k.startswith("rejection.probe.")} or None
        return cls(tensors["rejection.means"], tensors["rejection.whitening"],
                   tensors["rejection.thresholds"], probe)


def _fit_probe(inside: np.ndarray, outside: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Weights of a one-hidden-layer network telling ``outside`` rows from ``inside``."""
    from sklearn.neural_network import MLPClassifier

    x = np.vstack([inside, outside])
    y = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    net = MLPClassifier((64,), early_stopping=True, max_iter=200,
                        random_state=int(seed) % (2 ** 32)).fit((x - mean) / scale, y)
    return {"mean": mean, "scale": scale, "w1": net.coefs_[0], "b1": net.intercepts_[0],
            "w2": net.coefs_[1], "b2": net.intercepts_[1]}
