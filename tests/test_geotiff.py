"""Plain GeoTIFFs (no MTL, any band set) read into the data contract, and their bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from glacier_utils import config, tiles
from glacier_utils.errors import DataError
from glacier_utils.io import geotiff
from glacier_utils.training_data import make_tf_dataset

SIZE = 64
WEST, NORTH = 400_020.0, 5_100_000.0  # UTM 32N (an Alpine-like region), on the 30 m lattice


def _write(path, array, *, crs="EPSG:32632", west=WEST, nodata=0, dtype=None):
    array = np.asarray(array)
    array = array[None] if array.ndim == 2 else array
    profile = {"driver": "GTiff", "height": array.shape[1], "width": array.shape[2], "count": array.shape[0],
               "dtype": dtype or array.dtype, "transform": from_origin(west, NORTH, 30.0, 30.0), "nodata": nodata}
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array.astype(profile["dtype"]))
    return path


def _etm_like_bgrn(seed: int = 0) -> np.ndarray:
    """Blue, green, red, NIR DN (uint8) with a bright glacier disc and SLC-off-like fill stripes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    ice = (yy - 30) ** 2 + (xx - 34) ** 2 < 18 ** 2
    dn = np.array([70, 60, 50, 45])[:, None, None] + 120 * ice[None] + rng.integers(0, 8, (4, SIZE, SIZE))
    dn[:, :, 7::40] = 0  # SLC-off gaps: fill in every band
    return dn.astype(np.uint8)


def test_one_multiband_file_and_one_file_per_band_read_the_same(tmp_path):
    dn = _etm_like_bgrn()
    stacked = geotiff.read_geotiff_scene(_write(tmp_path / "etm.tif", dn), {1: 1, 2: 2, 3: 3, 4: 4}, date="2005-08-10")
    files = [_write(tmp_path / f"b{i}.tif", dn[i]) for i in range(4)]
    separate = geotiff.read_geotiff_scene(files, {1: 1, 2: 2, 3: 3, 4: 4}, name="etm", date="2005-08-10")
    assert list(stacked["dn"]["band"].values) == [1, 2, 3, 4]
    assert list(stacked["dn"]["band_name"].values) == ["blue", "green", "red", "nir"]
    np.testing.assert_array_equal(stacked["dn"].values, dn)
    np.testing.assert_array_equal(separate["dn"].values, dn)
    assert stacked["dn"].rio.crs.to_epsg() == 32632 and stacked.attrs["metadata_source"] == "none"
    assert config.nodata_of(stacked["dn"]) == 0 and stacked.attrs["date"] == "2005-08-10"


def test_the_band_map_puts_file_bands_in_tm_order(tmp_path):
    dn = _etm_like_bgrn()
    path = _write(tmp_path / "rgbn.tif", dn[[2, 1, 0, 3]])  # a file ordered red, green, blue, NIR
    scene = geotiff.read_geotiff_scene(path, {"1": 3, "2": 2, "3": 1, "4": 4})
    np.testing.assert_array_equal(scene["dn"].values, dn)


def test_a_four_band_scene_tiles_and_feeds_a_four_channel_network(tmp_path):
    dn = _etm_like_bgrn()
    scene = geotiff.read_geotiff_scene(_write(tmp_path / "etm.tif", dn), {1: 1, 2: 2, 3: 3, 4: 4}, date="2005-08-10")
    yy, xx = np.mgrid[:SIZE, :SIZE]
    label = ((yy - 30) ** 2 + (xx - 34) ** 2 < 18 ** 2).astype(np.uint8)
    scene["label"] = (("y", "x"), label)
    scene = scene.rio.write_crs("EPSG:32646")  # tiled on a grid in the scene's own CRS
    scene["dn"] = scene["dn"].rio.write_crs("EPSG:32646")
    scene.attrs.update(area="training")
    cut, counts = tiles.cut_tiles(scene, 16)
    assert cut["image"].shape[-1] == 4 and counts["valid"] < counts["complete"]  # SLC-off gaps drop tiles
    assert not np.any(cut["image"] == 0)
    ds = tiles.tile_scenes([scene], 16)
    assert list(ds["band"].values) == [1, 2, 3, 4] and ds["image"].shape[-1] == 4


@pytest.mark.parametrize("values, unit, message", [
    (np.full((4, SIZE, SIZE), 0.3, np.float32), "dn", "unit = 'dn' but the values are fractional"),
    (np.full((4, SIZE, SIZE), 87, np.uint8), "reflectance", "unit = 'reflectance' but values reach"),
    (np.full((4, SIZE, SIZE), 4321.0, np.float32), "reflectance", "divide first"),
])
def test_a_unit_that_contradicts_the_values_is_refused(tmp_path, values, unit, message):
    with pytest.raises(DataError, match=message):
        geotiff.read_geotiff_scene(_write(tmp_path / "x.tif", values), {1: 1, 2: 2, 3: 3, 4: 4}, unit=unit)


def test_reflectance_in_its_unit_is_accepted(tmp_path):
    values = np.linspace(0.02, 0.9, 4 * SIZE * SIZE, dtype=np.float32).reshape(4, SIZE, SIZE)
    scene = geotiff.read_geotiff_scene(_write(tmp_path / "r.tif", values, nodata=None), {1: 1, 2: 2, 3: 3, 4: 4},
                                       unit="reflectance")
    assert scene.attrs["unit"] == "reflectance" and np.isnan(config.nodata_of(scene["dn"]))


def test_bad_band_maps_and_files_name_the_problem(tmp_path):
    dn = _etm_like_bgrn()
    path = _write(tmp_path / "etm.tif", dn)
    with pytest.raises(DataError, match=r"has 4 band\(s\); band_map names file band\(s\) \[5\]"):
        geotiff.read_geotiff_scene(path, {1: 1, 5: 5})
    with pytest.raises(DataError, match="distinct TM-equivalent bands"):
        geotiff.read_geotiff_scene(path, {1: 1, 2: 9})
    with pytest.raises(DataError, match="distinct TM-equivalent bands"):
        geotiff.read_geotiff_scene(path, {1: 1, 2: 1})
    with pytest.raises(DataError, match="unit = 'kelvin'"):
        geotiff.read_geotiff_scene(path, {1: 1}, unit="kelvin")
    with pytest.raises(DataError, match="does not exist"):
        geotiff.read_geotiff_scene(tmp_path / "nope.tif", {1: 1})


def test_band_files_on_different_grids_or_crs_are_refused(tmp_path):
    dn = _etm_like_bgrn()
    a = _write(tmp_path / "a.tif", dn[0])
    shifted = _write(tmp_path / "b.tif", dn[1], west=WEST + 30.0)
    other_crs = _write(tmp_path / "c.tif", dn[1], crs="EPSG:32633")
    with pytest.raises(DataError, match="is not on the grid of"):
        geotiff.read_geotiff_scene([a, shifted], {1: 1, 2: 2})
    with pytest.raises(DataError, match="has CRS EPSG:32633"):
        geotiff.read_geotiff_scene([a, other_crs], {1: 1, 2: 2})
    with pytest.raises(DataError, match=r"2 single-band files given, but band_map names file bands \[1, 3\]"):
        geotiff.read_geotiff_scene([a, shifted], {1: 1, 3: 2})


def test_a_file_without_crs_is_refused(tmp_path):
    with pytest.raises(DataError, match="has no CRS"):
        geotiff.read_geotiff_scene(_write(tmp_path / "nocrs.tif", _etm_like_bgrn(), crs=None), {1: 1, 2: 2, 3: 3, 4: 4})


def test_four_band_tiles_feed_tf_data_with_four_channels(tmp_path):
    dn = _etm_like_bgrn()
    yy, xx = np.mgrid[:SIZE, :SIZE]
    label = ((yy - 30) ** 2 + (xx - 34) ** 2 < 18 ** 2).astype(np.uint8)
    scenes = []
    for i, (west, wrs2) in enumerate([(WEST, "139036"), (WEST + 3000.0, "139035"), (WEST + 6000.0, "133035")]):
        scene = geotiff.read_geotiff_scene(_write(tmp_path / f"s{i}.tif", dn, crs="EPSG:32646", west=west),
                                           {1: 1, 2: 2, 3: 3, 4: 4}, name=wrs2, date="2005-08-10")
        scene["label"] = (("y", "x"), label)
        scene.attrs["area"] = config.area_of_scene(wrs2)
        scenes.append(scene)
    ds = tiles.prepare_tile_dataset(scenes, "smoke", tile_px=16, seed=1)
    train = tiles.split_indices(ds, "scene2")["train"]
    images, labels = next(iter(make_tf_dataset(ds, train, "scene2", batch_size=2)))
    assert images.shape[-1] == 4 and ds["norm_mean"].shape == (3, 4)
