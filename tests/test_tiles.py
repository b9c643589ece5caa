"""Tests of glacier_utils.tiles: the global tile grid, Steps 3-7 of paper §II-B and the §II-C splits."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS

from glacier_utils import config, study, tiles
from glacier_utils.training_data import make_tf_dataset

TILE = 16
T_M = TILE * config.PIXEL_SIZE_M  # tile side in metres
WEST, NORTH = 300_000.0, 4_000_650.0  # on the 30 m lattice; NORTH is 330 m (11 px) off the tile grid


def glacier_truth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Glaciers as discs at fixed ground positions (so overlapping scenes agree), 1 = glacier."""
    period = 1920.0
    return (((x % period) - 900.0) ** 2 + ((y % period) - 900.0) ** 2 < 420.0**2).astype(np.uint8)


def make_scene(
    wrs2: str, date: str = "2006-09-14", *, west: float = WEST, north: float = NORTH, size: int = 96,
    seed: int = 0, brightness: int = 0, nodata_rows: int = 0, classes: bool = True, sensor: str = "TM",
    crs: str = config.STUDY_CRS, glacier: bool = True,
) -> xr.Dataset:
    """A small scene following the data contract (dn uint8 bands 1-7, label, surface/cloud, attrs)."""
    x = west + 15.0 + 30.0 * np.arange(size)
    y = north - 15.0 - 30.0 * np.arange(size)
    xx, yy = np.meshgrid(x, y)
    label = glacier_truth(xx, yy) if glacier else np.zeros((size, size), np.uint8)
    rng = np.random.default_rng(seed)
    base = np.array([60, 50, 45, 40, 30, 120, 20])[:, None, None] + brightness
    dn = base + 120 * label[None] * np.array([1, 1, 1, 1, 0, 0, 0])[:, None, None]
    dn = np.clip(dn + rng.integers(0, 10, (7, size, size)), 1, 254).astype(np.uint8)
    if nodata_rows:
        dn[:, :nodata_rows, :] = 0
    ds = xr.Dataset(
        {"dn": (("band", "y", "x"), dn), "label": (("y", "x"), label)},
        coords={"band": list(config.BAND_NUMBERS), "band_name": ("band", list(config.BAND_NAMES)), "x": x, "y": y},
        attrs={"wrs2": wrs2, "area": config.area_of_scene(wrs2), "date": date, "sensor": sensor,
               "sun_elevation": 50.0, "sun_azimuth": 130.0},
    )
    if classes:
        ds["surface"] = (("y", "x"), (label * 1 + 2).astype(np.uint8), {"codes": {"1": "ice", "2": "rock"}})
        ds["cloud"] = (("y", "x"), np.zeros((size, size), np.uint8))
    ds = ds.rio.write_crs(crs)
    ds["dn"] = ds["dn"].rio.write_nodata(0)
    ds["dn"].attrs["nodata"] = 0
    return ds


@pytest.fixture(scope="module")
def study_scenes() -> list[xr.Dataset]:
    """Training-area scenes (one with two dates) and one scene per testing area; 138035 overlaps 138037."""
    shift = 40 * 30.0
    return [
        make_scene("138037", "2006-09-14", seed=1),
        make_scene("138037", "2007-07-20", seed=2),
        make_scene("137037", "2006-08-01", west=WEST + 5 * T_M + shift, seed=3),
        make_scene("138035", "2006-09-14", north=NORTH + 1500.0, west=WEST + 600.0, seed=4, brightness=40),
        make_scene("133035", "2008-08-10", west=WEST + 100 * T_M, seed=5, brightness=40),
        make_scene("135037", "2009-09-01", west=WEST + 200 * T_M, seed=6, brightness=40),
    ]


@pytest.fixture(scope="module")
def prepared(study_scenes) -> xr.Dataset:
    return tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7)


def _locations(ds: xr.Dataset, indices: np.ndarray) -> set[str]:
    return set(np.asarray(ds["location"].values)[indices].astype(str))


# --------------------------------------------------------------------------------------------
# Tiling
# --------------------------------------------------------------------------------------------
def test_tile_grid_is_anchored_to_the_crs_so_overlapping_scenes_share_location_ids():
    a = make_scene("138037", seed=1)
    b = make_scene("138037", "2007-07-20", west=WEST + 37 * 30.0, north=NORTH - 21 * 30.0, seed=2)
    ta = tiles.tile_scenes([a], TILE)
    tb = tiles.tile_scenes([b], TILE)
    shared = set(ta["location"].values.astype(str)) & set(tb["location"].values.astype(str))
    assert len(shared) >= 2
    for loc in shared:
        ia = int(np.flatnonzero(ta["location"].values.astype(str) == loc)[0])
        ib = int(np.flatnonzero(tb["location"].values.astype(str) == loc)[0])
        assert ta["x0"].values[ia] == tb["x0"].values[ib] and ta["y0"].values[ia] == tb["y0"].values[ib]
        np.testing.assert_array_equal(ta["label"].values[ia], tb["label"].values[ib])
    # tile edges on multiples of the tile size in metres, and the ids follow from them
    assert np.all(ta["x0"].values % T_M == 0) and np.all(ta["y0"].values % T_M == 0)
    np.testing.assert_array_equal(ta["tile_col"].values, ta["x0"].values // T_M)
    np.testing.assert_array_equal(ta["tile_row"].values, ta["y0"].values // T_M)


def test_tile_pixels_are_the_scene_pixels_at_the_tile_origin():
    scene = make_scene("138037", seed=1)
    ts = tiles.tile_scenes([scene], TILE)
    for i in range(ts.sizes["sample"]):
        x0, y0 = float(ts["x0"].values[i]), float(ts["y0"].values[i])
        window = scene["dn"].sel(x=slice(x0, x0 + T_M), y=slice(y0, y0 - T_M))
        np.testing.assert_array_equal(ts["image"].values[i], window.transpose("y", "x", "band").values)
        surface = scene["surface"].sel(x=slice(x0, x0 + T_M), y=slice(y0, y0 - T_M))
        np.testing.assert_array_equal(ts["surface"].values[i], surface.values)


def test_landsat_lattice_offset_keeps_ids_of_tiles_less_than_a_pixel_apart():
    # USGS products have pixel edges at odd multiples of 15 m; ids must still agree with a 0-phase scene.
    a = make_scene("138037", seed=1)
    b = make_scene("138037", west=WEST + 15.0, north=NORTH - 15.0, seed=2)
    ta, tb = tiles.tile_scenes([a], TILE), tiles.tile_scenes([b], TILE)
    shared = set(ta["location"].values.astype(str)) & set(tb["location"].values.astype(str))
    assert shared
    assert np.all((tb["x0"].values - 15.0) % T_M == 0)


def test_partial_and_nodata_tiles_are_dropped_and_counted():
    scene = make_scene("138037", nodata_rows=3)
    arrays, counts = tiles.cut_tiles(tiles.to_study_grid(scene), TILE)
    # NORTH is 11 px off the tile grid: the first 11 rows are a partial tile row, so with
    # 96 rows there are 5 complete tile rows of 6 columns; the nodata rows fall in the dropped part.
    assert counts["complete"] == 5 * 6
    assert counts["dropped_nodata"] == 0
    scene = make_scene("138037", nodata_rows=14)  # reaches the first complete tile row
    arrays, counts = tiles.cut_tiles(tiles.to_study_grid(scene), TILE)
    assert counts["dropped_nodata"] == 6 and counts["valid"] == 24
    assert not np.any(arrays["image"] == 0)


def test_glacier_free_tiles_are_dropped_and_fraction_matches_the_label():
    scene = make_scene("138037")
    ts = tiles.tile_scenes([scene], TILE)
    fraction = (ts["label"].values == 1).mean(axis=(1, 2))
    np.testing.assert_allclose(ts["glacier_fraction"].values, fraction)
    assert np.all(fraction > 0)
    assert ts.attrs["n_dropped_glacier_free"] > 0
    dropped = ts.attrs["n_dropped_glacier_free"] + ts.attrs["n_dropped_nodata"]
    assert ts.sizes["sample"] + dropped == ts.attrs["n_tiles_complete"]


def test_multi_date_expansion_gives_each_image_tile_its_own_named_label_tile():
    scenes = [make_scene("138037", "2006-09-14", seed=1), make_scene("138037", "2007-07-20", seed=2)]
    ts = tiles.tile_scenes(scenes, TILE)
    locations = ts["location"].values.astype(str)
    unique, counts = np.unique(locations, return_counts=True)
    assert np.all(counts == 2)  # one image (and label) tile per date at every location
    names = ts["tile_name"].values.astype(str)
    assert len(set(names)) == len(names)
    assert {n.split("_")[1] for n in names} == {"2006-09-14", "2007-07-20"}
    assert all(n.startswith(loc) for n, loc in zip(names, locations))


def test_scene_order_does_not_change_the_tiles(study_scenes):
    forward = tiles.tile_scenes(study_scenes[:3], TILE)
    backward = tiles.tile_scenes(study_scenes[:3][::-1], TILE)
    np.testing.assert_array_equal(forward["tile_name"].values, backward["tile_name"].values)
    np.testing.assert_array_equal(forward["image"].values, backward["image"].values)


def test_scene_off_the_study_grid_is_reprojected_to_utm46_at_30m():
    scene = make_scene("138037", crs="EPSG:32645", west=800_000.0, size=64)
    out = tiles.to_study_grid(scene)
    assert CRS.from_user_input(out.rio.crs) == CRS.from_user_input(config.STUDY_CRS)
    np.testing.assert_allclose(np.diff(out["x"].values), 30.0)
    np.testing.assert_allclose(np.diff(out["y"].values), -30.0)
    assert (out["x"].values[0] - 15.0) % 30.0 == pytest.approx(0.0, abs=1e-6)
    assert set(np.unique(out["label"].values)) <= {0, 1, 255}
    assert set(np.unique(out["dn"].values)) <= set(np.unique(scene["dn"].values)) | {0}  # nearest keeps DN
    assert out["dn"].dtype == np.uint8


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------
def _marker_tiles(n: int = 16) -> xr.Dataset:
    image = np.zeros((1, n, n, 7), np.uint16)
    image[0, :, :, :] = (np.arange(n * n).reshape(n, n) + 1)[:, :, None] * np.arange(1, 8)
    label = np.zeros((1, n, n), np.uint8)
    label[0, 1, 3] = 1  # a single marker pixel away from every symmetry axis
    surface = np.zeros((1, n, n), np.uint8)
    surface[0, 1, 3] = 7
    return xr.Dataset(
        {"image": (("sample", "y", "x", "band"), image), "label": (("sample", "y", "x"), label),
         "surface": (("sample", "y", "x"), surface)},
        coords={"location": ("sample", ["E0N0"]), "source": ("sample", [0])},
    )


def test_augmentation_moves_a_marker_pixel_identically_in_image_label_and_classes():
    n = 16
    ds = tiles.augment_tiles(_marker_tiles(n))
    assert list(ds["augmentation"].values) == list(tiles.AUGMENTATIONS)
    marker_value = (1 * n + 3 + 1) * np.arange(1, 8)
    # where pixel (1, 3) goes: flip up-down, mirror left-right, 90 degrees counter-clockwise
    expected = {"original": (1, 3), "flipud": (n - 2, 3), "fliplr": (1, n - 4), "rot90": (n - 1 - 3, 1)}
    for i, kind in enumerate(ds["augmentation"].values):
        r, c = expected[str(kind)]
        assert np.argwhere(ds["label"].values[i] == 1).tolist() == [[r, c]]
        assert np.argwhere(ds["surface"].values[i] == 7).tolist() == [[r, c]]
        np.testing.assert_array_equal(ds["image"].values[i, r, c], marker_value)
    assert np.all(ds["source"].values == 0)


def test_augmentation_gives_four_copies_per_tile_with_source_and_kind(prepared):
    n_tiles = prepared.attrs["n_image_tiles"]
    assert prepared.sizes["sample"] == 4 * n_tiles
    kinds = prepared["augmentation"].values.astype(str)
    for kind in tiles.AUGMENTATIONS:
        assert (kinds == kind).sum() == n_tiles
    sources = prepared["source"].values
    assert np.all(np.bincount(sources) == 4)
    # every copy of a tile shares its name and location
    for name in ("tile_name", "location", "wrs2", "date"):
        values = prepared[name].values.astype(str).reshape(n_tiles, 4)
        assert np.all(values == values[:, :1])


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------
def test_grouped_scene1_split_keeps_every_location_on_one_side(prepared):
    splits = tiles.split_indices(prepared, "scene1_grouped")
    train, val, test = (_locations(prepared, splits[k]) for k in ("train", "validation", "test"))
    assert train and val and test
    assert not (train & test) and not (val & test) and not (train & val)
    # test holds only original tiles by default
    assert set(prepared["augmentation"].values[splits["test"]].astype(str)) == {"original"}


def test_paper_policy_leaks_locations_between_train_and_test(prepared):
    splits = tiles.split_indices(prepared, "scene1_paper")
    assert _locations(prepared, splits["train"]) & _locations(prepared, splits["test"])
    # rotated copies of one tile on both sides
    source = prepared["source"].values
    assert set(source[splits["train"]]) & set(source[splits["test"]])


def test_scene1_splits_partition_the_samples_in_the_papers_proportions(prepared):
    n = prepared.sizes["sample"]
    paper = tiles.split_scene1(prepared, "paper", seed=3)
    joined = np.concatenate(list(paper.values()))
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    assert len(paper["test"]) == round(0.3 * n)
    assert len(paper["validation"]) == round(0.2 * (n - len(paper["test"])))
    grouped = tiles.split_scene1(prepared, "grouped", seed=3, augment_test=True)
    joined = np.concatenate(list(grouped.values()))
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    assert abs(len(grouped["test"]) / n - 0.3) < 0.15


def test_same_seed_same_split_and_another_seed_a_different_one(prepared):
    for policy in study.SPLIT_POLICIES:
        a = tiles.split_scene1(prepared, policy, seed=11)
        b = tiles.split_scene1(prepared, policy, seed=11)
        c = tiles.split_scene1(prepared, policy, seed=12)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        assert any(not np.array_equal(a[key], c[key]) for key in a)
    a, c = tiles.split_scene2(prepared, seed=11), tiles.split_scene2(prepared, seed=12)
    assert not np.array_equal(a["validation"], c["validation"])


def test_scene2_split_is_geographic_and_leak_free(prepared):
    splits = tiles.split_indices(prepared, "scene2")
    area = prepared["area"].values.astype(str)
    assert set(area[splits["train"]]) == {"training"} and set(area[splits["validation"]]) == {"training"}
    for i, name in enumerate(config.TESTING_AREAS, start=1):
        assert len(splits[f"test_{i}"]) > 0
        assert set(area[splits[f"test_{i}"]]) == {name}
        assert set(prepared["augmentation"].values[splits[f"test_{i}"]].astype(str)) == {"original"}
    seen_in_training = _locations(prepared, np.concatenate([splits["train"], splits["validation"]]))
    seen_in_testing = _locations(prepared, np.concatenate([splits[f"test_{i}"] for i in (1, 2, 3)]))
    assert not (seen_in_training & seen_in_testing)
    assert not (_locations(prepared, splits["train"]) & _locations(prepared, splits["validation"]))


def test_held_out_sets_and_their_areas_are_the_papers_for_the_thr(prepared):
    assert tiles.held_out_areas(prepared) == study.TEST_SET_AREAS
    held_out = tiles.held_out_sets(prepared, "scene2")
    assert list(held_out) == ["test_1", "test_2", "test_3"]
    np.testing.assert_array_equal(held_out["test_2"], tiles.split_indices(prepared, "scene2")["test_2"])
    assert list(tiles.held_out_sets(prepared, "scene1_grouped")) == ["test"]


def test_scene2_overlap_locations_are_dropped_from_training_by_default(prepared):
    area = prepared["area"].values.astype(str)
    locations = prepared["location"].values.astype(str)
    overlap = set(locations[area == "training"]) & set(locations[area == "testing_1"])
    assert overlap, "fixture: 138035 must overlap 138037"
    default = tiles.split_scene2(prepared, seed=1)
    assert not (overlap & _locations(prepared, np.concatenate([default["train"], default["validation"]])))
    assert overlap <= _locations(prepared, default["test_1"])
    other = tiles.split_scene2(prepared, seed=1, overlap="drop_from_testing")
    assert not (overlap & _locations(prepared, other["test_1"]))
    assert overlap & _locations(prepared, np.concatenate([other["train"], other["validation"]]))


def test_normalisation_stats_are_computed_on_training_samples_only(prepared):
    for experiment in study.EXPERIMENTS:
        train = tiles.split_indices(prepared, experiment)["train"]
        pixels = prepared["image"].values[train].reshape(-1, 7).astype(np.float64)
        mean, std = tiles.normalisation_stats(prepared, experiment)
        np.testing.assert_allclose(mean, pixels.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(std, pixels.std(axis=0), rtol=1e-8)
    # the testing areas are brighter: stats over all samples would differ
    everything = prepared["image"].values.reshape(-1, 7).astype(np.float64).mean(axis=0)
    assert np.all(np.abs(tiles.normalisation_stats(prepared, "scene2")[0] - everything) > 1.0)


def test_band_stats_chunked_update_matches_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60000, (37, 4, 4, 3)).astype(np.uint16)
    indices = np.array([0, 3, 5, 8, 13, 21, 34, 36])
    mean, std = tiles.band_stats(images, indices, chunk=3)
    ref = images[indices].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, ref.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=0), rtol=1e-10)


# --------------------------------------------------------------------------------------------
# Summary, persistence, tf.data
# --------------------------------------------------------------------------------------------
def test_summary_counts_add_up(prepared):
    summary = tiles.summarize_tiles(prepared).set_index(["step", "area"])
    n_tiles = prepared.attrs["n_image_tiles"]
    original = prepared["augmentation"].values.astype(str) == "original"
    n_locations = len(set(prepared["location"].values[original].astype(str)))
    assert summary.loc[("label tiles (unique locations)", "all"), "samples"] == n_locations
    assert summary.loc[("image tiles (multi-date / overlap expansion)", "all"), "samples"] == n_tiles
    assert summary.loc[("samples (after x4 augmentation)", "all"), "samples"] == 4 * n_tiles
    assert n_locations < n_tiles  # two dates and an overlap: the 692 -> 999 effect
    paper = sum(summary.loc[(f"scene1_paper/{s}", "all"), "samples"] for s in ("train", "validation", "test"))
    assert paper == 4 * n_tiles
    assert summary.loc[("samples (after x4 augmentation)", "all"), "paper"] == 3996
    per_area = summary.xs("samples (after x4 augmentation)", level="step").drop(index="all")["samples"].sum()
    assert per_area == 4 * n_tiles
    fraction = summary.loc[("scene2/train", "all"), "glacier_fraction"]
    train = tiles.split_indices(prepared, "scene2")["train"]
    assert fraction == pytest.approx((prepared["label"].values[train] == 1).mean())


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_save_and_load_round_trip_keeps_data_crs_and_metadata(prepared, tmp_path, suffix):
    path = tiles.save_tile_dataset(prepared, tmp_path / f"tiles{suffix}")
    back = tiles.load_tile_dataset(path)
    for name in ("image", "label", "surface", "split_scene1_grouped", "split_scene2", "norm_mean"):
        np.testing.assert_array_equal(back[name].values, prepared[name].values)
        assert back[name].dtype == prepared[name].dtype
    for name in ("location", "tile_name", "wrs2", "date", "area", "augmentation"):
        np.testing.assert_array_equal(back[name].values.astype(str), prepared[name].values.astype(str))
    np.testing.assert_array_equal(back["x0"].values, prepared["x0"].values)
    assert CRS.from_user_input(back.rio.crs) == CRS.from_user_input(config.STUDY_CRS)
    assert back.attrs["tile_px"] == TILE and back.attrs["seed"] == 7
    assert back["surface"].attrs["codes"] == {"1": "ice", "2": "rock"}
    for experiment in study.EXPERIMENTS:
        for key, idx in tiles.split_indices(back, experiment).items():
            np.testing.assert_array_equal(idx, tiles.split_indices(prepared, experiment)[key])


def test_failed_save_leaves_the_previous_dataset_intact(prepared, tmp_path, monkeypatch):
    path = tiles.save_tile_dataset(prepared, tmp_path / "tiles.zarr")

    def broken(self, store, *args, **kwargs):
        (store / "half-written").parent.mkdir(parents=True, exist_ok=True)
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(OSError, match="disk full"):
        tiles.save_tile_dataset(prepared.isel(sample=slice(0, 4)), path)
    monkeypatch.undo()
    assert tiles.load_tile_dataset(path).sizes["sample"] == prepared.sizes["sample"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.zarr"]


def test_tf_dataset_yields_normalised_float32_images_and_int32_labels(prepared):
    tf = pytest.importorskip("tensorflow")
    train = tiles.split_indices(prepared, "scene1_grouped")["train"]
    mean, std = tiles.normalisation_stats(prepared, "scene1_grouped")
    ds = make_tf_dataset(prepared, train[:10], "scene1_grouped", batch_size=4, shuffle=False)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.dtype == tf.float32 and y.dtype == tf.int32
    assert tuple(x.shape) == (4, TILE, TILE, 7) and tuple(y.shape) == (4, TILE, TILE)
    expected = (prepared["image"].values[train[:4]].astype(np.float64) - mean) / std
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y.numpy(), prepared["label"].values[train[:4]])
    first = [b[1].numpy() for b in make_tf_dataset(prepared, train, (mean, std), 4, seed=5)]
    again = [b[1].numpy() for b in make_tf_dataset(prepared, train, (mean, std), 4, seed=5)]
    other = [b[1].numpy() for b in make_tf_dataset(prepared, train, (mean, std), 4, seed=6)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))
    assert not np.array_equal(np.concatenate(first), np.concatenate(other))
    repeated = make_tf_dataset(prepared, train[:3], (mean, std), 2, repeat=True)
    assert len(list(repeated.take(5))) == 5


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
def test_bad_parameters_raise_clear_value_errors(prepared):
    scene = make_scene("138037")
    with pytest.raises(ValueError, match="multiple of 16"):
        tiles.tile_scenes([scene], 30)
    with pytest.raises(ValueError, match="larger than scene 138037"):
        tiles.tile_scenes([scene], 128)
    with pytest.raises(ValueError, match="no tile contains glacier"):
        tiles.tile_scenes([make_scene("138037", glacier=False)], TILE)
    with pytest.raises(ValueError, match="unknown policy 'random'"):
        tiles.split_scene1(prepared, "random")
    with pytest.raises(ValueError, match="test_fraction"):
        tiles.split_scene1(prepared, "grouped", test_fraction=1.5)
    with pytest.raises(ValueError, match="unknown overlap"):
        tiles.split_scene2(prepared, overlap="keep")
    with pytest.raises(ValueError, match="training area"):
        tiles.split_scene2(prepared.isel(sample=np.flatnonzero(prepared["area"].values.astype(str) != "training")))
    with pytest.raises(ValueError, match="unknown tile dataset format"):
        tiles.save_tile_dataset(prepared, "tiles.h5")
    with pytest.raises(ValueError, match="'dn' is missing"):
        tiles.tile_scenes([scene.drop_vars("dn")], TILE)


# --------------------------------------------------------------------------------------------
# Overlapping windows (stride_px < tile_px) for small regions
# --------------------------------------------------------------------------------------------
def _footprints(ds, indices: np.ndarray) -> list[tuple[float, float]]:
    """(west, north) edges of the given windows, from a tile Dataset or cut_tiles' arrays."""
    x0, y0 = (np.asarray(getattr(ds[k], "values", ds[k])) for k in ("x0", "y0"))
    return list(zip(x0[indices], y0[indices]))


def _share_a_pixel(a: tuple[float, float], b: tuple[float, float], side_m: float) -> bool:
    return abs(a[0] - b[0]) < side_m and abs(a[1] - b[1]) < side_m


def test_stride_equal_to_the_tile_size_changes_nothing(study_scenes):
    default = tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7)
    explicit = tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7, stride_px=TILE)
    for name in ("image", "label", "split_scene1_grouped", "split_scene2", "norm_mean", "norm_std"):
        np.testing.assert_array_equal(default[name].values, explicit[name].values)


def test_half_tile_stride_cuts_overlapping_windows_of_the_scene_pixels():
    scene = make_scene("138037", size=64)
    whole, _ = tiles.cut_tiles(scene, TILE)
    half, _ = tiles.cut_tiles(scene, TILE, stride_px=TILE // 2)
    assert len(half["label"]) > 3 * len(whole["label"])  # about four windows per tile, minus the edges
    xs, ys = scene["x"].values, scene["y"].values
    for i in (0, 1, len(half["label"]) - 1):
        col = int(np.argmin(np.abs(xs - (half["x0"][i] + 15.0))))
        row = int(np.argmin(np.abs(ys - (half["y0"][i] - 15.0))))
        np.testing.assert_array_equal(half["label"][i], scene["label"].values[row:row + TILE, col:col + TILE])
        np.testing.assert_array_equal(half["image"][i], np.moveaxis(
            scene["dn"].values[:, row:row + TILE, col:col + TILE], 0, -1))
    assert set(_footprints(whole, np.arange(len(whole["label"])))) <= set(
        _footprints(half, np.arange(len(half["label"]))))


@pytest.mark.parametrize("experiment", ["scene1_grouped", "scene2"])
def test_evaluation_windows_never_share_a_pixel_with_training_windows(study_scenes, experiment):
    ds = tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7, stride_px=TILE // 2)
    parts = tiles.split_indices(ds, experiment)
    train = _footprints(ds, parts["train"])
    assert len(train) and len(parts["validation"])
    for name in parts:
        if name == "train":
            continue
        held = _footprints(ds, parts[name])
        clashes = [(a, b) for a in train for b in held if _share_a_pixel(a, b, T_M)]
        assert not clashes, f"{experiment}: {len(clashes)} training windows overlap {name} windows"


def test_overlapping_windows_give_a_small_region_more_training_samples(study_scenes):
    whole = tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7)
    half = tiles.prepare_tile_dataset(study_scenes, "smoke", tile_px=TILE, seed=7, stride_px=TILE // 2)
    assert half.attrs["stride_px"] == TILE // 2 and whole.attrs["stride_px"] == TILE
    for experiment in ("scene1_grouped", "scene2"):
        assert len(tiles.split_indices(half, experiment)["train"]) > len(tiles.split_indices(whole, experiment)["train"])


@pytest.mark.parametrize("stride", [0, -8, 5, 24, 8.0, True])
def test_a_stride_that_does_not_divide_the_tile_is_refused(stride):
    with pytest.raises(ValueError, match="stride_px"):
        tiles.cut_tiles(make_scene("138037"), TILE, stride_px=stride)


def test_a_scene_without_a_single_complete_tile_is_skipped_not_a_crash(study_scenes):
    empty = make_scene("139036", nodata_rows=96)  # all fill
    ds = tiles.tile_scenes([*study_scenes, empty], TILE)
    assert "139036" not in set(ds["wrs2"].values.astype(str))
