"""Issue 26's targets: what each model says, at its own resolution, of images of the
seven and of images none of the seven drew.

For every model of a resolution (and the lattice-scale model on sharp images): the
test images of the classes rendered through its instrument (accepted share per class,
accuracy among the accepted, the group named counting as right for a member) and
images of every category of ``simulate/outliers.py`` rendered the same way (share
confidently named a class near criticality or a group of them, "cannot tell at this
resolution", P*, "none of these").

    python benchmarks/eval_none_resolution.py data/test_s200.npz data/none_s400.npz \
        [--models-dir DIR] [--second-protocol data/protocol2_s500.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from napari_hamiltonian import HamiltonianClassifier
from napari_hamiltonian.classes import CRITICAL_CLASSES, group_name
from napari_hamiltonian.classifier.pretrained import load_pretrained
from napari_hamiltonian.classifier.rejection import ACCEPTED, CANNOT_TELL
from napari_hamiltonian.simulate import load_dataset

sys.path.insert(0, str(Path(__file__).parent))
from calibrate_shipped import load_none, models, render  # noqa: E402
import protocol2  # noqa: E402


def decisions(clf, X):
    """(predicted names, named as: class or its group, decisions) of images."""
    z, h, st = clf.rejection_inputs(X)
    names = clf.classes_[z.argmax(1)]
    states = clf.decide(clf.rejection_scores_of(h, st), clf.distance_of_logits(z), names)
    groups = getattr(clf, "class_groups_", [])
    return names, np.array([group_name(n, groups) for n in names]), states


def in_class_rows(clf, X, y):
    """Per class and overall: accepted, cannot tell, accuracy among accepted."""
    names, named, states = decisions(clf, X)
    right = np.array([t in g.split(" or ") for t, g in zip(y, named)])
    rows = {}
    for c in [*sorted(set(y), key=list(clf.classes_).index), "all"]:
        m = np.ones(len(y), bool) if c == "all" else (y == c)
        acc = states[m] == ACCEPTED
        rows[c] = (acc.mean(), (states[m] == CANNOT_TELL).mean(),
                   right[m][acc].mean() if acc.any() else np.nan,
                   (names[m] == y[m]).mean())
    return rows


def none_rows(clf, X, families):
    """Per family: named critical (class or group), cannot tell, P*, none of these."""
    names, _, states = decisions(clf, X)
    critical = np.isin(names, CRITICAL_CLASSES)
    rows = {}
    for f in dict.fromkeys(families):
        m = families == f
        s, c = states[m], critical[m]
        rows[f] = ((s == ACCEPTED)[c].sum() / m.sum(), (s == CANNOT_TELL).mean(),
                   ((s == ACCEPTED) & ~c).mean(), (s == 0).mean())
    return rows


def model_list(models_dir, which="all"):
    for sigma, kind, name in models(which):
        mine = Path(models_dir or "") / name
        clf = (HamiltonianClassifier.load(mine, device="cpu") if models_dir and mine.is_file()
               else load_pretrained(sigma or None, kind))
        yield sigma, kind, name, clf


#: What the section says of the card's earlier figures.
CARD_NOTE = ('The rejection was fitted anew for this section (`benchmarks/calibrate_shipped.py`: the network unchanged, the rejection calibrated on renders of the classes, of `simulate/variants.py` and of every category of `simulate/outliers.py` at this resolution): the "accepted by the rejection" share and the table "What it rejects" above belong to the rejection before it; the figures here are the current ones.')
#: Markers of the section this script writes into a model card.
BEGIN, END = "<!-- eval_none_resolution: begin -->", "<!-- eval_none_resolution: end -->"


def card_name(model_file: str) -> str:
    """The card of a shipped model file: hamiltonian-cnn-psf2-grey.safetensors ->
    MODEL_CARD-psf2-grey.md."""
    return "MODEL_CARD" + model_file[len("hamiltonian-cnn"):-len(".safetensors")] + ".md"


def write_card_section(folder: Path, model_file: str, clf, lines: list[str]) -> None:
    """Replace (or append) the card's section of these tables."""
    from napari_hamiltonian.classes import CRITICAL_CLASSES

    path = folder / card_name(model_file)
    text = path.read_text()
    cut = clf.rejection_.cannot_tell
    unsure = [str(c) for c, t in zip(clf.classes_, cut) if np.isfinite(t)]
    told = [c for c in CRITICAL_CLASSES if c not in unsure]
    body = "\n".join([
        BEGIN,
        "## At this resolution: the seven, and what none of them drew",
        CARD_NOTE, "",
        "Measured by `python benchmarks/eval_none_resolution.py data/test_s200.npz "
        "data/none_s400.npz --second-protocol data/protocol2_s500.npz` (BENCHMARKS.md): "
        "independent-seed images of the classes rendered as the training set was "
        "(own protocol) and by a deliberately different generator and renderer "
        "(`benchmarks/protocol2.py`: other boundaries, slices, snapshot choice, sweep "
        "direction, Airy PSF, shot noise, 8-bit camera), and images of every category "
        "of `simulate/outliers.py` rendered the same way. \"named critical\": accepted "
        "and named a class near criticality (or a group of them); \"cannot tell\": "
        "accepted by the rejection, but the class is one this resolution cannot tell "
        "from patterns none of the seven draws, so no class is named.",
        "",
        "Classes told from every calibrated pattern family at this resolution (no "
        "\"cannot tell\" threshold): " + (", ".join(told) or "none") + ". Classes "
        "named only where the probability of \"none of these\" is below the threshold "
        "calibrated on the families (`rejection.cannot_tell`), and \"cannot tell at "
        "this resolution\" above it: " + (", ".join(unsure) or "none") + ".",
        "", *lines, END])
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("test", help="test set of the classes (independent seed)")
    ap.add_argument("none", help="file of none_set images (independent seed)")
    ap.add_argument("--models-dir", help="read the model files here (default: shipped)")
    ap.add_argument("--second-protocol", help="test set of the second protocol")
    ap.add_argument("--models", default="all", help="e.g. '0b,1b,2b,3b,2g,3g'")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cards", help="also write the tables into the model cards in this "
                    "folder (the section between the markers is replaced)")
    args = ap.parse_args()
    X, y, _, _ = load_dataset(args.test)
    y = y.astype(str)
    Xn, fam = load_none(args.none)
    sets = [("own protocol", X, y)]
    if args.second_protocol:
        X2, y2, _, _ = load_dataset(args.second_protocol)
        sets.append(("second protocol", X2, y2.astype(str)))
    for sigma, kind, name, clf in model_list(args.models_dir, args.models):
        lines = []
        print(f"\n## {name} (sigma {sigma:g} px, {kind})\n")
        out = lambda text: (print(text), lines.append(text))  # noqa: E731
        out("| images | class | accepted | cannot tell | right among accepted | right (all) |")
        out("|---|---|---|---|---|---|")
        for label, Xs, ys in sets:
            if label == "second protocol":
                imgs = protocol2.crop(Xs) if sigma == 0 else \
                    protocol2.render(Xs, sigma, kind, [args.seed, 3])
            else:
                imgs = Xs if sigma == 0 else render(Xs, sigma, kind, [args.seed, 1])
            for c, (a, ct, r, r_all) in in_class_rows(clf, imgs, ys).items():
                out(f"| {label} | {c} | {a:.1%} | {ct:.1%} | {r:.1%} | {r_all:.1%} |")
        imgs = Xn if sigma == 0 else render(Xn, sigma, kind, [args.seed, 2])
        out("")
        out("| none of the seven | named critical | cannot tell | P* | none of these |")
        out("|---|---|---|---|---|")
        for f, (cr, ct, ps, no) in none_rows(clf, imgs, fam).items():
            flag = " **over 10 %**" if cr > 0.10 else ""
            out(f"| {f} | {cr:.1%}{flag} | {ct:.1%} | {ps:.1%} | {no:.1%} |")
        sys.stdout.flush()
        if args.cards:
            write_card_section(Path(args.cards), name, clf, lines)


if __name__ == "__main__":
    main()
