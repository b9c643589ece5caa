"""Ordinary GeoTIFFs in: one multi-band file or one file per band, no MTL, any sensor and band set.

Many users hold imagery as plain GeoTIFFs (an export from Earth Engine, a mosaic, a Landsat 7 ETM+
scene someone cut to their region): no Level-1 file names and no MTL. The study file then says which
band of the file is which TM-equivalent band (``band_map``) and what the values are (``unit``:
``"dn"`` integers, or ``"reflectance"`` floats of about 0 to 1). The result is a scene Dataset of the
data contract (``dn`` with the TM-equivalent band numbers as its ``band`` coordinate), so tiling,
training and inference take it as they take a Level-1 scene. Landsat 7 ETM+ maps like TM; its
SLC-off gaps after 2003 are fill in the files and stay nodata here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rioxarray
import xarray as xr

from glacier_utils import config
from glacier_utils.errors import DataError

UNITS: tuple[str, ...] = ("dn", "reflectance")
#: Largest value a reflectance band may hold (bright snow and cloud reach a little above 1).
MAX_REFLECTANCE = 2.0


def check_band_map(band_map: Mapping[Any, Any], source: str) -> dict[int, int]:
    """``{file band (1-based): TM-equivalent band}`` as ints; a DataError naming ``source`` when it is malformed."""
    try:
        mapping = {int(file_band): int(tm_band) for file_band, tm_band in dict(band_map).items()}
    except (TypeError, ValueError):
        raise DataError(f"{source}: band_map must map file bands to TM-equivalent bands, e.g. "
                        f"{{1 = 1, 2 = 2, 3 = 3, 4 = 4}}, got {band_map!r}") from None
    if not mapping:
        raise DataError(f"{source}: band_map is empty; map each file band to a TM-equivalent band")
    bad = sorted(b for b in mapping.values() if b not in config.BAND_NUMBERS)
    if bad or len(set(mapping.values())) != len(mapping):
        raise DataError(f"{source}: band_map {mapping} must map to distinct TM-equivalent bands from "
                        f"{list(config.BAND_NUMBERS)}")
    if min(mapping) < 1:
        raise DataError(f"{source}: band_map file bands count from 1, got {sorted(mapping)}")
    return mapping


def _open(path, chunks) -> xr.DataArray:
    local = Path(str(path)) if "://" not in str(path) else None
    if local is not None and not local.is_file():
        raise DataError(f"band file {path} does not exist")
    try:
        return rioxarray.open_rasterio(path, chunks=dict(chunks) if chunks else None, masked=False)
    except Exception as err:  # rasterio/GDAL raise several types for unreadable files
        raise DataError(f"cannot open band file {path}: {err}") from err


def open_single_band(path, chunks=None, reference: tuple[xr.DataArray, Any] | None = None) -> xr.DataArray:
    """One band file as a lazy (y, x) layer; a DataError unless it has one band and lies on ``reference``'s grid."""
    layer = _open(path, chunks)
    if layer.sizes["band"] != 1:
        raise DataError(f"band file {path} has {layer.sizes['band']} bands; expected 1 (one file per band)")
    layer = layer.isel(band=0, drop=True)
    if reference is not None:
        check_same_grid(layer, path, *reference)
    return layer


def check_same_grid(layer: xr.DataArray, path, reference: xr.DataArray, reference_path) -> None:
    """A DataError unless ``layer`` (read from ``path``) shares the CRS, shape and transform of ``reference``."""
    if layer.rio.crs != reference.rio.crs:
        raise DataError(f"band file {path} has CRS {layer.rio.crs}, {reference_path} has {reference.rio.crs}")
    if layer.shape != reference.shape or layer.rio.transform() != reference.rio.transform():
        raise DataError(f"band file {path} (shape {layer.shape}) is not on the grid of {reference_path} "
                        f"(shape {reference.shape}): resample them to one grid first")


def _layers(paths: Sequence[Path], mapping: dict[int, int], chunks) -> dict[int, xr.DataArray]:
    """TM band -> (y, x) layer, from one multi-band file or from one single-band file per file band."""
    if len(paths) == 1:
        stack = _open(paths[0], chunks)
        absent = sorted(b for b in mapping if b > stack.sizes["band"])
        if absent:
            raise DataError(f"GeoTIFF {paths[0]} has {stack.sizes['band']} band(s); band_map names file band(s) {absent}")
        return {tm: stack.isel(band=file_band - 1, drop=True) for file_band, tm in mapping.items()}
    if sorted(mapping) != list(range(1, len(paths) + 1)):
        raise DataError(f"{len(paths)} single-band files given, but band_map names file bands {sorted(mapping)}: "
                        f"number them 1..{len(paths)} in the order of the files")
    layers = {}
    reference = None
    for file_band, path in enumerate(paths, start=1):
        layer = open_single_band(path, chunks, reference)
        reference = reference or (layer, path)
        layers[mapping[file_band]] = layer
    return layers


def _check_unit(dn: xr.DataArray, unit: str, source: str) -> None:
    """A DataError when the values contradict the declared unit (checked on a decimated sample)."""
    sample = np.asarray(dn[:, ::16, ::16].values, dtype="float64")
    nodata = config.nodata_of(dn)
    valid = np.isfinite(sample) if nodata is None else np.isfinite(sample) & (sample != nodata)
    values = sample[valid]
    if not values.size:
        return  # an all-nodata sample says nothing about the unit
    integral = np.dtype(dn.dtype).kind in "iu" or bool(np.all(values == np.round(values)))
    if unit == "dn" and not integral:
        raise DataError(f"{source}: unit = 'dn' but the values are fractional (e.g. {values[values != np.round(values)][0]:.4g}); "
                        "for top-of-atmosphere or surface reflectance set unit = 'reflectance'")
    if unit == "reflectance" and (values.max() > MAX_REFLECTANCE or values.min() < -0.5):
        raise DataError(f"{source}: unit = 'reflectance' but values reach {values.min():.4g}..{values.max():.4g}; "
                        "reflectance lies about 0..1 (for integer digital numbers set unit = 'dn'; for scaled "
                        "reflectance such as 0..10000, divide first)")


def read_geotiff_scene(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    band_map: Mapping[Any, Any],
    *,
    unit: str = "dn",
    name: str | None = None,
    date: str | None = None,
    sensor: str = "unknown",
    nodata: float | None = None,
    chunks: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """Plain GeoTIFF(s) as a contract scene: ``dn`` (TM-equivalent bands in TM order, y, x), CRS and attrs.

    ``paths``: one multi-band GeoTIFF, or one single-band file per band (file band n is the n-th
    file). ``band_map``: file band (1-based) -> TM-equivalent band. ``name`` identifies the scene in
    tiles and errors (default: the first file's stem); ``date`` (ISO) places it in a period.
    ``nodata`` overrides the files' nodata tag (default: the tag, else 0 for integers, NaN for floats).
    """
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise DataError("read_geotiff_scene: no file given")
    source = str(paths[0]) if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} band files)"
    if unit not in UNITS:
        raise DataError(f"{source}: unit = {unit!r}; choose one of {', '.join(UNITS)}")
    mapping = check_band_map(band_map, source)
    layers = _layers(paths, mapping, chunks)
    first = next(iter(layers.values()))
    if first.rio.crs is None:
        raise DataError(f"{source} has no CRS: write one (gdal_edit.py -a_srs EPSG:…) before using it")
    bands = sorted(layers)
    dtype = np.result_type(*[layers[b].dtype for b in bands])
    if nodata is None:
        nodata = config.nodata_of(first, np.nan if np.dtype(dtype).kind == "f" else config.LEVEL1_FILL_DN)
    dn = xr.concat([layers[b].drop_vars("spatial_ref", errors="ignore").astype(dtype) for b in bands], dim="band")
    dn = dn.assign_coords(band=bands, band_name=("band", [config.BAND_NAMES[config.BAND_NUMBERS.index(b)] for b in bands]))
    dn = dn.transpose("band", "y", "x")
    dn.attrs = {"nodata": nodata, "unit": unit, "file_bands": sorted(mapping)}
    dn.encoding = {}
    dn = dn.rio.write_crs(first.rio.crs).rio.write_transform(first.rio.transform()).rio.write_nodata(nodata, encoded=False)
    dn.name = "dn"
    _check_unit(dn, unit, source)
    attrs = {"source": source, "metadata_source": "none", "sensor": sensor, "unit": unit,
             "wrs2": name or paths[0].stem}
    if date is not None:
        attrs["date"] = str(date)
    return xr.Dataset({"dn": dn}, attrs=attrs)
