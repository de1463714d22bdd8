"""Screenshots of the plugin for the README (run under a display or ``xvfb-run -a``).

``python docs/make_screenshots.py`` opens the bundled RF-2D stack, classifies every
frame at stride 4 with the shipped model from the widget, and saves:

* ``docs/overlay.png``: the canvas, class labels over the image ("none of these" windows grey);
* ``docs/window.png``: the whole window with the widget and its chart;
* ``docs/chart.png``: the chart alone;
* ``docs/geometry_chart.png``: the displayed frame's cluster geometry against the
  seven classes' references;
* ``docs/overlay_gray.png``: the grayscale sample stack (blurred 1.5 px, noisy), binarised
  by switching frame, PSF sigma estimated in the widget, the model for it;
* ``docs/overlay_760.png``: a 760x760 RF-2D frame at stride 4, class outlines over it;
* ``docs/overlay_levels.png``: an RF-2D field sweep through a 2 px microscope (metal the
  darker phase), read by the grey model for 2 px with the phases' intensities given;
* ``docs/region.png``: the whole window with a raw drifting stack (vignetting, electrodes)
  registered in the dock, the electrodes painted out of the region every frame covers,
  flat-fielded and classified inside the region only.
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


def wait_jobs(widget, app):
    """Wait for the widget's background jobs (geometry, drift, flat field)."""
    while widget._jobs:
        app.processEvents()
        time.sleep(0.05)


def settle(viewer, widget, app):
    """Wait for the widget's run, fit the view and let the canvas draw."""
    wait(widget, app)
    viewer.reset_view()
    for _ in range(20):
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
    settle(viewer, widget, app)
    viewer.screenshot(str(HERE / "overlay.png"), canvas_only=True, flash=False)
    viewer.screenshot(str(HERE / "window.png"), canvas_only=False, flash=False)
    widget.chart.grab().save(str(HERE / "chart.png"))
    widget.measure_geometry()
    wait_jobs(widget, app)
    settle(viewer, widget, app)
    widget.geometry_chart.grab().save(str(HERE / "geometry_chart.png"))
    viewer.close()

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1900, 1000)
    viewer.open_sample("napari-hamiltonian", "rf2d_stack_gray")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                     "Classify Hamiltonian")
    widget.threshold_mode.value = "switching (stack)"
    viewer.dims.set_current_step(0, 3)
    widget.estimate_psf()
    widget.stride.value = 4
    widget.run()
    settle(viewer, widget, app)
    viewer.screenshot(str(HERE / "overlay_gray.png"), canvas_only=False, flash=False)
    viewer.close()

    from napari_hamiltonian.samples import field_sweep_stack

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1900, 1000)
    viewer.add_image(field_sweep_stack(size=760, fractions=(0.5,), seed=1)[0][0],
                     name="RF-2D 760x760", contrast_limits=(0, 1))
    _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                     "Classify Hamiltonian")
    widget.stride.value = 4
    widget.overlay.value = "outlines"
    widget.run()
    settle(viewer, widget, app)
    viewer.screenshot(str(HERE / "overlay_760.png"), canvas_only=True, flash=False)
    viewer.close()

    import numpy as np

    from napari_hamiltonian.imaging.optics import Instrument

    frames = field_sweep_stack(size=300, fractions=(0.3, 0.5, 0.7), seed=5)[0]
    grey = Instrument(2.0, insulator=120.0, metal=40.0, noise=10.0).grey(
        frames, np.random.default_rng(0))
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1900, 1000)
    viewer.add_image(grey, name="sweep, 2 px microscope")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                     "Classify Hamiltonian")
    widget.threshold_mode.value = "phase levels"
    widget.insulator_level.value, widget.metal_level.value = 120.0, 40.0
    widget.psf_sigma.value = 2.0
    widget.stride.value = 4
    viewer.dims.set_current_step(0, 1)
    widget.run()
    settle(viewer, widget, app)
    viewer.screenshot(str(HERE / "overlay_levels.png"), canvas_only=False, flash=False)
    viewer.close()



def region_screenshot():
    """The raw-stack path in the dock: register, region, flat field, classify."""
    import numpy as np
    from scipy import ndimage

    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(seed=0)
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    viewer.window.resize(1900, 1000)
    viewer.add_image(d["raw"], name="raw sweep")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hamiltonian",
                                                     "Classify Hamiltonian")
    widget.register_drift()
    wait_jobs(widget, app)
    covered = viewer.layers["raw sweep covered"]
    gold = ndimage.binary_dilation(d["electrodes"], iterations=4)
    covered.data = np.where(gold, 0, covered.data).astype(np.uint8)  # painted out
    widget.flat_field_layer()
    wait_jobs(widget, app)
    widget.threshold_mode.value = "switching (stack)"
    widget.psf_sigma.value = 2.0
    widget.stride.value = 4
    viewer.dims.set_current_step(0, 12)
    widget.run()
    settle(viewer, widget, app)
    viewer.screenshot(str(HERE / "region.png"), canvas_only=False, flash=False)
    viewer.close()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["region"]:
        region_screenshot()
    else:
        main()
        region_screenshot()
