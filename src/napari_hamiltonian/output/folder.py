"""A results folder: its name per input, its settings, the per-frame results files (written
atomically, read back with the model's decisions), the geometry files and ``report.json``.

Layout of ``OUT/<name>/`` (``<name>``: see :func:`output_names`)::

    settings.json          source file (path, bytes, SHA-256), model hash and settings
    report.json            the x axis of the criticality curve (temperatures, if given)
    frames/t00000.npz      per-frame results, written atomically (a rerun skips them)
    geometry/t00000.json   per-frame cluster geometry
    labels.tif             (T, ny, nx) uint8 label per window, as on the napari layer:
                           class k + 1 (CSV column order), 8 "none of these", 9 "cannot
                           tell at this resolution", 0 not classified; its description
                           holds the class table and the placement over the image
                           (:mod:`.labelfile`)
    confident.tif          (T, ny, nx) uint8, 1 where the window is confidently of its
                           class
    fractions.csv          per frame: shares per class, confident shares, "none of
                           these", the paper's k-sigma share, criticality
    bars/t00000.png        per frame: the bar chart of Figs. 7/9 (with a "none" bar)
    distributions/t00000.png  per frame: the 7-D projections of Figs. 6/8/10
    distribution.png       the same for all frames pooled (subsampled)
    criticality.png        proximity to criticality and confident share across frames
    geometry.csv, geometry.png  the cluster geometry across frames
    region.tif             the region of interest read (``--mask``, ``--register``)
    shifts.csv             the drift of each frame (``--register``), px"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np

from ..classifier.modelfile import file_sha256
from ..classifier.rejection import SCORES
from ..imaging.files import SUFFIXES, zarr_store
from ..inference.sliding import WindowResult
from ..output.files import atomic_write

#: File names of per-frame results; anything else in ``frames/`` is ignored.
FRAME_FILE = re.compile(r"t(\d{5})\.npz")


SETTINGS, REPORT = "settings.json", "report.json"


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
    resolved = []
    for p in paths:
        try:
            resolved.append(p.resolve())
        except (OSError, RuntimeError):  # a loop of symbolic links
            raise ValueError(f"{p} is a loop of symbolic links; give the file it should "
                             "point to") from None
    if len(set(resolved)) < len(resolved):
        twice = sorted({str(p) for p, r in zip(paths, resolved) if resolved.count(r) > 1})
        raise ValueError(f"{', '.join(twice)} given more than once; give each input once")

    def base(p: Path) -> str:
        store = zarr_store(p)
        if store is not None and store != p:  # an array in a store: store-array
            return "-".join([base(store), *p.relative_to(store).parts])
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


def write_tiff(path: Path, data: np.ndarray, metadata: dict | None = None) -> None:
    """``data`` as a zlib-compressed TIFF at ``path``, atomically; ``metadata`` (JSON
    values) goes into its description beside the shape, saying what its axes hold."""
    import tifffile
    buf = io.BytesIO()
    tifffile.imwrite(buf, data, compression="zlib", photometric="minisblack",
                     metadata=dict(metadata or {}))
    atomic_write(path, buf.getvalue())


def load_geometry(folder: Path, frames: list[int]) -> list | None:
    """The frames' Geometry from ``geometry/`` (None unless every frame has one)."""
    from ..geometry import Geometry

    out = []
    for t in frames:
        try:
            out.append(Geometry(**json.loads(
                (folder / "geometry" / f"t{t:05d}.json").read_text())))
        except (OSError, ValueError, TypeError):
            return None
    return out


def frame_files(frames_dir: Path) -> dict[int, Path]:
    """{frame index: file} of the frame files in a folder; other names are ignored."""
    if not frames_dir.is_dir():
        return {}
    out = {}
    for f in frames_dir.iterdir():
        m = FRAME_FILE.fullmatch(f.name)
        if m and f.is_file():
            out[int(m.group(1))] = f
    return out


def _frame_arrays(f: Path) -> tuple:
    """A frame file's (logits, distance, scores, classes, stride, window); ValueError
    naming the file if it is damaged or holds arrays that do not fit together."""
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
                         "napari-hamiltonian; rerun classify to compute them again")
    return logits, dist, scores, classes, stride, window


def _read_frame(f: Path, clf) -> WindowResult:
    """One frame file as a WindowResult; ValueError naming the file if it is damaged."""
    logits, dist, scores, classes, stride, window = _frame_arrays(f)
    return WindowResult.of(clf, labels=logits.argmax(-1).astype(np.int16), logits=logits,
                           distance=dist, classes=classes, stride=stride, window=window,
                           scores=scores)


def frame_loads(f: Path, grid: tuple | None = None, stride: int | None = None,
                window: int | None = None) -> bool:
    """Whether a frame file reads whole (:func:`_read_frame` would accept it) and, where
    given, has the window grid (ny, nx), stride and window of the run: a frame that
    does not is computed again, not kept to fail every later report."""
    try:
        _, dist, _, _, s, w = _frame_arrays(f)
    except ValueError:
        return False
    return ((grid is None or dist.shape == tuple(grid)) and stride in (None, s)
            and window in (None, w))


def load_frames(folder, clf) -> dict[int, WindowResult]:
    """Read the per-frame results of a results folder, {frame number: WindowResult},
    with the confidence decision of the fitted classifier ``clf``.

    Frames are ``frames/t<frame number>.npz`` (other file names are ignored). A folder
    written by ``classify`` holds every frame of its stack: a gap raises a ValueError, as
    does a damaged file (naming it). A folder saved from the widget may hold some frames
    of a stack (its ``report.json`` gives the stack's length).
    """
    folder = Path(folder)
    files = frame_files(folder / "frames")
    if not files:
        raise ValueError(f"{folder} holds no frames (frames/t*.npz); run classify first")
    if "n_frames" not in report_info(folder):
        missing = sorted(set(range(max(files) + 1)) - set(files))
        if missing:
            raise ValueError(f"{folder}: frames {missing[:5]} are missing; rerun classify "
                             "to compute them")
    return {t: _read_frame(files[t], clf) for t in sorted(files)}


def report_info(folder: Path) -> dict:
    """The contents of ``report.json`` ({} if there is none or it does not read)."""
    try:
        info = json.loads((Path(folder) / REPORT).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def save_report_info(folder: Path, **info) -> None:
    """Update ``report.json`` with ``info`` (the x axis, the source's placement)."""
    atomic_write(folder / REPORT, json.dumps({**report_info(folder), **info},
                                              indent=1).encode())


def report_axis(info: dict, frames: list[int]):
    """The x axis of the criticality curve stored in ``info`` (``report.json``) for
    ``frames``: (x, label), or (None, "frame") when none is stored for them."""
    try:
        x = np.asarray(info["x"], float)
        if len(x) == len(frames):
            return x, str(info["xlabel"])
    except (KeyError, TypeError, ValueError):
        pass
    return None, "frame"


#: Keys of an image's metadata that hold one value per frame of a sweep, and their names.
SWEEP_KEYS = {"fields_H": "applied field H", "temperatures": "temperature",
              "temperature": "temperature", "fields": "applied field"}


def metadata_axis(metadata: dict | None, n_frames: int):
    """The sweep a stack's metadata carries, one value per frame (e.g. the bundled
    sample's ``fields_H``): (values, label), or (None, "frame") when it carries none."""
    for key, label in SWEEP_KEYS.items():
        try:
            x = np.asarray((metadata or {})[key], float)
        except (KeyError, TypeError, ValueError):
            continue
        if x.ndim == 1 and len(x) == n_frames and np.isfinite(x).all():
            return x, label
    return None, "frame"


def recorded_reading(folder):
    """The :class:`~napari_hamiltonian.Reading` recorded in a results folder's settings
    (binary frames when there is none)."""
    from ..imaging.reading import Reading

    try:
        return Reading.from_settings(json.loads((Path(folder) / SETTINGS).read_text()))
    except (OSError, ValueError, AttributeError, TypeError):
        return Reading()


def recorded_model(folder) -> dict:
    """The model record of a results folder's settings (``file``: a shipped model's
    description or the file's name, ``psf_sigma``, ``input``), {} when there is none."""
    try:
        model = json.loads((Path(folder) / SETTINGS).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return {}
    return model if isinstance(model, dict) else {}


def model_advice(model: dict) -> str:
    """The option that gives ``report`` the model a folder was classified with."""
    name = str(model.get("file") or "")
    if name.startswith("shipped"):
        sigma = model.get("psf_sigma") or 0
        return (f"it was the {name}: pass --psf-sigma {sigma:g}" if sigma else
                f"it was the {name}: give neither --model nor --psf-sigma")
    return (f"pass that model with --model (its file was {name})" if name else
            "pass that model with --model")


def check_model_of(folder, model_hash: str) -> None:
    """ValueError unless the results in ``folder`` were made by the model ``model_hash``,
    naming the option that gives the right one."""
    try:
        made_by = json.loads((Path(folder) / SETTINGS).read_text()).get("model_sha256")
    except (OSError, ValueError, AttributeError):
        return  # not a classify folder (e.g. saved from the widget): nothing to compare
    if made_by not in (None, model_hash):
        raise ValueError(f"{folder} was classified with another model (SHA-256 "
                         f"{made_by[:12]}...); {model_advice(recorded_model(folder))}")