"""From a glacier mask to clean glacier outlines: polygons, areas, buffer uncertainty, GeoPackage.

Paper §II-H: the area uncertainty of an outline is the area of a buffer drawn around it (Granshaw &
Fountain 2006; Bolch et al. 2010), with a 15 m buffer (half a 30 m Landsat pixel, the images'
registration error; ``config.BUFFER_M``).

Our reading of "a 15 m buffer around the outline" (documented in the book): by default
(``buffer_mode="band"``) the uncertainty is the area of the band that reaches 15 m to *both*
sides of every outline ring (exterior and holes), about perimeter x 30 m: the outline may be
misplaced outwards or inwards, and the band covers both. ``buffer_mode="outer"`` counts only the
outer 15 m (polygon buffered by +15 m minus the polygon, about perimeter x 15 m), the smaller
reading some inventories use. The per-subarea uncertainty is the band around the outline of the
union of its glaciers: a strip shared by two touching glaciers is counted once, and a divide
between them (drawn from a reference inventory, not mapped) adds none.

Cleaning: pixels are joined by their edges (4-connectivity), so a polygon is never pinched at a
corner and every ring is valid; holes (nunataks, masked pixels) are kept; polygons smaller than
``min_area_km2`` (default 0.01 km², the smallest glacier most inventories, RGI among them, keep)
are dropped as slivers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage, spatial
from shapely.geometry import shape

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.errors import DataError

#: Default sliver threshold: glaciers below 0.01 km² are dropped (RGI practice).
MIN_AREA_KM2 = 0.01
BUFFER_MODES = ("band", "outer")
M2_PER_KM2 = 1e6

#: Attribute columns of every outline layer (besides ``geometry``), in order, with their dtypes.
OUTLINE_SCHEMA: dict[str, str] = {
    "glacier_id": "int64",         # 1.. within the layer, largest glacier first
    "reference_id": "object",      # id of the reference-inventory glacier the outline belongs to ("" none)
    "period": "int64",             # index into the study's periods (THR: config.PERIODS, 0 = 1986–1988)
    "period_label": "object",      # e.g. "1986–1988"
    "subarea": "object",           # subarea key (config.AREAS) or "" (not "area": GeoDataFrame.area is geometry)
    "scene": "object",             # WRS-2 id(s) the outline comes from, comma separated
    "source_images": "object",     # image ids or dates used for the period, comma separated
    "area_km2": "float64",         # planimetric area on the projected grid
    "uncertainty_km2": "float64",  # area of the buffer (buffer_m, buffer_mode) around the outline
    "perimeter_km": "float64",     # exterior + hole rings
}


# ----------------------------------------------------------------------------------------------
# Mask -> polygons
# ----------------------------------------------------------------------------------------------
def _mask_grid(mask, transform, crs):
    """The numpy mask, its affine transform and its (projected, metric) CRS."""
    if isinstance(mask, xr.DataArray):
        transform = transform or mask.rio.transform()
        crs = crs or mask.rio.crs
        mask = mask.values
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise DataError(f"mask: expected a 2-D (y, x) array, got shape {mask.shape}")
    if transform is None or crs is None:
        raise DataError("mask: a numpy mask needs transform= and crs= (or pass a DataArray with rio CRS)")
    crs = pyproj.CRS.from_user_input(crs)
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise DataError(f"mask: CRS {crs.to_string()} is not projected in metres; areas would be wrong")
    return mask, transform, crs


def buffer_uncertainty_km2(geometries, buffer_m: float = config.BUFFER_M, mode: str = "band") -> np.ndarray:
    """Per-geometry area uncertainty (km²): the area of a ``buffer_m`` buffer around each outline (§II-H)."""
    geoms = np.asarray(geometries, dtype=object)
    _check_buffer(buffer_m, mode)
    if mode == "band":
        area = shapely.area(shapely.buffer(shapely.boundary(geoms), buffer_m))
    else:
        area = shapely.area(shapely.buffer(geoms, buffer_m)) - shapely.area(geoms)
    return np.asarray(area, float) / M2_PER_KM2


def union_uncertainty_km2(geometries, buffer_m: float = config.BUFFER_M, mode: str = "band") -> float:
    """Uncertainty (km²) of a group of glaciers: the buffer around the outline of their union, overlaps counted once.

    Divides between touching glaciers lie inside the union: they come from the reference
    inventory, not from the image, and move no ice in or out of the group.
    """
    geoms = np.asarray(list(geometries), dtype=object)
    _check_buffer(buffer_m, mode)
    if geoms.size == 0:
        return 0.0
    if mode == "band":
        return float(shapely.buffer(shapely.boundary(shapely.union_all(geoms)), buffer_m).area) / M2_PER_KM2
    grown = shapely.union_all(shapely.buffer(geoms, buffer_m)).area
    return float(grown - shapely.union_all(geoms).area) / M2_PER_KM2


def _check_buffer(buffer_m: float, mode: str) -> None:
    if mode not in BUFFER_MODES:
        raise ValueError(f"buffer_mode={mode!r}: choose one of {', '.join(BUFFER_MODES)}")
    if not buffer_m >= 0:
        raise ValueError(f"buffer_m={buffer_m}: must be a non-negative distance in metres")


def mask_to_polygons(
    mask,
    *,
    transform=None,
    crs=None,
    min_area_km2: float = MIN_AREA_KM2,
    buffer_m: float = config.BUFFER_M,
    buffer_mode: str = "band",
    simplify_m: float = 0.0,
    zones: np.ndarray | None = None,
    zone_ids: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Glacier polygons (mask == 1) with area_km2, uncertainty_km2, perimeter_km and reference_id, largest first.

    ``mask``: a (y, x) DataArray with a rio CRS/transform, or a numpy array with ``transform`` and
    ``crs``; values other than 1 (0, 255 nodata) are not glacier. ``simplify_m`` > 0 smooths the
    pixel staircase (topology-preserving Douglas-Peucker), which shortens the perimeter and so the
    buffer uncertainty; 0 keeps the exact pixel edges. Ice bodies smaller than ``min_area_km2``
    are dropped; then, with ``zones`` (an integer raster on the mask's grid, 1..n indexing
    ``zone_ids``, 0 none: see :func:`nearest_reference`), each body is split where the zone
    changes (the reference inventory's glacier divides) and each piece carries its zone's id.
    """
    values, transform, crs = _mask_grid(mask, transform, crs)
    _check_buffer(buffer_m, buffer_mode)
    glacier = _without_small_bodies(values == 1, abs(transform.a * transform.e) / M2_PER_KM2, min_area_km2)
    if zones is None:
        labels, names = glacier.astype(np.int32), ["", ""]
    else:
        labels = np.where(glacier, np.asarray(zones, np.int32), 0)
        if labels.shape != glacier.shape:
            raise DataError(f"zones: shape {labels.shape} differs from the mask's {glacier.shape}")
        names = [""] + [str(z) for z in (zone_ids or [])]
        labels[glacier & ((labels <= 0) | (labels >= len(names)))] = 0
    pieces = [(shape(geom), int(v)) for geom, v in rasterio.features.shapes(
        labels, mask=glacier, connectivity=4, transform=transform)]
    polygons, owners = [], []
    for poly, v in pieces:
        for clean in _clean([poly], simplify_m):
            polygons.append(clean)
            owners.append(names[v])
    areas = np.array([p.area for p in polygons], float) / M2_PER_KM2
    order = np.argsort(-areas, kind="stable")
    polygons = [polygons[i] for i in order]
    geoms = np.asarray(polygons, dtype=object)
    return gpd.GeoDataFrame(
        {
            "glacier_id": np.arange(1, len(polygons) + 1, dtype=np.int64),
            "reference_id": [owners[i] for i in order],
            "area_km2": shapely.area(geoms).astype(float) / M2_PER_KM2 if len(geoms) else np.array([], float),
            "uncertainty_km2": buffer_uncertainty_km2(geoms, buffer_m, buffer_mode),
            "perimeter_km": shapely.length(geoms).astype(float) / 1e3 if len(geoms) else np.array([], float),
        },
        geometry=gpd.GeoSeries(polygons, crs=crs),
        crs=crs,
    )


def _without_small_bodies(glacier: np.ndarray, pixel_km2: float, min_area_km2: float) -> np.ndarray:
    """The glacier mask without 4-connected bodies smaller than ``min_area_km2`` (slivers, RGI practice)."""
    bodies, n = ndimage.label(glacier)
    if n == 0 or min_area_km2 <= 0:
        return glacier
    sizes = np.bincount(bodies.ravel()) * pixel_km2
    keep = sizes >= min_area_km2
    keep[0] = False
    return keep[bodies]


def nearest_reference(reference: gpd.GeoDataFrame, like: xr.DataArray | xr.Dataset,
                      where: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Each pixel's reference-inventory glacier (§II-A, Table VI): (int32 raster, 1..n indexing the ids; 0 none), ids.

    Pixels inside a reference outline belong to that glacier, so a mapped body that spans two
    reference glaciers is split at their divide; pixels outside every outline go to the nearest
    one (a KD-tree over the outlines' edge pixels: only the pixels in ``where``, e.g. the mapped
    ice, are looked up, so the cost follows the ice, not the grid).
    """
    if "glacier_id" not in reference.columns:
        raise DataError("reference inventory: no glacier_id column (read it with glacier_utils.io.inventory)")
    grid = like["mask"] if isinstance(like, xr.Dataset) and "mask" in like else like
    if isinstance(grid, xr.Dataset):
        grid = grid[next(iter(grid.data_vars))]
    shape_ = (grid.sizes["y"], grid.sizes["x"])
    rows = reference.to_crs(grid.rio.crs).reset_index(drop=True)
    burn = [(g, i + 1) for i, g in enumerate(rows.geometry) if g is not None and not g.is_empty]
    index = rasterio.features.rasterize(burn, out_shape=shape_, transform=grid.rio.transform(), fill=0,
                                        dtype="int32") if burn else np.zeros(shape_, np.int32)
    ids = [str(v) for v in rows["glacier_id"]]
    inside = index > 0
    todo = np.argwhere((np.ones(shape_, bool) if where is None else np.asarray(where, bool)) & ~inside)
    if inside.any() and len(todo):
        edge = np.argwhere(inside & ~ndimage.binary_erosion(inside))
        _, nearest = spatial.cKDTree(edge).query(todo)
        index[tuple(todo.T)] = index[tuple(edge[nearest].T)]
    return index, ids


def _clean(polygons: list, simplify_m: float) -> list:
    """Valid single polygons (holes kept), optionally simplified without breaking topology."""
    out = []
    for poly in polygons:
        if simplify_m > 0:
            poly = poly.simplify(simplify_m, preserve_topology=True)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        out.extend(g for g in getattr(poly, "geoms", [poly]) if g.geom_type == "Polygon" and not g.is_empty)
    return out


def period_outlines(
    mask,
    period: int,
    *,
    area: str = "",
    scene: str | Iterable[str] = "",
    source_images: str | Iterable[str] = "",
    periods: Sequence[tuple[int, int]] | None = None,
    **polygon_options,
) -> gpd.GeoDataFrame:
    """Outlines of one period with the layer schema (:data:`OUTLINE_SCHEMA`): mask_to_polygons + metadata.

    ``periods``: the study's periods (default the THR's, ``config.PERIODS``), which ``period`` indexes.
    """
    label = period_label(period, periods)
    if not isinstance(area, str):
        raise ValueError(f"area={area!r}: a subarea key such as {config.AREAS[0]!r} (or '' for ungrouped)")
    gdf = mask_to_polygons(mask, **polygon_options)
    gdf["period"] = int(period)
    gdf["period_label"] = label
    gdf["subarea"] = area
    gdf["scene"] = _joined(scene)
    gdf["source_images"] = _joined(source_images)
    out = _with_schema(gdf)
    out.attrs["period"] = int(period)  # a period without glacier has no row to carry it
    return out


def _joined(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(str(v) for v in value)


def subarea_outlines(period_map: xr.Dataset, period: int, subareas: Sequence[str], *,
                     zones: np.ndarray | None = None, zone_ids: Sequence[str] | None = None,
                     source_images: Mapping[str, Sequence[str]] | None = None,
                     periods: Sequence[tuple[int, int]] | None = None, **polygon_options) -> gpd.GeoDataFrame:
    """One period's outlines, subarea by subarea, from a mosaic with a uint8 ``subarea`` index (§II-H, §III-D).

    ``period_map``: :func:`glacier_utils.mosaic.mosaic_frames`'s output (``mask``, ``subarea``,
    ``frame``, ``attrs["frames"]`` the frame names); ``source_images``: frame -> acquisition ids.
    ``zones``/``zone_ids`` split the outlines at the reference glaciers' divides.
    """
    mask = np.asarray(period_map["mask"].values)
    index = np.asarray(period_map["subarea"].values)
    frame = np.asarray(period_map["frame"].values)
    names = list(period_map.attrs.get("frames", []))
    layers = []
    for a, area in enumerate(subareas):
        inside = index == a
        used = sorted({names[f] for f in np.unique(frame[inside & (frame >= 0)])}) if names else []
        images = [i for f in used for i in (source_images or {}).get(f, [])]
        ice = inside & (mask == 1)
        box = ndimage.find_objects(ice.astype(np.uint8))
        rows, cols = box[0] if box else (slice(0, 1), slice(0, 1))  # polygonise the subarea's ice extent only
        sub = xr.DataArray(ice[rows, cols].astype(np.uint8), dims=("y", "x"),
                           coords={"y": period_map["y"].values[rows], "x": period_map["x"].values[cols]})
        transform = period_map.rio.transform() * Affine.translation(cols.start, rows.start)
        sub = sub.rio.write_crs(period_map.rio.crs).rio.write_transform(transform)
        layers.append(period_outlines(sub, period, area=area, scene=used, source_images=images,
                                      zones=None if zones is None else np.asarray(zones)[rows, cols],
                                      zone_ids=zone_ids, periods=periods, **polygon_options))
    out = pd.concat(layers, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=period_map.rio.crs)
    out.attrs["period"] = int(period)
    return out


def _with_schema(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "reference_id" not in gdf:
        gdf = gdf.assign(reference_id="")
    missing = [c for c in OUTLINE_SCHEMA if c not in gdf]
    if missing:
        raise DataError(f"outlines: missing columns {missing} (see outlines.OUTLINE_SCHEMA)")
    out = gdf[list(OUTLINE_SCHEMA) + ["geometry"]].astype(OUTLINE_SCHEMA)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)


def merge_outlines(outlines: gpd.GeoDataFrame, buffer_m: float = config.BUFFER_M,
                   buffer_mode: str = "band") -> gpd.GeoDataFrame:
    """Union the outlines of overlapping scenes per (period, area) so no glacier is counted twice."""
    rows = []
    for (period, area), group in outlines.groupby(["period", "subarea"], sort=True):
        merged = shapely.union_all(np.asarray(group.geometry.values, dtype=object))
        polys = [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "Polygon"]
        polys.sort(key=lambda g: -g.area)
        geoms = np.asarray(polys, dtype=object)
        rows.append(gpd.GeoDataFrame({
            "glacier_id": np.arange(1, len(polys) + 1),
            "reference_id": "",
            "period": period,
            "period_label": period_label(period),
            "subarea": area,
            "scene": _joined(sorted({s for v in group["scene"] for s in str(v).split(",") if s})),
            "source_images": _joined(sorted({s for v in group["source_images"] for s in str(v).split(",") if s})),
            "area_km2": shapely.area(geoms) / M2_PER_KM2,
            "uncertainty_km2": buffer_uncertainty_km2(geoms, buffer_m, buffer_mode),
            "perimeter_km": shapely.length(geoms) / 1e3,
        }, geometry=list(polys), crs=outlines.crs))
    if not rows:
        return _with_schema(outlines.iloc[:0])
    return _with_schema(pd.concat(rows, ignore_index=True))


def area_summary(
    outlines: gpd.GeoDataFrame,
    *,
    total: bool = True,
    buffer_m: float = config.BUFFER_M,
    buffer_mode: str = "band",
) -> pd.DataFrame:
    """Area ± uncertainty per (period, area) — the long table :mod:`glacier_utils.timeseries` reads.

    Columns: period, area, area_km2, error_km2, n_glaciers. With ``total`` an ``area="total"`` row
    per period sums all subareas; its error is the union of all buffers (like the paper's THR row).
    """
    groups = [(key, g) for key, g in outlines.groupby(["period", "subarea"], sort=True)]
    if total:
        groups += [((p, "total"), g) for p, g in outlines.groupby("period", sort=True)]
    rows = [
        {"period": int(p), "area": a, "area_km2": float(g["area_km2"].sum()),
         "error_km2": union_uncertainty_km2(g.geometry.values, buffer_m, buffer_mode), "n_glaciers": len(g)}
        for (p, a), g in groups
    ]
    columns = ["period", "area", "area_km2", "error_km2", "n_glaciers"]
    return pd.DataFrame(rows, columns=columns).sort_values(["area", "period"], ignore_index=True)


# ----------------------------------------------------------------------------------------------
# GeoPackage: one layer per period, written atomically
# ----------------------------------------------------------------------------------------------
def _period_years(period: int, periods: Sequence[tuple[int, int]] | None = None) -> tuple[int, int]:
    periods = config.PERIODS if periods is None else periods
    if not 0 <= int(period) < len(periods):
        raise ValueError(f"period={period}: expected an index 0..{len(periods) - 1} into the study's periods")
    first, last = periods[int(period)]
    return int(first), int(last)


def period_label(period: int, periods: Sequence[tuple[int, int]] | None = None) -> str:
    """"1986–1988" for period 0 of ``periods`` (default the THR's, ``config.PERIODS``)."""
    return "{}–{}".format(*_period_years(period, periods))


def layer_name(period: int, periods: Sequence[tuple[int, int]] | None = None) -> str:
    """GeoPackage layer name of a period: ``outlines_1986_1988`` for period 0 (of ``periods``, default the THR's)."""
    return "outlines_{}_{}".format(*_period_years(period, periods))


def write_outlines_gpkg(
    layers: Mapping[int, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    keep_existing: bool = True,
    periods: Sequence[tuple[int, int]] | None = None,
) -> Path:
    """Write outlines to ``path`` (GeoPackage), one layer per period, replacing the file atomically.

    ``layers``: {period index: outlines} or one GeoDataFrame split by its ``period`` column (an
    empty one from :func:`period_outlines` knows its period: a period without glacier is an empty
    layer with the schema). With ``keep_existing`` the other period layers already in ``path`` are
    carried over; every layer is written to a temporary file in the same folder, which replaces
    ``path`` only when complete. ``periods``: the study's periods that name the layers (default the THR's).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise DataError(f"outlines GeoPackage: folder {path.parent} does not exist")
    if isinstance(layers, gpd.GeoDataFrame):
        if len(layers) == 0 and layers.attrs.get("period") is None:
            raise DataError(f"outlines GeoPackage {path.name}: the outlines have no rows and no period, so no layer "
                            "name; pass {period: outlines} to write an empty period layer")
        layers = ({int(p): g for p, g in layers.groupby("period", sort=True)} if len(layers)
                  else {int(layers.attrs["period"]): layers})
    if not layers:
        raise DataError(f"outlines GeoPackage {path.name}: no period layers given; pass {{period: outlines}}")
    new = {layer_name(p, periods): _with_schema(g) for p, g in layers.items()}
    crs_set = {g.crs.to_string() if g.crs else None for g in new.values()}
    if len(crs_set) > 1 or None in crs_set:
        raise DataError(f"outlines GeoPackage {path.name}: layers need one common CRS, got {sorted(map(str, crs_set))}")
    carried = {}
    if keep_existing and path.exists():
        for name, _ in pyogrio.list_layers(path):
            if name not in new:
                carried[name] = gpd.read_file(path, layer=name, engine="pyogrio")
    with atomic_path(path) as tmp:
        for name, gdf in sorted({**carried, **new}.items()):
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", geometry_type="Polygon")
    return path


def write_inventory_gpkg(inventory: gpd.GeoDataFrame, path: str | os.PathLike, layer: str = "glaciers") -> Path:
    """Write a glacier inventory (a reference for the outlines' ids) as one GeoPackage layer, atomically."""
    path = Path(path)
    if inventory.crs is None:
        raise DataError(f"inventory GeoPackage {path.name}: the inventory has no CRS")
    table = inventory.copy()
    for column in table.columns:  # GeoPackage has no nanosecond timestamps
        if pd.api.types.is_datetime64_any_dtype(table[column]):
            table[column] = table[column].dt.strftime("%Y-%m-%d")
    with atomic_path(path) as tmp:
        table.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return path


def read_outlines_gpkg(path: str | os.PathLike, periods: Sequence[int] | None = None) -> gpd.GeoDataFrame:
    """Read the period layers of an outlines GeoPackage (all, or ``periods``) into one GeoDataFrame."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"outlines GeoPackage {path} does not exist")
    present = [name for name, _ in pyogrio.list_layers(path)]
    wanted = present if periods is None else [layer_name(p) for p in periods]
    absent = [name for name in wanted if name not in present]
    if absent:
        raise DataError(f"outlines GeoPackage {path.name}: no layer(s) {absent}; it has {present}")
    frames = [gpd.read_file(path, layer=name, engine="pyogrio") for name in wanted]
    return _with_schema(pd.concat(frames, ignore_index=True)) if frames else gpd.GeoDataFrame()
