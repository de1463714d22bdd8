"""A data set simulated and written to one file: the command line's ``generate``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..classes import CLASSES
from ..output.files import check_writable
from .dataset import make_dataset, save_dataset
from .table import NONE
from .variants import faithful_variants

#: Protocols of :func:`generate_to_file`: the training set of Table I
#: (:func:`~napari_hamiltonian.simulate.dataset.make_dataset`), or the classes by other
#: protocol choices inside Table I
#: (:func:`~napari_hamiltonian.simulate.variants.faithful_variants`).
PROTOCOLS = ("table", "variants")


def _check_memory(n_per_class: int, size: int, classes, n_none: int) -> None:
    """ValueError, before any simulation, when the images (and a 3D class's lattices)
    would not fit in this machine's memory, with the fix."""
    from ..tuning import physical_memory

    memory = physical_memory()
    if memory is None:
        return
    drawn = [c for c in (classes or CLASSES) if c in CLASSES]
    n = int(n_per_class) * (len(drawn) + ("P*" in drawn)) + int(n_none)
    need = 3 * n * size * size  # the images, their packed copy and the file's buffer
    if any(c.endswith("3D") for c in drawn):  # 3D lattices: a few chains of size^3 sites
        need = max(need, 16 * size ** 3)
    if need > 0.8 * memory:
        raise ValueError(f"{n} images of {size}x{size} (and their lattices) need about "
                         f"{need / 2**30:.0f} GiB; this machine has {memory / 2**30:.0f} "
                         "GiB: generate fewer images per file (train joins files) or "
                         "smaller ones")


def generate_to_file(path, n_per_class=8000, size=100, seed=0, classes=None,
                     overwrite=False, progress=True, n_none: int = 0,
                     protocol: str = "table") -> dict:
    """Simulate a data set and save it (see
    :func:`~napari_hamiltonian.simulate.dataset.make_dataset`,
    :func:`~napari_hamiltonian.simulate.dataset.save_dataset`;
    ``protocol="variants"``: :func:`~napari_hamiltonian.simulate.variants.faithful_variants`,
    images of the classes only)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"data set files end in .npz, got {path.name!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "variants" and n_none:
        raise ValueError("the variant protocols draw images of the classes only: generate "
                         "images of none of them (--none) in a data set of their own")
    if path.exists() and not overwrite:  # fail before the minutes of simulation
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    _check_memory(n_per_class, size, classes, n_none)
    check_writable(path.parent)
    t0 = time.perf_counter()
    if protocol == "variants":
        X, y = faithful_variants(n_per_class, size, seed, classes)
        params = {"parameter": np.full(len(y), np.nan)}
    else:
        X, y, params = make_dataset(n_per_class, size, seed, classes, progress, n_none)
    info = {"seed": seed, "n_per_class": n_per_class, "size": size, "n_none": n_none,
            "protocol": protocol,
            "classes": sorted(set(y.tolist()) - {NONE}, key=CLASSES.index),
            "seconds": round(time.perf_counter() - t0, 1)}
    save_dataset(path, X, y, params, info, overwrite=overwrite)
    return info
