"""The pretrained models that ship inside the package (no download).

One model per resolution: the lattice-scale model (a pixel is a lattice site, sharp
images) and models for micrographs whose point-spread function is a Gaussian of 1, 2 or
3 pixels (``train --psf-sigma``; cards ``models/MODEL_CARD*.md``).
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from importlib import resources

from .estimator import HamiltonianClassifier
from .modelfile import file_sha256

#: Shipped models: point-spread function (Gaussian sigma, px; 0 = lattice scale) ->
#: (file name inside ``napari_hamiltonian/models/``, its SHA-256). A hash mismatch means
#: a damaged or replaced installation.
SHIPPED: dict[float, tuple[str, str]] = {
    0.0: ("hamiltonian-cnn.safetensors",
          "c3fe93533112f5950eeaba91a6319ab8a3d348089ba722bf390dfc15d29c2f2f"),
    1.0: ("hamiltonian-cnn-psf1.safetensors",
          "30637db4c9d2c4ceb3234229147d06c65a672571d3b0ed75f56cf2c2010e9111"),
    2.0: ("hamiltonian-cnn-psf2.safetensors",
          "73037e3fb52483ad98c7ab2f966c7f9a16b2016cd22ca091f7d7552063dd28f5"),
    3.0: ("hamiltonian-cnn-psf3.safetensors",
          "24717da3dca47ae8c64ae21acbd1404caceb5f74d1291b967d1ecf084b410253"),
}
#: The lattice-scale model's file and hash (``SHIPPED[0.0]``).
PRETRAINED_FILE, PRETRAINED_SHA256 = SHIPPED[0.0]


def pretrained_path(psf_sigma: float = 0.0):
    """Path of the shipped model file for ``psf_sigma`` (a key of :data:`SHIPPED`)."""
    return resources.files("napari_hamiltonian") / "models" / SHIPPED[psf_sigma][0]


@functools.lru_cache(maxsize=None)
def _load(psf_sigma: float) -> HamiltonianClassifier:
    path = pretrained_path(psf_sigma)
    expected = SHIPPED[psf_sigma][1]
    if not path.is_file():
        raise FileNotFoundError(f"the shipped model {path} is missing; reinstall "
                                "napari-hamiltonian")
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"the shipped model {path} is damaged (SHA-256 {digest}, expected "
                         f"{expected}); reinstall napari-hamiltonian")
    return HamiltonianClassifier.load(path, device="cpu")


def nearest_shipped(psf_sigma: float | None) -> float:
    """The key of :data:`SHIPPED` nearest to ``psf_sigma`` (None: 0, lattice scale)."""
    if psf_sigma is None:
        return 0.0
    if isinstance(psf_sigma, bool) or not isinstance(psf_sigma, (int, float)) \
            or not math.isfinite(psf_sigma) or psf_sigma < 0:
        raise ValueError(f"psf_sigma must be a number >= 0 (pixels), got {psf_sigma!r}")
    return min(SHIPPED, key=lambda s: (abs(s - psf_sigma), s))


def load_pretrained(psf_sigma: float | None = None) -> HamiltonianClassifier:
    """A shipped seven-class model, on the CPU.

    Parameters
    ----------
    psf_sigma : float, optional
        Gaussian standard deviation (pixels) of the point-spread function of the images
        to classify (:func:`napari_hamiltonian.estimate_psf_sigma` estimates it). The
        nearest shipped model is returned (its ``psf_sigma`` says which), with a warning
        naming it when it is not an exact match. None or 0: the lattice-scale model,
        for images whose pixels resolve the lattice.

    The file is read and checked (SHA-256) once per process; every call returns an
    independent copy, so changing one (``set_params``, moving it to a GPU) leaves the
    others alone.
    """
    key = nearest_shipped(psf_sigma)
    if psf_sigma is not None and key != psf_sigma:
        warnings.warn(f"no shipped model for a point-spread function of {psf_sigma:g} px; "
                      f"using the nearest, the model for {key:g} px"
                      + (" (lattice scale)" if key == 0 else "")
                      + f" (shipped: {', '.join(f'{s:g}' for s in sorted(SHIPPED))} px)",
                      UserWarning, stacklevel=2)
    return copy.deepcopy(_load(key))


def shipped_hash(psf_sigma: float | None = None) -> str:
    """SHA-256 of the shipped model file :func:`load_pretrained` picks for ``psf_sigma``."""
    return SHIPPED[nearest_shipped(psf_sigma)][1]
