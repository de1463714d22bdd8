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
                    "1f176353ca6bcdcd96ee5734750cadeea23b7fe8e12efa299179e27e51fbf5a2"),
    ("C-2D", 0.0): ("regressor-c-2d.safetensors",
                    "da43d28a6ec1ed605991b4c561978226fc59b9cf85a671e4b9772c4916d97be6"),
    ("RF-2D", 0.0): ("regressor-rf-2d.safetensors",
                    "1a8e17c40914c3c5108b9cfbdff3743073e67d95c4ae41e64bfb007eb51f6a55"),
    ("C-3D", 0.0): ("regressor-c-3d.safetensors",
                    "a1d9c3a7a69bb5ffad87f8f037f6784b7bc387953f7aaf7e700d5ef340e9566e"),
    ("RF-3D", 0.0): ("regressor-rf-3d.safetensors",
                    "eba3c3ce325f79b2e2df19d850f48211c22c779f13ae9421e160d686a3f446f3"),
    ("P", 2.0): ("regressor-p-psf2.safetensors",
                    "5add7d68e8f485ffb4bd3f130a5c9e0a20dff2d9957da08cf970db7392cc0fe1"),
    ("C-2D", 2.0): ("regressor-c-2d-psf2.safetensors",
                    "35f50eb62b2db5bff63c71ae70ae9f5b2c9dd3b2e2fec05262ac23f31c52d0d3"),
    ("RF-2D", 2.0): ("regressor-rf-2d-psf2.safetensors",
                    "f739e073e620560295b7355d50790479c86fd7ae1508ec6d75f3e420a7e3ca64"),
    ("RF-3D", 2.0): ("regressor-rf-3d-psf2.safetensors",
                    "bbdd293965bced9fec7472884caa776ee130e729c46aac769e4a0f5a3741ab22"),
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
