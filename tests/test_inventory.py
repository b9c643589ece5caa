"""Tests of glacier_utils.io.inventory: reading RGI/SCGI/GLIMS, repair, reprojection, rasterisation, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from shapely.geometry import LineString, Polygon, box

from _level1_fixtures import write_scene
from glacier_utils import config
from glacier_utils.io import inventory, landsat
from glacier_utils.errors import DataError

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

SCGI = "scgi_sample/cgi2.shp"
# Fixture scenes from _level1_fixtures: UL corner (500000, 4000020) in UTM 46N, 30 m pixels, 40 x 50.
SCENE_BOX = (500000.0, 4000020.0 - 40 * 30, 500000.0 + 50 * 30, 4000020.0)


def _bowtie(x0: float, y0: float, size: float) -> Polygon:
    """A self-intersecting 'bow-tie' polygon (invalid)."""
    return Polygon([(x0, y0), (x0 + size, y0 + size), (x0 + size, y0), (x0, y0 + size)])


# ------------------------------------------------------------------------------------------
# The real SCGI excerpt
# ------------------------------------------------------------------------------------------
@pytest.mark.real
def test_scgi_sample_reads_with_common_columns_and_originals(real_data_dir):
    gdf = inventory.read_inventory(real_data_dir / SCGI)
    assert len(gdf) == 5
    assert set(inventory.COMMON_COLUMNS) <= set(gdf.columns)
    assert {"Prm_Image", "GLIMS_ID", "Rep_Date", "FCGI_ID"} <= set(gdf.columns)  # originals kept
    assert (gdf["inventory"] == "SCGI").all()
    assert gdf["glacier_id"].tolist()[0] == "5X043P0038"
    assert gdf["glims_id"].tolist()[0] == "G084892E43502N"
    # SCGI reports m²; the common column is km²
    np.testing.assert_allclose(gdf["area_km2"], gdf["Glc_Area"] / 1e6)
    assert gdf["source_date"].tolist()[1] == pd.Timestamp("2006-07-23")
    assert "Albers" in gdf.crs.to_wkt()


@pytest.mark.real
def test_scgi_polygons_rasterised_on_utm46_grid_keep_their_area(real_data_dir):
    gdf, report = inventory.validate_inventory(inventory.read_inventory(real_data_dir / SCGI))
    assert report.n_output == 5 and not report.repaired
    utm = inventory.reproject_inventory(gdf)
    assert utm.crs.to_epsg() == 32646
    # the Albers (equal-area) polygon areas are the reference; UTM distorts areas by < 0.5 % here
    albers_area = gdf.geometry.area.to_numpy()
    for i in range(len(utm)):
        one = utm.iloc[[i]]
        grid = inventory.make_grid(one.total_bounds, utm.crs)
        centre = inventory.rasterize_inventory(one, grid)
        touched = inventory.rasterize_inventory(one, grid, all_touched=True)
        pixel_area = float(centre.sum()) * config.PIXEL_SIZE_M**2
        assert pixel_area == pytest.approx(albers_area[i], rel=0.02)
        assert float(touched.sum()) > float(centre.sum())  # all-touched is a superset
        assert centre.rio.crs.to_epsg() == 32646 and centre.dtype == np.uint8


# ------------------------------------------------------------------------------------------
# Column normalisation of the other schemas
# ------------------------------------------------------------------------------------------
def _square_gdf(columns: dict, crs="EPSG:32646") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[box(500100, 3999100, 500400, 3999400)], crs=crs)


@pytest.mark.parametrize(
    "columns, schema, glacier_id, area, date",
    [
        ({"RGIId": ["RGI60-13.00001"], "GLIMSId": ["G090000E35000N"], "Area": [0.09], "BgnDate": ["20079999"]},
         "RGI6", "RGI60-13.00001", 0.09, None),
        ({"RGIId": ["RGI60-13.00002"], "GLIMSId": ["G1"], "Area": [1.5], "BgnDate": ["20070919"]},
         "RGI6", "RGI60-13.00002", 1.5, "2007-09-19"),
        ({"rgi_id": ["RGI2000-v7.0-G-13-00001"], "glims_id": ["G2"], "area_km2": [2.0], "src_date": ["2009-08-11T00:00:00"]},
         "RGI7", "RGI2000-v7.0-G-13-00001", 2.0, "2009-08-11"),
        ({"glac_id": ["G090000E35000N"], "db_area": [0.3], "src_date": ["2010-04-29T00:00:00"], "anlys_id": [7]},
         "GLIMS", "G090000E35000N", 0.3, "2010-04-29"),
    ],
)
def test_rgi_and_glims_columns_are_normalised(tmp_path, columns, schema, glacier_id, area, date):
    path = tmp_path / "inv.gpkg"
    _square_gdf(columns).to_file(path)
    gdf = inventory.read_inventory(path)
    assert gdf["inventory"].iloc[0] == schema
    assert gdf["glacier_id"].iloc[0] == glacier_id
    assert gdf["area_km2"].iloc[0] == pytest.approx(area)
    if date is None:
        assert gdf["source_date"].iloc[0] == pd.Timestamp("2007-01-01")  # RGI 6 "99" = unknown month/day
    else:
        assert gdf["source_date"].iloc[0] == pd.Timestamp(date)
    for original in columns:
        assert original in gdf.columns


def test_unknown_schema_keeps_columns_and_gets_ids(tmp_path):
    path = tmp_path / "inv.geojson"
    _square_gdf({"whatever": [1]}).to_file(path, driver="GeoJSON")
    gdf = inventory.read_inventory(path)
    assert gdf["inventory"].iloc[0] == "unknown" and "whatever" in gdf.columns
    assert gdf["glacier_id"].iloc[0] == "0"


# ------------------------------------------------------------------------------------------
# Scene grids
# ------------------------------------------------------------------------------------------
def test_label_matches_scene_grid_and_masks_nodata(tmp_path):
    scene = landsat.read_scene(write_scene(tmp_path / "tm"))
    # a 300 m square whose edges lie on pixel edges: exactly 10 x 10 pixels by the centre rule
    glacier = gpd.GeoDataFrame(geometry=[box(500300, 3999420, 500600, 3999720)], crs="EPSG:32646")
    labelled = inventory.label_scene(scene, glacier)
    label = labelled["label"]
    assert label.dims == ("y", "x") and label.dtype == np.uint8
    xr.testing.assert_equal(label["x"], scene["x"])
    assert label.rio.crs == scene["dn"].rio.crs and label.rio.transform() == scene["dn"].rio.transform()
    assert int((label == 1).sum()) == 100
    ys, xs = np.nonzero(label.values == 1)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (10, 19, 10, 19)
    # all-touched on an edge-aligned square adds the ring of pixels sharing its edges
    touched = inventory.rasterize_inventory(glacier, scene, all_touched=True)
    assert int((touched == 1).sum()) >= 100


def test_inventory_in_another_crs_is_reprojected_to_the_scene(tmp_path):
    scene = landsat.read_scene(write_scene(tmp_path / "tm"))
    glacier = gpd.GeoDataFrame(geometry=[box(500300, 3999420, 500600, 3999720)], crs="EPSG:32646")
    in_lonlat = glacier.to_crs("EPSG:4326")
    direct = inventory.rasterize_inventory(glacier, scene)
    via_lonlat = inventory.rasterize_inventory(in_lonlat, scene)
    assert int(np.abs(direct.astype(int) - via_lonlat.astype(int)).sum()) <= 4  # edge pixels only


def test_invalid_polygons_are_repaired_and_reported():
    gdf = gpd.GeoDataFrame(
        {"RGIId": ["a", "b", "c", "d"]},
        geometry=[_bowtie(500000, 3999000, 300), box(500500, 3999000, 500800, 3999300),
                  LineString([(0, 0), (1, 1)]), None],
        crs="EPSG:32646",
    )
    with pytest.warns(UserWarning, match="1 invalid geometries repaired"):
        fixed, report = inventory.validate_inventory(gdf)
    assert report.repaired == [0]
    assert report.dropped_not_polygonal == [2] and report.dropped_empty == [3]
    assert report.n_output == 2 and len(fixed) == 2
    assert fixed.geometry.is_valid.all()
    assert fixed.geometry.iloc[0].geom_type == "MultiPolygon"  # the bow-tie becomes two triangles
    assert fixed.geometry.iloc[0].area == pytest.approx(2 * (300 * 150 / 2))  # two triangles, base 300 m, height 150 m
    assert "1 invalid geometries repaired" in fixed.attrs["repair_report"]


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.crs. was not provided")  # the fixture is written without a CRS on purpose
def test_inventory_without_crs_is_an_error(tmp_path):
    shp = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"RGIId": ["a"]}, geometry=[box(0, 0, 1, 1)]).to_file(shp)
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(DataError, match="nocrs.shp has no CRS"):
        inventory.read_inventory(shp)
    no_crs = gpd.GeoDataFrame({"RGIId": ["a"]}, geometry=[box(0, 0, 1, 1)])
    with pytest.raises(DataError, match="no CRS"):
        inventory.reproject_inventory(no_crs)
    with pytest.raises(DataError, match="no CRS"):
        inventory.rasterize_inventory(no_crs, inventory.make_grid((0, 0, 90, 90), "EPSG:32646"))


def test_empty_inventory_is_an_error(tmp_path):
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"RGIId": []}, geometry=[], crs="EPSG:32646").to_file(path)
    with pytest.raises(DataError, match="empty.gpkg holds no features"):
        inventory.read_inventory(path)
    empty = inventory.read_inventory(path, allow_empty=True)
    with pytest.raises(DataError, match="no features to rasterise"):
        inventory.rasterize_inventory(empty, inventory.make_grid((0, 0, 90, 90), "EPSG:32646"))


def test_inventory_with_no_overlap_is_an_error_or_a_warning(tmp_path):
    scene = landsat.read_scene(write_scene(tmp_path / "tm"))
    far = gpd.GeoDataFrame(geometry=[box(600000, 3000000, 600300, 3000300)], crs="EPSG:32646")
    far.attrs["source"] = "far.gpkg"
    with pytest.raises(DataError, match="none of the 1 polygons of far.gpkg overlap"):
        inventory.rasterize_inventory(far, scene)
    with pytest.warns(UserWarning, match="overlap"):
        label = inventory.rasterize_inventory(far, scene, on_no_overlap="warn")
    assert int((label == 1).sum()) == 0


def test_missing_and_unreadable_inventory_files_are_named(tmp_path):
    with pytest.raises(DataError, match="missing.shp does not exist"):
        inventory.read_inventory(tmp_path / "missing.shp")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ not json")
    with pytest.raises(DataError, match="cannot read inventory .*bad.geojson"):
        inventory.read_inventory(bad)
