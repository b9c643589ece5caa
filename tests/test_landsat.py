"""Tests of glacier_utils.io.landsat: MTL parsing, band mapping, lazy reading, TOA, QA masks, bad input."""

from __future__ import annotations

import math

import dask.array
import numpy as np
import pytest
import rasterio

from _level1_fixtures import (
    K1_B6, K2_B6, RADIANCE_ADD_B6, RADIANCE_MULT_B6, REFLECTANCE_ADD, REFLECTANCE_MULT, SUN_ELEVATION,
    band_values, write_band, write_scene,
)
from glacier_utils import config
from glacier_utils.io import landsat, radiometry
from glacier_utils.errors import DataError

TM_FOLDER = "landsat5_tm_p224r063_1988"
TM_MTL = "LT52240631988227CUB02_MTL.txt"
OLI_FOLDER = "landsat8_oli_elkton"

# affine 2.4 deprecates `*` for matrix products; rioxarray and rasterio still use it (not ours to fix).
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


# ------------------------------------------------------------------------------------------
# The real Landsat 5 TM scene (pre-Collection MTL padded with NULs)
# ------------------------------------------------------------------------------------------
@pytest.mark.real
def test_read_mtl_parses_nul_padded_pre_collection_file(real_data_dir):
    raw = (real_data_dir / TM_FOLDER / TM_MTL).read_bytes()
    assert b"\x00" in raw  # the fixture really is padded
    mtl = landsat.read_mtl(real_data_dir / TM_FOLDER / TM_MTL)
    group = mtl["L1_METADATA_FILE"]
    assert group["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] == pytest.approx(49.75588889)
    assert group["PRODUCT_METADATA"]["FILE_NAME_BAND_6"] == "LT52240631988227CUB02_B6.TIF"
    assert group["PRODUCT_METADATA"]["WRS_ROW"] == 63


@pytest.mark.real
def test_real_tm_scene_has_paper_band_order_crs_and_sun_elevation(real_data_dir):
    scene = landsat.read_scene(real_data_dir / TM_FOLDER)
    dn = scene["dn"]
    assert dn.dims == ("band", "y", "x")
    assert list(dn["band"].values) == list(config.BAND_NUMBERS)
    assert list(dn["band_name"].values) == list(config.BAND_NAMES)
    assert dn.rio.crs.to_epsg() == 32622
    assert dn.dtype == np.uint8
    assert dn.attrs["nodata"] == 255 and dn.rio.nodata == 255
    assert scene.attrs["sun_elevation"] == pytest.approx(49.76, abs=0.01)
    assert scene.attrs["sensor"] == "TM"
    assert scene.attrs["date"] == "1988-08-14"
    assert scene.attrs["wrs2"] == "224063"
    assert scene.attrs["period"] == 0
    assert scene.attrs["metadata_source"] == "MTL (pre-Collection)"
    # band 5 in the stack is the B5 file, read independently with rasterio
    with rasterio.open(real_data_dir / TM_FOLDER / "LT52240631988227CUB02_B5.TIF") as src:
        np.testing.assert_array_equal(dn.sel(band=5).values, src.read(1))
        assert dn.rio.transform() == src.transform
    # pixel centres: first x is the left edge plus half a pixel
    assert float(dn["x"][0]) == pytest.approx(619395.0 + 15.0)


@pytest.mark.real
def test_real_tm_scene_is_read_lazily_with_dask(real_data_dir):
    scene = landsat.read_scene(real_data_dir / TM_FOLDER, chunks={"band": 1, "y": 128, "x": 128})
    assert isinstance(scene["dn"].data, dask.array.Array)
    assert scene["dn"].data.chunksize == (1, 128, 128)


@pytest.mark.real
def test_real_tm_toa_reflectance_matches_chander_2009_and_is_physical(real_data_dir):
    scene = landsat.read_scene(real_data_dir / TM_FOLDER)
    toa = radiometry.toa(scene).compute()
    reflective = toa.sel(band=[1, 2, 3, 4, 5, 7]).values
    assert np.nanmin(reflective) > -0.05 and np.nanmax(reflective) < 1.2
    temperature = toa.sel(band=6).values
    assert 250 < np.nanmin(temperature) and np.nanmax(temperature) < 330  # tropical surface, kelvin
    # independent computation for band 3 with the MTL's numbers typed in (Chander et al. 2009, Eqs. 1, 5)
    dn3 = scene["dn"].sel(band=3).values.astype(float)
    radiance = 1.044 * dn3 - 2.21398
    d = 1.01283  # Earth-Sun distance (AU) for day 227, Chander et al. (2009) Table 6
    expected = math.pi * radiance * d**2 / (1536.0 * math.cos(math.radians(90 - 49.75588889)))
    np.testing.assert_allclose(toa.sel(band=3).values, expected, rtol=1e-3)
    # band 6: Planck inversion with the Landsat 5 TM constants
    dn6 = scene["dn"].sel(band=6).values.astype(float)
    bt = 1260.56 / np.log(607.76 / (0.055 * dn6 + 1.18243) + 1)
    np.testing.assert_allclose(temperature, bt, rtol=1e-5)


def test_earth_sun_distance_follows_published_table():
    # Chander et al. (2009) Table 6: day 1 -> 0.98331, day 182 -> 1.01667, day 274 -> 1.00108
    assert radiometry.earth_sun_distance("2001-01-01") == pytest.approx(0.98331, abs=3e-4)
    assert radiometry.earth_sun_distance("2001-07-01") == pytest.approx(1.01667, abs=3e-4)
    assert radiometry.earth_sun_distance("2001-10-01") == pytest.approx(1.00108, abs=3e-4)


# ------------------------------------------------------------------------------------------
# The real Landsat 8 bands (no MTL) and their BQA
# ------------------------------------------------------------------------------------------
@pytest.mark.real
def test_real_oli_bands_without_mtl_map_to_tm_order_and_flag_missing_metadata(real_data_dir):
    folder = real_data_dir / OLI_FOLDER
    scene = landsat.read_scene(folder, sensor="OLI")
    dn = scene["dn"]
    assert dn.dtype == np.uint16
    assert dn.rio.crs.to_epsg() == 32617
    assert scene.attrs["metadata_source"] == "none"
    assert "sun_elevation" not in scene.attrs and "date" not in scene.attrs
    assert dn.attrs["file_bands"] == [2, 3, 4, 5, 6, 10, 7]
    # TM band 4 (NIR) is OLI B5; TM band 6 (thermal) is TIRS B10
    for tm_band, oli_file in ((4, "B5"), (6, "B10"), (1, "B2")):
        with rasterio.open(folder / f"L8-{oli_file}-Elkton-VA.tiff") as src:
            np.testing.assert_array_equal(dn.sel(band=tm_band).values, src.read(1))


@pytest.mark.real
def test_real_oli_toa_without_mtl_names_the_folder(real_data_dir):
    scene = landsat.read_scene(real_data_dir / OLI_FOLDER, sensor="OLI")
    with pytest.raises(DataError, match="MTL.*landsat8_oli_elkton"):
        radiometry.toa(scene)
    with pytest.raises(DataError, match="no \\*_MTL.txt.*landsat8_oli_elkton"):
        landsat.read_scene(real_data_dir / OLI_FOLDER, sensor="OLI", require_mtl=True)


@pytest.mark.real
def test_real_oli_without_mtl_or_sensor_is_an_unknown_sensor(real_data_dir):
    with pytest.raises(DataError, match="unknown sensor.*pass sensor="):
        landsat.read_scene(real_data_dir / OLI_FOLDER)


@pytest.mark.real
def test_real_bqa_decodes_as_collection1_clear_with_one_saturated_pixel(real_data_dir):
    qa = landsat.read_qa(real_data_dir / OLI_FOLDER, kind="collection1")
    raw = qa.values
    masks = landsat.qa_masks(qa).compute()
    # 2720 = bits 5, 7, 9, 11: cloud, cloud shadow, snow/ice and cirrus confidence all "low"
    assert set(np.unique(raw)) == {2720, 2724}
    assert not masks["fill"].any() and not masks["cloud"].any()
    assert not masks["cloud_shadow"].any() and not masks["snow"].any() and not masks["cirrus"].any()
    assert bool(masks["clear"].all())
    saturation = landsat._bits(qa, *landsat.QA_BIT_TABLES["collection1"]["radiometric_saturation"]).values
    assert int((saturation > 0).sum()) == int((raw == 2724).sum()) == 1
    # at "low" confidence every pixel counts as possibly cloudy, which is why "high" is the default
    assert bool(landsat.qa_masks(qa, confidence="low")["snow"].all())


@pytest.mark.real
def test_bqa_without_mtl_needs_an_explicit_kind(real_data_dir):
    with pytest.raises(DataError, match="kind='collection1'"):
        landsat.read_qa(real_data_dir / OLI_FOLDER)


def test_qa_masks_decode_collection2_qa_pixel_bits():
    import xarray as xr

    # fill, clear, cloud (bit 3) + high cloud confidence, shadow (bit 4), snow (bit 5), cirrus (bit 2)
    values = np.array([[1, 1 << 6, (1 << 3) | (3 << 8), 1 << 4, 1 << 5, 1 << 2]], dtype="uint16")
    masks = landsat.qa_masks(xr.DataArray(values, dims=("y", "x")), kind="collection2")
    np.testing.assert_array_equal(masks["fill"].values[0], [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(masks["cloud"].values[0], [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(masks["cloud_shadow"].values[0], [0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(masks["snow"].values[0], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(masks["cirrus"].values[0], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(masks["clear"].values[0], [0, 1, 0, 0, 1, 0])


def test_qa_masks_decode_precollection_confidence_fields():
    import xarray as xr

    # cloud confidence "yes" (bits 14-15 = 3), snow "yes" (10-11), cirrus "maybe" (12-13 = 2)
    values = np.array([[3 << 14, 3 << 10, 2 << 12]], dtype="uint16")
    masks = landsat.qa_masks(xr.DataArray(values, dims=("y", "x")), kind="precollection")
    np.testing.assert_array_equal(masks["cloud"].values[0], [1, 0, 0])
    np.testing.assert_array_equal(masks["snow"].values[0], [0, 1, 0])
    np.testing.assert_array_equal(masks["cirrus"].values[0], [0, 0, 0])  # maybe < high
    assert not masks["cloud_shadow"].any()  # the pre-Collection BQA has no shadow bits


# ------------------------------------------------------------------------------------------
# Collection 2 files written by the test
# ------------------------------------------------------------------------------------------
def test_collection2_tm_scene_reads_with_metadata_and_exact_toa(tmp_path):
    folder = write_scene(tmp_path / "tm", sensor="TM", date="2007-09-19", path=137, row=37)
    scene = landsat.read_scene(folder)
    assert scene.attrs["metadata_source"] == "MTL (Collection 2)"
    assert scene.attrs["wrs2"] == "137037" and scene.attrs["area"] == "training"
    assert scene.attrs["period"] == config.period_of_year(2007)
    assert scene.attrs["sun_azimuth"] == pytest.approx(130.25)
    assert scene.attrs["cloud_cover"] == pytest.approx(3.0)
    assert scene.attrs["product_id"].startswith("LT05_L1TP_137037_20070919")
    assert scene["dn"].attrs["nodata"] == 0  # no nodata tag: the Level-1 fill value
    toa = radiometry.toa(scene)
    dn2 = band_values(2, (40, 50)).astype(float)
    expected = (REFLECTANCE_MULT * dn2 + REFLECTANCE_ADD) / math.sin(math.radians(SUN_ELEVATION))
    np.testing.assert_allclose(toa.sel(band=2).values, expected, rtol=1e-5)
    dn6 = band_values(6, (40, 50)).astype(float)
    bt = K2_B6 / np.log(K1_B6 / (RADIANCE_MULT_B6 * dn6 + RADIANCE_ADD_B6) + 1)
    np.testing.assert_allclose(toa.sel(band=6).values, bt, rtol=1e-5)


def test_collection2_oli_scene_maps_b2_to_b7_and_b10(tmp_path):
    folder = write_scene(tmp_path / "oli", sensor="OLI", date="2016-08-01")
    scene = landsat.read_scene(folder / next(p.name for p in folder.iterdir() if p.name.endswith("_MTL.txt")))
    assert scene.attrs["sensor"] == "OLI" and scene["dn"].dtype == np.uint16
    for tm_band, file_band in config.SENSOR_BAND_FILES["OLI"].items():
        np.testing.assert_array_equal(scene["dn"].sel(band=tm_band).values, band_values(file_band, (40, 50), "uint16"))


def test_sensor_follows_product_id_when_mtl_is_absent(tmp_path):
    folder = write_scene(tmp_path / "tm", sensor="TM", with_mtl=False)
    scene = landsat.read_scene(folder)
    assert scene.attrs["sensor"] == "TM" and scene.attrs["metadata_source"] == "none"


def test_valid_mask_marks_pixels_where_any_band_is_nodata(tmp_path):
    folder = write_scene(tmp_path / "tm")
    name = next(p for p in folder.iterdir() if p.name.endswith("_B4.TIF"))
    data = band_values(4, (40, 50))
    data[0, :3] = 0
    write_band(name, data)
    mask = landsat.valid_mask(landsat.read_scene(folder)["dn"]).values
    assert mask.sum() == 40 * 50 - 3 and not mask[0, :3].any()


# ------------------------------------------------------------------------------------------
# Bad input: each a clear DataError naming the file and the problem
# ------------------------------------------------------------------------------------------
def test_missing_band_file_is_named(tmp_path):
    folder = write_scene(tmp_path / "tm")
    next(p for p in folder.iterdir() if p.name.endswith("_B5.TIF")).unlink()
    with pytest.raises(DataError, match="band files B5 of the TM scene are missing"):
        landsat.read_scene(folder)


def test_garbled_mtl_names_the_file(tmp_path):
    folder = write_scene(tmp_path / "tm")
    mtl = next(p for p in folder.iterdir() if p.name.endswith("_MTL.txt"))
    mtl.write_text("this is not an MTL\n<html>")
    with pytest.raises(DataError, match=f"garbled MTL file .*{mtl.name}"):
        landsat.read_scene(folder)


def test_truncated_mtl_with_unclosed_group_is_rejected(tmp_path):
    folder = write_scene(tmp_path / "tm")
    mtl = next(p for p in folder.iterdir() if p.name.endswith("_MTL.txt"))
    mtl.write_text("\n".join(mtl.read_text().splitlines()[:20]))
    with pytest.raises(DataError, match="never closed"):
        landsat.read_mtl(mtl)


def test_mtl_lacking_sun_elevation_is_named(tmp_path):
    folder = write_scene(tmp_path / "tm")
    mtl = next(p for p in folder.iterdir() if p.name.endswith("_MTL.txt"))
    mtl.write_text("\n".join(l for l in mtl.read_text().splitlines() if "SUN_ELEVATION" not in l))
    with pytest.raises(DataError, match="lacks SUN_ELEVATION"):
        landsat.read_scene(folder)


def test_multiband_file_is_a_wrong_band_count(tmp_path):
    folder = write_scene(tmp_path / "tm")
    band3 = next(p for p in folder.iterdir() if p.name.endswith("_B3.TIF"))
    write_band(band3, np.ones((2, 40, 50), dtype="uint8"))
    with pytest.raises(DataError, match="B3.TIF has 2 bands"):
        landsat.read_scene(folder)


def test_band_on_another_grid_is_rejected(tmp_path):
    folder = write_scene(tmp_path / "tm")
    band7 = next(p for p in folder.iterdir() if p.name.endswith("_B7.TIF"))
    write_band(band7, np.ones((20, 50), dtype="uint8"))
    with pytest.raises(DataError, match="B7.TIF .*not on the grid"):
        landsat.read_scene(folder)


def test_truncated_geotiff_is_detected_at_read_time(tmp_path):
    folder = write_scene(tmp_path / "tm")
    band2 = next(p for p in folder.iterdir() if p.name.endswith("_B2.TIF"))
    band2.write_bytes(band2.read_bytes()[: band2.stat().st_size * 2 // 3])
    with pytest.raises(DataError, match="B2.TIF.*truncated"):
        landsat.read_scene(folder)


def test_geotiff_cut_inside_its_header_is_unreadable(tmp_path):
    folder = write_scene(tmp_path / "tm")
    band2 = next(p for p in folder.iterdir() if p.name.endswith("_B2.TIF"))
    band2.write_bytes(band2.read_bytes()[:100])
    with pytest.raises(DataError, match="B2.TIF"):
        landsat.read_scene(folder)


def test_all_nodata_scene_is_rejected(tmp_path):
    folder = write_scene(tmp_path / "tm", with_mtl=True)
    for path in folder.glob("*_B*.TIF"):
        write_band(path, np.zeros((40, 50), dtype="uint8"))
    with pytest.raises(DataError, match="only nodata"):
        landsat.read_scene(folder)


def test_unknown_sensor_is_rejected(tmp_path):
    folder = write_scene(tmp_path / "tm", with_mtl=False)
    with pytest.raises(DataError, match="unknown sensor 'MSS'"):
        landsat.read_scene(folder, sensor="MSS")
    mtl_folder = write_scene(tmp_path / "tm2")
    mtl = next(p for p in mtl_folder.iterdir() if p.name.endswith("_MTL.txt"))
    mtl.write_text(mtl.read_text().replace('SENSOR_ID = "TM"', 'SENSOR_ID = "MSS"'))
    with pytest.raises(DataError, match="unknown sensor 'MSS' \\(SENSOR_ID in"):
        landsat.read_scene(mtl_folder)


def test_sensor_argument_contradicting_mtl_is_rejected(tmp_path):
    folder = write_scene(tmp_path / "tm")
    with pytest.raises(DataError, match="contradicts SENSOR_ID"):
        landsat.read_scene(folder, sensor="OLI")


def test_missing_folder_and_two_scenes_in_one_folder_are_reported(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        landsat.read_scene(tmp_path / "nowhere")
    write_scene(tmp_path / "two", date="2007-09-19")
    write_scene(tmp_path / "two", date="2008-09-19")
    with pytest.raises(DataError, match="several MTL files"):
        landsat.read_scene(tmp_path / "two")


def test_reproject_scene_keeps_dn_values_and_contract_attrs(tmp_path):
    folder = write_scene(tmp_path / "tm")
    for path in folder.glob("*_B*.TIF"):
        n = int(path.stem.rsplit("_B", 1)[1])
        write_band(path, band_values(n, (40, 50)), crs="EPSG:32647")
    scene = landsat.read_scene(folder)
    warped = landsat.reproject_scene(scene)
    dn = warped["dn"]
    assert dn.rio.crs.to_epsg() == 32646 and dn.dtype == np.uint8
    assert dn.rio.resolution() == (30.0, -30.0)
    assert dn.attrs["nodata"] == 0 and warped.attrs["wrs2"] == "137037", warped.attrs
    assert list(dn["band_name"].values) == list(config.BAND_NAMES)
    # nearest neighbour: every valid output DN exists in the input band
    for band in (1, 6):
        out = dn.sel(band=band).values
        assert set(np.unique(out[out != 0])) <= set(np.unique(band_values(band, (40, 50))))


def test_an_oli_scene_becomes_the_dn_tm_would_record_of_the_same_ground():
    """Same frame, same day of year, TM in 2011 and OLI in 2013: harmonised OLI DN per surface match TM's."""
    from glacier_utils import synthetic

    region = synthetic.generate_region("smoke", seed=3)
    tm = synthetic.simulate_scene(region, "137037", "2011-08-15")
    oli = synthetic.simulate_scene(region, "137037", "2013-08-15")
    assert oli["dn"].dtype == np.uint16
    harmonised = radiometry.tm_equivalent_dn(oli)
    assert harmonised["dn"].dtype == np.uint8 and harmonised.attrs["sensor"] == "TM"
    for surface in ("rock", "clean_ice"):
        code = config.SURFACE_CODES[surface]
        in_tm = (tm["surface"].values == code) & (tm["cloud"].values == 0)
        in_oli = (oli["surface"].values == code) & (oli["cloud"].values == 0)
        for band in (1, 3, 4, 5, 6, 7):
            a = np.median(harmonised["dn"].sel(band=band).values[in_oli].astype(float))
            b = np.median(tm["dn"].sel(band=band).values[in_tm].astype(float))
            assert abs(a - b) <= max(4.0, 0.1 * b), f"{surface}, band {band}: OLI->TM {a} vs TM {b}"
    fill = oli["label"].values == 255
    assert (harmonised["dn"].values[:, fill] == 0).all()  # fill stays fill


def test_tm_scenes_pass_through_harmonisation_unchanged_and_unknown_sensors_are_refused():
    from glacier_utils import synthetic

    region = synthetic.generate_region("smoke", seed=3)
    tm = synthetic.simulate_scene(region, "137037", "2007-08-15")
    assert radiometry.tm_equivalent_dn(tm) is tm
    with pytest.raises(DataError, match="unknown sensor"):
        radiometry.tm_equivalent_dn(tm.assign_attrs(sensor="MSS"))
