"""A period's acquisitions: the table, a loader per source, the mask of clear pixels, and which are chosen (§III-D).

`glacier_utils.period_mapping.map_period` maps a period of any study from two things: a table of
the period's acquisitions (one row each: ``id``, ``wrs2`` the frame, ``date``, ``area`` the subarea
of the frame, optional ``cloud_cover`` %, and whatever the loader needs, such as ``path``) and a
**loader**, a callable that returns the contract scene of one row (``dn`` (band, y, x) on the
study grid, plus ``qa``, a Collection 2 QA_PIXEL band, or ``clear``, a boolean usable-pixel mask,
when the source has one). Three sources plug in:

* the simulator: `synthetic.period_acquisitions` lists the archive, `SyntheticLoader` simulates a
  row and adds the QA_PIXEL band `synthetic.level1.qa_pixel` computes for it;
* Level-1 folders: `level1_acquisitions` lists them from their MTL files, `Level1Loader` reads the
  bands and QA_PIXEL (`glacier_utils.io.landsat`);
* plain GeoTIFFs: a table the user writes (``path``, optional ``mask``: a GeoTIFF, 1 = usable),
  `GeoTiffLoader` reads them (`glacier_utils.io.geotiff`).

Loaders are picklable and small, so that a `dask.distributed` worker can run them: the simulator's
travels as its profile and seed and rebuilds the region once per process.

The paper combined "the less cloudy and less snowy" scenes of each period (§III-D, Table IV).
Choosing is two steps: `prescreen` ranks every acquisition of a frame by its metadata (cloud
cover, days from the end of the ablation season) and keeps ``k + extra`` candidates;
`score_scene` loads a candidate and measures the cloud over the reference glaciers (`clear_pixels`:
fill, cloud, dilated cloud, cloud shadow, cirrus and thin cloud from the QA band, decoded by
`glacier_utils.io.landsat.qa_masks`) and the snow in a ring just outside their outlines (NDSI, as
DL4GAM ranks images); `choose` keeps the ``k`` best per frame and says why for every row.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from scipy import ndimage

from glacier_utils import config, synthetic
from glacier_utils.errors import DataError
from glacier_utils.io import geotiff, landsat
from glacier_utils.synthetic import level1

#: Columns every acquisitions table has (``cloud_cover`` is optional: NaN where unknown).
ACQUISITION_COLUMNS: tuple[str, ...] = ("id", "wrs2", "date", "area")
#: Megabytes of scenes a `SyntheticLoader` keeps per process, so that scoring then predicting an
#: acquisition simulates it once (a quick frame is 1-2 MB, a paper-size one about 60 MB).
SCENE_CACHE_MB = 512

#: Acquisitions fused per frame and period: two keep notebook 05 near three minutes on two CPU cores
#: (a third was no better on one of the two development seeds; see the book's time-series methods).
DEFAULT_K = 2
#: Acquisitions per frame scored on their pixels beyond the ``k`` that will be chosen.
EXTRA_CANDIDATES = 1
#: Metadata cloud cover (%) above which an acquisition is not even loaded.
MAX_CLOUD_COVER = 70.0
#: (month, day) of the end of the ablation season, when seasonal snow is least (THR: late August).
SEASON_END: tuple[int, int] = (8, 31)
#: Days from the season's end that weigh as much in the score as a fully cloudy or snowy ring.
SEASON_SCALE_DAYS = 90.0
#: The ring just outside the reference outlines where off-glacier snow is measured: from 1 to 4 px (30-120 m).
RING_PX: tuple[int, int] = (1, 4)
#: NDSI = (green - SWIR1) / (green + SWIR1) above which a ring pixel is snow (Dozier 1989; Hall et al. 1995).
NDSI_SNOW = 0.4
#: Mapped ice farther than this from every reference glacier is not glacier: the search area around
#: the reference inventory (DL4GAM restricts its predictions to a buffer around the RGI outlines).
#: 600 m is 35 years of fast THR tongue retreat (10-20 m a-1); the paper removed such snowfields by hand.
SEARCH_M = 600.0
#: Cloud confidence (QA bits) from which a pixel counts as cloud, besides the cloud flag. CFMask flags
#: only thick cloud; thin cloud and fog (medium confidence) hide ice from the network, which then calls
#: it ice-free, while a masked pixel is filled from the other periods (`glacier_utils.gap_filling`).
CLOUD_CONFIDENCE: str | None = "medium"
#: Default of every ``cloud_confidence`` argument: `CLOUD_CONFIDENCE` as set when the call is made.
CURRENT_SETTING = object()
#: A scored acquisition with less than this clear share of the reference zone is never chosen.
MIN_CLEAR_FRACTION = 0.05

Loader = Callable[[Mapping[str, Any]], xr.Dataset]


def check_acquisitions(acquisitions: pd.DataFrame, source: str = "acquisitions") -> pd.DataFrame:
    """The table with parsed dates and a ``cloud_cover`` column; DataError naming what is missing or repeated."""
    missing = [c for c in ACQUISITION_COLUMNS if c not in acquisitions.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; an acquisitions table has {list(ACQUISITION_COLUMNS)} "
                        "(+ cloud_cover, + what its loader reads, such as path)")
    repeated = acquisitions["id"][acquisitions["id"].duplicated()].tolist()
    if repeated:
        raise DataError(f"{source}: acquisition id(s) {repeated[:5]} appear more than once; ids name files on disk")
    out = acquisitions.reset_index(drop=True).copy()
    try:
        out["date"] = pd.to_datetime(out["date"])
    except (ValueError, TypeError) as err:
        raise DataError(f"{source}: column date must hold dates (YYYY-MM-DD): {err}") from None
    if "cloud_cover" not in out:
        out["cloud_cover"] = np.nan
    out["wrs2"] = out["wrs2"].astype(str)
    return out


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _region(profile: str, seed: int) -> synthetic.SyntheticRegion:
    return synthetic.generate_region(profile, seed=seed)


class SyntheticLoader:
    """Simulate an archive row (`synthetic.simulate_scene`) with its QA_PIXEL band (`level1.qa_pixel`).

    Pickles as (profile, seed): a worker process rebuilds the region once. Keeps the last
    ``cache_mb`` megabytes of scenes of this process, so that the scoring pass and the prediction pass of
    `period_mapping.map_period` simulate each acquisition once.
    """

    def __init__(self, region: synthetic.SyntheticRegion | str, seed: int | None = None,
                 cache_mb: float = SCENE_CACHE_MB):
        if isinstance(region, synthetic.SyntheticRegion):
            self.profile, self.seed = region.profile.name, region.seed
            self._region = region
        else:
            self.profile = config.get_profile(region).name
            self.seed = config.get_profile(region).data_seed if seed is None else int(seed)
            self._region = None
        self.cache_mb = float(cache_mb)
        self._cache: collections.OrderedDict[str, xr.Dataset] = collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def region(self) -> synthetic.SyntheticRegion:
        """The simulated region (built on first use in this process)."""
        if self._region is None:
            self._region = _region(self.profile, self.seed)
        return self._region

    def __reduce__(self):
        return (SyntheticLoader, (self.profile, self.seed, self.cache_mb))

    def __call__(self, row: Mapping[str, Any]) -> xr.Dataset:
        key = str(row["id"])
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        cloud = row.get("cloud_cover")
        scene = synthetic.simulate_scene(self.region, row["wrs2"], pd.Timestamp(row["date"]).date().isoformat(),
                                         row.get("sensor"), None if cloud is None or pd.isna(cloud) else float(cloud))
        qa = xr.DataArray(level1.qa_pixel(scene), dims=("y", "x"), attrs={"qa_kind": "collection2"})
        scene = scene.drop_vars(["label", "surface", "cloud"]).assign(qa=qa)
        with self._lock:
            self._cache[key] = scene
            while len(self._cache) > 1 and sum(s.nbytes for s in self._cache.values()) > self.cache_mb * 2**20:
                self._cache.popitem(last=False)
        return scene


# --------------------------------------------------------------------------------------------
# Level-1 folders and plain GeoTIFFs
# --------------------------------------------------------------------------------------------
def level1_acquisitions(folders: Iterable[str | os.PathLike], area_of: Mapping[str, str] | Callable[[str], str]
                        ) -> pd.DataFrame:
    """The acquisitions table of Level-1 folders from their MTL files (id, wrs2, date, area, cloud_cover, sensor, path).

    ``area_of``: the study subarea of a frame, a {wrs2: subarea} mapping or a function of the wrs2 id.
    """
    rows = []
    for folder in folders:
        folder = Path(folder)
        mtl = landsat.find_mtl(folder) if folder.is_dir() else folder
        if mtl is None or not Path(mtl).is_file():
            raise DataError(f"{folder}: no *_MTL.txt; list plain GeoTIFFs in a table for GeoTiffLoader instead")
        meta = landsat.mtl_scene_metadata(landsat.read_mtl(mtl), source=str(mtl))
        if "wrs2" not in meta:
            raise DataError(f"MTL {mtl} names no WRS_PATH/WRS_ROW: the frame of the acquisition is unknown")
        lookup = area_of.get if isinstance(area_of, Mapping) else area_of
        area = lookup(meta["wrs2"])
        if area is None:
            raise DataError(f"{folder}: frame {meta['wrs2']} belongs to none of the study's subareas")
        rows.append({"id": meta["product_id"] or Path(mtl).stem[:-4], "wrs2": meta["wrs2"], "date": meta["date"],
                     "area": area, "cloud_cover": meta.get("cloud_cover", np.nan), "sensor": meta["sensor"],
                     "path": str(Path(mtl).parent)})
    return check_acquisitions(pd.DataFrame(rows, columns=[*ACQUISITION_COLUMNS, "cloud_cover", "sensor", "path"]),
                              "Level-1 folders")


class Level1Loader:
    """Read a row's Level-1 folder (``path``): the bands (`landsat.read_scene`) and its QA band as ``qa``."""

    def __call__(self, row: Mapping[str, Any]) -> xr.Dataset:
        folder = Path(row["path"])
        scene = landsat.read_scene(folder, chunks=None)
        qa = landsat.read_qa(folder, chunks=None)
        if qa.shape != scene["dn"].shape[1:]:
            raise DataError(f"{folder}: the QA band is {qa.shape}, the bands {scene['dn'].shape[1:]}")
        return scene.assign(qa=(("y", "x"), np.asarray(qa.values), dict(qa.attrs)))


class GeoTiffLoader:
    """Read a row's plain GeoTIFF (``path``) with ``band_map``; a ``mask`` GeoTIFF (1 = usable) becomes ``clear``."""

    def __init__(self, band_map: Mapping[Any, Any], unit: str = "dn", sensor: str = "unknown"):
        self.band_map, self.unit, self.sensor = dict(band_map), unit, sensor

    def __call__(self, row: Mapping[str, Any]) -> xr.Dataset:
        scene = geotiff.read_geotiff_scene(row["path"], self.band_map, unit=self.unit, sensor=self.sensor,
                                           name=str(row["id"]), date=pd.Timestamp(row["date"]).date().isoformat())
        scene = scene.load()
        mask_path = row.get("mask")
        if isinstance(mask_path, (str, os.PathLike)) and str(mask_path):
            mask = geotiff.open_single_band(mask_path)
            if mask.shape != scene["dn"].shape[1:]:
                raise DataError(f"mask {mask_path}: {mask.shape} pixels, the image {row['path']} has "
                                f"{scene['dn'].shape[1:]}; the mask must share the image's grid")
            scene = scene.assign(clear=(("y", "x"), np.asarray(mask.values) == 1))
        return scene


# ----------------------------------------------------------------------------------------------
# 1. choose
# ----------------------------------------------------------------------------------------------
def season_days(dates, season_end: tuple[int, int] = SEASON_END) -> np.ndarray:
    """Days between each date and the end of the ablation season of its year (absolute)."""
    dates = pd.to_datetime(pd.Series(dates)).reset_index(drop=True)
    end = pd.to_datetime({"year": dates.dt.year, "month": season_end[0], "day": season_end[1]})
    return (dates - end).dt.days.abs().to_numpy()


def prescreen(acquisitions: pd.DataFrame, k: int = DEFAULT_K, extra: int = EXTRA_CANDIDATES, *,
              max_cloud: float = MAX_CLOUD_COVER, season_end: tuple[int, int] = SEASON_END) -> pd.DataFrame:
    """Rank every acquisition of each frame by metadata; the best ``k + extra`` become candidates (§III-D).

    Metadata score: cloud cover / 100 (0.5 where unknown) + days from the season's end /
    `SEASON_SCALE_DAYS`. Adds ``season_days``, ``meta_score``, ``meta_rank`` (1 = best),
    ``candidate`` and ``reason`` (why a row is not a candidate).
    """
    if k < 1 or extra < 0:
        raise ValueError(f"k={k}, extra={extra}: choose at least one acquisition per frame, extra >= 0")
    table = check_acquisitions(acquisitions)
    table["season_days"] = season_days(table["date"], season_end)
    cloud = table["cloud_cover"].astype(float)
    table["meta_score"] = cloud.fillna(50.0) / 100.0 + table["season_days"] / SEASON_SCALE_DAYS
    usable = ~(cloud > max_cloud)
    table["meta_rank"] = (table.assign(_s=np.where(usable, table["meta_score"], np.inf))
                          .groupby("wrs2")["_s"].rank(method="first").astype(int))
    table["candidate"] = usable & (table["meta_rank"] <= k + extra)
    table["reason"] = np.where(~usable, [f"cloud cover {c:.0f} % > {max_cloud:.0f} %" for c in cloud],
                               np.where(table["candidate"], "", [f"metadata rank {r} > {k + extra} candidates"
                                                                  for r in table["meta_rank"]]))
    return table


def cloud_confidence_in_force(cloud_confidence: str | None | object = CURRENT_SETTING) -> str | None:
    """The cloud confidence to mask from: ``cloud_confidence``, or `CLOUD_CONFIDENCE` for `CURRENT_SETTING`; checked.

    Tasks get the resolved value, so a setting made in the client also holds on dask workers.
    """
    value = CLOUD_CONFIDENCE if cloud_confidence is CURRENT_SETTING else cloud_confidence
    if value is not None and value not in landsat.CONFIDENCE_LEVELS:
        raise DataError(f"cloud_confidence={value!r}; choose low, medium, high or None")
    return value


def clear_pixels(scene: xr.Dataset, cloud_confidence: str | None | object = CURRENT_SETTING) -> np.ndarray:
    """Usable pixels of a scene: data, and no cloud, dilated cloud, cloud shadow or cirrus (QA) or the source's ``clear``.

    With a QA band that has cloud-confidence bits, a pixel whose cloud confidence is
    ``cloud_confidence`` or above also counts as cloud (None: only the cloud flag; by default
    `CLOUD_CONFIDENCE` as it is set when the call is made).
    """
    cloud_confidence = cloud_confidence_in_force(cloud_confidence)
    has_data = ~np.asarray(config.nodata_pixels(scene["dn"]))
    if "qa" in scene:
        qa = scene["qa"]
        kind = qa.attrs.get("qa_kind", "collection2")
        table = landsat.QA_BIT_TABLES[kind]
        masks = landsat.qa_masks(qa, kind)
        clear = np.asarray(masks["clear"])
        bits = np.asarray(qa.values).astype(np.uint16)
        if "dilated_cloud" in table:
            first, _ = table["dilated_cloud"]
            clear &= (bits >> first & 1) == 0
        if cloud_confidence is not None and "cloud_confidence" in table:
            first, count = table["cloud_confidence"]
            clear &= (bits >> first & ((1 << count) - 1)) < landsat.CONFIDENCE_LEVELS[cloud_confidence]
        return has_data & clear
    if "clear" in scene:
        return has_data & np.asarray(scene["clear"].values, bool)
    return has_data


def reference_zones(reference: gpd.GeoDataFrame, like: xr.Dataset, ring_px: tuple[int, int] = RING_PX
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(zone, ring) on a scene's (or any dataset's) grid: the reference glaciers dilated by the ring's outer edge, and the ring.

    Every acquisition of a frame shares its grid, so the answer is cached per process (by grid and inventory).
    """
    grid = like["dn"].isel(band=0) if "dn" in like else like[next(iter(like.data_vars))]
    shape = (grid.sizes["y"], grid.sizes["x"])
    key = (tuple(grid.rio.transform())[:6], shape, str(grid.rio.crs), tuple(ring_px), _token(reference))
    with _ZONE_LOCK:
        if key in _ZONES:
            return _ZONES[key]
    left, top = key[0][2], key[0][5]
    box = shapely.box(left, top + key[0][4] * shape[0], left + key[0][0] * shape[1], top)
    pad = max(ring_px) * abs(key[0][0])
    near = reference.to_crs(grid.rio.crs)
    geoms = [g for g in near.geometry[near.intersects(box.buffer(pad))] if g is not None and not g.is_empty]
    ice = rasterio.features.rasterize([(g, 1) for g in geoms], out_shape=shape, transform=grid.rio.transform(),
                                      fill=0, dtype="uint8").astype(bool) if geoms else np.zeros(shape, bool)
    inner, outer = ring_px
    zone = ndimage.binary_dilation(ice, iterations=outer) if outer else ice
    close = ndimage.binary_dilation(ice, iterations=inner) if inner else ice
    with _ZONE_LOCK:
        if len(_ZONES) >= 64:
            _ZONES.pop(next(iter(_ZONES)))
        _ZONES[key] = (zone, zone & ~close)
    return _ZONES[key]


def search_area(reference: gpd.GeoDataFrame, like: xr.Dataset, search_m: float = SEARCH_M) -> np.ndarray:
    """Pixels of a grid within ``search_m`` (Euclidean) of a reference glacier: where mapped ice may lie."""
    grid = like[next(iter(like.data_vars))] if "dn" not in like else like["dn"].isel(band=0)
    shape = (grid.sizes["y"], grid.sizes["x"])
    key = ("search", tuple(grid.rio.transform())[:6], shape, str(grid.rio.crs), float(search_m), _token(reference))
    with _ZONE_LOCK:
        if key in _ZONES:
            return _ZONES[key]
    burn = [(g, 1) for g in reference.to_crs(grid.rio.crs).geometry if g is not None and not g.is_empty]
    ice = rasterio.features.rasterize(burn, out_shape=shape, transform=grid.rio.transform(), fill=0,
                                      dtype="uint8").astype(bool) if burn else np.zeros(shape, bool)
    inside = ndimage.distance_transform_edt(~ice, sampling=abs(grid.rio.transform().a)) <= search_m
    with _ZONE_LOCK:
        _ZONES[key] = inside
    return inside


_ZONES: dict = {}
_ZONE_LOCK = threading.Lock()


def _token(reference: gpd.GeoDataFrame) -> str:
    """A content hash of an inventory's ids and outlines (a cache key that survives pickling)."""
    return dask.base.tokenize(list(reference["glacier_id"].astype(str)), shapely.to_wkb(reference.geometry.values).tolist(),
                              str(reference.crs))


def score_scene(scene: xr.Dataset, reference: gpd.GeoDataFrame, *, ring_px: tuple[int, int] = RING_PX,
                ndsi_snow: float = NDSI_SNOW, cloud_confidence: str | None | object = CURRENT_SETTING
                ) -> dict[str, float]:
    """Pixel scores of one acquisition: cloud over the reference zone, snow in the ring outside the outlines.

    ``cloud_fraction``: share of the zone's data pixels (the whole frame's where it holds no
    reference glacier) that are not clear; ``snow_fraction``:
    share of the ring's clear pixels with NDSI (TM bands 2 and 5) above ``ndsi_snow``; NaN if
    the ring has no clear pixel or the scene lacks either band (then `choose` weighs it neutrally).
    """
    zone, ring = reference_zones(reference, scene, ring_px)
    has_data = ~np.asarray(config.nodata_pixels(scene["dn"]))
    clear = clear_pixels(scene, cloud_confidence)
    in_zone = zone & has_data if (zone & has_data).any() else has_data  # no reference glacier: the whole frame
    cloud = 1.0 - float(clear[in_zone].mean()) if in_zone.any() else float("nan")
    bands = set(int(b) for b in scene["dn"]["band"].values)
    if not {2, 5} <= bands:  # no green or SWIR1 (a B/G/R/NIR study): no NDSI, so no snow score
        return {"cloud_fraction": cloud, "snow_fraction": float("nan"), "zone_pixels": int(in_zone.sum())}
    green = np.asarray(scene["dn"].sel(band=2).values, np.float32)[ring & clear]
    swir = np.asarray(scene["dn"].sel(band=5).values, np.float32)[ring & clear]
    with np.errstate(invalid="ignore", divide="ignore"):
        snow = float(np.mean((green - swir) / (green + swir) > ndsi_snow)) if green.size else float("nan")
    return {"cloud_fraction": cloud, "snow_fraction": snow, "zone_pixels": int(in_zone.sum())}


def choose(scores: pd.DataFrame, k: int = DEFAULT_K, *, min_clear: float = MIN_CLEAR_FRACTION) -> pd.DataFrame:
    """Keep the ``k`` best scored candidates per frame; add ``score``, ``chosen`` and a ``reason`` per row.

    Score (lower is better) = cloud fraction + snow fraction + season days / `SEASON_SCALE_DAYS`,
    where an unknown pixel score counts as 0.5. A candidate whose clear share of the glacier zone
    is under ``min_clear`` is left out, unless every candidate of its frame is (then the best one
    stays). Rows that were not candidates keep their reason.
    """
    table = scores.copy()
    cloud = table["cloud_fraction"].astype(float)
    snow = table["snow_fraction"].astype(float)
    table["score"] = np.where(table["candidate"], cloud.fillna(0.5) + snow.fillna(0.5)
                              + table["season_days"] / SEASON_SCALE_DAYS, np.nan)
    usable = table["candidate"] & ~(cloud > 1.0 - min_clear)
    # A frame whose every candidate hides its glaciers still takes its best one: its clear parts count.
    hopeless = ~usable.groupby(table["wrs2"]).transform("any") & table["candidate"]
    best = table[hopeless].sort_values("score", kind="stable").groupby("wrs2").head(1).index
    usable = usable | table.index.isin(best)
    rank = table.assign(_s=np.where(usable, table["score"], np.inf)).groupby("wrs2")["_s"].rank(method="first")
    table["rank"] = np.where(usable, rank, np.nan)
    table["chosen"] = usable & (rank <= k)
    reasons = []
    for row in table.itertuples():
        what = (f"cloud {100 * row.cloud_fraction:.0f} %, ring snow {100 * row.snow_fraction:.0f} %, "
                f"{row.season_days} d from season end") if row.candidate else ""
        if row.chosen:
            reasons.append(f"chosen (rank {int(row.rank)} of the frame): {what}")
        elif row.candidate and not usable[row.Index]:
            reasons.append(f"not chosen: clear share {100 * (1 - row.cloud_fraction):.0f} % < {100 * min_clear:.0f} % ({what})")
        elif row.candidate:
            reasons.append(f"not chosen: rank {int(row.rank)} > k={k} ({what})")
        else:
            reasons.append(f"not scored: {row.reason}")
    table["reason"] = reasons
    return table


#: Unseen ice-zone area (km²) of a frame that calls for a further acquisition (the RGI's smallest glacier).
MIN_GAP_KM2 = 0.01


def gap_fillers(scores: pd.DataFrame, frames: Mapping[str, xr.Dataset], reference: gpd.GeoDataFrame, *,
                min_gap_km2: float = MIN_GAP_KM2) -> pd.DataFrame:
    """The next acquisition of each frame whose fused map leaves reference-zone pixels unseen, with its reason.

    A frame has a gap where the zone around the reference glaciers (`acquisitions.RING_PX`) holds
    at least ``min_gap_km2`` of imaged pixels without a clear view; its best acquisition not yet
    chosen fills it: the best-scored candidate, else the best by metadata (overcast ones never).
    Returns those rows of ``scores`` with ``reason`` saying so.
    """
    rows, reasons = [], []
    for wrs2, frame in frames.items():
        zone, _ = reference_zones(reference, frame)
        pixel_km2 = abs(frame.rio.transform().a * frame.rio.transform().e) / 1e6
        unseen = float((zone & np.asarray(frame["footprint"].values)
                        & (np.asarray(frame["n_clear"].values) == 0)).sum()) * pixel_km2
        if unseen < min_gap_km2:
            continue
        spare = scores[(scores["wrs2"] == wrs2) & ~scores["chosen"]
                       & ~scores["reason"].str.contains("cloud cover|clear share", regex=True)]
        if spare.empty:
            continue
        best = spare.sort_values(["rank", "meta_rank"], na_position="last").index[0]
        rows.append(best)
        reasons.append(f"chosen to fill gaps ({unseen:.2f} km² of the glacier zone unseen): metadata rank "
                       f"{int(scores.loc[best, 'meta_rank'])}")
    return scores.loc[rows].assign(reason=reasons)


__all__ = ["ACQUISITION_COLUMNS", "CLOUD_CONFIDENCE", "CURRENT_SETTING", "cloud_confidence_in_force", "SCENE_CACHE_MB", "Loader", "check_acquisitions", "SyntheticLoader",
           "level1_acquisitions", "Level1Loader", "GeoTiffLoader",
           "DEFAULT_K", "EXTRA_CANDIDATES", "MAX_CLOUD_COVER", "SEASON_END", "SEASON_SCALE_DAYS", "RING_PX", "NDSI_SNOW",
           "SEARCH_M", "MIN_CLEAR_FRACTION", "season_days", "prescreen", "clear_pixels", "reference_zones",
           "search_area", "score_scene", "choose", "MIN_GAP_KM2", "gap_fillers"]
