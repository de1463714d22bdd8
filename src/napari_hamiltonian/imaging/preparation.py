"""The steps from a raw stack to frames a model can read, in the order the physics asks:
drift measured on the raw frames, the light of the camera divided out of the raw frames
(it does not move with the sample), then the frames aligned; the region of the prepared
stack is what every frame covers, within the user's region. What ``classify --register
--flat-field`` runs and records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .drift import register_stack, regions_in_frames
from .illumination import flat_field


@dataclass(frozen=True)
class Preparation:
    """Which preparation steps a stack gets.

    Attributes
    ----------
    register : bool
        Measure the drift and align the frames (:func:`~napari_hamiltonian.register_stack`).
    flat_field : bool
        Divide the illumination out (:func:`~napari_hamiltonian.flat_field`).
    """

    register: bool = False
    flat_field: bool = False

    def settings(self) -> dict:
        """The steps taken, as recorded in a results folder's settings (none: {})."""
        return {name: True for name in ("register", "flat_field") if getattr(self, name)}

    def apply(self, stack, mask=None) -> tuple[object, np.ndarray | None, np.ndarray | None]:
        """(the prepared stack, its region, the shifts (T, 2) px or None).

        ``mask``: the user's region, bool (Y, X) (of the first frame's field) or
        (T, Y, X) (then the pixels inside in every frame). Without any step the stack
        and the mask come back unchanged.
        """
        if not (self.register or self.flat_field):
            return stack, mask, None
        raw = np.asarray(stack, np.float64)
        region = None if mask is None else (mask if mask.ndim == 2 else mask.all(0))
        shifts = None
        if self.register:
            aligned, shifts, covered = register_stack(raw, mask=region)
            region = covered if region is None else covered & region
        if not self.flat_field:
            return aligned, region, shifts
        if shifts is None:
            return flat_field(raw, mask=region), region, None
        return flat_field_drifting(raw, shifts, region), region, shifts


def flat_field_drifting(raw, shifts, region=None) -> np.ndarray:
    """The aligned, flat-fielded stack of drifting raw frames: the light belongs to the
    camera, so it is fitted to the raw frames, each with the region (of the aligned
    stack, bool (H, W)) where the sample is in it, then the frames are aligned by
    ``shifts`` (T, 2) px, as :func:`~napari_hamiltonian.register_stack` measured them."""
    light_mask = None if region is None else regions_in_frames(region, shifts)
    return register_stack(flat_field(raw, mask=light_mask), shifts=shifts)[0]
