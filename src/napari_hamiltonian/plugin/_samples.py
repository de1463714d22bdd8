"""Sample data contributions (File > Open Sample > Hamiltonian classifier)."""

from __future__ import annotations

import json

import tifffile

from ..samples import sample_path


def _meta() -> dict:
    return json.loads(sample_path("rf2d_stack_fields.json").read_text())


def rf2d_stack():
    """The binary RF-2D field-sweep stack (8, 300, 300), metal = 1."""
    data = tifffile.imread(sample_path("rf2d_stack.tif"))
    return [(data, {"name": "RF-2D field sweep", "contrast_limits": (0, 1),
                    "metadata": _meta()}, "image")]


def rf2d_stack_gray():
    """The same stack as a blurred, noisy 8-bit microscope view (needs a threshold)."""
    data = tifffile.imread(sample_path("rf2d_stack_gray.tif"))
    return [(data, {"name": "RF-2D field sweep (grayscale)", "contrast_limits": (0, 255),
                    "metadata": _meta()}, "image")]


def gallery():
    """One 100x100 image per class, in CLASSES order (7, 100, 100)."""
    from ..classes import CLASSES
    data = tifffile.imread(sample_path("gallery.tif"))
    return [(data, {"name": "seven-class gallery", "contrast_limits": (0, 1),
                    "metadata": {"classes": list(CLASSES)}}, "image")]
