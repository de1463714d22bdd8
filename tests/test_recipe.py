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


def test_renders_with_variety_and_a_window_are_micrographs_of_the_centre():
    """A window cut from a larger render carries the blur of the field around it; the
    instrument drawn per image stays a render of the same domains (same seed, same
    images), and without variety the renders are those of one Gaussian."""
    from napari_hamiltonian.imaging.optics import render_training_set

    rng = np.random.default_rng(4)
    X = np.zeros((6, 124, 124), np.uint8)
    X[:, :, :62] = 1  # a straight wall down the middle
    X[:, :12] = 1 - X[:, :12]  # the field above the window inverted,
    X[:, 12:, :12] = 1 - X[:, 12:, :12]  # and left of it
    clean = (1e4, 1e4)  # signal to noise: the test is about the geometry
    plain = render_training_set(X[:, 12:112, 12:112], 3.0, seed=1, snr=clean)
    windowed = render_training_set(X, 3.0, seed=1, window=100, snr=clean)
    assert windowed.shape == (6, 100, 100)
    # the mirrored edges of the small render keep its corner as it is; the window's
    # corner sees the inverted field above and left of it, blurred in
    assert plain[:, 0, 0].all() and not windowed[:, 0, 0].any()
    np.testing.assert_array_equal(plain[:, 50], windowed[:, 50])  # far from the edge
    varied = render_training_set(X, 3.0, seed=1, window=100, variety=True, snr=clean)
    again = render_training_set(X, 3.0, seed=1, window=100, variety=True, snr=clean)
    np.testing.assert_array_equal(varied, again)
    # the wall stays where it is, within the blur's width, whatever the instrument
    walls = np.argmax(varied[:, 50] == 0, axis=1)
    assert np.all(np.abs(walls - 50) <= 2)
    grey = render_training_set(rng.integers(0, 2, (40, 100, 100), dtype=np.uint8), 2.0,
                               seed=2, binarisation="none", variety=True)
    assert abs(np.median(grey) - 0.5) < 0.25 and grey.dtype == np.float32
    with pytest.raises(ValueError, match="window"):
        render_training_set(X, 2.0, seed=1, window=130)


def test_training_sets_are_joined_and_windowed(tmp_path, capsys):
    """`train A B --window` learns from both sets, cut to the window; sets of other
    sizes are refused by name before any training."""
    a, b, c = (tmp_path / f"{k}.npz" for k in "abc")
    assert main(["generate", str(a), "--n-per-class", "4", "--size", "40", "--seed", "1",
                 "--classes", "P-2D", "P*"]) == 0
    assert main(["generate", str(b), "--n-per-class", "4", "--size", "40", "--seed", "2",
                 "--protocol", "variants", "--classes", "C-2D"]) == 0
    assert main(["generate", str(c), "--n-per-class", "4", "--size", "32", "--seed", "2",
                 "--classes", "P-2D"]) == 0
    model, card = tmp_path / "m.safetensors", tmp_path / "card.md"
    assert main(["train", str(a), str(b), "--out", str(model), "--epochs", "1",
                 "--hidden-units", "8", "--psf-sigma", "1", "--render-variety",
                 "--window", "32", "--card", str(card), "--validation-fraction",
                 "0.25"]) == 0
    clf = HamiltonianClassifier.load(model)
    assert clf.window_ == 32 and list(clf.classes_) == ["C-2D", "P*", "P-2D"]
    text = card.read_text()
    assert "--protocol variants --classes C-2D" in text and "Airy" in text
    capsys.readouterr()
    assert main(["train", str(a), str(c), "--out", str(tmp_path / "n.safetensors")]) == 2
    assert "different sizes" in capsys.readouterr().err
    assert not (tmp_path / "n.safetensors").exists()
    assert main(["generate", str(tmp_path / "d.npz"), "--protocol", "variants",
                 "--none", "5"]) == 2
    assert "none of them" in capsys.readouterr().err
    # issue 31, item 13: refused before the training, not after it
    assert main(["train", str(a), "--out", str(tmp_path / "t.safetensors"), "--test",
                 str(c)]) == 2
    assert "generate the test set with --size 40" in capsys.readouterr().err
    assert main(["train", str(a), "--out", str(tmp_path), "--overwrite"]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_a_periodic_margin_renders_the_lattice_around_the_window():
    """The margin is the lattice's own periodic continuation: the render equals the
    centre of a render of the tiled lattice (no larger lattice simulated)."""
    from napari_hamiltonian.imaging.optics import render_training_set

    X = np.random.default_rng(3).integers(0, 2, (3, 100, 100), dtype=np.uint8)
    tiled = np.tile(X, (1, 3, 3))[:, 88:212, 88:212]  # 12 px of continuation each side
    expected = render_training_set(tiled, 3.0, seed=[0, 0], window=100)
    recipe = TrainingRecipe(psf_sigma=3.0, periodic_margin=12)
    np.testing.assert_array_equal(recipe.render(X), expected)
    plain = render_training_set(X, 3.0, seed=[0, 0])
    assert (recipe.render(X) != plain).any()  # the edges differ from mirrored ones
    with pytest.raises(ValueError, match="periodic_margin"):
        TrainingRecipe(periodic_margin=-1)
