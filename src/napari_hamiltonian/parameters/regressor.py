"""``HamiltonianRegressor``: a family's parameters read from domain images, with intervals.

The network (:mod:`napari_hamiltonian.parameters.network`) gives each parameter a mean
and a standard deviation. The intervals are split-conformal: a share of the training
images (``calibration_fraction``) is held out, and the interval of a new image is the
mean plus or minus the held-out images' ``coverage`` quantile of ``|error| / sigma``
times its own sigma, so a nominal 90 % interval covers 90 % of images drawn like the
training set, whether or not the network's sigma is right, and is wider where the
network is less sure.

An estimate averaged over many windows of one frame loses the windows' own noise but not
the error its windows share: the network's bias at that parameter value, and what the
frame as a whole holds (a surface slice of a 3D lattice). :meth:`HamiltonianRegressor.
calibrate_frames` measures it on frames of known parameters, as the mean squared error of
a frame's mean less the part its windows' spread explains (variance components), and
:meth:`HamiltonianRegressor.shared_error` gives it near a frame's estimate
(:mod:`napari_hamiltonian.parameters.maps`).
"""

from __future__ import annotations

import json
import math
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ..classifier.modelfile import (
    MODEL_FORMAT_VERSION,
    check_finite,
    content_sha256,
    package_version,
    parse_model_file,
)
from ..classifier.images import check_numbers, square_images
from ..classifier.symmetry import symmetry_reduce
from ..imaging.binary import as_binary
from ..imaging.region import windows_inside
from ..output.files import atomic_write
from . import network
from . import frames as frame_estimates

#: What a regressor's model file says it holds (a classifier's says nothing).
KIND = "regressor"
#: Fewest calibration frames :meth:`HamiltonianRegressor.calibrate_frames` takes.
MIN_FRAMES = 20


def _window_ok(side: int) -> bool:
    """Whether the three convolutions read a ``side`` x ``side`` window."""
    s = (side - network.KERNEL + 1) // 2
    s = (s - network.KERNEL + 1) // 2
    return s - network.KERNEL + 1 >= 1


class HamiltonianRegressor(RegressorMixin, BaseEstimator):
    """Estimates the parameters of one family of Hamiltonians from binary domain images.

    Every image is symmetry reduced before the network reads it (the parameters do not
    change under rotations, reflections or the spin flip); its density, which the flip
    would hide, goes in beside it.

    Parameters
    ----------
    parameter_names : tuple of str or None, default=None
        Names of the columns of ``y`` (None: ``"y0"``, ``"y1"``, ...).
    hidden_units : int, default=64
        Width of the dense layer.
    epochs : int, default=8
        Passes over the training split.
    batch_size : int, default=64
        Images per Adam step.
    learning_rate : float, default=2e-3
        Adam step size (a tenth of it for the last quarter of the epochs).
    calibration_fraction : float, default=0.15
        Share of the images held out to calibrate the intervals (at least 20 images).
    statistics : {"bond", "pattern"}, default="bond"
        What the network reads beside the convolutions: the density and the bond
        correlation, or with them the pattern statistics the rejection reads
        (:func:`napari_hamiltonian.parameters.network.statistics`).
    head_epochs : int, default=0
        Passes of the dense layers over the statistics alone before the convolutions
        join (:func:`napari_hamiltonian.parameters.network.fit_head`; cheap). 0 starts
        from the statistics' linear reading. Where a parameter is a steep function of
        the statistics (a 3D slice's temperature below Tc), the joint epochs are too few
        to learn it, and this is what reads it.
    random_state : int, RandomState or None, default=None
        Seeds the split, shuffling and initialisation; an int gives the same model every
        time on CPU.
    verbose : int, default=0
        1 shows a progress bar.

    Attributes
    ----------
    parameter_names_ : ndarray of str, shape (k,)
    n_features_in_ : int
        Pixels per image.
    window_ : int
        Side of the square images (pixels).
    model_ : RegressorCNN
    target_mean_, target_scale_ : ndarray, shape (k,)
        The standardisation of the targets.
    statistics_mean_, statistics_scale_ : ndarray, shape (n_statistics,)
        The standardisation of the statistics the network reads (with
        ``statistics="pattern"``; 0 and 1 with "bond", whose statistics are of order 1).
    calibration_scores_ : ndarray, shape (n_calibration, k)
        ``|error| / sigma`` of the held-out images, sorted per parameter.
    frame_targets_, frame_errors_, frame_noise_ : ndarray, shape (n_frames, k)
        Of each calibration frame (:meth:`calibrate_frames`; standardised units): its
        true parameters, the error of its windows' mean estimate and that mean's
        variance from the windows' spread. Absent until frames are calibrated.
    frame_independent_ : ndarray, shape (n_frames,)
        Independent windows of each calibration frame.
    frame_stride_ : int
        Step (px) of the windows the calibration frames were read in.
    loss_curve_ : list of float
        Mean loss per epoch.
    training_info_ : dict
    """

    def __init__(self, parameter_names=None, hidden_units: int = 64, epochs: int = 8,
                 batch_size: int = 64, learning_rate: float = 2e-3,
                 calibration_fraction: float = 0.15, statistics: str = "bond",
                 head_epochs: int = 0, random_state=None, verbose: int = 0):
        self.parameter_names = parameter_names
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.calibration_fraction = calibration_fraction
        self.statistics = statistics
        self.head_epochs = head_epochs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        checks = [
            ("hidden_units", self.hidden_units, Integral, lambda v: v >= 1, ">= 1"),
            ("epochs", self.epochs, Integral, lambda v: v >= 1, ">= 1"),
            ("batch_size", self.batch_size, Integral, lambda v: v >= 1, ">= 1"),
            ("learning_rate", self.learning_rate, Real, lambda v: 0 < v < math.inf,
             "> 0 and finite"),
            ("calibration_fraction", self.calibration_fraction, Real,
             lambda v: 0 < v < 1, "in (0, 1)"),
            ("head_epochs", self.head_epochs, Integral, lambda v: v >= 0, ">= 0"),
        ]
        check_numbers(checks)
        if self.statistics not in network.STATISTICS:
            raise ValueError(f"statistics must be one of {network.STATISTICS}, got "
                             f"{self.statistics!r}")

    def _images(self, X, reset: bool) -> np.ndarray:
        """Validate X into uint8 0/1 images (N, w, w)."""
        arr, side = square_images(self, X, reset)
        if reset and not _window_ok(side):
            raise ValueError(f"X has {arr.shape[1]} feature(s) (pixels) per image: the "
                             "regressor needs square images of at least 32 x 32 pixels")
        binary, _ = as_binary(arr, "X")
        return binary.reshape(len(arr), side, side)

    def _targets(self, y, images: np.ndarray) -> np.ndarray:
        """Validate y into float64 (N, k)."""
        y = np.asarray(y)
        if y.dtype.kind not in "uif":
            raise ValueError(f"y must hold numbers (the parameters of each image), got "
                             f"dtype {y.dtype}")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be (N,) or (N, k) parameters, got shape {y.shape}")
        check_consistent_length(images, y)
        y = y.astype(np.float64).reshape(len(y), -1)
        if not np.isfinite(y).all():
            raise ValueError("y holds NaN or infinite values; give every image its "
                             "parameters")
        return y

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train on binary images ``X`` (N, w, w) and their parameters ``y`` (N,) or
        (N, k); returns self."""
        self._check_params()
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None: give the "
                             "parameters of each image")
        images = self._images(X, reset=True)
        y_in = np.asarray(y)
        targets = self._targets(y_in, images)
        k = targets.shape[1]
        names = self.parameter_names
        if names is None:
            names = [f"y{j}" for j in range(k)]
        if len(names) != k or not all(isinstance(v, str) for v in names):
            raise ValueError(f"parameter_names must be {k} strings, one per column of y, "
                             f"got {names!r}")
        n_cal = max(20, int(round(self.calibration_fraction * len(images))))
        if len(images) - n_cal < 2:
            raise ValueError(f"{len(images)} images are too few: {n_cal} are held out to "
                             "calibrate the intervals; give at least 22")
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        gen = np.random.default_rng(seed)
        order = gen.permutation(len(images))
        cal, fit = np.sort(order[:n_cal]), np.sort(order[n_cal:])
        raw_stats = network.statistics(images, self.statistics)
        n_stats = raw_stats.shape[1]
        self.statistics_mean_ = np.zeros(n_stats, np.float32)
        self.statistics_scale_ = np.ones(n_stats, np.float32)
        if self.statistics == "pattern":  # correlations of every scale: the dense layer
            spread = raw_stats[fit].std(0)  # learns evenly from them once standardised
            self.statistics_mean_ = raw_stats[fit].mean(0)
            self.statistics_scale_ = np.where(spread > 0, spread, 1.0).astype(np.float32)
        stats = self._standardised(raw_stats)
        reduced = symmetry_reduce(images)
        mean, scale = targets[fit].mean(0), targets[fit].std(0)
        scale = np.where(scale > 0, scale, 1.0)
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm
            progress = tqdm(total=self.epochs * len(fit), unit="img", desc="training")
        t0 = time.perf_counter()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = network.RegressorCNN(k, self.hidden_units, stats.shape[1])
                losses = network.train(model, reduced[fit], stats[fit],
                                       (targets[fit] - mean) / scale, self.epochs,
                                       self.batch_size, self.learning_rate, gen,
                                       None if progress is None else progress.update,
                                       self.head_epochs)
        finally:
            if progress is not None:
                progress.close()
        if not all(bool(torch.isfinite(v).all()) for v in model.state_dict().values()):
            raise ValueError("the training diverged (weights not finite); train again "
                             "with a smaller learning_rate")
        self.model_ = model
        self.window_ = images.shape[1]
        self.parameter_names_ = np.array(names)
        self.target_mean_, self.target_scale_ = mean, scale
        self._y_1d = y_in.ndim == 1
        mu, sigma = network.predict(model, reduced[cal], stats[cal])
        scores = np.abs((targets[cal] - mean) / scale - mu) / sigma
        self.calibration_scores_ = np.sort(scores, 0)
        self.loss_curve_ = losses
        self.training_info_ = {
            "n_images": int(len(images)), "n_calibration": int(n_cal),
            "seconds": round(time.perf_counter() - t0, 2),
            "torch": torch.__version__, "package_version": package_version()}
        return self

    # ------------------------------------------------------------------ prediction
    def _standardised(self, stats: np.ndarray) -> np.ndarray:
        return ((stats - self.statistics_mean_) / self.statistics_scale_).astype(np.float32)

    def _outputs(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(means, sigmas) (N, k) in the parameters' units."""
        check_is_fitted(self)
        images = self._images(X, reset=False)
        mu, sigma = network.predict(self.model_, symmetry_reduce(images), self._standardised(
            network.statistics(images, self.statistics)))
        return (mu * self.target_scale_ + self.target_mean_,
                sigma * self.target_scale_)

    def _shaped(self, a: np.ndarray) -> np.ndarray:
        return a[:, 0] if getattr(self, "_y_1d", False) else a

    def predict(self, X, return_std: bool = False):
        """Estimated parameters, (N, k) ((N,) when fitted with a 1D ``y``).

        With ``return_std``, also a standard deviation per estimate: the half-width of
        the calibrated 68.3 % interval (:meth:`predict_interval`).
        """
        mu, sigma = self._outputs(X)
        if not return_std:
            return self._shaped(mu)
        return self._shaped(mu), self._shaped(sigma * self._quantile(0.6827))

    def _quantile(self, coverage: float) -> np.ndarray:
        """The split-conformal quantile of ``|error| / sigma`` per parameter (k,)."""
        scores = self.calibration_scores_
        n = len(scores)
        rank = math.ceil((n + 1) * coverage)
        if rank > n:
            raise ValueError(f"coverage {coverage:g} needs more than the {n} held-out "
                             f"images this model was calibrated on: give at most "
                             f"{n / (n + 1):.3f}")
        return scores[rank - 1]

    def predict_interval(self, X, coverage: float = 0.9) -> np.ndarray:
        """Interval of each estimate that covers the true value with probability
        ``coverage`` for images drawn like the training set.

        Returns
        -------
        ndarray, shape (N, k, 2)
            Lower and upper bounds ((N, 2) when fitted with a 1D ``y``).
        """
        _check_coverage(coverage)
        mu, sigma = self._outputs(X)
        half = sigma * self._quantile(coverage)
        return self._shaped(np.stack([mu - half, mu + half], -1))

    def calibrate_frames(self, frames, y, stride: int = frame_estimates.PARAMETER_STRIDE
                         ) -> HamiltonianRegressor:
        """Measure the error a frame's windows share (:meth:`shared_error`) on frames of
        known parameters that the network never trained on; the windows' intervals do
        not change.

        Frames are read as maps read them (windows every ``stride`` px) and their
        windows' spread counted as maps count it (:mod:`~napari_hamiltonian.parameters.
        frames`), so what that count misses of the overlap's noise is measured as shared.

        Parameters
        ----------
        frames : array_like, shape (N, H, W), or sequence of N arrays (H_i, W_i)
            Binary frames of at least two disjoint windows each (``H, W >= window_``,
            ``H * W >= 2 window_**2``); at least :data:`MIN_FRAMES`. Frames of several
            sizes let the shared error hold how much the patterns depend on the size of
            the sample.
        y : array_like, shape (N,) or (N, k)
            The parameters of each frame.
        stride : int
            Step of the windows (px), that of the maps the calibration is for.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        w = self.window_
        frames = [np.asarray(f) for f in frames]
        if len(frames) < MIN_FRAMES or any(
                f.ndim != 2 or min(f.shape) < w or (f.shape[0] // w) * (f.shape[1] // w) < 2
                for f in frames):
            shapes = sorted({f.shape for f in frames})[:3]
            raise ValueError(f"give at least {MIN_FRAMES} frames (H, W) of at least two "
                             f"{w} x {w} windows each, got {len(frames)} of shapes "
                             f"{shapes}")
        stride = frame_estimates.check_parameter_stride(stride)
        targets = self._targets(y, np.empty((len(frames), 0)))
        if targets.shape[1] != len(self.parameter_names_):
            raise ValueError(f"y must give the {len(self.parameter_names_)} parameter(s) "
                             f"of each frame, got shape {np.shape(y)}")
        truth = (targets - self.target_mean_) / self.target_scale_
        errors, noise = np.empty_like(truth), np.empty_like(truth)
        independent = np.empty(len(frames))
        for i, frame in enumerate(frames):
            grid = windows_inside(None, frame.shape, w, stride)
            mu, _ = frame_estimates.read_windows(self, frame, grid, stride)
            mu = (mu - self.target_mean_) / self.target_scale_
            independent[i] = frame_estimates.independent_windows(grid, frame.shape, w, stride)
            errors[i] = mu.mean(0) - truth[i]
            noise[i] = mu.var(0, ddof=1) / independent[i]
        self.frame_targets_, self.frame_errors_, self.frame_noise_ = truth, errors, noise
        self.frame_independent_, self.frame_stride_ = independent, int(stride)
        return self

    def _frames(self) -> tuple:
        """(estimated first parameter, errors, noise) of the calibration frames."""
        check_is_fitted(self)
        if getattr(self, "frame_errors_", None) is None:
            raise ValueError("this regressor does not know the error a frame's windows "
                             "share: measure it with calibrate_frames(frames, y) on frames "
                             "of known parameters (then save), or read single windows")
        return (self.frame_targets_[:, 0] + self.frame_errors_[:, 0], self.frame_errors_,
                self.frame_noise_)

    def shared_error(self, near=None) -> np.ndarray:
        """Standard deviation of the error the windows of one frame share, which no
        average over them removes (:func:`~napari_hamiltonian.parameters.frames.
        shared_error`): on the calibration frames whose estimate lies nearest ``near``
        (a frame's estimate, shape (k,); all frames without it), in the parameters'
        units, shape (k,). Frames are chosen by their estimate, not their truth: a
        frame's interval is drawn around its estimate, and where the network errs one
        way, the frames that gave such an estimate carry that error."""
        estimated, errors, noise = self._frames()
        if near is not None:
            near = (float(np.ravel(near)[0]) - self.target_mean_[0]) / self.target_scale_[0]
        return frame_estimates.shared_error(  # a sample's frames share its truth
            estimated, errors, noise, self.frame_targets_[:, 0], near) * self.target_scale_

    def frame_factor(self, coverage: float = 0.9) -> np.ndarray:
        """The split-conformal factor of a frame's ``coverage`` interval, shape (k,)
        (:func:`~napari_hamiltonian.parameters.frames.conformal_factor`)."""
        _check_coverage(coverage)
        estimated, errors, noise = self._frames()
        return frame_estimates.conformal_factor(  # a sample's frames share its truth
            estimated, errors, noise, self.frame_independent_, self.frame_targets_[:, 0],
            coverage)

    # ------------------------------------------------------------------ files
    def _tensors(self) -> dict:
        tensors = {f"model.{k}": np.ascontiguousarray(v.detach().numpy().astype(np.float32))
                   for k, v in self.model_.state_dict().items()}
        tensors["target.mean"] = np.asarray(self.target_mean_, np.float64)
        tensors["target.scale"] = np.asarray(self.target_scale_, np.float64)
        tensors["statistics.mean"] = np.asarray(self.statistics_mean_, np.float32)
        tensors["statistics.scale"] = np.asarray(self.statistics_scale_, np.float32)
        tensors["calibration.scores"] = np.ascontiguousarray(self.calibration_scores_,
                                                             np.float64)
        if getattr(self, "frame_errors_", None) is not None:
            for name in ("targets", "errors", "noise", "independent"):
                tensors[f"frames.{name}"] = np.ascontiguousarray(
                    getattr(self, f"frame_{name}_"), np.float64)
            tensors["frames.stride"] = np.array([self.frame_stride_], np.int64)
        return tensors

    def save(self, path, overwrite: bool = True) -> Path:
        """Write the fitted regressor to one safetensors file, atomically (the
        classifier's format: weights and calibration as tensors, the rest JSON, a content
        hash over everything that decides an answer; nothing pickled)."""
        check_is_fitted(self)
        from safetensors.numpy import save as st_save

        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        tensors = self._tensors()
        check_finite(tensors, "the regressor to save")
        names = self.parameter_names_.tolist()
        params = {k: v for k, v in self.get_params().items()
                  if isinstance(v, (str, int, float, bool, type(None)))}
        params["parameter_names"] = names
        architecture = {"kind": KIND, "window": self.window_,
                        "hidden_units": self.hidden_units, "n_parameters": len(names),
                        "n_statistics": self.model_.skip.in_features,
                        "one_dimensional_y": bool(getattr(self, "_y_1d", False))}
        meta = {"format": "napari-hamiltonian-model", "format_version": MODEL_FORMAT_VERSION,
                "kind": KIND, "package_version": package_version(),
                "parameters": names, "architecture": architecture, "params": params,
                "content_sha256": content_sha256(names, architecture, tensors, params),
                "loss_curve": self.loss_curve_, "training": self.training_info_}
        atomic_write(path, st_save(tensors, metadata={"napari_hamiltonian": json.dumps(meta)}))
        return path

    @classmethod
    def load(cls, path) -> HamiltonianRegressor:
        """Read a regressor written by :meth:`save` (checked against its content hash;
        never unpickles anything)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: no such model file; give a .safetensors file written "
                             "by `napari-hamiltonian train-regressor` or "
                             "HamiltonianRegressor.save")
        meta, tensors = parse_model_file(path.read_bytes(), path)
        if meta.get("kind") != KIND:
            raise ValueError(f"{path} is a classifier, not a parameter regressor: load it "
                             "with HamiltonianClassifier.load or nh.load_pretrained")
        try:
            names, arch, params = meta["parameters"], meta["architecture"], meta["params"]
            digest = content_sha256(names, arch, tensors, params)
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: the header lacks {err}; the file was edited or "
                             "damaged") from None
        if digest != meta.get("content_sha256"):
            raise ValueError(f"{path}: the content does not match its hash: the file was "
                             "edited or damaged; retrain or re-save the regressor")
        check_finite(tensors, str(path))
        reg = cls(**params)
        model = network.RegressorCNN(arch["n_parameters"], arch["hidden_units"],
                                     arch.get("n_statistics", network.N_STATISTICS))
        model.load_state_dict({k[len("model."):]: torch.from_numpy(v)
                               for k, v in tensors.items() if k.startswith("model.")})
        reg.model_ = model.eval()
        reg.window_ = arch["window"]
        reg.n_features_in_ = arch["window"] ** 2
        reg.parameter_names_ = np.array(names)
        reg.target_mean_ = tensors["target.mean"]
        reg.target_scale_ = tensors["target.scale"]
        reg.statistics_mean_ = tensors["statistics.mean"]
        reg.statistics_scale_ = tensors["statistics.scale"]
        reg.calibration_scores_ = tensors["calibration.scores"].astype(np.float64)
        if "frames.independent" in tensors:  # frames calibrated (calibrate_frames)
            for name in ("targets", "errors", "noise", "independent"):
                setattr(reg, f"frame_{name}_", tensors[f"frames.{name}"])
            reg.frame_stride_ = int(tensors["frames.stride"][0])
        reg._y_1d = arch["one_dimensional_y"]
        reg.loss_curve_ = meta.get("loss_curve", [])
        reg.training_info_ = meta.get("training", {})
        return reg


def _check_coverage(coverage) -> None:
    if isinstance(coverage, bool) or not isinstance(coverage, Real) \
            or not 0 < coverage < 1:
        raise ValueError(f"coverage must be a number in (0, 1), got {coverage!r}")
