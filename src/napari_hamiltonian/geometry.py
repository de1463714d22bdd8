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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

#: The measures, in report order, and their names for people.
MEASURES = ("tau", "hull", "volume", "pair")
MEASURE_NAMES = {"tau": "size exponent tau", "hull": "hull dimension d_h",
                 "volume": "volume dimension D", "pair": "pair-connectivity exponent eta"}
#: Exact 2D values: critical percolation and Ising clusters at T_c.
EXACT_PERCOLATION_2D = {"tau": 187 / 91, "hull": 7 / 4, "volume": 91 / 48, "pair": 5 / 24}
EXACT_ISING_2D = {"hull": 11 / 8, "volume": 187 / 96, "pair": 5 / 48,
                  "tau": 1 + 2 / (187 / 96)}
#: Default smallest cluster (pixels) in the size distribution and the dimensions.
MIN_SIZE = 10
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


def clusters(binary: np.ndarray, phases: str = "both") -> tuple[np.ndarray, int]:
    """Label the clusters of a binary image (4-connected, open boundaries).

    Parameters
    ----------
    binary : ndarray, shape (H, W)
        Binary image: bool, 0/1 or -1/+1 (1 / +1 is phase "1").
    phases : {"both", "1", "0"}
        Which phase's clusters: both (the default, as the papers), the 1s or the 0s.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 outside the chosen phases, 1..n the clusters (those of phase 1 first).
    n : int
    """
    from scipy import ndimage

    from ._binary import binarize

    b = binarize(binary)  # bool, 0/1 or -1/+1; a grey image is refused with the fix
    if phases not in ("both", "1", "0"):
        raise ValueError(f"phases must be 'both', '1' or '0', not {phases!r}")
    labels = np.zeros(b.shape, np.int32)
    n = 0
    for phase in (1, 0):
        if phases in ("both", str(phase)):
            lab, k = ndimage.label(b == phase, structure=_CROSS)
            labels[lab > 0] = lab[lab > 0] + n
            n += k
    return labels, n


def _cluster_table(labels: np.ndarray, n: int):
    """Per cluster (index 0 = cluster 1): size, radius of gyration, touches the edge."""
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
            seed: int = 0) -> Geometry:
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

    Returns
    -------
    Geometry
    """
    if int(min_size) < 1:
        raise ValueError(f"min_size must be at least 1 pixel, not {min_size}")
    labels, n = clusters(binary, phases)
    rng = np.random.default_rng(seed)
    values = dict.fromkeys(MEASURES, float("nan"))
    errors = dict.fromkeys(MEASURES, float("nan"))
    size, rg, edge = _cluster_table(labels, n)
    s_min = max(int(min_size), 2)
    s_max = max(int(MAX_SIZE_SHARE * labels.size), s_min + 1)
    inside = ~edge
    values["tau"], errors["tau"] = power_law_mle(size[inside], s_min, s_max)
    chosen = np.flatnonzero(inside & (size >= s_min) & (rg >= MIN_RADIUS))
    if len(chosen) >= MIN_CLUSTERS:
        hull = _hulls(labels, chosen)
        values["hull"], errors["hull"] = _slope_and_error(rg[chosen], hull, rng)
        values["volume"], errors["volume"] = _slope_and_error(rg[chosen], size[chosen], rng)
    if np.count_nonzero(inside) >= MIN_CLUSTERS:  # not one spanning cluster and dust
        values["pair"], errors["pair"] = _pair_exponent(labels)
    return Geometry(values={k: float(v) for k, v in values.items()},
                    errors={k: float(v) for k, v in errors.items()},
                    n_clusters=int(len(chosen)), n_edge=int(edge.sum()),
                    size_range=(s_min, s_max), min_size=int(min_size), phases=phases)


# ---------------------------------------------------------------------- references
_MODELS = Path(__file__).parent / "models"
#: Resolutions (Gaussian PSF sigma, px) with shipped references, as the CNN models.
REFERENCE_SIGMAS = (0.0, 1.0, 2.0, 3.0)


def reference_file(psf_sigma: float = 0.0) -> Path:
    """The shipped references of a resolution (0: sharp images)."""
    return _MODELS / ("geometry-references.json" if psf_sigma == 0 else
                      f"geometry-references-psf{psf_sigma:g}.json")


def default_min_size(psf_sigma: float = 0.0) -> int:
    """Smallest cluster (pixels) measured at a resolution: :data:`MIN_SIZE` for sharp
    images, else the area of a disc of radius 2 sigma (the PSF's core), rounded."""
    return max(MIN_SIZE, int(round(np.pi * (2 * psf_sigma) ** 2)))


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
        from ._files import atomic_write

        atomic_write(Path(path), json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def load(cls, path=None, psf_sigma: float = 0.0) -> References:
        """From ``path``, or the shipped references of the resolution nearest to
        ``psf_sigma`` (Gaussian sigma, px)."""
        if path is None:
            nearest = min(REFERENCE_SIGMAS, key=lambda s: abs(s - float(psf_sigma)))
            path = reference_file(nearest)
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
    from .simulate import make_dataset
    from .simulate.dataset import CLASS_TABLE

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
    from .optics import render_training_set
    from .simulate.outliers import pattern

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
    (:func:`napari_hamiltonian.optics.render_training_set`, physical threshold), with
    clusters from ``min_sizes`` (default :func:`default_min_size` of each sigma)."""
    from tqdm.auto import tqdm

    from .classes import CLASSES
    from .optics import render_training_set

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


# ------------------------------------------------------------------------- verdict
#: How many sigma a measure counts as missed when the image has it and fewer than
#: RARE_COVERAGE of a class's reference images do.
MISSING_SIGMA = 5.0
RARE_COVERAGE = 0.1

@dataclass
class Verdict:
    """Which classes' references the measured exponents are consistent with.

    Attributes
    ----------
    chi2 : dict of class -> float
        Sum over measures of ((value - reference mean) / combined sigma)^2, the sigma
        combining the measurement's uncertainty and the reference's spread; a measure
        the class's references lack counts :data:`MISSING_SIGMA` squared.
    n_measures : int
        Measures compared (finite in the image).
    consistent : list of str
        Classes with chi2 below the 95 % point of a chi-square law with ``n_measures``
        degrees of freedom, most likely first.
    likelihood : dict of class -> float
        exp(-chi2 / 2), normalised over the classes.
    """

    chi2: dict
    n_measures: int
    consistent: list
    likelihood: dict
    outside: list | None = None


def _chi2(geometry: Geometry, used: list, mean: dict, spread: dict, coverage: dict
          ) -> float:
    """chi2 of the measures ``used`` against one reference (see :class:`Verdict`)."""
    total, n = 0.0, 0
    for m in used:
        mu, sd = mean.get(m, np.nan), spread.get(m, np.nan)
        if coverage.get(m, 1.0) < RARE_COVERAGE:
            # the reference images (almost) never have this measure (P-3D slices: no
            # clusters large enough for a hull); the image has it: a clear miss
            total += MISSING_SIGMA ** 2
            n += 1
            continue
        if not (np.isfinite(mu) and np.isfinite(sd)):
            continue  # too few reference values to compare with
        sigma2 = geometry.errors[m] ** 2 + sd ** 2
        total += (geometry.values[m] - mu) ** 2 / max(sigma2, 1e-12)
        n += 1
    return total if n else float("nan")


def verdict(geometry: Geometry, references: References | None = None) -> Verdict:
    """Compare measured exponents with each class's reference range, and with the
    families of patterns none of the seven draws (``Verdict.outside``: the families
    the exponents fit as well; None when the references have none)."""
    from scipy.stats import chi2 as chi2_law

    ref = references or References.load()
    used = [m for m in MEASURES if np.isfinite(geometry.values[m])
            and np.isfinite(geometry.errors[m])]
    chi2 = {c: _chi2(geometry, used, ref.mean[c], ref.spread[c], ref.coverage.get(c, {}))
            for c in ref.mean}
    n_used = len(used)
    limit = chi2_law.ppf(0.95, max(n_used, 1))
    finite = {c: v for c, v in chi2.items() if np.isfinite(v)}
    consistent = sorted((c for c, v in finite.items() if v <= limit), key=finite.get)
    low = min(finite.values(), default=0.0)
    weights = {c: float(np.exp(-(v - low) / 2)) for c, v in finite.items()}
    total = sum(weights.values()) or 1.0
    outside = None
    if ref.outside:
        outside = [f for f, r in ref.outside.items()
                   if _chi2(geometry, used, r["mean"], r["spread"], r["coverage"]) <= limit]
    return Verdict(chi2=chi2, n_measures=n_used, consistent=consistent,
                   likelihood={c: w / total for c, w in weights.items()}, outside=outside)


def table_row(geometry: Geometry, v: Verdict) -> dict:
    """A frame's measures as CSV columns: each measure and its error (4 decimals), the
    clusters used and left out at the edge, the smallest cluster, the consistent
    classes (space-separated)."""
    row = {}
    for m in MEASURES:
        row[m] = round(geometry.values[m], 4)
        row[f"{m} error"] = round(geometry.errors[m], 4)
    row.update({"clusters": geometry.n_clusters, "edge clusters left out": geometry.n_edge,
                "min size": geometry.min_size, "consistent with": " ".join(v.consistent)})
    return row


def cnn_agrees(cnn_class: str, v: Verdict) -> bool:
    """Whether the CNN's answer (a class, or a group "RF-2D or RF-3D" the model cannot
    split) names a class the geometry is consistent with."""
    return any(c in v.consistent for c in cnn_class.split(" or "))


def agreement_message(cnn_class: str, v: Verdict) -> str:
    """Plain words on whether the geometry agrees with the CNN's answer: its majority
    class (or group), or "none of these" for an image unlike every class."""
    from .classes import CANNOT_TELL_NAME, NONE_NAME

    if v.n_measures == 0:
        return "the cluster geometry could not be measured (too few clusters)"
    fits = ", ".join(v.consistent) or "none of the seven"
    if cnn_class == CANNOT_TELL_NAME:
        return (f"the CNN cannot tell at this resolution; the cluster exponents fit "
                f"{fits}" + (f" and patterns none of the seven draws ({', '.join(v.outside)})"
                             if v.outside else ""))
    if cnn_class != NONE_NAME and v.outside and cnn_agrees(cnn_class, v):
        return (f"the cluster geometry cannot confirm the CNN ({cnn_class}): its exponents "
                f"fit {fits}, but also patterns none of the seven draws "
                f"({', '.join(v.outside)}) at this resolution")
    if cnn_class == NONE_NAME:
        if not v.consistent:
            return ("the CNN finds the image unlike every class, and its cluster geometry "
                    "matches none of the seven references either")
        return (f"the CNN finds the image unlike every class; its cluster exponents fit "
                f"{', '.join(v.consistent)}, but exponents alone do not rule out other "
                "patterns (stripes or checkerboards can fit a class)")
    if not v.consistent:
        return (f"the cluster geometry matches none of the seven references (the CNN "
                f"says {cnn_class})")
    which = ", ".join(v.consistent)
    if cnn_agrees(cnn_class, v):
        return f"the cluster geometry agrees with the CNN ({cnn_class}; consistent: {which})"
    return (f"the CNN and the cluster geometry disagree: the CNN says {cnn_class}, the "
            f"exponents are consistent with {which} only")
