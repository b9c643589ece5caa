"""Read Landsat Level-1 scenes (band GeoTIFFs + MTL) into the project's scene Dataset, lazily.

A scene folder holds one single-band GeoTIFF per band (``*_B<n>.TIF``) and, normally, the
``*_MTL.txt`` metadata file. Both MTL forms are read: Collection 2 (``GROUP = LANDSAT_METADATA_FILE``
with nested groups, USGS 2020a, 2020b) and the older pre-Collection / Collection 1 form
(``GROUP = L1_METADATA_FILE``), including files padded with NUL bytes.

Band mapping (paper §II-B stacks the seven TM bands; ``config.SENSOR_BAND_FILES``): the ``band``
coordinate of every scene holds the TM-equivalent numbers 1..7. TM and ETM+ files map one to one;
for OLI/TIRS the files B2, B3, B4, B5, B6, B10, B7 become TM bands 1..7 (OLI B1 coastal/aerosol,
B8 panchromatic, B9 cirrus and TIRS B11 are not used).

DN -> TOA reflectance and brightness temperature, and every sensor constant, live in
``glacier_utils.io.radiometry``.

Reading is lazy: every band is opened with ``rioxarray.open_rasterio(chunks=...)``, so a full
7,000 x 7,000 scene is a dask array and is never loaded whole unless asked.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.enums
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from glacier_utils import config
from glacier_utils.errors import DataError
from glacier_utils.io import consistency, geotiff

__all__ = [
    "CONFIDENCE_LEVELS",
    "DataError", "DEFAULT_CHUNKS", "QA_BIT_TABLES", "read_mtl", "flatten_mtl", "mtl_scene_metadata", "find_mtl",
    "find_band_files", "normalise_sensor", "sensor_from_product_id", "read_scene", "stack_band_files",
    "add_study_attrs", "reproject_scene", "valid_mask", "read_qa", "qa_masks",
]

#: Dask chunks of a lazily read scene: one band by 1024 x 1024 pixels (about 1 MB for uint8).
DEFAULT_CHUNKS: dict[str, int] = {"band": 1, "y": 1024, "x": 1024}

_SENSOR_ALIASES = {"TM": "TM", "ETM": "ETM", "ETM+": "ETM", "OLI": "OLI", "OLI_TIRS": "OLI", "OLI-TIRS": "OLI"}

#: Bit tables of the Level-1 quality bands. Each entry: mask name -> (first bit, number of bits).
#: One-bit fields are flags; two-bit fields are confidences 0 (not determined), 1 (low / no),
#: 2 (medium / maybe), 3 (high / yes).
#: - ``collection2``: Collection 2 ``QA_PIXEL`` (USGS Landsat 8-9 Collection 2 Level 1 Data Format
#:   Control Book; Landsat 4-7 have no cirrus bit).
#: - ``collection1``: Collection 1 ``BQA`` of Landsat 8 (USGS Landsat 8 Collection 1 Level 1 Product
#:   Guide; Landsat 4-7 use the same bits 0 and 4-10).
#: - ``precollection``: pre-Collection Landsat 8 ``BQA`` (USGS Landsat 8 Data Users Handbook v1).
QA_BIT_TABLES: dict[str, dict[str, tuple[int, int]]] = {
    "collection2": {
        "fill": (0, 1), "dilated_cloud": (1, 1), "cirrus": (2, 1), "cloud": (3, 1), "cloud_shadow": (4, 1),
        "snow": (5, 1), "clear": (6, 1), "water": (7, 1), "cloud_confidence": (8, 2),
        "cloud_shadow_confidence": (10, 2), "snow_confidence": (12, 2), "cirrus_confidence": (14, 2),
    },
    "collection1": {
        "fill": (0, 1), "terrain_occlusion": (1, 1), "radiometric_saturation": (2, 2), "cloud": (4, 1),
        "cloud_confidence": (5, 2), "cloud_shadow_confidence": (7, 2), "snow_confidence": (9, 2), "cirrus_confidence": (11, 2),
    },
    "precollection": {
        "fill": (0, 1), "dropped_frame": (1, 1), "terrain_occlusion": (2, 1), "water_confidence": (4, 2),
        "vegetation_confidence": (8, 2), "snow_confidence": (10, 2), "cirrus_confidence": (12, 2), "cloud_confidence": (14, 2),
    },
}
#: QA confidence fields' values: low (or no), medium, high.
CONFIDENCE_LEVELS = {"low": 1, "medium": 2, "high": 3}

# "_B4.TIF", "-B10-", "_B6_VCID_1.TIF": a band number after a separator. "BQA" and product ids
# such as "CUB02" do not match (no separator before the B, or no digit after it).
_BAND_FILE_RE = re.compile(r"(?:^|[_\-.])B(\d{1,2})(?:_VCID_(\d))?(?=[_\-.])", re.IGNORECASE)
_QA_FILE_RE = re.compile(r"(?:^|[_\-.])(QA_PIXEL|BQA)(?=[_\-.])", re.IGNORECASE)
_TIFF_SUFFIXES = (".tif", ".tiff")
_MTL_LINE_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


# --------------------------------------------------------------------------------------------
# MTL metadata
# --------------------------------------------------------------------------------------------
def _parse_mtl_value(raw: str) -> Any:
    """A quoted MTL value becomes str, numbers become int/float, anything else (dates, times) str."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if _INT_RE.match(raw):
        return int(raw)
    if _FLOAT_RE.match(raw):
        return float(raw)
    return raw


def read_mtl(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a Landsat ``*_MTL.txt`` (Collection 2 or pre-Collection, NUL padding tolerated) into nested dicts."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read MTL file {path}: {err}") from err
    # Older USGS files are padded to a fixed size with NUL bytes; they carry no information.
    text = raw.replace(b"\x00", b"").decode("utf-8", errors="replace")
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any]]] = [("", root)]
    ended = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "END":
            ended = True
            break
        match = _MTL_LINE_RE.match(stripped)
        if not match:
            raise DataError(f"garbled MTL file {path}: line {lineno} is not 'KEY = VALUE': {stripped[:60]!r}")
        key, value = match.groups()
        if key == "GROUP":
            stack[-1][1][value] = {}
            stack.append((value, stack[-1][1][value]))
        elif key == "END_GROUP":
            if len(stack) == 1 or stack[-1][0] != value:
                raise DataError(f"garbled MTL file {path}: line {lineno} closes group {value!r} that is not open")
            stack.pop()
        else:
            stack[-1][1][key] = _parse_mtl_value(value)
    if len(stack) != 1:
        raise DataError(f"garbled MTL file {path}: group {stack[-1][0]!r} is never closed (truncated file?)")
    if not ended or not any(k in root for k in ("LANDSAT_METADATA_FILE", "L1_METADATA_FILE")):
        raise DataError(f"garbled MTL file {path}: expected 'GROUP = LANDSAT_METADATA_FILE' (Collection 2) or "
                        "'GROUP = L1_METADATA_FILE' (pre-Collection) closed by 'END'")
    return root


def flatten_mtl(mtl: Mapping[str, Any]) -> dict[str, Any]:
    """All ``KEY = VALUE`` pairs of a parsed MTL in one flat dict (the first occurrence of a key wins)."""
    flat: dict[str, Any] = {}

    def walk(node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, Mapping):
                walk(value)
            else:
                flat.setdefault(key, value)

    walk(mtl)
    return flat


def normalise_sensor(sensor: str, source: str = "sensor") -> str:
    """``"TM"``, ``"ETM"`` or ``"OLI"`` from a sensor name such as ``OLI_TIRS`` or ``ETM+``; DataError otherwise."""
    key = str(sensor).strip().upper()
    if key not in _SENSOR_ALIASES:
        raise DataError(f"unknown sensor {sensor!r} ({source}); supported: TM (Landsat 4/5), ETM (Landsat 7), "
                        "OLI (Landsat 8/9)")
    return _SENSOR_ALIASES[key]


def normalise_spacecraft(spacecraft: str) -> str:
    """``"LANDSAT_5"`` from ``"LANDSAT_5"``, ``"Landsat5"``, ``"landsat-5"``."""
    digits = re.sub(r"\D", "", str(spacecraft))
    return f"LANDSAT_{digits}" if digits else str(spacecraft).upper()


def sensor_from_product_id(product_id: str) -> str | None:
    """Sensor implied by a Landsat product/scene id (``LT05_…``, ``LC08_…``, ``LT5…``), or None."""
    mission = consistency.product_id_mission(product_id)
    return mission[0] if mission else None


def mtl_scene_metadata(mtl: Mapping[str, Any], source: str = "MTL") -> dict[str, Any]:
    """The scene facts the project uses (sensor, date, WRS-2, sun angles, cloud cover, ids) from a parsed MTL."""
    flat = flatten_mtl(mtl)

    def need(*keys: str) -> Any:
        for key in keys:
            if key in flat:
                return flat[key]
        raise DataError(f"MTL {source} lacks {' / '.join(keys)}")

    collection = ("Collection 2" if "LANDSAT_METADATA_FILE" in mtl else
                  f"Collection {int(flat['COLLECTION_NUMBER'])}" if "COLLECTION_NUMBER" in flat else "pre-Collection")
    sensor = normalise_sensor(need("SENSOR_ID"), source=f"SENSOR_ID in {source}")
    date = str(need("DATE_ACQUIRED", "ACQUISITION_DATE"))
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise DataError(f"MTL {source}: acquisition date {date!r} is not YYYY-MM-DD") from None
    meta: dict[str, Any] = {
        "collection": collection, "product_id": str(flat.get("LANDSAT_PRODUCT_ID", flat.get("LANDSAT_SCENE_ID", ""))),
        "spacecraft": normalise_spacecraft(need("SPACECRAFT_ID")), "sensor": sensor, "date": date,
        "sun_elevation": float(need("SUN_ELEVATION")), "sun_azimuth": float(need("SUN_AZIMUTH")),
    }
    if "WRS_PATH" in flat:
        meta["wrs_path"] = int(flat["WRS_PATH"])
        row = flat.get("WRS_ROW", flat.get("STARTING_ROW"))
        if row is not None:
            meta["wrs_row"] = int(row)
            meta["wrs2"] = f"{meta['wrs_path']:03d}{meta['wrs_row']:03d}"
    if "CLOUD_COVER" in flat:
        meta["cloud_cover"] = float(flat["CLOUD_COVER"])
    if "EARTH_SUN_DISTANCE" in flat:
        meta["earth_sun_distance"] = float(flat["EARTH_SUN_DISTANCE"])
    consistency.check_metadata(meta, source)
    return meta


def find_mtl(folder: str | os.PathLike) -> Path | None:
    """The single ``*_MTL.txt`` of a scene folder, None when there is none; DataError when several."""
    folder = Path(folder)
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.upper().endswith("_MTL.TXT"))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataError(f"{folder} holds several MTL files ({names}); pass the MTL path of the scene to read")
    return found[0] if found else None


# --------------------------------------------------------------------------------------------
# Band files
# --------------------------------------------------------------------------------------------
def _band_number(name: str) -> tuple[int, int | None] | None:
    """(band number, VCID or None) parsed from a band file name, None for other files."""
    if not name.lower().endswith(_TIFF_SUFFIXES):
        return None
    matches = _BAND_FILE_RE.findall(name)
    if not matches:
        return None
    number, vcid = matches[-1]
    return int(number), (int(vcid) if vcid else None)


def find_band_files(folder: str | os.PathLike, prefix: str = "") -> dict[int, Path]:
    """File band number -> GeoTIFF path for the ``*_B<n>.TIF`` files of a folder (names starting with prefix)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"scene folder {folder} does not exist")
    files: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        parsed = _band_number(path.name) if path.name.startswith(prefix) else None
        if parsed is None or parsed[1] not in (None, 1):
            continue  # not a band file of this scene; ETM+ B6 keeps VCID_1 (low gain, no saturation over bright targets)
        number = parsed[0]
        if number in files:
            raise DataError(f"{folder}: two files for band {number} ({files[number].name}, {path.name}); "
                            "put one scene per folder or pass the scene's MTL path")
        files[number] = path
    return files


def _check_band_file(path: Path) -> None:
    """Open a band GeoTIFF and check it is single-band and not truncated; DataError otherwise."""
    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise DataError(f"band file {path} has {src.count} bands; a Level-1 band file holds exactly 1")
            size = path.stat().st_size
            bh, bw = src.block_shapes[0]
            # GDAL reports where every block lies in the file; a block past the end means the
            # file was cut short (an interrupted download), which otherwise fails only at compute time.
            for row in range(math.ceil(src.height / bh)):
                for col in range(math.ceil(src.width / bw)):
                    offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
                    nbytes = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
                    if offset is None or nbytes is None:
                        return  # not a TIFF-backed dataset: nothing to check
                    if int(offset) + int(nbytes) > size:
                        raise DataError(f"band file {path} is truncated: block ({row}, {col}) ends at byte "
                                        f"{int(offset) + int(nbytes)} but the file has {size} bytes")
    except rasterio.errors.RasterioIOError as err:
        raise DataError(f"cannot read band file {path} (corrupt or truncated GeoTIFF?): {err}") from err


def _all_nodata(path: Path, nodata: float) -> bool:
    """True when a band holds only nodata or NaN (a decimated read first; a full read only to confirm)."""
    with rasterio.open(path) as src:
        step = max(1, math.ceil(max(src.height, src.width) / 512))
        small = src.read(1, out_shape=(max(1, src.height // step), max(1, src.width // step)))
        if not config.nodata_pixels(small[None], nodata).all():
            return False
        return bool(config.nodata_pixels(src.read(1)[None], nodata).all())


def stack_band_files(
    band_paths: Mapping[int, str | os.PathLike], *, chunks: Mapping[str, int] | None = DEFAULT_CHUNKS,
    nodata: float | None = None, check_files: bool = True, check_nodata: bool = True,
) -> xr.DataArray:
    """Stack single-band files keyed by TM-equivalent band (1..7) into the contract's lazy ``dn`` DataArray."""
    missing = [b for b in config.BAND_NUMBERS if b not in band_paths]
    if missing:
        raise DataError(f"band files missing for TM-equivalent bands {missing}")
    layers, reference = [], None
    for band in config.BAND_NUMBERS:
        path = band_paths[band]
        local = Path(str(path)) if "://" not in str(path) else None
        if local is not None:
            if not local.is_file():
                raise DataError(f"band file {local} does not exist")
            if check_files:
                _check_band_file(local)
        layer = geotiff.open_single_band(path, chunks, reference)
        reference = reference or (layer, path)
        layers.append(layer)
    ref, ref_path = reference
    if nodata is None:
        nodata = config.nodata_of(ref, config.LEVEL1_FILL_DN)
    dtype = np.result_type(*[layer.dtype for layer in layers])
    crs, transform = ref.rio.crs, ref.rio.transform()
    dn = xr.concat([layer.drop_vars("spatial_ref", errors="ignore").astype(dtype) for layer in layers], dim="band")
    dn = dn.assign_coords(band=list(config.BAND_NUMBERS), band_name=("band", list(config.BAND_NAMES))).transpose("band", "y", "x")
    dn.attrs = {"nodata": nodata}
    dn.encoding = {}
    dn = dn.rio.write_crs(crs).rio.write_transform(transform).rio.write_nodata(nodata, encoded=False)
    dn.name = "dn"
    for band in config.BAND_NUMBERS if check_nodata else ():  # one empty band leaves no valid pixel
        path = band_paths[band]
        if "://" not in str(path) and _all_nodata(Path(str(path)), nodata):
            raise DataError(f"band file {path} (TM band {band}) holds only nodata ({nodata}) or NaN: the scene "
                            "has no valid pixels; re-download it or pass check_nodata=False")
    return dn


def read_scene(
    path: str | os.PathLike, sensor: str | None = None, *, chunks: Mapping[str, int] | None = DEFAULT_CHUNKS,
    require_mtl: bool = False, check_nodata: bool = True,
) -> xr.Dataset:
    """Read a Level-1 scene (a folder of ``*_B<n>.TIF`` files, or its ``*_MTL.txt``) into the scene Dataset.

    The MTL gives sensor, date, WRS-2 path/row and sun angles. Without an MTL, ``sensor`` must be
    given (or follow from a product id in the file names) and the metadata is flagged as missing:
    ``attrs["metadata_source"] == "none"`` and no date or sun angles are set. ``chunks=None`` reads
    eagerly; the default keeps the scene a dask array.
    """
    path = Path(path)
    if path.is_file():
        folder, mtl_path = path.parent, path
    elif path.is_dir():
        folder, mtl_path = path, find_mtl(path)
    else:
        raise DataError(f"scene path {path} does not exist")
    if mtl_path is None and require_mtl:
        raise DataError(f"no *_MTL.txt metadata file in {folder}, and this reader was asked to require one")
    attrs: dict[str, Any] = {"source": str(folder)}
    prefix = ""
    if mtl_path is not None:
        meta = mtl_scene_metadata(read_mtl(mtl_path), source=str(mtl_path))
        if sensor is not None and normalise_sensor(sensor) != meta["sensor"]:
            raise DataError(f"sensor={sensor!r} contradicts SENSOR_ID {meta['sensor']!r} in {mtl_path}")
        sensor = meta["sensor"]
        prefix = mtl_path.name[: -len("_MTL.txt")]
        attrs.update(meta, mtl_path=str(mtl_path), metadata_source=f"MTL ({meta['collection']})")
    else:
        attrs["metadata_source"] = "none"
    band_files = find_band_files(folder, prefix=prefix)
    if sensor is None:
        guesses = {sensor_from_product_id(p.name) for p in band_files.values()} - {None}
        if len(guesses) != 1:
            raise DataError(f"unknown sensor for {folder}: no MTL file and no Landsat product id in the band file "
                            "names; pass sensor='TM', 'ETM' or 'OLI'")
        sensor = guesses.pop()
    sensor = normalise_sensor(sensor)
    attrs["sensor"] = sensor
    mapping = config.SENSOR_BAND_FILES[sensor]
    missing = [f"B{mapping[b]}" for b in config.BAND_NUMBERS if mapping[b] not in band_files]
    if missing:
        raise DataError(f"{folder}: band files {', '.join(missing)} of the {sensor} scene are missing "
                        f"(found {', '.join(f'B{n}' for n in sorted(band_files)) or 'no band files'})")
    files = {b: band_files[mapping[b]] for b in config.BAND_NUMBERS}
    consistency.check_band_files(sensor, attrs.get("spacecraft"), files, str(mtl_path or folder))
    dn = stack_band_files(files, chunks=chunks, check_nodata=check_nodata)
    dn.attrs["file_bands"] = [mapping[b] for b in config.BAND_NUMBERS]
    return add_study_attrs(xr.Dataset({"dn": dn}), attrs)


def add_study_attrs(scene: xr.Dataset, attrs: dict[str, Any]) -> xr.Dataset:
    """Add contract attrs (area, period) derived from WRS-2 and date where they are known."""
    attrs = dict(attrs)
    if "wrs2" in attrs:
        try:
            attrs["area"] = config.area_of_scene(attrs["wrs2"])
        except ValueError:
            pass  # a scene outside the paper's 13 WRS-2 tiles has no study area group
    if "date" in attrs:
        try:
            attrs["period"] = config.period_of_year(int(attrs["date"][:4]))
        except ValueError:
            pass
    scene.attrs.update(attrs)
    return scene


def reproject_scene(scene: xr.Dataset, crs: Any = config.STUDY_CRS, pixel_size_m: float = config.PIXEL_SIZE_M) -> xr.Dataset:
    """The scene's ``dn`` warped to ``crs`` (paper §II-B step 1: UTM 46N) by nearest neighbour, DN and contract attrs kept.

    Nearest neighbour keeps the DN values the band ratio and the networks were calibrated on.
    rioxarray warps eagerly: the result is in memory (about 340 MB for a full 7-band TM scene).
    Rasterise the inventory afterwards, on the new grid.
    """
    dn = scene["dn"]
    nodata = config.nodata_of(dn, config.LEVEL1_FILL_DN)
    warped = dn.rio.write_nodata(nodata, encoded=False).rio.reproject(
        crs, resolution=pixel_size_m, nodata=nodata, resampling=rasterio.enums.Resampling.nearest
    )
    warped.attrs = {**{k: v for k, v in dn.attrs.items() if k != "_FillValue"}, "nodata": nodata}
    warped = warped.rio.write_nodata(nodata, encoded=False)
    return xr.Dataset({"dn": warped}, attrs=dict(scene.attrs))


def valid_mask(dn: xr.DataArray) -> xr.DataArray:
    """True where every band holds data (no band at the nodata value, none NaN: ``config.nodata_pixels``)."""
    return ~config.nodata_pixels(dn)


# --------------------------------------------------------------------------------------------
# Quality band
# --------------------------------------------------------------------------------------------
def read_qa(path: str | os.PathLike, kind: str | None = None, *,
            chunks: Mapping[str, int] | None = DEFAULT_CHUNKS) -> xr.DataArray:
    """Read a scene's quality band (``*_QA_PIXEL.TIF`` or ``*_BQA.TIF``) lazily; attrs["qa_kind"] says which bit table applies.

    ``QA_PIXEL`` is Collection 2. For ``BQA`` the kind comes from the MTL (Collection 1 or
    pre-Collection); without an MTL pass ``kind`` ("collection1" or "precollection").
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        found = [p for p in sorted(folder.iterdir()) if p.name.lower().endswith(_TIFF_SUFFIXES) and _QA_FILE_RE.search(p.name)]
        if len(found) != 1:
            raise DataError(f"{folder}: expected one QA band file (*_QA_PIXEL.TIF or *_BQA.TIF), found {len(found)}")
        path = found[0]
    if not path.is_file():
        raise DataError(f"QA band file {path} does not exist")
    if kind is None:
        name = _QA_FILE_RE.search(path.name)
        if name and name.group(1).upper() == "QA_PIXEL":
            kind = "collection2"
        else:
            mtl_path = find_mtl(folder)
            if mtl_path is None:
                raise DataError(f"QA band {path}: a BQA band's bit table depends on the product generation and no "
                                "MTL is in the folder; pass kind='collection1' or kind='precollection'")
            flat = flatten_mtl(read_mtl(mtl_path))
            kind = "collection1" if int(flat.get("COLLECTION_NUMBER", 0) or 0) == 1 else "precollection"
    if kind not in QA_BIT_TABLES:
        raise DataError(f"unknown QA kind {kind!r}; choose one of {', '.join(QA_BIT_TABLES)}")
    _check_band_file(path)
    qa = rioxarray.open_rasterio(path, chunks=dict(chunks) if chunks else None).isel(band=0, drop=True)
    qa.attrs = {"qa_kind": kind, "source": str(path)}
    qa.name = "qa"
    return qa


def _bits(qa: xr.DataArray, first: int, count: int) -> xr.DataArray:
    """The integer held in ``count`` bits of ``qa`` starting at bit ``first``."""
    return (qa.astype("uint16") >> first) & ((1 << count) - 1)


def qa_masks(qa: xr.DataArray, kind: str | None = None, confidence: str = "high") -> xr.Dataset:
    """Boolean fill / cloud / cloud_shadow / snow / cirrus / clear masks from a QA band (see ``QA_BIT_TABLES``).

    Where a kind has only confidence fields, a mask is set at ``confidence`` ("low", "medium",
    "high") or above. ``clear`` = not fill, cloud, cloud shadow or cirrus (snow counts as clear:
    glaciers are snow-covered in the accumulation zone).
    """
    kind = kind or qa.attrs.get("qa_kind")
    if kind not in QA_BIT_TABLES:
        raise DataError(f"unknown QA kind {kind!r}; choose one of {', '.join(QA_BIT_TABLES)}")
    if confidence not in CONFIDENCE_LEVELS:
        raise DataError(f"confidence={confidence!r}; choose low, medium or high")
    level = CONFIDENCE_LEVELS[confidence]
    table = QA_BIT_TABLES[kind]

    def flag_or_confidence(name: str) -> xr.DataArray:
        if name in table:
            return _bits(qa, *table[name]).astype(bool)
        return _bits(qa, *table[f"{name}_confidence"]) >= level

    masks = {
        "fill": _bits(qa, *table["fill"]).astype(bool),
        "cloud": flag_or_confidence("cloud"),
        "cloud_shadow": (flag_or_confidence("cloud_shadow") if "cloud_shadow" in table or "cloud_shadow_confidence" in table
                         else xr.zeros_like(qa, dtype=bool)),
        "snow": flag_or_confidence("snow"),
        "cirrus": flag_or_confidence("cirrus"),
    }
    if kind == "collection1":
        masks["cloud"] = masks["cloud"] | (_bits(qa, *table["cloud_confidence"]) >= level)
    masks["clear"] = ~(masks["fill"] | masks["cloud"] | masks["cloud_shadow"] | masks["cirrus"])
    out = xr.Dataset(masks)
    out.attrs = {"qa_kind": kind, "confidence": confidence}
    return out
