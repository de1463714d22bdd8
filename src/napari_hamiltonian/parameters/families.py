"""The families whose parameters are estimated, and their training data.

A family is one Hamiltonian with its parameters free: the clean Ising model (temperature
T, units of J), the zero-temperature random-field Ising model (disorder R, units of J,
and the metal fraction of the snapshot, which says where it sits on the field sweep) and
site percolation (occupation p). The ranges reach well beyond Table I, so that an image
the classifier rejects as out of range still gets its parameters read: the paper's
"beyond criticality".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..simulate.ising import TC_2D, TC_3D, sample_ising
from ..simulate.percolation import PC_2D, sample_percolation
from ..simulate.rfim import sample_rfim

#: Critical disorder of the 3D RFIM field sweep (Perkovic, Dahmen & Sethna 1999).
RC_3D = 2.16
#: Up fractions of the sweep at which random-field snapshots are drawn for the families
#: (wider than the classifier's window around the coercive field).
SWEEP_WINDOW = (0.1, 0.9)


@dataclass(frozen=True)
class Family:
    """One Hamiltonian with free parameters.

    Attributes
    ----------
    name : str
        The family's name (``"C-2D"``, ``"C-3D"``, ``"RF-2D"``, ``"RF-3D"``, ``"P"``).
    parameters : tuple of str
        Names of the estimated parameters, the columns of the regressor's output.
    ranges : tuple of (float, float)
        Training range of each parameter (drawn uniformly where the generator draws it).
    critical : float or None
        The critical value of the first parameter (Tc, Rc or pc), for T/Tc-like reports;
        None where the 2D field sweep has none.
    statistics : {"bond", "pattern"}
        What its regressor reads beside the convolutions (the disorder of a field sweep,
        and the temperature of a slice of a 3D lattice, show in the correlations at
        several distances, not in the bond alone).
    head_epochs : int
        Passes of its regressor's head over the statistics alone before the
        convolutions join (``HamiltonianRegressor(head_epochs=...)``).
    """

    name: str
    parameters: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    critical: float | None
    statistics: str = "bond"
    head_epochs: int = 0


#: The families, by name.
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("C-2D", ("temperature",), ((1.8, 3.5),), TC_2D),
    Family("C-3D", ("temperature",), ((4.0, 5.5),), TC_3D, "pattern", 60),
    Family("RF-2D", ("disorder", "metal_fraction"), ((0.5, 3.0), SWEEP_WINDOW), None,
           "pattern"),
    Family("RF-3D", ("disorder", "metal_fraction"), ((1.5, 4.0), SWEEP_WINDOW), RC_3D,
           "pattern"),
    Family("P", ("p",), ((0.0, 1.0),), PC_2D),
)}


def family(name: str) -> Family:
    """The :class:`Family` called ``name`` in any case ("rf-2d" is RF-2D); ValueError
    naming the families otherwise."""
    key = name.upper() if isinstance(name, str) else name
    if key not in FAMILIES:
        raise ValueError(f"unknown family {name!r}: choose one of {', '.join(FAMILIES)}")
    return FAMILIES[key]


def simulate_family(name: str, n: int, size: int = 100, seed=0,
                    ranges=None) -> tuple[np.ndarray, np.ndarray]:
    """Images of a family with their true parameters.

    Parameters
    ----------
    name : str
        A key of :data:`FAMILIES`.
    n : int
        Number of images.
    size : int
        Lattice side (pixels).
    seed : int
        Seed; the same seed gives the same images.
    ranges : sequence of (float, float), optional
        The range of the first parameter (and, for random-field families, of the metal
        fraction) instead of the family's.

    Returns
    -------
    images : ndarray, uint8, shape (n, size, size)
        1 = up (metal).
    targets : ndarray, float64, shape (n, k)
        The parameters of each image, in the order of ``Family.parameters``.
    """
    fam = family(name)
    ranges = fam.ranges if ranges is None else tuple(ranges)
    if fam.name in ("C-2D", "C-3D"):
        dim = 2 if fam.name == "C-2D" else 3
        # few configurations per chain: many temperatures
        images, temps, _ = sample_ising(n, size, ranges[0], dim, seed, per_chain=2)
        return images, temps[:, None]
    if fam.name in ("RF-2D", "RF-3D"):
        dim = 2 if fam.name == "RF-2D" else 3
        window = ranges[1] if len(ranges) > 1 else SWEEP_WINDOW
        images, disorder, _, fractions, _ = sample_rfim(n, size, ranges[0], dim, seed,
                                                        up_fraction=window)
        return images, np.column_stack([disorder, fractions])
    images, p = sample_percolation(n, size, ranges[0], seed)
    return images, p[:, None]


#: Sides (px) of the frames a family's regressor is calibrated on
#: (:meth:`~napari_hamiltonian.HamiltonianRegressor.calibrate_frames`), in equal shares:
#: 2D lattices of 9-25 windows, whose patterns (a 2D field sweep's avalanches at low
#: disorder) may depend on the sample's size; slices of 3D lattices of four windows
#: (the 13 slices of one lattice; larger lattices cost too much to simulate).
FRAME_SIDES = {"C-2D": (300, 400, 500), "RF-2D": (300, 400, 500), "P": (300, 400, 500),
               "C-3D": (200,), "RF-3D": (200,)}


def calibration_frames(name: str, n: int, seed=0, psf_sigma: float = 0.0
                       ) -> tuple[list, np.ndarray]:
    """About ``n`` frames of the sides :data:`FRAME_SIDES` of a family with their
    parameters (:func:`simulate_family`, side k of seed ``seed + 7919 k``; through
    :func:`as_micrographs` for a ``psf_sigma`` > 0), for calibrating frame estimates.

    Returns
    -------
    frames : list of ndarray, uint8, each (side, side)
    targets : ndarray, float64, shape (len(frames), k)
    """
    sides = FRAME_SIDES[family(name).name]
    frames, targets = [], []
    for k, side in enumerate(sides):
        images, truth = simulate_family(name, -(-n // len(sides)), side, seed + 7919 * k)
        frames += list(as_micrographs(images, psf_sigma, seed + 7919 * k))
        targets.append(truth)
    return frames, np.concatenate(targets)


def as_micrographs(images: np.ndarray, psf_sigma: float, seed=0) -> np.ndarray:
    """Lattice images as a binarised microscope of PSF ``psf_sigma`` (px) sees them:
    each through its own instrument (intensities and signal to noise drawn per image),
    thresholded halfway between the phases
    (:func:`~napari_hamiltonian.imaging.optics.render_training_set`); the lattices are
    periodic, so they are blurred with their wrapped-around neighbourhood. Unchanged for
    ``psf_sigma`` 0."""
    if not psf_sigma:
        return images
    from ..imaging.optics import render_training_set

    margin = int(np.ceil(4 * psf_sigma))
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin)), mode="wrap")
    return render_training_set(padded, psf_sigma, seed=[seed, 7], window=images.shape[-1])
