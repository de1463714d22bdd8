"""Batch classification of image stacks into results folders (the ``classify`` command).

Layout of ``OUT/<name>/`` (``<name>``: see :func:`output_names`)::

    settings.json          source file (path, bytes, SHA-256), model hash and settings
    report.json            the x axis of the criticality curve (temperatures, if given)
    frames/t00000.npz      per-frame results, written atomically (a rerun skips them)
    labels.tif             (T, ny, nx) uint8 label per window, as on the napari layer:
                           class k + 1 (CSV column order), 8 "none of these", 0 not
                           classified; its description holds the class table and the
                           placement over the image (:mod:`.labelfile`)
    confident.tif          (T, ny, nx) uint8, 1 where the window is confidently of its
                           class, 0 where it is "none of these" or not classified
    fractions.csv          per frame: shares per class, confident shares, "none of
                           these", the paper's k-sigma share, criticality
    bars/t00000.png        per frame: the bar chart of Figs. 7/9 (with a "none" bar)
    distributions/t00000.png  per frame: the 7-D projections of Figs. 6/8/10
    distribution.png       the same for all frames pooled (subsampled)
    criticality.png        proximity to criticality and confident share across frames

Rules: every input and setting is checked before anything is written; a folder holding
files this tool did not write is not written into without ``overwrite``; results of
another input, another model or other settings are not replaced without ``overwrite``;
an input whose content changed (same path, other SHA-256) is recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._binary import binarize, check_levels, check_metal, check_threshold, level_threshold
from ._files import atomic_write, check_writable
from .classes import CANNOT_TELL_NAME, NONE_NAME
from .modelfile import file_sha256
from .rejection import SCORES
from .sliding import WindowResult, check_stride, read_image

SUFFIXES = (".tif", ".tiff", ".npy", ".zarr")
#: File names of per-frame results; anything else in ``frames/`` is ignored.
FRAME_FILE = re.compile(r"t(\d{5})\.npz")
_SETTINGS, _REPORT = "settings.json", "report.json"


def read_stack(path):
    """Open an image file as a lazy (T, Y, X) dask array (a 2D image becomes T = 1).

    TIFF (single or multi-page), ``.npy`` (memory-mapped) and zarr arrays are read.
    Every error names the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot read {path.name}: use TIFF, .npy or .zarr "
                         f"({', '.join(SUFFIXES)})")
    try:
        arr, rgb = _open(path, suffix)
    except ValueError as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"cannot read {path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any reader error becomes one line naming the file
        raise ValueError(f"cannot read {path}: {type(err).__name__}: {err}") from None
    if rgb or (arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] > 4):
        raise ValueError(f"{path} holds an array of shape {arr.shape}, which looks like an "
                         "RGB(A) image; save it as grayscale (one value per pixel) first")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"{path} holds an array of shape {arr.shape}; expected an image "
                         "(Y, X) or a stack (T, Y, X)")
    if arr.shape[0] == 0:
        raise ValueError(f"{path} holds no frames (shape {arr.shape})")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path} holds {arr.dtype} values; expected numbers")
    return arr.rechunk((1, -1, -1))


def _open(path: Path, suffix: str):
    """(dask array, whether the file says it is RGB)."""
    import dask.array as da

    if suffix in (".tif", ".tiff"):
        import tifffile
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            rgb = "S" in series.axes
            shape, n_pages = series.shape, len(series.pages)
            pages = {(p.shape, p.dtype) for p in tif.pages}
            if len(tif.series) > 1 and len(pages) == 1 and len(shape) == 2:
                # pages written one by one (separate series): one frame each
                shape, n_pages = (len(tif.pages),) + shape, len(tif.pages)
            if len(shape) == 3 and n_pages == shape[0] and not rgb:  # page per frame: lazy
                return da.stack([da.from_delayed(_delayed_tiff(path, t), shape[1:],
                                                 series.dtype) for t in range(shape[0])]), rgb
            return da.from_array(series.asarray(), chunks=-1), rgb
    if suffix == ".npy":
        return da.from_array(np.load(path, mmap_mode="r", allow_pickle=False), chunks=-1), False
    import zarr
    z = zarr.open(str(path), mode="r")
    if not hasattr(z, "shape"):
        raise ValueError(f"{path} is a zarr group; pass the path of one array in it")
    return da.from_zarr(z), False


def _delayed_tiff(path, key: int):
    import dask
    import tifffile

    def read(p=str(path), k=key):
        return tifffile.imread(p, key=k)

    return dask.delayed(read, pure=True)()


def output_names(paths) -> dict[Path, str]:
    """The results-folder name of each input.

    The file name less its image suffix (``run.a.tif`` -> ``run.a``, ``x.ome.tif`` ->
    ``x``), without leading dots (``.hidden.npy`` -> ``hidden``). Inputs that would share
    a name get their parent folders in front until the names differ
    (``day1/sample.tif`` -> ``day1-sample``, ``day2/sample.tif`` -> ``day2-sample``).

    Raises
    ------
    ValueError
        If the same file is given twice.
    """
    paths = [Path(p) for p in paths]
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        twice = sorted({str(p) for p, r in zip(paths, resolved) if resolved.count(r) > 1})
        raise ValueError(f"{', '.join(twice)} given more than once; give each input once")

    def base(p: Path) -> str:
        name = p.name
        for suffix in SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
        if name.lower().endswith(".ome"):
            name = name[:-4]
        return name.lstrip(".") or "input"

    names = {p: base(p) for p in paths}
    depth = 0
    while len(set(names.values())) < len(names):
        depth += 1
        clash = {n for n in names.values() if list(names.values()).count(n) > 1}
        for p, r in zip(paths, resolved):
            if names[p] in clash or base(p) in clash:
                parents = [q.lstrip(".") for q in r.parent.parts[-depth:] if q not in ("/", "")]
                names[p] = "-".join(parents + [base(p)])
        if depth > 64:
            raise ValueError("cannot give the inputs distinct output names; rename them")
    return names


def source_record(path) -> dict:
    """What a result was made from: resolved path, size in bytes and SHA-256 of the
    content (a zarr folder: of its files' relative names and contents, in order)."""
    path = Path(path).resolve()
    if path.is_dir():
        h = hashlib.sha256()
        size = 0
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            data = f.read_bytes()
            size += len(data)
            h.update(hashlib.sha256(data).digest())
        return {"path": str(path), "bytes": size, "sha256": h.hexdigest()}
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def save_frame(path, result: WindowResult) -> None:
    """Write one frame's results (logits, distances, classes, stride, window) to a
    compressed ``.npz`` file, atomically; :func:`load_frames` reads it back."""
    buf = io.BytesIO()
    np.savez_compressed(buf, logits=result.logits, distance=result.distance,
                        scores=result.scores, classes=np.array(result.classes),
                        stride=result.stride, window=result.window)
    atomic_write(Path(path), buf.getvalue())


def _write_tiff(path: Path, data: np.ndarray) -> None:
    import tifffile
    buf = io.BytesIO()
    tifffile.imwrite(buf, data, compression="zlib", photometric="minisblack")
    atomic_write(path, buf.getvalue())


@dataclass
class Job:
    """One input checked and ready to run (see :func:`plan`)."""

    path: Path
    folder: Path
    stack: object
    settings: dict
    recompute: bool
    temperatures: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    frames: dict = field(default_factory=dict)


def plan(path, folder, clf, model_hash: str, stride: int = 1, threshold=None,
         metal: str = "bright", temperatures=None, overwrite: bool = False,
         levels=None) -> Job:
    """Check one input, its settings and its results folder; write nothing.

    ``levels`` (insulator, metal): the phases' intensities, which a grey model reads the
    frames by and a binary model thresholds halfway between (instead of ``threshold``).

    Raises ValueError (bad input or settings) or FileExistsError (the folder holds
    results this run must not replace), each naming the fix.
    """
    switching = isinstance(threshold, str) and threshold == "switching"
    threshold = threshold if switching else check_threshold(threshold)
    check_metal(metal)
    levels = check_levels(levels)
    grey = getattr(clf, "input_kind", "binary") == "grey"
    if levels is not None and threshold is not None:
        raise ValueError("give --levels or --threshold, not both: the levels set the "
                         "threshold halfway between the phases")
    if grey and threshold is not None:
        raise ValueError("the model reads grey levels, not a binarised image: give "
                         "--levels INSULATOR METAL instead of --threshold")
    check_stride(stride)
    stack = read_stack(path)
    n = clf.window_
    if min(stack.shape[1:]) < n:
        raise ValueError(f"{path}: frames are {stack.shape[1]}x{stack.shape[2]} pixels, "
                         f"smaller than the {n}x{n} window")
    if temperatures is not None and len(temperatures) != stack.shape[0]:
        raise ValueError(f"{len(temperatures)} temperatures for {stack.shape[0]} frames of "
                         f"{path}; give one per frame")
    if switching and stack.shape[0] < 2:
        raise ValueError(f"{path} has one frame; --threshold switching needs a stack of "
                         "frames in sweep order (use otsu or a grey level for one image)")
    try:  # the first frame shows most input errors (grey without threshold, NaN, ...)
        read_image(np.asarray(stack[0].compute()), clf, "otsu" if switching else threshold,
                   metal, levels)
    except ValueError as err:
        raise ValueError(f"{path}, frame 0: {err}") from None
    from . import __version__
    if levels is not None:  # the physical threshold, also what the geometry reads
        threshold, metal = level_threshold(levels)
    settings = {"model_sha256": model_hash, "stride": int(stride), "threshold": threshold,
                "metal": metal, "confidence_k": clf.confidence_k, "window": n,
                "shape": list(stack.shape), "package_version": __version__,
                **({"levels": list(levels)} if levels is not None else {})}
    source = source_record(path)
    folder = Path(folder)
    job = Job(Path(path), folder, stack, {**settings, "source": source}, overwrite,
              None if temperatures is None else np.asarray(temperatures, float))
    sfile = folder / _SETTINGS
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; choose another --out")
    if sfile.exists():
        try:
            old = json.loads(sfile.read_text())
        except (OSError, ValueError):
            old = {}
        old_source = old.pop("source", {}) if isinstance(old, dict) else {}
        if old_source.get("path") not in (None, source["path"]) and not overwrite:
            raise FileExistsError(
                f"{folder} holds the results of another input ({old_source['path']}); "
                "choose another --out, or pass --overwrite to replace them")
        if old != settings and not overwrite:
            diff = sorted(k for k in settings if not isinstance(old, dict)
                          or old.get(k) != settings[k])
            raise FileExistsError(
                f"{folder} holds results made with other settings ({', '.join(diff)} "
                "differ); pass --overwrite to replace them or choose another --out")
        if old_source.get("sha256") not in (None, source["sha256"]):
            job.recompute = True
            job.notes.append(f"{path} changed since its results were made: recomputing")
    elif folder.is_dir() and any(folder.iterdir()) and not overwrite:
        strange = sorted(p.name for p in folder.iterdir())[:5]
        raise FileExistsError(
            f"{folder} holds files napari-hamiltonian did not write ({', '.join(strange)}); "
            "choose another --out, or pass --overwrite to write into it")
    return job


def run(job: Job, clf, client=None, progress: bool = True,
        xlabel: str = "temperature", min_size: int | None = None) -> Path:
    """Classify the frames of a planned job that are not done yet, measure their cluster
    geometry (clusters of at least ``min_size`` pixels; default that of the geometry
    references for the model's resolution), then write the report.

    A frame file that does not load (damaged, cut short) is computed again.
    """
    from tqdm.auto import tqdm

    from .stacks import classify_stack

    folder, frames_dir = job.folder, job.folder / "frames"
    check_writable(folder)
    if job.recompute:
        for f in _frame_files(frames_dir).values():
            f.unlink()
    atomic_write(folder / _SETTINGS, json.dumps(job.settings, indent=1).encode())
    if job.temperatures is not None:
        _save_report_info(folder, xlabel=xlabel, x=[float(v) for v in job.temperatures])
    n_frames = job.stack.shape[0]
    done = {t for t, f in _frame_files(frames_dir).items() if t < n_frames and _loads(f)}
    todo = [t for t in range(n_frames) if t not in done]
    source = None
    if todo:
        source = _classifier_input(job)
        stack, threshold, metal = source
        levels = job.settings.get("levels")  # when given, they decide the threshold
        res = classify_stack(stack, clf, job.settings["stride"],
                             None if levels is not None else threshold, metal,
                             client=client, levels=levels)
        bar = tqdm(total=n_frames, initial=n_frames - len(todo), unit="frame",
                   desc=job.path.name, disable=not progress)
        for t in todo:
            save_frame(frames_dir / f"t{t:05d}.npz", res.frame(t))
            bar.update(1)
        bar.close()
    if min_size is None:
        min_size = _references(clf).min_size
    _measure_geometry(job, min_size, source)
    job.frames = write_report(folder, clf)
    return folder


def _classifier_input(job: Job) -> tuple:
    """(stack, threshold, metal) as the classifier reads the input: as it is, or for the
    switching binarisation the stack binarised as a whole (each pixel by its history)."""
    s = job.settings
    if s["threshold"] != "switching":
        return job.stack, s["threshold"], s["metal"]
    from .switching import binarize_stack
    return binarize_stack(np.asarray(job.stack), metal=s["metal"]), None, "bright"


def _measure_geometry(job: Job, min_size: int, source: tuple | None = None) -> None:
    """The cluster geometry of each frame's binary image (``geometry/t00000.json``), for
    frames without it or measured with another ``min_size``; ``source`` is the
    classifier's input if already made (:func:`_classifier_input`)."""
    from .geometry import measure

    for t in range(job.stack.shape[0]):
        path = job.folder / "geometry" / f"t{t:05d}.json"
        try:
            if json.loads(path.read_text())["min_size"] == min_size and not job.recompute:
                continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        source = source or _classifier_input(job)
        stack, threshold, metal = source
        binary = binarize(np.asarray(stack[t]), threshold, metal)
        atomic_write(path, json.dumps(measure(binary, min_size).as_dict()).encode())


def _references(clf):
    """The geometry references for the resolution of the model ``clf``."""
    from .geometry import References

    return References.load(psf_sigma=float(getattr(clf, "psf_sigma", 0.0)))


def _load_geometry(folder: Path, frames: list[int]) -> list | None:
    """The frames' Geometry from ``geometry/`` (None unless every frame has one)."""
    from .geometry import Geometry

    out = []
    for t in frames:
        try:
            out.append(Geometry(**json.loads(
                (folder / "geometry" / f"t{t:05d}.json").read_text())))
        except (OSError, ValueError, TypeError):
            return None
    return out


def classify_file(path, out_dir, clf, model_hash: str, stride: int = 1, threshold=None,
                  metal: str = "bright", client=None, temperatures=None,
                  overwrite: bool = False, progress: bool = True,
                  xlabel: str = "temperature", min_size: int | None = None) -> Job:
    """Classify every frame of one file into ``out_dir/<name>/`` (see the module doc).
    Returns the finished :class:`Job` (its ``folder`` and its ``frames``' results)."""
    folder = Path(out_dir) / output_names([path])[Path(path)]
    job = plan(path, folder, clf, model_hash, stride, threshold, metal, temperatures,
               overwrite)
    run(job, clf, client, progress, xlabel, min_size)
    return job


def _frame_files(frames_dir: Path) -> dict[int, Path]:
    """{frame index: file} of the frame files in a folder; other names are ignored."""
    if not frames_dir.is_dir():
        return {}
    out = {}
    for f in frames_dir.iterdir():
        m = FRAME_FILE.fullmatch(f.name)
        if m and f.is_file():
            out[int(m.group(1))] = f
    return out


def _read_frame(f: Path, clf) -> WindowResult:
    """One frame file as a WindowResult; ValueError naming the file if it is damaged."""
    try:
        with np.load(f, allow_pickle=False) as d:
            logits, dist = d["logits"], d["distance"]
            scores = d["scores"] if "scores" in d.files else np.full(
                dist.shape + (len(SCORES),), np.nan)
            classes = tuple(str(c) for c in d["classes"])
            stride, window = int(d["stride"]), int(d["window"])
    except Exception as err:  # noqa: BLE001 - zip, key and value errors alike
        raise ValueError(f"{f} is damaged ({type(err).__name__}: {err}); rerun classify "
                         "to compute it again") from None
    if logits.ndim != 3 or dist.shape != logits.shape[:2] or logits.shape[2] != len(classes):
        raise ValueError(f"{f} is damaged (logits {logits.shape}, distances {dist.shape}); "
                         "rerun classify to compute it again")
    if scores.shape != dist.shape + (len(SCORES),):
        raise ValueError(f"{f} holds rejection scores of another version of "
                         "napari-hamiltonian; rerun classify with --overwrite to compute "
                         "them again")
    return WindowResult.of(clf, labels=logits.argmax(-1).astype(np.int16), logits=logits,
                           distance=dist, classes=classes, stride=stride, window=window,
                           scores=scores)


def _loads(f: Path) -> bool:
    try:
        with np.load(f, allow_pickle=False) as d:
            return {"logits", "distance", "classes", "stride", "window"} <= set(d.files)
    except Exception:  # noqa: BLE001 - a damaged file is recomputed
        return False


def load_frames(folder, clf) -> dict[int, WindowResult]:
    """Read the per-frame results of a results folder, {frame number: WindowResult},
    with the confidence decision of the fitted classifier ``clf``.

    Frames are ``frames/t<frame number>.npz`` (other file names are ignored). A folder
    written by ``classify`` holds every frame of its stack: a gap raises a ValueError, as
    does a damaged file (naming it). A folder saved from the widget may hold some frames
    of a stack (its ``report.json`` gives the stack's length).
    """
    folder = Path(folder)
    files = _frame_files(folder / "frames")
    if not files:
        raise ValueError(f"{folder} holds no frames (frames/t*.npz); run classify first")
    if "n_frames" not in _report_info(folder):
        missing = sorted(set(range(max(files) + 1)) - set(files))
        if missing:
            raise ValueError(f"{folder}: frames {missing[:5]} are missing; rerun classify "
                             "to compute them")
    return {t: _read_frame(files[t], clf) for t in sorted(files)}


def _report_info(folder: Path) -> dict:
    """The contents of ``report.json`` ({} if there is none or it does not read)."""
    try:
        info = json.loads((Path(folder) / _REPORT).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _save_report_info(folder: Path, **info) -> None:
    """Update ``report.json`` with ``info`` (the x axis, the source's placement)."""
    atomic_write(folder / _REPORT, json.dumps({**_report_info(folder), **info},
                                              indent=1).encode())


def _axis(info: dict, frames: list[int]):
    """The x axis of the criticality curve stored in ``info`` (``report.json``) for
    ``frames``: (x, label), or (None, "frame") when none is stored for them."""
    try:
        x = np.asarray(info["x"], float)
        if len(x) == len(frames):
            return x, str(info["xlabel"])
    except (KeyError, TypeError, ValueError):
        pass
    return None, "frame"


def write_report(folder, clf, temperatures=None, xlabel: str = "temperature",
                 source: dict | None = None) -> dict[int, WindowResult]:
    """Write ``labels.tif``, ``confident.tif``, the CSV and the PNGs of a results folder
    from its frames.

    Parameters
    ----------
    folder : path-like
        A results folder (``frames/`` filled by ``classify`` or the widget).
    clf : HamiltonianClassifier
        The model that made the frames (it decides "none of these").
    temperatures : sequence of float, optional
        One per frame (``xlabel``): the x axis of the criticality curve, stored in
        ``report.json`` for later reports. Without it the stored axis is used, or the
        frame numbers.
    source : dict, optional
        The image the frames come from, stored for later reports: ``n_frames`` (frames
        of the stack, None for one image) and napari's ``scale``, ``translate`` and
        ``units`` of the image, which place ``labels.tif`` over it
        (:func:`napari_hamiltonian.labelfile.write_labels`). Default: a stack of the
        frames present, one unit per pixel.

    Returns
    -------
    dict of int -> WindowResult
        The frames' results by frame number.
    """
    from . import report
    from .labelfile import write_labels

    folder = Path(folder)
    if source is not None:  # a new save: its axis and placement replace earlier ones
        atomic_write(folder / _REPORT, json.dumps(source, indent=1).encode())
    results = load_frames(folder, clf)
    frames = sorted(results)
    if temperatures is not None:
        if len(temperatures) != len(frames):
            raise ValueError(f"{len(temperatures)} temperatures for {len(frames)} frames; "
                             "give one per frame")
        x = np.asarray(temperatures, float)
        _save_report_info(folder, xlabel=xlabel, x=[float(v) for v in x])
    info = _report_info(folder)
    if temperatures is None:
        x, xlabel = _axis(info, frames)
    with_x = x is not None
    if not with_x:
        x = np.asarray(frames, float)
    values = write_labels(folder / "labels.tif", results, info.get("n_frames", frames[-1] + 1),
                          info.get("scale"), info.get("translate"), info.get("units"))
    ordered = [results[t] for t in frames]
    accepted = (values > 0) & (values <= len(ordered[0].classes))
    _write_tiff(folder / "confident.tif", accepted.astype(np.uint8))
    rows, dists = [], []
    for t, x_t in zip(frames, x):
        f = results[t]
        d = report.criticality_distance(clf, f)
        dists.append(d)
        row = {"frame": int(t), xlabel: x_t} if with_x else {"frame": int(t)}
        rows.append({**row, **report.frame_summary(f), "criticality distance": round(d, 4)})
        fig = report.bar_chart(f.fractions(), title=f"{folder.name}, {xlabel} {x_t:g}: "
                               "windows per class (confident share in brackets)",
                               cannot_tell=f.undecided())
        if f.answer() in (NONE_NAME, CANNOT_TELL_NAME):
            # below the axes, in the space the layout keeps for it
            fig.supxlabel(report.unlike_message([f], [t], clf), fontsize=6, wrap=True,
                          color="#8a1c1c")
        report.save_figure(fig, folder / "bars" / f"t{t:05d}.png")
        report.save_figure(report.distribution_plot(
            clf, f.logits, f.confident, names=f.classes, max_points=1500,
            title=f"{folder.name}, {xlabel} {x_t:g}: last-layer values"),
            folder / "distributions" / f"t{t:05d}.png")
    for sub in ("bars", "distributions"):  # charts of frames no longer in the folder
        for old in (folder / sub).glob("t*.png"):
            m = re.fullmatch(r"t(\d{5})\.png", old.name)
            if m and int(m.group(1)) not in results:
                old.unlink()
    report.write_csv(folder / "fractions.csv", rows)
    _write_geometry(folder, frames, x, xlabel, results, _references(clf))
    logits = np.concatenate([f.logits.reshape(-1, f.logits.shape[-1]) for f in ordered])
    conf = np.concatenate([f.confident.ravel() for f in ordered])
    report.save_figure(report.distribution_plot(clf, logits, conf, names=ordered[0].classes,
                                                title=f"{folder.name}: last-layer values"),
                       folder / "distribution.png")
    report.save_figure(report.criticality_curve(x, dists, [r["confident"] for r in rows],
                                                [r["majority"] for r in rows], xlabel),
                       folder / "criticality.png")
    return results


def _write_geometry(folder: Path, frames: list[int], x, xlabel: str, results: dict,
                    refs) -> None:
    """``geometry.csv`` and ``geometry.png``: each frame's cluster measures, the classes
    whose references they fit, and whether that agrees with the CNN's answer for the
    frame (its majority class, or "none of these"; nothing when the frames' geometry was
    not measured, e.g. a save from the widget)."""
    from . import report
    from .geometry import agreement_message, table_row, verdict

    measures = _load_geometry(folder, frames)
    if measures is None:
        return
    out = []
    for t, x_t, g in zip(frames, x, measures):
        v = verdict(g, refs)
        line = {"frame": int(t)} if xlabel == "frame" else {"frame": int(t), xlabel: x_t}
        answer = results[t].answer()
        out.append({**line, **table_row(g, v), "CNN answer": answer,
                    "verdict": agreement_message(answer, v)})
    report.write_csv(folder / "geometry.csv", out)
    report.save_figure(report.geometry_plot(x, measures, refs, xlabel,
                                            f"{folder.name}: cluster geometry against the "
                                            "references (bands: +- one spread)"),
                       folder / "geometry.png")


def geometry_disagreements(folder) -> str:
    """Plain words for the frames whose geometry disagrees with the CNN ("" if none do
    or no geometry was measured)."""
    import csv

    try:
        with open(Path(folder) / "geometry.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return ""
    bad = [r for r in rows if r["verdict"].startswith("the CNN and the cluster geometry")]
    if not bad:
        return ""
    first = bad[0]
    more = f" (and {len(bad) - 1} more frames)" if len(bad) > 1 else ""
    return f"frame {first['frame']}: {first['verdict']}{more}; see geometry.csv"


def save_results(folder, results: dict, clf, source: dict) -> Path:
    """Save results computed elsewhere (the widget) as a results folder.

    Parameters
    ----------
    folder : path-like
        Empty or missing, or a folder written by an earlier save (its frames are
        replaced). A folder with other files, or the results of ``classify``, is
        refused, so nothing of the user's is overwritten.
    results : dict of int -> WindowResult
        Frames by their frame number in the source stack.
    clf : HamiltonianClassifier
        The model that made them.
    source : dict
        ``n_frames`` (None for one image), ``scale``, ``translate``, ``units`` of the
        image (see :func:`write_report`).

    Raises
    ------
    ValueError
        Nothing to save, or a folder that must not be written into (naming the fix).
    """
    if not results:
        raise ValueError("nothing to save yet: press Run first")
    folder = check_writable(folder)
    names = {p.name for p in folder.iterdir()}
    ours = {_REPORT, "frames", "bars", "distributions", "labels.tif", "confident.tif",
            "fractions.csv", "distribution.png", "criticality.png"}
    if names and (_SETTINGS in names or _REPORT not in names or names - ours):
        what = "classify results" if _SETTINGS in names else \
            f"files napari-hamiltonian did not write ({', '.join(sorted(names - ours)[:5])})"
        raise ValueError(f"{folder} holds {what}; choose an empty or new folder")
    for f in _frame_files(folder / "frames").values():  # an earlier save's frames
        f.unlink()
    for t, result in results.items():
        save_frame(folder / "frames" / f"t{int(t):05d}.npz", result)
    write_report(folder, clf, source=source)
    return folder


def recorded_levels(folder) -> list | None:
    """The phase levels ``classify --levels`` recorded in a results folder, or None."""
    try:
        return json.loads((Path(folder) / _SETTINGS).read_text()).get("levels")
    except (OSError, ValueError, AttributeError):
        return None


def check_model_of(folder, model_hash: str) -> None:
    """ValueError unless the results in ``folder`` were made by the model ``model_hash``."""
    try:
        made_by = json.loads((Path(folder) / _SETTINGS).read_text()).get("model_sha256")
    except (OSError, ValueError, AttributeError):
        return  # not a classify folder (e.g. saved from the widget): nothing to compare
    if made_by not in (None, model_hash):
        raise ValueError(f"{folder} was classified with another model (SHA-256 "
                         f"{made_by[:12]}...); pass that model with --model")


def model_and_hash(model_path=None, psf_sigma: float | None = None,
                   input_kind: str = "binary"):
    """The classifier to use and its file's SHA-256: the model file, or else the shipped
    model for ``psf_sigma`` that reads ``input_kind`` images
    (:func:`~napari_hamiltonian.load_pretrained`)."""
    if model_path is not None and psf_sigma is not None:
        raise ValueError("give --model or --psf-sigma, not both: --psf-sigma picks a "
                         "shipped model")
    if model_path is None:
        from .pretrained import load_pretrained, shipped_hash
        return (load_pretrained(psf_sigma, input_kind),
                shipped_hash(psf_sigma, input_kind))
    from .estimator import HamiltonianClassifier
    path = Path(model_path)
    if not path.is_file():
        raise ValueError(f"--model {path}: no such file; give a .safetensors file written "
                         "by `napari-hamiltonian train`")
    return HamiltonianClassifier.load(path), file_sha256(path)
