"""What the classify dock reads from the image before a run: the region of interest
(a Shapes or Labels layer), the phase levels and the point-spread function suggested
from the displayed frame, the pixel size from the layer or its file, and the resolution
in pixels (a mixin of :class:`._widget.ClassifyWidget`)."""

from __future__ import annotations

from .session import region_mask, suggest_levels


class InputActions:
    """Input handlers of :class:`~napari_hamiltonian.plugin._widget.ClassifyWidget`
    (which provides the controls, ``current_frame`` and ``_frame_getter``)."""

    def _region_layers(self, _=None):
        from napari.layers import Labels, Shapes

        return [layer for layer in self.viewer.layers if isinstance(layer, (Labels, Shapes))
                and not layer.name.endswith(" classes")]

    def region(self):
        """The region of interest of the chosen image, bool (Y, X) or (T, Y, X), or None
        (ValueError naming the fix for a region that does not fit the image)."""
        return region_mask(self.region_box.value, self.layer_box.value)

    def _frame_region(self):
        """The region of the displayed frame (or None)."""
        from ..imaging.region import frame_mask

        mask = self.region()
        return None if mask is None else frame_mask(mask, self.current_frame())

    def suggest_levels(self) -> tuple[float, float] | None:
        """Fill the phase levels from the displayed frame: its 1st and 99th percentiles
        after smoothing over the PSF sigma (at least 1 px), metal keeping its side (the
        brighter unless the metal level is now below the insulator's). A guess for
        images with both phases in domains larger than the blur; the instrument's values
        are better."""
        layer = self.layer_box.value
        if layer is None:
            self._error("no image layer to take the phase levels from")
            return None
        frame = self._frame_getter(layer)(self.current_frame())
        dark = self.metal_level.value < self.insulator_level.value
        try:
            ins, met = suggest_levels(frame, float(self.psf_sigma.value), dark,
                                      self._frame_region())
        except ValueError as err:
            self._error(str(err))
            return None
        self.insulator_level.value, self.metal_level.value = ins, met
        self.status.value = (f"phase levels from frame {self.current_frame()}: insulator "
                             f"{ins:.4g}, metal {met:.4g} (a guess; check them)")
        return ins, met

    def _on_model_choice(self, choice):
        shipped = choice == "shipped"
        self.model_file.visible = not shipped
        for w in (self.psf_sigma, self.fwhm_nm, self.pixel_nm, self.estimate_button):
            w.visible = shipped

    def _on_layer(self, layer=None):
        """A new image: what belongs to it comes back with it (:meth:`_per_image`), its
        pixel size from the layer's scale or its file's OME or ImageJ metadata, and the
        displays show its own results or none (no values of the previous image)."""
        from ..imaging.files import pixel_size_nm as file_pixel_size_nm
        from ._layers import pixel_size_nm

        if layer is None:
            return
        self._per_image(layer)
        units = [str(u) for u in getattr(layer, "units", ())] or None
        size = pixel_size_nm(tuple(layer.scale), units, dict(layer.metadata))
        path = getattr(layer.source, "path", None)
        if size is None and path and str(path).lower().endswith((".tif", ".tiff")):
            size = file_pixel_size_nm(path)  # OME or ImageJ
        if size is not None:
            self.pixel_nm.value = size
        self._show_image_state(layer)

    def _per_image(self, layer) -> None:
        """Phase levels and a typed pixel size belong to an image: switching images keeps
        each one's, an image seen for the first time has no pixel size (0: unknown,
        unless its metadata says), and levels set for another image that do not fit this
        one (outside its grey range, or a contrast a tiny share of it, as 8-bit levels
        on a 16-bit image) are replaced by a guess from this image, in words, before any
        run reads them."""
        import numpy as np

        from ._controls import LEVELS

        kept = self.__dict__.setdefault("_kept_by_image", {})
        before = self.__dict__.get("_image_shown")
        levels = (float(self.insulator_level.value), float(self.metal_level.value))
        if before is not None and before is not layer:
            kept[id(before)] = (levels, float(self.pixel_nm.value))
        self._image_shown = layer
        if before is layer:
            return
        if id(layer) in kept:
            (self.insulator_level.value, self.metal_level.value), self.pixel_nm.value = \
                kept[id(layer)]
            return
        if before is None:
            return
        self.pixel_nm.value = 0.0
        if self.threshold_mode.value != LEVELS:
            return
        try:
            frame = np.asarray(self._frame_getter(layer)(self.current_frame()), float)
        except (ValueError, IndexError, TypeError):
            return
        low, high = np.nanpercentile(frame, [1, 99])
        spread = high - low
        fits = spread > 0 and min(levels) < high and max(levels) > low \
            and abs(levels[1] - levels[0]) > 0.1 * spread
        if not fits and self.suggest_levels() is not None:
            self.status.value = (
                f"the phase levels {levels[0]:.4g}/{levels[1]:.4g} were set for "
                f"{before.name} and do not fit {layer.name} (grey levels "
                f"{low:.4g}-{high:.4g}): " + self.status.value)

    def _on_psf_sigma(self, sigma) -> None:
        """A new resolution: the geometry's smallest cluster follows, as the references
        of the nearest shipped resolution (the ones compared with) were measured."""
        from ..geometry import References

        self.min_cluster.value = References.load(psf_sigma=float(sigma)).min_size

    def _on_resolution(self, _=None):
        """Resolution (FWHM, nm) and pixel size (nm) give the PSF sigma in pixels."""
        from ..imaging.optics import psf_sigma_from_resolution

        if self.fwhm_nm.value > 0 and self.pixel_nm.value > 0:
            self.psf_sigma.value = round(psf_sigma_from_resolution(
                float(self.fwhm_nm.value), float(self.pixel_nm.value)), 2)

    def estimate_psf(self) -> float | None:
        """Suggest the PSF sigma of the displayed frame (grey images) in the sigma box."""
        from ..imaging.optics import estimate_psf_sigma

        layer = self.layer_box.value
        if layer is None:
            self._error("no image layer to estimate the point-spread function from")
            return None
        t = self.current_frame()
        try:
            frame, region = self._frame_getter(layer)(t), self._frame_region()
            raw, shifts = layer.metadata.get("raw"), layer.metadata.get("shifts")
            where = f"frame {t}"
            if raw in self.viewer.layers and shifts:
                # an aligned stack's frames are resampled, and the interpolation colours
                # the noise: a half-pixel shift hides the cut-off (0 instead of 2 px);
                # the raw frame shows the instrument as it is
                from ..imaging.drift import regions_in_frames

                frame = self._frame_getter(self.viewer.layers[raw])(t)
                region = None if region is None else \
                    regions_in_frames(region, [shifts[t]])[0]
                where = f"raw frame {t} of {raw}"
            sigma = estimate_psf_sigma(frame, mask=region)
        except ValueError as err:
            self._error(f"cannot estimate the point-spread function: {err}")
            return None
        self.psf_sigma.value = round(sigma, 2)
        self.status.value = (
            f"estimated PSF sigma: {sigma:.2f} px (from {where}); the model for it is "
            "used on Run" if sigma > 0 else
            f"no blur measurable in {where} (PSF sigma 0: a sharp image, or uncorrelated "
            "pixels such as camera noise); the lattice-scale model is used on Run")
        return sigma
