"""The verdict of the cluster geometry: which classes' references a frame's measures are
consistent with, and its words beside the CNN's answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .measures import MEASURES, Geometry
from .references import References

#: How many sigma a measure counts as missed when the image has it and fewer than
#: RARE_COVERAGE of a class's reference images do.
MISSING_SIGMA = 5.0


RARE_COVERAGE = 0.1

#: Why nothing is said of a frame none of whose clusters was measured ({min_size}: px).
NO_CLUSTER = ("no cluster of at least {min_size} pixels lies away from the edge (a "
              "smaller --min-size counts smaller ones)")


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
    outside : list of str or None
        Families of patterns none of the seven draws that the exponents fit as well.
    clusters, min_size : int or None
        Clusters measured (away from the edge) and the smallest size counted (pixels).
    """

    chi2: dict
    n_measures: int
    consistent: list
    likelihood: dict
    outside: list | None = None
    clusters: int | None = None
    min_size: int | None = None


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
                   likelihood={c: w / total for c, w in weights.items()}, outside=outside,
                   clusters=geometry.n_clusters, min_size=geometry.min_size)


def table_row(geometry: Geometry, v: Verdict) -> dict:
    """A frame's measures as CSV columns: each measure and its error (4 decimals), the
    clusters used and left out at the edge, the smallest cluster, the consistent
    classes (space-separated)."""
    row = {}
    for m in MEASURES:
        row[m] = round(geometry.values[m], 4)
        row[f"{m} error"] = round(geometry.errors[m], 4)
    row.update({"clusters": geometry.n_clusters, "edge clusters left out": geometry.n_edge,
                "min size": geometry.min_size,  # no cluster measured: nothing to say
                "consistent with": " ".join(v.consistent) if geometry.n_clusters else ""})
    return row


def cnn_agrees(cnn_class: str, v: Verdict) -> bool:
    """Whether the CNN's answer (a class, or a group "RF-2D or RF-3D" the model cannot
    split) names a class the geometry is consistent with."""
    return any(c in v.consistent for c in cnn_class.split(" or "))


def agreement_message(cnn_class: str, v: Verdict) -> str:
    """Plain words on whether the geometry agrees with the CNN's answer: its majority
    class (or group), or "none of these" for an image unlike every class."""
    from ..classes import CANNOT_TELL_NAME, NONE_NAME

    if v.n_measures == 0:
        return "the cluster geometry could not be measured (too few clusters)"
    if v.clusters == 0:  # the pair connectivity alone confirms nothing
        return ("the cluster geometry could not be measured: "
                + NO_CLUSTER.format(min_size=v.min_size))
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
