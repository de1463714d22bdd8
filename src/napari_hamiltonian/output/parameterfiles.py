"""The parameter estimates of a results folder (``classify --parameters``).

``parameters.csv``
    One row per frame read and parameter: ``frame``, the sweep value (the report's x
    axis, when known), ``family``, ``parameter``, ``estimate``, ``lower``, ``upper`` (the
    frame's interval, :mod:`napari_hamiltonian.parameters.maps`), ``coverage``,
    ``n_independent`` (independent windows in the frame), ``psf_sigma_px`` (the
    resolution the regressor reads) and ``over_critical`` (T/Tc, R/Rc or p/pc of the
    first parameter; empty where the family has none).
``parameters-<FAMILY>.tif``
    float32 (T, k, ny, nx): each window's estimate of the family's k parameters, on the
    parameter windows' grid (step ``stride``, side ``window``: see the CSV's family rows
    and ``settings.json``); NaN for frames read as another family, or not read, and
    for windows outside the region.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import summary
from .folder import write_tiff

#: File names.
CSV, MAPS = "parameters.csv", "parameters-{family}.tif"


def write_parameters(folder, maps: dict, x=None, xlabel: str | None = None) -> list[Path]:
    """Write ``parameters.csv`` and one ``parameters-<FAMILY>.tif`` per family read.

    Parameters
    ----------
    folder : path-like
        The results folder.
    maps : dict of int to ParameterMap or None
        Per frame, what was read (None: no family for that frame).
    x : sequence of float, optional
        The sweep value of each frame (the report's axis).
    xlabel : str, optional
        Its name, the CSV column.

    Returns
    -------
    list of Path
        The files written (stale ``parameters-*.tif`` of another run are removed).
    """
    folder = Path(folder)
    n_frames = max(maps, default=-1) + 1
    rows = []
    for t in sorted(maps):
        if maps[t] is None:
            continue
        for row in maps[t].rows():
            head = {"frame": t}
            if x is not None:
                head[xlabel or "x"] = float(x[t])
            rows.append({**head, **row})
    written = []
    for old in folder.glob(MAPS.format(family="*")):
        old.unlink()
    if not rows:
        (folder / CSV).unlink(missing_ok=True)
        return written
    summary.write_csv(folder / CSV, rows)
    written.append(folder / CSV)
    for name in sorted({m.family for m in maps.values() if m is not None}):
        first = next(m for m in maps.values() if m is not None and m.family == name)
        data = np.full((n_frames, len(first.names)) + first.estimate.shape[:2], np.nan,
                       np.float32)
        for t, m in maps.items():
            if m is not None and m.family == name:
                data[t] = np.moveaxis(m.estimate, -1, 0)
        path = folder / MAPS.format(family=name)
        write_tiff(path, data, {
            "axes": "TCYX", "family": name, "channels": list(first.names),
            "stride_px": first.stride, "window_px": first.window,
            "placement": "pixel (i, j) is the window whose top-left image pixel is "
                         "(i * stride, j * stride)"})
        written.append(path)
    return written
