"""Per-frame numbers of a result: shares, the confident share, the proximity to
criticality, and the CSV they are written to."""

from __future__ import annotations

import numpy as np

from ..classes import (
    CANNOT_TELL_NAME,
)


def frame_summary(result) -> dict:
    """One CSV row for a WindowResult: shares per class, confident shares and the
    majority class (its group, "P-2D or P*", where the model cannot tell its members
    apart)."""
    fr = result.fractions()
    row = {}
    for c, (f, cf) in fr.items():
        row[f"fraction {c}"] = round(f, 6)
        row[f"confident {c}"] = round(cf, 6)
    row["confident"] = round(result.accepted(), 6)  # shares of the windows classified
    row["none of these"] = round(result.rejected(), 6)
    row[CANNOT_TELL_NAME] = round(result.undecided(), 6)
    if result.paper_confident is not None:
        row["paper k-sigma confident"] = round(result.share(result.paper_confident), 6)
    row["majority"] = result.majority()
    row["answer"] = result.answer()
    return row


def frame_row(t: int, result, distance: float, sweep: tuple | None = None) -> dict:
    """The row of frame ``t`` in ``fractions.csv`` and in the dock's table: the frame,
    the sweep's value (``sweep`` = (name, value), when the stack has one), the
    :func:`frame_summary` and the criticality ``distance``."""
    head = {"frame": int(t)}
    if sweep is not None:
        head[sweep[0]] = sweep[1]
    return {**head, **frame_summary(result), "criticality distance": round(distance, 4)}


def criticality_distance(clf, result) -> float:
    """Distance of the centre of mass of the windows of the majority class from that
    class's training cluster centre, in units of its |sigma_c| (the paper's proximity
    to criticality)."""
    inside = result.inside
    if not inside.any():
        return float("nan")
    k = int(np.bincount(result.labels[inside], minlength=len(result.classes)).argmax())
    name = result.classes[k]
    cols = [result.classes.index(str(c)) for c in clf.classes_]
    z = result.logits[(result.labels == k) & inside][:, cols]
    return clf.clusters_.center_distance(z, [str(c) for c in clf.classes_].index(name))


def write_csv(path, rows: list[dict]) -> None:
    """Write rows (dicts with the same keys) as CSV, atomically."""
    import csv
    import io
    from pathlib import Path

    from .files import atomic_write
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(path), buf.getvalue().encode())
