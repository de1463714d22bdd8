"""The files users have, read as lazy (T, Y, X) stacks: TIFF (single or multi-page),
``.npy`` (memory-mapped) and zarr."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SUFFIXES = (".tif", ".tiff", ".npy", ".zarr")


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
