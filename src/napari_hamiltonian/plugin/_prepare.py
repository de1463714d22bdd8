"""Preparing a raw stack in the classify dock, each step a layer the user can check:
*Register drift* adds the aligned stack (its shifts in the metadata) and a Labels layer
of the region every frame covers, which becomes the region; *Flat field* adds the frames
with the camera's light divided out (fitted to the raw frames where the sample is in
each, then aligned as they were). A mixin of :class:`._widget.ClassifyWidget`."""

from __future__ import annotations

import warnings

import numpy as np

from ._layers import units_of


class PrepareActions:
    """Drift and flat field of :class:`~napari_hamiltonian.plugin._widget.ClassifyWidget`
    (which provides the viewer, the controls, ``region`` and ``_in_background``)."""

    def register_drift(self) -> None:
        """Align the chosen stack in the background, comparing only the pixels of the
        dock's region (an aperture's inside) where one is chosen; the aligned stack and
        the region every frame covers become layers, and the dock's image and region."""
        layer = self.layer_box.value
        if layer is None or layer.ndim != 3 or layer.data.shape[0] < 2:
            self._error("drift registration needs a stack of frames (T, Y, X): choose one "
                        "as the image")
            return
        try:
            region = self.region()
        except ValueError as err:
            self._error(str(err))
            return
        painted = None
        earlier = self.region_box.value
        if earlier is not None and earlier.metadata.get("covered of") == layer.name:
            # the region an earlier Register drift made: fixed to the sample, not to the
            # camera (as a camera region it would shrink by the drift at every rerun);
            # the camera region it was measured with is used again, and what the user
            # painted out of it stays out
            painted = earlier.metadata["covered"] & ~region
            region = earlier.metadata["camera region"]
        if region is not None and region.ndim == 3:
            region = region.all(0)
        data = np.asarray(layer.data)

        def work():
            from ..imaging.drift import register_stack

            out, caught = _warned(register_stack, data, mask=region)
            return (*out, caught)

        self._in_background(
            self._preparing(), "drift registration", work,
            lambda out, source=layer, camera=region: self._on_registered(
                source, *out, camera=camera, painted=painted),
            f"measuring the drift of {layer.name}...")

    def _preparing(self) -> tuple:
        """The buttons held while a preparation step runs: the steps themselves, and
        those that read the image the step is about to replace (a run or a PSF estimate
        started meanwhile would read the frames before the step)."""
        return (self.register_button, self.flat_button, self.run_button,
                self.run_all_button, self.estimate_button)

    def _on_registered(self, source, aligned, shifts, covered, caught: list,
                       camera=None, painted=None) -> None:
        name = f"{source.name} aligned"
        meta = {"shifts": shifts.tolist(), "raw": source.name}
        # layers made from an earlier, other alignment of this stack (its flat field, ...)
        before = self.viewer.layers[name].metadata.get("shifts") \
            if name in self.viewer.layers else None
        stale = [layer.name for layer in self.viewer.layers
                 if layer.name.startswith(f"{name} ")] \
            if before is not None and not np.allclose(before, shifts, atol=1e-6) else []
        if name in self.viewer.layers:
            self.viewer.layers[name].data = aligned
            self.viewer.layers[name].metadata.update(meta)
        else:
            finite = aligned[:, covered]
            self.viewer.add_image(aligned, name=name, scale=source.scale,
                                  translate=source.translate, metadata=meta,
                                  **units_of(source),
                                  contrast_limits=(float(finite.min()), float(finite.max())))
        region = f"{source.name} covered"
        kept_out = covered & painted if painted is not None else np.zeros_like(covered)
        kept = covered & ~kept_out
        meta = {"covered of": source.name, "covered": covered, "camera region": camera}
        if region in self.viewer.layers:
            self.viewer.layers[region].data = kept.astype(np.uint8)
            self.viewer.layers[region].metadata.update(meta)
        else:
            self.viewer.add_labels(kept.astype(np.uint8), name=region, opacity=0.2,
                                   scale=source.scale[-2:], translate=source.translate[-2:],
                                   metadata=meta, **units_of(source, 2))
        self.layer_box.value = self.viewer.layers[name]
        self.region_box.value = self.viewer.layers[region]
        drift = np.abs(shifts).max()
        self.status.value = (f"{source.name}: drift up to {drift:.1f} px; aligned stack and "
                             f"the region every frame covers ({covered.mean():.0%} of the "
                             "field) added and chosen. Paint out electrodes or scale bars "
                             "in the region layer (label 0)" + (
                                 f"; the {int(kept_out.sum())} px painted out of it stay "
                                 "out" if kept_out.any() else "") + "".join(
                                 f". Warning: {w}" for w in caught) + (
                                 f". Made from the earlier alignment, now out of date: "
                                 f"{', '.join(stale)}" if stale else ""))

    def flat_field_layer(self) -> None:
        """Divide the camera's light out of the chosen image in the background (the raw
        frames of an aligned stack, then aligned again); the result becomes a layer."""
        layer = self.layer_box.value
        if layer is None:
            self._error("no image layer to flat-field")
            return
        try:
            region = self.region()
        except ValueError as err:
            self._error(str(err))
            return
        shifts = layer.metadata.get("shifts")
        raw = layer.metadata.get("raw")
        source = self.viewer.layers[raw] if raw in self.viewer.layers else None
        data = np.asarray(source.data if source is not None and shifts else layer.data)
        if region is not None and region.ndim == 3:
            region = region.all(0)

        def work():
            from ..imaging.illumination import flat_field
            from ..imaging.preparation import flat_field_drifting

            if source is None or not shifts:
                return _warned(flat_field, data, mask=region)
            return _warned(flat_field_drifting, data, np.asarray(shifts), region)

        fitted = layer.name if source is None or not shifts else \
            f"{layer.name} (fitted to the raw frames of {raw}, then aligned)"
        self._in_background(self._preparing(), "flat field", work,
                            lambda out, layer=layer: self._on_flat(layer, *out, fitted),
                            f"fitting the illumination of {layer.name}...")

    def _on_flat(self, layer, flat, caught: list, fitted: str) -> None:
        name = f"{layer.name} flat"
        finite = flat[np.isfinite(flat)]
        limits = (float(finite.min()), float(finite.max()))
        if name in self.viewer.layers:
            self.viewer.layers[name].data = flat
        else:
            self.viewer.add_image(flat, name=name, scale=layer.scale,
                                  translate=layer.translate, contrast_limits=limits,
                                  **units_of(layer),
                                  metadata=dict(layer.metadata))
        self.layer_box.value = self.viewer.layers[name]
        self.status.value = (f"{fitted}: illumination divided out ({name}); the phase "
                             "levels now hold across the field" + "".join(
                                 f". Warning: {w}" for w in caught))


def _warned(function, *args, **kwargs) -> tuple:
    """``function(*args, **kwargs)`` and the warnings it gave, in words, for the status
    (warnings in a worker thread reach no one)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = function(*args, **kwargs)
    return value, [str(w.message) for w in caught]
