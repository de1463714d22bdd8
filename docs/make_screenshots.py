"""Screenshots of the plugin for the README (run under a display or ``xvfb-run -a``).

``python docs/make_screenshots.py`` opens the bundled RF-2D stack, classifies every
frame at stride 4 with the shipped model from the widget, and saves:

* ``docs/overlay.png``: the canvas, class labels over the image ("none of these" windows grey);
* ``docs/window.png``: the whole window with the widget and its chart;
* ``docs/chart.png``: the chart alone.
"""

import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

HERE = Path(__file__).parent


def wait(widget, app, timeout=900):
    t0 = time.time()
    while widget.worker is not None and time.time() - t0 < timeout:
        app.processEvents()
        time.sleep(0.05)


def main():
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    viewer.window.resize(1900, 1000)
    viewer.open_sample("napari-hamiltonian", "rf2d_stack")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                     "Classify Hamiltonian")
    widget.stride.value = 4
    widget.run(all_frames=True)
    wait(widget, app)
    viewer.dims.set_current_step(0, 3)
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(HERE / "overlay.png"), canvas_only=True, flash=False)
    viewer.screenshot(str(HERE / "window.png"), canvas_only=False, flash=False)
    widget.chart.grab().save(str(HERE / "chart.png"))
    viewer.close()


if __name__ == "__main__":
    main()
