"""Longest freeze of napari's GUI thread while the Classify dock works.

A real viewer (show it under Xvfb) with the RF-2D sample stack; a 5 ms ``QTimer`` on the
GUI thread records the gaps between its ticks, and the longest gap in each scenario is
the longest time the window did not answer (a freeze). Scenarios, as a microscopist goes:

- first run: the classes layer and the chart are created (displayed frame);
- stride change: a run at another stride, the layer rebuilt at the new grid;
- run all frames: every frame drawn as it arrives, the curve growing;
- save: the results folder written (labels, CSV, charts);
- slider: moving over classified frames (the chart redrawn each time).

A full garbage collection of napari's heap (generation 2; 0.2-0.5 s on a 2-core
machine) holds every thread, whoever triggers it; the figures say which freezes had one
in them and how long the longest took.

Run: ``xvfb-run -a python benchmarks/bench_widget_stalls.py [--size 300]`` (about a
minute). The target is every scenario under 200 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


class StallMeter:
    """Gaps (s) between ticks of a fast timer on the GUI thread, and the full garbage
    collections (``gc.callbacks``, generation 2) that fall in them."""

    def __init__(self, interval_ms: int = 5):
        import gc

        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.gaps: list[tuple[float, float]] = []  # (start, end)
        self.collections: list[tuple[float, float]] = []
        self._gc_start = None
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start is not None:
            self.collections.append((self._gc_start, time.perf_counter()))

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.gaps.append((self.last, now))
        self.last = now

    def figures(self) -> tuple[float, float, float]:
        """(longest freeze, longest freeze without a full collection in it, longest
        full collection), seconds, of the last measurement."""
        def has_gc(a, b):
            return any(a <= s0 and s1 <= b for s0, s1 in self.collections)
        longest = max((b - a for a, b in self.gaps), default=0.0)
        ours = max((b - a for a, b in self.gaps if not has_gc(a, b)), default=0.0)
        gc_longest = max((s1 - s0 for s0, s1 in self.collections), default=0.0)
        return longest, ours, gc_longest

    def measure(self, start, done, timeout: float = 120.0) -> float:
        """Call ``start()`` and run Qt's event loop (as napari does) until ``done()``,
        then 0.3 s more for the draws queued by the last results; the longest gap."""
        from qtpy.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        deadline = time.perf_counter() + timeout
        finished = {}

        def check():
            now = time.perf_counter()
            if now > deadline:
                finished["timeout"] = True
                loop.quit()
            elif done():
                finished.setdefault("at", now)
                if now - finished["at"] > 0.3:
                    loop.quit()

        poll = QTimer()
        poll.setInterval(20)
        poll.timeout.connect(check)
        self.last = time.perf_counter()  # start() counts too
        self.gaps, self.collections = [], []
        self.timer.start()
        poll.start()
        QTimer.singleShot(0, start)
        loop.exec()
        poll.stop()
        self.timer.stop()
        if "timeout" in finished:
            raise TimeoutError(f"not done after {timeout:.0f} s")
        return self.figures()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300, help="sample side (px)")
    args = parser.parse_args()

    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_hamiltonian.plugin import _widget
    from napari_hamiltonian.samples import field_sweep_stack

    viewer = napari.Viewer()
    app = QApplication.instance()
    frames, _ = field_sweep_stack(size=args.size, seed=3)
    viewer.add_image(frames.astype(np.uint8), name="sweep", contrast_limits=(0, 1))
    widget = _widget.ClassifyWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Classify Hamiltonian")
    widget.stride.value = 8
    viewer.dims.set_current_step(0, 0)
    widget.classifier()  # the model loaded once, as before any real use
    app.processEvents()
    meter = StallMeter()
    idle = lambda: widget.worker is None  # noqa: E731
    figures = {}
    figures["first run (layer and chart created)"] = meter.measure(
        lambda: widget.run(), idle)
    def restride():
        widget.stride.value = 6
        widget.run()
    figures["stride change (layer rebuilt)"] = meter.measure(restride, idle)
    figures["run all frames"] = meter.measure(lambda: widget.run(all_frames=True), idle)
    folder = Path(tempfile.mkdtemp()) / "results"
    saving = {}

    def save():
        from qtpy.QtWidgets import QFileDialog

        QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: str(folder))
        widget._save_dialog()
        saving["started"] = True
    figures["save"] = meter.measure(save, lambda: widget.save_button.enabled)
    assert (folder / "labels.tif").is_file(), "save did not finish"

    steps = iter(range(frames.shape[0]))

    def slide():  # one frame further every 100 ms, as a hand on the slider
        t = next(steps, None)
        if t is not None:
            viewer.dims.set_current_step(0, t)
            QTimer.singleShot(100, slide)
    figures["slider over classified frames"] = meter.measure(
        slide, lambda: viewer.dims.current_step[0] == frames.shape[0] - 1)
    print(f"napari {napari.__version__}, sample {args.size}x{args.size}, "
          f"{frames.shape[0]} frames, stride 6-8")
    print(f"  {'scenario':34s} longest freeze   without full GC   full GC")
    for name, (gap, ours, collection) in figures.items():
        print(f"  {name:34s} {gap * 1000:9.0f} ms {ours * 1000:12.0f} ms "
              f"{collection * 1000:8.0f} ms")
    viewer.close()


if __name__ == "__main__":
    main()
