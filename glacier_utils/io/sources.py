"""Where the study's scenes come from: the synthetic region, Landsat folders on disk, or a STAC catalogue.

Notebook 01's ``source`` parameter picks one of these. Every path returns scenes in the shared
contract (``dn`` + ``label`` on the study grid with WRS-2, area, date and sensor attributes), so the
tiling and everything after it never needs to know where the pixels came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio.warp
import shapely
import xarray as xr
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from tqdm.auto import tqdm

from glacier_utils import config, synthetic
from glacier_utils.errors import DataError
from glacier_utils.io import geotiff, inventory, landsat, radiometry, stac, study_files

SOURCES: tuple[str, ...] = ("synthetic", "local", "stac")


def synthetic_training_scenes(profile: str | config.Profile = "quick", seed: int | None = None) -> list[xr.Dataset]:
    """The synthetic region's Table I acquisitions (the images the paper trained on)."""
    region = synthetic.generate_region(profile, seed=seed)  # seed None: the profile's data seed
    return [synthetic.simulate_scene(region, wrs2, date)
            for wrs2, date in tqdm(synthetic.training_acquisitions(region), desc="simulating scenes", leave=False)]


def _with_area(scene: xr.Dataset, areas: Mapping[str, str] | None, origin: str) -> xr.Dataset:
    """Set the scene's area group from ``areas`` (WRS-2 -> area) or the paper's grouping; error if neither knows it."""
    wrs2 = str(scene.attrs.get("wrs2", ""))
    if areas and wrs2 in areas:
        scene.attrs["area"] = areas[wrs2]
    known = set(areas.values()) if areas else set(config.AREAS)
    if scene.attrs.get("area") not in known:
        raise DataError(
            f"{origin}: WRS-2 {wrs2 or '(unknown)'} is not one of the paper's 13 tiles, so its area group "
            f"(training / testing_1..3) is unknown; pass areas={{'{wrs2 or 'PPPRRR'}': 'training', ...}}"
        )
    return scene


def read_glaciers(inventory_path: str | os.PathLike):
    """Read and validate a glacier inventory once, for labelling every scene of a source."""
    glaciers, _ = inventory.validate_inventory(inventory.read_inventory(inventory_path))
    return glaciers


def label_with_inventory(scene: xr.Dataset, glaciers, *, all_touched: bool = False) -> xr.Dataset:
    """Put ``scene`` on the study grid and rasterise the glacier outlines (a GeoDataFrame) onto it as ``label``."""
    if scene["dn"].rio.crs is None or scene["dn"].rio.crs.to_string() != config.STUDY_CRS:
        scene = landsat.reproject_scene(scene, config.STUDY_CRS)
    return inventory.label_scene(scene, glaciers, all_touched=all_touched)  # rasterising reprojects the outlines


def local_scenes(scene_paths: Iterable[str | os.PathLike], inventory_path: str | os.PathLike, *,
                 areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """Landsat Level-1 folders (``*_B<n>.TIF`` + MTL) on disk, labelled with a glacier inventory file."""
    paths = [Path(p) for p in scene_paths]
    if not paths:
        raise ValueError("source='local' needs scene_paths: one Landsat Level-1 folder per acquisition")
    if not inventory_path or not Path(inventory_path).exists():
        raise DataError(f"source='local' needs an existing glacier inventory file, got {inventory_path!r}")
    glaciers = read_glaciers(inventory_path)
    scenes = []
    for path in tqdm(paths, desc="reading scenes", leave=False):
        scene = landsat.read_scene(path, require_mtl=True, chunks=None)
        scenes.append(_with_area(label_with_inventory(scene, glaciers), areas, str(path)))
    return scenes


def stac_scenes(catalog: str, wrs2_ids: Sequence[str], inventory_path: str | os.PathLike, *,
                start: str = "2006-01-01", end: str = "2010-12-31", max_cloud: float = 30.0,
                areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """The least-cloudy acquisition per WRS-2 tile in a date window from a STAC catalogue (URL or local file)."""
    source = stac.open_catalog(catalog)
    glaciers = read_glaciers(inventory_path)
    scenes = []
    for wrs2 in tqdm(list(wrs2_ids), desc="searching STAC", leave=False):
        path, row = int(str(wrs2)[:3]), int(str(wrs2)[3:])
        items = stac.search(source, path, row, start, end, max_cloud=max_cloud)
        if not items:
            raise DataError(f"{catalog}: no item for WRS-2 {wrs2} between {start} and {end} under {max_cloud}% cloud")
        best = min(items, key=lambda item: item.properties.get("eo:cloud_cover", float("inf")))
        scene = stac.load_item(best, chunks=None)
        scenes.append(_with_area(label_with_inventory(scene, glaciers), areas, f"{catalog} item {best.id}"))
    return scenes


def training_scenes(source: str = "synthetic", profile: str | config.Profile = "quick", seed: int | None = None,
                    *, scene_paths: Sequence[str] = (), inventory_path: str | None = None,
                    stac_catalog: str | None = None, wrs2_ids: Sequence[str] = config.WRS2_IDS,
                    areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """The labelled training/testing scenes of notebook 01 from the chosen ``source``."""
    if source == "synthetic":
        return synthetic_training_scenes(profile, seed)
    if source == "local":
        return local_scenes(scene_paths, inventory_path, areas=areas)
    if source == "stac":
        if not stac_catalog:
            raise ValueError("source='stac' needs stac_catalog: a STAC API URL or a local catalog.json")
        return stac_scenes(stac_catalog, wrs2_ids, inventory_path, areas=areas)
    raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")


# --------------------------------------------------------------------------------------------
# A user's study (glacier_utils.study.Study): its images, on its grid, labelled, with its subareas
# --------------------------------------------------------------------------------------------
def study_grid_crs(study, scenes: Sequence[xr.Dataset]) -> str:
    """The study's CRS: as given, or for ``crs = "auto"`` the WGS 84 UTM zone of the scenes' centre."""
    if study.crs != "auto":
        return study.crs
    centres = []
    for scene in scenes:
        left, bottom, right, top = rasterio.warp.transform_bounds(scene["dn"].rio.crs, "EPSG:4326",
                                                                  *scene["dn"].rio.bounds())
        centres.append(((left + right) / 2, (bottom + top) / 2))
    lon, lat = np.mean(centres, axis=0)
    found = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not found:
        raise DataError(f"study {study.name!r}: no UTM zone at lon {lon:.2f}, lat {lat:.2f}; set crs in the study file")
    return f"EPSG:{found[0].code}"


def read_study_image(study, entry) -> xr.Dataset:
    """One image of a study (a Level-1 folder or a plain GeoTIFF), with only the study's bands."""
    images = study.images
    if images is None or images.kind == "level1":
        sensor = None if images is None or images.sensor == "unknown" else images.sensor
        scene = landsat.read_scene(entry.path, sensor=sensor, chunks=None)
        if scene.attrs.get("sensor") == "OLI":  # the networks learned TM DN; needs band 6, so before the band cut
            scene = radiometry.tm_equivalent_dn(scene)
    else:
        paths = entry.path
        if images.band_files:
            if not entry.path.is_dir():
                raise DataError(f"{entry.path}: images.band_files needs each scene to be a folder of band files")
            paths = []
            for pattern in images.band_files:
                matches = sorted(entry.path.glob(pattern))
                if len(matches) != 1:
                    raise DataError(f"{entry.path}: band file pattern {pattern!r} matches {len(matches)} files, not 1")
                paths.append(matches[0])
        scene = geotiff.read_geotiff_scene(paths, images.band_map, unit=images.unit, date=entry.date,
                                           sensor=images.sensor, name=entry.path.stem)
    if entry.date is not None:
        scene.attrs["date"] = entry.date
    present = [int(b) for b in scene["dn"]["band"].values]
    missing = [b for b in study.bands if b not in present]
    if missing:
        raise DataError(f"{entry.path}: the study uses TM-equivalent band(s) {missing}, which this image lacks "
                        f"(it has {present}); map them in [images] band_map or drop them from bands")
    return scene.assign(dn=scene["dn"].sel(band=list(study.bands)))


def subarea_lookup(study, crs: str):
    """A function (bounds in ``crs``, WRS-2 id) -> the study subarea holding the footprint's centre (or its frame); None if none."""
    if study.subarea_polygons is None:
        frames = {w: name for name, ids in study.subarea_frames.items() for w in ids}

        def by_frame(bounds, wrs2: str = "") -> str | None:
            return frames.get(str(wrs2).replace(" ", ""))

        return by_frame
    path, column = study.subarea_polygons
    polygons = gpd.read_file(path)
    if column not in polygons.columns:
        raise DataError(f"subareas file {path}: no column {column!r} (it has {list(polygons.columns)}); "
                        "set subareas.column in the study file")
    polygons = polygons.to_crs(crs)

    def by_polygon(bounds, wrs2: str = "") -> str | None:
        left, bottom, right, top = bounds
        hits = polygons[polygons.contains(shapely.Point((left + right) / 2, (bottom + top) / 2))]
        return str(hits[column].iloc[0]) if len(hits) else None

    return by_polygon


def study_scenes(study, key: str = "training") -> list[xr.Dataset]:
    """The labelled images of a study for ``key`` ("training" or a period label), on the study's grid.

    Each image is read (Level-1 or plain GeoTIFF), cut to the study's bands, warped to the study CRS,
    labelled with the study's inventory and given its subarea (WRS-2 group, or the subarea polygon
    holding the image's centre). Images that lie in no subarea are an error naming them.
    """
    if study.source != "local":
        raise ValueError(f"study {study.name!r} has source {study.source!r}; study_scenes reads source 'local'")
    entries = study.scenes.get(key.replace("-", "–"))
    if not entries:
        raise DataError(f"study {study.name!r} ({study.path}): no images under scenes.{key!r}")
    raw = [read_study_image(study, entry) for entry in tqdm(entries, desc=f"reading {key}", leave=False)]
    crs = study_grid_crs(study, raw)
    glaciers = read_glaciers(study.inventory)
    subarea_of = subarea_lookup(study, crs)
    scenes = []
    for entry, scene in zip(entries, raw):
        if scene["dn"].rio.crs is None or scene["dn"].rio.crs.to_string() != crs:
            scene = landsat.reproject_scene(scene, crs, study.pixel_size_m)
        area = subarea_of(scene["dn"].rio.bounds(), scene.attrs.get("wrs2", ""))
        if area is None:
            raise DataError(f"{entry.path} lies in none of study {study.name!r}'s subareas {list(study.subareas)}: "
                            "extend the subareas or drop the image")
        scene = inventory.label_scene(scene, glaciers, on_no_overlap="warn")  # an ice-free image is valid
        scene.attrs["area"] = area
        scenes.append(scene)
    return scenes


def study_training_scenes(study, profile: str | config.Profile = "quick", data_seed: int | None = None) -> list[xr.Dataset]:
    """Notebook 01's labelled scenes of any study: the simulator, its files on disk, or its STAC catalogue.

    The THR's simulated region comes from ``data_seed``; a ``local`` study reads the images listed
    under ``scenes.training`` of its file; a ``stac`` study searches its catalogue for every WRS-2
    frame of its subareas. Every scene carries its study subarea in ``attrs["area"]``.
    """
    if study.source == "synthetic":
        return synthetic_training_scenes(profile, data_seed)
    if study.source == "local":
        study_files.check_study_files(study)  # headers only: seconds, before minutes of reading
        return study_scenes(study, "training")
    settings = dict(study.stac)
    catalog = settings.pop("catalog", "")
    if not catalog:
        raise DataError(f"study {study.name!r} ({study.path}): source 'stac' needs [stac] catalog = a STAC API URL "
                        "or a local catalog.json")
    frames = {w: name for name, ids in study.subarea_frames.items() for w in ids}
    window = {k: settings[k] for k in ("start", "end", "max_cloud") if k in settings}
    return stac_scenes(catalog, list(frames), study.inventory, areas=frames, **window)
