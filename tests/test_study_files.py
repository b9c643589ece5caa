"""A user's own study from files: plain 4-band GeoTIFFs in another UTM zone, polygon subareas, RGI-7 outlines."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from glacier_utils import study, tiles
from glacier_utils.errors import DataError
from glacier_utils.io import sources, study_files

SIZE = 96
NORTH = 5_100_000.0
WESTS = {"west_a": 400_020.0, "west_b": 400_020.0 + 1_500.0, "east_a": 430_020.0}
GLACIERS = [(400_020.0 + 900.0, NORTH - 1_200.0, 700.0), (400_020.0 + 2_600.0, NORTH - 1_500.0, 600.0),
            (430_020.0 + 1_400.0, NORTH - 1_300.0, 800.0)]


def _image(west: float, seed: int) -> np.ndarray:
    """B, G, R, NIR uint8 DN: bright where the outlines say glacier, SLC-off-like fill stripes."""
    x = west + 15.0 + 30.0 * np.arange(SIZE)
    y = NORTH - 15.0 - 30.0 * np.arange(SIZE)
    xx, yy = np.meshgrid(x, y)
    ice = np.zeros((SIZE, SIZE), bool)
    for gx, gy, r in GLACIERS:
        ice |= (xx - gx) ** 2 + (yy - gy) ** 2 < r ** 2
    rng = np.random.default_rng(seed)
    dn = np.array([70, 60, 50, 45])[:, None, None] + 120 * ice[None] + rng.integers(0, 8, (4, SIZE, SIZE))
    dn[:, :, 5::47] = 0
    return dn.astype(np.uint8)


@pytest.fixture()
def alps_study(tmp_path):
    """The study a user would hold: GeoTIFFs, subarea polygons, an RGI-7-like inventory and the TOML."""
    for i, (name, west) in enumerate(WESTS.items()):
        with rasterio.open(tmp_path / f"{name}.tif", "w", driver="GTiff", height=SIZE, width=SIZE, count=4,
                           dtype="uint8", crs="EPSG:32632", transform=from_origin(west, NORTH, 30.0, 30.0),
                           nodata=0) as dst:
            dst.write(_image(west, i))
    glaciers = gpd.GeoDataFrame(
        {"rgi_id": [f"RGI2000-v7.0-G-11-0000{i}" for i in range(len(GLACIERS))], "area_km2": [1.0] * len(GLACIERS),
         "glac_name": ["a", "b", "c"], "glims_id": ["G1", "G2", "G3"], "src_date": ["2003-08-01"] * len(GLACIERS)},
        geometry=[shapely.Point(gx, gy).buffer(r) for gx, gy, r in GLACIERS], crs="EPSG:32632").to_crs("EPSG:4326")
    glaciers.to_file(tmp_path / "rgi7.gpkg")
    subareas = gpd.GeoDataFrame({"region": ["west", "east"]}, geometry=[
        shapely.box(399_000, NORTH - 5_000, 420_000, NORTH + 1_000), shapely.box(425_000, NORTH - 5_000, 440_000, NORTH + 1_000)],
        crs="EPSG:32632")
    subareas.to_file(tmp_path / "subareas.gpkg")
    path = tmp_path / "alps.toml"
    path.write_text('''
name = "alps"
source = "local"
crs = "auto"
bands = [1, 2, 3, 4]
periods = [[2003, 2005], [2019, 2021]]
inventory = "rgi7.gpkg"
stride_px = 8
[subareas]
file = "subareas.gpkg"
column = "region"
[roles]
training = "west"
[images]
kind = "geotiff"
band_map = {1 = 1, 2 = 2, 3 = 3, 4 = 4}
unit = "dn"
sensor = "ETM"
[scenes]
training = [{path = "west_a.tif", date = "2003-08-10"}, {path = "west_b.tif", date = "2004-08-12"},
            {path = "east_a.tif", date = "2003-08-10"}]
"2003-2005" = [{path = "west_a.tif", date = "2003-08-10"}]
"2019-2021" = [{path = "east_a.tif", date = "2020-08-10"}]
''')
    return study.load_study(path)


def test_a_geotiff_study_reads_labels_and_tiles_on_its_own_utm_grid(alps_study):
    scenes = sources.study_scenes(alps_study, "training")
    assert [s.attrs["area"] for s in scenes] == ["west", "west", "east"]
    for scene in scenes:
        assert scene["dn"].rio.crs.to_epsg() == 32632  # "auto": the UTM zone of the scenes' centre
        assert list(scene["dn"]["band"].values) == [1, 2, 3, 4]
        assert 0.05 < float((scene["label"] == 1).mean()) < 0.5
        bright = scene["dn"].sel(band=1).values > 150
        assert (bright == (scene["label"].values == 1))[scene["dn"].sel(band=1).values > 0].mean() > 0.97
    ds = tiles.prepare_tile_dataset(scenes, "smoke", tile_px=16, seed=3, stride_px=alps_study.stride_px,
                                    crs="EPSG:32632", training_area=alps_study.training_subarea,
                                    testing_areas=alps_study.testing_subareas)
    assert ds.rio.crs.to_epsg() == 32632 and list(ds["band"].values) == [1, 2, 3, 4]
    parts = tiles.split_indices(ds, "scene2")
    assert set(parts) == {"train", "validation", "test_1"}
    assert len(parts["train"]) and len(parts["test_1"])
    assert set(ds["area"].values[parts["test_1"]]) == {"east"}
    assert tiles.held_out_areas(ds) == {"test": "scene_1", "test_1": "east"}


def test_an_image_outside_every_subarea_is_named(alps_study, tmp_path):
    far = tmp_path / "far.tif"
    with rasterio.open(far, "w", driver="GTiff", height=SIZE, width=SIZE, count=4, dtype="uint8", crs="EPSG:32632",
                       transform=from_origin(480_000.0, NORTH, 30.0, 30.0), nodata=0) as dst:
        dst.write(_image(480_000.0, 9))
    entry = study.SceneEntry(far, "2004-08-01")
    lonely = study.Study(**{**alps_study.__dict__, "scenes": {"training": (entry,)}})
    with pytest.raises(DataError, match="far.tif lies in none of study 'alps'"):
        sources.study_scenes(lonely, "training")


def test_a_band_the_study_needs_but_the_images_lack_is_named(alps_study):
    wants_swir = study.Study(**{**alps_study.__dict__, "bands": (1, 2, 3, 4, 5)})
    with pytest.raises(DataError, match=r"west_a.tif: the study uses TM-equivalent band\(s\) \[5\]"):
        sources.study_scenes(wants_swir, "training")


# --------------------------------------------------------------------------------------------
# Bad study files are refused from the files' headers, before any image is read
# --------------------------------------------------------------------------------------------
def _changed(alps_study, **changes):
    return study.Study(**{**alps_study.__dict__, **changes})


def test_a_sound_study_passes_the_file_checks(alps_study):
    study_files.check_study_files(alps_study)
    study_files.check_study_files(_changed(alps_study, crs="EPSG:32633"))  # the neighbouring zone is fine


def test_a_crs_that_contradicts_the_files_is_refused(alps_study):
    with pytest.raises(DataError, match=r"crs = 'EPSG:32646' is UTM zone 46N, but .*west_a.tif lies at .*zone 32N"):
        study_files.check_study_files(_changed(alps_study, crs="EPSG:32646"))
    with pytest.raises(DataError, match=r"crs = 'EPSG:32732' is UTM zone 32S"):
        study_files.check_study_files(_changed(alps_study, crs="EPSG:32732"))
    with pytest.raises(DataError, match=r"crs = 'EPSG:3413' is meant for .*west_a.tif lies at"):
        study_files.check_study_files(_changed(alps_study, crs="EPSG:3413"))


def test_a_subarea_that_overlaps_no_image_is_named(alps_study, tmp_path):
    subareas = gpd.read_file(tmp_path / "subareas.gpkg")
    far = gpd.GeoDataFrame({"region": ["north"]}, geometry=[shapely.box(400_000, NORTH + 50_000, 410_000, NORTH + 60_000)],
                           crs=subareas.crs)
    gpd.GeoDataFrame(pd.concat([subareas, far], ignore_index=True), crs=subareas.crs).to_file(tmp_path / "subareas3.gpkg")
    three = _changed(alps_study, subarea_polygons=(tmp_path / "subareas3.gpkg", "region"),
                     subarea_labels={"west": "west", "east": "east", "north": "north"})
    with pytest.raises(DataError, match=r"subarea\(s\) \['north'\] of .*subareas3.gpkg overlap none of the training images"):
        study_files.check_study_files(three)


def test_a_band_the_map_lacks_or_the_file_lacks_is_named_before_reading(alps_study):
    images = alps_study.images
    short_map = _changed(alps_study, images=study.ImageFormat(**{**images.__dict__, "band_map": {1: 1, 2: 2, 3: 3}}))
    with pytest.raises(DataError, match=r"TM band\(s\) \[4\] that \[images\] band_map .* does not map"):
        study_files.check_study_files(short_map)
    wide_map = _changed(alps_study, images=study.ImageFormat(**{**images.__dict__, "band_map": {1: 1, 2: 2, 3: 3, 6: 4}}))
    with pytest.raises(DataError, match=r"west_a.tif holds 4 band\(s\), but \[images\] band_map .* file band\(s\) \[6\]"):
        study_files.check_study_files(wide_map)


def test_a_missing_or_corrupt_image_is_named(alps_study, tmp_path):
    (tmp_path / "east_a.tif").write_bytes(b"II*\x00 not a tiff any more")
    with pytest.raises(DataError, match=r"east_a.tif cannot be read as a raster .*corrupt"):
        study_files.check_study_files(alps_study)
    (tmp_path / "east_a.tif").unlink()
    with pytest.raises(DataError, match=r"east_a.tif \(listed in study file .*alps.toml\) does not exist"):
        study_files.check_study_files(alps_study)
