"""Training clusters in last-layer space and the k-sigma confidence rule (Basak et al.).

The rule, exactly: let ``z`` be the 7 (in general ``n_classes``) last-layer values of an
image (before softmax) and ``c`` its predicted class. For class c, take the last-layer
points of the training images whose true class is c; sigma_c is their per-component
standard deviation (a vector) and ``|sigma_c|`` its Euclidean norm. The prediction is
*confident* when the Euclidean distance from ``z`` to the nearest training point of class
c is at most ``k * |sigma_c|``; otherwise it is flagged. The nearest point is found with a
KD-tree. ``distance`` below returns that nearest distance in units of ``|sigma_c|``;
the decision ``distance <= k`` is made in one place,
:meth:`napari_hamiltonian.HamiltonianClassifier.is_confident`.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


class TrainingClusters:
    """Last-layer points of the training set, grouped by true class.

    Parameters
    ----------
    points : list of ndarray
        ``points[c]`` has shape (n_c, d): the last-layer values of the training images of
        class index c, float32.

    Attributes
    ----------
    centers : ndarray, shape (n_classes, d)
        Centre of mass of each cluster (NaN for an empty cluster).
    sigma : ndarray, shape (n_classes, d)
        Per-component standard deviation of each cluster.
    radius : ndarray, shape (n_classes,)
        ``|sigma_c|``, the Euclidean norm of ``sigma[c]``.
    """

    def __init__(self, points: list[np.ndarray]):
        self.points = [np.ascontiguousarray(p, dtype=np.float32) for p in points]
        d = max((p.shape[1] for p in self.points if p.ndim == 2), default=0)
        self.centers = np.array([p.mean(0) if len(p) else np.full(d, np.nan)
                                 for p in self.points], np.float64)
        self.sigma = np.array([p.std(0) if len(p) else np.full(d, np.nan)
                               for p in self.points], np.float64)
        self.radius = np.linalg.norm(self.sigma, axis=1)
        self._trees: dict[int, cKDTree] = {}

    @classmethod
    def from_logits(cls, logits: np.ndarray, y: np.ndarray, n_classes: int):
        """Group (N, d) last-layer values by integer class labels (N,)."""
        return cls([logits[y == c] for c in range(n_classes)])

    def _tree(self, c: int) -> cKDTree:
        if c not in self._trees:
            self._trees[c] = cKDTree(self.points[c])
        return self._trees[c]

    def distance(self, logits: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Nearest-neighbour distance to the predicted class's cluster, in units of |sigma_c|.

        Parameters
        ----------
        logits : ndarray, shape (N, d)
            Last-layer values.
        pred : ndarray of int, shape (N,)
            Predicted class index of each row.

        Returns
        -------
        ndarray, shape (N,), float64
            ``inf`` where the cluster is empty or has zero spread.
        """
        logits = np.asarray(logits, np.float64)
        pred = np.asarray(pred)
        out = np.full(len(logits), np.inf)
        for c in np.unique(pred):
            if len(self.points[c]) == 0 or not self.radius[c] > 0:
                continue
            rows = np.flatnonzero(pred == c)
            dist, _ = self._tree(int(c)).query(logits[rows], k=1)
            out[rows] = dist / self.radius[c]
        return out

    def within(self, logits: np.ndarray, pred: np.ndarray, k: float,
               reading: str) -> np.ndarray:
        """The "box" and "ellipsoid" readings of the k-sigma rule, (N,) bool.

        ``"box"``: ``|z_i - mu_c,i| <= k sigma_c,i`` for every component i;
        ``"ellipsoid"``: ``sum_i ((z_i - mu_c,i) / sigma_c,i)^2 <= k^2``, with ``mu_c``
        and ``sigma_c`` the centre and per-component spread of the predicted class's
        training cluster.
        """
        if reading not in ("box", "ellipsoid"):
            raise ValueError(f"reading must be 'nearest', 'box' or 'ellipsoid', got "
                             f"{reading!r}")
        pred = np.asarray(pred)
        sigma = np.where(self.sigma[pred] > 0, self.sigma[pred], np.inf)
        u = (np.asarray(logits, np.float64) - self.centers[pred]) / sigma
        if reading == "box":
            return np.all(np.abs(u) <= k, axis=1)
        return (u ** 2).sum(1) <= k * k

    def center_distance(self, logits: np.ndarray, index: int) -> float:
        """Distance from the centre of mass of ``logits`` (N, d) to the centre of the
        cluster of class ``index``.

        The proximity-to-criticality measure of the paper, in units of |sigma_c|.
        """
        com = np.asarray(logits, np.float64).mean(0)
        return float(np.linalg.norm(com - self.centers[index]) / self.radius[index])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_trees"] = {}
        return state
