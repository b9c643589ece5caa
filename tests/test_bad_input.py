"""Bad input never gives a silent wrong number, and an interrupted write leaves nothing behind (issue 19).

One test (or a few) per class of bad input; every bad file is written here, in ``tmp_path``. Each
case must raise a clear ``DataError`` (bad data) or ``ValueError`` (bad parameter) naming the file
or parameter, before any output is written. ``book/real_data.md`` ("Bad input") lists the messages.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import shapely
import xarray as xr
from affine import Affine

from _level1_fixtures import band_values, write_band, write_scene
from glacier_utils import _atomic, bandratio, config, outlines
from glacier_utils.errors import DataError
from glacier_utils.io import inventory, landsat, radiometry, stac
from glacier_utils.tiles import grid

WEST, NORTH = 500_010.0, 3_800_010.0  # a corner on the study grid's 30 m lattice


def float_scene(size: int = 32, *, nodata: float | None = 0.0, nan_at=((5, 6),), label: bool = True) -> xr.Dataset:
    """A float32 contract scene on the study grid with NaN DN at ``nan_at`` (all bands)."""
    rng = np.random.default_rng(0)
    dn = rng.uniform(20, 200, (config.N_BANDS, size, size)).astype(np.float32)
    for y, x in nan_at:
        dn[:, y, x] = np.nan
    xs = WEST + 15.0 + 30.0 * np.arange(size)
    ys = NORTH - 15.0 - 30.0 * np.arange(size)
    ds = xr.Dataset({"dn": (("band", "y", "x"), dn)},
                    coords={"band": list(config.BAND_NUMBERS), "band_name": ("band", list(config.BAND_NAMES)),
                            "x": xs, "y": ys},
                    attrs={"wrs2": "137037", "date": "2007-09-19", "sensor": "TM"})
    if label:
        ds["label"] = (("y", "x"), np.ones((size, size), np.uint8))
    ds = ds.rio.write_crs(config.STUDY_CRS).rio.write_transform(Affine(30.0, 0, WEST, 0, -30.0, NORTH))
    if nodata is not None:
        ds["dn"].attrs["nodata"] = nodata
    return ds


def _edit_mtl(folder: Path, **values) -> Path:
    """Set ``KEY = value`` lines of the folder's MTL (a value of None deletes the line)."""
    mtl = next(folder.glob("*_MTL.txt"))
    text = mtl.read_text()
    for key, value in values.items():
        pattern = re.compile(rf"^(\s*){key} = .*$", re.MULTILINE)
        assert pattern.search(text), key
        text = pattern.sub("" if value is None else rf"\g<1>{key} = {value}", text)
    mtl.write_text(text)
    return mtl


# --------------------------------------------------------------------------------------------
# 1. NaN is no data
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nodata", [0.0, np.nan, None], ids=["nodata0", "nodataNaN", "no-nodata"])
def test_nan_dn_is_not_a_valid_pixel(nodata):
    scene = float_scene(nodata=nodata)
    valid = landsat.valid_mask(scene["dn"]).values
    assert not valid[5, 6] and valid.sum() == valid.size - 1
    ratio_valid = bandratio.valid_mask(scene["dn"]).values
    assert not ratio_valid[5, 6] and ratio_valid.sum() == valid.size - 1


def test_nan_in_a_band_outside_the_ratio_is_not_valid_for_the_band_ratio():
    scene = float_scene(nan_at=())
    scene["dn"][0, 3, 3] = np.nan  # TM1 only: the ratio TM3/TM5 itself is finite there
    assert not bandratio.valid_mask(scene["dn"]).values[3, 3]


def test_nan_pixels_are_rasterised_as_nodata():
    scene = float_scene(nodata=np.nan)
    gdf = gpd.GeoDataFrame(geometry=[shapely.box(WEST, NORTH - 32 * 30, WEST + 32 * 30, NORTH)], crs=config.STUDY_CRS)
    label = inventory.rasterize_inventory(gdf, scene).values
    assert label[5, 6] == config.LABEL_NODATA
    assert (label == 1).sum() == label.size - 1


def test_cut_tiles_drops_tiles_with_nan_and_keeps_the_rest():
    scene = float_scene(64, nodata=np.nan, nan_at=((30, 30),))
    arrays, counts = grid.cut_tiles(scene, 16)
    assert counts["complete"] >= 4 and counts["dropped_nodata"] == 1 and counts["valid"] == counts["complete"] - 1
    assert np.isfinite(arrays["image"]).all()


def test_a_float_scene_with_nan_nodata_is_reprojected_to_the_study_grid():
    scene = float_scene(nodata=np.nan).rio.write_crs("EPSG:32645")  # off the study grid: warped
    scene["dn"] = scene["dn"].rio.write_nodata(np.nan, encoded=False)
    warped = grid.to_study_grid(scene)
    assert warped.rio.crs == config.STUDY_CRS
    assert np.isnan(warped["dn"].values).any() and np.isnan(warped["dn"].attrs["nodata"])


def test_one_nan_pixel_gives_one_nan_probability():
    keras = pytest.importorskip("keras")
    from glacier_utils import inference

    inputs = keras.Input((None, None, config.N_BANDS))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="tanh")(inputs)
    x = keras.layers.Conv2D(2, 3, padding="same")(x)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    scene = float_scene(nodata=0.0, nan_at=((16, 16),), label=False)
    stats = {"mean": np.full(config.N_BANDS, 100.0), "std": np.full(config.N_BANDS, 50.0)}
    out = inference.predict_scene(scene, model, stats, window_px=16, overlap_px=4, chunk_px=None)
    probability = out["probability"].values
    assert np.isnan(probability).sum() == 1 and np.isnan(probability[16, 16])
    assert out["mask"].values[16, 16] == config.LABEL_NODATA


# --------------------------------------------------------------------------------------------
# 2. Physically impossible metadata
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("elevation", [0, -20, 95])
def test_impossible_sun_elevation_is_refused(tmp_path, elevation):
    folder = write_scene(tmp_path / "scene")
    mtl = _edit_mtl(folder, SUN_ELEVATION=elevation)
    with pytest.raises(DataError, match=rf"{re.escape(str(mtl))}: SUN_ELEVATION = {float(elevation)} degrees is impossible"):
        landsat.read_scene(folder)


def test_impossible_earth_sun_distance_is_refused(tmp_path):
    folder = write_scene(tmp_path / "scene")
    _edit_mtl(folder, EARTH_SUN_DISTANCE=1.5)
    with pytest.raises(DataError, match="EARTH_SUN_DISTANCE = 1.5 AU is outside the Earth's orbit"):
        landsat.read_scene(folder)


def test_non_positive_gain_is_refused_before_toa(tmp_path):
    folder = write_scene(tmp_path / "scene")
    mtl = _edit_mtl(folder, REFLECTANCE_MULT_BAND_3="-1.2000E-03")
    scene = landsat.read_scene(folder)
    with pytest.raises(DataError, match=rf"{re.escape(str(mtl))}: REFLECTANCE_MULT_BAND_3 = -0.0012 is not a positive gain"):
        radiometry.toa(scene)


# --------------------------------------------------------------------------------------------
# 3. The MTL must describe the files beside it
# --------------------------------------------------------------------------------------------
def test_oli_uint16_files_beside_a_tm_mtl_are_refused(tmp_path):
    folder = write_scene(tmp_path / "scene", sensor="TM")
    for path in folder.glob("*_B*.TIF"):
        n = int(path.stem.rsplit("_B", 1)[1])
        write_band(path, band_values(n, (40, 50), "uint16") * 200)
    with pytest.raises(DataError, match=r"holds uint16 DN, but .*_MTL\.txt says TM, whose Level-1 DN are uint8"):
        landsat.read_scene(folder)


def test_an_etm_mtl_beside_landsat5_files_is_refused(tmp_path):
    folder = write_scene(tmp_path / "scene", sensor="TM")
    _edit_mtl(folder, SPACECRAFT_ID='"LANDSAT_7"', SENSOR_ID='"ETM"',
              LANDSAT_PRODUCT_ID='"LE07_L1TP_137037_20070919_20200830_02_T1"')
    with pytest.raises(DataError, match=r"LT05_.*_B1\.TIF is a TM file of LANDSAT_5 by its name, but .* says ETM on LANDSAT_7"):
        landsat.read_scene(folder)


def test_an_mtl_whose_product_id_contradicts_its_sensor_is_refused(tmp_path):
    folder = write_scene(tmp_path / "scene", sensor="TM")
    _edit_mtl(folder, SPACECRAFT_ID='"LANDSAT_7"', SENSOR_ID='"ETM"')
    with pytest.raises(DataError, match="product id LT05_.* names TM on LANDSAT_5, but SENSOR_ID / SPACECRAFT_ID say ETM"):
        landsat.read_scene(folder)


# --------------------------------------------------------------------------------------------
# 4. Out-of-range parameters
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [np.nan, 1.5, 0.0, -0.2])
def test_predict_scene_refuses_a_threshold_that_is_not_a_probability(threshold):
    pytest.importorskip("keras")
    from glacier_utils import inference

    with pytest.raises(ValueError, match=r"threshold=.*strictly between 0 and 1"):
        inference.predict_scene(float_scene(label=False), "no-model.keras", threshold=threshold)


@pytest.mark.parametrize("threshold", [-1.0, 0.0])
def test_band_ratio_refuses_a_non_positive_threshold(threshold):
    dn = float_scene(nan_at=())["dn"]
    with pytest.raises(ValueError, match="ratio threshold must be positive"):
        bandratio.classify(dn, threshold)
    with pytest.raises(ValueError, match="ratio threshold must be positive"):
        bandratio.sweep([(dn, np.ones((32, 32), np.uint8))], thresholds=[threshold, 2.0])


# --------------------------------------------------------------------------------------------
# 5. Every band is checked for all-nodata
# --------------------------------------------------------------------------------------------
def test_a_scene_whose_b5_is_all_nodata_is_refused(tmp_path):
    folder = write_scene(tmp_path / "scene", sensor="TM")
    b5 = next(folder.glob("*_B5.TIF"))
    write_band(b5, np.zeros((40, 50), np.uint8))
    with pytest.raises(DataError, match=rf"band file {re.escape(str(b5))} \(TM band 5\) holds only nodata"):
        landsat.read_scene(folder)


def test_an_all_nan_float_scene_is_refused(tmp_path):
    folder = tmp_path / "scene"
    folder.mkdir()
    for n in range(1, 8):
        write_band(folder / f"scene_B{n}.TIF", np.full((20, 20), np.nan, np.float32), nodata=float("nan"))
    with pytest.raises(DataError, match=r"scene_B1\.TIF \(TM band 1\) holds only nodata \(nan\) or NaN"):
        landsat.read_scene(folder, sensor="TM")


# --------------------------------------------------------------------------------------------
# 6. Points and lines are no glacier outlines
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("geometry, kind", [
    (shapely.Point(WEST + 300, NORTH - 300), "Point"),
    (shapely.box(WEST + 100, NORTH - 600, WEST + 600, NORTH - 100).exterior, "LinearRing|LineString"),
    (shapely.LineString([(WEST + 100, NORTH - 100), (WEST + 600, NORTH - 600)]), "LineString"),
])
def test_points_and_lines_are_not_burnt_as_glacier(geometry, kind):
    scene = float_scene(nan_at=())
    gdf = gpd.GeoDataFrame(geometry=[shapely.box(WEST + 30, NORTH - 90, WEST + 90, NORTH - 30), geometry],
                           crs=config.STUDY_CRS)
    gdf.attrs["source"] = "test_inventory.gpkg"
    with pytest.raises(DataError, match=rf"test_inventory\.gpkg: 1 of 2 features are not polygons \(1 ({kind}); at rows \[1\]"):
        inventory.rasterize_inventory(gdf, scene)


# --------------------------------------------------------------------------------------------
# 7. A killed COG write leaves nothing behind, and the target stays intact
# --------------------------------------------------------------------------------------------
_KILLED_WRITER = textwrap.dedent('''
    import sys, time
    import numpy as np, rasterio.shutil, rioxarray, xarray as xr
    from glacier_utils import cog

    real_copy = rasterio.shutil.copy

    def slow_copy(*args, **kwargs):  # the COG is half made: both temporaries exist
        real_copy(*args, **kwargs)
        print("copied", flush=True)
        time.sleep(120)

    rasterio.shutil.copy = slow_copy
    values = np.full((64, 64), 2, np.uint8)
    array = xr.DataArray(values, dims=("y", "x"), coords={"y": 3_800_000.0 - 15 - 30 * np.arange(64),
                                                        "x": 500_000.0 + 15 + 30 * np.arange(64)})
    cog.write_cog(array.rio.write_crs("EPSG:32646"), sys.argv[1])
''')


def _mask(value: int) -> xr.DataArray:
    array = xr.DataArray(np.full((64, 64), value, np.uint8), dims=("y", "x"),
                         coords={"y": 3_800_000.0 - 15 - 30 * np.arange(64), "x": 500_000.0 + 15 + 30 * np.arange(64)})
    return array.rio.write_crs(config.STUDY_CRS)


def test_a_cog_write_killed_mid_write_leaves_no_temporary_and_the_target_intact(tmp_path):
    from glacier_utils import cog

    target = tmp_path / "pred_mask.tif"
    cog.write_cog(_mask(1), target)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "copied", proc.stderr.read()
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p != target)
        assert leftovers and all(".partial-" in name for name in leftovers), leftovers
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with rasterio.open(target) as src:  # the killed write never touched the target
        assert (src.read(1) == 1).all()
    cog.write_cog(_mask(3), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    with rasterio.open(target) as src:
        assert (src.read(1) == 3).all()


# --------------------------------------------------------------------------------------------
# 8. Crashes and misleading messages
# --------------------------------------------------------------------------------------------
def test_a_period_without_glacier_is_an_empty_layer(tmp_path):
    transform = Affine(30.0, 0, WEST, 0, -30.0, NORTH)
    empty = outlines.period_outlines(np.zeros((20, 20), np.uint8), 3, transform=transform, crs=config.STUDY_CRS)
    path = outlines.write_outlines_gpkg(empty, tmp_path / "outlines.gpkg")
    back = outlines.read_outlines_gpkg(path, periods=[3])
    assert len(back) == 0 and list(back.columns) == list(empty.columns) and back.crs == empty.crs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outlines.gpkg"]


def test_a_missing_radiance_add_names_the_key_and_the_file(tmp_path):
    folder = write_scene(tmp_path / "scene")
    mtl = _edit_mtl(folder, RADIANCE_ADD_BAND_6=None)
    scene = landsat.read_scene(folder)
    with pytest.raises(DataError, match=rf"MTL {re.escape(str(mtl))} lacks RADIANCE_ADD_BAND_6"):
        radiometry.toa(scene)


def test_a_truncated_keras_file_is_not_reported_as_missing(tmp_path):
    keras = pytest.importorskip("keras")
    from glacier_utils import training

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    whole = tmp_path / "whole.keras"
    model.save(whole)
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DataError) as info:
        training.load_keras(cut)
    message = str(info.value)
    assert "File not found" not in message and "exists but is not a readable .keras archive" in message
    assert str(cut) in message


def test_an_unwritable_folder_is_named_before_anything_is_written(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    real_access = os.access
    # Tests run as root, which writes anywhere: make the folder refuse writes as a read-only mount does.
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder else real_access(p, mode, **kw))
    with pytest.raises(DataError, match=rf"cannot write result\.txt: its folder {re.escape(str(folder))} is read-only"):
        _atomic.write_text(folder / "result.txt", "x")
    assert list(folder.iterdir()) == []


def test_a_failing_cleanup_never_masks_the_write_error(tmp_path, monkeypatch):
    target = tmp_path / "layers.gpkg"
    real_remove = _atomic._remove
    writing = []

    def remove(path):
        if writing:
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        real_remove(path)

    monkeypatch.setattr(_atomic, "_remove", remove)
    with pytest.raises(DataError, match=rf"cannot write layers\.gpkg: its folder {re.escape(str(tmp_path))}") as info:
        with _atomic.atomic_path(target) as tmp:
            writing.append(True)
            raise OSError(errno.EROFS, "Read-only file system", str(tmp))
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.EROFS


def _one_item_catalogue(root: Path) -> tuple[Path, Path]:
    catalog = pystac.Catalog(id="c", description="one item")
    item = pystac.Item(id="LT05_L1TP_137037_20070919_20200830_02_T1", geometry=None, bbox=None,
                       datetime=dt.datetime(2007, 9, 19), properties={})
    catalog.add_item(item)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json", Path(item.get_self_href())


def test_a_missing_and_a_malformed_stac_item_give_two_clear_messages(tmp_path):
    catalog, item = _one_item_catalogue(tmp_path / "missing")
    item.unlink()
    with pytest.raises(DataError, match=rf"STAC item file {re.escape(str(item))}, listed in .*catalog\.json, does not exist"):
        stac.search(catalog, 137, 37)
    catalog, item = _one_item_catalogue(tmp_path / "malformed")
    item.write_text(json.dumps({"type": "Feature", "id": "x"}))  # no stac_version, geometry, properties
    with pytest.raises(DataError, match=rf"STAC item file {re.escape(str(item))}, listed in .*catalog\.json, is malformed"):
        stac.search(catalog, 137, 37)


def test_an_etm_mtl_beside_real_lt5_files_is_refused(tmp_path, real_data_dir):
    source = real_data_dir / "landsat5_tm_p224r063_1988"
    folder = tmp_path / "scene"
    folder.mkdir()
    for path in source.iterdir():
        data = path.read_bytes()
        if path.name.endswith("_MTL.txt"):  # the pre-Collection MTL, NUL padding kept
            data = data.replace(b'SPACECRAFT_ID = "LANDSAT_5"', b'SPACECRAFT_ID = "LANDSAT_7"')
            data = data.replace(b'SENSOR_ID = "TM"', b'SENSOR_ID = "ETM"')
            data = data.replace(b'"LT52240631988227CUB02"', b'"LE72240631988227CUB02"')
        (folder / path.name).write_bytes(data)
    with pytest.raises(DataError, match=r"LT52240631988227CUB02_B1\.TIF is a TM file of LANDSAT_5 by its name, but "
                                        r".*_MTL\.txt says ETM on LANDSAT_7"):
        landsat.read_scene(folder)
    assert landsat.read_scene(source).attrs["sensor"] == "TM"  # the untouched product still reads
