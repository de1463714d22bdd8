"""The pretrained model that ships inside the package (no download)."""

from __future__ import annotations

import copy
import functools
from importlib import resources

from .estimator import HamiltonianClassifier
from .modelfile import file_sha256

#: File name of the shipped model inside ``napari_hamiltonian/models/``.
PRETRAINED_FILE = "hamiltonian-cnn.safetensors"
#: Its SHA-256; a mismatch means a damaged or replaced installation.
PRETRAINED_SHA256 = "8a0f0f09d58a90c7b44668ac12c449cd75d6908d1627816915a5fcb0ff092286"


def pretrained_path():
    """Path of the shipped model file (inside the installed package)."""
    return resources.files("napari_hamiltonian") / "models" / PRETRAINED_FILE


@functools.lru_cache(maxsize=1)
def _load() -> HamiltonianClassifier:
    path = pretrained_path()
    if not path.is_file():
        raise FileNotFoundError(f"the shipped model {path} is missing; reinstall "
                                "napari-hamiltonian")
    digest = file_sha256(path)
    if digest != PRETRAINED_SHA256:
        raise ValueError(f"the shipped model {path} is damaged (SHA-256 {digest}, expected "
                         f"{PRETRAINED_SHA256}); reinstall napari-hamiltonian")
    return HamiltonianClassifier.load(path, device="cpu")


def load_pretrained() -> HamiltonianClassifier:
    """The shipped seven-class model (see ``models/MODEL_CARD.md``), on the CPU.

    The file is read and checked (SHA-256) once per process; every call returns an
    independent copy, so changing one (``set_params``, moving it to a GPU) leaves the
    others alone.
    """
    return copy.deepcopy(_load())
