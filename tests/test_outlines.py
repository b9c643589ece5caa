"""Mask -> outlines: polygon areas, 15 m buffer uncertainty, cleaning, and the GeoPackage layers."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

from glacier_utils import config, outlines
from glacier_utils.errors import DataError

PX = 30.0
B = config.BUFFER_M
TRANSFORM = Affine(PX, 0, 400_000.0, 0, -PX, 3_900_000.0)


def as_dataarray(mask: np.ndarray) -> xr.DataArray:
    """A (y, x) mask on the study grid with CRS and transform, as inference returns it."""
    h, w = mask.shape
    da = xr.DataArray(mask.astype(np.uint8), dims=("y", "x"),
                      coords={"y": 3_900_000.0 - PX * (np.arange(h) + 0.5),
                              "x": 400_000.0 + PX * (np.arange(w) + 0.5)})
    return da.rio.write_crs(config.STUDY_CRS).rio.write_transform(TRANSFORM)


def square_mask(side_px: int, size: int = 40, offset: int = 5) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[offset:offset + side_px, offset:offset + side_px] = 1
    return mask


def outline_edges_and_corners(mask: np.ndarray) -> tuple[int, int]:
    """Independent count of a mask's outline pixel edges and 90° corners (from 2x2 neighbourhoods)."""
    g = np.pad(mask == 1, 1).astype(int)
    edges = np.abs(np.diff(g, axis=0)).sum() + np.abs(np.diff(g, axis=1)).sum()
    quad = g[:-1, :-1] + g[1:, :-1] + g[:-1, 1:] + g[1:, 1:]
    diagonal = (quad == 2) & (g[:-1, :-1] == g[1:, 1:])
    corners = np.count_nonzero((quad == 1) | (quad == 3)) + 2 * np.count_nonzero(diagonal)
    return int(edges), int(corners)


def test_square_mask_gives_its_area_and_the_buffer_band_area():
    side = 10
    gdf = outlines.mask_to_polygons(as_dataarray(square_mask(side)), min_area_km2=0)
    assert len(gdf) == 1
    L = side * PX
    assert gdf.area_km2.iloc[0] == pytest.approx(L * L / 1e6, rel=1e-12)
    # ±15 m band: outer square with rounded corners minus the inner square.
    band = ((L + 2 * B) ** 2 - (4 - math.pi) * B**2 - (L - 2 * B) ** 2) / 1e6
    assert gdf.uncertainty_km2.iloc[0] == pytest.approx(band, rel=1e-3)
    assert gdf.perimeter_km.iloc[0] == pytest.approx(4 * L / 1e3)
    outer = outlines.mask_to_polygons(as_dataarray(square_mask(side)), min_area_km2=0, buffer_mode="outer")
    assert outer.uncertainty_km2.iloc[0] == pytest.approx((4 * L * B + math.pi * B**2) / 1e6, rel=1e-3)


def test_disk_mask_area_is_its_pixel_count_and_uncertainty_is_perimeter_times_30m():
    yy, xx = np.mgrid[:60, :60]
    disk = ((yy - 29.5) ** 2 + (xx - 29.5) ** 2 <= 20**2).astype(np.uint8)
    gdf = outlines.mask_to_polygons(disk, transform=TRANSFORM, crs=config.STUDY_CRS)
    assert gdf.area_km2.sum() == pytest.approx(disk.sum() * PX * PX / 1e6, rel=1e-12)
    edges, corners = outline_edges_and_corners(disk)
    perimeter = edges * PX
    # The band is perimeter x 2 x 15 m, less (1 - pi/4) b² at every 90° turn of the staircase.
    expected = (perimeter * 2 * B - corners * (1 - math.pi / 4) * B**2) / 1e6
    assert gdf.perimeter_km.iloc[0] == pytest.approx(perimeter / 1e3)
    assert gdf.uncertainty_km2.iloc[0] == pytest.approx(expected, rel=1e-3)


def test_slivers_below_the_minimum_area_are_dropped_and_nodata_is_not_glacier():
    mask = np.zeros((30, 30), np.uint8)
    mask[2:5, 2:5] = 1        # 9 px = 0.0081 km²: a sliver
    mask[10:14, 10:14] = 1    # 16 px = 0.0144 km²: kept
    mask[20:28, 20:28] = 255  # nodata
    kept = outlines.mask_to_polygons(as_dataarray(mask))
    assert kept.area_km2.tolist() == pytest.approx([16 * 900 / 1e6])
    everything = outlines.mask_to_polygons(as_dataarray(mask), min_area_km2=0)
    assert sorted(everything.area_km2) == pytest.approx([9 * 900 / 1e6, 16 * 900 / 1e6])


def test_holes_are_kept_and_polygons_are_valid():
    mask = square_mask(20)
    mask[12:16, 12:16] = 0    # a nunatak
    mask[6, 6] = 0            # a one-pixel hole next to the rim
    gdf = outlines.mask_to_polygons(as_dataarray(mask), min_area_km2=0)
    poly = gdf.geometry.iloc[0]
    assert poly.is_valid and len(poly.interiors) == 2
    assert gdf.area_km2.iloc[0] == pytest.approx((400 - 16 - 1) * 900 / 1e6)


def test_group_uncertainty_counts_overlapping_buffers_once():
    far = np.zeros((40, 40), np.uint8)
    far[2:10, 2:10] = far[25:33, 25:33] = 1
    gdf = outlines.mask_to_polygons(as_dataarray(far), min_area_km2=0)
    union = outlines.union_uncertainty_km2(gdf.geometry.values)
    assert union == pytest.approx(gdf.uncertainty_km2.sum(), rel=1e-9)
    touching = np.zeros((40, 40), np.uint8)
    touching[2:10, 2:10] = touching[10:18, 10:18] = 1  # meet at one corner only
    gdf = outlines.mask_to_polygons(as_dataarray(touching), min_area_km2=0)
    assert len(gdf) == 2
    assert outlines.union_uncertainty_km2(gdf.geometry.values) < gdf.uncertainty_km2.sum()


def test_geographic_crs_is_refused():
    with pytest.raises(DataError, match="not projected"):
        outlines.mask_to_polygons(square_mask(4), transform=Affine(0.001, 0, 90, 0, -0.001, 35), crs="EPSG:4326")


def test_area_summary_has_a_total_row_per_period():
    a = outlines.period_outlines(as_dataarray(square_mask(10)), 0, area="training")
    b = outlines.period_outlines(as_dataarray(square_mask(6, offset=20)), 0, area="testing_1")
    summary = outlines.area_summary(pd.concat([a, b], ignore_index=True))
    total = summary.set_index("area").loc["total"]
    assert total.area_km2 == pytest.approx((100 + 36) * 900 / 1e6)
    assert total.error_km2 == pytest.approx(a.uncertainty_km2.sum() + b.uncertainty_km2.sum())
    assert set(summary.area) == {"training", "testing_1", "total"}


def test_geopackage_has_one_layer_per_period_with_the_documented_schema(tmp_path):
    path = tmp_path / "outlines.gpkg"
    first = {p: outlines.period_outlines(as_dataarray(square_mask(8 + p)), p, area="training",
                                         scene="138037", source_images=["LT05_138037_19870812"])
             for p in (0, 11)}
    outlines.write_outlines_gpkg(first, path)
    later = outlines.period_outlines(as_dataarray(square_mask(5)), 3, area="training", scene=["138037", "137037"])
    outlines.write_outlines_gpkg({3: later}, path)  # earlier layers are kept
    assert sorted(name for name, _ in pyogrio.list_layers(path)) == [
        "outlines_1986_1988", "outlines_1995_1997", "outlines_2019_2021"]
    assert [p.name for p in tmp_path.iterdir()] == ["outlines.gpkg"]  # no temporary left behind
    layer = gpd.read_file(path, layer="outlines_2019_2021")
    assert layer.crs.to_epsg() == 32646
    assert list(layer.columns) == list(outlines.OUTLINE_SCHEMA) + ["geometry"]
    assert "subarea" in layer.columns and "area" not in layer.columns  # GeoDataFrame.area is the geometry's area
    assert layer.period.iloc[0] == 11 and layer.period_label.iloc[0] == "2019–2021"
    assert layer.area_km2.iloc[0] == pytest.approx(19 * 19 * 900 / 1e6)
    everything = outlines.read_outlines_gpkg(path)
    assert sorted(everything.period) == [0, 3, 11]
    assert everything.loc[everything.period == 3, "scene"].item() == "138037,137037"


def test_a_failed_geopackage_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "outlines.gpkg"
    outlines.write_outlines_gpkg({0: outlines.period_outlines(as_dataarray(square_mask(8)), 0)}, path)
    before = path.read_bytes()
    bad = outlines.period_outlines(as_dataarray(square_mask(8)), 1).to_crs("EPSG:32645")
    good = outlines.period_outlines(as_dataarray(square_mask(8)), 2)
    with pytest.raises(DataError, match="one common CRS"):
        outlines.write_outlines_gpkg({1: bad, 2: good}, path)
    assert path.read_bytes() == before
