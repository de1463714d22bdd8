"""The model-file format: one safetensors file, weights as tensors, metadata as JSON.

A file holds the network's weights (``model.<name>``) and the last-layer points of the
training split by class (``cluster.<index>``) as tensors; classes, architecture,
parameters and the training record are JSON in the safetensors header under
``napari_hamiltonian``. Reading never unpickles anything: the header is checked by hand
before safetensors reads the tensors.

Integrity (format 3): ``content_sha256`` in the header is the SHA-256 of everything that
decides an answer: the class names, the architecture, the estimator's parameters (the
symmetry reduction, the input kind, the PSF, k, ...), the class groups and every tensor
(name, dtype, shape, bytes). Loading recomputes it, so flipped bytes in the weights,
reordered class names, a swapped tensor or an edited parameter are refused instead of
giving silently wrong predictions; a version number edited down does not skip it (a
format-2 hash, over names, architecture and tensors only, does not match a format-3
file). The metadata is also checked against the tensors (one class name per output, one
cluster per class). Format-1 files have no hash: they are refused unless loaded with
``verify=False`` by a user who trusts them (and then re-saved).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from ..output.files import atomic_write

#: Model-file format written by this version; files with a larger number are refused.
MODEL_FORMAT_VERSION = 3
_FORMAT_NAME = "napari-hamiltonian-model"


def package_version() -> str:
    """The installed napari-hamiltonian version."""
    from .. import __version__
    return __version__


def content_sha256(classes: list, architecture: dict, tensors: dict,
                   params: dict | None = None, class_groups: list | None = None) -> str:
    """SHA-256 of what a model computes: class names, architecture, every tensor and (from
    format 3) the parameters and class groups."""
    head = {"classes": classes, "architecture": architecture}
    if params is not None:
        head.update(params=params, class_groups=class_groups or [])
    h = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name])
        h.update(f"{name}|{t.dtype.str}|{t.shape}|".encode())
        h.update(t.tobytes())
    return h.hexdigest()


def save_model(clf, path, overwrite: bool = True) -> Path:
    """Write a fitted :class:`~napari_hamiltonian.HamiltonianClassifier` to ``path``
    atomically; FileExistsError if it exists and not ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    from safetensors.numpy import save as st_save

    # safetensors writes raw buffers: channels-last weights must be made C-contiguous
    half = getattr(clf, "storage", "float32") == "float16"
    tensors = {f"model.{k}": np.ascontiguousarray(
        v.detach().cpu().numpy().astype(np.float16 if half else np.float32))
        for k, v in clf.model_.state_dict().items()}
    check_finite(tensors, "the model to save")
    for c, pts in enumerate(clf.clusters_.points):
        tensors[f"cluster.{c}"] = np.ascontiguousarray(pts)
    if getattr(clf, "rejection_", None) is not None:
        tensors.update({k: np.ascontiguousarray(v) for k, v in clf.rejection_.tensors().items()})
    params = {k: v for k, v in clf.get_params().items()
              if isinstance(v, (str, int, float, bool, type(None)))}
    classes = clf.classes_.tolist()
    architecture = {"window": clf.window_, "hidden_units": clf.hidden_units,
                    "n_classes": len(clf.classes_)}
    groups = [list(g) for g in getattr(clf, "class_groups_", [])]
    meta = {
        "format": _FORMAT_NAME, "format_version": MODEL_FORMAT_VERSION,
        "package_version": package_version(),
        "classes": classes,
        "architecture": architecture,
        "content_sha256": content_sha256(classes, architecture, tensors, params, groups),
        "params": params,
        "validation_scores": clf.validation_scores_,
        "loss_curve": clf.loss_curve_,
        "training_scores": getattr(clf, "training_scores_", []),
        "n_iter": clf.n_iter_,
        "validation_confusion": clf.validation_confusion_.tolist(),
        "class_groups": groups,
        "training": clf.training_info_,
    }
    blob = st_save(tensors, metadata={"napari_hamiltonian": json.dumps(meta)})
    atomic_write(path, blob)
    return path


def check_finite(tensors: dict, what: str) -> None:
    """ValueError naming ``what`` if a weight of the network is NaN or infinite (a
    training run that diverged: such a network answers one class for everything)."""
    bad = [k for k, v in tensors.items() if k.startswith("model.") and not np.isfinite(v).all()]
    if bad:
        raise ValueError(f"{what}: the network's weights are not finite ({bad[0]}): its "
                         "training diverged. Train again with a smaller learning rate "
                         "(the default is 0.001)")


def load_model(cls, path, device: str = "auto", verify: bool = True):
    """Read a file written by :func:`save_model` into a fitted instance of ``cls``.

    ``verify=False`` loads a format-1 file (which has no content hash) that the user
    trusts; files with a hash are always checked against it.

    Raises
    ------
    ValueError
        If the file is not a napari-hamiltonian safetensors model (a pickle or torch
        file, say), is damaged or edited, or comes from an incompatible version.
    """
    from . import cnn
    from .confidence import TrainingClusters
    from .device import resolve_device
    from .rejection import Rejection

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file; give a .safetensors file written by "
                         "`napari-hamiltonian train` or HamiltonianClassifier.save")
    blob = path.read_bytes()
    meta, tensors = parse_model_file(blob, path)
    if meta.get("kind") == "regressor":
        raise ValueError(f"{path} is a parameter regressor, not a classifier: load it "
                         "with HamiltonianRegressor.load or nh.load_pretrained_regressor")
    check_model_metadata(meta, tensors, path, verify)
    check_finite(tensors, str(path))
    arch = meta["architecture"]
    clf = cls(**meta["params"])
    clf.device = device
    dev = resolve_device(device)
    model = cnn.HamiltonianCNN(arch["window"], arch["hidden_units"], arch["n_classes"])
    # float16 weights (``storage="float16"``) are widened to the network's float32
    state = {k[len("model."):]: torch.from_numpy(v.astype(np.float32))
             for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not match the architecture {arch}") from err
    model = model.to(dev, memory_format=torch.channels_last).eval()
    clf.model_ = model
    clf.classes_ = np.array(meta["classes"])
    if clf.classes_.dtype.kind not in "iUb":
        raise ValueError(f"{path}: class names must all be strings, all integers or all "
                         "booleans")
    clf.window_ = arch["window"]
    clf.n_features_in_ = arch["window"] ** 2
    clf.clusters_ = TrainingClusters([tensors[f"cluster.{c}"]
                                      for c in range(arch["n_classes"])])
    clf.rejection_ = Rejection.from_tensors(tensors, path)
    clf.validation_scores_ = meta["validation_scores"]
    clf.loss_curve_ = meta["loss_curve"]
    clf.training_scores_ = meta.get("training_scores", [])
    clf.n_iter_ = meta["n_iter"]
    clf.validation_confusion_ = np.array(meta["validation_confusion"], np.int64)
    clf.class_groups_ = [tuple(str(c) for c in g) for g in meta.get("class_groups", [])]
    clf.training_info_ = meta["training"]
    return clf


def parse_model_file(blob: bytes, path: Path) -> tuple[dict, dict]:
    """Check the safetensors header by hand, then read tensors with safetensors."""
    not_model = (f"{path} is not a napari-hamiltonian model file (safetensors with a "
                 "napari-hamiltonian header). Model files are never unpickled, so "
                 "pickle/torch .pt files are refused; retrain or re-save the model with "
                 "HamiltonianClassifier.save")
    if len(blob) < 10:
        raise ValueError(not_model)
    n = int.from_bytes(blob[:8], "little")
    if n > len(blob) - 8 or blob[8:9] != b"{":
        raise ValueError(not_model)
    try:
        header = json.loads(blob[8:8 + n])
        meta = json.loads(header["__metadata__"]["napari_hamiltonian"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(not_model) from err
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT_NAME:
        raise ValueError(not_model)
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} declares model format {version!r}, which no version of "
                         "napari-hamiltonian writes: its header was edited or damaged; "
                         "use the file as it was saved, or retrain the model")
    if version > MODEL_FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by napari-hamiltonian {meta.get('package_version')} in "
            f"model format {version}; this installation ({package_version()}) reads format "
            f"{MODEL_FORMAT_VERSION}. Upgrade napari-hamiltonian (pip install -U "
            "napari-hamiltonian) or retrain the model with this version")
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as err:
        raise ValueError(f"{path} is damaged: {err}") from err
    return meta, tensors


def file_sha256(path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_shipped_file(path, expected: str, what: str):
    """``path``, a file shipped in the package, after checking it is there and its
    SHA-256 is ``expected``; ``what`` names it in the error ("model", "regressor")."""
    if not path.is_file():
        raise FileNotFoundError(f"the shipped {what} {path} is missing; reinstall "
                                "napari-hamiltonian")
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"the shipped {what} {path} is damaged (SHA-256 {digest}, "
                         f"expected {expected}); reinstall napari-hamiltonian")
    return path


_REQUIRED = {"classes": list, "architecture": dict, "params": dict,
             "validation_scores": list, "loss_curve": list, "n_iter": int,
             "validation_confusion": list, "training": dict}


def check_model_metadata(meta: dict, tensors: dict, path, verify: bool = True) -> None:
    """Check a model file's header against its tensors (see the module docstring).

    Raises
    ------
    ValueError
        Naming the file and what is wrong: a missing or mistyped key, class names that
        are repeated or do not match the network's outputs, missing cluster tensors, or
        a content hash that does not match (edited or damaged file).
    """
    edited = "the file was edited or damaged; retrain or re-save the model"
    for key, kind in _REQUIRED.items():
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"{path}: the header lacks {key!r} (or it is not a "
                             f"{kind.__name__}); {edited}")
    arch, classes = meta["architecture"], meta["classes"]
    for key in ("window", "hidden_units", "n_classes"):
        if isinstance(arch.get(key), bool) or not isinstance(arch.get(key), int):
            raise ValueError(f"{path}: architecture lacks the integer {key!r}; {edited}")
    if len(set(map(str, classes))) != len(classes):
        raise ValueError(f"{path}: class names repeat ({classes}); {edited}")
    outputs = tensors.get("model.fc2.weight")
    n_out = None if outputs is None else outputs.shape[0]
    if not len(classes) == arch["n_classes"] == n_out:
        raise ValueError(f"{path}: {len(classes)} class names, architecture n_classes "
                         f"{arch['n_classes']}, network outputs {n_out}: they must agree; "
                         f"{edited}")
    missing = [f"cluster.{c}" for c in range(len(classes)) if f"cluster.{c}" not in tensors]
    if missing:
        raise ValueError(f"{path}: tensors {missing} are missing; {edited}")
    version = meta["format_version"]
    if version >= 2:
        extra = (meta["params"], meta.get("class_groups", [])) if version >= 3 else ()
        if meta.get("content_sha256") != content_sha256(classes, arch, tensors, *extra):
            raise ValueError(f"{path}: its content does not match the hash written when it "
                             f"was saved; {edited}")
    elif verify:
        raise ValueError(f"{path} is in model format 1, which has no content hash: an edit "
                         "of its weights or parameters cannot be detected, so it is not "
                         "loaded. If you trust the file, load it with "
                         "HamiltonianClassifier.load(path, verify=False) and save it again "
                         "to give it a hash")
    else:
        warnings.warn(f"{path} is in model format 1 (no content hash), loaded unverified "
                      "as asked; save it again to protect it", UserWarning, stacklevel=3)
