"""A reference glacier inventory of the synthetic region: the true outlines of one period, one id per glacier.

The paper checked its outlines against earlier inventories (the SCGI, §II-A, Table VI), and a
per-glacier change needs outlines that carry the id of a reference glacier. The simulator has no
such inventory, so `reference_inventory` makes one from its truth, the way an inventory is drawn:
the ice of one period (``region.glacier_mask``) is cut into glaciers at the **drainage divides of
the ice surface**. Each glacier is the ice that drains to one low point: a watershed of the
smoothed elevation (the ice surface is smoother than its bed, `SURFACE_SMOOTH_PX`) from its
regional minima deeper than `DIVIDE_DEPTH_M`; basins smaller than ``min_area_km2`` are merged into
the neighbour they drain into, and ice bodies without any minimum keep one id each (their
connected component). The result has the common columns of `glacier_utils.io.inventory`
(``glacier_id`` ... ``inventory``) plus ``subarea``, on the study grid (EPSG:32646).

`true_outlines` polygonises the truth of a period per subarea, in the outline schema: its 15 m
buffer is the floor against which the time series' stated uncertainty is judged.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage
from shapely.geometry import shape
from skimage import morphology, segmentation

from glacier_utils import config, outlines
from glacier_utils.synthetic.region import SyntheticRegion, _check_period

#: Gaussian smoothing (px) of the elevation before the divides are drawn: the ice surface
#: generalises its bed over about an ice thickness (as the simulator's glacier slopes do).
SURFACE_SMOOTH_PX = 3.0
#: A low point of the ice surface starts its own glacier when it lies this many metres below the
#: divide to its neighbour (h-minima depth): shallower hollows are noise on one glacier.
DIVIDE_DEPTH_M = 40.0
#: Basins below this area (km²) are merged into a neighbour: the RGI's smallest glacier.
MIN_GLACIER_KM2 = 0.01
#: Columns of the reference inventory, in order (the common inventory columns + subarea).
INVENTORY_COLUMNS: tuple[str, ...] = ("glacier_id", "glims_id", "name", "area_km2", "source_date",
                                      "source_image", "inventory", "subarea")


def glacier_basins(ice: np.ndarray, elevation: np.ndarray, *, min_pixels: int = 1,
                   smooth_px: float = SURFACE_SMOOTH_PX, depth_m: float = DIVIDE_DEPTH_M) -> np.ndarray:
    """Label (int32, 0 = no ice) of each ice pixel's glacier: its drainage basin on the smoothed surface.

    Basins are seeded at the surface's regional minima deeper than ``depth_m`` and flooded by a
    watershed restricted to the ice; basins under ``min_pixels`` lose their seed (their ice floods
    from a neighbour); ice with no seed at all is labelled by 4-connected component.
    """
    ice = np.asarray(ice, bool)
    surface = ndimage.gaussian_filter(np.asarray(elevation, np.float64), smooth_px)
    markers = _seeds(ice, surface, depth_m)
    labels = np.zeros(ice.shape, np.int32)
    for _ in range(8):  # merge small basins: drop their seeds and flood again (converges in a few rounds)
        labels = segmentation.watershed(surface, markers, mask=ice, connectivity=1) if markers.any() else labels * 0
        sizes = np.bincount(labels.ravel(), minlength=markers.max() + 1)
        small = np.flatnonzero(sizes < min_pixels)
        small = small[(small > 0) & np.isin(small, markers)]
        if small.size == 0 or small.size == np.unique(markers[markers > 0]).size:
            break
        markers = np.where(np.isin(markers, small), 0, markers)
    orphans, n_orphans = ndimage.label(ice & (labels == 0))  # ice bodies without a seed
    labels = np.where(orphans > 0, orphans + labels.max(), labels)
    present = np.flatnonzero(np.bincount(labels.ravel()))
    dense = np.zeros(labels.max() + 1, np.int32)
    dense[present] = np.arange(len(present), dtype=np.int32) + (present[0] != 0)  # 0 stays 0; ids 1..n, no gaps
    return dense[labels]


def _seeds(ice: np.ndarray, surface: np.ndarray, depth_m: float) -> np.ndarray:
    """Labelled regional minima of the ice surface deeper than ``depth_m``, found ice body by ice body."""
    bodies, _ = ndimage.label(ice)
    seeds = np.zeros(ice.shape, bool)
    for i, box in enumerate(ndimage.find_objects(bodies), start=1):
        inside = bodies[box] == i
        crop = np.where(inside, surface[box], surface[box].max() + depth_m)
        seeds[box] |= morphology.h_minima(crop, depth_m).astype(bool) & inside
    return ndimage.label(seeds)[0]


def reference_inventory(region: SyntheticRegion, period: int = 0, *,
                        min_area_km2: float = MIN_GLACIER_KM2) -> gpd.GeoDataFrame:
    """The region's glaciers in one period as an inventory: true outlines split at ice divides (§II-A, Table VI).

    One row per glacier, ids ``SYN<seed>-<nnnn>`` numbered from the north-west in raster order;
    ``subarea`` is the subarea owning most of the glacier's pixels (``region.area_index``);
    ``source_date`` the period's middle year (1 July). Glaciers below ``min_area_km2`` merge into a
    neighbour (or, isolated, are dropped as the RGI drops them).
    """
    _check_period(period)
    px_km2 = config.PIXEL_SIZE_M ** 2 / 1e6
    ice = region.glacier_mask(period)
    labels = glacier_basins(ice, region.elevation, min_pixels=max(1, int(np.ceil(min_area_km2 / px_km2))))
    transform = Affine(*region.transform())
    shapes = rasterio.features.shapes(labels, mask=labels > 0, connectivity=4, transform=transform)
    pieces = pd.DataFrame([(int(v), shape(g)) for g, v in shapes], columns=["label", "geometry"])
    merged = pieces.groupby("label", sort=True)["geometry"].apply(lambda g: shapely.union_all(g.to_numpy()))
    n = np.bincount(labels.ravel())
    owner = _majority_subarea(labels, region.area_index, len(merged))
    first, last = config.PERIODS[period]
    table = pd.DataFrame({
        "glacier_id": [f"SYN{region.seed}-{i:04d}" for i in merged.index],
        "glims_id": "", "name": "",
        "area_km2": n[merged.index.to_numpy()] * px_km2,
        "source_date": pd.Timestamp(year=(first + last) // 2, month=7, day=1),
        "source_image": f"simulated truth {config.PERIOD_LABELS[period]}", "inventory": "synthetic",
        "subarea": [owner[i] for i in merged.index],
    })
    out = gpd.GeoDataFrame(table, geometry=list(merged.to_numpy()), crs=config.STUDY_CRS)
    out = out[out["area_km2"] >= min_area_km2].reset_index(drop=True)
    out.attrs["source"] = f"synthetic reference inventory (seed {region.seed}, {config.PERIOD_LABELS[period]})"
    return out[list(INVENTORY_COLUMNS) + ["geometry"]]


def true_outlines(region: SyntheticRegion, period: int, *, min_area_km2: float = 0.0) -> gpd.GeoDataFrame:
    """The true glacier outlines of one period, per subarea, in the outline schema (`outlines.OUTLINE_SCHEMA`).

    With the default ``min_area_km2=0`` they hold every true ice pixel, so their areas sum to
    `region.true_area_table`; their 15 m buffer is the floor of the time series' uncertainty (§II-H).
    """
    _check_period(period)
    ice = region.glacier_mask(period)
    transform = Affine(*region.transform())
    x0, y0 = transform.c, transform.f
    h, w = ice.shape
    coords = {"y": y0 - config.PIXEL_SIZE_M * (np.arange(h) + 0.5), "x": x0 + config.PIXEL_SIZE_M * (np.arange(w) + 0.5)}
    layers = []
    for a, area in enumerate(config.AREAS):
        mine = ice & (region.area_index == a)
        box = ndimage.find_objects(mine.astype(np.uint8))
        rows, cols = box[0] if box else (slice(0, 1), slice(0, 1))  # only the subarea's ice: polygonise its extent
        mask = xr.DataArray(mine[rows, cols].astype(np.uint8), dims=("y", "x"),
                            coords={"y": coords["y"][rows], "x": coords["x"][cols]})
        mask = mask.rio.write_crs(config.STUDY_CRS).rio.write_transform(transform * Affine.translation(cols.start, rows.start))
        layers.append(outlines.period_outlines(mask, period, area=area, scene="truth",
                                               source_images="simulated truth", min_area_km2=min_area_km2))
    return gpd.GeoDataFrame(pd.concat(layers, ignore_index=True), geometry="geometry", crs=config.STUDY_CRS)


def _majority_subarea(labels: np.ndarray, area_index: np.ndarray, n_glaciers: int) -> dict[int, str]:
    """The subarea key (``config.AREAS``) owning most pixels of each glacier label ('' if none)."""
    owned = (area_index < len(config.AREAS)) & (labels > 0)
    pairs = labels[owned].astype(np.int64) * len(config.AREAS) + area_index[owned]
    counts = np.bincount(pairs, minlength=(n_glaciers + 1) * len(config.AREAS)).reshape(n_glaciers + 1, -1)
    return {i: (config.AREAS[int(np.argmax(counts[i]))] if counts[i].any() else "") for i in range(1, n_glaciers + 1)}


__all__ = ["reference_inventory", "true_outlines", "glacier_basins", "SURFACE_SMOOTH_PX", "DIVIDE_DEPTH_M", "MIN_GLACIER_KM2",
           "INVENTORY_COLUMNS"]
