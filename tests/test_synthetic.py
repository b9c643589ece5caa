"""Tests of the synthetic Landsat region simulator (`glacier_utils.synthetic`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import rasterio
from scipy import ndimage

from glacier_utils import config
from glacier_utils import synthetic as syn
from glacier_utils.io import radiometry
from glacier_utils.synthetic.region import _frame_mask


@pytest.fixture(scope="module")
def smoke_region():
    return syn.generate_region("smoke", seed=3)


@pytest.fixture(scope="module")
def quick_region():
    return syn.generate_region("quick")


@pytest.fixture(scope="module")
def quick_training_scenes(quick_region):
    return [syn.simulate_scene(quick_region, w, d) for w, d in syn.training_acquisitions(quick_region)]


# ---- determinism ---------------------------------------------------------------------------
def test_same_seed_gives_identical_region_and_scene(smoke_region):
    again = syn.generate_region("smoke", seed=3)
    np.testing.assert_array_equal(again.elevation, smoke_region.elevation)
    np.testing.assert_array_equal(again.margin_m, smoke_region.margin_m)
    a = syn.simulate_scene(smoke_region, "138037", "2007-05-05")
    b = syn.simulate_scene(again, "138037", "2007-05-05")
    np.testing.assert_array_equal(a.dn.values, b.dn.values)
    np.testing.assert_array_equal(a.label.values, b.label.values)


def test_different_seed_gives_different_terrain_and_scene(smoke_region):
    other = syn.generate_region("smoke", seed=4)
    assert not np.array_equal(other.elevation, smoke_region.elevation)
    a = syn.simulate_scene(smoke_region, "139035", "2007-07-31")
    b = syn.simulate_scene(other, "139035", "2007-07-31")
    assert not np.array_equal(a.dn.values, b.dn.values)


# ---- layout --------------------------------------------------------------------------------
def test_layout_follows_wrs2_geometry_and_30m_grid():
    origins, (h, w) = syn.scene_layout(128)
    assert set(origins) == set(config.WRS2_IDS)
    x0, y0 = syn.MOSAIC_ORIGIN_XY
    assert x0 % 30 == 0 and y0 % 30 == 0
    # Path numbers fall eastwards (same row), rows increase southwards (same path).
    assert origins["137037"][1] > origins["138037"][1]
    assert origins["139036"][0] > origins["139035"][0]
    # Adjacent frames overlap a little, as WRS-2 frames do.
    (ra, ca), (rb, cb) = origins["137037"], origins["136037"]
    assert 0 < ca + 128 - cb < 128 // 2 and ra == rb
    assert all(r + 128 <= h and c + 128 <= w for r, c in origins.values())


def test_every_owned_pixel_belongs_to_exactly_one_area_and_a_covering_frame(smoke_region):
    owned = smoke_region.area_index != config.LABEL_NODATA
    covered = np.zeros(smoke_region.shape, dtype=bool)
    frame = _frame_mask(smoke_region.scene_px)
    s = smoke_region.scene_px
    for wrs2, (r, c) in smoke_region.scene_origins.items():
        covered[r:r + s, c:c + s] |= frame
    np.testing.assert_array_equal(owned, covered)
    assert set(np.unique(smoke_region.area_index[owned])) == set(range(len(config.AREAS)))


# ---- truth bookkeeping ---------------------------------------------------------------------
def test_label_is_exactly_the_glacier_surface_classes(quick_training_scenes):
    for scene in quick_training_scenes:
        valid = scene.label.values != config.LABEL_NODATA
        glacier_surface = np.isin(scene.surface.values, syn.GLACIER_SURFACES)
        np.testing.assert_array_equal(scene.label.values[valid] == 1, glacier_surface[valid])


def test_true_area_table_equals_label_pixels_of_a_period_mosaic(smoke_region):
    period = 4
    mosaic = np.zeros(smoke_region.shape, dtype=bool)
    s = smoke_region.scene_px
    for acq in syn.select_acquisitions(syn.period_acquisitions(smoke_region, period)).itertuples(index=False):
        wrs2 = acq.wrs2
        scene = syn.simulate_scene(smoke_region, wrs2, acq.date, acq.sensor, acq.cloud_cover)
        r, c = smoke_region.scene_origins[wrs2]
        lab = scene.label.values
        mosaic[r:r + s, c:c + s] |= lab == 1
    table = syn.true_area_table(smoke_region)
    for a, area in enumerate(config.AREAS):
        expected_km2 = np.sum(mosaic & (smoke_region.area_index == a)) * 900.0 / 1e6
        assert table[area].iloc[period] == pytest.approx(expected_km2, rel=1e-9, abs=1e-9)
    assert table["total"].iloc[period] == pytest.approx(table[list(config.AREAS)].iloc[period].sum())


def test_true_areas_never_grow_between_periods(quick_region):
    table = syn.true_area_table(quick_region)
    assert (np.diff(table.to_numpy(), axis=0) <= 1e-9).all()
    assert (table.iloc[0] > 0).all()


@pytest.mark.parametrize("profile_fixture", ["quick_region"])
def test_calibrated_retreat_matches_table_v_within_one_point(profile_fixture, request):
    region = request.getfixturevalue(profile_fixture)
    change = syn.true_relative_change(region, 0, 11)
    targets = {"training": -16.50, "testing_1": -7.33, "testing_2": -23.70, "testing_3": -37.08, "total": -16.53}
    for area, target in targets.items():
        assert change[area] == pytest.approx(target, abs=1.0), area
    # Faster after 2003, Table V(b): training -4.10 % then -12.94 % of the 2001-2003 area.
    first = syn.true_relative_change(region, 0, 5)
    assert first["training"] == pytest.approx(-4.41, abs=1.0)  # Table V(a) made non-increasing
    assert first["testing_3"] == pytest.approx(-14.72, abs=1.0)


def test_write_true_area_table_round_trips(tmp_path, smoke_region):
    import pandas as pd

    path = syn.write_true_area_table(smoke_region, tmp_path)
    back = pd.read_csv(path, index_col=0)
    np.testing.assert_allclose(back.to_numpy(), syn.true_area_table(smoke_region).to_numpy(), atol=1e-4)


# ---- the band ratio's difficulties are real (quick profile) --------------------------------
def _ratio_f1_per_threshold(scenes):
    """Band ratio TM3/TM5 on DN, 5x5 grey opening then closing, pooled counts (independent code)."""
    thresholds = np.asarray(config.RATIO_THRESHOLDS)
    counts = np.zeros((len(thresholds), 3))
    for scene in scenes:
        dn = scene.dn.values.astype(np.float64)
        ratio = dn[2] / np.maximum(dn[4], 1.0)
        ratio = ndimage.grey_closing(ndimage.grey_opening(ratio, size=5), size=5)
        valid = scene.label.values != config.LABEL_NODATA
        truth = scene.label.values == 1
        for i, t in enumerate(thresholds):
            pred = ratio > t
            counts[i] += [np.sum(pred & truth & valid), np.sum(pred & ~truth & valid), np.sum(~pred & truth & valid)]
    tp, fp, fn = counts.T
    return thresholds, 2 * tp / (2 * tp + fp + fn)


def _by_area(scenes, area):
    return [s for s in scenes if s.attrs["area"] == area]


def test_band_ratio_is_good_but_imperfect_on_the_training_area(quick_training_scenes):
    thresholds, f1 = _ratio_f1_per_threshold(_by_area(quick_training_scenes, "training"))
    assert 0.85 <= f1.max() <= 0.97
    best = thresholds[f1.argmax()]
    assert 2.1 <= best <= 3.7  # interior optimum, the paper's 3.1 region
    assert f1.max() - f1.min() > 0.01  # the threshold matters


def test_cloudy_testing_area_3_is_much_harder_than_testing_area_1(quick_training_scenes):
    _, f1_area1 = _ratio_f1_per_threshold(_by_area(quick_training_scenes, "testing_1"))
    _, f1_area3 = _ratio_f1_per_threshold(_by_area(quick_training_scenes, "testing_3"))
    assert f1_area3.max() <= f1_area1.max() - 0.10


def test_snow_and_water_make_false_positives_cloud_and_debris_make_misses(quick_training_scenes):
    pos = {"seasonal_snow": [0, 0], "water": [0, 0], "rock": [0, 0]}
    miss = {"thick": [0, 0], "debris": [0, 0], "clear_ice": [0, 0]}
    for scene in quick_training_scenes:
        dn = scene.dn.values.astype(np.float64)
        pred = dn[2] / np.maximum(dn[4], 1.0) > 3.1
        surface, cloud = scene.surface.values, scene.cloud.values
        clear = cloud == 0
        for name in pos:
            m = (surface == config.SURFACE_CODES[name]) & clear
            pos[name][0] += np.sum(pred & m)
            pos[name][1] += np.sum(m)
        for name, m in (("thick", (cloud == 2) & (scene.label.values == 1)),
                        ("debris", (surface == config.SURFACE_CODES["debris_ice"]) & clear),
                        ("clear_ice", (surface == config.SURFACE_CODES["clean_ice"]) & clear)):
            miss[name][0] += np.sum(~pred & m)
            miss[name][1] += np.sum(m)
    rate = {k: a / b for k, (a, b) in {**pos, **miss}.items()}
    assert all(b > 100 for _, b in {**pos, **miss}.values())
    assert rate["seasonal_snow"] > 0.3
    assert rate["water"] > 0.1
    assert rate["rock"] < 0.02
    assert rate["thick"] > 0.9
    assert rate["debris"] > 0.6
    assert rate["clear_ice"] < 0.3


# ---- the scene contract --------------------------------------------------------------------
def test_scene_follows_the_data_contract(smoke_region):
    scene = syn.simulate_scene(smoke_region, "138035", "2009-08-30")
    s = smoke_region.scene_px
    assert scene.dn.dims == ("band", "y", "x") and scene.dn.shape == (7, s, s)
    assert scene.dn.dtype == np.uint8 and scene.label.dtype == np.uint8
    assert scene.surface.dtype == np.uint8 and scene.cloud.dtype == np.uint8
    assert list(scene.band.values) == list(config.BAND_NUMBERS)
    assert list(scene.band_name.values) == list(config.BAND_NAMES)
    assert scene.rio.crs.to_epsg() == 32646
    assert scene.dn.attrs["nodata"] == 0 and scene.dn.rio.nodata == 0
    np.testing.assert_allclose(np.diff(scene.x.values), 30.0)
    np.testing.assert_allclose(np.diff(scene.y.values), -30.0)
    assert (scene.x.values[0] - 15.0) % 30 == 0 and (scene.y.values[0] - 15.0) % 30 == 0
    attrs = scene.attrs
    assert attrs["wrs2"] == "138035" and attrs["area"] == "testing_1" and attrs["date"] == "2009-08-30"
    assert attrs["sensor"] == "TM" and attrs["period"] == config.period_of_year(2009)
    assert 40 < attrs["sun_elevation"] < 75 and 90 < attrs["sun_azimuth"] < 180
    assert 0 <= attrs["cloud_cover"] <= 100
    fill = scene.label.values == config.LABEL_NODATA
    assert 0 < fill.mean() < 0.2
    assert (scene.dn.values[:, fill] == 0).all() and (scene.dn.values[:, ~fill] >= 1).all()
    assert set(np.unique(scene.label.values)) <= {0, 1, 255}


def test_bright_snow_saturates_tm_visible_bands(quick_training_scenes):
    scene = next(s for s in quick_training_scenes if s.attrs["wrs2"] == "138037")
    firn = (scene.surface.values == config.SURFACE_CODES["firn"]) & (scene.cloud.values == 0)
    assert np.mean(scene.dn.sel(band=1).values[firn] == 255) > 0.3


def test_oli_scenes_from_2013_are_uint16(smoke_region):
    scene = syn.simulate_scene(smoke_region, "137037", "2016-08-10")
    assert scene.attrs["sensor"] == "OLI" and scene.dn.dtype == np.uint16
    valid = scene.label.values != config.LABEL_NODATA
    assert scene.dn.values[:, valid].max() > 255
    # DN -> TOA reflectance with the MTL scaling gives physical values.
    rho = (scene.dn.sel(band=3).values[valid] * 2e-5 - 0.1) / np.sin(np.radians(scene.attrs["sun_elevation"]))
    assert -0.05 < np.percentile(rho, 1) and np.percentile(rho, 99) < 1.3


def test_period_acquisitions_fall_in_their_period_and_sensor_era(smoke_region):
    for period in range(len(config.PERIODS)):
        acqs = syn.period_acquisitions(smoke_region, period)
        assert list(acqs["wrs2"].unique()) == list(config.WRS2_IDS)
        years = acqs["date"].dt.year
        assert years.between(*config.PERIODS[period]).all()
        assert ((years <= 2011) | (years >= 2013)).all()
    pd.testing.assert_frame_equal(syn.period_acquisitions(smoke_region, 2), syn.period_acquisitions(smoke_region, 2))


def test_training_acquisitions_are_table_i():
    acqs = syn.training_acquisitions()
    assert len(acqs) == 15
    assert ("138035", "2009-08-30") in acqs and ("138035", "2010-09-02") in acqs
    assert ("139035", "2006-09-14") in acqs and ("139035", "2007-07-31") in acqs
    assert ("138037", "2007-05-05") in acqs


# ---- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"wrs2": "140036", "date": "2007-07-31"}, "wrs2"),
        ({"wrs2": "139036", "date": "1985-07-31"}, "1986"),
        ({"wrs2": "139036", "date": "2022-07-31"}, "1986"),
        ({"wrs2": "139036", "date": "31/07/2007"}, "date"),
        ({"wrs2": "139036", "date": "2007-07-31", "sensor": "MSS"}, "sensor"),
        ({"wrs2": "139036", "date": "2007-07-31", "sensor": "OLI"}, "sensor"),
        ({"wrs2": "139036", "date": "2007-07-31", "cloud_cover": 120}, "cloud_cover"),
    ],
)
def test_bad_scene_parameters_raise_named_errors(smoke_region, kwargs, word):
    with pytest.raises(ValueError, match=word):
        syn.simulate_scene(smoke_region, **kwargs)


def test_bad_region_parameters_raise_named_errors():
    with pytest.raises(ValueError, match="scene_px"):
        syn.generate_region(dataclasses.replace(config.PROFILES["smoke"], scene_px=-5))
    with pytest.raises(ValueError, match="seed"):
        syn.generate_region("smoke", seed=-1)
    with pytest.raises(ValueError, match="profile"):
        syn.generate_region("huge")


def test_bad_period_raises(smoke_region):
    with pytest.raises(ValueError, match="period"):
        syn.period_acquisitions(smoke_region, 12)


# ---- Level-1 export ------------------------------------------------------------------------
def test_write_level1_writes_collection2_files_and_mtl(tmp_path, smoke_region):
    scene = syn.simulate_scene(smoke_region, "138037", "2007-05-05")
    mtl = syn.write_level1(scene, tmp_path)
    pid = "LT05_L1TP_138037_20070505_20200830_02_T1"
    assert mtl.name == f"{pid}_MTL.txt"
    for b in range(1, 8):
        with rasterio.open(tmp_path / f"{pid}_B{b}.TIF") as src:
            assert src.crs.to_epsg() == 32646 and src.nodata == 0
            np.testing.assert_array_equal(src.read(1), scene.dn.sel(band=b).values)
            assert src.transform.c % 30 == 0 and src.transform.f % 30 == 0
    with rasterio.open(tmp_path / f"{pid}_LABEL.TIF") as src:
        np.testing.assert_array_equal(src.read(1), scene.label.values)
    text = mtl.read_text()
    assert text.startswith("GROUP = LANDSAT_METADATA_FILE") and text.rstrip().endswith("END")
    for key in ("LANDSAT_PRODUCT_ID", "SPACECRAFT_ID", "SENSOR_ID", "WRS_PATH", "WRS_ROW", "DATE_ACQUIRED",
                "SCENE_CENTER_TIME", "CLOUD_COVER", "SUN_AZIMUTH", "SUN_ELEVATION", "EARTH_SUN_DISTANCE",
                "FILE_NAME_BAND_1", "RADIANCE_MULT_BAND_3", "RADIANCE_ADD_BAND_5", "REFLECTANCE_MULT_BAND_3",
                "REFLECTANCE_ADD_BAND_7", "K1_CONSTANT_BAND_6", "K2_CONSTANT_BAND_6", "UTM_ZONE", "MAP_PROJECTION"):
        assert f"    {key} = " in text, key
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    # The MTL gain/bias are Chander et al. (2009) for a post-2003 TM acquisition.
    gain, bias = radiometry.tm_gain_bias("2007-05-05")
    value = float(text.split("RADIANCE_MULT_BAND_3 = ")[1].split()[0])
    assert value == pytest.approx((264.0 + 1.17) / 254.0, rel=1e-3) == pytest.approx(gain[2], rel=1e-3)


def test_write_level1_oli_uses_oli_band_files(tmp_path, smoke_region):
    scene = syn.simulate_scene(smoke_region, "133036", "2015-08-12")
    mtl = syn.write_level1(scene, tmp_path)
    names = {p.name.split("_T1_")[1] for p in tmp_path.glob("LC08_*_B*.TIF")}
    assert names == {f"B{b}.TIF" for b in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11)}
    with rasterio.open(next(tmp_path.glob("*_B6.TIF"))) as src:
        np.testing.assert_array_equal(src.read(1), scene.dn.sel(band=5).values)
    text = mtl.read_text()
    assert "REFLECTANCE_MULT_BAND_4 = 2.0000E-05" in text and "K1_CONSTANT_BAND_10" in text


# ---- spectra -------------------------------------------------------------------------------
def test_planck_and_brightness_temperature_are_inverse():
    t = np.array([240.0, 273.15, 300.0])
    radiance = radiometry.planck_radiance(t, radiometry.TM_K1, radiometry.TM_K2)
    np.testing.assert_allclose(radiometry.brightness_temperature(radiance, radiometry.TM_K1, radiometry.TM_K2), t)


def test_sun_position_is_plausible_for_a_landsat_morning():
    elev, az = syn.sun_position("2007-06-21", 33.0, solar_hour=10.2)
    # Independent spherical trigonometry: declination 23.44 deg, hour angle -27 deg.
    lat, dec, ha = np.radians([33.0, 23.44, -27.0])
    expected = np.degrees(np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)))
    assert elev == pytest.approx(expected, abs=0.3) and 90 < az < 140
    elev_winter, _ = syn.sun_position("2007-12-21", 33.0)
    assert elev_winter < 35
    assert radiometry.earth_sun_distance("2007-01-03") == pytest.approx(0.9833, abs=2e-3)
    assert radiometry.earth_sun_distance("2007-07-04") == pytest.approx(1.0167, abs=2e-3)
