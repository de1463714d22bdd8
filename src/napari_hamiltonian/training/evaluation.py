"""How well a model does: accuracy, confusion, acceptance and rejection on test sets,
under the microscope and at other resolutions, as tables for the model card."""

from __future__ import annotations

import numpy as np

#: The readings of the paper's k-sigma rule (:meth:`HamiltonianClassifier.paper_confidence`).
PAPER_READINGS = ("nearest", "box", "ellipsoid")


def acceptance(clf, X) -> dict[str, float]:
    """Share of images ``X`` accepted by the rejection and by each reading of the
    paper's rule: {"rejection": ..., "paper nearest": ..., "paper box": ...,
    "paper ellipsoid": ...}."""
    z, h, st = clf.rejection_inputs(X)
    pred = z.argmax(1)
    out = {"rejection": float(np.mean(clf.confident_of(z, h, st)))}
    out["paper nearest"] = float(np.mean(clf.paper_confident(clf.distance_of_logits(z))))
    for reading in PAPER_READINGS[1:]:
        out[f"paper {reading}"] = float(np.mean(
            clf.clusters_.within(z, pred, clf.confidence_k, reading)))
    return out


def rejection_table(clf, X, y, params, none_label: str = "none") -> dict[str, dict]:
    """:func:`acceptance` per category of a test set: the in-range images of the
    classes (all, and each class) and each "none of these" category (``params["slice"]``
    of images labelled ``none_label``; blurred renders also by their class)."""
    y = np.asarray(y)
    cat = np.asarray(params["slice"]).astype(str)
    out = {"in range, all classes": acceptance(clf, X[y != none_label])}
    for c in clf.classes_:
        out[f"in range, {c}"] = acceptance(clf, X[y == c])
    for name in sorted(set(cat[y == none_label])):
        out[f"none: {name}"] = acceptance(clf, X[(y == none_label) & (cat == name)])
    return out


def rejection_markdown(table: dict[str, dict]) -> str:
    """Rejected share per category, for the rejection and each paper reading."""
    cols = ["rejection"] + [f"paper {r}" for r in PAPER_READINGS]
    head = "| images | " + " | ".join(f"rejected by {c}" for c in cols) + " |"
    rule = "|---" * (len(cols) + 1) + "|"
    rows = [f"| {name} | " + " | ".join(f"{1 - r[c]:.1%}" for c in cols) + " |"
            for name, r in table.items()]
    return "\n".join([head, rule, *rows])


def evaluate(clf, X, y) -> dict:
    """Accuracy, per-class accuracy, confusion matrix and confident share of ``clf`` on (X, y).

    Returns
    -------
    dict
        ``accuracy`` (float), ``per_class`` ({label: accuracy}), ``confusion`` ((C, C) int,
        rows true, columns predicted, ``classes`` order), ``classes`` (list),
        ``confident`` (share of images accepted by the rejection), ``n`` (images).
    """
    y = np.asarray(y)
    z, h, st = clf.rejection_inputs(X)
    classes = clf.classes_
    pred_i = z.argmax(1)
    true_i = np.searchsorted(classes, y)
    n = len(classes)
    conf = np.bincount(true_i * n + pred_i, minlength=n * n).reshape(n, n)
    per_class = {str(c): float(conf[i, i] / conf[i].sum()) for i, c in enumerate(classes)
                 if conf[i].sum()}
    confident = clf.confident_of(z, h, st)
    return {"accuracy": float(np.mean(pred_i == true_i)), "per_class": per_class,
            "confusion": conf, "classes": [str(c) for c in classes],
            "confident": float(confident.mean()), "n": int(len(y))}


def evaluate_optics(clf, X, y, seed: int = 0) -> dict[str, dict]:
    """:func:`evaluate` on thresholded micrographs of (X, y), one per optical system of
    :data:`napari_hamiltonian.imaging.optics.TEST_OPTICS`, with noise ``TEST_NOISE``."""
    from ..imaging.optics import TEST_NOISE, TEST_OPTICS, micrograph

    rng = np.random.default_rng(seed)
    return {name: evaluate(clf, micrograph(X, psf, TEST_NOISE, rng), y)
            for name, psf in TEST_OPTICS.items()}


#: Widths, relative to a model's own, at which :func:`evaluate_resolution` measures it.
RESOLUTION_FACTORS = (0.75, 1.0, 1.25)


def evaluate_resolution(clf, X, y, seed=0) -> dict[str, dict]:
    """:func:`evaluate` of a model trained for a point-spread function of
    ``clf.psf_sigma`` px on renders of the lattice images (X, y)
    (:func:`napari_hamiltonian.imaging.optics.render_training_set`) at that width and at
    :data:`RESOLUTION_FACTORS` times it, each binarised at the physical level and by
    Otsu's threshold. Keys: "sigma S px, physical" etc.

    A grey model (``input_kind="grey"``) reads the grey renders instead, with the phase
    levels known exactly and known to within :data:`LEVEL_ERRORS` of the contrast
    (keys "sigma S px, grey, levels exact" and "..., levels within 5 %")."""
    from ..imaging.optics import render_training_set

    out = {}
    for factor in RESOLUTION_FACTORS:
        sigma = clf.psf_sigma * factor
        if clf.input_kind == "grey":
            for error in LEVEL_ERRORS:
                images = render_training_set(X, sigma, seed, binarisation="none",
                                             level_error=error)
                name = "levels exact" if not error else f"levels within {error:.0%}"
                out[f"sigma {sigma:g} px, grey, {name}"] = evaluate(clf, images, y)
            continue
        for binarisation in ("physical", "otsu"):
            images = render_training_set(X, sigma, seed, binarisation=binarisation)
            out[f"sigma {sigma:g} px, {binarisation}"] = evaluate(clf, images, y)
    return out


#: Errors of the phase levels (units of the contrast, each level drawn within it) at
#: which :func:`evaluate_resolution` measures grey models.
LEVEL_ERRORS = (0.0, 0.05, 0.1)


def optics_markdown(results: dict[str, dict]) -> str:
    """Accuracy per optical system and class, and confident share, as a Markdown table."""
    classes = next(iter(results.values()))["classes"]
    head = "| optical system | all | " + " | ".join(classes) + " | confident |"
    rule = "|---" * (len(classes) + 3) + "|"
    rows = [f"| {name} | {r['accuracy']:.1%} | "
            + " | ".join(f"{r['per_class'].get(c, float('nan')):.0%}" for c in classes)
            + f" | {r['confident']:.0%} |" for name, r in results.items()]
    return "\n".join([head, rule, *rows])


def confusion_markdown(confusion: np.ndarray, classes: list[str]) -> str:
    """A confusion matrix as a Markdown table (rows true class, columns predicted)."""
    head = "| true \\ predicted | " + " | ".join(classes) + " |"
    rule = "|---" * (len(classes) + 1) + "|"
    rows = [f"| {c} | " + " | ".join(str(int(v)) for v in row) + " |"
            for c, row in zip(classes, confusion)]
    return "\n".join([head, rule, *rows])


def percent(value) -> str:
    return "-" if value is None else f"{value:.2%}"
