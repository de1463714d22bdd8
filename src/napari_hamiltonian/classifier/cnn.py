"""The CNN of Basak et al. and its training loop (torch).

Architecture (valid, i.e. unpadded, convolutions; sizes for a 100 x 100 window)::

    input (N, 1, 100, 100), spins as -1/+1
    conv 32 @ 5x5 -> max-pool 2x2 -> ReLU     (N, 32, 48, 48)
    conv 64 @ 5x5 -> max-pool 2x2 -> ReLU     (N, 64, 22, 22)
    flatten -> dense (hidden) -> ReLU -> dropout 0.5 -> dense (n_classes)

ReLU and max-pooling commute (both are monotone), so pooling first gives the paper's
``conv -> ReLU -> pool`` exactly while doing 4x less ReLU work. Valid convolutions make
the computation on a window exactly a crop of the computation on a whole image, which is
what :mod:`napari_hamiltonian.inference.sliding` relies on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import _fastconv
from .symmetry import N_OPERATIONS, transform_each

#: Kernel side of both convolutions (pixels).
KERNEL = 5


def feature_side(window: int) -> int:
    """Side of the feature map after the second pooling, for a ``window`` x ``window`` input.

    Raises ValueError unless ``window`` is a multiple of 4 and at least 16, so that both
    poolings tile their input exactly (100 -> 96 -> 48 -> 44 -> 22).
    """
    if window < 16 or window % 4:
        raise ValueError(
            f"the CNN needs square images whose side is a multiple of 4 and at least 16 "
            f"pixels (e.g. 100), got {window}"
        )
    return ((window - KERNEL + 1) // 2 - KERNEL + 1) // 2


class HamiltonianCNN(nn.Module):
    """The two-convolution classifier network.

    Parameters
    ----------
    window : int
        Side of the square input images (pixels), a multiple of 4, >= 16.
    hidden_units : int
        Width of the first dense layer.
    n_classes : int
        Number of outputs (logits).
    dropout : float
        Dropout probability before the last layer (training only).
    """

    def __init__(self, window: int = 100, hidden_units: int = 128, n_classes: int = 7,
                 dropout: float = 0.5):
        super().__init__()
        side = feature_side(window)
        self.conv1 = nn.Conv2d(1, 32, KERNEL)
        self.conv2 = nn.Conv2d(32, 64, KERNEL)
        self.fc1 = nn.Linear(64 * side * side, hidden_units)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_units, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Convolutional part: (N, 1, w, w) spins -> (N, 64, s, s) after the second pool."""
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        return F.relu(F.max_pool2d(self.conv2(x), 2))

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        """First dense layer: (N, 64, s, s) features -> (N, hidden) after ReLU."""
        return F.relu(self.fc1(torch.flatten(features, 1)))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Dense part: (N, 64, s, s) features -> (N, n_classes) logits."""
        return self.fc2(self.dropout(self.hidden(features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, w, w) float spins (-1/+1) -> (N, n_classes) logits."""
        return self.head(self.features(x))


def to_input(batch: torch.Tensor) -> torch.Tensor:
    """Images (N, w, w), uint8 0/1 or float phase units (insulator 0, metal 1) -> float
    network input ``2 x - 1`` (N, 1, w, w), channels-last (spins -1/+1 for binary
    images)."""
    x = batch.to(torch.float32).mul(2.0).sub_(1.0).unsqueeze(1)  # a float batch stays as is
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_logits(model: HamiltonianCNN, images: np.ndarray, device: torch.device,
                   batch_size: int = 256, hidden: bool = False):
    """Logits of images (N, w, w) in eval mode, as float32 (N, n_classes).

    Images are uint8 0/1 or float32 in phase units (:func:`to_input`).

    With ``hidden``, also the first dense layer's output (N, hidden_units) after ReLU:
    returns ``(logits, hidden)``.
    """
    was_training = model.training
    model.eval()
    out = np.empty((len(images), model.fc2.out_features), np.float32)
    feats = np.empty((len(images), model.fc1.out_features), np.float32) if hidden else None
    data = torch.from_numpy(np.ascontiguousarray(images))
    for start in range(0, len(images), batch_size):
        x = to_input(data[start:start + batch_size]).to(device)
        h = model.hidden(model.features(x))
        out[start:start + batch_size] = model.fc2(h).float().cpu().numpy()
        if hidden:
            feats[start:start + batch_size] = h.float().cpu().numpy()
    model.train(was_training)
    return (out, feats) if hidden else out


def train(model: HamiltonianCNN, X: np.ndarray, y: np.ndarray, *, epochs: int,
          batch_size: int, learning_rate: float, rng: np.random.Generator,
          device: torch.device, augmentation: bool = False,
          X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
          eval_every: int | None = None, progress=None, fused: bool | None = None,
          outlier_weight: float = 0.5,
          callback: Callable[[dict], None] | None = None, keep_best: bool = False
          ) -> tuple[list[dict], np.ndarray | None]:
    """Train ``model`` with Adam on images and integer labels.

    Parameters
    ----------
    X, y : ndarray
        Training images (N, w, w), uint8 0/1 or float32 in phase units (insulator 0,
        metal 1; :func:`to_input`), already symmetry reduced if wanted, and class
        indices (N,); -1 marks an image of none of the classes (outlier exposure: its
        loss is the cross-entropy to equal probabilities of all classes, weighted by
        ``outlier_weight``, Hendrycks et al. 2019).
    epochs, batch_size, learning_rate
        Passes over X, images per Adam step, Adam step size.
    rng : numpy Generator
        Shuffling and augmentation randomness (torch's own generator, seeded by the
        caller, drives initialisation and dropout).
    augmentation : bool
        Show each image under one of the 16 Z2 x D4 operations drawn at random, anew for
        every epoch (on-the-fly 16-fold augmentation).
    X_val, y_val : ndarray, optional
        Validation set, evaluated at the end of each epoch and every ``eval_every``
        training images.
    progress : tqdm-like, optional
        Updated with the number of images per step.
    callback : callable, optional
        Called with each history record; used by benchmarks to stop early by raising
        StopIteration.
    fused : bool, optional
        Run the convolutions through the fused CPU kernels (see Notes); None (default)
        uses them wherever they apply, False never.
    keep_best : bool
        End with the weights of the end-of-epoch evaluation with the best validation
        accuracy (the latest of equals), marked ``"kept": True`` in the history; the
        weights of the last step otherwise.

    Notes
    -----
    On the CPU, for binary images of windows the fused kernels support (100 x 100), the
    convolutions run through :func:`napari_hamiltonian.classifier._fastconv.features` (Winograd
    F(4x4, 5x5) and fused pooling): the same network and parameters, computed with fewer
    operations. Elsewhere torch's own convolutions run.

    Returns
    -------
    history : list of dict
        One record per evaluation: ``epoch``, ``images`` seen, ``seconds`` of training
        (evaluation time excluded), mean ``loss`` since the last record,
        ``train_accuracy`` (of the training batches since the last record, in training
        mode, as Keras reports it) and ``val_accuracy`` (None without a validation
        set).
    val_pred : ndarray or None
        Class indices predicted for ``X_val`` by the returned weights.
    """
    data = torch.from_numpy(np.ascontiguousarray(X))
    target = torch.from_numpy(np.asarray(y, np.int64))
    # One fused kernel per step instead of ~10 passes over the 4 M parameters.
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate,
                           fused=device.type in ("cpu", "cuda"))
    can_fuse = (device.type == "cpu" and _fastconv.supports(data.shape[-1])
                and data.dtype == torch.uint8)
    if fused and not can_fuse:
        raise ValueError(f"the fused kernels run on the CPU on binary images with a side of "
                         f"8 t + 20 pixels; got {device.type}, {data.dtype} and "
                         f"{data.shape[-1]}: pass fused=None")
    fused = can_fuse if fused is None else fused

    def logits(xb: torch.Tensor) -> torch.Tensor:
        if fused:
            return model.head(_fastconv.features(xb, model.conv1, model.conv2))
        return model(to_input(xb).to(device))
    history: list[dict] = []
    seen, train_seconds, loss_sum, loss_n = 0, 0.0, 0.0, 0
    hits, n_in = 0, 0
    next_eval = eval_every or 0
    val_pred = None
    best = None  # (accuracy, history index, weights, predictions) of the best epoch end

    def record(epoch: int, epoch_end: bool = False) -> None:
        nonlocal loss_sum, loss_n, val_pred, hits, n_in, best
        acc = None
        if X_val is not None and len(X_val):
            val_pred = predict_logits(model, X_val, device).argmax(1)
            acc = float(np.mean(val_pred == y_val))
        rec = {"epoch": epoch, "images": seen, "seconds": train_seconds,
               "loss": loss_sum / max(loss_n, 1), "val_accuracy": acc,
               "train_accuracy": hits / n_in if n_in else None}
        history.append(rec)
        if keep_best and epoch_end and acc is not None and (best is None or acc >= best[0]):
            best = (acc, len(history) - 1,
                    {k: v.detach().clone() for k, v in model.state_dict().items()}, val_pred)
        loss_sum, loss_n, hits, n_in = 0.0, 0, 0, 0
        if callback is not None:
            callback(rec)

    model.train()
    try:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(data))
            for start in range(0, len(order), batch_size):
                t0 = time.perf_counter()
                idx = torch.from_numpy(order[start:start + batch_size])
                xb = data[idx]
                if augmentation:
                    ops = rng.integers(0, N_OPERATIONS, len(idx))
                    xb = torch.from_numpy(transform_each(xb.numpy(), ops))
                opt.zero_grad(set_to_none=True)
                yb = target[idx].to(device)
                z = logits(xb)
                inside = yb >= 0
                if bool(inside.all()):
                    loss = F.cross_entropy(z, yb)
                else:  # mean over the batch of the in-class and outlier terms
                    out = z[~inside]
                    loss = (F.cross_entropy(z[inside], yb[inside], reduction="sum")
                            + outlier_weight * (torch.logsumexp(out, 1) - out.mean(1)).sum()
                            ) / len(yb)
                if not torch.isfinite(loss):
                    raise ValueError(
                        f"training diverged: the loss is {float(loss.detach())} at epoch {epoch}, "
                        f"after {seen} images; lower the learning rate (now "
                        f"{learning_rate:g})")
                loss.backward()
                opt.step()
                train_seconds += time.perf_counter() - t0
                seen += len(idx)
                loss_sum += float(loss.detach()) * len(idx)
                hits += int((z.detach().argmax(1)[inside] == yb[inside]).sum())
                n_in += int(inside.sum())
                loss_n += len(idx)
                if progress is not None:
                    progress.update(len(idx))
                if eval_every and seen >= next_eval and start + batch_size < len(order):
                    next_eval += eval_every
                    record(epoch)
            record(epoch, epoch_end=True)
    except StopIteration:
        pass
    if best is not None:
        model.load_state_dict(best[2])
        history[best[1]]["kept"] = True
        val_pred = best[3]
    model.eval()
    return history, val_pred


def train_validation_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Stratified train/validation split of integer labels (N,) -> (train, validation)
    sorted index arrays; every class keeps at least one training image."""
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = min(int(round(fraction * len(idx))), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
