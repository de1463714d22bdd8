"""The geometry references: the measures of each class over its Table I range (and of
pattern families none of the seven draws), from our own simulations at each shipped
resolution; building them (``napari-hamiltonian geometry-references``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..shipped import RESOLUTIONS, Resolution, nearest
from .measures import MEASURES, MIN_SIZE, measure

#: Resolutions (Gaussian PSF sigma, px) with shipped references, as the CNN models.
REFERENCE_SIGMAS = tuple(r.psf_sigma for r in RESOLUTIONS)


def reference_file(psf_sigma: float = 0.0) -> Path:
    """The references file of a resolution (0: sharp images), shipped or to build."""
    return Resolution(psf_sigma, ("", "")).references


def default_min_size(psf_sigma: float = 0.0) -> int:
    """Smallest cluster (pixels) measured at a resolution (:attr:`Resolution.min_size`)."""
    return Resolution(psf_sigma, ("", "")).min_size


def references_for(clf) -> References:
    """The shipped references for the resolution of the model ``clf``."""
    return References.load(psf_sigma=clf.psf_sigma)


@dataclass
class References:
    """The measures of each class over its Table I range, from our own simulations.

    Attributes
    ----------
    mean, spread : dict of class -> dict of measure -> float
        Mean and standard deviation over the reference images.
    coverage : dict of class -> dict of measure -> float
        Share of the reference images in which the measure could be made (enough
        clusters): P-3D slices almost never have clusters large enough for a hull.
    info : dict
        How they were made (images per class, size, seed, ``min_size``, ``psf_sigma``,
        the command).
    outside : dict of family -> {"mean", "spread", "coverage"} -> dict of measure -> float
        The same for families of patterns none of the seven draws
        (:data:`OUTSIDE_FAMILIES`, through the same microscope): a verdict that cannot
        exclude them does not confirm a class. Empty in references built before them.
    """

    mean: dict
    spread: dict
    info: dict = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    outside: dict = field(default_factory=dict)

    def save(self, path) -> None:
        from ..output.files import atomic_write

        atomic_write(Path(path), json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def load(cls, path=None, psf_sigma: float = 0.0) -> References:
        """From ``path``, or the shipped references of the resolution nearest to
        ``psf_sigma`` (Gaussian sigma, px)."""
        if path is None:
            path = nearest(float(psf_sigma)).references
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no geometry references at {path}; build them with "
                             "`napari-hamiltonian geometry-references`")
        return cls(**json.loads(path.read_text()))

    @property
    def min_size(self) -> int:
        """The smallest cluster the references were measured with (pixels)."""
        return int(self.info.get("min_size", MIN_SIZE))


def reference_images(code: str, n: int, size: int, seed: int, lattices: int = 10
                     ) -> np.ndarray:
    """``n`` images of class ``code`` drawn as the training set is (Table I ranges,
    :func:`napari_hamiltonian.simulate.make_dataset`); a 3D class's images are slices
    of ``lattices`` independent lattices (a few slices each, so that the spread over
    the class's temperature or disorder range is sampled, not one lattice's slices)."""
    from ..simulate import make_dataset
    from ..simulate.table import CLASS_TABLE

    if CLASS_TABLE[code][0] not in ("ising3d", "rfim3d"):
        return make_dataset(n, size=size, seed=seed, classes=[code], progress=False)[0]
    per = -(-n // lattices)
    parts = [make_dataset(per, size=size, seed=seed + 104729 * j, classes=[code],
                          progress=False)[0][:per] for j in range(lattices)]
    return np.concatenate(parts)[:n]


#: Families of patterns none of the seven draws that the references include
#: (``simulate/outliers.py``): what a labyrinth, bubbles or smoothed noise measure.
OUTSIDE_FAMILIES = ("smooth field", "stretched field", "labyrinth", "bubbles", "stripes")


def _summary(rows: list[dict]) -> tuple[dict, dict, dict]:
    """(mean, spread, coverage) of each measure over rows of :class:`Geometry` values."""
    table = {m: np.array([r[m] for r in rows]) for m in MEASURES}
    mean = {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            for m, v in table.items()}
    spread = {m: float(np.nanstd(v)) if np.isfinite(v).sum() > 1 else float("nan")
              for m, v in table.items()}
    coverage = {m: float(np.isfinite(v).mean()) for m, v in table.items()}
    return mean, spread, coverage


def outside_references(n_per_family: int = 26, size: int = 384, seed: int = 0,
                       psf_sigma: float = 0.0, min_size: int | None = None,
                       families=OUTSIDE_FAMILIES) -> dict:
    """:attr:`References.outside` of one resolution: each family's measures over
    ``n_per_family`` images of ``size`` pixels, rendered as the classes' references are
    (:func:`build_references`)."""
    from ..imaging.optics import render_training_set
    from ..simulate.outliers import pattern

    min_size = default_min_size(psf_sigma) if min_size is None else int(min_size)
    out = {}
    for k, f in enumerate(families):
        X = pattern(f, n_per_family, size, seed + 7907 * k)
        images = X if psf_sigma == 0 else render_training_set(X, psf_sigma, seed + 7907 * k)
        mean, spread, coverage = _summary([measure(x, min_size).values for x in images])
        out[f] = {"mean": mean, "spread": spread, "coverage": coverage}
    return out


def build_references(n_per_class: int = 26, size: int = 384, seed: int = 0,
                     psf_sigmas=(0.0,), min_sizes=None, lattices: int = 10,
                     classes=None, progress: bool = True) -> list[References]:
    """The references of each resolution in ``psf_sigmas``, from one set of simulated
    images per class (:func:`reference_images`): measured as they are for sigma 0, or
    through the microscope the models of that resolution are trained on
    (:func:`napari_hamiltonian.imaging.optics.render_training_set`, physical threshold), with
    clusters from ``min_sizes`` (default :func:`default_min_size` of each sigma)."""
    from tqdm.auto import tqdm

    from ..classes import CLASSES
    from ..imaging.optics import render_training_set

    sigmas = [float(s) for s in psf_sigmas]
    sizes = [default_min_size(s) for s in sigmas] if min_sizes is None else \
        [int(m) for m in min_sizes]
    tables = {s: ({}, {}, {}) for s in sigmas}
    for k, c in enumerate(tqdm(classes or CLASSES, desc="classes", disable=not progress)):
        X = reference_images(c, n_per_class * (2 if c == "P*" else 1), size,
                             seed + 7919 * k, lattices)
        for sigma, min_size in zip(sigmas, sizes):
            images = X if sigma == 0 else render_training_set(X, sigma, seed + 7919 * k)
            mean, spread, coverage = tables[sigma]
            mean[c], spread[c], coverage[c] = _summary([measure(x, min_size).values
                                                        for x in images])
    return [References(*tables[s][:2], {"n_per_class": n_per_class, "size": size,
                                        "seed": seed, "min_size": m, "psf_sigma": s,
                                        "lattices_3d": lattices}, tables[s][2],
                       outside_references(n_per_class, size, seed, s, m))
            for s, m in zip(sigmas, sizes)]
