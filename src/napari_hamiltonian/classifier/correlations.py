"""Two-point statistics of a domain pattern: what the rejection reads beside the CNN.

The network is trained to tell the seven classes apart, not to notice that an image is
none of them; a hot Ising pattern, a blurred micrograph or wavy stripes can land among
the features of a class. The Table I models are, however, tight bands in a few plain
statistics of the pattern, which :mod:`napari_hamiltonian.classifier.rejection` models per class.
For a window of spins ``s = +-1`` (metal +1), ``w x w`` pixels, open boundaries (only
pairs inside the window count):

* ``|m|``: absolute magnetisation, the mean spin;
* ``G(d) = C(d) - m^2`` for ``d`` in :data:`DISTANCES`: the connected correlation along
  the lattice axes, ``C(d)`` the mean of ``s(r) s(r + d e)`` over pairs in the window,
  averaged over the two axes;
* ``|C_x(d) - C_y(d)|`` for ``d`` in :data:`ANISOTROPY`: anisotropy of the axes (stripes);
* the connected correlation along the diagonals at :data:`DIAGONALS` (mean of the two
  diagonals) and the difference of the two diagonals at :data:`DIAGONAL_ANISOTROPY`;
* the plaquette: the mean product of the four spins of each 2 x 2 block.

Distances longer than a third of the window are left out. Every statistic is invariant
under the 16 operations of Z2 x D4 (:mod:`napari_hamiltonian.classifier.symmetry`), so a window and
its symmetry-reduced form have the same values. Windows of a whole image are read from
integral images of the products (:func:`window_statistics`), in exact integer sums, so
they equal :func:`pattern_statistics` of the cropped windows bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Distances (pixels) of the axial connected correlations.
DISTANCES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: Distances (pixels) of the axis anisotropy.
ANISOTROPY = (1, 2, 4, 8, 16)
#: Distances (pixels, along each axis) of the diagonal correlations.
DIAGONALS = (1, 2, 4)
#: Distances of the difference between the two diagonals.
DIAGONAL_ANISOTROPY = (1, 2)
#: Images per chunk in :func:`pattern_statistics` (bounds memory).
CHUNK = 2048


def _within(values, window: int) -> tuple:
    return tuple(d for d in values if d <= window // 3)


def _terms(window: int) -> dict:
    """{name: spin offsets (dy, dx) >= 0} of the products summed over each window."""
    terms = {"m": ((0, 0),)}
    for d in sorted(set(_within(DISTANCES, window)) | set(_within(ANISOTROPY, window))):
        terms[f"x{d}"] = ((0, 0), (0, d))
        terms[f"y{d}"] = ((0, 0), (d, 0))
    for d in sorted(set(_within(DIAGONALS, window))
                    | set(_within(DIAGONAL_ANISOTROPY, window))):
        terms[f"d{d}"] = ((0, 0), (d, d))
        terms[f"a{d}"] = ((0, d), (d, 0))
    terms["p"] = ((0, 0), (0, 1), (1, 0), (1, 1))
    return terms


def statistic_names(window: int = 100) -> tuple[str, ...]:
    """Names of the statistics of a ``window``-pixel window, in column order."""
    return (("|m|",) + tuple(f"G({d})" for d in _within(DISTANCES, window))
            + tuple(f"|Cx-Cy|({d})" for d in _within(ANISOTROPY, window))
            + tuple(f"Gdiag({d})" for d in _within(DIAGONALS, window))
            + tuple(f"|Cdiag1-Cdiag2|({d})" for d in _within(DIAGONAL_ANISOTROPY, window))
            + ("plaquette",))


def _product(spins: np.ndarray, offsets) -> np.ndarray:
    """Product of ``spins[..., y + oy, x + ox]`` over the offsets, for every (y, x) where
    all of them fall inside the last two axes."""
    h, w = spins.shape[-2:]
    dy, dx = max(o[0] for o in offsets), max(o[1] for o in offsets)
    out = None
    for oy, ox in offsets:
        part = spins[..., oy:h - dy + oy, ox:w - dx + ox]
        out = part.copy() if out is None else np.multiply(out, part, out=out)
    return out


def _from_sums(sums: dict, window: int) -> np.ndarray:
    """(..., n_statistics) float64 from the integer sums of each term over windows."""
    def mean(name):
        offsets = _terms(window)[name]
        pairs = ((window - max(o[0] for o in offsets))
                 * (window - max(o[1] for o in offsets)))
        return sums[name] / pairs

    m = mean("m")
    m2 = m * m
    cols = [np.abs(m)]
    cols += [(mean(f"x{d}") + mean(f"y{d}")) / 2 - m2 for d in _within(DISTANCES, window)]
    cols += [np.abs(mean(f"x{d}") - mean(f"y{d}")) for d in _within(ANISOTROPY, window)]
    cols += [(mean(f"d{d}") + mean(f"a{d}")) / 2 - m2 for d in _within(DIAGONALS, window)]
    cols += [np.abs(mean(f"d{d}") - mean(f"a{d}"))
             for d in _within(DIAGONAL_ANISOTROPY, window)]
    cols.append(mean("p"))
    return np.stack(cols, -1)


def _spins(binary: np.ndarray) -> np.ndarray:
    b = np.asarray(binary)
    if b.dtype != bool and not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"pattern statistics need binary 0/1 images, got dtype {b.dtype}")
    return np.where(b > 0, np.int8(1), np.int8(-1))


def pattern_statistics(images: np.ndarray) -> np.ndarray:
    """The statistics of each of a stack of square binary images.

    Parameters
    ----------
    images : ndarray, shape (N, w, w)
        0/1 (or bool) images; 1 is metal (spin +1).

    Returns
    -------
    ndarray, float64, shape (N, n_statistics)
        Columns named by :func:`statistic_names` ``(w)``.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be a stack of square images (N, w, w), got shape "
                         f"{images.shape}")
    window = images.shape[1]
    terms = _terms(window)
    out = np.empty((len(images), len(statistic_names(window))))
    for start in range(0, len(images), CHUNK):
        spins = _spins(images[start:start + CHUNK])
        sums = {name: _product(spins, offsets).sum((1, 2), dtype=np.int64)
                for name, offsets in terms.items()}
        out[start:start + CHUNK] = _from_sums(sums, window)
    return out


def window_statistics(binary: np.ndarray, window: int, y0: np.ndarray,
                      x0: np.ndarray) -> np.ndarray:
    """The statistics of the ``window x window`` windows of one image at given corners.

    Equal to ``pattern_statistics`` of the cropped windows (exact integer sums), at the
    cost of one integral image per term, whatever the number of windows.

    Parameters
    ----------
    binary : ndarray, shape (H, W)
        0/1 image.
    window : int
        Window side (pixels).
    y0, x0 : ndarray of int, shape (m,)
        Top-left corners of the windows (each window inside the image).

    Returns
    -------
    ndarray, float64, shape (m, n_statistics)
    """
    spins = _spins(binary)
    y0, x0 = np.asarray(y0, np.intp), np.asarray(x0, np.intp)
    acc = np.int32 if spins.size < 2 ** 31 else np.int64
    sums = {}
    for name, offsets in _terms(window).items():
        product = _product(spins, offsets)
        integral = np.zeros((product.shape[0] + 1, product.shape[1] + 1), acc)
        np.cumsum(product, 0, dtype=acc, out=integral[1:, 1:])
        np.cumsum(integral[1:, 1:], 1, out=integral[1:, 1:])
        y1 = y0 + window - max(o[0] for o in offsets)
        x1 = x0 + window - max(o[1] for o in offsets)
        sums[name] = (integral[y1, x1].astype(np.int64) - integral[y0, x1]
                      - integral[y1, x0] + integral[y0, x0])
    return _from_sums(sums, window)
