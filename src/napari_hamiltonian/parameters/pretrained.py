"""The shipped parameter regressors, one per family at the lattice scale (a pixel is a
lattice site) and at the resolutions listed in :data:`~napari_hamiltonian.shipped.
REGRESSORS`: ``napari-hamiltonian train-regressor FAMILY [--psf-sigma S]`` made each,
and their card is ``models/REGRESSOR_CARD.md``."""

from __future__ import annotations

import copy
import functools

from ..classifier.modelfile import check_shipped_file
from ..shipped import REGRESSORS, models_folder
from .families import family
from .regressor import HamiltonianRegressor


#: Farthest (px) a frame's PSF may be from a regressor's for the regressor to read it.
PSF_TOLERANCE = 0.5


@functools.lru_cache(maxsize=None)
def _load(key: tuple) -> HamiltonianRegressor:
    file, expected = REGRESSORS[key]
    return HamiltonianRegressor.load(check_shipped_file(models_folder() / file, expected,
                                                        "regressor"))


def load_pretrained_regressor(name: str, psf_sigma: float = 0.0) -> HamiltonianRegressor:
    """The shipped regressor of a family, for binary images of one resolution.

    Parameters
    ----------
    name : {"C-2D", "C-3D", "RF-2D", "RF-3D", "P"}
        The family (:data:`napari_hamiltonian.parameters.families.FAMILIES`): its
        regressor estimates the temperature (units of J), the disorder R (units of J)
        and the metal fraction, or the occupation p.
    psf_sigma : float
        The images' point-spread function (Gaussian sigma, px; 0: lattice scale): the
        shipped regressor of the nearest resolution reads them, once binarised halfway
        between the phases, if one lies within :data:`PSF_TOLERANCE`.

    Returns
    -------
    HamiltonianRegressor
        A copy (changing it does not change the next one loaded):
        ``predict(X)`` (N, k) estimates of ``parameter_names_``,
        ``predict_interval(X, coverage=0.9)`` (N, k, 2).
    """
    from ..shipped import check_psf_sigma

    name = family(name).name
    sigma = check_psf_sigma(psf_sigma)
    shipped = sorted(s for f, s in REGRESSORS if f == name)
    near = min(shipped, key=lambda s: abs(s - sigma), default=None)
    if near is None or abs(near - sigma) > PSF_TOLERANCE:
        have = ", ".join(f"{s:g} px" for s in shipped) or "none"
        raise ValueError(f"no {name} regressor ships for a PSF of {sigma:g} px (shipped: "
                         f"{have}); train one with `napari-hamiltonian train-regressor "
                         f"{name} --psf-sigma {sigma:g}`")
    return copy.deepcopy(_load((name, near)))


#: ``parameters="auto"``: the family of the class the classifier names, where it names one.
AUTO = "auto"


def is_auto(parameters) -> bool:
    """Whether ``parameters`` asks for the family of the class named (:data:`AUTO`, in
    any case)."""
    return isinstance(parameters, str) and parameters.lower() == AUTO


def regressor_for(parameters, psf_sigma: float = 0.0, answer: str | None = None):
    """The regressor that reads parameters, and its family's name.

    Parameters
    ----------
    parameters : None, str or HamiltonianRegressor
        None: no parameters; a family's name: its shipped regressor; ``"auto"``: the
        family of ``answer`` (the class the classifier names of the frame,
        :data:`~napari_hamiltonian.parameters.maps.FAMILY_OF_CLASS`); a fitted regressor.
    psf_sigma : float
        The PSF (px) of the classifier that reads the frames: the shipped regressor of
        that resolution reads them; a lattice-scale one does not read blurred frames.
    answer : str, optional
        With ``"auto"``: what the classifier says of the frame; None to check the
        argument before the frame is classified.

    Returns
    -------
    (HamiltonianRegressor, str or None) or None
        None for no parameters, for ``"auto"`` before the answer is known, and for an
        answer that names no family ("none of these", a group such as "RF-2D or RF-3D",
        P-3D).
    """
    from .maps import FAMILY_OF_CLASS

    if parameters is None:
        return None
    if isinstance(parameters, str):
        if is_auto(parameters):
            if answer is None or answer not in FAMILY_OF_CLASS:
                sigma = float(psf_sigma or 0.0)
                if not any(abs(s - sigma) <= PSF_TOLERANCE for _, s in REGRESSORS):
                    _check_resolution(0.0, sigma)  # no shipped one reads these frames
                return None
            parameters = FAMILY_OF_CLASS[answer]
        try:
            reg = load_pretrained_regressor(parameters, psf_sigma or 0.0)
        except ValueError as err:
            if str(err).startswith("unknown family"):
                raise ValueError(f"{err}, or 'auto' for the family of the class each "
                                 "frame is named") from None
            raise
        name = family(parameters).name
    elif isinstance(parameters, HamiltonianRegressor):
        reg, name = parameters, parameters.training_info_.get("family")
    else:
        raise ValueError(f"parameters must be a family's name, 'auto' or a "
                         f"HamiltonianRegressor, got {parameters!r}")
    _check_resolution(float(reg.training_info_.get("psf_sigma", 0.0)), psf_sigma)
    return reg, name


def _check_resolution(trained: float, psf_sigma) -> None:
    """ValueError unless a regressor of images of PSF ``trained`` (px) reads frames of
    PSF ``psf_sigma``."""
    if abs(trained - float(psf_sigma or 0.0)) > PSF_TOLERANCE:
        raise ValueError(
            f"the parameter regressor reads images of PSF sigma {trained:g} px and the "
            f"frames are read at {psf_sigma:g} px: blur changes what the windows say of "
            "T, R or p. Read parameters of lattice-scale images (psf_sigma 0), or give a "
            "regressor trained at this resolution (train-regressor --psf-sigma)")
