"""Figures of results: bar charts (Figs. 7/9), 7-D projections (Figs. 6/8/10), the
proximity-to-criticality curve and the cluster-geometry measures across frames."""

from __future__ import annotations

import numpy as np

from ..classes import (
    CANNOT_TELL_COLOR,
    NONE_COLOR,
    class_color,
)


# ---------------------------------------------------------------------------- plots
def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def save_figure(fig, path, dpi: float | None = None) -> None:
    """Write a figure (PNG, or SVG, by suffix) atomically; ``dpi``: the raster's dots
    per inch (default the figure's)."""
    import io
    from pathlib import Path

    from .files import atomic_write
    buf = io.BytesIO()
    import matplotlib

    kind = Path(path).suffix.lstrip(".").lower() or "png"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays editable text
        fig.savefig(buf, format=kind, dpi=dpi or "figure")
    atomic_write(Path(path), buf.getvalue())


def bar_chart(fractions: dict, title: str = "", ax=None, cannot_tell: float = 0.0):
    """Bar chart of window shares per class, as in Figs. 7 and 9 of Basak et al.

    Each bar is the share of windows predicted as that class (the bars add up to 100 %);
    its bright part is the share that is also confident (the rejection accepts it), the
    dark part the rest ("not accepted"). Past a dashed line, the dark parts together are
    split in two: a grey bar "none" (windows none of the classes drew) and a light grey
    bar "cannot tell" (windows the model's resolution cannot tell).

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
    ax.axvline(len(names) - 0.5, color="0.5", linestyle="--", linewidth=0.8)
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
    not_named = "not accepted"
    k = int(np.argmax(total)) if len(total) else 0  # the legend in the tallest bar's colours
    bright, shade = (colors[k], dark[k]) if len(colors) else ("0.8", "0.3")
    ax.legend(handles=[Patch(facecolor=bright, edgecolor="black", label="confident"),
                       Patch(facecolor=shade, edgecolor="black", label=not_named)],
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


def _name_lines(ax, named, x: float) -> None:
    """Each class's name at the right of its reference line, names closer than 5 % of
    the axis height pushed apart (so that they do not print over each other)."""
    low, high = ax.get_ylim()
    gap, last = 0.05 * (high - low), -np.inf
    for mu, c, k in sorted(named):
        at = max(mu, last + gap)
        ax.text(x, at, f" {c}", color=class_color(c, k), fontsize=6, va="center",
                ha="left", clip_on=False)
        last = at


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
    from ..geometry import MEASURE_NAMES, MEASURES

    fig = _figure(9, 6.2) if fig is None else fig
    axes = fig.subplots(2, 2).ravel()
    x = np.asarray(x, float)
    # half a frame each side, or 5 % of a temperature or field range
    pad = 0.5 if xlabel == "frame" or len(x) < 2 or np.ptp(x) == 0 else 0.05 * np.ptp(x)
    span = (x.min() - pad, x.max() + pad) if len(x) else (0, 1)
    for ax, m in zip(axes, MEASURES):
        named = []
        for k, c in enumerate(references.mean):
            mu, sd = references.mean[c][m], references.spread[c][m]
            if np.isfinite(mu) and np.isfinite(sd):
                ax.axhspan(mu - sd, mu + sd, color=class_color(c, k), alpha=0.25, lw=0)
                ax.axhline(mu, color=class_color(c, k), lw=1)
                named.append((mu, c, k))
        v = np.array([g.values[m] for g in measures])
        e = np.array([g.errors[m] for g in measures])
        # black dots ringed in white: visible on light and on napari's dark theme
        ax.errorbar(x, v, yerr=e, fmt="o", color="black", mec="white", mew=0.8, ms=5,
                    ecolor="0.5", capsize=2, zorder=3, label="measured")
        if not np.isfinite(v).any():  # say why the panel holds no dot
            ax.text(0.5, 0.5, "not measurable:\ntoo few clusters\nabove the smallest\n"
                    "size for a fit", transform=ax.transAxes, ha="center", va="center",
                    fontsize=6, color="#8a1c1c",  # readable on any band, in a small panel
                    bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 2})
        ax.set_xlim(*span)
        _name_lines(ax, named, span[1])
        ax.set_xlabel(xlabel)
        ax.set_title(MEASURE_NAMES[m], fontsize=9)
        if xlabel == "frame":
            from matplotlib.ticker import MaxNLocator
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(title or "cluster geometry against the seven classes' references "
                 "(bands: +- one spread)", fontsize=9)
    return fig


def map_figure(image: np.ndarray, result, title: str = "", pixel_nm: float = 0.0):
    """A frame's class map over its image, with legend and scale bar, beside its bar
    chart: the figure a paper shows (7.2 x 3.4 in; PNG or SVG by
    :func:`save_figure`'s suffix).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The frame as the user sees it (grey or binary).
    result : WindowResult
        Its classification; each window's label is drawn over the stride x stride
        square around the window's centre, as napari's classes layer draws it.
    pixel_nm : float
        Pixel size (nm); > 0 adds a scale bar.
    """
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch, Rectangle

    from .labelfile import label_colors, label_names, label_values

    fig = _figure(7.2, 3.4)
    ax_map, ax_bar = fig.subplots(1, 2, width_ratios=[1.1, 1])
    g = np.asarray(image, float)
    ax_map.imshow(g, cmap="gray", interpolation="nearest")
    values = label_values(result)
    colors = label_colors(result.classes, result.groups)
    rgba = np.zeros(values.shape + (4,))
    for v, c in colors.items():
        if v is not None and v > 0:
            rgba[values == v] = mcolors.to_rgba(c, 0.55)
    half, s = (result.window - 1) / 2, result.stride
    ny, nx = values.shape
    ax_map.imshow(rgba, interpolation="nearest",
                  extent=(half - s / 2, half + (nx - 0.5) * s, half + (ny - 0.5) * s,
                          half - s / 2))
    ax_map.set_xlim(-0.5, g.shape[1] - 0.5)
    ax_map.set_ylim(g.shape[0] - 0.5, -0.5)
    ax_map.set_axis_off()
    names = label_names(result.classes, result.groups)
    shown = sorted(set(np.unique(values).tolist()) - {0})
    ax_map.legend(handles=[Patch(facecolor=colors[v], edgecolor="black", label=names[v])
                           for v in shown], fontsize=6, loc="upper left",
                  bbox_to_anchor=(0, -0.01), ncol=3, frameon=False)
    if pixel_nm > 0:
        width_nm = g.shape[1] * pixel_nm
        length = 10 ** np.floor(np.log10(width_nm / 4))
        length *= 5 if 5 * length <= width_nm / 4 else 2 if 2 * length <= width_nm / 4 else 1
        px = length / pixel_nm
        x0, y0 = g.shape[1] * 0.95 - px, g.shape[0] * 0.94
        ax_map.add_patch(Rectangle((x0, y0), px, g.shape[0] * 0.015, color="white",
                                   ec="black", lw=0.5))
        text = f"{length / 1000:g} µm" if length >= 1000 else f"{length:g} nm"
        ax_map.text(x0 + px / 2, y0 - g.shape[0] * 0.01, text, color="white",
                    ha="center", va="bottom", fontsize=7,  # readable on any image
                    bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})
    if title:  # the frame's sentence, wrapped across the figure above both panels
        import textwrap
        fig.suptitle("\n".join(textwrap.wrap(title, 120)), fontsize=7)
    bar_chart(result.fractions(), title="windows per class (confident share)", ax=ax_bar,
              cannot_tell=result.undecided())
    ax_bar.tick_params(axis="x", labelrotation=35, labelsize=6)
    return fig
