"""Collection 2 Level-1 export of a simulated scene: band GeoTIFFs, QA_PIXEL, truth label and MTL.

`write_level1` writes a scene from `glacier_utils.synthetic.simulate_scene` the way USGS ships
Landsat Level-1 products (Collection 2 naming, ``LANDSAT_METADATA_FILE`` MTL with the standard
keys, QA_PIXEL bits), so that `glacier_utils.io.landsat.read_scene` reads it back like a real
download. The radiometric rescaling written to the MTL comes from `glacier_utils.io.radiometry`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from pyproj import CRS, Transformer
from scipy import ndimage

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.io import radiometry

#: Processing date of the simulated Level-1 products, per sensor (part of the product id).
PROCESSING_DATE = {"TM": "20200830", "OLI": "20200915"}
#: Pixels by which the QA_PIXEL cloud mask is dilated into the "dilated cloud" bit (CFMask: 3).
QA_DILATION_PX = 3


def _write_geotiff(path: Path, array: np.ndarray, scene: xr.Dataset, nodata: int | None) -> None:
    """Write one band as a deflate-compressed GeoTIFF on the scene's grid, atomically."""
    profile = {
        "driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
        "dtype": array.dtype.name, "crs": scene.rio.crs or config.STUDY_CRS, "transform": scene.rio.transform(),
        "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    if array.shape[0] < 256 or array.shape[1] < 256:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    if nodata is not None:
        profile["nodata"] = nodata
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array, 1)


def product_id(scene: xr.Dataset) -> str:
    """Collection 2 Level-1 product id, e.g. ``LT05_L1TP_138037_20070505_20200830_02_T1``."""
    return collection2_product_id(scene.attrs["sensor"], scene.attrs["wrs2"], scene.attrs["date"])


def collection2_product_id(sensor: str, wrs2: str, date: str) -> str:
    """The product id of a simulated acquisition from its sensor ('TM', 'OLI'), WRS-2 id and ISO date."""
    prefix = "LT05" if sensor == "TM" else "LC08"
    return f"{prefix}_L1TP_{wrs2}_{str(date)[:10].replace('-', '')}_{PROCESSING_DATE[sensor]}_02_T1"


def _oli_extra_bands(scene: xr.Dataset) -> dict[int, np.ndarray]:
    """OLI bands without a TM equivalent (1 coastal, 9 cirrus, 11 thermal) derived from the others."""
    dn = scene["dn"]
    fill = config.nodata_of(dn, config.LEVEL1_FILL_DN)
    valid = dn.sel(band=1).values != fill
    blue = dn.sel(band=1).values.astype(np.float64)
    coastal = np.clip(blue * 1.04 + 300.0, radiometry.OLI_QCALMIN, radiometry.OLI_QCALMAX)
    coastal = np.where(valid, coastal, fill).astype(np.uint16)
    cloud = scene["cloud"].values if "cloud" in scene else np.zeros(blue.shape, np.uint8)
    thick, thin = cloud == config.CLOUD_CODES["thick_cloud"], cloud == config.CLOUD_CODES["thin_cloud"]
    rho_cirrus = 0.001 + np.where(thick, 0.03, np.where(thin, 0.01, 0.0))
    cirrus = np.where(valid, radiometry.oli_dn_from_reflectance(rho_cirrus), fill).astype(np.uint16)
    l10 = radiometry.tirs_radiance(dn.sel(band=6).values)
    t10 = radiometry.brightness_temperature(np.maximum(l10, 1e-3), radiometry.TIRS_K1[10], radiometry.TIRS_K2[10])
    l11 = radiometry.planck_radiance(t10 - 1.2, radiometry.TIRS_K1[11], radiometry.TIRS_K2[11])
    b11 = np.clip(np.rint(radiometry.tirs_dn_from_radiance(l11)), radiometry.OLI_QCALMIN, radiometry.OLI_QCALMAX)
    b11 = np.where(valid, b11, fill).astype(np.uint16)
    return {1: coastal, 9: cirrus, 11: b11}


def qa_pixel(scene: xr.Dataset) -> np.ndarray:
    """Collection 2 QA_PIXEL bits from the synthetic truth, as CFMask would set them on a perfect day.

    Bit 0 fill (the whole value is 1 outside the frame); 1 dilated cloud (`QA_DILATION_PX` around
    cloud); 2 cirrus (OLI; never set: the simulator has no separate cirrus layer); 3 cloud (thick
    cloud; thin cloud and fog are medium cloud confidence only); 4 cloud shadow; 5 snow/ice
    (seasonal snow, clean ice and firn of the ``surface`` layer, unless under thick cloud); 6 clear
    (neither cloud nor dilated cloud, as USGS defines it); 7 water (not under thick cloud); bits
    8-9 cloud confidence (high thick, medium thin, low elsewhere), 10-11 cloud shadow and 12-13
    snow/ice confidence (high where flagged, low elsewhere), 14-15 cirrus confidence (OLI: low;
    TM: 0, Landsat 4-7 have none). Fill pixels carry no confidence.
    """
    valid = scene["dn"].sel(band=1).values != config.nodata_of(scene["dn"], config.LEVEL1_FILL_DN)
    cloud = scene["cloud"].values if "cloud" in scene else np.zeros(valid.shape, np.uint8)
    surface = scene["surface"].values if "surface" in scene else np.zeros(valid.shape, np.uint8)
    thick = (cloud == config.CLOUD_CODES["thick_cloud"]) & valid
    thin = (cloud == config.CLOUD_CODES["thin_cloud"]) & valid
    shadow = (cloud == config.CLOUD_CODES["cloud_shadow"]) & valid
    dilated = ndimage.binary_dilation(thick, iterations=QA_DILATION_PX) & valid & ~thick
    snowy = np.isin(surface, [config.SURFACE_CODES[n] for n in ("seasonal_snow", "clean_ice", "firn")]) & valid & ~thick
    water = (surface == config.SURFACE_CODES["water"]) & valid & ~thick
    clear = valid & ~thick & ~dilated
    one = np.uint16(1)
    qa = np.where(valid, 0, 1).astype(np.uint16)  # bit 0 fill
    for bit, flag in ((1, dilated), (3, thick), (4, shadow), (5, snowy), (6, clear), (7, water)):
        qa |= flag.astype(np.uint16) << bit
    low = valid.astype(np.uint16)
    qa |= np.where(thick, 3, np.where(thin, 2, low)).astype(np.uint16) << 8  # cloud confidence
    qa |= np.where(shadow, 3, low).astype(np.uint16) << 10  # cloud shadow confidence
    qa |= np.where(snowy, 3, low).astype(np.uint16) << 12  # snow/ice confidence
    if scene.attrs.get("sensor") == "OLI":
        qa |= (low * one) << 14  # cirrus confidence low (bit 2, cirrus, stays 0)
    return qa


_qa_pixel = qa_pixel  # the earlier private name (tests/test_archive.py)


def write_level1(scene: xr.Dataset, folder: str | os.PathLike) -> Path:
    """Write a scene as Collection 2 Level-1 band GeoTIFFs + MTL (+ truth label); return the MTL path.

    TM: ``LT05_L1TP_PPPRRR_YYYYMMDD_<processed>_02_T1_B1.TIF`` ... ``_B7.TIF``; OLI: ``LC08_..._B1``
    ... ``_B11`` (B8, the 15 m panchromatic band, is not simulated), TM bands mapped through
    `config.SENSOR_BAND_FILES`. Also ``_QA_PIXEL.TIF`` and the truth ``_LABEL.TIF`` (not a USGS
    file). Every file is written under a temporary name and moved into place.
    """
    for key in ("wrs2", "date", "sensor", "sun_elevation", "sun_azimuth"):
        if key not in scene.attrs:
            raise ValueError(f"scene: attribute {key!r} is missing; write_level1 needs a scene from simulate_scene")
    folder = Path(folder)
    sensor = scene.attrs["sensor"]
    pid = product_id(scene)
    band_files: dict[int, np.ndarray] = {}
    for tm_band, file_band in config.SENSOR_BAND_FILES[sensor].items():
        band_files[file_band] = scene["dn"].sel(band=tm_band).values
    if sensor == "OLI":
        band_files.update(_oli_extra_bands(scene))
    fill = config.nodata_of(scene["dn"], config.LEVEL1_FILL_DN)
    for file_band in sorted(band_files):
        _write_geotiff(folder / f"{pid}_B{file_band}.TIF", band_files[file_band], scene, fill)
    _write_geotiff(folder / f"{pid}_QA_PIXEL.TIF", qa_pixel(scene), scene, None)
    _write_geotiff(folder / f"{pid}_LABEL.TIF", scene["label"].values.astype(np.uint8), scene, config.LABEL_NODATA)
    mtl = folder / f"{pid}_MTL.txt"
    with atomic_path(mtl) as tmp:
        tmp.write_text(level1_mtl_text(scene, sorted(band_files)), encoding="utf-8")
    return mtl


def _utm_zone_and_longitude(scene: xr.Dataset, x: float, y: float) -> tuple[int, float | None]:
    """The MTL's UTM zone number and the longitude of (x, y), from the scene's CRS (no CRS: zone 46, unknown)."""
    crs = scene.rio.crs
    if crs is None:
        return 46, None
    crs = CRS.from_user_input(crs)
    if not crs.utm_zone:
        raise ValueError(f"scene CRS {crs.to_string()}: a Landsat Level-1 product is on a UTM grid; "
                         "write a WGS 84 / UTM CRS (e.g. EPSG:32632) on the scene")
    lon, _ = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return int(crs.utm_zone[:-1]), float(lon)


def level1_mtl_text(scene: xr.Dataset, file_bands: Iterable[int]) -> str:
    """A Collection 2 ``LANDSAT_METADATA_FILE`` MTL for a synthetic scene (standard USGS keys)."""
    a = scene.attrs
    sensor = a["sensor"]
    pid = product_id(scene)
    path, row = int(a["wrs2"][:3]), int(a["wrs2"][3:])
    d_au = float(a.get("earth_sun_distance", radiometry.earth_sun_distance(a["date"])))
    transform = scene.rio.transform()
    h, w = scene.sizes["y"], scene.sizes["x"]
    ulx, uly = transform.c, transform.f
    lrx, lry = ulx + w * transform.a, uly + h * transform.e
    zone, lon = _utm_zone_and_longitude(scene, ulx + (lrx - ulx) / 2, uly + (lry - uly) / 2)
    lon = 93.5 + (139 - path) * 1.45 if lon is None else lon
    utc = (10.2 - lon / 15.0) % 24
    hh, mm = int(utc), int((utc % 1) * 60)
    ss = ((utc * 3600) % 60)
    file_bands = list(file_bands)
    inv = {fb: tm for tm, fb in config.SENSOR_BAND_FILES[sensor].items()}
    lines = ["GROUP = LANDSAT_METADATA_FILE"]

    def group(name, items):
        lines.append(f"  GROUP = {name}")
        for k, v in items:
            lines.append(f"    {k} = {v}")
        lines.append(f"  END_GROUP = {name}")

    dtype = "UINT8" if sensor == "TM" else "UINT16"
    contents = [
        ("ORIGIN", '"Synthetic scene from glacier_utils.synthetic (not a USGS product)"'),
        ("LANDSAT_PRODUCT_ID", f'"{pid}"'), ("PROCESSING_LEVEL", '"L1TP"'),
        ("COLLECTION_NUMBER", "02"), ("COLLECTION_CATEGORY", '"T1"'), ("OUTPUT_FORMAT", '"GEOTIFF"'),
    ]
    contents += [(f"FILE_NAME_BAND_{b}", f'"{pid}_B{b}.TIF"') for b in file_bands]
    contents += [("FILE_NAME_QUALITY_L1_PIXEL", f'"{pid}_QA_PIXEL.TIF"'), ("FILE_NAME_METADATA_ODL", f'"{pid}_MTL.txt"')]
    contents += [(f"DATA_TYPE_BAND_{b}", f'"{dtype}"') for b in file_bands]
    group("PRODUCT_CONTENTS", contents)
    group("IMAGE_ATTRIBUTES", [
        ("SPACECRAFT_ID", '"LANDSAT_5"' if sensor == "TM" else '"LANDSAT_8"'),
        ("SENSOR_ID", '"TM"' if sensor == "TM" else '"OLI_TIRS"'),
        ("WRS_TYPE", "2"), ("WRS_PATH", str(path)), ("WRS_ROW", f"{row:d}"),
        ("DATE_ACQUIRED", a["date"]), ("SCENE_CENTER_TIME", f'"{hh:02d}:{mm:02d}:{ss:010.7f}Z"'),
        ("CLOUD_COVER", f"{float(a.get('cloud_cover', 0.0)):.2f}"),
        ("CLOUD_COVER_LAND", f"{float(a.get('cloud_cover', 0.0)):.2f}"),
        ("SUN_AZIMUTH", f"{float(a['sun_azimuth']):.8f}"), ("SUN_ELEVATION", f"{float(a['sun_elevation']):.8f}"),
        ("EARTH_SUN_DISTANCE", f"{d_au:.7f}"),
    ])
    group("PROJECTION_ATTRIBUTES", [
        ("MAP_PROJECTION", '"UTM"'), ("DATUM", '"WGS84"'), ("ELLIPSOID", '"WGS84"'), ("UTM_ZONE", str(zone)),
        ("GRID_CELL_SIZE_REFLECTIVE", "30.00"), ("GRID_CELL_SIZE_THERMAL", "30.00"),
        ("REFLECTIVE_LINES", str(h)), ("REFLECTIVE_SAMPLES", str(w)),
        ("THERMAL_LINES", str(h)), ("THERMAL_SAMPLES", str(w)), ("ORIENTATION", '"NORTH_UP"'),
        ("CORNER_UL_PROJECTION_X_PRODUCT", f"{ulx:.3f}"), ("CORNER_UL_PROJECTION_Y_PRODUCT", f"{uly:.3f}"),
        ("CORNER_UR_PROJECTION_X_PRODUCT", f"{lrx:.3f}"), ("CORNER_UR_PROJECTION_Y_PRODUCT", f"{uly:.3f}"),
        ("CORNER_LL_PROJECTION_X_PRODUCT", f"{ulx:.3f}"), ("CORNER_LL_PROJECTION_Y_PRODUCT", f"{lry:.3f}"),
        ("CORNER_LR_PROJECTION_X_PRODUCT", f"{lrx:.3f}"), ("CORNER_LR_PROJECTION_Y_PRODUCT", f"{lry:.3f}"),
    ])
    rad, refl, pix, thermal = [], [], [], []
    if sensor == "TM":
        gain, bias = radiometry.tm_gain_bias(a["date"])
        for fb in file_bands:
            i = radiometry.BAND_INDEX[inv[fb]]
            rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{gain[i]:.4E}"), (f"RADIANCE_ADD_BAND_{fb}", f"{bias[i]:.5f}")]
            pix += [(f"QUANTIZE_CAL_MAX_BAND_{fb}", "255"), (f"QUANTIZE_CAL_MIN_BAND_{fb}", "1")]
            if inv[fb] != radiometry.THERMAL_BAND:
                scale = math.pi * d_au ** 2 / radiometry.TM_ESUN[i]
                refl += [(f"REFLECTANCE_MULT_BAND_{fb}", f"{gain[i] * scale:.4E}"),
                         (f"REFLECTANCE_ADD_BAND_{fb}", f"{bias[i] * scale:.6f}")]
        thermal = [("K1_CONSTANT_BAND_6", f"{radiometry.TM_K1:.2f}"), ("K2_CONSTANT_BAND_6", f"{radiometry.TM_K2:.2f}")]
    else:
        for fb in file_bands:
            pix += [(f"QUANTIZE_CAL_MAX_BAND_{fb}", "65535"), (f"QUANTIZE_CAL_MIN_BAND_{fb}", "1")]
            if fb in (10, 11):
                rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{radiometry.TIRS_RADIANCE_MULT:.4E}"),
                        (f"RADIANCE_ADD_BAND_{fb}", f"{radiometry.TIRS_RADIANCE_ADD:.5f}")]
                continue
            esun = radiometry.OLI_ESUN_EXTRA[fb] if fb in radiometry.OLI_ESUN_EXTRA else radiometry.OLI_ESUN[radiometry.BAND_INDEX[inv[fb]]]
            mult = radiometry.OLI_REFLECTANCE_MULT * esun / (math.pi * d_au ** 2)
            rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{mult:.4E}"),
                    (f"RADIANCE_ADD_BAND_{fb}", f"{radiometry.OLI_REFLECTANCE_ADD / radiometry.OLI_REFLECTANCE_MULT * mult:.5f}")]
            refl += [(f"REFLECTANCE_MULT_BAND_{fb}", f"{radiometry.OLI_REFLECTANCE_MULT:.4E}"),
                     (f"REFLECTANCE_ADD_BAND_{fb}", f"{radiometry.OLI_REFLECTANCE_ADD:.6f}")]
        for fb in (10, 11):
            thermal += [(f"K1_CONSTANT_BAND_{fb}", f"{radiometry.TIRS_K1[fb]:.4f}"),
                        (f"K2_CONSTANT_BAND_{fb}", f"{radiometry.TIRS_K2[fb]:.4f}")]
    group("LEVEL1_MIN_MAX_PIXEL_VALUE", pix)
    group("LEVEL1_RADIOMETRIC_RESCALING", rad + refl)
    group("LEVEL1_THERMAL_CONSTANTS", thermal)
    group("LEVEL1_PROJECTION_PARAMETERS", [
        ("MAP_PROJECTION", '"UTM"'), ("DATUM", '"WGS84"'), ("ELLIPSOID", '"WGS84"'), ("UTM_ZONE", str(zone)),
        ("GRID_CELL_SIZE_REFLECTIVE", "30.00"), ("GRID_CELL_SIZE_THERMAL", "30.00"),
        ("ORIENTATION", '"NORTH_UP"'), ("RESAMPLING_OPTION", '"CUBIC_CONVOLUTION"'),
    ])
    lines.append("END_GROUP = LANDSAT_METADATA_FILE")
    lines.append("END")
    return "\n".join(lines) + "\n"
