"""Parameter maps: a family's parameters read window by window across a frame, and one
estimate per frame with an interval that counts the windows' overlap.

Windows of the regressor's side ``w`` (100 px) are read on a grid of step ``stride``
(default :data:`~napari_hamiltonian.parameters.frames.PARAMETER_STRIDE`, a quarter
window), only those wholly inside the region of interest. A frame's estimate is the mean
of its windows' estimates; its interval (:mod:`napari_hamiltonian.parameters.frames`)
counts the windows' own noise over the independent windows the frame holds, the error
its windows share, and is calibrated on frames of known parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..imaging.region import windows_inside
from .families import family
from .frames import (
    PARAMETER_STRIDE,
    check_parameter_stride,
    combine_windows,
    independent_windows,
    read_windows,
)
from .regressor import _check_coverage

#: The family whose parameters each class's windows carry (P-3D: none; its slices are
#: not site percolation of the plane).
FAMILY_OF_CLASS = {"C-2D": "C-2D", "C-3D": "C-3D", "RF-2D": "RF-2D", "RF-3D": "RF-3D",
                   "P-2D": "P", "P*": "P"}


@dataclass
class ParameterMap:
    """A family's parameters read across one frame.

    Window (i, j) covers ``frame[i*stride : i*stride + window, j*stride : j*stride +
    window]``.

    Attributes
    ----------
    family : str
        The family read (:data:`~napari_hamiltonian.parameters.families.FAMILIES`).
    names : tuple of str
        The parameters, in the order of the last axis (``"temperature"``, ``"disorder"``,
        ``"metal_fraction"``, ``"p"``; units of J for T and R).
    estimate : ndarray, float, shape (ny, nx, k)
        Each window's estimate; NaN for windows not read (outside the region).
    interval : ndarray, float, shape (ny, nx, k, 2)
        Each window's ``coverage`` interval (lower, upper).
    frame_estimate : ndarray, float, shape (k,)
        The mean of the windows' estimates.
    frame_interval : ndarray, float, shape (k, 2)
        Its ``coverage`` interval (module docstring); NaN when no window is read.
    coverage : float
        Nominal coverage of the intervals.
    stride, window : int
        Step and side of the windows (pixels).
    n_independent : float
        Independent windows the frame's mean is worth (module docstring).
    critical : float or None
        The critical value of the first parameter (Tc, Rc, pc), None where the family
        has none.
    psf_sigma : float
        The resolution (PSF sigma, px) of the images the regressor was trained on; 0 for
        the lattice scale.
    """

    family: str
    names: tuple
    estimate: np.ndarray
    interval: np.ndarray
    frame_estimate: np.ndarray
    frame_interval: np.ndarray
    coverage: float
    stride: int
    window: int
    n_independent: float
    critical: float | None
    psf_sigma: float = 0.0

    @property
    def inside(self) -> np.ndarray:
        """(ny, nx) bool: the windows read."""
        return np.isfinite(self.estimate).all(-1)

    def relative_to_critical(self) -> np.ndarray | None:
        """The frame's first parameter over its critical value (T/Tc, R/Rc, p/pc) with
        its interval, ``(estimate, lower, upper)``; None where the family has no
        critical value."""
        if self.critical is None:
            return None
        first = np.array([self.frame_estimate[0], *self.frame_interval[0]])
        return first / self.critical

    @property
    def ratio_name(self) -> str:
        """How the first parameter over its critical value is written: "T/Tc", "R/Rc",
        "p/pc"."""
        return {"temperature": "T/Tc", "disorder": "R/Rc", "p": "p/pc"}.get(
            self.names[0], f"{self.names[0]}/critical")

    def rows(self) -> list[dict]:
        """One dict per parameter: family, parameter, estimate, lower, upper, coverage,
        independent windows, the regressor's resolution and the first parameter's ratio
        to the critical value (None for the others and where the family has none): the
        command line's CSV rows."""
        ratio = self.relative_to_critical()
        return [{"family": self.family, "parameter": name,
                 "estimate": float(self.frame_estimate[j]),
                 "lower": float(self.frame_interval[j, 0]),
                 "upper": float(self.frame_interval[j, 1]),
                 "coverage": self.coverage, "n_independent": round(self.n_independent, 2),
                 "psf_sigma_px": self.psf_sigma,
                 "over_critical": float(ratio[0]) if ratio is not None and j == 0
                 else None}
                for j, name in enumerate(self.names)]


def read_parameters(binary, regressor, family_name: str | None = None,
                    stride: int = PARAMETER_STRIDE, mask=None,
                    coverage: float = 0.9) -> ParameterMap:
    """Read a family's parameters in every window of a binary frame.

    Parameters
    ----------
    binary : array_like, shape (H, W)
        0/1 frame at the lattice scale (1 = up, metal), as the classifier reads it.
    regressor : HamiltonianRegressor
        Fitted for the family (:func:`~napari_hamiltonian.load_pretrained_regressor`).
    family_name : str, optional
        The family's name, for the critical value and the record (default: the one the
        regressor's training recorded).
    stride : int
        Step of the windows (pixels).
    mask : ndarray of bool, shape (H, W), optional
        The region of interest; only windows wholly inside it are read.
    coverage : float
        Nominal coverage of the intervals.

    Returns
    -------
    ParameterMap
    """
    stride = check_parameter_stride(stride)
    _check_coverage(coverage)
    frame = np.asarray(binary)
    w = int(regressor.window_)
    if frame.ndim != 2 or min(frame.shape) < w:
        raise ValueError(f"the parameters are read in {w} x {w} windows: give a 2D frame "
                         f"at least that large, got shape {frame.shape}")
    name = family_name or regressor.training_info_.get("family")
    fam = None if name is None else family(name)
    inside = windows_inside(mask, frame.shape, w, stride)
    ny, nx = inside.shape
    k = len(regressor.parameter_names_)
    estimate = np.full((ny, nx, k), np.nan)
    interval = np.full((ny, nx, k, 2), np.nan)
    mean, sigma = read_windows(regressor, frame, inside, stride)
    half = sigma * regressor._quantile(coverage)
    estimate[inside] = mean
    interval[inside] = np.stack([mean - half, mean + half], -1)
    n_ind = independent_windows(inside, frame.shape, w, stride)
    mean, half = combine_windows(estimate[inside], interval[inside], n_ind, regressor,
                                 coverage)
    return ParameterMap(family=None if fam is None else fam.name,
                        names=tuple(str(v) for v in regressor.parameter_names_),
                        estimate=estimate, interval=interval, frame_estimate=mean,
                        frame_interval=np.stack([mean - half, mean + half], -1),
                        coverage=float(coverage), stride=stride, window=w,
                        n_independent=n_ind, critical=None if fam is None else fam.critical,
                        psf_sigma=float(regressor.training_info_.get("psf_sigma", 0.0)))
