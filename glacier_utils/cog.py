"""Cloud-Optimized GeoTIFF output of (y, x) rasters such as predictions, written chunk by chunk and atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import rasterio
import rasterio.shutil
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.windows import Window

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.errors import DataError


def write_cog(
    array: xr.DataArray,
    path: str | os.PathLike,
    *,
    compress: str = "DEFLATE",
    blocksize: int = 512,
    resampling: str | None = None,
) -> Path:
    """Write a (y, x) DataArray with CRS as a Cloud-Optimised GeoTIFF, atomically, chunk by chunk.

    ``rio.to_raster(driver="COG")`` would hold the whole raster in memory (the COG driver can only
    copy a finished dataset), so dask-backed arrays are written block by block into a tiled
    GeoTIFF next to the target, which GDAL then copies into a COG; the COG replaces ``path`` only
    when complete. Overviews use nearest resampling for integer masks and averaging otherwise.
    """
    return write_cogs({path: array}, compress=compress, blocksize=blocksize, resampling=resampling)[0]


def write_cogs(
    arrays: Mapping[str | os.PathLike, xr.DataArray],
    *,
    compress: str = "DEFLATE",
    blocksize: int = 512,
    resampling: str | None = None,
) -> list[Path]:
    """Write several same-grid (y, x) arrays as COGs, computing each dask block of all of them once."""
    targets = [(Path(p), a) for p, a in arrays.items()]
    for path, array in targets:
        _check_cog_target(array, path)
    stagings = [path.with_name(f"{path.stem}.staging{path.suffix}") for path, _ in targets]
    try:
        with contextlib.ExitStack() as stack:
            # Entered first, left last: a COG replaces its target only after every file is complete.
            outputs = [stack.enter_context(atomic_path(path)) for path, _ in targets]
            staged = [stack.enter_context(atomic_path(staging)) for staging in stagings]
            sinks = [rasterio.open(staging, "w", **_gtiff_profile(array, blocksize))
                     for staging, (_, array) in zip(staged, targets)]
            try:
                for window, blocks in _blocks([a for _, a in targets]):
                    for sink, values in zip(sinks, blocks):
                        sink.write(values.astype(sink.dtypes[0], copy=False), 1, window=window)
            finally:
                for sink in sinks:
                    sink.close()
            for staging, output, (_, array) in zip(staged, outputs, targets):
                method = resampling or ("NEAREST" if np.dtype(array.dtype).kind in "iub" else "AVERAGE")
                rasterio.shutil.copy(staging, output, driver="COG", COMPRESS=compress, BLOCKSIZE=blocksize,
                                     RESAMPLING=method, BIGTIFF="IF_SAFER")
    finally:
        for staging in stagings:  # the tiled GeoTIFF the COG was copied from
            staging.unlink(missing_ok=True)
    return [p for p, _ in targets]


def _check_cog_target(array: xr.DataArray, path: Path) -> None:
    if array.ndim != 2:
        raise ValueError(f"write_cog {path.name}: expected a (y, x) array, got dims {array.dims}")
    if array.rio.crs is None:
        raise DataError(f"write_cog {path.name}: the array has no CRS; write one with .rio.write_crs()")
    if not path.parent.is_dir():
        raise DataError(f"write_cog {path.name}: folder {path.parent} does not exist")


def _gtiff_profile(array: xr.DataArray, blocksize: int) -> dict:
    nodata = config.nodata_of(array)
    return dict(driver="GTiff", width=array.sizes["x"], height=array.sizes["y"], count=1,
                dtype=np.dtype(array.dtype), crs=array.rio.crs, transform=array.rio.transform(),
                nodata=nodata, tiled=True, blockxsize=blocksize, blockysize=blocksize,
                BIGTIFF="IF_SAFER")


def _blocks(arrays: Sequence[xr.DataArray]):
    """(rasterio window, [numpy block per array]) per dask block, computed a few blocks at a time."""
    first = arrays[0]
    if not any(isinstance(a.data, da.Array) for a in arrays):
        yield Window(0, 0, first.sizes["x"], first.sizes["y"]), [np.asarray(a.data) for a in arrays]
        return
    datas = [da.asarray(a.data).rechunk(da.asarray(first.data).chunks) for a in arrays]
    chunks = datas[0].chunks
    y_off = np.cumsum((0,) + chunks[0][:-1])
    x_off = np.cumsum((0,) + chunks[1][:-1])
    keys = [(i, j) for i in range(len(y_off)) for j in range(len(x_off))]
    group = max(1, os.cpu_count() or 1)
    for start in range(0, len(keys), group):
        batch = keys[start:start + group]
        values = dask.compute(*[[d.blocks[i, j] for d in datas] for i, j in batch])
        for (i, j), blocks in zip(batch, values):
            h, w = blocks[0].shape
            yield Window(int(x_off[j]), int(y_off[i]), w, h), blocks


def write_prediction(prediction: xr.Dataset, folder: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Write a prediction's ``probability`` and ``mask`` as ``<stem>_probability.tif`` / ``<stem>_mask.tif`` COGs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ("probability", "mask")
    paths = write_cogs({folder / f"{stem}_{n}.tif": prediction[n] for n in names})
    return dict(zip(names, paths))


__all__: Sequence[str] = ("write_cog", "write_cogs", "write_prediction")
