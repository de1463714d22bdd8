"""The report of a results folder, made from its frames: ``labels.tif``,
``confident.tif``, ``fractions.csv``, the bar charts, distributions and the criticality
curve, and the cluster geometry beside the CNN (``geometry.csv``, ``geometry.png``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..classes import CANNOT_TELL_NAME, NONE_NAME
from ..geometry import references_for
from ..inference.sliding import WindowResult
from ..output.files import atomic_write, check_writable
from . import figures, messages, summary
from .folder import (
    REPORT,
    SETTINGS,
    frame_files,
    load_frames,
    load_geometry,
    report_axis,
    report_info,
    save_frame,
    save_report_info,
    write_tiff,
)


def write_report(folder, clf, temperatures=None, xlabel: str = "temperature",
                 source: dict | None = None) -> dict[int, WindowResult]:
    """Write ``labels.tif``, ``confident.tif``, the CSV and the PNGs of a results folder
    from its frames.

    Parameters
    ----------
    folder : path-like
        A results folder (``frames/`` filled by ``classify`` or the widget).
    clf : HamiltonianClassifier
        The model that made the frames (it decides "none of these").
    temperatures : sequence of float, optional
        One per frame (``xlabel``): the x axis of the criticality curve, stored in
        ``report.json`` for later reports. Without it the stored axis is used, or the
        frame numbers.
    source : dict, optional
        The image the frames come from, stored for later reports: ``n_frames`` (frames
        of the stack, None for one image) and napari's ``scale``, ``translate`` and
        ``units`` of the image, which place ``labels.tif`` over it
        (:func:`napari_hamiltonian.output.labelfile.write_labels`). Default: a stack of the
        frames present, one unit per pixel.

    Returns
    -------
    dict of int -> WindowResult
        The frames' results by frame number.
    """
    from ..output.labelfile import write_labels

    folder = Path(folder)
    if source is not None:  # a new save: its axis and placement replace earlier ones
        atomic_write(folder / REPORT, json.dumps(source, indent=1).encode())
    results = load_frames(folder, clf)
    frames = sorted(results)
    if temperatures is not None:
        if len(temperatures) != len(frames):
            raise ValueError(f"{len(temperatures)} temperatures for {len(frames)} frames; "
                             "give one per frame")
        x = np.asarray(temperatures, float)
        save_report_info(folder, xlabel=xlabel, x=[float(v) for v in x])
    info = report_info(folder)
    if temperatures is None:
        x, xlabel = report_axis(info, frames)
    with_x = x is not None
    if not with_x:
        x = np.asarray(frames, float)
    values = write_labels(folder / "labels.tif", results, info.get("n_frames", frames[-1] + 1),
                          info.get("scale"), info.get("translate"), info.get("units"))
    ordered = [results[t] for t in frames]
    accepted = (values > 0) & (values <= len(ordered[0].classes))
    write_tiff(folder / "confident.tif", accepted.astype(np.uint8))
    rows, dists = [], []
    for t, x_t in zip(frames, x):
        f = results[t]
        d = summary.criticality_distance(clf, f)
        dists.append(d)
        rows.append(summary.frame_row(t, f, d, (xlabel, x_t) if with_x else None))
        fig = figures.bar_chart(f.fractions(), title=f"{folder.name}, {xlabel} {x_t:g}: "
                               "windows per class (confident share in brackets)",
                               cannot_tell=f.undecided())
        if f.answer() in (NONE_NAME, CANNOT_TELL_NAME):
            # below the axes, in the space the layout keeps for it
            fig.supxlabel(messages.unlike_message([f], [t], clf), fontsize=6, wrap=True,
                          color="#8a1c1c")
        figures.save_figure(fig, folder / "bars" / f"t{t:05d}.png")
        figures.save_figure(figures.distribution_plot(
            clf, f.logits[f.inside], f.confident[f.inside], names=f.classes, max_points=1500,
            title=f"{folder.name}, {xlabel} {x_t:g}: last-layer values"),
            folder / "distributions" / f"t{t:05d}.png")
    for sub in ("bars", "distributions"):  # charts of frames no longer in the folder
        for old in (folder / sub).glob("t*.png"):
            m = re.fullmatch(r"t(\d{5})\.png", old.name)
            if m and int(m.group(1)) not in results:
                old.unlink()
    summary.write_csv(folder / "fractions.csv", rows)
    _write_geometry(folder, frames, x, xlabel, results, references_for(clf))
    logits = np.concatenate([f.logits[f.inside] for f in ordered])
    conf = np.concatenate([f.confident[f.inside] for f in ordered])
    figures.save_figure(figures.distribution_plot(clf, logits, conf, names=ordered[0].classes,
                                                title=f"{folder.name}: last-layer values"),
                       folder / "distribution.png")
    figures.save_figure(figures.criticality_curve(x, dists, [r["confident"] for r in rows],
                                                [r["majority"] for r in rows], xlabel),
                       folder / "criticality.png")
    return results


def _write_geometry(folder: Path, frames: list[int], x, xlabel: str, results: dict,
                    refs) -> None:
    """``geometry.csv`` and ``geometry.png``: each frame's cluster measures, the classes
    whose references they fit, and whether that agrees with the CNN's answer for the
    frame (its majority class, or "none of these"; nothing when the frames' geometry was
    not measured, e.g. a save from the widget)."""
    from ..geometry import agreement_message, table_row, verdict

    measures = load_geometry(folder, frames)
    if measures is None:
        return
    out = []
    for t, x_t, g in zip(frames, x, measures):
        v = verdict(g, refs)
        line = {"frame": int(t)} if xlabel == "frame" else {"frame": int(t), xlabel: x_t}
        answer = results[t].answer()
        out.append({**line, **table_row(g, v), "CNN answer": answer,
                    "verdict": agreement_message(answer, v)})
    summary.write_csv(folder / "geometry.csv", out)
    figures.save_figure(figures.geometry_plot(x, measures, refs, xlabel,
                                            f"{folder.name}: cluster geometry against the "
                                            "references (bands: +- one spread)"),
                       folder / "geometry.png")


def geometry_disagreements(folder) -> str:
    """Plain words for the frames whose geometry disagrees with the CNN ("" if none do
    or no geometry was measured)."""
    import csv

    try:
        with open(Path(folder) / "geometry.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return ""
    bad = [r for r in rows if r["verdict"].startswith("the CNN and the cluster geometry")]
    if not bad:
        return ""
    first = bad[0]
    more = f" (and {len(bad) - 1} more frames)" if len(bad) > 1 else ""
    return f"frame {first['frame']}: {first['verdict']}{more}; see geometry.csv"


def save_results(folder, results: dict, clf, source: dict, region=None,
                 axis=None) -> Path:
    """Save results computed elsewhere (the widget) as a results folder.

    Parameters
    ----------
    folder : path-like
        Empty or missing, or a folder written by an earlier save (its frames are
        replaced). A folder with other files, or the results of ``classify``, is
        refused, so nothing of the user's is overwritten.
    results : dict of int -> WindowResult
        Frames by their frame number in the source stack.
    clf : HamiltonianClassifier
        The model that made them.
    source : dict
        ``n_frames`` (None for one image), ``scale``, ``translate``, ``units`` of the
        image (see :func:`write_report`).
    region : ndarray of bool, shape (Y, X) or (T, Y, X), optional
        The region of interest the results were read in: saved as ``region.tif``
        (an earlier save's is removed without one).
    axis : (ndarray, str), optional
        The stack's sweep, one value per frame of the stack, and its name (e.g. the
        applied field): the x axis of the criticality curve and a column of the CSV.

    Raises
    ------
    ValueError
        Nothing to save, or a folder that must not be written into (naming the fix).
    """
    if not results:
        raise ValueError("nothing to save yet: press Run first")
    folder = check_writable(folder)
    names = {p.name for p in folder.iterdir()}
    ours = {REPORT, "frames", "bars", "distributions", "labels.tif", "confident.tif",
            "region.tif",
            "fractions.csv", "distribution.png", "criticality.png"}
    if names and (SETTINGS in names or REPORT not in names or names - ours):
        what = "classify results" if SETTINGS in names else \
            f"files napari-hamiltonian did not write ({', '.join(sorted(names - ours)[:5])})"
        raise ValueError(f"{folder} holds {what}; choose an empty or new folder")
    for f in frame_files(folder / "frames").values():  # an earlier save's frames
        f.unlink()
    for t, result in results.items():
        save_frame(folder / "frames" / f"t{int(t):05d}.npz", result)
    if region is not None:
        write_tiff(folder / "region.tif", np.asarray(region, np.uint8))
    elif (folder / "region.tif").exists():
        (folder / "region.tif").unlink()
    if axis is not None and axis[0] is not None:
        write_report(folder, clf, [float(axis[0][t]) for t in sorted(results)], axis[1],
                     source=source)
    else:
        write_report(folder, clf, source=source)
    return folder
