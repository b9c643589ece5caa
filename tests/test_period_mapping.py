"""Mapping a period (§III-D): choose, mask, predict as one task per acquisition, fuse, mosaic, outline, uncertainty."""

from __future__ import annotations

import pickle

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr
from scipy import ndimage

from glacier_utils import acquisitions, config, mosaic, outlines, period_mapping, synthetic, timeseries
from glacier_utils.errors import DataError
from glacier_utils.synthetic import inventory

NAN = np.nan
PX_KM2 = 900 / 1e6


# ----------------------------------------------------------------------------------------------
# Hand-made inputs
# ----------------------------------------------------------------------------------------------
def _grid_coords(n_y, n_x, x0=300_000.0, y0=4_000_000.0):
    """Pixel-centre coords of a 30 m grid whose upper-left corner is (x0, y0)."""
    return {"y": y0 - 30.0 * (np.arange(n_y) + 0.5), "x": x0 + 30.0 * (np.arange(n_x) + 0.5)}


def _scene(dn_band2, dn_band5, qa=None, clear=None, x0=300_000.0, y0=4_000_000.0):
    """A 7-band uint8 scene: bands 2 and 5 given, the others 100; optional qa / clear layers."""
    n_y, n_x = np.shape(dn_band2)
    dn = np.full((7, n_y, n_x), 100, np.uint8)
    dn[1], dn[4] = dn_band2, dn_band5
    ds = xr.Dataset({"dn": (("band", "y", "x"), dn)}, coords={"band": list(config.BAND_NUMBERS), **_grid_coords(n_y, n_x, x0, y0)})
    ds["dn"].attrs["nodata"] = 0
    if qa is not None:
        ds["qa"] = xr.DataArray(np.asarray(qa, np.uint16), dims=("y", "x"), attrs={"qa_kind": "collection2"})
    if clear is not None:
        ds["clear"] = xr.DataArray(np.asarray(clear, bool), dims=("y", "x"))
    ds = ds.rio.write_crs(config.STUDY_CRS)
    return ds.rio.write_transform(ds.rio.transform(recalc=True))


def _square(x0, y0, side_px):
    """A square polygon of ``side_px`` 30 m pixels with upper-left corner (x0, y0)."""
    return shapely.box(x0, y0 - 30.0 * side_px, x0 + 30.0 * side_px, y0)


def _frame(probability, n_clear, footprint, area, x0, y0=4_000_000.0, wrs2="f"):
    coords = _grid_coords(*np.shape(probability), x0, y0)
    ds = xr.Dataset({"probability": (("y", "x"), np.asarray(probability, np.float32)),
                     "n_clear": (("y", "x"), np.asarray(n_clear, np.uint8)),
                     "footprint": (("y", "x"), np.asarray(footprint, bool))}, coords=coords,
                    attrs={"area": area, "wrs2": wrs2})
    return ds.rio.write_crs(config.STUDY_CRS)


# ----------------------------------------------------------------------------------------------
# fuse, masks and codes
# ----------------------------------------------------------------------------------------------
STACK = np.array([[[0.2, 0.9, NAN, 0.4]],
                  [[0.8, NAN, NAN, 0.45]],
                  [[0.6, 0.7, NAN, 0.6]]], np.float32)  # (3 views, 1 row, 4 pixels)


@pytest.mark.parametrize("rule, expected", [
    ("median", [0.6, 0.8, NAN, 0.45]),
    ("mean", [1.6 / 3, 0.8, NAN, 1.45 / 3]),
    ("min", [0.2, 0.7, NAN, 0.4]),
    ("persistence", [1.0, 1.0, NAN, 0.0]),
])
def test_fuse_rules_over_the_clear_views_of_each_pixel(rule, expected):
    fused, count = period_mapping.fuse(STACK, rule)
    np.testing.assert_allclose(fused[0], expected, rtol=1e-6)
    assert count[0].tolist() == [3, 2, 0, 3]


def test_a_pixel_without_a_clear_view_is_unmapped_not_ice_free():
    fused, count = period_mapping.fuse(STACK, "median")
    assert period_mapping.fused_mask(fused, count)[0].tolist() == [1, 1, config.LABEL_NODATA, 0]


def test_fuse_refuses_unknown_rules_and_flat_stacks():
    with pytest.raises(ValueError, match="median"):
        period_mapping.fuse(STACK, "mode")
    with pytest.raises(DataError, match=r"\(n, y, x\)"):
        period_mapping.fuse(STACK[0], "median")


def test_probability_codes_round_trip_and_mark_masked_and_fill():
    p = np.array([[0.0, 0.5, 1.0, 0.2371, 0.9]], np.float32)
    clear = np.array([[True, True, True, True, False]])
    data = np.array([[True, True, True, False, True]])
    codes = period_mapping.encode_probability(p, clear, data)
    assert codes.tolist() == [[0, 100, 200, period_mapping.FILL_CODE, period_mapping.MASKED_CODE]]
    back = period_mapping.decode_probability(codes)
    np.testing.assert_allclose(back[0, :3], [0.0, 0.5, 1.0])
    assert np.isnan(back[0, 3:]).all()


def test_qa_masks_cloud_dilated_cloud_shadow_and_fill_but_keeps_snow():
    # bit 0 fill, 1 dilated cloud, 3 cloud, 4 shadow, 5 snow, 6 clear
    qa = np.array([[1, 1 << 1, 1 << 3, 1 << 4, (1 << 5) | (1 << 6), 1 << 6]])
    band = np.array([[0, 50, 50, 50, 200, 50]], np.uint8)  # the fill pixel has DN 0 too
    scene = _scene(band, band, qa=qa)
    assert acquisitions.clear_pixels(scene)[0].tolist() == [False, False, False, False, True, True]


def test_thin_cloud_of_medium_confidence_is_masked_too():
    # bits 8-9: cloud confidence low (1), medium (2), high (3); bit 6 clear (CFMask flags only thick cloud)
    qa = np.array([[(1 << 6) | (1 << 8), (1 << 6) | (2 << 8), (1 << 3) | (3 << 8)]])
    band = np.array([[50, 50, 50]], np.uint8)
    scene = _scene(band, band, qa=qa)
    assert acquisitions.clear_pixels(scene)[0].tolist() == [True, False, False]  # default: medium and above
    assert acquisitions.clear_pixels(scene, cloud_confidence=None)[0].tolist() == [True, True, False]
    assert acquisitions.clear_pixels(scene, cloud_confidence="high")[0].tolist() == [True, True, False]
    with pytest.raises(DataError, match="cloud_confidence"):
        acquisitions.clear_pixels(scene, cloud_confidence="some")


def test_the_cloud_confidence_setting_is_read_when_masking(monkeypatch):
    qa = np.array([[(1 << 6) | (2 << 8)]])  # clear, but medium cloud confidence
    band = np.array([[50]], np.uint8)
    monkeypatch.setattr(acquisitions, "CLOUD_CONFIDENCE", None)  # as a study with a noisy QA band would set it
    assert acquisitions.clear_pixels(_scene(band, band, qa=qa))[0].tolist() == [True]
    assert acquisitions.cloud_confidence_in_force() is None  # what the tasks get, resolved in the client
    assert acquisitions.cloud_confidence_in_force("high") == "high"


def test_a_sources_own_clear_mask_is_used_without_qa():
    band = np.array([[0, 50, 50]], np.uint8)
    scene = _scene(band, band, clear=[[True, False, True]])
    assert acquisitions.clear_pixels(scene)[0].tolist() == [False, False, True]
    assert acquisitions.clear_pixels(_scene(band, band))[0].tolist() == [False, True, True]


# ----------------------------------------------------------------------------------------------
# choose
# ----------------------------------------------------------------------------------------------
def _acquisitions():
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"], "wrs2": ["f1"] * 4 + ["f2"],
        "date": ["2001-08-31", "2001-07-02", "2002-09-10", "2003-08-21", "2001-08-31"],
        "area": ["training"] * 5, "cloud_cover": [10.0, 0.0, 80.0, 40.0, NAN],
    })


def test_prescreen_ranks_by_cloud_and_season_and_names_the_reason():
    table = acquisitions.prescreen(_acquisitions(), k=1, extra=1, max_cloud=70)
    by_id = table.set_index("id")
    # meta score: cloud/100 + days/90: a 0.1, b 0 + 60/90, d 0.4 + 10/90; e unknown cloud counts as 0.5
    assert by_id.loc[["a", "b", "d"], "meta_rank"].tolist() == [1, 3, 2]
    assert by_id["candidate"].to_dict() == {"a": True, "b": False, "c": False, "d": True, "e": True}
    assert by_id.loc["c", "reason"] == "cloud cover 80 % > 70 %"
    assert by_id.loc["b", "reason"] == "metadata rank 3 > 2 candidates"
    assert by_id.loc["a", "season_days"] == 0 and by_id.loc["d", "season_days"] == 10


def test_choose_keeps_the_k_best_scores_per_frame_and_says_why():
    table = acquisitions.prescreen(_acquisitions(), k=1, extra=1, max_cloud=70)
    pixel = pd.DataFrame({"id": ["a", "d", "e"], "cloud_fraction": [0.30, 0.02, 0.99],
                          "snow_fraction": [0.10, 0.05, NAN]})
    chosen = acquisitions.choose(table.merge(pixel, on="id", how="left"), k=1).set_index("id")
    # a: 0.30 + 0.10 + 0; d: 0.02 + 0.05 + 10/90 -> d wins in f1; e, 99 % cloudy, is all frame f2 has
    assert chosen["chosen"].to_dict() == {"a": False, "b": False, "c": False, "d": True, "e": True}
    assert chosen.loc["d", "score"] == pytest.approx(0.07 + 10 / 90)
    assert chosen.loc["d", "reason"].startswith("chosen (rank 1 of the frame): cloud 2 %, ring snow 5 %")
    assert chosen.loc["a", "reason"].startswith("not chosen: rank 2 > k=1")
    assert chosen.loc["e", "reason"].startswith("chosen (rank 1 of the frame): cloud 99 %")
    assert chosen.loc["c", "reason"] == "not scored: cloud cover 80 % > 70 %"


def test_score_scene_measures_cloud_over_the_glaciers_and_snow_in_the_ring_outside_them():
    n = 12
    green = np.full((n, n), 60, np.uint8)
    swir = np.full((n, n), 60, np.uint8)
    green[0, :] = 200
    swir[0, :] = 20  # NDSI 0.82: a snowy top row (part of it lies in the ring)
    qa = np.full((n, n), 1 << 6, np.uint16)
    qa[5, 5] = 1 << 3  # one cloudy glacier pixel
    scene = _scene(green, swir, qa=qa)
    reference = gpd.GeoDataFrame({"glacier_id": ["G1"]}, geometry=[_square(300_000 + 4 * 30, 4_000_000 - 4 * 30, 4)],
                                 crs=config.STUDY_CRS)  # rows and columns 4-7
    zone, ring = acquisitions.reference_zones(reference, scene, ring_px=(1, 4))
    # 4-neighbour dilation: pixels within L1 distance 4 of the square (104), minus those within 1 (32)
    assert zone.sum() == 104 and ring.sum() == 104 - 32
    assert ring[0].tolist() == [False] * 4 + [True] * 4 + [False] * 4  # the ring's reach into the snowy row
    scores = acquisitions.score_scene(scene, reference)
    assert scores["cloud_fraction"] == pytest.approx(1 / 104)
    assert scores["snow_fraction"] == pytest.approx(4 / 72)


# ----------------------------------------------------------------------------------------------
# mosaic: values from the nearest clear frame, subareas from the nearest imaging frame
# ----------------------------------------------------------------------------------------------
def test_mosaic_takes_values_from_the_nearest_seeing_frame_and_ownership_from_the_footprint():
    west = _frame(np.ones((2, 10)), np.ones((2, 10)), np.ones((2, 10)), "training", x0=0.0, wrs2="w")
    count = np.ones((2, 10))
    count[:, :5] = 0  # the east frame's overlap half is cloudy: imaged, but not seen
    east = _frame(np.zeros((2, 10)), count, np.ones((2, 10)), "testing_1", x0=150.0, wrs2="e")
    out = mosaic.mosaic_frames([west, east], config.AREAS)
    assert out.sizes == {"y": 2, "x": 15}
    assert out["mask"].values[0].tolist() == [1] * 10 + [0] * 5
    assert out["frame"].values[0].tolist() == [0] * 10 + [1] * 5
    assert out["subarea"].values.dtype == np.uint8
    assert out["subarea"].values[0].tolist() == [0] * 8 + [1] * 7  # ownership splits the overlap at the middle
    assert mosaic.subarea_names(out)[0, -1] == "testing_1"


def test_mosaic_marks_pixels_no_frame_saw_as_unmapped():
    seen = np.array([[1, 0, 1]])
    frame = _frame([[0.9, 0.9, 0.1]], seen, np.ones((1, 3)), "training", x0=0.0)
    out = mosaic.mosaic_frames([frame], config.AREAS)
    assert out["mask"].values[0].tolist() == [1, config.LABEL_NODATA, 0]
    assert out["n_clear"].values[0].tolist() == [1, 0, 1]


def test_mosaic_refuses_a_frame_of_an_unknown_subarea():
    frame = _frame([[0.9]], [[1]], [[1]], "nowhere", x0=0.0)
    with pytest.raises(DataError, match="nowhere"):
        mosaic.mosaic_frames([frame], config.AREAS)


# ----------------------------------------------------------------------------------------------
# outlines carry the reference glacier's id, split at its divides
# ----------------------------------------------------------------------------------------------
def test_outlines_are_split_at_the_reference_divides_and_carry_their_ids():
    mask = np.zeros((10, 20), np.uint8)
    mask[2:6, 2:14] = 1  # one body across two reference glaciers
    mask[8, 17:19] = 1   # a small body outside both, nearest B (kept: no sliver threshold here)
    grid = xr.DataArray(mask, dims=("y", "x"), coords=_grid_coords(10, 20)).rio.write_crs(config.STUDY_CRS)
    grid = grid.rio.write_transform(grid.rio.transform(recalc=True))
    reference = gpd.GeoDataFrame({"glacier_id": ["A", "B"]},
                                 geometry=[_square(300_000 + 0, 4_000_000 - 30, 8), _square(300_000 + 8 * 30, 4_000_000 - 30, 8)],
                                 crs=config.STUDY_CRS)
    zones, ids = outlines.nearest_reference(reference, grid, where=mask == 1)
    out = outlines.mask_to_polygons(grid, min_area_km2=0, zones=zones, zone_ids=ids)
    areas = out.groupby("reference_id")["area_km2"].sum()
    assert areas["A"] == pytest.approx(4 * 6 * PX_KM2)  # columns 2-7
    assert areas["B"] == pytest.approx((4 * 6 + 2) * PX_KM2)  # columns 8-13, and the outside pair
    assert len(out) == 3 and set(out["reference_id"]) == {"A", "B"}


def test_reference_inventory_splits_ice_at_the_divide_between_two_valleys():
    # one ice body over two hollows separated by a 100 m ridge
    x = np.arange(40)
    surface = np.tile(np.where(x < 20, 5000 + 10 * np.abs(x - 8), 5000 + 10 * np.abs(x - 31)), (12, 1)).astype(float)
    surface[:, 18:22] += 100
    ice = np.zeros((12, 40), bool)
    ice[2:10, 2:38] = True
    labels = inventory.glacier_basins(ice, surface, smooth_px=0.5, depth_m=40)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert len(set(labels[2:10, 2:18].ravel())) == 1 and len(set(labels[2:10, 23:38].ravel())) == 1
    assert labels[5, 5] != labels[5, 35]


@pytest.fixture(scope="module")
def smoke_region():
    return synthetic.generate_region("smoke", seed=42)


def test_the_synthetic_reference_inventory_covers_the_true_ice_with_unique_ids(smoke_region):
    ref = synthetic.reference_inventory(smoke_region, 0)
    truth = synthetic.true_area_table(smoke_region).iloc[0]
    assert ref["glacier_id"].is_unique and ref["glacier_id"].str.startswith("SYN42-").all()
    assert ref["area_km2"].sum() <= truth["total"] + 1e-9
    assert ref["area_km2"].sum() > truth["total"] - 0.2  # only isolated bodies under 0.01 km² are dropped
    assert set(ref["subarea"]) <= set(config.AREAS)
    assert ref.geometry.area.sum() / 1e6 == pytest.approx(ref["area_km2"].sum())


def test_true_outlines_hold_the_true_area_per_subarea(smoke_region):
    layer = synthetic.true_outlines(smoke_region, 3)
    truth = synthetic.true_area_table(smoke_region).iloc[3]
    got = layer.groupby("subarea")["area_km2"].sum()
    for area in config.AREAS:
        assert got.get(area, 0.0) == pytest.approx(truth[area])


# ----------------------------------------------------------------------------------------------
# uncertainty and the bias table
# ----------------------------------------------------------------------------------------------
def _areas(values):
    """(period, area, area_km2, error_km2, spread_km2, unmapped_ice_km2) rows."""
    return pd.DataFrame(values, columns=["period", "area", "area_km2", "error_km2", "spread_km2", "unmapped_ice_km2"])


def test_bias_table_sets_the_bias_beside_both_uncertainties_and_the_floor():
    ours = _areas([(0, "training", 10.0, 3.0, 4.0, 1.0), (11, "training", 7.0, 0.6, 0.8, 0.0)]).assign(unmapped_km2=[2.0, 0.0])
    truth = pd.DataFrame({"period": [0, 11], "area": "training", "area_km2": [12.0, 8.5]})
    floor = pd.DataFrame({"period": [0, 11], "area": "training", "area_km2": [12.0, 8.5], "error_km2": [4.0, 1.0]})
    table = timeseries.bias_table(ours, truth, floor)
    assert table["bias_km2"].tolist() == pytest.approx([-2.0, -1.5])
    assert table["bias_pct"].tolist() == pytest.approx([-100 * 2 / 12, -100 * 1.5 / 8.5])
    assert table["stated_km2"].tolist() == pytest.approx([5.0 + 1.0, 1.0])  # hypot(3, 4) + 1; hypot(.6, .8)
    assert table["within"].tolist() == [True, False]
    assert table["width_ratio"].tolist() == pytest.approx([1.5, 1.0])


def test_change_check_judges_every_change_against_the_stated_error_and_the_floor():
    ours = _areas([(0, "total", 100.0, 3.0, 0.0, 0.0), (5, "total", 95.0, 4.0, 0.0, 0.0),
                   (11, "total", 79.0, 0.0, 3.0, 1.0)])
    truth = pd.DataFrame({"period": [0, 5, 11], "area": "total", "area_km2": [100.0, 90.0, 85.0]})
    floor = truth.assign(error_km2=[3.0, 4.0, 3.0])
    check = timeseries.change_check(ours, truth, floor).set_index("interval")
    assert check.loc["1986–2003", "change_error_km2"] == pytest.approx(5.0)  # Eq. 6: hypot(3, 4)
    assert bool(check.loc["1986–2003", "within"]) is True  # -5 vs -10: difference 5 <= 5
    assert check.loc["1986–2021", "change_error_km2"] == pytest.approx(np.hypot(3.0, 4.0))
    assert bool(check.loc["1986–2021", "within"]) is False  # -21 vs -15: difference 6 > 5
    assert check.loc["2003–2021", "width_ratio"] == pytest.approx(np.hypot(4, 4) / np.hypot(4, 3))
    assert check.loc["1986–2021", "true_change_pct"] == pytest.approx(-15.0)
    assert check["narrow"].tolist() == [True, True, True]


def test_stated_uncertainty_needs_the_spread_and_unmapped_columns():
    with pytest.raises(DataError, match="spread_km2"):
        timeseries.stated_uncertainty(pd.DataFrame({"error_km2": [1.0]}))


# ----------------------------------------------------------------------------------------------
# The pipeline on the smoke region: one task per acquisition, stores on disk, ids, bootstrap
# ----------------------------------------------------------------------------------------------
def _brightness_network(path=None):
    """A 1x1 convolution that calls a pixel glacier when its blue DN exceeds 120 (a stand-in network)."""
    import keras

    inputs = keras.Input((None, None, config.N_BANDS))
    layer = keras.layers.Conv2D(2, 1, activation="softmax")
    model = keras.Model(inputs, layer(inputs))
    kernel = np.zeros((1, 1, config.N_BANDS, 2), np.float32)
    kernel[0, 0, 0] = [-0.1, 0.1]
    layer.set_weights([kernel, np.array([12.0, -12.0], np.float32)])
    if path is not None:
        model.save(path)
    return model


@pytest.fixture(scope="module")
def smoke_setup(smoke_region):
    archive = synthetic.period_acquisitions(smoke_region, 0)
    frames = ["138035", "139035"]  # the two overlapping frames of testing area 1
    listing = archive[archive["wrs2"].isin(frames)]
    return smoke_region, listing, synthetic.reference_inventory(smoke_region, 0)


class _CountingLoader(acquisitions.SyntheticLoader):
    calls: list = []

    def __call__(self, row):
        type(self).calls.append(row["id"])
        return super().__call__(row)


def test_each_chosen_acquisition_is_one_task_on_the_scheduler(smoke_setup, tmp_path):
    region, listing, reference = smoke_setup
    chosen = acquisitions.prescreen(listing, k=2, extra=0)
    chosen = chosen[chosen["candidate"]]
    loader = _CountingLoader(region, cache_mb=0)
    tasks = period_mapping.prediction_tasks(chosen, loader, _brightness_network(), None, tmp_path,
                                            window_px=64, overlap_px=16)
    assert len(tasks) == len(chosen) == 4
    for task, acquisition in zip(tasks, chosen["id"]):
        graph = dict(task.__dask_graph__())
        assert list(graph) == [f"predict-{acquisition}"]  # nothing else: one task
    _CountingLoader.calls.clear()
    with dask.config.set(scheduler="threads"):
        written = period_mapping.run_tasks(tasks, "predicting", progress=False)
    assert sorted(_CountingLoader.calls) == sorted(chosen["id"])  # each acquisition loaded once
    codes, attrs = period_mapping.read_codes(written[0]["path"])
    assert codes.dtype == np.uint8 and codes.shape == (region.scene_px, region.scene_px)
    assert attrs["id"] == written[0]["id"] and (codes == period_mapping.FILL_CODE).any()


def test_map_period_maps_a_smoke_period_with_ids_unmapped_area_and_a_seeded_bootstrap(smoke_setup, tmp_path):
    region, listing, reference = smoke_setup
    with dask.config.set(scheduler="threads"):
        result = period_mapping.map_period(listing, acquisitions.SyntheticLoader(region), _brightness_network(),
                                           None, period=0, reference=reference, folder=tmp_path, subareas=config.AREAS,
                                           k=2, window_px=64, overlap_px=16, n_bootstrap=50, seed=3, progress=False)
    scores = result.scores
    per_frame = scores.groupby("wrs2")["chosen"].sum()
    assert per_frame.between(2, 2 + period_mapping.MAX_FILL).all()  # k = 2, and more where clouds hid the glaciers
    reasons = scores.loc[scores["chosen"], "reason"]
    assert (reasons.str.startswith("chosen (rank").sum() == 4
            and reasons.str.startswith("chosen to fill gaps").sum() == per_frame.sum() - 4)
    assert len(result.stores) == per_frame.sum() and all(p.endswith(".zarr") for p in result.stores.values())
    assert result.map["subarea"].dtype == np.uint8 and result.map["n_clear"].max() <= per_frame.max()
    layer = result.outlines
    assert len(layer) > 0 and set(layer["reference_id"]) <= set(reference["glacier_id"])
    areas = result.areas.set_index("area")
    assert areas.loc["total", "area_km2"] == pytest.approx(layer["area_km2"].sum())
    unmapped = (result.map["mask"].values == config.LABEL_NODATA) & (result.map["subarea"].values == 1)
    assert areas.loc["testing_1", "unmapped_km2"] == pytest.approx(unmapped.sum() * PX_KM2)
    again = period_mapping.bootstrap_areas(result.map, [[result.stores[i] for i in g["id"]]
                                                        for _, g in scores[scores.chosen].groupby("wrs2")],
                                           n_bootstrap=50, seed=3)
    assert areas.loc["testing_1", "spread_km2"] == pytest.approx(np.std(again[:, 1], ddof=1))
    assert np.all(again[:, [0, 2, 3]] == 0) and again[:, 1].min() > 0  # testing area 1's frames only


def test_classify_frame_drops_ice_outside_the_search_area_and_cleans_pinholes():
    stack = np.full((1, 7, 7), 0.9, np.float32)
    stack[0, 3, 3] = 0.1  # a one-pixel hole in the ice
    stack[0, 0, 6] = NAN  # one unseen pixel
    outside = np.zeros((7, 7), bool)
    outside[:, 5:] = True  # the last two columns lie beyond the search area
    _, glacier, count = period_mapping.classify_frame(stack, outside=outside)
    assert glacier[3, 3] == 1  # filled by the 3 x 3 majority
    assert glacier[:, 5:].sum() == 0 and glacier[:, :4].all()
    assert count[0, 6] == 0
    _, raw, _ = period_mapping.classify_frame(stack, clean_px=1)
    assert raw[3, 3] == 0 and raw[:, 5:].sum() == 7 * 2 - 1  # no search area: all seen ice counts


def test_the_majority_filter_votes_only_with_seen_pixels():
    stack = np.full((1, 9, 9), NAN, np.float32)
    stack[0, 1::2, 1::2] = 0.9  # ice seen through a broken cloud: one clear pixel in four
    _, glacier, count = period_mapping.classify_frame(stack)
    seen = count > 0
    assert seen.sum() == 16 and glacier[seen].all()  # unseen neighbours are no votes for "ice-free"
    assert glacier[~seen].sum() == 0  # and unseen pixels stay unmapped
    ice, seen = np.zeros((5, 5), bool), np.zeros((5, 5), bool)
    seen[2, 1:4] = seen[1, 2] = True
    ice[2, 1] = ice[1, 2] = True  # around (2, 2): two seen ice, two seen free
    kept = mosaic.majority_of_seen(ice, seen, 3)
    assert not kept[2, 2] and kept[2, 1] and kept[1, 2]  # a tie keeps its own value; 2 of 3 is a majority
    assert mosaic.majority_of_seen(~ice, seen, 3)[2, 2]
    noisy = np.random.default_rng(5).random((40, 40)) > 0.5  # under a clear sky it is the 3 x 3 median filter
    median = ndimage.median_filter(noisy.astype(np.uint8), size=3, mode="nearest").astype(bool)
    assert np.array_equal(mosaic.majority_of_seen(noisy, np.ones_like(noisy), 3), median)


def test_a_frame_with_unseen_glacier_zone_gets_its_next_candidate():
    seen = np.ones((10, 10))
    seen[4:6, 4:6] = 0  # four unseen pixels over the glacier
    frames = {"f1": _frame(np.ones((10, 10)), seen, np.ones((10, 10)), "training", x0=300_000.0),
              "f2": _frame(np.ones((10, 10)), np.ones((10, 10)), np.ones((10, 10)), "training", x0=310_000.0)}
    reference = gpd.GeoDataFrame({"glacier_id": ["G", "H"]}, geometry=[_square(300_000 + 90, 4_000_000 - 90, 4),
                                                                        _square(310_000 + 90, 4_000_000 - 90, 4)],
                                 crs=config.STUDY_CRS)
    scores = pd.DataFrame({"wrs2": ["f1", "f1", "f1", "f1", "f2", "f2"], "chosen": [True, False, False, False, True, False],
                           "rank": [1.0, 3.0, 2.0, NAN, 1.0, 2.0], "meta_rank": [1, 3, 2, 4, 1, 2],
                           "reason": ["chosen", "not chosen", "not chosen", "not scored: metadata rank 4 > 3",
                                      "chosen", "not chosen"]})
    fillers = period_mapping.gap_fillers(scores, frames, reference, min_gap_km2=4 * PX_KM2)
    assert fillers.index.tolist() == [2]  # f1's best spare candidate; f2 saw everything
    assert fillers.loc[2, "reason"] == "chosen to fill gaps (0.00 km² of the glacier zone unseen): metadata rank 2"
    assert period_mapping.gap_fillers(scores, frames, reference, min_gap_km2=5 * PX_KM2).empty
    scores.loc[[1, 2], "chosen"] = True  # every scored candidate taken: the best by metadata next
    assert period_mapping.gap_fillers(scores, frames, reference, min_gap_km2=4 * PX_KM2).index.tolist() == [3]


def test_bootstrap_spread_is_zero_when_every_acquisition_agrees(tmp_path):
    codes = np.array([[200, 0, 254]], np.uint8)
    stores = []
    for name in ("a", "b"):
        import zarr
        array = zarr.create_array(str(tmp_path / f"{name}.zarr"), shape=codes.shape, dtype="uint8", chunks=(1, 3))
        array[:] = codes
        stores.append(str(tmp_path / f"{name}.zarr"))
    frame = _frame([[1.0, 0.0, NAN]], [[2, 2, 0]], [[1, 1, 1]], "training", x0=0.0)
    period_map = mosaic.mosaic_frames([frame], config.AREAS)
    replicates = period_mapping.bootstrap_areas(period_map, [stores], n_bootstrap=10, seed=0)
    assert replicates[:, 0].tolist() == [PX_KM2] * 10


def test_the_synthetic_loader_travels_as_its_seed_and_simulates_the_same_scene(smoke_setup):
    region, listing, _ = smoke_setup
    loader = acquisitions.SyntheticLoader(region)
    blob = pickle.dumps(loader)
    assert len(blob) < 500  # the region is rebuilt in the worker, not shipped
    row = dict(listing.iloc[0])
    a, b = loader(row), pickle.loads(blob)(row)
    assert np.array_equal(a["dn"].values, b["dn"].values) and np.array_equal(a["qa"].values, b["qa"].values)


def test_acquisitions_tables_are_checked():
    with pytest.raises(DataError, match="missing column"):
        acquisitions.check_acquisitions(pd.DataFrame({"id": ["a"], "date": ["2001-08-01"]}))
    with pytest.raises(DataError, match="more than once"):
        acquisitions.check_acquisitions(_acquisitions().assign(id="a"))


@pytest.mark.slow
def test_a_local_process_cluster_maps_a_smoke_period(smoke_setup, tmp_path):
    distributed = pytest.importorskip("distributed")
    region, listing, reference = smoke_setup
    network = tmp_path / "network.keras"
    _brightness_network(network)
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        result = period_mapping.map_period(listing, acquisitions.SyntheticLoader(region), str(network), None,
                                           period=0, reference=reference, folder=tmp_path / "p0", subareas=config.AREAS,
                                           k=1, window_px=64, overlap_px=16, n_bootstrap=10, progress=False)
    with dask.config.set(scheduler="threads"):
        local = period_mapping.map_period(listing, acquisitions.SyntheticLoader(region), str(network), None,
                                          period=0, reference=reference, folder=tmp_path / "local", subareas=config.AREAS,
                                          k=1, window_px=64, overlap_px=16, n_bootstrap=10, progress=False)
    assert sorted(result.stores) == sorted(local.stores) == sorted(result.scores.loc[result.scores.chosen, "id"])
    assert np.array_equal(result.map["mask"].values, local.map["mask"].values)
    assert result.areas["area_km2"].tolist() == pytest.approx(local.areas["area_km2"].tolist())


# ----------------------------------------------------------------------------------------------
# Other sources plug in: Level-1 folders with QA_PIXEL, plain GeoTIFFs with a mask
# ----------------------------------------------------------------------------------------------
def test_a_level1_folder_is_listed_from_its_mtl_and_loads_with_its_qa(smoke_setup, tmp_path):
    region, listing, _ = smoke_setup
    row = dict(listing.iloc[3])
    simulated = acquisitions.SyntheticLoader(region)(row)
    folder = tmp_path / row["id"]
    folder.mkdir()
    synthetic.write_level1(synthetic.simulate_scene(region, row["wrs2"], row["date"].date().isoformat(), row["sensor"],
                                                    row["cloud_cover"]), folder)
    table = acquisitions.level1_acquisitions([folder], {row["wrs2"]: "testing_1"})
    assert table.loc[0, ["id", "wrs2", "area"]].tolist() == [row["id"], row["wrs2"], "testing_1"]
    assert table.loc[0, "date"] == row["date"]
    scene = acquisitions.Level1Loader()(table.iloc[0])
    assert np.array_equal(acquisitions.clear_pixels(scene), acquisitions.clear_pixels(simulated))


def test_a_plain_geotiff_with_a_mask_loads_as_a_scene_with_clear_pixels(tmp_path):
    import rasterio
    from affine import Affine

    dn = np.full((7, 4, 5), 120, np.uint8)
    mask = np.ones((4, 5), np.uint8)
    mask[0, 0] = 0
    profile = {"driver": "GTiff", "height": 4, "width": 5, "dtype": "uint8", "crs": config.STUDY_CRS,
               "transform": Affine(30, 0, 300_000, 0, -30, 4_000_000)}
    with rasterio.open(tmp_path / "image.tif", "w", count=7, **profile) as dst:
        dst.write(dn)
    with rasterio.open(tmp_path / "mask.tif", "w", count=1, **profile) as dst:
        dst.write(mask, 1)
    row = {"id": "img", "wrs2": "f", "date": "2005-08-20", "area": "training",
           "path": str(tmp_path / "image.tif"), "mask": str(tmp_path / "mask.tif")}
    scene = acquisitions.GeoTiffLoader({b: b for b in config.BAND_NUMBERS})(row)
    clear = acquisitions.clear_pixels(scene)
    assert clear.sum() == 19 and not clear[0, 0]


def test_the_search_area_is_a_euclidean_distance_from_the_reference_glaciers():
    scene = _scene(np.full((3, 40), 50, np.uint8), np.full((3, 40), 50, np.uint8))
    reference = gpd.GeoDataFrame({"glacier_id": ["G"]}, geometry=[_square(300_000, 4_000_000, 1)], crs=config.STUDY_CRS)
    inside = acquisitions.search_area(reference, scene, search_m=600)
    assert inside[0].tolist() == [True] * 21 + [False] * 19  # the glacier pixel and 20 pixels (600 m) beyond it
    assert inside[2].tolist() == [True] * 20 + [False] * 20  # two rows down: hypot(60, 30 x 19) <= 600 < hypot(60, 600)


def test_a_frame_whose_every_candidate_is_overcast_keeps_its_best_one():
    table = acquisitions.prescreen(_acquisitions(), k=1, extra=1, max_cloud=70)
    pixel = pd.DataFrame({"id": ["a", "d", "e"], "cloud_fraction": [0.97, 0.99, 0.2], "snow_fraction": [0.1, 0.0, 0.1]})
    chosen = acquisitions.choose(table.merge(pixel, on="id", how="left"), k=1).set_index("id")
    assert chosen["chosen"].to_dict() == {"a": True, "b": False, "c": False, "d": False, "e": True}
    assert chosen.loc["d", "reason"].startswith("not chosen: clear share 1 % < 5 %")


def test_a_frame_s_outline_is_its_data_hull_so_slc_off_stripes_count_as_unmapped():
    from glacier_utils.synthetic.example_study import slc_off_gaps
    from glacier_utils.synthetic.region import FRAME_TILT_DEG

    n = 96
    c = np.arange(n) + 0.5 - n / 2
    t = np.radians(FRAME_TILT_DEG)
    across = c[None, :] * np.cos(t) - c[:, None] * np.sin(t)
    along = c[None, :] * np.sin(t) + c[:, None] * np.cos(t)
    frame = (np.abs(across) < 40) & (np.abs(along) < 40)  # a tilted frame: fill in its corners only
    assert (period_mapping.frame_outline(frame) == frame).all()  # exact: no corner pixel joins the frame
    striped = frame & ~slc_off_gaps(n)
    assert striped.sum() < 0.9 * frame.sum()
    outline = period_mapping.frame_outline(striped)
    assert not (outline & ~frame).any() and (outline & frame).sum() > 0.995 * frame.sum()
    empty = np.zeros((8, 8), bool)
    assert not period_mapping.frame_outline(empty).any()
    line = empty.copy()
    line[3, 2:6] = True
    assert (period_mapping.frame_outline(line) == line).all()
