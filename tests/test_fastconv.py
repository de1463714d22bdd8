"""The fused CPU training kernels against torch's own convolutions."""

import numpy as np
import pytest
import torch

from napari_hamiltonian.classifier import _fastconv

from napari_hamiltonian.classifier import cnn


def test_winograd_transforms_compute_the_valid_correlation():
    at, g, bt = _fastconv.winograd_matrices()
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, w = rng.normal(size=8), rng.normal(size=5)
        direct = np.array([w @ d[i:i + 5] for i in range(4)])
        np.testing.assert_allclose(at @ ((g @ w) * (bt @ d)), direct, rtol=0, atol=1e-12)


@pytest.mark.parametrize("side, ok", [(100, True), (28, True), (20, True), (96, False),
                                      (16, False), (32, False)])
def test_supported_sides(side, ok):
    assert _fastconv.supports(side) is ok


def _model(window, seed=0):
    torch.manual_seed(seed)
    return cnn.HamiltonianCNN(window, 16, 7).to(memory_format=torch.channels_last)


@pytest.mark.parametrize("window", [100, 28])
def test_features_and_gradients_equal_torch(window):
    model = _model(window)
    gen = torch.Generator().manual_seed(window)
    images = (torch.rand(3, window, window, generator=gen) > 0.5).to(torch.uint8)
    ref = model.features(cnn.to_input(images))
    fast = _fastconv.features(images, model.conv1, model.conv2)
    assert fast.shape == ref.shape
    scale = float(ref.detach().abs().max())
    np.testing.assert_allclose(fast.detach(), ref.detach(), rtol=0, atol=2e-5 * scale)
    weights = torch.randn(ref.shape, generator=gen)
    params = [model.conv1.weight, model.conv1.bias, model.conv2.weight, model.conv2.bias]
    for name, r, f in zip(["w1", "b1", "w2", "b2"],
                          torch.autograd.grad((ref * weights).sum(), params),
                          torch.autograd.grad((fast * weights).sum(), params)):
        np.testing.assert_allclose(f, r, rtol=0, atol=2e-5 * float(r.abs().max()),
                                   err_msg=name)


def test_features_rejects_unsupported_sides():
    model = _model(32)
    with pytest.raises(ValueError, match="8 t \\+ 20"):
        _fastconv.features(torch.zeros(1, 32, 32, dtype=torch.uint8), model.conv1,
                           model.conv2)


def _train(X, y, fused, seed=0):
    model = _model(X.shape[-1], seed)
    history, _ = cnn.train(model, X, y, epochs=1, batch_size=8, learning_rate=1e-3,
                           rng=np.random.default_rng(seed), device=torch.device("cpu"),
                           fused=fused)
    return model, history


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return (rng.random((24, 28, 28)) > 0.5).astype(np.uint8), rng.integers(0, 7, 24)


def test_fused_training_follows_torch_training(images):
    X, y = images
    fast, h_fast = _train(X, y, fused=None)
    ref, h_ref = _train(X, y, fused=False)
    np.testing.assert_allclose(h_fast[-1]["loss"], h_ref[-1]["loss"], rtol=1e-4)
    a = cnn.predict_logits(fast, X, torch.device("cpu"))
    b = cnn.predict_logits(ref, X, torch.device("cpu"))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-2 * np.abs(b).max())


def test_fused_training_is_deterministic(images):
    X, y = images
    one, _ = _train(X, y, fused=True, seed=4)
    two, _ = _train(X, y, fused=True, seed=4)
    for (name, p), q in zip(one.state_dict().items(), two.state_dict().values()):
        assert torch.equal(p, q), name


def test_fused_training_refuses_unsupported_input():
    X = np.zeros((4, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="fused=None"):
        _train(X, np.zeros(4, int), fused=True)


@pytest.mark.parametrize("images", [torch.full((1, 28, 28), 255, dtype=torch.uint8),
                                    torch.zeros((1, 28, 28), dtype=torch.float32)])
def test_features_rejects_non_binary_images(images):
    model = _model(28)
    with pytest.raises(ValueError, match="uint8 images of 0 and 1"):
        _fastconv.features(images, model.conv1, model.conv2)
