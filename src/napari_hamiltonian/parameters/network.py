"""The regression network: convolutions whose features are averaged over the window,
beside the two statistics a physicist would read first, and a head that gives each
parameter's estimate with its own uncertainty (a heteroscedastic Gaussian).

Architecture (valid convolutions; sizes for a 100 x 100 window)::

    input (N, 1, 100, 100), spins -1/+1 (symmetry reduced)
    conv 32 @ 5x5 -> max-pool 2 -> ReLU      (N, 32, 48, 48)
    conv 64 @ 5x5 -> max-pool 2 -> ReLU      (N, 64, 22, 22)
    conv 64 @ 5x5 -> ReLU -> mean over the window      (N, 64)
    [features, statistics] -> dense (hidden) -> ReLU -> dense (2 k)
    + a linear map of the statistics -> (2 k)

The mean over positions makes the estimate a statistic of the whole window (the
parameters are the same everywhere in it), keeps the file small, and lets the
network read windows of any side. The density (the share of up pixels) and the
nearest-neighbour bond correlation are what the physics baselines use
(:mod:`napari_hamiltonian.parameters.baselines`), and a linear path takes them straight
to the outputs, so that where one of them is the answer (p is the density) the network
starts from it; the symmetry reduction flips the
spins of a window that is mostly down, so the density goes in as it was before.
Outputs: per parameter a mean and a log variance, in standardised units. Training
(:func:`train`) starts from the statistics' least-squares reading, or, with
``head_epochs``, from the dense layers trained on the statistics alone
(:func:`fit_head`); in the shipped regressors the convolutions' features end nearly
constant (BENCHMARKS.md, "The head learns the statistics first").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Kernel side of the convolutions (pixels).
KERNEL = 5
#: Number of statistics beside the convolutions (:func:`physics_statistics`).
N_STATISTICS = 6


def physics_statistics(images: np.ndarray) -> np.ndarray:
    """Density and nearest-neighbour bond correlation of binary images.

    Parameters
    ----------
    images : ndarray, shape (N, w, w)
        0/1 (1 = up, metal).

    Returns
    -------
    ndarray, float32, shape (N, N_STATISTICS)
        ``d = density - 1/2`` (share of up pixels), ``c`` the mean of ``s(r) s(r')`` over
        the nearest-neighbour pairs inside the window (spins ``s = 2 b - 1``; open
        boundaries), then ``|d|, d^2, c^2, c^3``: a basis in which a smooth function of
        the two (Onsager's temperature of the bond correlation, say) is nearly linear.
    """
    s = images.astype(np.float32) * 2 - 1
    density = images.mean((1, 2), dtype=np.float64) - 0.5
    pairs = (s[:, 1:, :] * s[:, :-1, :]).sum((1, 2), dtype=np.float64) \
        + (s[:, :, 1:] * s[:, :, :-1]).sum((1, 2), dtype=np.float64)
    w = images.shape[-1]
    bonds = pairs / (2 * w * (w - 1))
    return np.column_stack([density, bonds, np.abs(density), density ** 2, bonds ** 2,
                            bonds ** 3]).astype(np.float32)


#: What the network reads beside the convolutions: the density and bond correlation
#: alone ("bond"), or with the pattern statistics of the rejection ("pattern", what the
#: statistics baseline reads; for the random-field disorder).
STATISTICS = ("bond", "pattern")


def statistics(images: np.ndarray, kind: str = "bond") -> np.ndarray:
    """The statistics the network reads of binary images (N, w, w), float32 (N, n):
    :func:`physics_statistics`, and for ``kind="pattern"`` the pattern statistics
    (:func:`~napari_hamiltonian.classifier.correlations.pattern_statistics`) after them."""
    if kind not in STATISTICS:
        raise ValueError(f"statistics must be one of {STATISTICS}, got {kind!r}")
    basic = physics_statistics(images)
    if kind == "bond":
        return basic
    from ..classifier.correlations import pattern_statistics
    return np.column_stack([basic, pattern_statistics(images)]).astype(np.float32)


class RegressorCNN(nn.Module):
    """The parameter network.

    Parameters
    ----------
    n_parameters : int
        Number k of parameters estimated (outputs: k means, k log variances).
    hidden_units : int
        Width of the dense layer.
    n_statistics : int
        Number of statistics read beside the convolutions (:func:`statistics`).
    """

    def __init__(self, n_parameters: int, hidden_units: int = 64,
                 n_statistics: int = N_STATISTICS):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, KERNEL)
        self.conv2 = nn.Conv2d(32, 64, KERNEL)
        self.conv3 = nn.Conv2d(64, 64, KERNEL)
        self.fc1 = nn.Linear(64 + n_statistics, hidden_units)
        self.fc2 = nn.Linear(hidden_units, 2 * n_parameters)
        # the statistics straight to the outputs
        self.skip = nn.Linear(n_statistics, 2 * n_parameters)

    def features(self, x: torch.Tensor, maps: list | None = None) -> torch.Tensor:
        """(N, 1, w, w) spins -> (N, 64) the features the dense layer reads: the last
        convolution's map, averaged over the window. With a list ``maps``, the map after
        each convolution's ReLU is appended to it (otherwise each is freed as soon as
        the next is computed)."""
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        if maps is not None:
            maps.append(x)
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        if maps is not None:
            maps.append(x)
        x = F.relu(self.conv3(x))
        if maps is not None:
            maps.append(x)
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """(N, 1, w, w) spins and (N, n_statistics) statistics -> (N, 2 k): means, log
        variances."""
        return self.head(self.features(x), stats)

    def head(self, features: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """(N, 64) window-mean features and (N, n_statistics) statistics -> (N, 2 k)."""
        return self.fc2(F.relu(self.fc1(torch.cat([features, stats], 1)))) + self.skip(stats)


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 0/1 images (N, w, w) -> float spins (N, 1, w, w)."""
    return torch.from_numpy(images).to(torch.float32).mul_(2.0).sub_(1.0).unsqueeze(1)


@torch.no_grad()
def predict(model: RegressorCNN, images: np.ndarray, stats: np.ndarray,
            batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(means, standard deviations), each (N, k) in standardised units, in eval mode."""
    model.eval()
    k = model.fc2.out_features // 2
    out = np.empty((len(images), 2 * k), np.float32)
    for start in range(0, len(images), batch_size):
        part = slice(start, start + batch_size)
        out[part] = model(to_input(images[part]), torch.from_numpy(stats[part])).numpy()
    return out[:, :k], np.exp(0.5 * out[:, k:])


@torch.no_grad()
def start_from_statistics(model: RegressorCNN, stats: np.ndarray, targets: np.ndarray,
                          flat_variance: bool = False) -> None:
    """Set the linear path to the least-squares fit of the targets (N, k) on the
    statistics (N, n_statistics), and of the log of its squared residuals (the
    variance), and shrink the network's last layer tenfold: training starts from the
    best linear reading of the statistics and the convolutions learn what it misses.

    With ``flat_variance`` the variance starts as the residuals' mean square everywhere:
    a variance fitted to the linear reading's residuals starts wide where that reading
    is poor (a 3D slice below Tc, whose temperature is a steep function of its density),
    and the likelihood's gradient there, divided by it, stays too small to learn."""
    k = targets.shape[1]
    design = np.column_stack([stats, np.ones(len(stats))]).astype(np.float64)
    coef = np.linalg.lstsq(design, targets, rcond=None)[0]  # (n_statistics + 1, k)
    residual = targets - design @ coef
    model.skip.weight.zero_()
    model.skip.bias.zero_()
    model.skip.weight[:k] = torch.from_numpy(coef[:-1].T.astype(np.float32))
    model.skip.bias[:k] = torch.from_numpy(coef[-1].astype(np.float32))
    if flat_variance:
        model.skip.bias[k:] = torch.from_numpy(
            np.log(np.maximum((residual ** 2).mean(0), 1e-12)).astype(np.float32))
    else:
        # log variance: log of the squared residuals fitted the same way (+1.27, minus
        # the mean of log chi^2 with one degree of freedom), so the widths start uneven
        log_sq = np.log(np.maximum(residual ** 2, 1e-12))
        spread = np.linalg.lstsq(design, log_sq, rcond=None)[0]
        model.skip.weight[k:] = torch.from_numpy(spread[:-1].T.astype(np.float32))
        model.skip.bias[k:] = torch.from_numpy((spread[-1] + 1.27).astype(np.float32))
    model.fc2.weight.mul_(0.1)
    model.fc2.bias.zero_()


def _nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gaussian negative log-likelihood of outputs (N, 2 k) (means, log variances)."""
    k = y.shape[1]
    mean, log_var = out[:, :k], out[:, k:].clamp(-12.0, 8.0)
    return 0.5 * (log_var + (y - mean) ** 2 / log_var.exp()).mean()


def _adam_epochs(params, step, n: int, epochs: int, batch_size: int, learning_rate: float,
                 rng: np.random.Generator, progress=None) -> list[float]:
    """Adam over ``epochs`` shuffled passes of ``n`` items, ``step(idx)`` returning a
    batch's loss; the step size falls tenfold for the last quarter of the epochs.
    Returns the mean loss of each epoch."""
    opt = torch.optim.Adam(params, lr=learning_rate)
    losses = []
    for epoch in range(epochs):
        if epoch == epochs - max(1, epochs // 4) and epochs > 1:
            for group in opt.param_groups:
                group["lr"] = learning_rate / 10
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = np.sort(order[start:start + batch_size])
            loss = step(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            if progress is not None:
                progress(len(idx))
        losses.append(total / n)
    return losses


def fit_head(model: RegressorCNN, stats: np.ndarray, targets: np.ndarray, epochs: int,
             batch_size: int, learning_rate: float, rng: np.random.Generator) -> None:
    """Train the dense layers and the linear path on the statistics alone (the
    convolutions' features held at zero), then zero the dense layer's weights on those
    features: the joint training starts from the best reading of the statistics, not
    from its linear part. Cheap (no convolution), so it can take many epochs; the
    steep parts of a parameter's dependence on the statistics need them."""
    start_from_statistics(model, stats, targets, flat_variance=True)
    n_features = model.conv3.out_channels
    s = torch.from_numpy(stats)
    y = torch.from_numpy(targets.astype(np.float32))
    zeros = torch.zeros(min(batch_size, len(s)), n_features)

    def step(idx):
        return _nll(model.head(zeros[:len(idx)], s[idx]), y[idx])

    params = [*model.fc1.parameters(), *model.fc2.parameters(), *model.skip.parameters()]
    _adam_epochs(params, step, len(s), epochs, batch_size, learning_rate, rng)
    with torch.no_grad():
        model.fc1.weight[:, :n_features] = 0.0


def train(model: RegressorCNN, images: np.ndarray, stats: np.ndarray, targets: np.ndarray,
          epochs: int, batch_size: int, learning_rate: float, rng: np.random.Generator,
          progress=None, head_epochs: int = 0) -> list[float]:
    """Minimise the Gaussian negative log-likelihood of standardised ``targets`` (N, k)
    with Adam; the step size falls tenfold for the last quarter of the epochs. With
    ``head_epochs``, the head first learns the statistics alone (:func:`fit_head`).
    Returns the mean loss of each epoch."""
    if head_epochs:
        fit_head(model, stats, targets, head_epochs, batch_size, learning_rate, rng)
    else:
        start_from_statistics(model, stats, targets)
    model.train()
    y = torch.from_numpy(targets.astype(np.float32))
    s = torch.from_numpy(stats)

    def step(idx):
        return _nll(model(to_input(images[idx]), s[idx]), y[idx])

    losses = _adam_epochs(model.parameters(), step, len(images), epochs, batch_size,
                          learning_rate, rng, progress)
    model.eval()
    return losses
