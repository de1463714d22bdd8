"""Bundled sample files (``sample_data/``), made by this package's own simulators."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

#: Files in ``napari_hamiltonian/sample_data``.
SAMPLES = {
    "rf2d_stack.tif": "RF-2D field sweep, 300x300, 8 frames, metal fraction 0.15 -> 0.85",
    "rf2d_stack_gray.tif": "the same stack blurred and noisy (grayscale, needs a threshold)",
    "gallery.tif": "one 100x100 image per class, in CLASSES order",
    "rf2d_stack_fields.json": "applied field H and metal fraction of each stack frame",
}


def sample_path(name: str) -> Path:
    """Path of a bundled sample file (see :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose from {', '.join(SAMPLES)}")
    return Path(str(resources.files("napari_hamiltonian") / "sample_data" / name))


def field_sweep_stack(size: int = 300, disorder: float = 1.1,
                      fractions=(0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85),
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Snapshots of one zero-temperature RF-2D field sweep at rising up (metal) fractions.

    Returns
    -------
    frames : ndarray, uint8, shape (len(fractions), size, size)
    fields : ndarray, float, shape (len(fractions),)
        Applied field H (units of J) at each snapshot.
    """
    from .simulate.rfim import field_sweep, snapshot

    n = size * size
    h = np.random.default_rng(seed).normal(0.0, disorder, n)
    order, ends, fields = field_sweep(h, 1, size, size)
    frames, hs = [], []
    for f in fractions:
        count = int(np.ceil(f * n))
        frames.append(snapshot(order, ends, count, n).reshape(size, size))
        hs.append(fields[min(np.searchsorted(ends, count), len(ends) - 1)])
    return np.stack(frames), np.array(hs)


def microscope_view(frames: np.ndarray, blur: float = 1.5, noise: float = 0.12,
                    seed: int = 0) -> np.ndarray:
    """What an optical microscope might see: Gaussian blur, noise, 8-bit grey levels
    (metal bright)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    g = gaussian_filter(frames.astype(np.float64), sigma=(0, blur, blur))
    g = g + rng.normal(0.0, noise, g.shape)
    return np.clip(np.round(50 + 150 * g), 0, 255).astype(np.uint8)


def raw_microscope_stack(n_frames: int = 24, field: int = 400, psf_sigma: float = 2.0,
                         vignetting: float = 0.3, max_drift: float = 20.0,
                         electrodes: float = 0.2, noise: float = 0.06, seed: int = 0
                         ) -> dict:
    """An "optical VO2-like" raw stack: an RF-2D field sweep seen as a microscope records
    it, with what real stacks carry, and the same sweep without those defects.

    The sweep runs on a lattice larger than the field of view (metal fraction 0.15 to
    0.85); each frame shows the field through a Gaussian PSF of ``psf_sigma`` px, with
    two bright electrode strips (on the sample: they drift with it) covering
    ``electrodes`` of the field, a random drift (a random walk, at most ``max_drift`` px
    from the first frame), radial vignetting that darkens the corners by
    ``vignetting`` (of every reflectance: insulator 60, metal 150, gold 258 at the
    centre), Gaussian noise (``noise`` of the contrast) and 8-bit quantisation.

    Returns
    -------
    dict
        ``raw`` (T, field, field) uint8; ``clean`` the same sweep without drift,
        vignetting and electrodes (8-bit, same PSF and noise); ``shifts`` (T, 2) the
        drift of each frame relative to the first (px); ``electrodes`` bool (field,
        field), the strips in the first frame's coordinates; ``fractions`` the metal
        fraction of each frame; ``illumination`` the vignetting (field, field).
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    margin = int(np.ceil(max_drift)) + 8
    size = field + 2 * margin
    fractions = tuple(np.linspace(0.15, 0.85, n_frames))
    lattice, _ = field_sweep_stack(size=size, fractions=fractions, seed=seed)
    steps = rng.normal(0.0, 1.0, (n_frames, 2))
    steps[0] = 0
    walk = np.cumsum(steps, 0)
    walk *= max_drift / max(np.abs(walk).max(), 1e-9)
    # two fingers of gold, from opposite edges, ending inside the field (as the
    # electrodes of a device do); each covers ``electrodes / 2`` of the field
    width = int(round(electrodes * field / 2 / 0.8))
    strips = np.zeros((size, size), bool)
    reach = margin + int(0.8 * field)
    strips[:reach, margin + field // 4 - width // 2:][:, :width] = True
    strips[size - reach:, margin + 3 * field // 4 - width // 2:][:, :width] = True
    yy, xx = np.mgrid[:field, :field] - (field - 1) / 2
    light = 1 - vignetting * (yy ** 2 + xx ** 2) / (2 * ((field - 1) / 2) ** 2)
    raw, clean = [], []
    for frame, shift in zip(lattice, walk):
        phase = frame.astype(np.float64)
        scene = np.where(strips, 2.2, phase)  # gold: brighter than either phase
        for out, image, drift, lit in ((raw, scene, shift, light), (clean, phase, (0, 0), 1)):
            # the camera samples the blurred scene where the drift has taken it
            # (blurred, the scene is smooth enough for a cubic spline to shift it)
            moved = ndimage.shift(ndimage.gaussian_filter(image, psf_sigma), drift,
                                  order=3, mode="nearest")
            view = moved[margin:margin + field, margin:margin + field]
            # both phases reflect the illumination: insulator 60, metal 150 at its centre
            grey = (60 + 90 * view) * lit + 90 * rng.normal(0.0, noise, view.shape)
            out.append(np.clip(np.round(grey), 0, 255).astype(np.uint8))
    return {"raw": np.stack(raw), "clean": np.stack(clean), "shifts": walk,
            "electrodes": strips[margin:margin + field, margin:margin + field],
            "fractions": np.array(fractions), "illumination": light}


def write_samples(folder) -> None:
    """(Re)make the bundled sample files in ``folder`` (deterministic)."""
    import tifffile

    from .classes import CLASSES
    from .simulate.dataset import make_dataset

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames, fields = field_sweep_stack()
    meta = {"model": "RF-2D", "disorder_R": 1.1, "fields_H": [round(float(v), 5)
                                                              for v in fields],
            "metal_fraction": [round(float(v), 4) for v in frames.mean((1, 2))]}
    opts = {"compression": "zlib", "photometric": "minisblack"}
    tifffile.imwrite(folder / "rf2d_stack.tif", frames, metadata=meta, **opts)
    tifffile.imwrite(folder / "rf2d_stack_gray.tif", microscope_view(frames),
                     metadata={**meta, "note": "blurred and noisy"}, **opts)
    X, y, _ = make_dataset(1, size=100, seed=7, progress=False)
    gallery = np.stack([X[list(y).index(c)] for c in CLASSES])
    tifffile.imwrite(folder / "gallery.tif", gallery, metadata={"classes": list(CLASSES)},
                     **opts)
    (folder / "rf2d_stack_fields.json").write_text(json.dumps(meta, indent=1))
