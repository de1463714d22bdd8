"""Does the grey image separate more classes than its binarisation? (issue 13)

The same network (32@5x5, pool, 64@5x5, pool, dense 128, dropout 0.5, dense 7) trained
twice on the same images, rendered once through a Gaussian point-spread function of
``--sigma`` px (intensities and signal to noise 3-20 drawn per image:
:func:`napari_hamiltonian.imaging.optics.render_training_set` with ``binarisation="none"``):

* binary: the render thresholded at the physical level (halfway between the phases),
  the input of the shipped models;
* grey: the same render, intensities scaled so that insulator is 0 and metal 1 (the two
  levels the physical threshold also uses), fed as 2 g - 1.

Each model is then tested with the phase levels misjudged (:data:`LEVEL_ERRORS`): the
binary model's threshold moves, the grey model's scaling too.

Both are reduced by the Z2 x D4 operation that reduces the binary image (1 - g is the
grey image's spin flip), trained with the same seed, batches and epochs by torch's own
convolutions (the fused kernels take binary images only), on the classes' images of
the training set; accuracy on an independently simulated test set rendered with
another seed. Only the input differs.

Run: ``python benchmarks/eval_grayscale.py data/train_s0.npz data/test_s1.npz
[--sigma 2 --epochs 3 --inputs binary grey]`` (data sets from ``napari-hamiltonian
generate``; about 20 minutes per model at 3 epochs on 2 cores). Prints Markdown.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def reduced(grey: np.ndarray, offset: float = 0.0, scale: float = 1.0):
    """(binary uint8, grey float32) inputs of grey renders whose phase levels were
    misjudged: insulator taken ``offset`` (in units of the contrast) too high, contrast
    ``scale`` times the true one; the binary image is the grey one thresholded at 1/2
    (the physical level as judged). Both reduced by the binary image's Z2 x D4
    operation (1 - g is the grey image's spin flip)."""
    from napari_hamiltonian.classifier.symmetry import reducing_operation, transform

    g = (grey - offset) / scale
    binary = np.empty(g.shape, np.uint8)
    out = np.empty(g.shape, np.float32)
    for i, image in enumerate(g):
        b = (image > 0.5).astype(np.uint8)
        op = reducing_operation(b)
        binary[i], out[i] = transform(b, op), transform(image, op)
    return binary, out


def train(X, y, epochs: int, seed: int, n_classes: int):
    """The network trained on float images in [0, 1] (input 2 x - 1)."""
    import torch
    import torch.nn.functional as F

    from napari_hamiltonian.classifier.cnn import HamiltonianCNN

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = HamiltonianCNN(window=X.shape[-1], n_classes=n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(np.ascontiguousarray(X, np.float32))
    target = torch.from_numpy(y.astype(np.int64))
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(data))
        for start in range(0, len(order), 32):
            idx = torch.from_numpy(order[start:start + 32])
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(data[idx].mul(2).sub(1).unsqueeze(1)), target[idx]).backward()
            opt.step()
    return model.eval()


def predict(model, X) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        test = torch.from_numpy(np.ascontiguousarray(X, np.float32))
        for start in range(0, len(test), 256):
            out.append(model(test[start:start + 256].mul(2).sub(1).unsqueeze(1)).argmax(1))
    return torch.cat(out).numpy()


#: Misjudged phase levels the models are tested at: (offset, scale) of :func:`reduced`.
LEVEL_ERRORS = ((0.0, 1.0), (0.1, 1.0), (-0.1, 1.0), (0.0, 0.8), (0.0, 1.2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--sigma", type=float, default=2.0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", nargs="+", choices=("binary", "grey"),
                    default=["binary", "grey"], help="which models to train (default both)")
    args = ap.parse_args()
    import torch

    from napari_hamiltonian import CLASSES
    from napari_hamiltonian.imaging.optics import render_training_set
    from napari_hamiltonian.simulate import load_dataset

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    data = []
    for path, seed in ((args.train, [args.seed, 0]), (args.test, [args.seed, 1])):
        X, y = load_dataset(path)[:2]
        keep = np.isin(y, CLASSES)
        data.append((render_training_set(X[keep], args.sigma, seed, binarisation="none"),
                     np.array([CLASSES.index(v) for v in y[keep]])))
    (gtr, ytr), (gte, yte) = data
    print(f"sigma {args.sigma:g} px, {len(ytr)} training and {len(yte)} test images of the "
          f"classes, {args.epochs} epochs, seed {args.seed}; phase levels misjudged at test "
          "time by an offset (units of the contrast) and a contrast scale")
    print()
    print("| input | levels: offset, scale | accuracy | " + " | ".join(CLASSES)
          + " | training (s) |")
    print("|---" * (4 + len(CLASSES)) + "|")
    for k, name in enumerate(("binary", "grey")):
        if name not in args.inputs:
            continue
        t = time.perf_counter()
        model = train(reduced(gtr)[k], ytr, args.epochs, args.seed, len(CLASSES))
        seconds = time.perf_counter() - t
        for offset, scale in LEVEL_ERRORS:
            pred = predict(model, reduced(gte, offset, scale)[k])
            per = [np.mean(pred[yte == c] == c) for c in range(len(CLASSES))]
            print(f"| {name} | {offset:+.1f}, {scale:.1f} | {np.mean(pred == yte):.1%} | "
                  + " | ".join(f"{p:.0%}" for p in per) + f" | {seconds:.0f} |", flush=True)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
