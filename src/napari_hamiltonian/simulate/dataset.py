"""The seven-class training set of Table I (Basak et al.) and its file format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..output.files import atomic_open
from ..classes import CLASSES
from ._common import check_count, check_size
from .ising import sample_ising
from .percolation import sample_percolation
from .rfim import UP_FRACTION, sample_rfim
from .table import CLASS_TABLE, NONE

FORMAT_VERSION = 1




def _generate(code, n, size, seed, progress):
    """(images, parameter, slice, up fraction, field) of ``n`` images of one class."""
    kind, _, rng = CLASS_TABLE[code]
    blank = np.full(n, np.nan)
    if kind in ("ising2d", "ising3d"):
        x, par, sl = sample_ising(n, size, rng, 2 if kind == "ising2d" else 3, seed,
                                  progress=progress)
        return x, par, sl, blank, blank
    if kind in ("rfim2d", "rfim3d"):
        return sample_rfim(n, size, rng, 2 if kind == "rfim2d" else 3, seed,
                           up_fraction=UP_FRACTION, progress=progress)
    x, par = sample_percolation(n, size, rng, seed)
    progress(n)
    return x, par, np.full(n, "2d"), blank, blank


def _generate_none(n, size, seed, sharp, progress):
    """``n`` "none of these" images: out-of-range models, patterns and blurred renders
    of ``sharp`` (in-class images), in equal shares of one per category and four for
    the blurred renders."""
    from . import outliers

    cats = list(outliers.OUT_OF_RANGE) + list(outliers.PATTERNS)
    shares = np.full(len(cats) + 4, n // (len(cats) + 4))
    shares[: n - shares.sum()] += 1
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seeds = seq.spawn(len(cats) + 1)
    xs, names = [], []
    for cat, k, ss in zip(cats, shares, seeds):
        if k == 0:
            continue
        x = outliers.draw(cat, int(k), size, ss)
        xs.append(x)
        names.append(np.full(len(x), cat))
        progress(len(x))
    k = int(shares[len(cats):].sum())
    if k:
        rng = np.random.default_rng(seeds[-1])
        xs.append(outliers.blurred(sharp[rng.choice(len(sharp), k, replace=len(sharp) < k)],
                                   int(rng.integers(1 << 31))))
        names.append(np.full(k, "blurred"))
        progress(k)
    x = np.concatenate(xs)
    blank = np.full(len(x), np.nan)
    return x, blank, np.concatenate(names), blank, blank


def make_dataset(
    n_per_class: int = 8000,
    size: int = 100,
    seed: int = 0,
    classes=None,
    progress: bool = True,
    n_none: int = 0,
):
    """Simulate the seven-class training set of Table I.

    Parameters
    ----------
    n_per_class : int
        Images per class; the non-critical percolation class P* gets twice as many, as
        in the paper (8000 per class -> 64,000 images).
    size : int
        Image side (even, >= 8); the paper uses 100.
    seed : int
        Seed. Each class draws from its own child of ``SeedSequence(seed)``, so the set
        is the same whatever the number of threads, and a class does not change when
        others are added or removed.
    classes : sequence of str, optional
        Subset of :data:`CLASSES` to generate (default: all seven; none, with
        ``n_none``, for "none of these" images only).
    progress : bool
        Show a progress bar (tqdm) on stderr.
    n_none : int
        Also this many images labelled :data:`NONE` that none of the seven models drew
        (:mod:`napari_hamiltonian.simulate.outliers`); their ``slice`` names the
        category. Used to teach and measure the rejection.

    Returns
    -------
    X : ndarray, uint8, shape (N, size, size)
        Images, 1 = up (metal), 0 = down (insulator); grouped by class.
    y : ndarray, str, shape (N,)
        Class codes.
    params : dict of str -> ndarray, shape (N,)
        ``"parameter"`` (T, R or p of the image), ``"parameter_name"``, ``"slice"``
        (``"2d"`` or the 3D slice name), ``"up_fraction"`` and ``"field"`` (RFIM: true
        up fraction of the whole lattice and applied field H at the snapshot, NaN
        otherwise).

    No image appears twice in a data set: a repeat (possible for small images or
    nearly uniform ones) is replaced by a fresh draw of the same class.
    """
    n_per_class = check_count(n_per_class, "n_per_class")
    size = check_size(size, even=True)
    classes = CLASSES if classes is None else tuple(classes)
    unknown = [c for c in classes if c not in CLASSES]
    n_none = int(n_none)
    if n_none < 0:
        raise ValueError(f"n_none must be >= 0, got {n_none}")
    if unknown or not (classes or n_none):
        raise ValueError(f"unknown class(es) {unknown}; choose from {list(CLASSES)}")
    seeds = dict(zip(CLASSES, np.random.SeedSequence(seed).spawn(len(CLASSES))))
    none_seed = np.random.SeedSequence([seed, 7])
    counts = {c: n_per_class * (2 if c == "P*" else 1) for c in classes}
    if n_none:
        counts[NONE] = n_none
    parts: dict[str, list] = {k: [] for k in ("x", "y", "par", "name", "slice", "up", "h")}
    seen: set[bytes] = set()
    with tqdm(total=sum(counts.values()), unit="img", disable=not progress,
              desc="simulating") as bar:
        for code in counts:
            bar.set_postfix_str(code)
            done = [0]

            def advance(k, n=counts[code], done=done):
                k = min(k, n - done[0])
                done[0] += k
                bar.update(k)

            have, ss = 0, seeds.get(code, none_seed)
            for attempt in range(20):
                need = counts[code] - have
                if need == 0:
                    break
                child = ss if attempt == 0 else ss.spawn(1)[0]
                if code == NONE:
                    sharp = np.concatenate(parts["x"]) if parts["x"] else \
                        _generate("P-2D", need, size, child, lambda k: None)[0]
                    out = _generate_none(need, size, child, sharp, advance)
                else:
                    out = _generate(code, need, size, child, advance)
                keep = []
                for i, img in enumerate(out[0]):
                    key = img.tobytes()
                    if key not in seen:
                        seen.add(key)
                        keep.append(i)
                keep = np.array(keep, int)
                for key, arr in zip(("x", "par", "slice", "up", "h"), out):
                    parts[key].append(np.asarray(arr)[keep])
                parts["y"].append(np.full(len(keep), code))
                name = "none" if code == NONE else CLASS_TABLE[code][1]
                parts["name"].append(np.full(len(keep), name))
                have += len(keep)
            if have < counts[code]:
                raise ValueError(f"could not draw {counts[code]} distinct {code} images of "
                                 f"{size}x{size}; use larger images or fewer of them")
    params = {
        "parameter": np.concatenate(parts["par"]),
        "parameter_name": np.concatenate(parts["name"]).astype(str),
        "slice": np.concatenate(parts["slice"]).astype(str),
        "up_fraction": np.concatenate(parts["up"]),
        "field": np.concatenate(parts["h"]),
    }
    return np.concatenate(parts["x"]), np.concatenate(parts["y"]).astype(str), params


def save_dataset(path, X, y, params, info=None, overwrite: bool = False) -> Path:
    """Write a data set to one ``.npz`` file, atomically, without pickles.

    Images are bit-packed (8 pixels per byte) and compressed; metadata goes in a JSON
    string. The file appears only once it is complete; an existing file is kept unless
    ``overwrite`` is true.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"data set files end in .npz, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    X = np.asarray(X, dtype=np.uint8)
    meta = {"format_version": FORMAT_VERSION, "shape": list(X.shape), **(info or {})}
    arrays = {f"param_{k}": np.asarray(v) for k, v in params.items()}
    with atomic_open(path) as fh:
        np.savez_compressed(fh, X_bits=np.packbits(X, axis=None), y=np.asarray(y, str),
                            meta=np.array(json.dumps(meta)), **arrays)
    return path


def load_dataset(path):
    """Read a file written by :func:`save_dataset`: ``X, y, params, info``.

    Raises
    ------
    ValueError
        Naming the file, if it is not such a data set, is damaged or cut short, or its
        parts disagree (fewer packed pixels or labels than its header says).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such data set file; write one with "
                         "`napari-hamiltonian generate`")
    damaged = f"{path} is not a data set written by `napari-hamiltonian generate`, or is damaged"
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"{path}: unsupported data set format "
                                 f"{meta.get('format_version')}")
            shape = tuple(int(v) for v in meta["shape"])
            bits, y = f["X_bits"], f["y"]
            params = {k[6:]: f[k] for k in f.files if k.startswith("param_")}
    except ValueError as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{damaged} ({err})") from None
    except Exception as err:  # noqa: BLE001 - zip, key and JSON errors alike
        raise ValueError(f"{damaged} ({type(err).__name__}: {err})") from None
    n_pixels = int(np.prod(shape))
    if len(shape) != 3 or bits.size * 8 < n_pixels or bits.size * 8 - n_pixels >= 8:
        raise ValueError(f"{damaged}: it holds {bits.size * 8} packed pixels for images of "
                         f"shape {shape}")
    if len(y) != shape[0] or any(len(v) != shape[0] for v in params.values()):
        raise ValueError(f"{damaged}: {len(y)} labels for {shape[0]} images")
    X = np.unpackbits(bits, count=n_pixels).reshape(shape)
    return X, y, params, meta
