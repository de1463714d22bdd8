"""The parameters the classify dock reads beside the classes (issue 30): the map of the
first parameter as an Image layer over the image, each frame's estimate in words, and
the curve of the frames' estimates with their intervals across the sweep (a mixin of
:class:`._widget.ClassifyWidget`)."""

from __future__ import annotations

import numpy as np

from ..output.labelfile import label_placement
from ._layers import units_of

#: The parameters control: off, the family of the class named, or a family.
PARAMETER_CHOICES = ("off", "auto", "C-2D", "C-3D", "RF-2D", "RF-3D", "P")


def parameters_name(layer) -> str:
    """Name of the parameter-map layer of an image layer."""
    return f"{layer.name} parameters"


def parameter_stack(results: dict, n_frames: int, stack: bool) -> tuple:
    """The first parameter's maps of the frames read, (T, ny, nx) (or (ny, nx)), NaN for
    frames not read or of another family than the latest; with that map's
    ParameterMap (None when no frame has parameters)."""
    read = {t: r.parameters for t, r in results.items()
            if getattr(r, "parameters", None) is not None}
    if not read:
        return None, None
    latest = read[max(read)]
    shape = latest.estimate.shape[:2]
    data = np.full((n_frames,) + shape, np.nan, np.float32)
    for t, m in read.items():
        if m.family == latest.family and m.estimate.shape[:2] == shape:
            data[t] = m.estimate[..., 0]
    return (data if stack else data[0]), latest


def display_range(data: np.ndarray, latest) -> tuple[float, float]:
    """Contrast limits of a parameter map: the range of its values, widened to at least
    the windows' mean interval around its middle (so that the windows' own noise is
    not shown as structure)."""
    low, high = float(np.nanmin(data)), float(np.nanmax(data))
    own = float(np.nanmean(latest.interval[..., 0, 1] - latest.interval[..., 0, 0]))
    if high - low < own:
        middle = (high + low) / 2
        low, high = middle - own / 2, middle + own / 2
    return low, high


class ParameterActions:
    """Draws the parameters of :class:`~napari_hamiltonian.plugin._widget.ClassifyWidget`
    (which provides the viewer, the session and ``parameter_chart``)."""

    def _parameters_setting(self) -> str | None:
        value = self.parameters.value
        return None if value == "off" else value

    def _show_parameters(self, layer) -> None:
        """The parameter-map layer of ``layer`` from the session's results (added,
        updated, or removed when no frame has parameters), and the curve."""
        stack = layer.ndim == 3
        data, latest = parameter_stack(self.results, self.session.n_frames(layer), stack)
        name = parameters_name(layer)
        if data is None:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            self.parameter_chart.show_curve({}, None)
            return
        scale, translate = label_placement(tuple(layer.scale), tuple(layer.translate),
                                           stack, latest.stride, latest.window)
        low, high = display_range(data, latest)
        if name in self.viewer.layers:
            shown = self.viewer.layers[name]
            shown.data, shown.scale, shown.translate = data, scale, translate
            shown.contrast_limits = (low, high)
        else:
            shown = self.viewer.add_image(
                data, name=name, colormap="viridis", opacity=0.6, scale=scale,
                translate=translate, contrast_limits=(low, high), blending="translucent",
                **units_of(layer, data.ndim))
            shown.colorbar.visible = True
        shown.metadata["parameter"] = f"{latest.names[0]} ({latest.family})"
        self._refresh_parameter_chart()

    def _refresh_parameter_chart(self) -> None:
        """The curve of the frames' estimates, the displayed frame marked."""
        if self.layer_box.value is not self._run_layer:
            self.parameter_chart.show_curve({}, None)
            return
        self.parameter_chart.show_curve(
            {t: r.parameters for t, r in self.results.items()
             if getattr(r, "parameters", None) is not None},
            self.current_frame(), axis=self.session.axis())
