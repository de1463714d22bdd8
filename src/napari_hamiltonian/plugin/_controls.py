"""The classify dock's controls (magicgui widgets, each named as the dock's attribute),
with the defaults of the session and the estimator."""

from __future__ import annotations

from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)

from ._classes_layer import OVERLAYS
from ._layers import legend_html
from ._parameters import PARAMETER_CHOICES
from ..output.messages import STRIDE_HELP
from .session import DEFAULT_STRIDE

THRESHOLDS = ("none (binary)", "value", "otsu", "otsu (whole stack)", "switching (stack)",
              "phase levels")
#: The threshold mode in which the two phases' intensities are given.
LEVELS = "phase levels"
#: Resolution of the in-dock progress bar.
PROGRESS_STEPS = 1000


def controls(image_layers, region_layers) -> tuple[Container, dict]:
    """The dock's controls in order, and {attribute name: control}; ``image_layers``
    and ``region_layers`` give the choices of image and of region."""
    layer_box = ComboBox(label="image", choices=image_layers)
    region_box = ComboBox(
        label="region",
        choices=region_layers,
        nullable=True,
        tooltip="where the sample is: a Shapes layer (its shapes) or a "
        "Labels layer (labels > 0); windows not wholly inside are not "
        "classified, and nothing outside enters thresholds, levels, the "
        "PSF estimate, shares or the geometry. None: the whole image",
    )
    register_button = PushButton(
        text="Register drift (stack)",
        tooltip="align the frames of a drifting stack, comparing only "
        "the region's pixels (choose an aperture's inside first); adds the "
        "aligned stack and the region every frame covers",
    )
    flat_button = PushButton(
        text="Flat field",
        tooltip="divide the camera's uneven light out of the image (inside the region)",
    )
    threshold_mode = ComboBox(label="threshold", choices=THRESHOLDS)
    threshold_value = FloatSpinBox(
        label="grey level", min=-1e12, max=1e12, step=0.1, value=0.5, visible=False
    )
    metal = ComboBox(label="metal is", choices=["bright", "dark"])
    smooth = FloatSpinBox(
        label="smooth (px)",
        min=0.0,
        max=50.0,
        step=0.5,
        value=0.0,
        visible=False,
        tooltip="switching: Gaussian smoothing of each frame before the analysis (the "
        "paper's is 2.5 px)",
    )
    smooth_frames = FloatSpinBox(
        label="smooth (frames)",
        min=0.0,
        max=20.0,
        step=0.5,
        value=0.0,
        visible=False,
        tooltip="switching: Gaussian smoothing along the stack (the paper's is 1 frame)",
    )
    insulator_level = FloatSpinBox(
        label="insulator level",
        min=-1e12,
        max=1e12,
        step=0.1,
        value=0.0,
        visible=False,
        tooltip="intensity of the insulating phase (e.g. the mean of a fully insulating frame)",
    )
    metal_level = FloatSpinBox(
        label="metal level",
        min=-1e12,
        max=1e12,
        step=0.1,
        value=1.0,
        visible=False,
        tooltip="intensity of the metallic phase; with a PSF sigma > 0 the shipped grey "
        "model reads the image in these units, otherwise the threshold is halfway",
    )
    levels_button = PushButton(
        text="Levels from the image",
        visible=False,
        tooltip="suggest the levels: the 1st and 99th "
        "percentiles of the displayed frame, smoothed over "
        "the PSF, metal on the side it is now; instrument "
        "values are better",
    )
    preview_button = PushButton(text="Show binary preview")
    model_choice = ComboBox(label="model", choices=["shipped", "model file"])
    model_file = FileEdit(label="model file", filter="*.safetensors", visible=False)
    psf_sigma = FloatSpinBox(
        label="PSF sigma (px)",
        min=0.0,
        max=50.0,
        step=0.1,
        value=0.0,
        tooltip="Gaussian sigma of the microscope's point-spread function in pixels; "
        "picks the shipped model for that resolution (0: sharp images, the "
        "lattice-scale model; with phase levels, the grey model)",
    )
    fwhm_nm = FloatSpinBox(
        label="resolution FWHM (nm)",
        min=0.0,
        max=1e6,
        step=10.0,
        value=0.0,
        tooltip="with the pixel size, sets PSF sigma",
    )
    pixel_nm = FloatSpinBox(
        label="pixel size (nm)",
        min=0.0,
        max=1e6,
        step=1.0,
        value=0.0,
        tooltip="read from the layer's scale or OME metadata when they give it",
    )
    estimate_button = PushButton(text="Estimate PSF sigma from the image")
    stride = SpinBox(label="stride (px)", min=1, max=100, value=DEFAULT_STRIDE,
                     tooltip=STRIDE_HELP)
    confidence_k = FloatSpinBox(label="k (confidence)", min=0.0, max=1000.0, step=0.1, value=1.0)
    overlay = ComboBox(
        label="show",
        choices=OVERLAYS,
        tooltip="opaque classes keep the legend's colours; outlines leave the image visible",
    )
    parameters = ComboBox(
        label="parameters",
        choices=PARAMETER_CHOICES,
        tooltip="also estimate the Hamiltonian's parameters in windows of the binary "
        "image (lattice-scale images, or a PSF of 2 px): temperature (C-2D, C-3D), "
        "disorder R and metal "
        "fraction (RF-2D, RF-3D), occupation p (P); auto: the family of the class the "
        "frame is named. Adds a map layer and each frame's estimate with its 90% "
        "interval",
    )
    run_button = PushButton(text="Run (displayed frame)")
    run_all_button = PushButton(text="Run all frames")
    cancel_button = PushButton(text="Cancel", enabled=False)
    save_button = PushButton(text="Save results...")
    table_button = PushButton(text="Results table (per frame)")
    figure_button = PushButton(text="Export figure (displayed frame)...")
    min_cluster = SpinBox(
        label="min cluster (px)",
        min=1,
        max=10**7,
        value=10,
        tooltip="smallest cluster in the geometry measures; "
        "follows the PSF sigma (its core's area), as the "
        "references for that resolution were measured",
    )
    geometry_button = PushButton(text="Cluster geometry (displayed frame)")
    progress = ProgressBar(label="progress", min=0, max=PROGRESS_STEPS, value=0, visible=False)
    status = Label(value="")
    legend = Label(value=legend_html())
    named = {
        "layer_box": layer_box,
        "region_box": region_box,
        "register_button": register_button,
        "flat_button": flat_button,
        "threshold_mode": threshold_mode,
        "threshold_value": threshold_value,
        "metal": metal, "smooth": smooth, "smooth_frames": smooth_frames,
        "insulator_level": insulator_level,
        "metal_level": metal_level,
        "levels_button": levels_button,
        "preview_button": preview_button,
        "model_choice": model_choice,
        "model_file": model_file,
        "psf_sigma": psf_sigma,
        "fwhm_nm": fwhm_nm,
        "pixel_nm": pixel_nm,
        "estimate_button": estimate_button,
        "stride": stride,
        "confidence_k": confidence_k,
        "overlay": overlay,
        "parameters": parameters,
        "run_button": run_button,
        "run_all_button": run_all_button,
        "cancel_button": cancel_button,
        "save_button": save_button,
        "table_button": table_button,
        "figure_button": figure_button,
        "min_cluster": min_cluster,
        "geometry_button": geometry_button,
        "progress": progress,
        "status": status,
        "legend": legend,
    }
    # progress, status and legend sit below the frame's answer (the dock places them)
    below = {"progress", "status", "legend"}
    return Container(widgets=[w for k, w in named.items() if k not in below]), named
