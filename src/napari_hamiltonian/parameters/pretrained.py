"""The shipped parameter regressors, one per family, at the lattice scale (a pixel is a
lattice site): ``napari-hamiltonian train-regressor FAMILY`` made each, and its card is
``models/REGRESSOR_CARD.md``."""

from __future__ import annotations

import copy
import functools

from ..classifier.modelfile import file_sha256
from ..shipped import REGRESSORS, models_folder
from .families import family
from .regressor import HamiltonianRegressor


@functools.lru_cache(maxsize=None)
def _load(name: str) -> HamiltonianRegressor:
    file, expected = REGRESSORS[name]
    path = models_folder() / file
    if not path.is_file():
        raise FileNotFoundError(f"the shipped regressor {path} is missing; reinstall "
                                "napari-hamiltonian")
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"the shipped regressor {path} is damaged (SHA-256 {digest}, "
                         f"expected {expected}); reinstall napari-hamiltonian")
    return HamiltonianRegressor.load(path)


def load_pretrained_regressor(name: str) -> HamiltonianRegressor:
    """The shipped regressor of a family, for binary lattice-scale images.

    Parameters
    ----------
    name : {"C-2D", "C-3D", "RF-2D", "RF-3D", "P"}
        The family (:data:`napari_hamiltonian.parameters.families.FAMILIES`): its
        regressor estimates the temperature (units of J), the disorder R (units of J)
        and the metal fraction, or the occupation p.

    Returns
    -------
    HamiltonianRegressor
        A copy (changing it does not change the next one loaded):
        ``predict(X)`` (N, k) estimates of ``parameter_names_``,
        ``predict_interval(X, coverage=0.9)`` (N, k, 2).
    """
    family(name)
    if name not in REGRESSORS:
        raise ValueError(f"no regressor ships for {name!r} (shipped: "
                         f"{', '.join(REGRESSORS)}); train one with `napari-hamiltonian "
                         f"train-regressor {name}`")
    return copy.deepcopy(_load(name))
