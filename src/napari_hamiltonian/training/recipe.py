"""The recipe of a trained model: which images it learns from and how it is fitted.

A :class:`TrainingRecipe` holds what the command line's ``train`` and the napari
training dock ask for: the simulated images (per class, and "none of these" images for
the rejection), the resolution they are rendered at (a binary or a grey model of a
point-spread function), and the estimator's parameters, with the estimator's own
defaults. :func:`train` is the one generator both front ends run: it yields progress and
returns the fitted classifier.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, fields

import numpy as np

from ..classifier.defaults import TRAINING
from ..shipped import INPUT_KINDS


@dataclass(frozen=True)
class TrainingRecipe:
    """What a model is trained on and how.

    Attributes
    ----------
    n_per_class : int
        Simulated images per class (P* twice as many, as in the paper).
    n_none : int
        Images none of the seven models drew ("none of these"), which teach the
        rejection (outlier exposure).
    seed : int
        Seed of the simulations, the renders and the fit.
    psf_sigma : float
        Gaussian sigma (px) of the microscope the images are rendered through (0: the
        lattice scale, no rendering).
    input_kind : {"binary", "grey"}
        A binary model (renders thresholded at the physical level) or a grey model
        (renders in phase units; needs ``psf_sigma`` > 0).
    level_error : float
        Grey models: how far (units of the contrast) the phase levels a user gives may
        be from the true ones; the training renders are scaled by levels drawn within it.
    render_variety : bool
        Render through instruments drawn per image (PSF shape and width, noise model;
        :func:`~napari_hamiltonian.imaging.optics.render_training_set` ``variety``).
    window : int or None
        The model's window side (px): larger images are rendered whole and their centre
        kept, so that the window's edges carry blur from the field around it; at the
        lattice scale the centre is cut. None: the images' own side.
    periodic_margin : int
        Pixels of each image's periodic continuation added around it before the render
        and cut after it, so that the edges carry blur from a field of the same lattice
        (the simulated lattices are periodic in x and y; along the open z of a 3D
        lattice's x and y slices the continuation joins its two surfaces) instead of
        mirrored edges, without simulating larger lattices. 0: none.
    epochs, hidden_units, batch_size, learning_rate, validation_fraction,
    symmetry_reduction, augmentation, storage
        The estimator's parameters (:class:`~napari_hamiltonian.HamiltonianClassifier`).
    """

    n_per_class: int = 1000
    n_none: int = 0
    seed: int = 0
    psf_sigma: float = 0.0
    input_kind: str = "binary"
    level_error: float = 0.05
    render_variety: bool = False
    window: int | None = None
    periodic_margin: int = 0
    epochs: int = TRAINING["epochs"]
    hidden_units: int = TRAINING["hidden_units"]
    batch_size: int = TRAINING["batch_size"]
    learning_rate: float = TRAINING["learning_rate"]
    validation_fraction: float = TRAINING["validation_fraction"]
    symmetry_reduction: bool = TRAINING["symmetry_reduction"]
    augmentation: bool = TRAINING["augmentation"]
    storage: str = TRAINING["storage"]

    def __post_init__(self):
        if not (isinstance(self.psf_sigma, (int, float)) and math.isfinite(self.psf_sigma)
                and self.psf_sigma >= 0):
            raise ValueError(f"psf_sigma must be a number >= 0 (pixels), got "
                             f"{self.psf_sigma!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got "
                             f"{self.input_kind!r}")
        if self.input_kind == "grey" and not self.psf_sigma > 0:
            raise ValueError("a grey model learns from grey renders of a microscope: give "
                             "its psf_sigma (> 0 px)")
        if not 0 <= self.level_error < 0.5:
            raise ValueError(f"level_error must be in [0, 0.5) (units of the contrast), "
                             f"got {self.level_error}")
        if isinstance(self.periodic_margin, bool) or not isinstance(
                self.periodic_margin, (int, np.integer)) or self.periodic_margin < 0:
            raise ValueError(f"periodic_margin must be a whole number of pixels >= 0, got "
                             f"{self.periodic_margin!r}")
        if self.window is not None and (isinstance(self.window, bool) or not isinstance(
                self.window, (int, np.integer)) or self.window < 8):
            raise ValueError(f"window must be a whole number of pixels >= 8, got "
                             f"{self.window!r}")
        for name in ("n_per_class", "n_none"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < (1 if name == "n_per_class" else 0):
                raise ValueError(f"{name} must be a whole number >= "
                                 f"{1 if name == 'n_per_class' else 0}, got {value!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The recipe's fields, in order."""
        return tuple(f.name for f in fields(cls))

    def estimator(self, verbose: int = 0):
        """The unfitted :class:`~napari_hamiltonian.HamiltonianClassifier` of the recipe."""
        from ..classifier.estimator import HamiltonianClassifier

        return HamiltonianClassifier(
            hidden_units=self.hidden_units, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, validation_fraction=self.validation_fraction,
            symmetry_reduction=self.symmetry_reduction, augmentation=self.augmentation,
            psf_sigma=self.psf_sigma, input_kind=self.input_kind, storage=self.storage,
            random_state=self.seed, verbose=verbose)

    def render(self, X: np.ndarray, stream: int = 0, exact_levels: bool = False
               ) -> np.ndarray:
        """Lattice images as the model of this recipe reads them: unchanged at the
        lattice scale; otherwise rendered through the microscope
        (:func:`~napari_hamiltonian.imaging.optics.render_training_set`, seed
        ``[seed, stream]``), thresholded at the physical level or, for a grey model, in
        phase units (with the level error, unless ``exact_levels``: test images), cut to
        the recipe's ``window``."""
        if self.window is not None and self.window > min(X.shape[1:]):
            raise ValueError(f"the window ({self.window} px) is larger than the "
                             f"{X.shape[1]}x{X.shape[2]} images")
        if self.psf_sigma == 0:
            if self.window is None:
                return X
            y0, x0 = ((side - self.window) // 2 for side in X.shape[1:])
            return np.ascontiguousarray(X[:, y0:y0 + self.window, x0:x0 + self.window])
        from ..imaging.optics import render_training_set

        grey = self.input_kind == "grey"
        window = self.window
        if self.periodic_margin:
            m = int(self.periodic_margin)
            window = window or X.shape[-1]
            X = np.pad(X, ((0, 0), (m, m), (m, m)), mode="wrap")
        return render_training_set(
            X, self.psf_sigma, seed=[self.seed, stream],
            binarisation="none" if grey else "physical",
            level_error=self.level_error if grey and not exact_levels else 0.0,
            variety=self.render_variety, window=window)


def simulate(recipe: TrainingRecipe) -> Generator[tuple, None, tuple]:
    """Simulate a recipe's training set class by class, yielding ("simulate", k, name)
    before each of the seven classes and "none of these"; returns (X, y) as lattice
    images (:func:`~napari_hamiltonian.simulate.make_dataset`, class by class: each
    class's images are those of one call with every class, by its own seed)."""
    from ..classes import CLASSES
    from ..simulate.dataset import make_dataset

    xs, ys = [], []
    steps = list(CLASSES) + (["none of these"] if recipe.n_none else [])
    for k, name in enumerate(steps):
        yield ("simulate", k, name)
        if name in CLASSES:
            X, y, _ = make_dataset(recipe.n_per_class, seed=recipe.seed, classes=[name],
                                   progress=False)
        else:
            X, y, _ = make_dataset(recipe.n_per_class, seed=recipe.seed, classes=[],
                                   n_none=recipe.n_none, progress=False)
        xs.append(X)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def train(recipe: TrainingRecipe, X=None, y=None, verbose: int = 0
          ) -> Generator[tuple, None, object]:
    """Fit the recipe's model, yielding progress; returns the fitted classifier.

    Without ``X`` and ``y`` the training set is simulated first (:func:`simulate`);
    given lattice images (a data set from ``generate``), they are used. Either way
    they are rendered at the recipe's resolution (:meth:`TrainingRecipe.render`) before
    the fit. Yields ("simulate", k, name), then ("render", psf_sigma) if rendering,
    then ("train",).
    """
    if X is None:
        X, y = yield from simulate(recipe)
    if recipe.psf_sigma > 0:
        yield ("render", recipe.psf_sigma)
        X = recipe.render(X)
    yield ("train",)
    return recipe.estimator(verbose).fit(X, y)


#: Images per second on 2 CPU cores, measured for 100x100 images (BENCHMARKS.md, the
#: model cards): simulating images of the classes, of none of them (the 3D out-of-range
#: families draw one configuration per chain), rendering, and one epoch of training.
RATES = {"classes": 300.0, "none": 25.0, "render": 1000.0, "train": 260.0}


def estimated_seconds(recipe: TrainingRecipe) -> float:
    """About how long the recipe simulates, renders and trains on 2 CPU cores
    (:data:`RATES`; a GPU or more cores are faster)."""
    classes = 8 * recipe.n_per_class  # P* twice
    images = classes + recipe.n_none
    seconds = classes / RATES["classes"] + recipe.n_none / RATES["none"]
    if recipe.psf_sigma > 0:
        seconds += images / RATES["render"]
    train_share = 1 - recipe.validation_fraction
    return seconds + recipe.epochs * train_share * images / RATES["train"]


def steps(recipe: TrainingRecipe) -> int:
    """How many progress steps :func:`train` yields when it simulates."""
    return 7 + bool(recipe.n_none) + (recipe.psf_sigma > 0) + 1
