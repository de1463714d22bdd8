"""The model card: what a trained model is for, how it was trained and how well it does."""

from __future__ import annotations

from .evaluation import (
    RESOLUTION_FACTORS,
    confusion_markdown,
    optics_markdown,
    percent,
    rejection_markdown,
)


def model_card(clf, train_meta: dict, test: dict | None, test_meta: dict | None,
               command: str, datasets: dict[str, dict] | None = None,
               optics: dict[str, dict] | None = None, notes: str | None = None,
               rejection: dict[str, dict] | None = None,
               resolution: dict[str, dict] | None = None,
               file_size: int | None = None, level_error: float = 0.0,
               variety: bool = False, extra_sets: list[dict] | None = None) -> str:
    """Markdown model card of a trained classifier: data, training, accuracy (also through
    the optical systems of :func:`evaluate_optics`, or at the resolutions of
    :func:`evaluate_resolution`, if given), limits, hand-written ``notes`` (Markdown, if
    given) and the commands that reproduce it; ``level_error`` is the training renders'
    error of the phase levels (grey models, units of the contrast), ``variety`` whether
    they drew the instrument per image, ``extra_sets`` the headers of the data sets
    joined to the first."""
    info = clf.training_info_
    params = clf.get_params()
    sigma = clf.psf_sigma
    grey = clf.input_kind == "grey"
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
    for m in extra_sets or []:
        lines.append(
            f"- Joined to it: {m.get('n_per_class')} images per class of "
            f"{', '.join(m.get('classes', []))}, seed {m.get('seed')}"
            + (" by the variant protocols (`simulate/variants.py`: windows of lattices "
               "twice as large, random-field snapshots at metal fraction 0.2-0.8)"
               if m.get("protocol") == "variants" else "") + ".")
    side = train_meta.get("size")
    if side and side != clf.window_:
        lines.append(f"- Images of {side}x{side} are rendered whole and their centre "
                     f"{clf.window_}x{clf.window_} kept, so that a window's edges carry "
                     "the blur of the field around it, as in a micrograph.")
    if sigma:
        lines.append(
            "- Rendered (`optics.render_training_set`): every image of the data sets, "
            "classes and none alike, is seen through "
            + ("an instrument drawn per image: an Airy or a Gaussian point-spread "
               f"function (half each) of width {sigma * 0.85:.2g}-{sigma * 1.15:.2g} px, "
               "additive, shot or 8-bit camera noise (a third each)"
               if variety else f"a Gaussian point-spread function of {sigma:g} px")
            + "; intensities drawn per image (insulator in [0, 2), "
            "contrast in [0.5, 3)), noise with signal to noise log-uniform in "
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
        *[f"| {e} | {percent(t)} | {percent(v)} |" for e, (t, v) in enumerate(
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
    groups = clf.class_groups_
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
                  f"{clf.storage}"
                  + (" (rounded before the rejection and the clusters were computed, so "
                     "the file is the model measured here; half the size keeps the "
                     "package with its six models under 80 MB)"
                     if clf.storage == "float16" else "") + "."]
    if optics:
        from ..imaging.optics import TEST_NOISE
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
                + (" --protocol variants --classes " + " ".join(m.get("classes", []))
                   if m.get("protocol") == "variants" else "")
                for path, m in (datasets or {}).items()]
    lines += ["", "## Reproduce", "", "```bash", *generate, command, "```", ""]
    return "\n".join(lines)
