"""Batch classification of image stacks into a results folder (the ``classify`` command).

Layout of ``OUT/<input stem>/``::

    settings.json          model hash and settings; a rerun with others is refused
    frames/t00000.npz      per-frame results, written atomically (a rerun skips them)
    labels.tif             (T, ny, nx) int16 class index per window (CLASSES order)
    confident.tif          (T, ny, nx) uint8, 1 where the k-sigma rule holds
    fractions.csv          per frame: shares per class, confident shares, criticality
    bars/t00000.png        per frame: the bar chart of Figs. 7/9
    distribution.png       the 7-D projections of Figs. 6/8/10 (all frames, subsampled)
    criticality.png        proximity to criticality and confident share across frames
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np

from ._files import atomic_write
from .modelfile import file_sha256
from .sliding import WindowResult
from .stacks import classify_stack

SUFFIXES = (".tif", ".tiff", ".npy", ".zarr")


def read_stack(path):
    """Open an image file as a lazy (T, Y, X) dask array (a 2D image becomes T = 1).

    TIFF (single or multi-page), ``.npy`` (memory-mapped) and zarr arrays are read.
    """
    import dask.array as da

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if suffix in (".tif", ".tiff"):
        import tifffile
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, n_pages = series.shape, len(series.pages)
            pages = {(p.shape, p.dtype) for p in tif.pages}
            if len(tif.series) > 1 and len(pages) == 1 and len(shape) == 2:
                # pages written one by one (separate series): one frame each
                shape, n_pages = (len(tif.pages),) + shape, len(tif.pages)
            if len(shape) == 3 and n_pages == shape[0]:  # one page per frame: lazy
                arr = da.stack([da.from_delayed(_delayed_tiff(path, t), shape[1:],
                                                series.dtype) for t in range(shape[0])])
            else:
                arr = da.from_array(series.asarray(), chunks=-1)
    elif suffix == ".npy":
        arr = da.from_array(np.load(path, mmap_mode="r"), chunks=-1)
    elif suffix == ".zarr":
        import zarr
        z = zarr.open(str(path), mode="r")
        if not hasattr(z, "shape"):
            raise ValueError(f"{path} is a zarr group; pass the path of one array in it")
        arr = da.from_zarr(z)
    else:
        raise ValueError(f"cannot read {path.name}: use TIFF, .npy or .zarr "
                         f"({', '.join(SUFFIXES)})")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"{path} holds an array of shape {arr.shape}; expected an image "
                         "(Y, X) or a stack (T, Y, X)")
    return arr.rechunk((1, -1, -1))


def _delayed_tiff(path, key: int):
    import dask
    import tifffile

    def read(p=str(path), k=key):
        return tifffile.imread(p, key=k)

    return dask.delayed(read, pure=True)()


def _settings(clf_hash: str, stride, threshold, metal, k, window, shape) -> dict:
    from . import __version__
    return {"model_sha256": clf_hash, "stride": stride, "threshold": threshold,
            "metal": metal, "confidence_k": k, "window": window, "shape": list(shape),
            "package_version": __version__}


def save_frame(path, result: WindowResult) -> None:
    """Write one frame's results (logits, distances, classes, stride, window) to a
    compressed ``.npz`` file, atomically; :func:`load_frames` reads it back."""
    buf = io.BytesIO()
    np.savez_compressed(buf, logits=result.logits, distance=result.distance,
                        classes=np.array(result.classes), stride=result.stride,
                        window=result.window)
    atomic_write(Path(path), buf.getvalue())


def _write_tiff(path: Path, data: np.ndarray) -> None:
    import tifffile
    buf = io.BytesIO()
    tifffile.imwrite(buf, data, compression="zlib", photometric="minisblack")
    atomic_write(path, buf.getvalue())


def classify_file(path, out_dir, clf, model_hash: str, stride: int = 1, threshold=None,
                  metal: str = "bright", client=None, temperatures=None,
                  overwrite: bool = False, progress: bool = True,
                  xlabel: str = "temperature") -> Path:
    """Classify every frame of one file into ``out_dir/<stem>/`` (see the module doc).

    Frames already done with the same settings are skipped; different settings raise
    FileExistsError unless ``overwrite``.
    """
    from tqdm.auto import tqdm

    stack = read_stack(path)
    folder = Path(out_dir) / Path(path).name.split(".")[0]
    settings = _settings(model_hash, stride, threshold, metal, clf.confidence_k,
                         clf.window_, stack.shape)
    if temperatures is not None and len(temperatures) != stack.shape[0]:
        raise ValueError(f"{len(temperatures)} temperatures for {stack.shape[0]} frames of "
                         f"{path}; give one per frame")
    sfile = folder / "settings.json"
    if sfile.exists():
        old = json.loads(sfile.read_text())
        if old != settings:
            if not overwrite:
                diff = sorted(k for k in settings if old.get(k) != settings[k])
                raise FileExistsError(
                    f"{folder} holds results made with other settings ({', '.join(diff)} "
                    "differ); pass --overwrite to replace them or choose another --out")
            shutil.rmtree(folder / "frames", ignore_errors=True)
    atomic_write(sfile, json.dumps(settings, indent=1).encode())
    frames_dir = folder / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    todo = [t for t in range(stack.shape[0]) if not (frames_dir / f"t{t:05d}.npz").exists()]
    if todo:
        res = classify_stack(stack, clf, stride, threshold, metal, client=client)
        bar = tqdm(total=stack.shape[0], initial=stack.shape[0] - len(todo), unit="frame",
                   desc=Path(path).name, disable=not progress)
        for t in todo:
            save_frame(frames_dir / f"t{t:05d}.npz", res.frame(t))
            bar.update(1)
        bar.close()
    write_report(folder, clf, temperatures, xlabel)
    return folder


def load_frames(folder, clf) -> list[WindowResult]:
    """Read the per-frame results of a results folder as WindowResults, with the
    confidence decision of the fitted classifier ``clf``."""
    files = sorted((Path(folder) / "frames").glob("t*.npz"))
    if not files:
        raise ValueError(f"{folder} holds no frames (frames/t*.npz); run classify first")
    out = []
    for f in files:
        with np.load(f, allow_pickle=False) as d:
            logits, dist = d["logits"], d["distance"]
            out.append(WindowResult(labels=logits.argmax(-1).astype(np.int16),
                                    confident=clf.is_confident(dist), logits=logits,
                                    distance=dist,
                                    classes=tuple(str(c) for c in d["classes"]),
                                    stride=int(d["stride"]), window=int(d["window"])))
    return out


def write_report(folder, clf, temperatures=None, xlabel: str = "temperature") -> None:
    """Write label TIFFs, the CSV and the PNGs of a results folder from its frames.

    ``temperatures`` (one per frame, named ``xlabel``) is the x axis of the criticality
    curve; without it the frame index is.
    """
    from . import report

    folder = Path(folder)
    frames = load_frames(folder, clf)
    if temperatures is not None and len(temperatures) != len(frames):
        raise ValueError(f"{len(temperatures)} temperatures for {len(frames)} frames; "
                         "give one per frame")
    x = np.arange(len(frames)) if temperatures is None else np.asarray(temperatures, float)
    xlabel = "frame" if temperatures is None else xlabel
    _write_tiff(folder / "labels.tif", np.stack([f.labels for f in frames]))
    _write_tiff(folder / "confident.tif",
                np.stack([f.confident for f in frames]).astype(np.uint8))
    rows, dists = [], []
    for t, f in enumerate(frames):
        d = report.criticality_distance(clf, f)
        dists.append(d)
        row = {"frame": t} if temperatures is None else {"frame": t, xlabel: x[t]}
        rows.append({**row, **report.frame_summary(f), "criticality distance": round(d, 4)})
        fig = report.bar_chart(f.fractions(), title=f"{folder.name}, {xlabel} {x[t]:g}: "
                               "windows per class (confident share in brackets)")
        report.save_figure(fig, folder / "bars" / f"t{t:05d}.png")
    report.write_csv(folder / "fractions.csv", rows)
    logits = np.concatenate([f.logits.reshape(-1, f.logits.shape[-1]) for f in frames])
    conf = np.concatenate([f.confident.ravel() for f in frames])
    report.save_figure(report.distribution_plot(clf, logits, conf, names=frames[0].classes,
                                                title=f"{folder.name}: last-layer values"),
                       folder / "distribution.png")
    report.save_figure(report.criticality_curve(x, dists, [r["confident"] for r in rows],
                                                [r["majority"] for r in rows], xlabel),
                       folder / "criticality.png")


def model_and_hash(model_path=None):
    """The classifier to use and its file's SHA-256 (the shipped model by default)."""
    if model_path is None:
        from .pretrained import PRETRAINED_SHA256, load_pretrained
        return load_pretrained(), PRETRAINED_SHA256
    from .estimator import HamiltonianClassifier
    return HamiltonianClassifier.load(model_path), file_sha256(model_path)
