"""What ships in ``models/``: one entry per resolution, the one registry of shipped files.

A resolution is the Gaussian sigma (px) of the point-spread function its files are for;
0 is the lattice scale (a pixel is a lattice site). Each has a binary model, possibly a
grey model, geometry references and the smallest cluster its geometry measures. The
model files' SHA-256 is recorded here: a mismatch means a damaged or replaced
installation. This module reads no file and imports nothing heavy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: Smallest cluster (pixels) the geometry measures in sharp images.
MIN_SIZE = 10


@dataclass(frozen=True)
class Resolution:
    """The shipped files of one resolution.

    Attributes
    ----------
    psf_sigma : float
        Gaussian sigma of the point-spread function (px); 0: the lattice scale.
    binary : (str, str)
        File name inside ``models/`` and SHA-256 of the binary model.
    grey : (str, str) or None
        The same for the grey model (reads micrographs in phase units), if one ships.
    """

    psf_sigma: float
    binary: tuple[str, str]
    grey: tuple[str, str] | None = None

    def model(self, input_kind: str = "binary") -> tuple[str, str] | None:
        """(file name, SHA-256) of the model reading ``input_kind`` images, or None."""
        return self.grey if input_kind == "grey" else self.binary

    @property
    def references(self) -> Path:
        """The geometry references measured at this resolution."""
        return models_folder() / ("geometry-references.json" if self.psf_sigma == 0 else
                                  f"geometry-references-psf{self.psf_sigma:g}.json")

    @property
    def min_size(self) -> int:
        """Smallest cluster (pixels) the geometry measures: :data:`MIN_SIZE` for sharp
        images, else the area of a disc of radius 2 sigma (the PSF's core), rounded."""
        return max(MIN_SIZE, int(round(math.pi * (2 * self.psf_sigma) ** 2)))


#: The shipped resolutions, sharpest first.
RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution(0.0, ("hamiltonian-cnn.safetensors",
                     "ea74d397158e3d4aad03eb51aed07fd06d46e76eb752a9915125a9745e6ed6cf")),
    Resolution(1.0, ("hamiltonian-cnn-psf1.safetensors",
                     "d8c35bf97c3c042408ae9ca170253025fcd5ba8a6ce3f23e56bfeb7a5be71f92")),
    Resolution(2.0, ("hamiltonian-cnn-psf2.safetensors",
                     "9895812719414033bb37d62c2c7885cfff9e6708229e1009bdc91566a772cb1f"),
               ("hamiltonian-cnn-psf2-grey.safetensors",
                "371ac513dd324284a81b5676ae2566ad76c0a72441ecc8a39d1859d01f6b9e5f")),
    Resolution(3.0, ("hamiltonian-cnn-psf3.safetensors",
                     "18052f412b5db569ccf74fe1707bf3331da544b7e412dac8704dc4853a26afc8"),
               ("hamiltonian-cnn-psf3-grey.safetensors",
                "5a15e8c4e1ca9a57498b129d967c45d2404f3b6dc9fded439ebb90429302bb80")),
)
#: Shipped parameter regressors: (family, PSF sigma in px; 0 = lattice scale) -> (file
#: name inside ``models/``, SHA-256).
REGRESSORS: dict[tuple[str, float], tuple[str, str]] = {
    ("P", 0.0): ("regressor-p.safetensors",
                    "c77c6475de9c917ab99026a771a3df976db6a2c87673e29222e703ceef4c6a39"),
    ("C-2D", 0.0): ("regressor-c-2d.safetensors",
                    "2f5a20af0f45d329d212fdff37a125499f45bef75daa65ed20cb43f4488cbdbc"),
    ("RF-2D", 0.0): ("regressor-rf-2d.safetensors",
                    "37ef246d378edbeac8f908102c37ec89bdbfd88ad4227e90bb4af5c4ebce1920"),
    ("C-3D", 0.0): ("regressor-c-3d.safetensors",
                    "88594cf2f2f9b7e1b08b8aa65cfb89c62c0ec781ec5227f823af952f231fc0f2"),
    ("RF-3D", 0.0): ("regressor-rf-3d.safetensors",
                    "262d8e668af96578dc684838a5ea0175227e216dcf3cb770f1665873cf05aff5"),
    ("P", 2.0): ("regressor-p-psf2.safetensors",
                    "ae9a76bcccdf016d050959c3af9e94b92b940a1c64806106e88179a5c090b54e"),
    ("C-2D", 2.0): ("regressor-c-2d-psf2.safetensors",
                    "734823f03447229b60d410d5c32d9c6148841d3fa02071e6d816ec1e04c64f6a"),
    ("C-3D", 2.0): ("regressor-c-3d-psf2.safetensors",
                    "faaaf131813fdb4311ef0a64a4cce24c70c083325a189c9cb408e749a29ec489"),
    ("RF-2D", 2.0): ("regressor-rf-2d-psf2.safetensors",
                    "88079fbf6ca5e12f7dc166bbe0c23f7a7852f408dc6c1a7057cc8feb4e42408e"),
    ("RF-3D", 2.0): ("regressor-rf-3d-psf2.safetensors",
                    "f3c223ac8b864fe0c900e954c99338cc0a7058337439d260d1e7f3c466e5dd85"),
}

#: What the network reads: binary images, or grey images in phase units.
INPUT_KINDS = ("binary", "grey")


def models_folder() -> Path:
    """The ``models/`` folder inside the installed package."""
    return Path(str(resources.files("napari_hamiltonian") / "models"))


def check_psf_sigma(psf_sigma) -> float:
    """``psf_sigma`` as a float; ValueError unless it is a number >= 0 (pixels)."""
    if isinstance(psf_sigma, bool) or not isinstance(psf_sigma, (int, float)) \
            or not math.isfinite(psf_sigma) or psf_sigma < 0:
        raise ValueError(f"psf_sigma must be a number >= 0 (pixels), got {psf_sigma!r}")
    return float(psf_sigma)


def resolutions(input_kind: str = "binary") -> tuple[Resolution, ...]:
    """The shipped resolutions with a model reading ``input_kind`` images."""
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {input_kind!r}")
    return tuple(r for r in RESOLUTIONS if r.model(input_kind) is not None)


def nearest(psf_sigma: float | None, input_kind: str = "binary") -> Resolution:
    """The shipped resolution nearest to ``psf_sigma`` that has a model reading
    ``input_kind`` images (None: the lattice scale; the grey models need a sigma)."""
    if psf_sigma is None:
        if input_kind == "grey":
            raise ValueError("the grey models are for micrographs: give psf_sigma, the "
                             "point-spread function's Gaussian sigma in pixels")
        return RESOLUTIONS[0]
    sigma = check_psf_sigma(psf_sigma)
    return min(resolutions(input_kind), key=lambda r: (abs(r.psf_sigma - sigma),
                                                       r.psf_sigma))
