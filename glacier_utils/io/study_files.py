"""A study's files checked before anything long starts: every image opens, holds the mapped bands,
lies near the study's CRS, and every subarea has images (issue 15, "bad study files").

Reading, warping and labelling a study's images take minutes; a wrong CRS or a subarea without an image
would only surface at the Scene 2 split or as distorted areas at the end. These checks read file headers
only (rasterio metadata, no pixels), so they run in seconds and every error names the file and the key
of the study file to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import rasterio
import rasterio.errors
import rasterio.warp
import shapely
from pyproj import CRS

from glacier_utils.errors import DataError
from glacier_utils.io import landsat

#: The study's CRS may be a neighbouring UTM zone of the images' (a region across a zone border),
#: never further: 6 degrees of longitude off the central meridian already scale areas by about 1 %.
MAX_UTM_ZONE_OFFSET = 1


def _header_file(study, entry) -> tuple[Path, int]:
    """The raster whose header stands for an image (a band file of a Level-1 folder, or the GeoTIFF), and its band count."""
    path = Path(entry.path)
    if not path.exists():
        raise DataError(f"{path} (listed in study file {study.path}) does not exist")
    images = study.images
    if images is None or images.kind == "level1":
        folder = path.parent if path.is_file() else path
        bands = landsat.find_band_files(folder)
        if not bands:
            raise DataError(f"{folder} (study file {study.path}) holds no *_B<n>.TIF band files of a Level-1 scene")
        return bands[min(bands)], len(bands)
    if images.band_files:
        if not path.is_dir():
            raise DataError(f"{path}: images.band_files in study file {study.path} needs each scene to be a folder")
        first = sorted(path.glob(images.band_files[0]))
        if not first:
            raise DataError(f"{path}: no file matches images.band_files[0] = {images.band_files[0]!r} "
                            f"(study file {study.path})")
        return first[0], len(images.band_files)
    return path, -1


def _footprint(path: Path, study) -> tuple[CRS, tuple[float, float, float, float], int]:
    """CRS, bounds (in that CRS) and band count of a raster, from its header; DataError when it won't open."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise DataError(f"{path} has no CRS; georeference it (study file {study.path})")
            return CRS.from_user_input(src.crs), tuple(src.bounds), src.count
    except rasterio.errors.RasterioIOError as err:
        raise DataError(f"{path} cannot be read as a raster ({err}); is it corrupt or cut short? "
                        f"(listed in study file {study.path})") from None


def _check_band_map(study, path: Path, count: int) -> None:
    """Every study band is mapped, and every mapped file band exists in the file."""
    images = study.images
    if images is None or images.kind == "level1":
        return
    unmapped = [b for b in study.bands if b not in images.band_map.values()]
    if unmapped:
        raise DataError(f"study file {study.path}: bands {list(study.bands)} include TM band(s) {unmapped} that "
                        f"[images] band_map {images.band_map} does not map; map them or drop them from bands")
    if images.band_files:
        return
    beyond = sorted(b for b in images.band_map if b > count)
    if beyond:
        raise DataError(f"{path} holds {count} band(s), but [images] band_map of study file {study.path} reads "
                        f"file band(s) {beyond}; fix band_map")


def _utm_zone(crs: CRS) -> tuple[int, bool] | None:
    """(zone, north) of a WGS 84 UTM CRS, None for any other CRS."""
    name = crs.utm_zone
    return (int(name[:-1]), name[-1].upper() == "N") if name else None


def _centre_lonlat(crs: CRS, bounds) -> tuple[float, float]:
    """Longitude and latitude of the centre of a footprint."""
    left, bottom, right, top = rasterio.warp.transform_bounds(crs, "EPSG:4326", *bounds)
    return (left + right) / 2, (bottom + top) / 2


def _check_crs(study, path: Path, crs: CRS, bounds) -> None:
    """The study's CRS (unless "auto") must suit the image: a UTM zone near it, or an area of use holding it."""
    if study.crs == "auto":
        return
    target = CRS.from_user_input(study.crs)
    lon, lat = _centre_lonlat(crs, bounds)
    zone = _utm_zone(target)
    if zone is not None:
        image_zone = int((lon + 180) // 6) % 60 + 1
        offset = min(abs(image_zone - zone[0]), 60 - abs(image_zone - zone[0]))
        if offset > MAX_UTM_ZONE_OFFSET or zone[1] != (lat >= 0):
            hemisphere = "N" if lat >= 0 else "S"
            raise DataError(f"study file {study.path}: crs = {study.crs!r} is UTM zone {zone[0]}{'N' if zone[1] else 'S'}, "
                            f"but {path} lies at lon {lon:.2f}, lat {lat:.2f} (zone {image_zone}{hemisphere}); areas "
                            "on that grid would be distorted: set crs = 'auto' or that zone's EPSG code")
        return
    area = target.area_of_use
    if area is not None and not (area.west <= lon <= area.east and area.south <= lat <= area.north):
        raise DataError(f"study file {study.path}: crs = {study.crs!r} is meant for {area.name}, but {path} lies at "
                        f"lon {lon:.2f}, lat {lat:.2f}; set crs = 'auto' or a CRS for the images' region")


def _check_subareas_have_images(study, footprints: Iterable[tuple[Path, CRS, tuple]]) -> None:
    """Every polygon subarea overlaps at least one training image (else Scene 2 has no tiles there)."""
    if study.subarea_polygons is None:
        return
    path, column = study.subarea_polygons
    try:
        polygons = gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise DataError(f"subareas file {path} (study file {study.path}) cannot be read: {err}") from None
    if column not in polygons.columns:
        raise DataError(f"subareas file {path}: no column {column!r} (it has {list(polygons.columns)}); "
                        f"set subareas.column in study file {study.path}")
    boxes = gpd.GeoSeries([shapely.box(*rasterio.warp.transform_bounds(crs, polygons.crs, *bounds))
                           for _, crs, bounds in footprints], crs=polygons.crs)
    empty = [str(name) for name, geom in zip(polygons[column], polygons.geometry) if not boxes.intersects(geom).any()]
    if empty:
        raise DataError(f"study file {study.path}: subarea(s) {empty} of {path} overlap none of the training images; "
                        "add images there under [scenes] training, or drop the subarea")


def image_footprint(study, entry) -> tuple[CRS, tuple[float, float, float, float]]:
    """The CRS and bounds of one image of a study (a Level-1 folder or a GeoTIFF), from its header only."""
    header, _ = _header_file(study, entry)
    crs, bounds, _ = _footprint(header, study)
    return crs, bounds


def check_study_files(study) -> None:
    """Check a ``local`` study's files from their headers before anything long starts; DataError naming the fix.

    Every listed image must exist and open, hold the bands ``[images] band_map`` reads and map every
    study band, and lie near the study's CRS (a UTM zone at most one zone away, or inside the CRS's area
    of use); every polygon subarea must overlap a training image.
    """
    if study.source != "local":
        return
    training = []
    for key, entries in study.scenes.items():
        for entry in entries:
            header, _ = _header_file(study, entry)
            crs, bounds, count = _footprint(header, study)
            _check_band_map(study, header, count)
            _check_crs(study, header, crs, bounds)
            if key == "training":
                training.append((header, crs, bounds))
    _check_subareas_have_images(study, training)


__all__ = ["MAX_UTM_ZONE_OFFSET", "check_study_files", "image_footprint"]
