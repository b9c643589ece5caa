"""Whole-scene sliding-window inference: blending, chunking, nodata, distributed, COG output."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine

from glacier_utils import cog, config, inference
from glacier_utils.errors import DataError
from glacier_utils.mosaic import mosaic_predictions
from glacier_utils.mosaic import subarea_names as mosaic_subarea_names

keras = pytest.importorskip("keras")

STATS = {"mean": np.full(config.N_BANDS, 120.0), "std": np.full(config.N_BANDS, 60.0)}


def make_scene(height: int, width: int, seed: int = 0, nodata: int = 0) -> xr.Dataset:
    """A contract scene of smooth random DN (1..255, so 0 is free for nodata) on the study grid."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(1, 255, (config.N_BANDS, height // 8 + 2, width // 8 + 2))
    # Bilinear-ish upsampling gives spatial structure for the convolutions to respond to.
    yy = np.linspace(0, coarse.shape[1] - 1.001, height)
    xx = np.linspace(0, coarse.shape[2] - 1.001, width)
    y0, x0 = yy.astype(int), xx.astype(int)
    fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
    smooth = (coarse[:, y0][:, :, x0] * (1 - fy) * (1 - fx) + coarse[:, y0 + 1][:, :, x0] * fy * (1 - fx)
              + coarse[:, y0][:, :, x0 + 1] * (1 - fy) * fx + coarse[:, y0 + 1][:, :, x0 + 1] * fy * fx)
    dn = np.clip(smooth + rng.normal(0, 10, smooth.shape), 1, 255).astype(np.uint8)
    transform = Affine(30.0, 0, 500_000.0, 0, -30.0, 3_800_000.0)
    x = 500_000.0 + 15.0 + 30.0 * np.arange(width)
    y = 3_800_000.0 - 15.0 - 30.0 * np.arange(height)
    da = xr.DataArray(dn, dims=("band", "y", "x"),
                      coords={"band": list(config.BAND_NUMBERS), "y": y, "x": x,
                              "band_name": ("band", list(config.BAND_NAMES))},
                      attrs={"nodata": nodata})
    ds = xr.Dataset({"dn": da}, attrs={"wrs2": "138037", "area": "training", "date": "2001-08-01"})
    ds = ds.rio.write_crs(config.STUDY_CRS).rio.write_transform(transform)
    ds["dn"] = ds["dn"].rio.write_nodata(nodata)
    return ds


def conv_model(seed: int = 1) -> keras.Model:
    """A tiny fully convolutional 2-class network with fixed seeded weights (receptive radius 2 px)."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, config.N_BANDS))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="tanh")(inputs)
    x = keras.layers.Conv2D(2, 3, padding="same")(x)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    model.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def pixel_model(weights: np.ndarray, bias: np.ndarray) -> keras.Model:
    """A 1x1-convolution softmax network: a pure per-pixel function we can compute with numpy."""
    inputs = keras.Input((None, None, config.N_BANDS))
    logits = keras.layers.Conv2D(2, 1)(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    model.set_weights([weights.reshape(1, 1, config.N_BANDS, 2).astype(np.float32), bias.astype(np.float32)])
    return model


@pytest.fixture(scope="module")
def model():
    return conv_model()


def whole_scene_probability(model, scene: xr.Dataset) -> np.ndarray:
    """Independent reference: the whole scene through the network in one pass (no windows at all)."""
    x = (scene["dn"].values.astype(np.float32) - STATS["mean"][:, None, None]) / STATS["std"][:, None, None]
    return model.predict_on_batch(np.moveaxis(x, 0, -1)[None].astype(np.float32))[0, ..., 1]


def test_blended_windows_have_no_seams_against_a_whole_scene_pass(model):
    scene = make_scene(128, 128)
    reference = whole_scene_probability(model, scene)
    blended = inference.predict_scene(scene, model, STATS, window_px=64, overlap_px=32, chunk_px=None)
    hard_tiles = inference.predict_scene(scene, model, STATS, window_px=64, overlap_px=0, chunk_px=None)
    blended_error = np.abs(blended["probability"].values - reference).max()
    tile_error = np.abs(hard_tiles["probability"].values - reference).max()
    assert blended_error < 0.01
    # Without overlap the pixels along the tile borders (rows/cols 63-64) are visibly off.
    assert tile_error > 5 * blended_error
    assert np.abs(hard_tiles["probability"].values[60:68] - reference[60:68]).max() == pytest.approx(tile_error)


def test_per_pixel_network_output_matches_numpy_through_normalisation():
    rng = np.random.default_rng(3)
    weights, bias = rng.normal(0, 0.8, (config.N_BANDS, 2)), rng.normal(0, 0.3, 2)
    scene = make_scene(48, 80, seed=2)
    out = inference.predict_scene(scene, pixel_model(weights, bias), STATS, window_px=32, overlap_px=8,
                                  chunk_px=None)
    x = (scene["dn"].values.astype(np.float64) - STATS["mean"][:, None, None]) / STATS["std"][:, None, None]
    logits = np.einsum("byx,bc->yxc", x, weights) + bias
    expected = 1.0 / (1.0 + np.exp(-(logits[..., 1] - logits[..., 0])))
    np.testing.assert_allclose(out["probability"].values, expected, atol=2e-5)
    np.testing.assert_array_equal(out["mask"].values, (expected >= 0.5).astype(np.uint8))


def test_chunked_prediction_equals_in_memory_prediction(model):
    scene = make_scene(100, 120, seed=4)  # sides not divisible by the window nor by the chunk
    in_memory = inference.predict_scene(scene, model, STATS, window_px=32, overlap_px=8, chunk_px=None)
    chunked = inference.predict_scene(scene.chunk({"y": 40, "x": 40}), model, STATS, window_px=32,
                                      overlap_px=8, chunk_px=40)
    assert chunked["probability"].chunks is not None  # lazy until computed
    np.testing.assert_allclose(chunked["probability"].values, in_memory["probability"].values, atol=1e-5)
    np.testing.assert_array_equal(chunked["mask"].values, in_memory["mask"].values)
    strip = make_scene(40, 300, seed=8)  # thinner than a window: one chunk and a padded window along y
    np.testing.assert_allclose(
        inference.predict_scene(strip, model, STATS, window_px=64, overlap_px=16, chunk_px=128)["probability"],
        inference.predict_scene(strip, model, STATS, window_px=64, overlap_px=16, chunk_px=None)["probability"],
        atol=1e-5)


def test_nodata_and_masked_pixels_are_carried_through_not_guessed(model):
    scene = make_scene(96, 96, seed=5)
    dn = scene["dn"].values.copy()
    dn[4, 10:20, 30:40] = 0          # nodata in one band only: the pixel has no data
    dn[:, :, 80:] = 0                # a nodata collar wider than nothing: whole windows skipped
    scene["dn"].values[:] = dn
    cloud = np.zeros((96, 96), bool)
    cloud[50:60, 5:25] = True
    expected_missing = (dn == 0).any(axis=0) | cloud
    for chunk_px in (None, 48):
        out = inference.predict_scene(scene, model, STATS, window_px=32, overlap_px=8, chunk_px=chunk_px,
                                      valid=~cloud)
        prob, mask = out["probability"].values, out["mask"].values
        np.testing.assert_array_equal(np.isnan(prob), expected_missing)
        np.testing.assert_array_equal(mask == config.LABEL_NODATA, expected_missing)
        assert set(np.unique(mask[~expected_missing])) <= {0, 1}


def test_distributed_local_cluster_gives_the_threaded_result(model, tmp_path):
    distributed = pytest.importorskip("distributed")
    scene = make_scene(64, 64, seed=6)
    expected = inference.predict_scene(scene, model, STATS, window_px=32, overlap_px=8, chunk_px=None)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        # The in-memory model is handed to the worker as a .keras file (it cannot be pickled per task).
        out = inference.predict_scene(scene, model, STATS, window_px=32, overlap_px=8, chunk_px=32,
                                      client=client)
        probability = client.compute(out["probability"].data).result()
    np.testing.assert_allclose(probability, expected["probability"].values, atol=1e-5)


def test_prediction_keeps_grid_and_crs_and_writes_readable_cogs(model, tmp_path):
    scene = make_scene(64, 80, seed=7)
    scene["dn"].values[:, :5, :5] = 0
    out = inference.predict_scene(scene, model, STATS, window_px=32, overlap_px=8, chunk_px=32)
    assert out["probability"].dtype == np.float32 and out["mask"].dtype == np.uint8
    assert out["probability"].shape == (64, 80)
    np.testing.assert_array_equal(out["x"].values, scene["x"].values)
    assert out.rio.crs == scene.rio.crs
    assert out.rio.transform() == scene.rio.transform()
    assert out.attrs["wrs2"] == "138037"
    paths = cog.write_prediction(out, tmp_path, "scene")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene_mask.tif", "scene_probability.tif"]
    with rasterio.open(paths["mask"]) as src:
        assert src.crs.to_epsg() == 32646
        assert src.transform == scene.rio.transform()
        assert src.nodata == 255
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        np.testing.assert_array_equal(src.read(1), out["mask"].values)
    with rasterio.open(paths["probability"]) as src:
        np.testing.assert_allclose(src.read(1), out["probability"].values, equal_nan=True)
    in_memory = out["mask"].compute()
    written = cog.write_cog(in_memory, tmp_path / "in_memory_mask.tif")
    reread = rioxarray.open_rasterio(written).squeeze("band", drop=True)
    assert reread.rio.crs == scene.rio.crs
    np.testing.assert_array_equal(reread.values, in_memory.values)


def test_bad_arguments_are_named_in_the_error(model):
    scene = make_scene(32, 32)
    with pytest.raises(ValueError, match="window_px=30"):
        inference.predict_scene(scene, model, STATS, window_px=30)
    with pytest.raises(DataError, match="expects 7 bands but the scene has 3"):
        inference.predict_scene(scene.isel(band=[0, 1, 2]), model, None)
    with pytest.raises(ValueError, match="stats"):
        inference.predict_scene(scene, model, {"mean": [0, 1], "std": [1, 1]})


def test_window_grid_covers_the_scene_and_weights_sum_to_one_at_half_overlap():
    starts = inference.window_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 100 - 32 and np.all(np.diff(starts) <= 24)
    w = inference.blend_weights(64)
    assert np.all(w > 0)
    np.testing.assert_allclose(w[:32] + w[32:], 1.0, atol=1e-12)


def _prediction(x0, y0, n, mask_value, area, nodata_cols=0):
    import rioxarray  # noqa: F401
    from glacier_utils import config as cfg
    mask = np.full((n, n), mask_value, np.uint8)
    mask[:, :nodata_cols] = config.LABEL_NODATA
    ds = xr.Dataset({"mask": (("y", "x"), mask), "probability": (("y", "x"), mask.astype("float32"))},
                    coords={"y": y0 - 30.0 * np.arange(n), "x": x0 + 30.0 * np.arange(n)}, attrs={"area": area})
    return ds.rio.write_crs(cfg.STUDY_CRS)


def test_mosaic_takes_each_pixel_from_the_nearest_frame_centre_and_counts_overlaps_once():
    west = _prediction(0.0, 0.0, 10, 1, "training")
    east = _prediction(150.0, 0.0, 10, 0, "testing_1")  # overlaps west by 5 columns
    mosaic = mosaic_predictions([west, east])
    assert mosaic.sizes == {"y": 10, "x": 15}
    row = mosaic["mask"].values[0]
    assert row[:7].tolist() == [1] * 7 and row[8:].tolist() == [0] * 7  # split in the overlap's middle
    names = mosaic_subarea_names(mosaic)  # a uint8 subarea index, its keys in attrs["subareas"]
    assert mosaic["subarea"].dtype == np.uint8
    assert set(names[0, :5]) == {"training"} and set(names[0, -5:]) == {"testing_1"}
    assert mosaic.rio.crs.to_string() == "EPSG:32646"


def test_mosaic_fills_one_frames_nodata_from_its_neighbour():
    west = _prediction(0.0, 0.0, 10, 1, "training", nodata_cols=0)
    east = _prediction(150.0, 0.0, 10, 0, "testing_1", nodata_cols=5)  # its overlap half is nodata
    mosaic = mosaic_predictions([west, east])
    assert mosaic["mask"].values[0, :10].tolist() == [1] * 10
    assert (mosaic["frame"].values[:, :10] == 0).all()
