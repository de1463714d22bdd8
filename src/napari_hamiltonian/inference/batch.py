"""Batch classification of image stacks into results folders (the ``classify`` command).

The results folder it writes is described in :mod:`napari_hamiltonian.output.folder`.

Rules: every input and setting is checked before anything is written; a folder holding
files this tool did not write is not written into without ``overwrite``; results of
another input, another model or other settings are not replaced without ``overwrite``;
an input whose content changed (same path, other SHA-256) is recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..geometry import references_for
from ..imaging.files import read_stack
from ..imaging.preparation import Preparation
from ..imaging.reading import Reading
from ..imaging.region import check_mask, check_windows_inside, frame_mask, region_digest
from ..output.files import atomic_write, check_writable
from ..output.folder import (
    SETTINGS,
    frame_files,
    frame_loads,
    output_names,
    report_info,
    save_frame,
    save_report_info,
    source_record,
    write_tiff,
)
from ..output.report import write_report
from .sliding import check_memory, check_stride, n_windows


#: The recorded settings as a user gave them, for the message that refuses a rerun.
SETTING_WORDS = {"region_sha256": "region (--mask)", "register": "--register",
                 "flat_field": "--flat-field", "stride": "--stride",
                 "threshold": "--threshold", "metal": "--metal",
                 "confidence_k": "confidence k", "window": "model window",
                 "model_sha256": "model", "shape": "image shape",
                 "package_version": "package version", "levels": "--levels",
                 "smooth": "--smooth", "smooth_frames": "--smooth-frames"}


@dataclass
class Job:
    """One input checked and ready to run (see :func:`plan`)."""

    path: Path
    folder: Path
    stack: object
    settings: dict
    recompute: bool
    reading: Reading = field(default_factory=Reading)
    temperatures: np.ndarray | None = None
    mask: np.ndarray | None = None
    preparation: Preparation = field(default_factory=Preparation)
    shifts: np.ndarray | None = None
    prepared: object = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    frames: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    reused: int = 0  # frames an earlier run with the same input and settings finished
    _source: tuple | None = field(default=None, repr=False)

    def source(self) -> tuple:
        """(stack, reading, region) as the classifier reads the input: prepared
        (:class:`~napari_hamiltonian.imaging.preparation.Preparation`), then for the
        switching binarisation binarised as a whole; made once."""
        if self._source is None:
            stack, region, self.shifts = self.preparation.apply(self.stack, self.mask)
            self.prepared = stack  # before the reading binarises it (--keep-steps)
            if self.preparation.register:  # the region shrank to what every frame covers
                try:
                    check_windows_inside(region, self.settings["window"],
                                         "region every aligned frame covers")
                except ValueError as err:
                    raise ValueError(f"{self.path}: {err}") from None
            stack, reading = self.reading.prepare_stack(stack, region)
            self._source = (stack, reading, region)
        return self._source


def plan(path, folder, clf, model_hash: str, stride: int = 1, reading: Reading | None = None,
         temperatures=None, overwrite: bool = False, mask=None,
         preparation: Preparation | None = None, model_name: str | None = None) -> Job:
    """Check one input, its settings and its results folder; write nothing.

    ``reading`` (:class:`~napari_hamiltonian.Reading`): how its frames are read (default:
    binary frames). ``mask``: the region of interest, bool (Y, X) or (T, Y, X), True
    on the sample (only windows wholly inside it are classified; it is saved as
    ``region.tif``). ``preparation``: drift registration and flat field before reading
    (the aligned stack's region, every frame covers it, is then the region).
    ``model_name``: the model's file, recorded in ``settings.json`` with its resolution
    and input kind (for the reader; the model's hash decides whether results match).

    Raises ValueError (bad input or settings) or FileExistsError (the folder holds
    results this run must not replace), each naming the fix.
    """
    reading = reading or Reading()
    reading.for_model(clf)  # a threshold for a grey model is refused before any reading
    check_stride(stride)
    stack = read_stack(path)
    n = clf.window_
    if min(stack.shape[1:]) < n:
        raise ValueError(f"{path}: frames are {stack.shape[1]}x{stack.shape[2]} pixels, "
                         f"smaller than the {n}x{n} window")
    check_memory(stack.shape[1:], stride, stack.dtype.itemsize, n, f"{path}: each frame")
    if temperatures is not None and len(temperatures) != stack.shape[0]:
        raise ValueError(f"{len(temperatures)} temperatures for {stack.shape[0]} frames of "
                         f"{path}; give one per frame")
    try:
        mask = check_mask(mask, stack.shape, "stack")
        check_windows_inside(mask, n)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if reading.switching and stack.shape[0] < 2:
        raise ValueError(f"{path} has one frame; --threshold switching needs a stack of "
                         "frames in sweep order (use otsu or a grey level for one image)")
    try:  # the first frame shows most input errors (grey without threshold, NaN, ...)
        reading.check(np.asarray(stack[0].compute()), clf, frame_mask(mask, 0))
    except ValueError as err:
        raise ValueError(f"{path}, frame 0: {err}") from None
    _check_finite(path, stack, mask)
    from .. import __version__
    recorded = reading.settings()
    settings = {"model_sha256": model_hash, "stride": int(stride),
                "threshold": recorded.pop("threshold"), "metal": recorded.pop("metal"),
                "confidence_k": clf.confidence_k, "window": n,
                "shape": list(stack.shape), "package_version": __version__, **recorded}
    preparation = preparation or Preparation()
    settings.update(preparation.settings())
    if mask is not None:  # results of another region are other results
        settings["region_sha256"] = region_digest(mask)
    source = source_record(path)
    folder = Path(folder)
    model = {"file": model_name, "psf_sigma": float(clf.psf_sigma),
             "input": clf.input_kind, "window": n}
    job = Job(Path(path), folder, stack, {**settings, "source": source, "model": model},
              overwrite, reading,
              None if temperatures is None else np.asarray(temperatures, float), mask,
              preparation)
    sfile = folder / SETTINGS
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; choose another --out")
    if sfile.exists():
        try:
            old = json.loads(sfile.read_text())
        except (OSError, ValueError):
            old = {}
        old_source = old.pop("source", {}) if isinstance(old, dict) else {}
        if isinstance(old, dict):
            old.pop("model", None)  # what the reader is told; the hash decides
        if old_source.get("path") not in (None, source["path"]) and not overwrite:
            raise FileExistsError(
                f"{folder} holds the results of another input ({old_source['path']}); "
                "choose another --out, or pass --overwrite to replace them")
        results = bool(frame_files(folder / "frames"))  # a run that failed left none
        if old != settings and not overwrite and results:
            old = old if isinstance(old, dict) else {}
            diff = sorted(k for k in settings.keys() | old.keys()  # a setting dropped too
                          if old.get(k) != settings.get(k))
            words = [SETTING_WORDS.get(k, k) for k in diff]
            raise FileExistsError(
                f"{folder} holds results made with other settings (another "
                f"{', another '.join(words)}); pass --overwrite to replace them or choose "
                "another --out")
        if old_source.get("sha256") not in (None, source["sha256"]):
            job.recompute = True
            job.notes.append(f"{path} changed since its results were made: recomputing")
    elif folder.is_dir() and any(folder.iterdir()) and not overwrite:
        strange = sorted(p.name for p in folder.iterdir())[:5]
        raise FileExistsError(
            f"{folder} holds files napari-hamiltonian did not write ({', '.join(strange)}); "
            "choose another --out, or pass --overwrite to write into it")
    if reading.per_frame_otsu and stack.shape[0] > 1:
        job.notes.append(
            f"{path}: note: --threshold otsu thresholds each frame at its own Otsu level, "
            "which draws every frame of a sweep towards half metal and flattens the "
            "criticality curve; --threshold otsu-stack (one threshold for the stack), "
            "--levels or switching keep each frame's metal fraction")
    return job


def _check_finite(path, stack, mask) -> None:
    """ValueError naming the frames of a float stack that hold NaN or infinite values
    where they are read (inside the region): found before anything is written, not
    when the run reaches them."""
    if stack.dtype.kind != "f":
        return
    import dask.array as da

    bad = ~da.isfinite(stack)
    if mask is not None:
        bad = bad & da.from_array(np.broadcast_to(mask, stack.shape), chunks=stack.chunks)
    frames = np.flatnonzero(bad.any(axis=(1, 2)).compute())
    if len(frames):
        shown = ", ".join(map(str, frames[:10])) + (" ..." if len(frames) > 10 else "")
        raise ValueError(f"{path}: frame(s) {shown} contain NaN or infinite values"
                         + (" inside the region" if mask is not None else "")
                         + "; replace them (e.g. np.nan_to_num) or give a --mask that "
                         "leaves them out")


def run(job: Job, clf, client=None, progress: bool = True,
        xlabel: str = "temperature", min_size: int | None = None,
        keep_steps: bool = False, parameters=None, parameter_stride: int = 25) -> Path:
    """Classify the frames of a planned job that are not done yet, measure their cluster
    geometry (clusters of at least ``min_size`` pixels; default that of the geometry
    references for the model's resolution), then write the report.

    A frame file that does not load (damaged, cut short) is computed again. With
    ``keep_steps``, each step's frames are kept to check: ``prepared.tif`` (aligned and
    flat-fielded, float32, NaN where a frame does not reach; with a preparation) and
    ``binary.tif`` (uint8, 1 = metal: the binarisation the geometry reads, and a binary
    model).

    With ``parameters`` (a family's name, ``"auto"`` or a regressor: see
    :func:`~napari_hamiltonian.parameters.pretrained.regressor_for`), each frame's
    parameters are read in windows of step ``parameter_stride`` of its binary image and
    written (:mod:`napari_hamiltonian.output.parameterfiles`); ``job.parameters`` holds
    them.
    """
    from tqdm.auto import tqdm

    from .stacks import classify_stack

    folder, frames_dir = job.folder, job.folder / "frames"
    check_writable(folder)
    n_frames = job.stack.shape[0]
    stride, window = job.settings["stride"], job.settings["window"]
    grid = n_windows(job.stack.shape[1:], window, stride)
    done = set() if job.recompute else {
        t for t, f in frame_files(frames_dir).items()
        if t < n_frames and frame_loads(f, grid, stride, window)}
    todo = [t for t in range(n_frames) if t not in done]
    job.reused = n_frames - len(todo)
    if todo:  # the preparation's own checks (a region no aligned window fits), before
        job.source()  # anything is written or an earlier run's frames are removed
    if job.recompute:
        for f in frame_files(frames_dir).values():
            f.unlink()
    atomic_write(folder / SETTINGS, json.dumps(job.settings, indent=1).encode())
    if job.temperatures is not None:
        save_report_info(folder, xlabel=xlabel, x=[float(v) for v in job.temperatures])
    elif job.recompute and "x" in report_info(folder):  # a new run: no axis of the old one
        save_report_info(folder, x=None, xlabel=None)
    if todo:
        stack, reading, region = job.source()
        _record_preparation(job, region)
        res = classify_stack(stack, clf, stride, client=client,
                             reading=reading, mask=region)
        bar = tqdm(total=n_frames, initial=n_frames - len(todo), unit="frame",
                   desc=job.path.name, disable=not progress)
        for t in todo:
            save_frame(frames_dir / f"t{t:05d}.npz", res.frame(t))
            bar.update(1)
        bar.close()
    if min_size is None:
        min_size = references_for(clf).min_size
    _measure_geometry(job, min_size)
    if keep_steps and (todo or job.recompute or not (folder / "binary.tif").exists()):
        _write_steps(job)
    job.frames = write_report(folder, clf)
    if parameters is not None:
        _read_parameters(job, clf, parameters, parameter_stride, xlabel)
    return folder


def _read_parameters(job: Job, clf, parameters, stride: int, xlabel: str) -> None:
    """Each frame's parameters (:func:`~napari_hamiltonian.parameters.maps.read_parameters`
    of its binary image), written beside the report."""
    from ..output.parameterfiles import write_parameters
    from ..parameters.maps import read_parameters
    from ..parameters.pretrained import regressor_for

    stack, reading, region = job.source()
    maps = {}
    for t, result in job.frames.items():
        chosen = regressor_for(parameters, clf.psf_sigma, result.answer())
        if chosen is None:
            maps[t] = None
            continue
        mask = frame_mask(region, t)
        binary = reading.binary(np.asarray(stack[t]), mask)
        maps[t] = read_parameters(binary, chosen[0], chosen[1], stride, mask)
    x = report_info(job.folder).get("x")
    write_parameters(job.folder, maps, x, report_info(job.folder).get("xlabel") or xlabel)
    job.parameters = maps


def _write_steps(job: Job) -> None:
    """``prepared.tif`` (with a preparation; NaN outside the region read, where a flat
    field's extrapolated light means nothing) and ``binary.tif`` of a job (:func:`run`)."""
    stack, reading, region = job.source()
    if job.preparation.register or job.preparation.flat_field:
        prepared = np.array(job.prepared, np.float32)
        if region is not None:  # one region for every frame, or one per frame
            prepared[~np.broadcast_to(region, prepared.shape)] = np.nan
        write_tiff(job.folder / "prepared.tif", prepared)
    binary = np.stack([reading.binary(np.asarray(stack[t]), frame_mask(region, t))
                       for t in range(job.stack.shape[0])])
    write_tiff(job.folder / "binary.tif", binary.astype(np.uint8))


def _record_preparation(job: Job, region) -> None:
    """``region.tif`` (the region read) and ``shifts.csv`` (the drift) of a job."""
    if region is not None:
        write_tiff(job.folder / "region.tif", region.astype(np.uint8))
    if job.shifts is not None:
        rows = "".join(f"{t},{dy:.4f},{dx:.4f}\n" for t, (dy, dx) in enumerate(job.shifts))
        atomic_write(job.folder / "shifts.csv", ("frame,dy_px,dx_px\n" + rows).encode())


def _measure_geometry(job: Job, min_size: int) -> None:
    """The cluster geometry of each frame's binary image (``geometry/t00000.json``), for
    frames without it or measured with another ``min_size``."""
    from ..geometry import measure

    for t in range(job.stack.shape[0]):
        path = job.folder / "geometry" / f"t{t:05d}.json"
        try:
            if json.loads(path.read_text())["min_size"] == min_size and not job.recompute:
                continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        stack, reading, region = job.source()
        mask = frame_mask(region, t)
        binary = reading.binary(np.asarray(stack[t]), mask)
        atomic_write(path, json.dumps(measure(binary, min_size, mask=mask).as_dict()
                                      ).encode())


def classify_file(path, out_dir, clf, model_hash: str, stride: int = 1,
                  reading: Reading | None = None, client=None, temperatures=None,
                  overwrite: bool = False, progress: bool = True,
                  xlabel: str = "temperature", min_size: int | None = None,
                  mask=None, preparation: Preparation | None = None) -> Job:
    """Classify every frame of one file into ``out_dir/<name>/`` (see
    :mod:`napari_hamiltonian.output.folder`). Returns the finished :class:`Job` (its
    ``folder`` and its ``frames``' results)."""
    folder = Path(out_dir) / output_names([path])[Path(path)]
    job = plan(path, folder, clf, model_hash, stride, reading, temperatures, overwrite, mask,
               preparation)
    run(job, clf, client, progress, xlabel, min_size)
    return job
