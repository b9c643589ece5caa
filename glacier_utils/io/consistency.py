"""Is a Landsat Level-1 scene possible: physical metadata, and an MTL that describes the band files beside it?

``glacier_utils.io.landsat`` reads a scene and calls these checks before anything is computed, so a
scene whose MTL belongs to another product (an ETM+ MTL beside ``LT5…`` files, OLI uint16 files beside
a TM MTL), or whose sun stands below the horizon, raises a ``DataError`` naming the file instead of
giving a wrong sensor's constants, DN out of the sensor's range or infinite reflectance.
Gains and offsets are checked where they are used (``glacier_utils.io.radiometry``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors

from glacier_utils.errors import DataError

__all__ = ["SENSOR_SPACECRAFT", "SENSOR_DTYPE", "SUN_ELEVATION_RANGE", "EARTH_SUN_DISTANCE_RANGE",
           "product_id_mission", "check_metadata", "check_band_files"]

#: Which spacecraft carried each sensor.
SENSOR_SPACECRAFT: dict[str, tuple[str, ...]] = {
    "TM": ("LANDSAT_4", "LANDSAT_5"), "ETM": ("LANDSAT_7",), "OLI": ("LANDSAT_8", "LANDSAT_9"),
}
#: The Level-1 DN type of each sensor: 8-bit TM and ETM+, 16-bit (12/14-bit quantised) OLI/TIRS.
SENSOR_DTYPE: dict[str, np.dtype] = {"TM": np.dtype("uint8"), "ETM": np.dtype("uint8"), "OLI": np.dtype("uint16")}
#: Sun elevation (degrees) of a daytime scene: above the horizon (0 gives infinite, below it
#: negative reflectance) and at most the zenith.
SUN_ELEVATION_RANGE = (0.0, 90.0)
#: Earth-Sun distance (AU): 0.983 at perihelion, 1.017 at aphelion, with a margin.
EARTH_SUN_DISTANCE_RANGE = (0.98, 1.02)

_PRODUCT_ID_RE = re.compile(r"^L([CEOTM])0?([4-9])")
_KINDS = (("T", "45", "TM"), ("E", "7", "ETM"), ("CO", "89", "OLI"))


def product_id_mission(name: str) -> tuple[str, str] | None:
    """(sensor, spacecraft) of a Landsat product/scene id or file name (``LT05_…``, ``LC08_…``, ``LT5…``), or None."""
    match = _PRODUCT_ID_RE.match(Path(str(name)).name.upper())
    if not match:
        return None
    kind, mission = match.groups()
    for kinds, missions, sensor in _KINDS:
        if kind in kinds and mission in missions:
            return sensor, f"LANDSAT_{mission}"
    return None


def check_metadata(meta: Mapping[str, Any], source: str) -> None:
    """DataError unless sun elevation, Earth-Sun distance, sensor, spacecraft and product id of an MTL agree with physics and each other."""
    elevation = float(meta["sun_elevation"])
    low, high = SUN_ELEVATION_RANGE
    if not low < elevation <= high:
        raise DataError(f"MTL {source}: SUN_ELEVATION = {elevation} degrees is impossible for a daytime scene "
                        f"(must lie in ({low:g}, {high:g}]; at or below 0 the sun is down and reflectance is infinite "
                        "or negative): the MTL is corrupt or the scene is a night acquisition, which cannot be mapped")
    distance = meta.get("earth_sun_distance")
    low, high = EARTH_SUN_DISTANCE_RANGE
    if distance is not None and not low <= float(distance) <= high:
        raise DataError(f"MTL {source}: EARTH_SUN_DISTANCE = {distance} AU is outside the Earth's orbit "
                        f"({low}-{high} AU); the MTL is corrupt")
    sensor, spacecraft = meta["sensor"], meta["spacecraft"]
    if spacecraft not in SENSOR_SPACECRAFT[sensor]:
        raise DataError(f"MTL {source}: SENSOR_ID {sensor} was never carried by SPACECRAFT_ID {spacecraft} "
                        f"({sensor} flew on {', '.join(SENSOR_SPACECRAFT[sensor])}); the MTL is corrupt")
    product = meta.get("product_id") or ""
    implied = product_id_mission(product)
    if implied is not None and implied != (sensor, spacecraft):
        raise DataError(f"MTL {source}: its product id {product} names {implied[0]} on {implied[1]}, but SENSOR_ID / "
                        f"SPACECRAFT_ID say {sensor} on {spacecraft}; the MTL is corrupt or edited")


def _file_dtype(path: Path) -> np.dtype | None:
    """The DN type in a band file's header; None where GDAL cannot open it (the reader reports that)."""
    try:
        with rasterio.open(path) as src:
            return np.dtype(src.dtypes[0])
    except rasterio.errors.RasterioIOError:
        return None


def check_band_files(sensor: str, spacecraft: str | None, files: Mapping[int, Path], source: str) -> None:
    """DataError unless the band files' product ids and DN type fit the scene's sensor (and spacecraft, where known).

    ``source``: the MTL (or folder) that says which sensor the scene is. Float DN pass: they are
    no Level-1 product, and their NaN is handled as no data (``config.nodata_pixels``).
    """
    for path in files.values():
        implied = product_id_mission(Path(path).name)
        if implied is None:
            continue
        if implied[0] != sensor or (spacecraft is not None and implied[1] != spacecraft):
            said = f"{sensor} on {spacecraft}" if spacecraft else sensor
            raise DataError(f"band file {path} is a {implied[0]} file of {implied[1]} by its name, but {source} says "
                            f"{said}: the MTL and the band files belong to different products; put each scene's "
                            "files and its own MTL in one folder")
    for path in files.values():
        dtype = _file_dtype(Path(path))
        if dtype is not None and dtype.kind in "iub" and dtype != SENSOR_DTYPE[sensor]:
            raise DataError(f"band file {path} holds {dtype.name} DN, but {source} says {sensor}, whose Level-1 DN "
                            f"are {SENSOR_DTYPE[sensor].name}: the files belong to another sensor than the MTL (or "
                            "sensor=) says; read them with their own MTL")
