"""Glacier inventories (RGI 6.0/7.0, SCGI, GLIMS): read, validate/repair, reproject, rasterise.

The paper's ground truth is the Second Chinese Glacier Inventory (SCGI, Guo et al. 2015) projected
onto WGS 84 / UTM 46N and burnt into 1 = glacier / 0 = not glacier labels (paper §II-B, steps 1-2).
These functions do the same for any inventory a user brings.

Common columns. Whatever the source, ``read_inventory`` adds these columns (the originals stay):

================ =========================================================================================
``glacier_id``   the inventory's own id (RGI ``RGIId``/``rgi_id``, SCGI ``FCGI_ID``, GLIMS ``glac_id``)
``glims_id``     the GLIMS id where the inventory gives one (``GLIMSId``, ``glims_id``, ``GLIMS_ID``)
``name``         glacier name, where given
``area_km2``     area as the inventory reports it, km² (SCGI ``Glc_Area`` is in m²; GLIMS ``db_area``)
``source_date``  date of the source image / survey (pandas Timestamp, NaT where unknown)
``source_image`` the source image description where given (SCGI ``Prm_Image``)
``inventory``    which schema was recognised: "RGI6", "RGI7", "SCGI", "GLIMS" or "unknown"
================ =========================================================================================
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from affine import Affine
from shapely.geometry import MultiPolygon, Polygon

from glacier_utils import config
from glacier_utils.errors import DataError
from glacier_utils.io import landsat

__all__ = [
    "COMMON_COLUMNS",
    "RepairReport",
    "detect_schema",
    "normalise_columns",
    "read_inventory",
    "validate_inventory",
    "reproject_inventory",
    "make_grid",
    "rasterize_inventory",
    "label_scene",
]

COMMON_COLUMNS: tuple[str, ...] = (
    "glacier_id", "glims_id", "name", "area_km2", "source_date", "source_image", "inventory",
)

#: Column that identifies each schema, and where each common column comes from.
#: ``area`` entries are (column, factor to km²).
_SCHEMAS: dict[str, dict[str, Any]] = {
    "RGI6": {
        "marker": "RGIId", "glacier_id": "RGIId", "glims_id": "GLIMSId", "name": "Name",
        "area": ("Area", 1.0), "date": "BgnDate", "image": None,
    },
    "RGI7": {
        "marker": "rgi_id", "glacier_id": "rgi_id", "glims_id": "glims_id", "name": "glac_name",
        "area": ("area_km2", 1.0), "date": "src_date", "image": None,
    },
    "SCGI": {
        "marker": "FCGI_ID", "glacier_id": "FCGI_ID", "glims_id": "GLIMS_ID", "name": "Glc_Name",
        "area": ("Glc_Area", 1e-6), "date": "Prm_Image", "image": "Prm_Image",
    },
    "GLIMS": {
        "marker": "glac_id", "glacier_id": "glac_id", "glims_id": "glac_id", "name": "glac_name",
        "area": ("db_area", 1.0), "date": "src_date", "image": None,
    },
}


@dataclasses.dataclass
class RepairReport:
    """What ``validate_inventory`` changed: counts and the row labels of the features concerned."""

    n_input: int
    repaired: list = dataclasses.field(default_factory=list)
    dropped_empty: list = dataclasses.field(default_factory=list)
    dropped_not_polygonal: list = dataclasses.field(default_factory=list)

    @property
    def n_output(self) -> int:
        """Number of features kept."""
        return self.n_input - len(self.dropped_empty) - len(self.dropped_not_polygonal)

    def __str__(self) -> str:
        return (
            f"{self.n_input} features: {len(self.repaired)} invalid geometries repaired, "
            f"{len(self.dropped_empty)} empty and {len(self.dropped_not_polygonal)} non-polygonal dropped, "
            f"{self.n_output} kept"
        )


# --------------------------------------------------------------------------------------------
# Reading and column normalisation
# --------------------------------------------------------------------------------------------
def detect_schema(columns) -> str:
    """Which inventory schema a set of column names belongs to: RGI6, RGI7, SCGI, GLIMS or unknown."""
    columns = set(columns)
    for schema, spec in _SCHEMAS.items():
        if spec["marker"] in columns:
            return schema
    return "unknown"


def _parse_dates(values: pd.Series, schema: str) -> pd.Series:
    """Source dates as Timestamps: RGI6 ``YYYYMMDD`` (``-9999999`` unknown, ``99`` unknown month/day),
    RGI7/GLIMS ISO strings, SCGI the date inside ``Prm_Image`` (``Landsat:P136R035,TM,2006-07-23``)."""
    text = values.astype("string")
    if schema == "RGI6":
        # RGI 6.0 writes unknown month/day as 99; take the first of the month/year then.
        cleaned = text.str.replace(r"^(\d{4})99(\d{2})$", r"\g<1>01\2", regex=True)
        cleaned = cleaned.str.replace(r"^(\d{6})99$", r"\g<1>01", regex=True)
        return pd.to_datetime(cleaned, format="%Y%m%d", errors="coerce")
    if schema == "SCGI":
        extracted = text.str.extract(r"(\d{4}-\d{2}-\d{2})", expand=False)
        return pd.to_datetime(extracted, format="%Y-%m-%d", errors="coerce")
    return pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")


def normalise_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the documented common columns (``COMMON_COLUMNS``) to an inventory, keeping its own columns."""
    schema = detect_schema(gdf.columns)
    out = gdf.copy()
    spec = _SCHEMAS.get(schema)
    n = len(out)

    def column(name: str | None, default: Any) -> pd.Series:
        if spec is None or name is None or name not in out.columns:
            return pd.Series([default] * n, index=out.index, dtype="object")
        return out[name]

    if spec is None:
        out["glacier_id"] = [str(i) for i in out.index]
        out["area_km2"] = np.nan
        out["source_date"] = pd.NaT
    else:
        out["glacier_id"] = column(spec["glacier_id"], None).astype("string")
        area_col, factor = spec["area"]
        out["area_km2"] = pd.to_numeric(column(area_col, np.nan), errors="coerce") * factor
        out["source_date"] = _parse_dates(column(spec["date"], None), schema)
    out["glims_id"] = column(spec["glims_id"] if spec else None, None).astype("string")
    out["name"] = column(spec["name"] if spec else None, None).astype("string")
    out["source_image"] = column(spec["image"] if spec else None, None).astype("string")
    out["inventory"] = schema
    return out


def read_inventory(
    path: str | os.PathLike, layer: str | None = None, *, allow_empty: bool = False
) -> gpd.GeoDataFrame:
    """Read an RGI / SCGI / GLIMS inventory (shapefile, GeoPackage, GeoJSON, zip) with common columns added.

    Raises DataError when the file is missing or unreadable, has no CRS, or has no features
    (unless ``allow_empty``).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"inventory file {path} does not exist")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as err:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise DataError(f"cannot read inventory {path}: {err}") from err
    if gdf.crs is None:
        raise DataError(
            f"inventory {path} has no CRS (a shapefile without its .prj?); set one with "
            "gdf.set_crs(...) and pass the GeoDataFrame on"
        )
    if len(gdf) == 0 and not allow_empty:
        raise DataError(f"inventory {path} holds no features")
    gdf = normalise_columns(gdf)
    gdf.attrs["source"] = str(path)
    return gdf


# --------------------------------------------------------------------------------------------
# Validation and repair
# --------------------------------------------------------------------------------------------
def _polygonal_part(geom) -> Polygon | MultiPolygon | None:
    """The polygons of a geometry (from a GeometryCollection after make_valid), None when there are none."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    polygons = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def validate_inventory(gdf: gpd.GeoDataFrame, *, warn: bool = True) -> tuple[gpd.GeoDataFrame, RepairReport]:
    """Repair invalid geometries with ``shapely.make_valid``, keep polygonal parts, drop empties; report what changed."""
    source = gdf.attrs.get("source", "inventory")
    if gdf.crs is None:
        raise DataError(f"{source} has no CRS; set one with gdf.set_crs(...)")
    report = RepairReport(n_input=len(gdf))
    geometries = []
    keep = []
    for label, geom in zip(gdf.index, gdf.geometry):
        if geom is None or geom.is_empty:
            report.dropped_empty.append(label)
            keep.append(False)
            geometries.append(geom)
            continue
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            report.repaired.append(label)
        polygonal = _polygonal_part(geom)
        if polygonal is None or polygonal.is_empty:
            report.dropped_not_polygonal.append(label)
            keep.append(False)
        else:
            keep.append(True)
        geometries.append(polygonal)
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(geometries, index=gdf.index, crs=gdf.crs))
    out = out[np.array(keep, dtype=bool)].copy()
    out.attrs = dict(gdf.attrs)
    out.attrs["repair_report"] = str(report)
    if warn and (report.repaired or report.dropped_empty or report.dropped_not_polygonal):
        warnings.warn(f"{source}: {report}", UserWarning, stacklevel=2)
    return out, report


def reproject_inventory(gdf: gpd.GeoDataFrame, crs: Any = config.STUDY_CRS) -> gpd.GeoDataFrame:
    """Reproject an inventory to ``crs`` (default the study's UTM 46N, paper §II-B step 1); DataError without a CRS."""
    if gdf.crs is None:
        raise DataError(f"{gdf.attrs.get('source', 'inventory')} has no CRS, so it cannot be reprojected to {crs}")
    out = gdf.to_crs(crs)
    out.attrs = dict(gdf.attrs)
    return out


# --------------------------------------------------------------------------------------------
# Rasterising onto a scene grid
# --------------------------------------------------------------------------------------------
def make_grid(bounds: tuple[float, float, float, float], crs: Any, pixel_size_m: float = config.PIXEL_SIZE_M) -> xr.DataArray:
    """An empty (y, x) grid (uint8 zeros) covering ``bounds`` (left, bottom, right, top) snapped outwards to whole pixels."""
    left, bottom, right, top = bounds
    left = np.floor(left / pixel_size_m) * pixel_size_m
    top = np.ceil(top / pixel_size_m) * pixel_size_m
    width = int(np.ceil((right - left) / pixel_size_m))
    height = int(np.ceil((top - bottom) / pixel_size_m))
    if width <= 0 or height <= 0:
        raise DataError(f"bounds {bounds} give an empty grid")
    x = left + (np.arange(width) + 0.5) * pixel_size_m
    y = top - (np.arange(height) + 0.5) * pixel_size_m
    grid = xr.DataArray(np.zeros((height, width), dtype="uint8"), coords={"y": y, "x": x}, dims=("y", "x"))
    transform = Affine(pixel_size_m, 0.0, left, 0.0, -pixel_size_m, top)
    return grid.rio.write_crs(crs).rio.write_transform(transform)


def _grid_of(like: xr.DataArray | xr.Dataset) -> tuple[xr.DataArray, Any, Affine, tuple[int, int]]:
    """(a (y, x) template, CRS, transform, shape) of a scene, DataArray or grid."""
    template = like["dn"] if isinstance(like, xr.Dataset) and "dn" in like else like
    if isinstance(template, xr.Dataset):
        template = template[next(iter(template.data_vars))]
    if "band" in template.dims:
        template = template.isel(band=0, drop=True)
    crs = template.rio.crs
    if crs is None:
        crs = like.rio.crs if hasattr(like, "rio") else None
    if crs is None:
        raise DataError("the target grid has no CRS; write one with .rio.write_crs(...)")
    return template, crs, template.rio.transform(), (template.sizes["y"], template.sizes["x"])


def rasterize_inventory(
    gdf: gpd.GeoDataFrame,
    like: xr.DataArray | xr.Dataset,
    *,
    all_touched: bool = False,
    mask_nodata: bool = True,
    on_no_overlap: str = "raise",
) -> xr.DataArray:
    """Burn glacier polygons onto a scene's grid: the contract's ``label`` (1 glacier, 0 not, 255 nodata).

    The inventory is reprojected to the grid's CRS first. ``all_touched=False`` (default) is the
    centre rule: a pixel is glacier when its centre lies inside a polygon, so the labelled area is
    unbiased for outlines much larger than a pixel. ``all_touched=True`` marks every pixel an
    outline touches (larger areas, about half a pixel all round). With ``mask_nodata`` and a
    scene Dataset, pixels where the scene has no data become 255. ``on_no_overlap``: "raise"
    (DataError) or "warn" (an all-zero label) when no polygon overlaps the grid.
    """
    source = gdf.attrs.get("source", "inventory")
    if len(gdf) == 0:
        raise DataError(f"{source} holds no features to rasterise")
    if gdf.crs is None:
        raise DataError(f"{source} has no CRS, so it cannot be placed on the scene grid")
    if on_no_overlap not in ("raise", "warn"):
        raise ValueError(f"on_no_overlap={on_no_overlap!r}; choose 'raise' or 'warn'")
    kinds = gdf.geometry.geom_type
    odd = kinds[gdf.geometry.notna() & ~gdf.geometry.is_empty & ~kinds.isin(["Polygon", "MultiPolygon"])]
    if len(odd):
        found = ", ".join(f"{n} {k}" for k, n in odd.value_counts().items())
        raise DataError(f"{source}: {len(odd)} of {len(gdf)} features are not polygons ({found}; at rows "
                        f"{list(odd.index[:5])}); a glacier inventory holds outlines as Polygon/MultiPolygon, and a "
                        "point or line would be burnt as a few pixels of glacier: polygonise outlines stored as "
                        "lines (shapely.polygonize) and drop points before rasterising")
    template, crs, transform, shape = _grid_of(like)
    projected = gdf.to_crs(crs)
    geoms = [g for g in projected.geometry if g is not None and not g.is_empty]
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * shape[1], top + transform.e * shape[0]
    box = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    overlapping = [g for g in geoms if g.intersects(box)]
    if not overlapping:
        message = f"none of the {len(geoms)} polygons of {source} overlap the scene grid {box.bounds} ({crs})"
        if on_no_overlap == "raise":
            raise DataError(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    burnt = rasterio.features.rasterize(
        [(g, 1) for g in overlapping], out_shape=shape, transform=transform, fill=0,
        all_touched=all_touched, dtype="uint8",
    ) if overlapping else np.zeros(shape, dtype="uint8")
    label = xr.DataArray(burnt, coords={"y": template["y"].values, "x": template["x"].values}, dims=("y", "x"))
    if mask_nodata and isinstance(like, xr.Dataset) and "dn" in like:
        label = label.where(np.asarray(landsat.valid_mask(like["dn"])), config.LABEL_NODATA).astype("uint8")
    label.attrs = {"nodata": config.LABEL_NODATA, "long_name": "glacier label (1 glacier, 0 not glacier, 255 nodata)",
                   "all_touched": int(all_touched), "source": str(source)}
    label.name = "label"
    return label.rio.write_crs(crs).rio.write_transform(transform).rio.write_nodata(config.LABEL_NODATA, encoded=False)


def label_scene(scene: xr.Dataset, gdf: gpd.GeoDataFrame, **kwargs) -> xr.Dataset:
    """A copy of ``scene`` with the inventory rasterised onto it as the ``label`` variable."""
    out = scene.copy()
    out["label"] = rasterize_inventory(gdf, scene, **kwargs)
    return out
