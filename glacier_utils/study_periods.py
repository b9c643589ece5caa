"""A study's periods as the time series maps them (§III-D): acquisitions, loader, reference inventory, intervals.

`glacier_utils.period_mapping.map_period` maps one period from a table of acquisitions and a loader
(`glacier_utils.acquisitions`). The simulator lists its own archive (`synthetic.period_acquisitions`);
a study of files lists each period's images under ``[scenes]`` of its study file, and this module turns
them into the same table and loader:

* `study_acquisitions`: one row per image of a period, from file headers and MTLs only (no pixels):
  its frame (the MTL's WRS-2 id; for a plain GeoTIFF, the centre of its footprint), date, cloud
  cover where the MTL gives one, and its subarea (the study's WRS-2 group, or the subarea polygon
  holding the footprint's centre, as notebook 01 assigns training images);
* `StudyLoader`: reads a row's image as notebook 01 reads the training images
  (`glacier_utils.io.sources.read_study_image`: the study's bands, OLI harmonised to TM DN), warps
  it to the study grid and adds its QA_PIXEL band (Level-1) so clouds and shadows are masked;
* `reference_inventory`: the study's inventory on the study grid, cut to the glaciers the images
  see, with the subarea of each glacier (the outlines carry these glaciers' ids);
* `change_intervals` and `mid_years`: Table V(b)'s three intervals and Fig. 9's time axis for any
  list of periods (the paper's 1986–2003, 2003–2021 and 1986–2021 for the THR).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.enums
import rasterio.warp
import shapely
import xarray as xr

from glacier_utils import acquisitions
from glacier_utils.errors import DataError
from glacier_utils.io import landsat, sources, study_files
from glacier_utils.study import SceneEntry, Study, load_study

#: Columns of `study_acquisitions` beyond `acquisitions.ACQUISITION_COLUMNS`: the footprint on the study grid.
FOOTPRINT_COLUMNS: tuple[str, ...] = ("left", "bottom", "right", "top")


# --------------------------------------------------------------------------------------------
# Periods: Table V(b)'s intervals and Fig. 9's years for any study
# --------------------------------------------------------------------------------------------
def change_intervals(periods: Sequence[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Table V(b)'s intervals for any periods: first to middle, middle to last, first to last (period indices).

    Labelled by years as the paper labels its intervals ("1986–2003": from the first year of the first
    period to the last year of the middle one). The middle period is number ``(n - 1) // 2``, the
    paper's 2001–2003 for its twelve periods. Two periods give only first to last; one gives none.
    """
    periods = [tuple(map(int, p)) for p in periods]
    n = len(periods)
    if n < 2:
        return {}
    first, middle, last = 0, (n - 1) // 2, n - 1

    def label(a: int, b: int) -> str:
        return f"{periods[a][0] if a == 0 else periods[a][1]}–{periods[b][1]}"

    spans = [(first, middle), (middle, last)] if 0 < middle < last else []
    return {label(a, b): (a, b) for a, b in [*spans, (first, last)]}


def mid_years(periods: Sequence[tuple[int, int]]) -> dict[int, float]:
    """Period index -> its middle year (1987.0 for 1986–1988): Fig. 9's time axis."""
    return {i: (int(a) + int(b)) / 2.0 for i, (a, b) in enumerate(periods)}


def period_of_date(periods: Sequence[tuple[int, int]], date) -> int | None:
    """Index of the period whose years hold ``date`` (None when none does)."""
    year = pd.Timestamp(date).year
    return next((i for i, (a, b) in enumerate(periods) if a <= year <= b), None)


# --------------------------------------------------------------------------------------------
# A study of files: each period's acquisitions and their loader
# --------------------------------------------------------------------------------------------
def _files_study(study: Study | str | os.PathLike) -> Study:
    study = load_study(study)
    if study.source != "local":
        raise DataError(f"study {study.name!r} ({study.path}) has source {study.source!r}: its periods are listed from "
                        "files (source 'local'); the simulator lists its own (synthetic.period_acquisitions)")
    return study


def frame_key(bounds: Sequence[float]) -> str:
    """The frame of an image without a WRS-2 id: its footprint's centre in km on the study grid, e.g. ``E425N5121``."""
    left, bottom, right, top = bounds
    return f"E{(left + right) / 2000:.0f}N{(bottom + top) / 2000:.0f}"


def _level1_facts(entry: SceneEntry) -> dict[str, Any]:
    folder = entry.path if entry.path.is_dir() else entry.path.parent
    mtl = landsat.find_mtl(folder)
    if mtl is None:
        raise DataError(f"{folder}: no *_MTL.txt; a study of Level-1 images needs each folder's MTL "
                        "(or set [images] kind = 'geotiff' with a band_map)")
    meta = landsat.mtl_scene_metadata(landsat.read_mtl(mtl), source=str(mtl))
    return {"id": meta["product_id"] or mtl.stem[:-4], "wrs2": meta.get("wrs2", ""), "date": meta["date"],
            "cloud_cover": meta.get("cloud_cover", np.nan), "sensor": meta["sensor"], "path": str(folder)}


def study_acquisitions(study: Study | str | os.PathLike, period: int, crs: str) -> pd.DataFrame:
    """The acquisitions table of one period of a study of files (`acquisitions.ACQUISITION_COLUMNS` + more).

    Read from headers and MTLs only. Columns: id, wrs2 (the frame: the MTL's WRS-2 id, or
    `frame_key` of a plain GeoTIFF), date, area (the subarea), cloud_cover (NaN without an MTL),
    sensor, path, and the footprint's left, bottom, right, top in ``crs``. DataError naming the study
    file when the period has no image or an image lies in no subarea.
    """
    study = _files_study(study)
    if not 0 <= int(period) < len(study.periods):
        raise ValueError(f"period={period}: study {study.name!r} has periods 0..{len(study.periods) - 1}")
    label = study.period_labels[int(period)]
    entries = study.scenes.get(label, ())
    if not entries:
        raise DataError(f"study file {study.path}: no images under [scenes] {label!r}; list the period's images there")
    subarea_of = sources.subarea_lookup(study, crs)
    geotiff = study.images is not None and study.images.kind == "geotiff"
    rows = []
    for entry in entries:
        image_crs, bounds = study_files.image_footprint(study, entry)
        bounds = tuple(rasterio.warp.transform_bounds(image_crs, crs, *bounds))
        if geotiff:
            facts = {"id": entry.path.stem, "wrs2": frame_key(bounds), "date": entry.date, "cloud_cover": np.nan,
                     "sensor": study.images.sensor, "path": str(entry.path)}
        else:
            facts = _level1_facts(entry)
            facts["wrs2"] = facts["wrs2"] or frame_key(bounds)
            if entry.date is not None:
                facts["date"] = entry.date
        area = subarea_of(bounds, facts["wrs2"])
        if area is None:
            raise DataError(f"{entry.path} (period {label} of study file {study.path}) lies in none of the subareas "
                            f"{list(study.subareas)}: extend the subareas or drop the image")
        rows.append({**facts, "area": area, **dict(zip(FOOTPRINT_COLUMNS, bounds))})
    table = pd.DataFrame(rows)
    repeated = table["id"][table["id"].duplicated()].tolist()
    if repeated:
        raise DataError(f"study file {study.path}: image(s) {repeated} listed twice under [scenes] {label!r}")
    return acquisitions.check_acquisitions(table, f"period {label} of study file {study.path}")


def footprints(table: pd.DataFrame, crs: str) -> gpd.GeoDataFrame:
    """One footprint polygon per frame of acquisitions tables (`study_acquisitions`), with its subarea."""
    frames = table.drop_duplicates("wrs2")
    boxes = [shapely.box(*b) for b in frames[list(FOOTPRINT_COLUMNS)].to_numpy(float)]
    return gpd.GeoDataFrame({"wrs2": frames["wrs2"].to_numpy(), "area": frames["area"].to_numpy()},
                            geometry=boxes, crs=crs)


class StudyLoader:
    """Read an acquisition of a study of files on the study grid: its bands, and QA_PIXEL as ``qa`` (Level-1).

    The same reader as notebook 01's (`sources.read_study_image`), so a period's image reaches the
    network as the training images did. Picklable (it holds the study and the CRS), so a
    `dask.distributed` worker can run it.
    """

    def __init__(self, study: Study | str | os.PathLike, crs: str):
        self.study, self.crs = _files_study(study), str(crs)

    def __call__(self, row: Mapping[str, Any]) -> xr.Dataset:
        path = Path(row["path"])
        date = pd.Timestamp(row["date"]).date().isoformat()
        scene = sources.read_study_image(self.study, SceneEntry(path, date))
        native = scene["dn"].rio.crs
        if native is None or native.to_string() != self.crs or abs(scene.rio.resolution()[0]) != self.study.pixel_size_m:
            scene = landsat.reproject_scene(scene, self.crs, self.study.pixel_size_m)
        scene.attrs.update(wrs2=str(row["wrs2"]), date=date)
        if self.study.images is not None and self.study.images.kind == "geotiff":
            return scene
        qa = landsat.read_qa(path, chunks=None)
        if qa.shape != scene["dn"].shape[1:] or qa.rio.crs.to_string() != self.crs:
            # nearest neighbour keeps the bits; pixels the warp invents are fill (bit 0)
            qa = qa.rio.write_nodata(1, encoded=False).rio.reproject_match(
                scene["dn"], resampling=rasterio.enums.Resampling.nearest)
        return scene.assign(qa=(("y", "x"), np.asarray(qa.values), dict(qa.attrs)))


# --------------------------------------------------------------------------------------------
# The reference inventory of a study of files
# --------------------------------------------------------------------------------------------
def reference_inventory(study: Study | str | os.PathLike, crs: str, frames: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The study's inventory on its grid: the glaciers that touch the frames, each with its subarea.

    ``frames``: `footprints` of the periods' acquisitions. A glacier's subarea is the subarea polygon
    (or, for WRS-2 groups, the frame's subarea) holding its representative point; glaciers whose
    point lies in none are kept with the subarea of the frame they overlap most. Columns: those of
    `glacier_utils.io.inventory.read_inventory` (``glacier_id``, ``area_km2``, ``source_date``, …) and ``subarea``.
    """
    study = _files_study(study)
    glaciers = sources.read_glaciers(study.inventory).to_crs(crs)
    seen = glaciers[glaciers.intersects(shapely.union_all(frames.geometry.to_numpy()))].reset_index(drop=True)
    if seen.empty:
        raise DataError(f"inventory {study.inventory} (study file {study.path}) has no glacier inside the periods' "
                        "images: is it the inventory of this region, in the CRS its file declares?")
    points = seen.representative_point()
    if study.subarea_polygons is not None:
        path, column = study.subarea_polygons
        polygons = gpd.read_file(path).to_crs(crs)
        owner = gpd.sjoin(gpd.GeoDataFrame(geometry=points, crs=crs), polygons[[column, "geometry"]],
                          predicate="within", how="left")
        subarea = owner[~owner.index.duplicated()][column].reindex(seen.index)
    else:
        subarea = pd.Series(np.nan, index=seen.index, dtype=object)
    overlap = gpd.overlay(seen[["glacier_id", "geometry"]].assign(_row=seen.index), frames[["area", "geometry"]],
                          how="intersection", keep_geom_type=True)
    largest = overlap.assign(_a=overlap.area).sort_values("_a", ascending=False).drop_duplicates("_row")
    by_frame = largest.set_index("_row")["area"].reindex(seen.index)
    seen["subarea"] = subarea.where(subarea.notna(), by_frame).astype(str).to_numpy()
    seen["area_km2"] = seen.area / 1e6  # on the study grid, as the mapped outlines
    seen.attrs["source"] = str(study.inventory)
    return seen


def inventory_period(reference: gpd.GeoDataFrame, periods: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """(period, year): the period nearest the inventory's median source year (by mid-year), and that year.

    None when the inventory has no dates. Table VI sets the mapped areas of that period beside the
    inventory's; the caption says how many years apart they are.
    """
    dates = pd.to_datetime(reference["source_date"], errors="coerce").dropna() if "source_date" in reference else []
    if len(dates) == 0:
        return None
    year = int(dates.sort_values().iloc[len(dates) // 2].year)
    middle = mid_years(periods)
    return min(middle, key=lambda p: (abs(middle[p] - year), p)), year


def subarea_labels(study: Study) -> dict[str, str]:
    """Subarea key -> label, with ``total`` the whole study (the THR for the paper's)."""
    return {**study.subarea_labels, "total": "THR" if study.name == "thr" else "Whole study"}


__all__ = ["FOOTPRINT_COLUMNS", "change_intervals", "mid_years", "period_of_date", "frame_key", "study_acquisitions",
           "footprints", "StudyLoader", "reference_inventory", "inventory_period", "subarea_labels"]
