"""The training recipe: one training path for the command line and the training dock,
with the estimator's defaults."""

import inspect

import numpy as np
import pytest

from napari_hamiltonian import HamiltonianClassifier
from napari_hamiltonian.cli import build_parser, main
from napari_hamiltonian.training.recipe import TrainingRecipe, steps, train


def test_recipe_defaults_are_the_estimators_and_the_commands():
    estimator = inspect.signature(HamiltonianClassifier).parameters
    recipe = TrainingRecipe()
    for name in ("epochs", "hidden_units", "batch_size", "learning_rate",
                 "validation_fraction", "symmetry_reduction", "augmentation", "storage"):
        assert getattr(recipe, name) == estimator[name].default
    args = build_parser().parse_args(["train", "data.npz"])
    assert (args.epochs, args.hidden_units, args.learning_rate, args.level_error) == (
        recipe.epochs, recipe.hidden_units, recipe.learning_rate, recipe.level_error)


def test_recipe_refuses_what_cannot_be_trained():
    with pytest.raises(ValueError, match="psf_sigma"):
        TrainingRecipe(input_kind="grey")
    with pytest.raises(ValueError, match="level_error"):
        TrainingRecipe(level_error=0.7)
    with pytest.raises(ValueError, match="n_per_class"):
        TrainingRecipe(n_per_class=0)


def test_the_command_and_the_dock_train_the_same_model(tmp_path, capsys):
    """`generate` + `train` on the command line and the dock's recipe (simulated class
    by class) give one model: the same images, the same fit."""
    recipe = TrainingRecipe(n_per_class=6, n_none=8, seed=3, epochs=1, hidden_units=8,
                            psf_sigma=1.0)
    gen = train(recipe)
    messages = []
    while True:
        try:
            messages.append(next(gen))
        except StopIteration as stop:
            dock = stop.value
            break
    assert len(messages) == steps(recipe) and messages[-1] == ("train",)
    data, model = tmp_path / "d.npz", tmp_path / "m.safetensors"
    assert main(["generate", str(data), "--n-per-class", "6", "--none", "8", "--seed", "3"]) == 0
    assert main(["train", str(data), "--out", str(model), "--epochs", "1",
                 "--hidden-units", "8", "--seed", "3", "--psf-sigma", "1"]) == 0
    cli = HamiltonianClassifier.load(model)
    X = np.random.default_rng(0).integers(0, 2, (4, 100, 100), dtype=np.uint8)
    np.testing.assert_allclose(cli.logits(X), dock.logits(X), atol=1e-5)
