"""The files users have, read as lazy (T, Y, X) stacks: TIFF (single or multi-page,
ImageJ and OME), 8/16-bit PNG and JPEG, ``.npy`` (memory-mapped) and zarr; and the
pixel size the file records (:func:`pixel_size_nm`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy", ".zarr")
#: Nanometres per unit of the length units of napari layers, OME and ImageJ files.
NM_PER = {"nm": 1.0, "nanometer": 1.0, "um": 1e3, "µm": 1e3, "\\u00B5m": 1e3,
          "micrometer": 1e3, "micron": 1e3, "mm": 1e6, "millimeter": 1e6, "cm": 1e7,
          "m": 1e9, "meter": 1e9, "angstrom": 0.1, "Å": 0.1}


def read_stack(path):
    """Open an image file as a lazy (T, Y, X) dask array (a 2D image becomes T = 1).

    TIFF (single or multi-page), PNG and JPEG (8 or 16 bit; grey saved as RGB with equal
    channels is read as grey), ``.npy`` (memory-mapped) and zarr arrays are read.
    Every error names the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if zarr_store(path) is not None:  # a store, or an array in one
        suffix = ".zarr"
    try:
        path.resolve(strict=True)
    except (OSError, RuntimeError) as err:  # missing, or a loop of symbolic links
        loop = "loop" in str(err).lower() or getattr(err, "errno", None) == 40
        raise ValueError(f"{path} is a loop of symbolic links" if loop else
                         f"{path} does not exist") from None
    if suffix not in SUFFIXES:
        what = "a folder" if path.is_dir() else "a file of another type"
        raise ValueError(f"cannot read {path}: {what}; give image files: TIFF, PNG, JPEG, "
                         f".npy or .zarr ({', '.join(SUFFIXES)})")
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


def zarr_store(path) -> Path | None:
    """The zarr store ``path`` is or lies in (its outermost ``.zarr`` folder), or None."""
    path = Path(path)
    stores = [p for p in (path, *path.parents) if p.suffix.lower() == ".zarr"]
    return stores[-1] if stores else None


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
            if len(pages) > 1:  # reading page 0 alone would drop the others unsaid
                kinds = ", ".join(sorted(f"{'x'.join(map(str, s))} {d}" for s, d in pages))
                raise ValueError(
                    f"{path} holds {len(tif.pages)} pages of different sizes or types "
                    f"({kinds}); a stack's frames must be alike: save each image as its "
                    "own file, or crop and convert them to one size and type")
            channels = dict(zip(series.axes, series.shape)).get("C", 1)
            if channels > 1:
                raise ValueError(
                    f"{path} holds {channels} channels (axes {series.axes}, shape "
                    f"{series.shape}), not frames of one sweep: save the channel with the "
                    "domain contrast as its own file (e.g. in Fiji: Image > Color > Split "
                    "Channels)")
            if len(tif.series) > 1 and len(pages) == 1 and len(shape) == 2:
                # pages written one by one (separate series): one frame each
                shape, n_pages = (len(tif.pages),) + shape, len(tif.pages)
            if len(shape) == 3 and n_pages == shape[0] and not rgb:  # page per frame: lazy
                return da.stack([da.from_delayed(_delayed_tiff(path, t), shape[1:],
                                                 series.dtype) for t in range(shape[0])]), rgb
            return da.from_array(series.asarray(), chunks=-1), rgb
    if suffix in (".png", ".jpg", ".jpeg"):
        from PIL import Image
        with Image.open(path) as im:
            if im.mode in ("RGB", "RGBA", "P", "LA", "CMYK", "YCbCr"):
                rgb = np.asarray(im.convert("RGB"))
                grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
                return da.from_array(rgb[..., 0] if grey else rgb, chunks=-1), not grey
            return da.from_array(np.asarray(im), chunks=-1), False
    if suffix == ".npy":
        return da.from_array(np.load(path, mmap_mode="r", allow_pickle=False), chunks=-1), False
    import zarr
    z = zarr.open(str(path), mode="r")
    if not hasattr(z, "shape"):
        arrays = sorted(z.array_keys())
        if not arrays:
            raise ValueError(f"{path} is a zarr group that holds no array directly; pass "
                             "the path of an array inside it (store.zarr/group/array)")
        raise ValueError(f"{path} is a zarr group holding the arrays "
                         f"{', '.join(arrays[:8])}; pass the path of one of them, e.g. "
                         f"{path / arrays[0]}")
    return da.from_zarr(z), False


def _delayed_tiff(path, key: int):
    import dask
    import tifffile

    def read(p=str(path), k=key):
        return tifffile.imread(p, key=k)

    return dask.delayed(read, pure=True)()


def pixel_size_nm(path) -> float | None:
    """The pixel size (nm, along x) a TIFF records, or None: OME ``PhysicalSizeX`` (with
    its unit, micrometres by default), else an ImageJ file's x resolution and unit."""
    import re

    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            xml = tif.ome_metadata or ""
            imagej = tif.imagej_metadata or {}
            tag = tif.pages[0].tags.get("XResolution")
            resolution = tag.value if tag is not None else None
    except Exception:  # noqa: BLE001 - any file that is not a readable TIFF: no size
        return None
    m = re.search(r'\bPhysicalSizeX="([^"]+)"', xml)
    if m:
        unit = re.search(r'\bPhysicalSizeXUnit="([^"]+)"', xml)
        factor = NM_PER.get(unit.group(1) if unit else "µm")
        try:
            size = float(m.group(1))
        except ValueError:
            size = 0.0
        return size * factor if factor and size > 0 else None
    unit = str(imagej.get("unit", "")).replace("\\u00B5", "µ")
    if imagej and unit in NM_PER and resolution and resolution[0] > 0:
        return NM_PER[unit] * resolution[1] / resolution[0]  # units per pixel
    return None
