"""From a glacier mask to clean glacier outlines: polygons, areas, buffer uncertainty, GeoPackage.

Paper §II-H: the area uncertainty of an outline is the area of a buffer drawn around it (Granshaw &
Fountain 2006; Bolch et al. 2010), with a 15 m buffer (half a 30 m Landsat pixel, the images'
registration error; ``config.BUFFER_M``).

Our reading of "a 15 m buffer around the outline" (documented in the book): by default
(``buffer_mode="band"``) the uncertainty is the area of the band that reaches 15 m to *both*
sides of every outline ring (exterior and holes), about perimeter x 30 m: the outline may be
misplaced outwards or inwards, and the band covers both. ``buffer_mode="outer"`` counts only the
outer 15 m (polygon buffered by +15 m minus the polygon, about perimeter x 15 m), the smaller
reading some inventories use. The per-subarea uncertainty is the area of the union of the
glaciers' buffers, so a strip shared by two touching glaciers is counted once.

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
    "period": "int64",             # index into config.PERIODS (0 = 1986–1988)
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
    """Uncertainty (km²) of a group of glaciers: the union of their buffers, overlaps counted once."""
    geoms = np.asarray(list(geometries), dtype=object)
    _check_buffer(buffer_m, mode)
    if geoms.size == 0:
        return 0.0
    if mode == "band":
        return float(shapely.union_all(shapely.buffer(shapely.boundary(geoms), buffer_m)).area) / M2_PER_KM2
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
) -> gpd.GeoDataFrame:
    """Glacier polygons (mask == 1) with area_km2, uncertainty_km2 and perimeter_km, largest first.

    ``mask``: a (y, x) DataArray with a rio CRS/transform, or a numpy array with ``transform`` and
    ``crs``; values other than 1 (0, 255 nodata) are not glacier. ``simplify_m`` > 0 smooths the
    pixel staircase (topology-preserving Douglas-Peucker), which shortens the perimeter and so the
    buffer uncertainty; 0 keeps the exact pixel edges.
    """
    values, transform, crs = _mask_grid(mask, transform, crs)
    _check_buffer(buffer_m, buffer_mode)
    glacier = values == 1
    polygons = [shape(geom) for geom, _ in rasterio.features.shapes(
        glacier.astype(np.uint8), mask=glacier, connectivity=4, transform=transform)]
    polygons = _clean(polygons, simplify_m)
    areas = np.array([p.area for p in polygons], float) / M2_PER_KM2
    keep = areas >= min_area_km2
    polygons = [p for p, k in zip(polygons, keep) if k]
    order = np.argsort(-areas[keep], kind="stable")
    polygons = [polygons[i] for i in order]
    geoms = np.asarray(polygons, dtype=object)
    return gpd.GeoDataFrame(
        {
            "glacier_id": np.arange(1, len(polygons) + 1, dtype=np.int64),
            "area_km2": shapely.area(geoms).astype(float) / M2_PER_KM2 if len(geoms) else np.array([], float),
            "uncertainty_km2": buffer_uncertainty_km2(geoms, buffer_m, buffer_mode),
            "perimeter_km": shapely.length(geoms).astype(float) / 1e3 if len(geoms) else np.array([], float),
        },
        geometry=gpd.GeoSeries(polygons, crs=crs),
        crs=crs,
    )


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
    **polygon_options,
) -> gpd.GeoDataFrame:
    """Outlines of one period with the layer schema (:data:`OUTLINE_SCHEMA`): mask_to_polygons + metadata."""
    if not 0 <= int(period) < len(config.PERIODS):
        raise ValueError(f"period={period}: expected an index 0..{len(config.PERIODS) - 1} into config.PERIODS")
    if area and area not in config.AREAS:
        raise ValueError(f"area={area!r}: choose one of {', '.join(config.AREAS)} (or '' for ungrouped)")
    gdf = mask_to_polygons(mask, **polygon_options)
    gdf["period"] = int(period)
    gdf["period_label"] = config.PERIOD_LABELS[int(period)]
    gdf["subarea"] = area
    gdf["scene"] = _joined(scene)
    gdf["source_images"] = _joined(source_images)
    out = _with_schema(gdf)
    out.attrs["period"] = int(period)  # a period without glacier has no row to carry it
    return out


def _joined(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(str(v) for v in value)


def _with_schema(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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
            "period": period,
            "period_label": config.PERIOD_LABELS[int(period)],
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
def layer_name(period: int) -> str:
    """GeoPackage layer name of a period: ``outlines_1986_1988`` for period 0."""
    first, last = config.PERIODS[int(period)]
    return f"outlines_{first}_{last}"


def write_outlines_gpkg(
    layers: Mapping[int, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    path: str | os.PathLike,
    *,
    keep_existing: bool = True,
) -> Path:
    """Write outlines to ``path`` (GeoPackage), one layer per period, replacing the file atomically.

    ``layers``: {period index: outlines} or one GeoDataFrame split by its ``period`` column (an
    empty one from :func:`period_outlines` knows its period: a period without glacier is an empty
    layer with the schema). With ``keep_existing`` the other period layers already in ``path`` are
    carried over; every layer is written to a temporary file in the same folder, which replaces
    ``path`` only when complete.
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
    new = {layer_name(p): _with_schema(g) for p, g in layers.items()}
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
