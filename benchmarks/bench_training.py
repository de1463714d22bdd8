"""Training speed, and symmetry reduction against 16-fold augmentation.

* Throughput (images/s, Adam steps only) of ``HamiltonianClassifier.fit`` on 100x100
  images, beside a plain torch loop of the same network (NCHW, conv -> ReLU -> pool,
  float images prepared per batch) in the same run.
* Time to reach 99 % validation accuracy with symmetry reduction and with on-the-fly
  16-fold augmentation: same data, same split, same seed (``--compare``; minutes).

Run: ``python benchmarks/bench_training.py [--compare] [--n-per-class N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from napari_hamiltonian import HamiltonianClassifier, cnn, symmetry_reduce
from napari_hamiltonian.simulate import make_dataset


def plain_torch_rate(X, y, seconds: float = 30.0, batch: int = 32) -> float:
    """Images/s of a straightforward torch training loop of the same network."""
    torch.manual_seed(0)
    net = cnn.HamiltonianCNN(100, 128, 7)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    yi = np.unique(y, return_inverse=True)[1]

    def step(idx):
        xb = torch.tensor(X[idx], dtype=torch.float32).unsqueeze(1) * 2 - 1
        h = F.max_pool2d(F.relu(net.conv1(xb)), 2)
        h = F.max_pool2d(F.relu(net.conv2(h)), 2)
        out = net.fc2(net.dropout(F.relu(net.fc1(h.flatten(1)))))
        loss = F.cross_entropy(out, torch.as_tensor(yi[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(np.arange(batch))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(np.arange(n, n + batch) % len(X))
        n += batch
    return n / (time.perf_counter() - t0)


def time_to(X, y, target: float, augmentation: bool, max_epochs: int, seed: int = 0):
    """Training seconds (evaluation excluded) until validation accuracy >= target."""
    from napari_hamiltonian.estimator import _split

    classes, yi = np.unique(y, return_inverse=True)
    gen = np.random.default_rng(seed)
    tr, va = _split(yi, 0.2, gen)
    data = X if augmentation else symmetry_reduce(X)
    torch.manual_seed(seed)
    net = cnn.HamiltonianCNN(100, 128, len(classes)).to(memory_format=torch.channels_last)
    reached = {}

    def stop(rec):
        print(f"  {'augment' if augmentation else 'reduce '}: {rec['images']:7d} images, "
              f"{rec['seconds']:7.1f} s, validation {rec['val_accuracy']:.4f}", flush=True)
        if rec["val_accuracy"] >= target:
            reached.update(rec)
            raise StopIteration

    cnn.train(net, data[tr], yi[tr], epochs=max_epochs, batch_size=32, learning_rate=1e-3,
              rng=gen, device=torch.device("cpu"), augmentation=augmentation,
              X_val=data[va], y_val=yi[va], eval_every=2048, callback=stop)
    return reached


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--n-per-class", type=int, default=1000)
    ap.add_argument("--max-epochs", type=int, default=6)
    args = ap.parse_args()
    X, y, _ = make_dataset(args.n_per_class, seed=5, progress=False)
    print(f"{len(X)} images, torch {torch.__version__}, {torch.get_num_threads()} threads")
    sub = np.random.default_rng(0).permutation(len(X))[:4096]
    clf = HamiltonianClassifier(epochs=1, validation_fraction=0.0, random_state=0)
    clf.fit(X[sub], y[sub])
    ours = clf.training_info_["images_per_second"]
    plain = plain_torch_rate(X, y)
    print(f"training throughput: HamiltonianClassifier {ours:.1f} images/s, plain torch "
          f"loop {plain:.1f} images/s (ratio {ours / plain:.2f})")
    if args.compare:
        r = time_to(X, y, 0.99, False, args.max_epochs)
        a = time_to(X, y, 0.99, True, args.max_epochs)
        for name, rec in (("symmetry reduction", r), ("16-fold augmentation", a)):
            print(f"{name}: " + (f"99 % after {rec['images']} images, {rec['seconds']:.1f} s"
                                 if rec else f"99 % not reached in {args.max_epochs} epochs"))
        if r and a:
            print(f"augmentation / reduction time ratio: {a['seconds'] / r['seconds']:.1f}")


if __name__ == "__main__":
    main()
