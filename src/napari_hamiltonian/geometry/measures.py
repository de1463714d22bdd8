"""Cluster geometry: the fractal measures the CNN's answer is checked against.

The independent method of the group that proposed the classifier (Phillabaum, Carlson
and Dahmen, Nat. Commun. 3, 915 (2012); Liu et al., PRL 116, 036401 (2016)): the
clusters of a binary domain image and their critical exponents.

Conventions, as in those papers:

- **Clusters** are connected components of one phase with nearest-neighbour (4-)
  connectivity, of both phases by default (metal and insulator are measured alike). The
  image has **open boundaries** (a micrograph is not periodic).
- Clusters that **touch the image edge** are cut by it: their size, hull and radius are
  not the cluster's, so they are left out of the size distribution and the fractal
  dimensions (the number left out is reported). The pair connectivity counts every
  cluster (it is measured at distances much smaller than the image).
- Only clusters of at least ``min_size`` pixels enter the size distribution and the
  fractal dimensions, so that a point-spread function of a few pixels, which rounds or
  merges the smallest clusters, does not bias them: raise it above the PSF's area. The
  dimensions also need a radius of gyration of :data:`MIN_RADIUS` pixels (lattice-scale
  corrections below it).
- The **hull** of a cluster is its external perimeter: the cluster's holes (background
  regions enclosed by it, 8-connected, so fjords that reach outside only diagonally
  count as outside) are filled, then the edges between filled cluster and outside are
  counted. Its dimension is 7/4 for 2D percolation and 11/8 for 2D Ising clusters at
  T_c; the volume (area) dimension is 91/48 and 187/96.

Measures of :func:`measure`, each with a one-sigma uncertainty:

``tau``
    Exponent of the cluster-size distribution n(s) ~ s^-tau: maximum likelihood of a
    discrete power law truncated to [s_min, s_max] (not a least-squares fit of a
    histogram), uncertainty from the Fisher information. 187/91 for 2D percolation.
``hull``
    Hull fractal dimension d_h: hull length ~ R_g^d_h (radius of gyration R_g).
``volume``
    Volume fractal dimension D: area ~ R_g^D.
``pair``
    Decay exponent eta of the pair connectivity g(r) ~ r^-eta (probability that two
    pixels r apart, along the axes, are in one cluster); 5/24 for 2D percolation.

The dimensions and eta are fitted on log-binned data (least squares over logarithmic
bins, each bin the mean of its clusters), with bootstrap uncertainties over clusters
(dimensions) or over image rows and columns (eta).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..shipped import MIN_SIZE as SHARP_MIN_SIZE

#: The measures, in report order, and their names for people.
MEASURES = ("tau", "hull", "volume", "pair")

from ..imaging.region import check_mask, fill_outside, largest_rectangle

MEASURE_NAMES = {"tau": "size exponent tau", "hull": "hull dimension d_h",
                 "volume": "volume dimension D", "pair": "pair-connectivity exponent eta"}


#: Exact 2D values: critical percolation and Ising clusters at T_c.
EXACT_PERCOLATION_2D = {"tau": 187 / 91, "hull": 7 / 4, "volume": 91 / 48, "pair": 5 / 24}


EXACT_ISING_2D = {"hull": 11 / 8, "volume": 187 / 96, "pair": 5 / 48,
                  "tau": 1 + 2 / (187 / 96)}


#: Default smallest cluster (pixels) in the size distribution and the dimensions.
MIN_SIZE = SHARP_MIN_SIZE


#: Smallest radius of gyration (pixels) in the dimension fits: below it the lattice
#: bends hull and area against R_g (2D percolation at 512 px: d_h 1.63 from 1 px,
#: 1.77 from 4 px; exact 7/4).
MIN_RADIUS = 4.0


#: Fewest clusters (not touching the edge) a fit is made from; NaN below.
MIN_CLUSTERS = 20


#: Largest cluster in the size fit, as a share of the image's pixels.
MAX_SIZE_SHARE = 0.01


_BOOTSTRAP = 100


_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


_SQUARE = np.ones((3, 3), bool)


@dataclass
class Geometry:
    """Cluster measures of one binary image (see the module documentation).

    Attributes
    ----------
    values, errors : dict of str -> float
        Each measure of :data:`MEASURES` and its one-sigma uncertainty (NaN where too
        few clusters or distances allow no fit).
    n_clusters : int
        Clusters in the dimension fits (not touching the edge, at least ``min_size``
        pixels and :data:`MIN_RADIUS` in radius).
    n_edge : int
        Clusters left out because they touch the image edge.
    size_range : (int, int)
        The [s_min, s_max] of the size fit (pixels).
    min_size : int
        Smallest cluster used (pixels).
    phases : str
        "both", "1" or "0".
    """

    values: dict
    errors: dict
    n_clusters: int
    n_edge: int
    size_range: tuple
    min_size: int
    phases: str

    def as_dict(self) -> dict:
        return asdict(self)


def clusters(binary: np.ndarray, phases: str = "both", mask=None) -> tuple[np.ndarray, int]:
    """Label the clusters of a binary image (4-connected, open boundaries).

    Parameters
    ----------
    binary : ndarray, shape (H, W)
        Binary image: bool, 0/1 or -1/+1 (1 / +1 is phase "1").
    phases : {"both", "1", "0"}
        Which phase's clusters: both (the default, as the papers), the 1s or the 0s.
    mask : ndarray of bool, shape (H, W), optional
        The region of interest: pixels outside it belong to no cluster.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 outside the chosen phases, 1..n the clusters (those of phase 1 first).
    n : int
    """
    from scipy import ndimage

    from ..imaging.binary import binarize

    if mask is not None:
        binary = fill_outside(binary, mask)  # NaN outside allowed; no cluster there
    b = binarize(binary)  # bool, 0/1 or -1/+1; a grey image is refused with the fix
    if phases not in ("both", "1", "0"):
        raise ValueError(f"phases must be 'both', '1' or '0', not {phases!r}")
    labels = np.zeros(b.shape, np.int32)
    n = 0
    for phase in (1, 0):
        if phases in ("both", str(phase)):
            lab, k = ndimage.label((b == phase) if mask is None else (b == phase) & mask,
                                   structure=_CROSS)
            labels[lab > 0] = lab[lab > 0] + n
            n += k
    return labels, n


def _cluster_table(labels: np.ndarray, n: int, mask=None):
    """Per cluster (index 0 = cluster 1): size, radius of gyration, touches the edge
    (of the image, or of the region ``mask``)."""
    flat = labels.ravel()
    h, w = labels.shape
    y, x = np.divmod(np.arange(flat.size), w)
    size = np.bincount(flat, minlength=n + 1)[1:].astype(float)
    sums = [np.bincount(flat, weights=v, minlength=n + 1)[1:] for v in (y, x, y * y, x * x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        my, mx = sums[0] / size, sums[1] / size
        rg2 = sums[2] / size - my ** 2 + sums[3] / size - mx ** 2
    rg = np.sqrt(np.maximum(rg2, 0.0))
    edge = np.zeros(n + 1, bool)
    edge[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    if mask is not None:  # cut by the region's edge: next to a pixel outside it
        from scipy import ndimage
        edge[labels[ndimage.binary_dilation(~mask, _CROSS)]] = True
    return size, rg, edge[1:]


def _hulls(labels: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Hull length (edges) of each cluster index in ``chosen`` (0-based)."""
    from scipy import ndimage

    boxes = ndimage.find_objects(labels)
    out = np.empty(len(chosen))
    for k, c in enumerate(chosen):
        sy, sx = boxes[c]
        mask = np.pad(labels[sy, sx] == c + 1, 1)
        filled = ndimage.binary_fill_holes(mask, structure=_SQUARE)
        out[k] = (np.count_nonzero(filled[1:] != filled[:-1])
                  + np.count_nonzero(filled[:, 1:] != filled[:, :-1]))
    return out


def _binned_slope(x: np.ndarray, y: np.ndarray, width: float = 0.1) -> float:
    """Slope of log y against log x over logarithmic bins (bin means, equal weights)."""
    lx, ly = np.log(x), np.log(y)
    bins = np.floor(lx / (width * np.log(10))).astype(int)
    keys, inverse = np.unique(bins, return_inverse=True)
    if len(keys) < 3:
        return float("nan")
    count = np.bincount(inverse)
    mx = np.bincount(inverse, weights=lx) / count
    my = np.bincount(inverse, weights=ly) / count
    return float(np.polyfit(mx, my, 1)[0])


def _slope_and_error(x, y, rng) -> tuple[float, float]:
    slope = _binned_slope(x, y)
    if not np.isfinite(slope):
        return slope, float("nan")
    boot = [_binned_slope(x[i], y[i]) for i in
            (rng.integers(0, len(x), len(x)) for _ in range(_BOOTSTRAP))]
    return slope, float(np.nanstd(boot))


def power_law_mle(sizes: np.ndarray, s_min: int, s_max: int) -> tuple[float, float]:
    """Exponent tau of P(s) ~ s^-tau on the integers [s_min, s_max] by maximum
    likelihood, and its uncertainty (inverse Fisher information); NaN below
    :data:`MIN_CLUSTERS` sizes."""
    from scipy.optimize import minimize_scalar

    s = np.asarray(sizes, float)
    s = s[(s >= s_min) & (s <= s_max)]
    if len(s) < MIN_CLUSTERS or s_max <= s_min:
        return float("nan"), float("nan")
    support = np.arange(s_min, s_max + 1, dtype=float)
    log_support, mean_log = np.log(support), np.log(s).mean()

    def nll(tau):
        return tau * mean_log + np.log(np.exp(-tau * log_support).sum())

    tau = float(minimize_scalar(nll, bounds=(1.01, 4.0), method="bounded").x)
    p = np.exp(-tau * log_support)
    p /= p.sum()
    variance = (p * log_support ** 2).sum() - (p * log_support).sum() ** 2
    return tau, float(1.0 / np.sqrt(len(s) * variance))


def _pair_connectivity(labels: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """g(r): the share of pixel pairs r apart along rows and columns in one cluster,
    shape (2, len(distances)) (along x, along y)."""
    out = np.empty((2, len(distances)))
    for k, r in enumerate(distances):
        a, b = labels[:, :-r], labels[:, r:]
        out[0, k] = np.count_nonzero((a == b) & (a > 0)) / a.size
        a, b = labels[:-r], labels[r:]
        out[1, k] = np.count_nonzero((a == b) & (a > 0)) / a.size
    return out


def _eta(labels: np.ndarray, distances: np.ndarray) -> float:
    """Decay exponent of g(r) over ``distances`` (log-log least squares; NaN where g
    vanishes or fewer than three distances fit in the image)."""
    distances = distances[distances < min(labels.shape)]
    if len(distances) < 3:
        return float("nan")
    g = _pair_connectivity(labels, distances).mean(0)
    if not np.all(g > 0):
        return float("nan")
    return -float(np.polyfit(np.log(distances), np.log(g), 1)[0])


def _pair_exponent(labels: np.ndarray) -> tuple[float, float]:
    """eta over distances 2 to a side / 8, with an uncertainty from the image's halves
    (top, bottom, left, right) measured as independent samples."""
    side = min(labels.shape)
    distances = np.unique(np.round(np.geomspace(2, max(side // 8, 3), 10)).astype(int))
    eta = _eta(labels, distances)
    if not np.isfinite(eta):
        return float("nan"), float("nan")
    h, w = labels.shape
    parts = [labels[: h // 2], labels[h // 2:], labels[:, : w // 2], labels[:, w // 2:]]
    etas = [e for e in (_eta(p, distances[distances < min(p.shape) // 2]) for p in parts)
            if np.isfinite(e)]
    err = float(np.std(etas) / np.sqrt(len(etas) - 1)) if len(etas) > 1 else float("nan")
    return eta, err


def measure(binary: np.ndarray, min_size: int = MIN_SIZE, phases: str = "both",
            seed: int = 0, mask=None) -> Geometry:
    """The cluster measures of one binary image (see the module documentation).

    Parameters
    ----------
    binary : ndarray, shape (H, W)
        A binary domain image (bool, 0/1 or -1/+1; metal or up is 1), pixels as sites.
    min_size : int
        Smallest cluster (pixels) in the size distribution and the dimensions; raise it
        above the point-spread function's area for blurred micrographs.
    phases : {"both", "1", "0"}
        Clusters of both phases (default) or of one.
    seed : int
        Seed of the bootstrap (uncertainties only).
    mask : array_like of bool, shape (H, W), optional
        The region of interest, True on the sample: pixels outside it are in no
        cluster, clusters cut by its edge are left out like those cut by the image's,
        and the pair connectivity is measured in the largest rectangle inside it.

    Returns
    -------
    Geometry
    """
    mask = check_mask(mask, np.shape(binary))
    if int(min_size) < 1:
        raise ValueError(f"min_size must be at least 1 pixel, not {min_size}")
    labels, n = clusters(binary, phases, mask)
    rng = np.random.default_rng(seed)
    values = dict.fromkeys(MEASURES, float("nan"))
    errors = dict.fromkeys(MEASURES, float("nan"))
    size, rg, edge = _cluster_table(labels, n, mask)
    s_min = max(int(min_size), 2)
    area = labels.size if mask is None else int(mask.sum())
    s_max = max(int(MAX_SIZE_SHARE * area), s_min + 1)
    inside = ~edge
    values["tau"], errors["tau"] = power_law_mle(size[inside], s_min, s_max)
    chosen = np.flatnonzero(inside & (size >= s_min) & (rg >= MIN_RADIUS))
    if len(chosen) >= MIN_CLUSTERS:
        hull = _hulls(labels, chosen)
        values["hull"], errors["hull"] = _slope_and_error(rg[chosen], hull, rng)
        values["volume"], errors["volume"] = _slope_and_error(rg[chosen], size[chosen], rng)
    if np.count_nonzero(inside) >= MIN_CLUSTERS:  # not one spanning cluster and dust
        values["pair"], errors["pair"] = _pair_exponent(
            labels if mask is None else labels[largest_rectangle(mask)])
    return Geometry(values={k: float(v) for k, v in values.items()},
                    errors={k: float(v) for k, v in errors.items()},
                    n_clusters=int(len(chosen)), n_edge=int(edge.sum()),
                    size_range=(s_min, s_max), min_size=int(min_size), phases=phases)
