"""Images of the classes drawn with other protocol choices, inside Table I.

A real sample, or another group's simulator, shows the same Hamiltonians through other
choices than :func:`~napari_hamiltonian.simulate.make_dataset` makes: a field of view
cut from a larger sample (open boundaries), random-field snapshots further from the
coercive point. The rejection is calibrated on these too, so that it keys on the
physics rather than on our protocol (issue 26):

* C-2D: 100 x 100 windows at random places of 200 x 200 periodic lattices;
* RF-2D: the same windows of 200 x 200 field sweeps, snapshots in the metal-fraction
  window :data:`WIDE_UP_FRACTION` (the training set's: 0.35-0.65);
* RF-3D: slices of 100^3 sweeps in that window.

The other classes (3D clean Ising slices along every axis already, percolation
uncorrelated by construction) are drawn as in the training set.
"""

from __future__ import annotations

import numpy as np

from ._common import check_count
from .dataset import make_dataset
from .table import CLASS_TABLE
from .ising import sample_ising
from .rfim import sample_rfim

#: Metal fractions of the random-field snapshots (around the coercive field).
WIDE_UP_FRACTION = (0.2, 0.8)
#: Side of the 2D lattices the windows are cut from, in window sides.
LATTICE_FACTOR = 2


def _windows(images: np.ndarray, size: int, corners: np.ndarray) -> np.ndarray:
    """The ``size`` x ``size`` window of each image at its (y, x) of ``corners``."""
    out = np.empty((len(images), size, size), np.uint8)
    for i, (img, (y, x)) in enumerate(zip(images, corners)):
        out[i] = img[y:y + size, x:x + size]
    return out


def faithful_variants(n_per_class: int, size: int = 100, seed=0, classes=None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Images of the seven classes by the variant protocols of the module docstring.

    Parameters
    ----------
    n_per_class : int
        Images per class (P* twice as many, as in the training set).
    size : int
        Image side (even).
    seed : int or numpy.random.SeedSequence
    classes : sequence of str, optional
        The classes to draw (default all seven); each class's images are the same
        whichever others are drawn.

    Returns
    -------
    X : ndarray, uint8, shape (N, size, size)
    y : ndarray of str, shape (N,)
    """
    n = check_count(n_per_class, "n_per_class")
    order = [c for c in CLASS_TABLE if classes is None or c in classes]
    unknown = set(classes or ()) - set(CLASS_TABLE)
    if unknown or not order:
        raise ValueError(f"unknown class(es) {sorted(unknown)}; choose from "
                         f"{list(CLASS_TABLE)}")
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    s_ising, s_rf2, s_rf3, s_rest, s_win = seq.spawn(5)
    rng = np.random.default_rng(s_win)
    big = LATTICE_FACTOR * size
    corners = {c: np.array([rng.integers(0, big - size + 1, 2) for _ in range(n)])
               for c in ("C-2D", "RF-2D")}  # drawn whichever classes are asked for
    draw = {
        "C-2D": lambda: _windows(sample_ising(n, big, CLASS_TABLE["C-2D"][2], 2,
                                              s_ising)[0], size, corners["C-2D"]),
        "RF-2D": lambda: _windows(sample_rfim(n, big, CLASS_TABLE["RF-2D"][2], 2, s_rf2,
                                              up_fraction=WIDE_UP_FRACTION)[0],
                                  size, corners["RF-2D"]),
        "RF-3D": lambda: sample_rfim(n, size, CLASS_TABLE["RF-3D"][2], 3, s_rf3,
                                     up_fraction=WIDE_UP_FRACTION)[0],
    }
    parts = {c: draw[c]() for c in order if c in draw}
    rest = [c for c in order if c not in draw]
    if rest:
        X, y, _ = make_dataset(n, size, int(s_rest.generate_state(1)[0]), classes=rest,
                               progress=False)
        for c in rest:
            parts[c] = X[y == c]
    return (np.concatenate([parts[c] for c in order]),
            np.concatenate([np.full(len(parts[c]), c) for c in order]))
