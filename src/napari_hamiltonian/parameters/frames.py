"""Frame estimates: one estimate of a frame's parameters from its overlapping windows,
with an interval calibrated on frames of known parameters.

A parameter map reads windows of side ``w`` every ``stride`` px (default
:data:`PARAMETER_STRIDE`); the frame's estimate is their mean. Its error has two parts:

- the windows' own noise, averaged: overlapping windows are not independent, so the
  frame holds only ``n`` independent windows (:func:`independent_windows`); this part is
  the windows' spread over ``sqrt(n)``, measured on the frame itself (a frame whose
  parameter changes across it gets the wider interval its mean deserves), times the
  two-sided Student-t quantile of ``n - 1`` degrees of freedom;
- the error its windows share, which no average removes (the network's bias at that
  parameter value, a surface slice of a 3D lattice, the instrument's noise that sets how
  a blurred frame binarises): a standard deviation measured by variance components on
  the frames of the :data:`NEAREST_SAMPLES` calibration samples whose estimate is
  nearest the frame's (:func:`shared_error`), times the normal quantile.

The half-width is the root of the sum of their squares times a split-conformal factor
(:func:`conformal_factor`): the ``coverage`` quantile, over the calibration frames, of
their error over the half-width the two parts give them (each frame's shared error
measured on other samples' frames), where that is above 1. The two parts are a model
(the overlapping windows of percolation at 2 px are noisier than their pixels' count
says); the factor widens the interval where the calibration frames show the model too
narrow. It does not narrow it where they show it too wide: they are our simulator's
frames, and a frame unlike them (the bundled field sweep at low disorder, whose large
domains make the windows' middle-weighted mean of the metal fraction differ from the
frame's own share by a few hundredths) must not get a narrower interval on their word.
No factor is measured where the calibration frames come from fewer than
:data:`MIN_SAMPLES` independent samples (the 3D frames, slices of a few lattices). The
calibration frames are read exactly as the maps read frames
(:meth:`~napari_hamiltonian.HamiltonianRegressor.calibrate_frames`). All arrays here are
in the regressor's standardised units.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student

#: Default step (pixels) of the windows a parameter map reads: a quarter window.
PARAMETER_STRIDE = 25
#: Windows read by the network at once (bounds memory: 256 windows of 100 x 100).
BATCH = 256
#: Calibration samples (a 2D lattice, a 3D lattice's slices, a field sweep's snapshots),
#: nearest by estimate, on whose frames a frame's shared error is measured.
NEAREST_SAMPLES = 30
#: Fewest calibration samples on which the conformal factor is measured (1 with fewer).
MIN_SAMPLES = 50


def check_parameter_stride(stride) -> int:
    """``stride`` as an int; ValueError unless it is a positive integer."""
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"parameter stride must be a positive integer (pixels), got "
                         f"{stride!r}")
    return int(stride)


def read_windows(regressor, frame: np.ndarray, inside: np.ndarray, stride: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The regressor's outputs for the windows of a frame that are read: the one reading
    of parameter maps and of their calibration.

    Parameters
    ----------
    regressor : HamiltonianRegressor
    frame : ndarray, shape (H, W)
        Binary frame.
    inside : ndarray of bool, shape (ny, nx)
        Which windows of the grid of step ``stride`` are read.
    stride : int
        Step of the windows, px.

    Returns
    -------
    mean, sigma : ndarray, shape (n, k)
        In the parameters' units, the windows in the order of ``np.nonzero(inside)``.
    """
    w = int(regressor.window_)
    iy, ix = np.nonzero(inside)
    k = len(regressor.parameter_names_)
    mean, sigma = np.empty((len(iy), k)), np.empty((len(iy), k))
    for start in range(0, len(iy), BATCH):
        part = slice(start, start + BATCH)
        windows = np.stack([frame[y * stride:y * stride + w, x * stride:x * stride + w]
                            for y, x in zip(iy[part], ix[part])])
        mean[part], sigma[part] = regressor._outputs(windows)  # the network once for both
    return mean, sigma


def independent_windows(inside: np.ndarray, shape, window: int, stride: int) -> float:
    """Independent windows the windows read are worth: their mean weighs pixel x by the
    number c(x) of windows over it, so it averages ``(sum c)**2 / sum c**2`` pixels'
    worth of noise (all the pixels covered where the windows do not overlap), over
    ``window**2``.

    Parameters
    ----------
    inside : ndarray of bool, shape (ny, nx)
        Which windows of the grid of step ``stride`` are read
        (:func:`~napari_hamiltonian.imaging.region.windows_inside`).
    shape : tuple of int
        The frame's (H, W), px.
    window, stride : int
        Side and step of the windows, px.

    Returns
    -------
    float
        0 when no window is read.
    """
    counts = np.zeros(shape[:2], np.int64)
    for y, x in zip(*np.nonzero(inside)):
        counts[y * stride:y * stride + window, x * stride:x * stride + window] += 1
    total = float(counts.sum())
    return total ** 2 / float((counts ** 2).sum()) / window ** 2 if total else 0.0


def _components(errors: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Shared standard deviation of frames (..., m, k): the root of their mean squared
    error less the mean variance their windows' spread explains (at least 0)."""
    return np.sqrt(np.maximum((errors ** 2).mean(-2) - noise.mean(-2), 0.0))


def _nearest(estimated: np.ndarray, sample: np.ndarray, near: float,
             away: np.ndarray | None = None) -> np.ndarray:
    """Indices of the calibration frames of the :data:`NEAREST_SAMPLES` samples nearest
    ``near`` by estimate (every frame as near as the farthest of them; all frames where
    there are fewer samples), leaving out the frames marked ``away``."""
    gap = np.abs(estimated - near)
    if away is not None:
        gap = np.where(away, np.inf, gap)
    order = np.argsort(gap, kind="stable")
    order = order[np.isfinite(gap[order])]
    _, first = np.unique(sample[order], return_index=True)
    if len(first) > NEAREST_SAMPLES:
        order = order[gap[order] <= gap[order[np.sort(first)[NEAREST_SAMPLES - 1]]]]
    return order


def shared_error(estimated: np.ndarray, errors: np.ndarray, noise: np.ndarray,
                 sample: np.ndarray, near: float | None = None) -> np.ndarray:
    """The error a frame's windows share, over the calibration frames of the
    :data:`NEAREST_SAMPLES` samples whose estimated first parameter is nearest ``near``
    (all of them without it).

    Parameters
    ----------
    estimated : ndarray, shape (m,)
        The calibration frames' estimates of the first parameter.
    errors, noise : ndarray, shape (m, k)
        Their errors and the variances their windows' spread explains.
    sample : ndarray, shape (m,)
        Which sample each frame comes from (equal values: one sample; the slices of one
        3D lattice, the snapshots of one field sweep, share their sample's error).
    near : float, optional
        A frame's estimate of the first parameter.

    Returns
    -------
    ndarray, shape (k,)
    """
    if near is not None:
        nearest = _nearest(estimated, sample, near)
        errors, noise = errors[nearest], noise[nearest]
    return _components(errors, noise)


def conformal_factor(estimated: np.ndarray, errors: np.ndarray, noise: np.ndarray,
                     independent: np.ndarray, sample: np.ndarray, coverage: float
                     ) -> np.ndarray:
    """What the two parts' half-width is multiplied by (module docstring): the
    split-conformal ``coverage`` quantile of ``|error| / half-width`` over the
    calibration frames, each frame's shared error measured on the frames of other
    samples (on its own sample's, it would hold its own error); never below 1, and 1
    where the frames come from fewer than :data:`MIN_SAMPLES` samples, too few to
    measure it.

    Parameters
    ----------
    estimated, errors, noise, sample : ndarray
        As :func:`shared_error`.
    independent : ndarray, shape (m,)
        Independent windows of each calibration frame.
    coverage : float

    Returns
    -------
    ndarray, shape (k,)

    Raises
    ------
    ValueError
        When ``coverage`` needs more calibration frames than there are.
    """
    m = len(estimated)
    rank = math.ceil((m + 1) * coverage)
    if rank > m:
        raise ValueError(f"a frame's coverage {coverage:g} needs more than the {m} frames "
                         f"its regressor was calibrated on: give at most {m / (m + 1):.4f}")
    if len(np.unique(sample)) < MIN_SAMPLES:
        return np.ones(errors.shape[1])
    shared = np.stack([_components(errors[i], noise[i]) for i in (
        _nearest(estimated, sample, estimated[j], sample == sample[j]) for j in range(m))])
    t = student.ppf((1 + coverage) / 2, np.maximum(independent, 2.0) - 1)[:, None]
    half = np.sqrt(t ** 2 * noise + (norm.ppf((1 + coverage) / 2) * shared) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(half > 0, np.abs(errors) / half, np.where(errors == 0, 0, np.inf))
    return np.maximum(np.sort(scores, 0)[rank - 1], 1.0)


def combine_windows(estimates: np.ndarray, intervals: np.ndarray, n_independent: float,
                    regressor, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """A frame's estimate and the half-width of its interval (module docstring).

    Parameters
    ----------
    estimates : ndarray, shape (n, k)
        The windows' estimates, in the parameters' units.
    intervals : ndarray, shape (n, k, 2)
        Their intervals.
    n_independent : float
        Independent windows among them.
    regressor : HamiltonianRegressor
        Calibrated on frames (:meth:`~napari_hamiltonian.HamiltonianRegressor.
        calibrate_frames`): its shared error near the frame's estimate and its
        conformal factor.
    coverage : float

    Returns
    -------
    mean, half : ndarray, shape (k,)
        NaN when ``n`` is 0; the windows' own mean half-width when the frame holds fewer
        than two independent windows.
    """
    k = estimates.shape[1]
    if len(estimates) == 0:
        return np.full(k, np.nan), np.full(k, np.nan)
    mean = estimates.mean(0)
    if n_independent < 2 or len(estimates) < 2:
        return mean, (intervals[..., 1] - intervals[..., 0]).mean(0) / 2
    spread = estimates.std(0, ddof=1)
    noise = student.ppf((1 + coverage) / 2, n_independent - 1) * spread \
        / np.sqrt(n_independent)
    shared = norm.ppf((1 + coverage) / 2) * regressor.shared_error(mean)
    return mean, regressor.frame_factor(coverage) * np.sqrt(noise ** 2 + shared ** 2)
