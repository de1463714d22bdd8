"""Fingerprint of the package's outputs on a fixed set of inputs, for refactors.

Run before and after a change that must not change any answer, and compare::

    python benchmarks/snapshot.py /tmp/before.json
    python benchmarks/snapshot.py /tmp/after.json --compare /tmp/before.json

Covered: the gallery's logits and decisions (lattice model), the sliding windows of a
binary, an Otsu and a grey frame at strides 1 and 3 (lattice, 2 px binary and 2 px grey
models), a Dask stack, a CLI results folder (every file but the timestamps) and a
geometry verdict. Each output is hashed bit for bit (SHA-256 of its bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile

import napari_hamiltonian as nh

SAMPLES = Path(nh.__file__).parent / "sample_data"


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def window_digest(res) -> str:
    return digest(res.labels, res.confident, res.cannot_tell, res.logits, res.distance,
                  res.scores, res.paper_confident)


def folder_digest(folder: Path) -> dict:
    out = {}
    for f in sorted(folder.rglob("*")):
        if not f.is_file() or f.suffix in (".png", ".log"):
            continue  # figures carry library versions, logs carry times
        rel = str(f.relative_to(folder))
        if f.suffix == ".npz":
            with np.load(f) as z:
                out[rel] = digest(*(z[k] for k in sorted(z.files)))
        elif f.suffix == ".json":
            data = json.loads(f.read_text())
            for key in ("created", "time", "version", "duration_s"):
                data.pop(key, None) if isinstance(data, dict) else None
            out[rel] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()
                                      ).hexdigest()[:16]
        else:
            out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
    return out


def snapshot() -> dict:
    out = {}
    gallery = tifffile.imread(SAMPLES / "gallery.tif")
    binary = tifffile.imread(SAMPLES / "rf2d_stack.tif")
    grey = tifffile.imread(SAMPLES / "rf2d_stack_gray.tif")
    clf = nh.load_pretrained()
    out["gallery"] = digest(clf.decision_function(gallery), clf.score_confidence(gallery),
                            np.asarray(clf.predict(gallery)).astype("U8"))
    for stride in (1, 3):
        out[f"binary_s{stride}"] = window_digest(nh.classify_image(binary[3], stride=stride))
        out[f"otsu_s{stride}"] = window_digest(nh.classify_image(
            grey[3], stride=stride, threshold="otsu", psf_sigma=2))
        out[f"grey_s{stride}"] = window_digest(nh.classify_image(
            grey[3], stride=stride, psf_sigma=2, levels=(float(grey.min()),
                                                         float(grey.max()))))
    lazy = nh.classify_stack(grey[2:5], stride=4, threshold="otsu", psf_sigma=2)
    out["stack"] = digest(*(np.asarray(getattr(lazy, f).compute())
                            for f in ("labels", "confident", "logits")))
    maps = nh.binarize_stack(grey)
    out["switching"] = digest(maps)
    geo = nh.geometry.measure(binary[3], min_size=10)
    verdict = nh.geometry.verdict(geo)
    out["geometry"] = hashlib.sha256(repr((geo, verdict)).encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(Path(sys.executable).parent / "napari-hamiltonian"), "classify",
                        str(SAMPLES / "rf2d_stack_gray.tif"), "--threshold", "otsu",
                        "--psf-sigma", "2", "--stride", "6", "--out", tmp],
                       check=True, capture_output=True)
        out["folder"] = folder_digest(Path(tmp))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    snap = snapshot()
    args.out.write_text(json.dumps(snap, indent=1, sort_keys=True))
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = [k for k in sorted(set(before) | set(snap)) if before.get(k) != snap.get(k)]
        print("identical" if not differ else f"DIFFERENT: {differ}")
        sys.exit(bool(differ))


if __name__ == "__main__":
    main()
