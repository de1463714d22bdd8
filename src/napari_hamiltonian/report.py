"""Reports: evaluation tables, the model card and the plots of whole-image results
(bar charts, 7-D projections, the proximity-to-criticality curve)."""

from __future__ import annotations

import numpy as np

from .classes import (CANNOT_TELL_COLOR, CANNOT_TELL_NAME, NONE_COLOR, NONE_NAME,
                      class_color, reliable_accuracy)

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
    :data:`napari_hamiltonian.optics.TEST_OPTICS`, with noise ``TEST_NOISE``."""
    from .optics import TEST_NOISE, TEST_OPTICS, micrograph

    rng = np.random.default_rng(seed)
    return {name: evaluate(clf, micrograph(X, psf, TEST_NOISE, rng), y)
            for name, psf in TEST_OPTICS.items()}


#: Widths, relative to a model's own, at which :func:`evaluate_resolution` measures it.
RESOLUTION_FACTORS = (0.75, 1.0, 1.25)


def evaluate_resolution(clf, X, y, seed=0) -> dict[str, dict]:
    """:func:`evaluate` of a model trained for a point-spread function of
    ``clf.psf_sigma`` px on renders of the lattice images (X, y)
    (:func:`napari_hamiltonian.optics.render_training_set`) at that width and at
    :data:`RESOLUTION_FACTORS` times it, each binarised at the physical level and by
    Otsu's threshold. Keys: "sigma S px, physical" etc.

    A grey model (``input_kind="grey"``) reads the grey renders instead, with the phase
    levels known exactly and known to within :data:`LEVEL_ERRORS` of the contrast
    (keys "sigma S px, grey, levels exact" and "..., levels within 5 %")."""
    from .optics import render_training_set

    out = {}
    for factor in RESOLUTION_FACTORS:
        sigma = clf.psf_sigma * factor
        if getattr(clf, "input_kind", "binary") == "grey":
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


def _percent(value) -> str:
    return "-" if value is None else f"{value:.2%}"


def model_card(clf, train_meta: dict, test: dict | None, test_meta: dict | None,
               command: str, datasets: dict[str, dict] | None = None,
               optics: dict[str, dict] | None = None, notes: str | None = None,
               rejection: dict[str, dict] | None = None,
               resolution: dict[str, dict] | None = None,
               file_size: int | None = None, level_error: float = 0.0) -> str:
    """Markdown model card of a trained classifier: data, training, accuracy (also through
    the optical systems of :func:`evaluate_optics`, or at the resolutions of
    :func:`evaluate_resolution`, if given), limits, hand-written ``notes`` (Markdown, if
    given) and the commands that reproduce it; ``level_error`` is the training renders'
    error of the phase levels (grey models, units of the contrast)."""
    info = clf.training_info_
    params = clf.get_params()
    sigma = getattr(clf, "psf_sigma", 0.0)
    grey = getattr(clf, "input_kind", "binary") == "grey"
    lines = [
        "# Model card: napari-hamiltonian seven-class CNN"
        + (f" for a point-spread function of {sigma:g} px" if sigma else ""),
        "",
        f"Classifies a {'grey' if grey else 'binary'} {clf.window_}x{clf.window_} domain "
        "image by the Hamiltonian "
        "that drew it (Basak et al. 2022): symmetry reduction, then the CNN (32@5x5, pool, 64@5x5, "
        f"pool, dense {clf.hidden_units}, dropout 0.5, dense {len(clf.classes_)}).",
        "",
        "## Data",
        f"- Training set: `make_dataset(n_per_class={train_meta.get('n_per_class')}, "
        f"size={train_meta.get('size')}, seed={train_meta.get('seed')})`, "
        f"{info['n_train'] + info['n_validation']} images of the classes (P* twice per "
        f"class) and {train_meta.get('n_none', 0)} of none of them (`--none`: out-of-range "
        "models, patterns, blurred renders; `simulate/outliers.py`), simulated in "
        f"{train_meta.get('seconds')} s; split {info['n_train']} train / "
        f"{info['n_validation']} validation images of the classes (stratified, seed from "
        f"random_state={params['random_state']}), "
        f"{info.get('n_outliers_train', 0)} / {info.get('n_outliers_validation', 0)} of "
        "none. No image appears twice.",
    ]
    if sigma:
        lines.append(
            f"- Rendered (`optics.render_training_set`): every image of the data sets, "
            f"classes and none alike, is seen through a Gaussian point-spread function "
            f"of {sigma:g} px; intensities drawn per image (insulator in [0, 2), "
            "contrast in [0.5, 3)), white noise with signal to noise log-uniform in "
            "[3, 20], then "
            + ("the grey levels in phase units, scaled by the two intensities as a user "
               "knows them: each drawn within "
               f"{level_error:.0%} of the contrast of the true one. The model reads "
               "grey images scaled the same way (`classify_image(..., levels=(insulator, "
               "metal))`); the test set below is scaled by the true levels."
               if grey else "the physical threshold halfway between the two intensities. "
               "The model reads images binarised the same way."))
    if test_meta is not None:
        lines.append(
            f"- Test set: `make_dataset(n_per_class={test_meta.get('n_per_class')}, "
            f"seed={test_meta.get('seed')})`, {test['n']} images, simulated independently "
            "of the training set.")
    lines += [
        "",
        "## Training",
        f"- {clf.n_iter_} epochs, Adam (learning rate {clf.learning_rate}), batch "
        f"{clf.batch_size}, symmetry reduction {clf.symmetry_reduction}, augmentation "
        f"{clf.augmentation}.",
        f"- Time: {info['seconds_total']} s in all, {info['seconds_training_steps']} s of "
        f"optimisation ({info['images_per_second']} images/s) on {info['device']} with "
        f"{info['torch_threads']} torch threads, torch {info['torch_version']}, "
        f"napari-hamiltonian {info['package_version']}.",
        "- Outlier exposure: the images of none of the classes are trained towards equal "
        "probabilities of all classes (weight 0.5). The rejection (`rejection.py`: the "
        "likelihood of the image's pattern statistics (`correlations.py`) under each "
        "class's Gaussian mixture, and a small network trained on the dense-layer "
        "features and statistics of the training split's images of the classes against "
        "its images of none) is calibrated to reject "
        f"{clf.false_rejection:.0%} of the held-out validation images of the classes.",
        "",
        "Accuracy per epoch (Fig. 5 of the paper; training accuracy over the epoch's "
        "batches in training mode, validation after the epoch):",
        "",
        "| epoch | training | validation |",
        "|---|---|---|",
        *[f"| {e} | {_percent(t)} | {_percent(v)} |" for e, (t, v) in enumerate(
            zip(clf.training_scores_ or [None] * len(clf.validation_scores_),
                clf.validation_scores_), 1)],
        "",
        (f"Kept: the weights after epoch {info['kept_epoch']}, the best validation "
         "accuracy (`keep_best_epoch`)." if params.get("keep_best_epoch")
         and "kept_epoch" in info else "Kept: the weights after the last epoch."),
        "",
        "Validation confusion matrix (kept weights):",
        "",
        confusion_markdown(clf.validation_confusion_, [str(c) for c in clf.classes_]),
    ]
    if test is not None:
        lines += [
            "",
            "## Test set (independent seed)",
            f"- Accuracy: **{test['accuracy']:.2%}** on {test['n']} images of the classes; "
            f"accepted by the rejection: {test['confident']:.2%}.",
            "- Per class: " + ", ".join(f"{c} {a:.2%}" for c, a in test["per_class"].items())
            + ".",
            "",
            confusion_markdown(test["confusion"], test["classes"]),
        ]
    groups = getattr(clf, "class_groups_", [])
    if sigma:
        lines += [
            "",
            "## Accuracy by resolution and binarisation",
            "The test images rendered at this width and at "
            + ", ".join(f"{f:g}x" for f in RESOLUTION_FACTORS if f != 1)
            + " of it, "
            + ("in phase units scaled by the true levels and by levels misjudged (each "
               "drawn within the stated share of the contrast)" if grey else
               "binarised at the physical level and by Otsu's threshold")
            + " (`report.evaluate_resolution`).",
            "",
            optics_markdown(resolution or {}) if resolution else "(no test set)",
            "",
            "Classes it cannot tell apart (validation images; a pair is one group when "
            "more than 20 % of the pair's images get the other's label; outputs name the "
            "group): " + ("; ".join(" or ".join(g) for g in groups) if groups else "none")
            + ".",
        ]
        for name, r in (resolution or {}).items():
            if name.startswith(f"sigma {sigma:g} px"):
                lines += ["", f"Confusion, {name}:", "",
                          confusion_markdown(r["confusion"], r["classes"])]
    if file_size:
        lines += ["", f"Model file: {file_size / 1e6:.1f} MB, weights stored as "
                  f"{getattr(clf, 'storage', 'float32')}"
                  + (" (rounded before the rejection and the clusters were computed, so "
                     "the file is the model measured here; half the size keeps the "
                     "package with its six models under 80 MB)"
                     if getattr(clf, "storage", "float32") == "float16" else "") + "."]
    if optics:
        from .optics import TEST_NOISE
        lines += [
            "",
            "## Test set through a microscope",
            "The same test images blurred by a point-spread function, with noise "
            f"({TEST_NOISE} of the metal/insulator contrast), then thresholded by Otsu's "
            "method image by image (`report.evaluate_optics`); training never blurs.",
            "",
            optics_markdown(optics),
        ]
    if rejection:
        lines += [
            "",
            "## What it rejects (\"none of these\")",
            "Share of independent-seed test images rejected, by category, for the "
            "rejection (`score_confidence`) and for the three readings of the paper's "
            f"k-sigma rule (k = {clf.confidence_k}; `paper_confidence`): nearest training "
            "point within k |sigma_c|, every component within k sigma_c,i of the cluster "
            "centre (box), or inside the k-sigma ellipsoid. In-range rows should be low, "
            "none rows high.",
            "",
            rejection_markdown(rejection),
        ]
    lines += [
        "",
        "## Limits",
        f"Trained on simulations only (Table I ranges, {clf.window_}x{clf.window_} "
        "images, 1 = up = metal). On real images it answers which of the "
        f"{len(clf.classes_)} models a window resembles most, and the rejection says when "
        f"none of the {len(clf.classes_)} fits. It was taught and measured on the "
        "categories above; a pattern unlike all of them may still be accepted.",
    ]
    if optics:
        acc = [r["accuracy"] for r in optics.values()]
        conf = [r["confident"] for r in optics.values()]
        text = ("The model reads pixels as lattice sites. Blurred and thresholded, the "
                f"test images above are classified right {min(acc):.0%}-{max(acc):.0%} of "
                f"the time, and the rejection accepts {min(conf):.0%}-{max(conf):.0%} of "
                "them")
        if min(conf) > max(acc):
            text += (": the rejection does not detect a resolution coarser than "
                     "a pixel. Its answers are meant for images whose pixels resolve the "
                     "domains")
        lines += ["", text + "."]
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    generate = [f"napari-hamiltonian generate {path} --n-per-class {m.get('n_per_class')} "
                f"--size {m.get('size')} --seed {m.get('seed')}"
                + (f" --none {m['n_none']}" if m.get("n_none") else "")
                for path, m in (datasets or {}).items()]
    lines += ["", "## Reproduce", "", "```bash", *generate, command, "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots
def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def save_figure(fig, path) -> None:
    """Write a figure (PNG by suffix) atomically."""
    import io
    from pathlib import Path

    from ._files import atomic_write
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png")
    atomic_write(Path(path), buf.getvalue())


def bar_chart(fractions: dict, title: str = "", ax=None, cannot_tell: float = 0.0):
    """Bar chart of window shares per class, as in Figs. 7 and 9 of Basak et al.

    Each bar is the share of windows predicted as that class; its bright part is the
    share that is also confident (the rejection accepts it), the dark part the rest
    ("not named"). A grey bar "none" beside the seven is the share of all windows that
    are none of the classes, and a light grey bar "cannot tell" the share the model's
    resolution cannot tell (the dark parts together are the two).

    Parameters
    ----------
    fractions : dict
        {class: (share of windows, confident share)}, e.g. ``WindowResult.fractions()``.
    cannot_tell : float
        Share of windows "cannot tell at this resolution" (``WindowResult.undecided()``).
    """
    import matplotlib.colors as mcolors

    fig = None
    if ax is None:
        fig = _figure(5.2, 3.2)
        ax = fig.add_subplot()
    names = list(fractions)
    total = np.array([fractions[c][0] for c in names]) * 100
    conf = np.array([fractions[c][1] for c in names]) * 100
    colors = [class_color(c, k) for k, c in enumerate(names)]
    dark = [tuple(0.45 * np.array(mcolors.to_rgb(c))) for c in colors]
    x = np.arange(len(names))
    ax.bar(x, conf, color=colors, edgecolor="black", linewidth=0.6, label="confident")
    ax.bar(x, total - conf, bottom=conf, color=dark, edgecolor="black", linewidth=0.6,
           label="flagged")
    unsure = 100 * float(cannot_tell)
    none = max(float((total - conf).sum()) - unsure, 0.0)
    extra = [("none", none, NONE_COLOR)] + ([("cannot\ntell", unsure, CANNOT_TELL_COLOR)]
                                            if unsure > 0 else [])
    for k, (_, v, color) in enumerate(extra):
        ax.bar([len(names) + k], [v], color=color, edgecolor="black", linewidth=0.6)
        ax.text(len(names) + k, v + 1.5, f"{v:.0f}%", ha="center", va="bottom", fontsize=7)
    for xi, t, c in zip(x, total, conf):
        if t > 0:
            ax.text(xi, t + 1.5, f"{t:.0f}%\n({c:.0f}%)", ha="center", va="bottom",
                    fontsize=7)
    ax.set_xticks(list(x) + [len(names) + k for k in range(len(extra))],
                  names + [e[0] for e in extra])
    ax.set_ylim(0, 1.3 * max(100, total.max()))  # room for two-line bar labels
    ax.set_ylabel("windows (%)")
    ax.set_title(title or "classification of windows (confident share in brackets)",
                 fontsize=9)
    from matplotlib.patches import Patch
    not_named = "not named" if unsure > 0 else "none of these"
    ax.legend(handles=[Patch(facecolor="0.8", edgecolor="black", label="confident"),
                       Patch(facecolor="0.3", edgecolor="black", label=not_named)],
              fontsize=7, loc="upper right", frameon=False)
    return fig if fig is not None else ax.figure


def _cluster_points(clf, names, per_class: int, rng) -> list[np.ndarray]:
    """Training-cluster points in ``names`` column order, subsampled per class."""
    idx = [[str(c) for c in clf.classes_].index(c) for c in names]
    out = []
    for c in idx:
        pts = clf.clusters_.points[c][:, idx]
        if len(pts) > per_class:
            pts = pts[rng.choice(len(pts), per_class, replace=False)]
        out.append(pts)
    return out


def distribution_plot(clf, logits: np.ndarray, confident: np.ndarray, names=None,
                      max_points: int = 4000, title: str = "", seed: int = 0):
    """Two 3-D projections of the last-layer space (Figs. 6, 8, 10 of Basak et al.).

    Training clusters are drawn as small coloured points; the data's windows on top,
    black dots where confident and red crosses where "none of these".

    Parameters
    ----------
    clf : HamiltonianClassifier
        Fitted; supplies the training clusters.
    logits : ndarray, shape (N, n_classes)
        The data's last-layer values, columns in ``names`` order.
    confident : ndarray of bool, shape (N,)
    names : sequence of str, optional
        Column names of ``logits`` (default the classifier's classes).
    """
    rng = np.random.default_rng(seed)
    names = [str(c) for c in (names if names is not None else clf.classes_)]
    logits = np.asarray(logits).reshape(-1, len(names))
    confident = np.asarray(confident).ravel()
    if len(logits) > max_points:
        keep = rng.choice(len(logits), max_points, replace=False)
        logits, confident = logits[keep], confident[keep]
    clusters = _cluster_points(clf, names, 400, rng)
    axes_sets = [(0, 1, 2), (3, 4, 5)] if len(names) >= 6 else [(0, 1, min(2, len(names) - 1))]
    fig = _figure(10, 4.8)
    for k, dims in enumerate(axes_sets):
        ax = fig.add_subplot(1, len(axes_sets), k + 1, projection="3d")
        for c, pts in enumerate(clusters):
            ax.scatter(*pts[:, dims].T, s=4, alpha=0.35, color=class_color(names[c], c),
                       label=names[c] if k == 0 else None, depthshade=False)
        ok = confident
        ax.scatter(*logits[ok][:, dims].T, s=6, color="black", label="data, confident"
                   if k == 0 else None, depthshade=False)
        ax.scatter(*logits[~ok][:, dims].T, s=10, color="red", marker="x",
                   label="data, none of these" if k == 0 else None, depthshade=False)
        ax.set_xlabel(f"z[{names[dims[0]]}]", fontsize=8)
        ax.set_ylabel(f"z[{names[dims[1]]}]", fontsize=8)
        ax.set_zlabel(f"z[{names[dims[2]]}]", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.legend(loc="outside right center", fontsize=7, markerscale=2, frameon=False)
    fig.suptitle(title or "last-layer values: training clusters and the data's windows",
                 fontsize=10)
    return fig


def criticality_curve(x, distance, confident_fraction, classes=None, xlabel="frame"):
    """Proximity to criticality across a stack, beside the confident fraction.

    Parameters
    ----------
    x : array_like, shape (T,)
        Frame index or temperature.
    distance : array_like, shape (T,)
        Distance of each frame's last-layer centre of mass from the training cluster of
        its majority class, in units of that cluster's |sigma_c|.
    confident_fraction : array_like, shape (T,)
        Share of confident windows per frame.
    classes : sequence of str, optional
        Majority class per frame (colours the markers).
    """
    fig = _figure(9, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    x = np.asarray(x, float)
    colors = ["black"] * len(x) if classes is None else [
        class_color(c, k) for k, c in enumerate(classes)]
    ax1.plot(x, distance, color="0.6", lw=1, zorder=1)
    ax1.scatter(x, distance, c=colors, s=28, edgecolor="black", linewidth=0.5, zorder=2)
    ax1.set_xlabel(xlabel)
    ax1.set_ylabel(r"distance to training cluster ($|\sigma_c|$)")
    ax1.set_title("proximity to criticality (smaller = closer)", fontsize=9)
    ax1.set_ylim(bottom=0)
    if classes is not None:
        from matplotlib.lines import Line2D
        seen = list(dict.fromkeys(classes))
        ax1.legend(handles=[Line2D([], [], marker="o", ls="", color=class_color(c, k),
                                   markeredgecolor="black", label=c)
                            for k, c in enumerate(seen)],
                   fontsize=7, frameon=False, title="majority class", title_fontsize=7)
    ax2.plot(x, 100 * np.asarray(confident_fraction), "o-", color="black", ms=4)
    ax2.set_xlabel(xlabel)
    ax2.set_ylabel("confident windows (%)")
    ax2.set_ylim(0, 105)
    ax2.set_title("confident fraction", fontsize=9)
    if xlabel == "frame":
        from matplotlib.ticker import MaxNLocator
        for ax in (ax1, ax2):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


#: What the tool says of a frame whose windows are mostly "none of these" ({advice}:
#: :data:`LATTICE_ADVICE` for the lattice-scale model, :data:`RESOLUTION_ADVICE` for a
#: model of a resolution).
UNLIKE_EVERY_CLASS = (
    "this image is unlike every training class ('none of these'): {share:.0%} of its "
    "windows were drawn by none of the seven models as far as the model can tell. "
    "{advice}")
LATTICE_ADVICE = (
    "If the microscope's point-spread function spans several pixels, the lattice-scale "
    "model cannot read the image: use the model for its resolution (psf_sigma, "
    "--psf-sigma or the widget's PSF sigma; estimate_psf_sigma estimates it from the grey "
    "image). Otherwise its domains come from none of the seven Hamiltonians, or from "
    "parameters outside their ranges")
RESOLUTION_ADVICE = (
    "Read at a point-spread function of {sigma:g} px: its domains come from none of the "
    "seven Hamiltonians, or from parameters outside their ranges, or the point-spread "
    "function is not {sigma:g} px (check it, e.g. with estimate_psf_sigma on the grey "
    "image before any denoising)")
#: Words for a frame the model's resolution cannot tell (``WindowResult.answer()``).
CANNOT_TELL_WORDS = (
    "cannot tell at this resolution: {share:.0%} of its windows look like a class near "
    "criticality but, seen through this point-spread function, also like patterns none "
    "of the seven models draws (level sets of smoothed noise, labyrinths, parameters "
    "outside Table I; the model card's table says which), so no class is named for "
    "them ({split}). {advice}")
SHARPER_ADVICE = "A sharper image (a smaller point-spread function) may tell them apart"
GREY_ADVICE = ("The grey model (the phase levels, levels= / --levels) or a sharper image "
               "may tell them apart")


def split_words(result) -> str:
    """The shares of one result's windows in each state, in words."""
    return (f"{result.confident.mean():.0%} named, {result.undecided():.0%} cannot tell, "
            f"{result.rejected():.0%} none of these")


def unlike_message(results, frames=None, clf=None) -> str:
    """Plain words for the frames whose windows are mostly rejected or that the model's
    resolution cannot tell ("" if none are).

    Parameters
    ----------
    results : sequence of WindowResult
    frames : sequence of int, optional
        Frame numbers of ``results`` (default 0, 1, ...).
    clf : HamiltonianClassifier, optional
        The model that read them: its resolution and input decide the advice.
    """
    frames = list(range(len(results))) if frames is None else list(frames)
    sigma = float(getattr(clf, "psf_sigma", 0.0) or 0.0)
    grey = getattr(clf, "input_kind", "binary") == "grey"
    advice = {NONE_NAME: RESOLUTION_ADVICE.format(sigma=sigma) if sigma else LATTICE_ADVICE,
              CANNOT_TELL_NAME: SHARPER_ADVICE if grey else GREY_ADVICE}
    out = []
    for answer, words, share in ((NONE_NAME, UNLIKE_EVERY_CLASS, "rejected"),
                                 (CANNOT_TELL_NAME, CANNOT_TELL_WORDS, "undecided")):
        hit = [(t, r) for t, r in zip(frames, results) if r.answer() == answer]
        if hit:
            which = (f"frame {hit[0][0]}" if len(hit) == 1 else
                     f"{len(hit)} of {len(results)} frames")
            t, worst = max(hit, key=lambda h: getattr(h[1], share)())
            split = split_words(worst) + ("" if len(hit) == 1 else f" in frame {t}")
            out.append(f"{which}: " + words.format(share=getattr(worst, share)(),
                                                   split=split, advice=advice[answer]))
    return "; ".join(out)


def answer_line(results, frames=None) -> str:
    """What the model says of each frame, in one line: "RF-2D (88% named, 12% cannot
    tell, 0% none of these)" for one frame, the answers and their frame counts for a
    stack."""
    frames = list(range(len(results))) if frames is None else list(frames)
    if len(results) == 1:
        return f"{results[0].answer()} ({split_words(results[0])})"
    answers: dict = {}
    for t, r in zip(frames, results):
        answers.setdefault(r.answer(), []).append(t)
    return f"{len(results)} frames: " + "; ".join(
        f"{a} in {len(ts)} (frame{'s' if len(ts) > 1 else ''} {_ranges(ts)})" for a, ts in
        sorted(answers.items(), key=lambda kv: -len(kv[1])))


def _ranges(frames) -> str:
    """Frame numbers as ranges: 0-3, 5, 7-8."""
    out, start = [], None
    for k, t in enumerate(frames):
        if start is None:
            start = t
        if k + 1 == len(frames) or frames[k + 1] != t + 1:
            out.append(f"{start}" if start == t else f"{start}-{t}")
            start = None
    return ", ".join(out)


def chance_message(accuracy: float, n_classes: int) -> str:
    """A warning when a trained model's validation accuracy is under
    :func:`~napari_hamiltonian.classes.reliable_accuracy` ("" otherwise, or without a
    validation accuracy): such a model certifies no window."""
    chance = 1.0 / max(n_classes, 1)
    if not np.isfinite(accuracy) or accuracy >= reliable_accuracy(n_classes):
        return ""
    return (f"validation accuracy {accuracy:.1%} is near chance ({chance:.1%} for "
            f"{n_classes} classes), less than halfway from it to perfect: the model has "
            "not learned to tell the classes apart and will mark no window confident; "
            "train on more images per class or for more epochs before using it")


def groups_message(groups) -> str:
    """Plain words for the classes a model cannot tell apart ("" if it can tell all)."""
    if not groups:
        return ""
    return ("at this resolution the model cannot tell apart "
            + "; ".join(" and ".join(g) for g in groups)
            + ": windows of these classes are named by their group ("
            + "; ".join(" or ".join(g) for g in groups) + ")")


#: Classes a grey model tells apart by density alone, which the phase levels set.
DENSITY_CLASSES = ("P-2D", "P*")


def levels_message(clf, results) -> str:
    """Plain words on what a grey model's answers rest on, where it matters: when one
    of the results (WindowResult) is mostly P-2D or P*, which the model tells apart by
    the density the phase levels set ("" otherwise, and for binary models)."""
    if getattr(clf, "input_kind", "binary") != "grey":
        return ""
    if not any(r.answer() in DENSITY_CLASSES for r in results):
        return ""
    return ("P-2D against P* rests on the phase levels: the grey model reads them apart "
            "by density, which levels off by 5 % of the contrast move as much as separates "
            "them; trust it with levels known to about 3 %, or compare the binary model")


def frame_summary(result) -> dict:
    """One CSV row for a WindowResult: shares per class, confident shares and the
    majority class (its group, "P-2D or P*", where the model cannot tell its members
    apart)."""
    fr = result.fractions()
    row = {}
    for c, (f, cf) in fr.items():
        row[f"fraction {c}"] = round(f, 6)
        row[f"confident {c}"] = round(cf, 6)
    row["confident"] = round(float(result.confident.mean()), 6)
    row["none of these"] = round(result.rejected(), 6)
    row[CANNOT_TELL_NAME] = round(result.undecided(), 6)
    if result.paper_confident is not None:
        row["paper k-sigma confident"] = round(float(result.paper_confident.mean()), 6)
    row["majority"] = result.majority()
    row["answer"] = result.answer()
    return row


def criticality_distance(clf, result) -> float:
    """Distance of the centre of mass of the windows of the majority class from that
    class's training cluster centre, in units of its |sigma_c| (the paper's proximity
    to criticality)."""
    k = int(np.bincount(result.labels.ravel(), minlength=len(result.classes)).argmax())
    name = result.classes[k]
    cols = [result.classes.index(str(c)) for c in clf.classes_]
    z = result.logits[result.labels == k][:, cols]
    return clf.clusters_.center_distance(z, [str(c) for c in clf.classes_].index(name))


def write_csv(path, rows: list[dict]) -> None:
    """Write rows (dicts with the same keys) as CSV, atomically."""
    import csv
    import io
    from pathlib import Path

    from ._files import atomic_write
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(path), buf.getvalue().encode())


def geometry_plot(x, measures, references, xlabel: str = "frame", title: str = "",
                  fig=None):
    """Each cluster measure of each frame against the seven classes' reference ranges.

    Parameters
    ----------
    x : array_like, shape (T,)
        Frame numbers or temperatures.
    measures : sequence of napari_hamiltonian.geometry.Geometry
        One per frame.
    references : napari_hamiltonian.geometry.References
        Mean and spread of each measure per class (bands of +- one spread).
    fig : matplotlib Figure, optional
        Drawn into (the widget's); a new one by default.
    """
    from .geometry import MEASURE_NAMES, MEASURES

    fig = _figure(9, 6.2) if fig is None else fig
    axes = fig.subplots(2, 2).ravel()
    x = np.asarray(x, float)
    # half a frame each side, or 5 % of a temperature or field range
    pad = 0.5 if xlabel == "frame" or len(x) < 2 or np.ptp(x) == 0 else 0.05 * np.ptp(x)
    span = (x.min() - pad, x.max() + pad) if len(x) else (0, 1)
    for ax, m in zip(axes, MEASURES):
        for k, c in enumerate(references.mean):
            mu, sd = references.mean[c][m], references.spread[c][m]
            if np.isfinite(mu) and np.isfinite(sd):
                ax.axhspan(mu - sd, mu + sd, color=class_color(c, k), alpha=0.25, lw=0)
                ax.axhline(mu, color=class_color(c, k), lw=1)
                ax.text(span[1], mu, f" {c}", color=class_color(c, k), fontsize=6,
                        va="center", ha="left", clip_on=False)
        v = np.array([g.values[m] for g in measures])
        e = np.array([g.errors[m] for g in measures])
        ax.errorbar(x, v, yerr=e, fmt="o", color="black", ms=4, capsize=2, zorder=3,
                    label="measured")
        ax.set_xlim(*span)
        ax.set_xlabel(xlabel)
        ax.set_title(MEASURE_NAMES[m], fontsize=9)
        if xlabel == "frame":
            from matplotlib.ticker import MaxNLocator
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(title or "cluster geometry against the seven classes' references "
                 "(bands: +- one spread)", fontsize=9)
    return fig
