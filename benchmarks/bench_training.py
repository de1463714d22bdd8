"""Training speed, and symmetry reduction against 16-fold augmentation.

* Throughput (images/s, Adam steps only) of ``HamiltonianClassifier.fit`` on 100x100
  images, beside a plain torch loop of the same network (NCHW, conv -> ReLU -> pool,
  float images prepared per batch) and fit's own loop with torch's convolutions instead
  of the fused kernels (``fused=False``), in the same run.
* Symmetry reduction against on-the-fly 16-fold augmentation (``--compare``): same
  data, split, seed and budget of training images; the validation accuracy every 2048
  images (``--eval-every``), the training time each needs to reach 90 %, 95 % and 99 %,
  and the ratio of the times to 99 % (a lower bound where augmentation never gets there).

Run: ``python benchmarks/bench_training.py [--rounds R] [--compare] [--n-per-class N]
[--budget N] [--eval-every N] [--skip-throughput]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from napari_hamiltonian import HamiltonianClassifier

from napari_hamiltonian.classifier import cnn

from napari_hamiltonian import symmetry_reduce
from napari_hamiltonian.simulate import make_dataset


def plain_torch_rate(X, y, batch: int = 32) -> float:
    """Images/s of a straightforward torch training loop of the same network, one pass."""
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
    t0 = time.perf_counter()
    for start in range(0, len(X), batch):
        step(np.arange(start, min(start + batch, len(X))))
    return len(X) / (time.perf_counter() - t0)


def fit_rate(X, y, fused: bool | None) -> float:
    """Images/s of fit's training loop (Adam steps only), the fused kernels on or off."""
    torch.manual_seed(0)
    net = cnn.HamiltonianCNN(100, 128, 7).to(memory_format=torch.channels_last)
    yi = np.unique(y, return_inverse=True)[1]
    history, _ = cnn.train(net, symmetry_reduce(X), yi, epochs=1, batch_size=32,
                           learning_rate=1e-3, rng=np.random.default_rng(0),
                           device=torch.device("cpu"), fused=fused)
    return history[-1]["images"] / history[-1]["seconds"]


def throughput(X, y, rounds: int, n: int = 2048) -> None:
    """The three loops in alternation, ``rounds`` times, on the same ``n`` images."""
    sub = np.random.default_rng(0).permutation(len(X))[:n]
    X, y = X[sub], y[sub]
    clf = HamiltonianClassifier(epochs=1, validation_fraction=0.0, random_state=0)
    rates = {"fit": [], "fused=False": [], "plain": []}
    for r in range(rounds):
        clf.fit(X, y)
        rates["fit"].append(clf.training_info_["images_per_second"])
        rates["fused=False"].append(fit_rate(X, y, fused=False))
        rates["plain"].append(plain_torch_rate(X, y))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()),
              flush=True)
    med = {k: float(np.median(v)) for k, v in rates.items()}
    print(f"training throughput (median of {rounds} alternating rounds, images/s): "
          f"HamiltonianClassifier.fit {med['fit']:.1f}; its loop with torch's convolutions "
          f"(fused=False) {med['fused=False']:.1f} (ratio {med['fit'] / med['fused=False']:.2f}); "
          f"plain torch loop {med['plain']:.1f} (ratio {med['fit'] / med['plain']:.2f})")


def curve(X, y, augmentation: bool, budget: int, eval_every: int, seed: int = 0
          ) -> list[dict]:
    """Validation accuracy against training images and seconds (evaluation excluded)."""
    from napari_hamiltonian.classifier.cnn import train_validation_split

    classes, yi = np.unique(y, return_inverse=True)
    gen = np.random.default_rng(seed)
    tr, va = train_validation_split(yi, 0.2, gen)
    data = X if augmentation else symmetry_reduce(X)
    torch.manual_seed(seed)
    net = cnn.HamiltonianCNN(100, 128, len(classes)).to(memory_format=torch.channels_last)
    records = []

    def log(rec):
        records.append(rec)
        print(f"  {'augment' if augmentation else 'reduce '}: {rec['images']:7d} images, "
              f"{rec['seconds']:7.1f} s, validation {rec['val_accuracy']:.4f}", flush=True)
        if rec["images"] >= budget or rec["val_accuracy"] >= 0.995:
            raise StopIteration

    cnn.train(net, data[tr], yi[tr], epochs=-(-budget // len(tr)), batch_size=32,
              learning_rate=1e-3, rng=gen, device=torch.device("cpu"),
              augmentation=augmentation, X_val=data[va], y_val=yi[va], eval_every=eval_every,
              callback=log)
    return records


def seconds_to(records, target):
    """Training seconds at the first validation reaching ``target``, or None."""
    hit = [r["seconds"] for r in records if r["val_accuracy"] >= target]
    return hit[0] if hit else None


def first_reaching(records, target):
    hit = [r for r in records if r["val_accuracy"] >= target]
    return f"{hit[0]['seconds']:.0f} s ({hit[0]['images']} images)" if hit else "not reached"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--n-per-class", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--eval-every", type=int, default=2048,
                    help="training images between validations in the comparison")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--budget", type=int, default=24576,
                    help="training images per arm of the comparison")
    args = ap.parse_args()
    X, y, _ = make_dataset(args.n_per_class, seed=5, progress=False)
    print(f"{len(X)} images, torch {torch.__version__}, {torch.get_num_threads()} threads")
    pick = np.linspace(0, len(X) - 1, 64).astype(int)  # every class, for a quick fit
    HamiltonianClassifier(epochs=1, random_state=0).fit(X[pick], y[pick])  # compile first
    if not args.skip_throughput:
        throughput(X, y, args.rounds)
    if args.compare:
        runs = {"symmetry reduction": curve(X, y, False, args.budget, args.eval_every),
                "16-fold augmentation": curve(X, y, True, args.budget, args.eval_every)}
        for target in (0.90, 0.95, 0.99):
            print(f"time to {target:.0%} validation accuracy: " + "; ".join(
                f"{name} {first_reaching(rec, target)}" for name, rec in runs.items()))
        red, aug = (seconds_to(rec, 0.99) for rec in runs.values())
        if red is not None:
            last = runs["16-fold augmentation"][-1]["seconds"]
            ratio = f"{aug / red:.1f}" if aug is not None else f"> {last / red:.1f}"
            print(f"time to 99 %: augmentation / symmetry reduction = {ratio}")


if __name__ == "__main__":
    main()
