"""Small Collection 2 style Landsat Level-1 scenes written by the tests themselves (GeoTIFFs + MTL text)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

TM_FILE_BANDS = (1, 2, 3, 4, 5, 6, 7)
OLI_FILE_BANDS = (1, 2, 3, 4, 5, 6, 7, 9, 10, 11)
ORIGIN = (500000.0, 4000020.0)  # UL corner, UTM 46N metres

# Collection 2 TM-style coefficients used in the MTL below (values typical of Landsat 5 TM).
REFLECTANCE_MULT = 1.2e-3
REFLECTANCE_ADD = -0.005
RADIANCE_MULT_B6 = 0.055
RADIANCE_ADD_B6 = 1.18243
K1_B6, K2_B6 = 607.76, 1260.56
SUN_ELEVATION = 55.5
SUN_AZIMUTH = 130.25


def band_values(file_band: int, shape: tuple[int, int], dtype: str = "uint8") -> np.ndarray:
    """Deterministic DN of one file band: 10 * band + a ramp, never 0 (0 is the fill value)."""
    rows, cols = np.indices(shape)
    values = 10 * file_band + (rows + cols) % 50 + 1
    return values.astype(dtype)


def write_band(path: Path, data: np.ndarray, crs: str = "EPSG:32646", nodata: float | None = None, pixel: float = 30.0) -> None:
    """Write a single-band (or multi-band when data is 3-D) GeoTIFF."""
    data = data if data.ndim == 3 else data[None]
    profile = dict(
        driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype=data.dtype.name,
        crs=crs, transform=from_origin(ORIGIN[0], ORIGIN[1], pixel, pixel),
    )
    if nodata is not None:
        profile["nodata"] = nodata
    # Write under a temporary name, then move: GDAL, when it overwrites a Landsat-named band file,
    # deletes the files it associates with it, the scene's *_MTL.txt included.
    tmp = path.with_name(path.name + ".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
    os.replace(tmp, path)


def mtl_text(product_id: str, sensor: str, date: str, path: int, row: int, file_bands, cloud: float = 3.0) -> str:
    """A Collection 2 MTL with the standard USGS key names (only the groups the reader uses)."""
    spacecraft = "LANDSAT_8" if sensor == "OLI_TIRS" else "LANDSAT_5"
    lines = ["GROUP = LANDSAT_METADATA_FILE", "  GROUP = PRODUCT_CONTENTS",
             f'    LANDSAT_PRODUCT_ID = "{product_id}"', '    COLLECTION_NUMBER = 02']
    lines += [f'    FILE_NAME_BAND_{n} = "{product_id}_B{n}.TIF"' for n in file_bands]
    lines += ["  END_GROUP = PRODUCT_CONTENTS", "  GROUP = IMAGE_ATTRIBUTES",
              f'    SPACECRAFT_ID = "{spacecraft}"', f'    SENSOR_ID = "{sensor}"',
              f"    WRS_PATH = {path}", f"    WRS_ROW = {row:03d}", f"    DATE_ACQUIRED = {date}",
              "    SCENE_CENTER_TIME = \"04:10:11.1230000Z\"", f"    CLOUD_COVER = {cloud:.2f}",
              f"    SUN_AZIMUTH = {SUN_AZIMUTH}", f"    SUN_ELEVATION = {SUN_ELEVATION}",
              "    EARTH_SUN_DISTANCE = 1.0123456", "  END_GROUP = IMAGE_ATTRIBUTES",
              "  GROUP = LEVEL1_RADIOMETRIC_RESCALING"]
    thermal = (10, 11) if sensor == "OLI_TIRS" else (6,)
    for n in file_bands:
        if n in thermal:
            lines += [f"    RADIANCE_MULT_BAND_{n} = {RADIANCE_MULT_B6:.4E}", f"    RADIANCE_ADD_BAND_{n} = {RADIANCE_ADD_B6:.5f}"]
        else:
            lines += [f"    REFLECTANCE_MULT_BAND_{n} = {REFLECTANCE_MULT:.4E}", f"    REFLECTANCE_ADD_BAND_{n} = {REFLECTANCE_ADD:.6f}"]
    lines += ["  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING", "  GROUP = LEVEL1_THERMAL_CONSTANTS"]
    for n in thermal:
        lines += [f"    K1_CONSTANT_BAND_{n} = {K1_B6:.4f}", f"    K2_CONSTANT_BAND_{n} = {K2_B6:.4f}"]
    lines += ["  END_GROUP = LEVEL1_THERMAL_CONSTANTS", "END_GROUP = LANDSAT_METADATA_FILE", "END", ""]
    return "\n".join(lines)


def write_scene(
    folder: Path, sensor: str = "TM", date: str = "2007-09-19", path: int = 137, row: int = 37,
    shape: tuple[int, int] = (40, 50), cloud: float = 3.0, with_mtl: bool = True,
) -> Path:
    """Write a Collection 2 style scene folder (``LT05_…_B<n>.TIF`` or ``LC08_…``) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = date.replace("-", "")
    if sensor == "TM":
        product_id = f"LT05_L1TP_{path:03d}{row:03d}_{stamp}_20200830_02_T1"
        file_bands, dtype, mtl_sensor = TM_FILE_BANDS, "uint8", "TM"
    else:
        product_id = f"LC08_L1TP_{path:03d}{row:03d}_{stamp}_20200830_02_T1"
        file_bands, dtype, mtl_sensor = OLI_FILE_BANDS, "uint16", "OLI_TIRS"
    for n in file_bands:
        write_band(folder / f"{product_id}_B{n}.TIF", band_values(n, shape, dtype))
    if with_mtl:
        (folder / f"{product_id}_MTL.txt").write_text(mtl_text(product_id, mtl_sensor, date, path, row, file_bands, cloud))
    return folder
