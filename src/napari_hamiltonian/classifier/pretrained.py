"""The pretrained models that ship inside the package (no download).

One binary model per resolution: the lattice-scale model (a pixel is a lattice site,
sharp images) and models for thresholded micrographs whose point-spread function is a
Gaussian of 1, 2 or 3 pixels (``train --psf-sigma``); and grey models, which read
micrographs in phase units (``train --input grey``; cards ``models/MODEL_CARD*.md``).
"""

from __future__ import annotations

import copy
import functools
import warnings

from ..shipped import models_folder, nearest, resolutions
from .estimator import HamiltonianClassifier
from .modelfile import check_shipped_file

#: Shipped binary models: point-spread function (Gaussian sigma, px; 0 = lattice scale)
#: -> (file name inside ``napari_hamiltonian/models/``, its SHA-256), from the registry
#: :data:`napari_hamiltonian.shipped.RESOLUTIONS`.
SHIPPED: dict[float, tuple[str, str]] = {r.psf_sigma: r.binary for r in resolutions("binary")}
#: Shipped grey models (``input_kind="grey"``): point-spread function (px) -> (file name,
#: SHA-256).
SHIPPED_GREY: dict[float, tuple[str, str]] = {r.psf_sigma: r.grey
                                               for r in resolutions("grey")}


def shipped(input_kind: str = "binary") -> dict[float, tuple[str, str]]:
    """The shipped models that read ``input_kind`` images: :data:`SHIPPED` or
    :data:`SHIPPED_GREY`."""
    return {r.psf_sigma: r.model(input_kind) for r in resolutions(input_kind)}


def pretrained_path(psf_sigma: float = 0.0, input_kind: str = "binary"):
    """Path of the shipped model file for ``psf_sigma`` (a key of :func:`shipped`)."""
    return models_folder() / shipped(input_kind)[psf_sigma][0]


@functools.lru_cache(maxsize=None)
def _load(psf_sigma: float, input_kind: str = "binary") -> HamiltonianClassifier:
    path = check_shipped_file(pretrained_path(psf_sigma, input_kind),
                              shipped(input_kind)[psf_sigma][1], "model")
    return HamiltonianClassifier.load(path, device="cpu")


def nearest_shipped(psf_sigma: float | None, input_kind: str = "binary") -> float:
    """The key of :func:`shipped` nearest to ``psf_sigma`` (None: 0, lattice scale)."""
    return nearest(psf_sigma, input_kind).psf_sigma


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
    if psf_sigma is not None and abs(key - psf_sigma) > SAME_SIGMA:
        warnings.warn(substitution_note(psf_sigma, key, input_kind), UserWarning,
                      stacklevel=2)
    return copy.deepcopy(_load(key, input_kind))


#: A PSF sigma this close to a shipped model's (px) is that model's, without a note (an
#: estimate of 1.9995 px is the 2 px model's).
SAME_SIGMA = 0.01


def substitution_note(psf_sigma: float, key: float, input_kind: str) -> str:
    """What stands in for a model not shipped, in words, with what to do where the
    stand-in is far off: bin an image blurred well beyond the largest shipped model,
    or take the binary model shipped for this resolution."""
    kind = "grey " if input_kind == "grey" else ""
    note = (f"no shipped {kind}model for a point-spread function of {psf_sigma:.3g} px; "
            f"using the nearest, the {kind}model for {key:g} px"
            + (" (lattice scale)" if key == 0 else "")
            + f" (shipped: {', '.join(f'{s:g}' for s in sorted(shipped(input_kind)))} px)")
    if key > 0 and psf_sigma > 1.5 * key:
        factor = max(2, round(psf_sigma / key))
        note += (f". The image is blurred {psf_sigma / key:.1f} times more than that model "
                 f"was trained for, and its answers there are not measured: bin the image "
                 f"{factor} x {factor} (average blocks of pixels) to bring its blur near "
                 f"{key:g} px")
    if input_kind == "grey" and psf_sigma in shipped("binary"):
        note += (f". A binary model for {psf_sigma:g} px is shipped: give a threshold "
                 "instead of the phase levels to use it")
    return note


def shipped_hash(psf_sigma: float | None = None, input_kind: str = "binary") -> str:
    """SHA-256 of the shipped model file :func:`load_pretrained` picks for ``psf_sigma``."""
    return shipped(input_kind)[nearest_shipped(psf_sigma, input_kind)][1]
