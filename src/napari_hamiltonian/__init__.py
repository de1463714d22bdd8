"""napari-hamiltonian: which Hamiltonian drew these domains?

Classify black/white domain images of quantum materials (metal/insulator, up/down) by
the statistical-mechanics model that most likely produced them, following Basak et al.,
"Deep Learning Hamiltonians from Disordered Image Data in Quantum Materials" (2022).

The public names are loaded on first use (PEP 562), so ``import napari_hamiltonian`` and
napari's sample-data menu do not pay for torch, scikit-learn, numba or dask.
"""

from __future__ import annotations

import importlib

from . import _moved
from .classes import CLASSES

_moved.install()

__version__ = "0.1.0"

#: Public name -> module that defines it (relative to this package).
_LAZY = {
    "HamiltonianClassifier": ".classifier.estimator",
    "HamiltonianRegressor": ".parameters.regressor",
    "Instrument": ".imaging.optics",
    "Reading": ".imaging.reading",
    "binarize_stack": ".imaging.switching",
    "classify_image": ".inference.sliding",
    "classify_stack": ".inference.stacks",
    "estimate_psf_sigma": ".imaging.optics",
    "flat_field": ".imaging.illumination",
    "register_stack": ".imaging.drift",
    "load_pretrained": ".classifier.pretrained",
    "load_pretrained_regressor": ".parameters.pretrained",
    "symmetry_reduce": ".classifier.symmetry",
}

#: Public submodules, loaded on first use: the simulators and the cluster geometry.
_MODULES = ("simulate", "geometry")

__all__ = ["CLASSES", "HamiltonianClassifier", "HamiltonianRegressor", "Instrument",
           "Reading", "__version__", "binarize_stack", "classify_image", "classify_stack",
           "estimate_psf_sigma", "flat_field", "geometry", "load_pretrained",
           "load_pretrained_regressor", "register_stack", "simulate", "symmetry_reduce"]


def __getattr__(name: str):
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
