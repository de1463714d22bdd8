"""What a dock opened again takes from the last one closed: its settings, its image and
region by layer name (napari hands each dock a fresh proxy of the viewer, so there is no
viewer to keep them by), and its results while their image is still in the viewer."""

from __future__ import annotations

#: The controls remembered, in the order they are set back (the image and region while
#: those layers exist; the resolution before the PSF sigma it sets, the PSF sigma before
#: the minimum cluster that follows it).
REMEMBERED = ("layer_box", "region_box", "model_choice", "model_file", "fwhm_nm",
              "pixel_nm", "psf_sigma", "min_cluster", "threshold_mode", "metal",
              "threshold_value", "smooth", "smooth_frames", "insulator_level",
              "metal_level", "stride", "confidence_k", "overlay", "parameters")
#: {control: value} of the last dock closed in this session
_last: dict = {}


def remember(dock) -> None:
    """Keep the settings of ``dock`` (a :class:`._widget.ClassifyWidget` being closed)."""
    _last.update({name: getattr(dock, name).value for name in REMEMBERED})
    for box in ("layer_box", "region_box"):  # layers by name: the next dock's own
        _last[box] = getattr(_last[box], "name", None)
    _last["session"] = dock.session if dock.session.results else None


def recall(dock):
    """Set the controls of a new ``dock`` as the last closed one's were; return that
    dock's session (:class:`.session.ClassifySession`: results, their settings and
    model) if its image is in ``dock``'s viewer, else None."""
    settings = {k: v for k, v in _last.items() if k != "session"}
    for name, value in settings.items():
        if name in ("layer_box", "region_box"):
            if value not in dock.viewer.layers:
                continue
            value = dock.viewer.layers[value]
        try:
            getattr(dock, name).value = value
        except (ValueError, OSError):  # a model file since moved: that one starts anew
            pass
    session = _last.get("session")
    if session is not None and any(layer is session.layer for layer in dock.viewer.layers):
        return session
    return None
