"""Physics estimators of the parameters, so that nobody has to take the network on trust.

* occupation p of site percolation: the density of occupied sites, the unbiased (and
  optimal) estimator;
* temperature of the clean 2D Ising model: the nearest-neighbour bond correlation
  inverted through Onsager's exact internal energy;
* everything else (the 3D temperature, the disorder R and the metal fraction of
  random-field snapshots): a gradient-boosted regression on the pattern statistics the
  rejection already reads (:mod:`napari_hamiltonian.classifier.correlations`) plus the
  density and the bond correlation, fitted on the regressor's own training images.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ellipk

from ..classifier.correlations import pattern_statistics
from .network import physics_statistics


def onsager_bond_correlation(temperature) -> np.ndarray:
    """Exact nearest-neighbour correlation ``<s s'>`` of the infinite 2D Ising model
    (J = 1) at ``temperature`` (units of J): minus half Onsager's energy per spin."""
    beta = 1.0 / np.asarray(temperature, np.float64)
    kappa = 2 * np.sinh(2 * beta) / np.cosh(2 * beta) ** 2
    with np.errstate(invalid="ignore"):  # at Tc: 0 x K(1) = 0 x infinity
        energy = -(1 / np.tanh(2 * beta)) * (
            1 + (2 / np.pi) * (2 * np.tanh(2 * beta) ** 2 - 1) * ellipk(kappa ** 2))
    return np.where(np.isnan(energy), np.sqrt(0.5), -energy / 2)


_GRID = np.linspace(0.5, 8.0, 4001)
_CORRELATION = onsager_bond_correlation(_GRID)  # decreasing in T


def energy_temperature_2d(images: np.ndarray) -> np.ndarray:
    """Temperature of clean 2D Ising images from their bond correlation, (N,) (units of
    J; clipped to 0.5-8)."""
    bonds = physics_statistics(np.asarray(images))[:, 1]
    return np.interp(-bonds, -_CORRELATION, _GRID)


def density_occupation(images: np.ndarray) -> np.ndarray:
    """Occupation p of percolation images: their density, (N,)."""
    return np.asarray(images).mean((1, 2), dtype=np.float64)


class StatisticsRegression:
    """Gradient-boosted trees from pattern statistics, density and bond correlation to
    each parameter (the baseline where physics gives no closed form).

    Parameters
    ----------
    random_state : int
        Seed of the trees.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    @staticmethod
    def features(images: np.ndarray) -> np.ndarray:
        """(N, n_statistics + 2) features of binary images (N, w, w)."""
        images = np.asarray(images)
        return np.column_stack([pattern_statistics(images), physics_statistics(images)])

    def fit(self, images: np.ndarray, targets: np.ndarray) -> StatisticsRegression:
        """Fit one model per column of ``targets`` (N, k)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        feats = self.features(images)
        targets = np.asarray(targets, np.float64).reshape(len(feats), -1)
        self.models_ = [HistGradientBoostingRegressor(random_state=self.random_state)
                        .fit(feats, t) for t in targets.T]
        return self

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N, k) estimates."""
        feats = self.features(images)
        return np.column_stack([m.predict(feats) for m in self.models_])


def baseline(family: str, train_images=None, train_targets=None, random_state: int = 0):
    """The physics baseline of a family as a function images (N, w, w) -> (N, k): exact
    for percolation (density) and the 2D temperature (Onsager); for the others a
    :class:`StatisticsRegression` fitted on ``train_images``, ``train_targets``. For the
    random-field families the metal fraction column is the density in 2D (exact) and
    the fitted estimate in 3D (a slice's density is not the lattice's)."""
    if family == "P":
        return lambda images: density_occupation(images)[:, None]
    if family == "C-2D":
        return lambda images: energy_temperature_2d(images)[:, None]
    if train_images is None:
        raise ValueError(f"the {family} baseline is fitted: give its training images and "
                         "targets")
    fitted = StatisticsRegression(random_state).fit(train_images, train_targets)
    if family == "RF-2D":
        return lambda images: np.column_stack([fitted.predict(images)[:, 0],
                                               density_occupation(images)])
    return fitted.predict
