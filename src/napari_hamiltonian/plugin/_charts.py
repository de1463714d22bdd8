"""The dock's charts (matplotlib in Qt): the result of the displayed frame with the
criticality curve, and the cluster geometry beside the references; a scroll area that
keeps the dock's width."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QEvent, QSize, Qt, QTimer
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from ..classes import class_color
from ..output.figures import bar_chart, geometry_plot


#: Height (px) below which the dock's contents scroll.
MIN_DOCK_HEIGHT = 300
#: Pause (ms) before the chart is rendered after a change.
RENDER_DELAY_MS = 40


#: Height of the results chart in the dock (px).
CHART_HEIGHT = 400


#: Height of the parameters chart (px).
PARAMETER_HEIGHT = 220


#: Height of the cluster-geometry chart (px).
GEOMETRY_HEIGHT = 420


class _Chart(QWidget):
    """A matplotlib canvas in the dock: fixed height, napari's theme, rendered after a
    pause (not in the event that changed it), hidden until there is something to show."""

    height_px = CHART_HEIGHT  # of the canvas

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent)
        height = self.height_px
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        # fixed margins, not a layout engine: a redraw (each slider step) costs half
        self.figure = Figure(figsize=(4.2, height / 75), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        # a fixed height: status lines that wrap longer do not resize (redraw) the chart
        self.canvas.setFixedHeight(height)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.theme = theme
        self.frame = None  # frame shown, for tests
        self.hide()  # no blank chart before there is something to show
        # rendering waits for a pause: not in the same event as the layer updates (one
        # long freeze), and once for several results arriving together
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(RENDER_DELAY_MS)
        self._render.timeout.connect(self.canvas.draw_idle)

    def _colours(self) -> tuple[str, str]:
        """(background, text) of napari's current theme."""
        from napari.utils.theme import get_theme

        try:
            t = get_theme(self.theme)
        except (KeyError, ValueError):
            t = get_theme("dark")
        return t.background.as_hex(), t.text.as_hex()

    def _follow_theme(self) -> None:
        """Paint the drawn chart in the theme's colours (default-black text only)."""
        from matplotlib.colors import to_hex
        from matplotlib.text import Text

        background, text = self._colours()
        self.figure.set_facecolor(background)
        for ax in self.figure.axes:
            ax.set_facecolor(background)
            ax.tick_params(colors=text, which="both")
            for spine in ax.spines.values():
                spine.set_color(text)
            legend = ax.get_legend()
            if legend is not None:
                legend.get_frame().set_facecolor(background)
        for item in self.figure.findobj(Text):
            if to_hex(item.get_color()) == "#000000":
                item.set_color(text)

    def _drawn(self) -> None:
        """The figure is complete: theme colours, render after the pause."""
        self._follow_theme()
        self._render.start()


class ResultChart(_Chart):
    """Class shares of the current frame and, for stacks, the proximity-to-criticality
    curve with the current frame marked."""

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent, theme)
        self.setToolTip(
            "Bars: share of the frame's windows per class; the bright part is named "
            "confidently, the dark part is not (none of these, or cannot tell at this "
            "resolution), split past the dashed line. The paper's k-sigma rule: the "
            "share of windows whose last-layer values lie within k spreads of a "
            "training point of their class (the k control).\nCurve: distance "
            "(|sigma_c|) of the frame's majority class from the centre of that class's "
            "training cluster in the network's last layer, in units of the cluster's "
            "spread (the paper's proximity to criticality: 0 = as critical as the "
            "training images, larger = further from criticality).")

    def show_frame(self, t, result, curve: dict | None, running: bool = False,
                   k: float | None = None, axis=(None, "frame")) -> None:
        """Redraw for frame ``t`` (result None: not classified yet, or being classified
        when ``running``; hidden while nothing at all is classified or running); ``k``:
        the paper's k-sigma rule, whose share of the frame's windows is written on the
        bars; ``axis``: the stack's sweep (values per frame, name) the curve is drawn
        against, or (None, "frame")."""
        self.figure.clear()
        self.frame = t
        if result is None and not curve and not running:
            self.hide()
            return
        self.show()
        self.figure.subplots_adjust(left=0.15, right=0.97, top=0.9,
                                    bottom=0.13 if curve else 0.16, hspace=0.8)
        ax1 = self.figure.add_subplot(2 if curve else 1, 1, 1)
        if result is None:
            ax1.text(0.5, 0.5, f"frame {t}: " + ("classifying..." if running else
                                                  "not classified yet\n(press Run)"),
                     ha="center", va="center", transform=ax1.transAxes)
            ax1.set_axis_off()
        else:
            title = f"frame {t}: windows per class (confident share)"
            if k is not None and result.paper_confident is not None:
                title += (f"\npaper's k-sigma rule, k = {k:g}: "
                          f"{result.share(result.paper_confident):.0%}")
            bar_chart(result.fractions(), title=title, ax=ax1,
                      cannot_tell=result.undecided())
            # names slanted: eight of them fit a narrow dock
            ax1.tick_params(axis="x", labelrotation=35, labelsize=7)
            for label in ax1.get_xticklabels():
                label.set_horizontalalignment("right")
        if curve:
            ax2 = self.figure.add_subplot(2, 1, 2)
            ts = sorted(curve)
            x, name = axis
            xs = ts if x is None else [float(x[k]) for k in ts]
            d = [curve[k][0] for k in ts]
            colors = [class_color(curve[k][1]) for k in ts]
            ax2.plot(xs, d, color="0.6", lw=1)
            ax2.scatter(xs, d, c=colors, s=24, edgecolor="black", linewidth=0.5, zorder=3)
            ax2.axvline(t if x is None else float(x[t]), color="red", lw=1,
                        label=f"frame {t}")
            ax2.set_xlabel(name)
            ax2.set_ylabel(r"distance ($|\sigma_c|$)")
            ax2.set_title("proximity to criticality (majority class)", fontsize=9)
            ax2.set_ylim(bottom=0)
            ax2.legend(fontsize=7, frameon=False)
            if len(ts) == 1:  # one point: no meaningless tick range around it
                ax2.set_xticks(xs)
        self._drawn()


class ParameterChart(_Chart):
    """Each frame's parameter estimate with its interval across the sweep (over the
    critical value where the family has one: T/Tc, R/Rc, p/pc)."""

    height_px = PARAMETER_HEIGHT

    def __init__(self, parent=None, theme: str = "dark"):
        super().__init__(parent, theme)
        self.setToolTip(
            "Each classified frame's estimate of the Hamiltonian's first parameter (the "
            "mean over its windows) with its interval, which counts the windows' overlap "
            "and the network's systematic error; over the critical value where the "
            "family has one (1 = critical).")
        self.hide()

    def show_curve(self, maps: dict, t: int | None, axis=(None, "frame")) -> None:
        """Redraw from ``maps`` ({frame: ParameterMap}); hidden when empty."""
        self.figure.clear()
        if not maps:
            self.hide()
            return
        self.show()
        ts = sorted(maps)
        family = maps[ts[-1]].family
        ts = [k for k in ts if maps[k].family == family]
        x, name = axis
        xs = np.array(ts if x is None else [float(x[k]) for k in ts], float)
        first = maps[ts[-1]]
        ratio = first.critical is not None
        values = np.array([[maps[k].frame_estimate[0], *maps[k].frame_interval[0]]
                           for k in ts]) / (first.critical if ratio else 1.0)
        ax = self.figure.add_subplot(1, 1, 1)
        self.figure.subplots_adjust(left=0.17, right=0.97, top=0.86, bottom=0.2)
        ax.errorbar(xs, values[:, 0], yerr=[values[:, 0] - values[:, 1],
                                            values[:, 2] - values[:, 0]],
                    fmt="o", ms=4, capsize=2, color="#D55E00")
        if ratio:
            ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
        if t is not None and t in maps:
            ax.axvline(t if x is None else float(x[t]), color="red", lw=1)
        pname = first.names[0]
        ax.set_ylabel(first.ratio_name if ratio else pname)
        ax.set_xlabel(name)
        ax.set_title(f"{family}: {pname} per frame ({first.coverage:.0%} intervals)",
                     fontsize=9)
        if len(ts) == 1:
            ax.set_xticks(xs)
        self._drawn()


class GeometryChart(_Chart):
    """The cluster measures of one frame against the seven classes' references."""

    height_px = GEOMETRY_HEIGHT

    def show_geometry(self, t: int, geometry, references) -> None:
        """Draw frame ``t``'s measures (a Geometry) against ``references``."""
        self.figure.clear()
        self.frame = t
        self.show()
        geometry_plot([t], [geometry], references, title=f"frame {t}: cluster geometry "
                      "(dots)\nagainst the classes' references (bands)", fig=self.figure)
        self.figure.subplots_adjust(left=0.1, right=0.86, top=0.86, bottom=0.09,
                                    hspace=0.55, wspace=0.45)
        self.figure.axes[0].get_legend().remove()  # the title says what the dot is
        for ax in self.figure.axes:
            ax.tick_params(labelsize=7)
            ax.set_xlabel("")
            ax.set_xticks([])
            ax.title.set_fontsize(8)
        self._drawn()


class _VerticalScroll(QScrollArea):
    """Scrolls its widget vertically only: as wide as the widget needs (the dock
    follows), as high as :data:`MIN_DOCK_HEIGHT` at least."""

    def __init__(self, inner: QWidget):
        super().__init__()
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # the widget's needs changed
            self.updateGeometry()
        return super().eventFilter(obj, event)

    def _width(self, hint) -> int:
        return hint.width() + self.verticalScrollBar().sizeHint().width() + 4

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width(self.widget().minimumSizeHint()), MIN_DOCK_HEIGHT)

    def sizeHint(self) -> QSize:
        hint = self.widget().sizeHint()
        return QSize(self._width(hint), hint.height())
