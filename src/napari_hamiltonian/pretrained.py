"""The pretrained models that ship inside the package (no download).

One binary model per resolution: the lattice-scale model (a pixel is a lattice site,
sharp images) and models for thresholded micrographs whose point-spread function is a
Gaussian of 1, 2 or 3 pixels (``train --psf-sigma``); and grey models, which read
micrographs in phase units (``train --input grey``; cards ``models/MODEL_CARD*.md``).
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from importlib import resources

from .estimator import INPUT_KINDS, HamiltonianClassifier
from .modelfile import file_sha256

#: Shipped models: point-spread function (Gaussian sigma, px; 0 = lattice scale) ->
#: (file name inside ``napari_hamiltonian/models/``, its SHA-256). A hash mismatch means
#: a damaged or replaced installation.
SHIPPED: dict[float, tuple[str, str]] = {
    0.0: ("hamiltonian-cnn.safetensors",
          "ea74d397158e3d4aad03eb51aed07fd06d46e76eb752a9915125a9745e6ed6cf"),
    1.0: ("hamiltonian-cnn-psf1.safetensors",
          "d8c35bf97c3c042408ae9ca170253025fcd5ba8a6ce3f23e56bfeb7a5be71f92"),
    2.0: ("hamiltonian-cnn-psf2.safetensors",
          "9895812719414033bb37d62c2c7885cfff9e6708229e1009bdc91566a772cb1f"),
    3.0: ("hamiltonian-cnn-psf3.safetensors",
          "18052f412b5db569ccf74fe1707bf3331da544b7e412dac8704dc4853a26afc8"),
}
#: Shipped grey models (``input_kind="grey"``): point-spread function (px) -> (file name,
#: SHA-256).
SHIPPED_GREY: dict[float, tuple[str, str]] = {
    2.0: ("hamiltonian-cnn-psf2-grey.safetensors",
          "371ac513dd324284a81b5676ae2566ad76c0a72441ecc8a39d1859d01f6b9e5f"),
    3.0: ("hamiltonian-cnn-psf3-grey.safetensors",
          "5a15e8c4e1ca9a57498b129d967c45d2404f3b6dc9fded439ebb90429302bb80"),
}
#: The lattice-scale model's file and hash (``SHIPPED[0.0]``).
PRETRAINED_FILE, PRETRAINED_SHA256 = SHIPPED[0.0]


def shipped(input_kind: str = "binary") -> dict[float, tuple[str, str]]:
    """The shipped models that read ``input_kind`` images: :data:`SHIPPED` or
    :data:`SHIPPED_GREY`."""
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
    return SHIPPED_GREY if input_kind == "grey" else SHIPPED


def input_kind_for(psf_sigma: float | None, levels) -> str:
    """Which shipped model reads an image: the grey one when its phase ``levels`` are
    known and it is a micrograph (``psf_sigma`` > 0), else the binary one."""
    return "grey" if levels is not None and psf_sigma is not None and psf_sigma > 0 \
        else "binary"


def pretrained_path(psf_sigma: float = 0.0, input_kind: str = "binary"):
    """Path of the shipped model file for ``psf_sigma`` (a key of :func:`shipped`)."""
    return (resources.files("napari_hamiltonian") / "models"
            / shipped(input_kind)[psf_sigma][0])


@functools.lru_cache(maxsize=None)
def _load(psf_sigma: float, input_kind: str = "binary") -> HamiltonianClassifier:
    path = pretrained_path(psf_sigma, input_kind)
    expected = shipped(input_kind)[psf_sigma][1]
    if not path.is_file():
        raise FileNotFoundError(f"the shipped model {path} is missing; reinstall "
                                "napari-hamiltonian")
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"the shipped model {path} is damaged (SHA-256 {digest}, expected "
                         f"{expected}); reinstall napari-hamiltonian")
    return HamiltonianClassifier.load(path, device="cpu")


def nearest_shipped(psf_sigma: float | None, input_kind: str = "binary") -> float:
    """The key of :func:`shipped` nearest to ``psf_sigma`` (None: 0, lattice scale)."""
    models = shipped(input_kind)
    if psf_sigma is None and input_kind == "binary":
        return 0.0
    if psf_sigma is None:
        raise ValueError("the grey models are for micrographs: give psf_sigma, the "
                         "point-spread function's Gaussian sigma in pixels")
    if isinstance(psf_sigma, bool) or not isinstance(psf_sigma, (int, float)) \
            or not math.isfinite(psf_sigma) or psf_sigma < 0:
        raise ValueError(f"psf_sigma must be a number >= 0 (pixels), got {psf_sigma!r}")
    return min(models, key=lambda s: (abs(s - psf_sigma), s))


def load_pretrained(psf_sigma: float | None = None, input_kind: str = "binary"
                    ) -> HamiltonianClassifier:
    """A shipped seven-class model, on the CPU.

    Parameters
    ----------
    psf_sigma : float, optional
        Gaussian standard deviation (pixels) of the point-spread function of the images
        to classify (:func:`napari_hamiltonian.estimate_psf_sigma` estimates it). The
        nearest shipped model is returned (its ``psf_sigma`` says which), with a warning
        naming it when it is not an exact match. None or 0: the lattice-scale model,
        for images whose pixels resolve the lattice.
    input_kind : {"binary", "grey"}
        "binary": the model for thresholded images. "grey": the model that reads the
        micrograph's grey levels in phase units (``classify_image(..., levels=(insulator,
        metal))``); more accurate where a threshold erases what the blur left
        (``models/MODEL_CARD-psf*-grey.md``), it needs the two phases' intensities.

    The file is read and checked (SHA-256) once per process; every call returns an
    independent copy, so changing one (``set_params``, moving it to a GPU) leaves the
    others alone.
    """
    key = nearest_shipped(psf_sigma, input_kind)
    if psf_sigma is not None and key != psf_sigma:
        kind = "grey " if input_kind == "grey" else ""
        warnings.warn(f"no shipped {kind}model for a point-spread function of {psf_sigma:g} "
                      f"px; using the nearest, the {kind}model for {key:g} px"
                      + (" (lattice scale)" if key == 0 else "")
                      + f" (shipped: {', '.join(f'{s:g}' for s in sorted(shipped(input_kind)))}"
                      " px)", UserWarning, stacklevel=2)
    return copy.deepcopy(_load(key, input_kind))


def shipped_hash(psf_sigma: float | None = None, input_kind: str = "binary") -> str:
    """SHA-256 of the shipped model file :func:`load_pretrained` picks for ``psf_sigma``."""
    return shipped(input_kind)[nearest_shipped(psf_sigma, input_kind)][1]
