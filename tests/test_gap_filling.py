"""Filling each period's cloud gaps from the same pixel's views in the other periods (issue 17)."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

from glacier_utils import acquisitions, config, gap_filling, period_series, runs, synthetic, timeseries
from glacier_utils.errors import DataError
from glacier_utils.gap_filling import BRACKETED, NEAREST, OBSERVED, UNSEEN

N = config.LABEL_NODATA
PX_KM2 = 900 / 1e6


def _column(*values):
    """A (periods, 1) mask stack of one pixel."""
    return np.array(values, np.uint8)[:, None]


# ---- the rule -------------------------------------------------------------------------------
def test_ice_seen_later_and_free_ground_seen_earlier_bracket_a_gap():
    filled, how, source, _ = gap_filling.fill_from_other_periods(_column(1, N, 1, 0, N, 0))
    assert filled.ravel().tolist() == [1, 1, 1, 0, 0, 0]
    assert how.ravel().tolist() == [OBSERVED, BRACKETED, OBSERVED, OBSERVED, BRACKETED, OBSERVED]
    assert (source == -1).all()


def test_a_gap_the_views_do_not_bracket_takes_the_nearest_view_the_earlier_on_a_tie():
    filled, how, source, doubt = gap_filling.fill_from_other_periods(_column(1, N, N, 0))
    assert filled.ravel().tolist() == [1, 1, 0, 0]  # ice may have melted between 0 and 3: nearest views
    assert doubt.ravel().tolist() == pytest.approx([0, 1 / 3, 1 / 3, 0])  # melted at a uniform time in between
    assert how.ravel().tolist() == [OBSERVED, NEAREST, NEAREST, OBSERVED]
    assert source.ravel().tolist() == [-1, 0, 3, -1]
    tie = gap_filling.fill_from_other_periods(_column(1, N, 0))  # conflicting views one period away each
    assert tie[0].ravel().tolist() == [1, 1, 0] and tie[2].ravel()[1] == 0 and tie[3].ravel()[1] == 0.5
    assert np.isnan(gap_filling.fill_from_other_periods(_column(1, 1, N))[3].ravel()[2])  # one side: measured


def test_the_last_period_after_ice_and_a_pixel_never_seen():
    filled, how, _, _ = gap_filling.fill_from_other_periods(_column(1, 1, N))
    assert filled.ravel()[-1] == 1 and how.ravel()[-1] == NEAREST  # it may have melted: not bracketed
    filled, how, _, _ = gap_filling.fill_from_other_periods(_column(N, N, N))
    assert (filled == N).all() and (how == UNSEEN).all()


def test_a_retreating_glacier_under_random_clouds_is_recovered_where_bracketed():
    rng = np.random.default_rng(5)
    n, size = 8, 64
    distance = np.hypot(*np.meshgrid(np.arange(size) - 32, np.arange(size) - 32))
    truth = np.stack([(distance < 28 - 2 * p).astype(np.uint8) for p in range(n)])  # shrinks every period
    masks = np.where(rng.random(truth.shape) < 0.4, N, truth).astype(np.uint8)
    filled, how, _, _ = gap_filling.fill_from_other_periods(masks)
    assert (filled[how == OBSERVED] == truth[how == OBSERVED]).all()
    assert (filled[how == BRACKETED] == truth[how == BRACKETED]).all()  # monotone retreat: never wrong
    assert (how[1:-1] == BRACKETED).sum() > 2 * (how[1:-1] == NEAREST).sum()  # the first and last are one-sided
    _, _, source, _ = gap_filling.fill_from_other_periods(masks)
    p, r, c = np.nonzero(how == NEAREST)
    np.testing.assert_array_equal(filled[p, r, c], truth[source[p, r, c], r, c])  # the nearest period's view
    _, _, counts = gap_filling.fill_masks(masks, np.zeros((size, size), np.uint8), n_subareas=1)
    wrong = (filled[p, r, c] != truth[p, r, c]).sum()
    assert counts.expected_wrong().sum() == pytest.approx(wrong, rel=0.25)  # the measured error is honest


# ---- the expected error of nearest-view fills ---------------------------------------------------
def test_expected_wrong_is_the_measured_disagreement_times_the_filled_pixels():
    # Period 1 is filled from period 0 on 4 pixels seen as ice there; among the 10 pixels seen as ice in 0
    # and seen in 1, 2 melted: 20 % of the 4 filled pixels are expected wrong.
    masks = np.array([[1] * 14 + [0] * 6,
                      [1] * 8 + [0] * 2 + [N] * 4 + [0] * 6,
                      [N] * 20], np.uint8)
    filled, how, counts = gap_filling.fill_masks(masks, np.zeros(20, np.uint8), n_subareas=1)
    assert (how[1, 10:14] == NEAREST).all() and (filled[1, 10:14] == 1).all()
    wrong = counts.expected_wrong()
    assert wrong[1, 0] == pytest.approx(4 * 2 / 10)
    assert wrong[0, 0] == 0.0


def test_pixels_no_subarea_owns_are_left_as_they_are():
    masks = _column(1, N, 1)
    filled, how, _ = gap_filling.fill_masks(masks, np.array([255], np.uint8), n_subareas=4)
    assert filled[1, 0] == N and how[1, 0] == OBSERVED


# ---- the stores on disk -------------------------------------------------------------------
def _period_map(mask, x0=300_015.0, y0=3_999_985.0, subarea=1):
    """A hand-made period mosaic (as `mosaic.mosaic_frames` returns) on the 30 m grid."""
    mask = np.asarray(mask, np.uint8)
    h, w = mask.shape
    ds = xr.Dataset({"mask": (("y", "x"), mask), "n_clear": (("y", "x"), (mask != N).astype(np.uint8)),
                     "frame": (("y", "x"), np.zeros((h, w), np.int16)),
                     "subarea": (("y", "x"), np.full((h, w), subarea, np.uint8))},
                    coords={"y": y0 - 30.0 * np.arange(h), "x": x0 + 30.0 * np.arange(w)},
                    attrs={"subareas": list(config.AREAS), "pixel_size_m": 30.0, "frame_windows": [(0, 0, h, w)],
                           "frames": ["138035"]})
    ds["mask"].attrs.update(nodata=N)
    return ds.rio.write_crs("EPSG:32646").rio.write_transform(Affine(30.0, 0.0, x0 - 15.0, 0.0, -30.0, y0 + 15.0))


def test_a_period_store_round_trips_its_mosaic_with_crs_and_transform(tmp_path):
    period_map = _period_map([[1, 0, N], [0, 1, 1]])
    path = gap_filling.write_period_store(period_map, tmp_path / "map.zarr")
    back = gap_filling.read_period_store(path)
    np.testing.assert_array_equal(back["mask"].values, period_map["mask"].values)
    assert back.rio.crs == period_map.rio.crs and back.rio.transform() == period_map.rio.transform()
    assert back.attrs["subareas"] == list(config.AREAS) and back.attrs["frame_windows"] == [(0, 0, 2, 3)]
    assert not list(tmp_path.glob("*.partial*"))


def test_stores_of_different_extents_fill_block_by_block_as_in_memory(tmp_path):
    rng = np.random.default_rng(1)
    full = [np.where(rng.random((6, 9)) < 0.3, N, (rng.random((6, 9)) < 0.5)).astype(np.uint8) for _ in range(4)]
    # period 2 covers only the east of the grid (its west frame missing): offset 3 columns
    maps = [_period_map(m) for m in full[:2]] + [_period_map(full[2][:, 3:], x0=300_015.0 + 90.0)] \
        + [_period_map(full[3])]
    paths = [gap_filling.write_period_store(m, tmp_path / f"map_{i}.zarr") for i, m in enumerate(maps)]
    table = gap_filling.fill_period_stores(paths, block_rows=2)
    stack = np.stack(full)
    stack[2, :, :3] = N
    owner = np.ones_like(stack)
    owner[2, :, :3] = 255
    expected, how, _, _ = gap_filling.fill_from_other_periods(stack)
    for i, path in enumerate(paths):
        back = gap_filling.read_period_store(path, mask="mask_filled")
        cols = slice(3, None) if i == 2 else slice(None)
        np.testing.assert_array_equal(back["mask"].values, expected[i][:, cols])
        np.testing.assert_array_equal(back["how"].values, how[i][:, cols])
    t1 = table[(table.area == "testing_1")].set_index("period")
    assert t1.loc[0, "filled_km2"] == pytest.approx(((how[0] == BRACKETED) | (how[0] == NEAREST)).sum() * PX_KM2)
    assert t1.loc[2, "bracketed_km2"] == pytest.approx((how[2][:, 3:] == BRACKETED).sum() * PX_KM2)
    assert (table[table.area == "training"].filled_km2 == 0).all()
    total = table[table.area == "total"].set_index("period")
    assert total.filled_km2.tolist() == pytest.approx(t1.filled_km2.tolist())


def test_stores_off_one_pixel_grid_are_refused(tmp_path):
    paths = [gap_filling.write_period_store(_period_map([[1, N]]), tmp_path / "a.zarr"),
             gap_filling.write_period_store(_period_map([[1, N]], x0=300_030.0), tmp_path / "b.zarr")]
    with pytest.raises(DataError, match="one pixel grid"):
        gap_filling.fill_period_stores(paths)


def test_the_stated_uncertainty_adds_the_gap_fill_error():
    areas = pd.DataFrame({"error_km2": [3.0], "spread_km2": [4.0], "unmapped_ice_km2": [1.0], "gap_error_km2": [0.5]})
    assert timeseries.stated_uncertainty(areas).item() == pytest.approx(5.0 + 0.5 + 1.0)
    assert timeseries.stated_uncertainty(areas.drop(columns="gap_error_km2")).item() == pytest.approx(6.0)


# ---- every period of a smoke study ----------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_region():
    return synthetic.generate_region("smoke", seed=5)


def test_map_periods_fills_the_gaps_and_measures_the_filled_maps(smoke_region, tmp_path, monkeypatch):
    from test_period_mapping import _brightness_network  # the stand-in network of the period tests

    monkeypatch.setenv("GLACIER_DATA_DIR", str(tmp_path))

    frames = ["138035", "139035"]
    listings = {p: (lambda a: a[a["wrs2"].isin(frames)])(synthetic.period_acquisitions(smoke_region, p))
                for p in (0, 1, 2)}
    reference = synthetic.reference_inventory(smoke_region, 0)
    paths = runs.RunPaths("smoke", "thr", smoke_region.seed)
    options = dict(k=1, extra=0, max_fill=0, window_px=64, overlap_px=16, n_bootstrap=10)
    with dask.config.set(scheduler="threads"):
        mapped = period_series.map_periods(listings, acquisitions.SyntheticLoader(smoke_region), _brightness_network(),
                                            None, paths=paths, periods=config.PERIODS, reference=reference,
                                            subareas=config.AREAS, keep_maps=(2,), progress=False, **options)
    assert sorted(mapped.outlines) == [0, 1, 2] and set(mapped.areas.period) == {0, 1, 2}
    for column in ("filled_km2", "bracketed_km2", "nearest_km2", "gap_error_km2"):
        assert column in mapped.areas
    assert paths.period_mask(config.PERIODS[1]).exists() and paths.period_store(config.PERIODS[1]).exists()
    final = mapped.maps[2]
    t1 = mapped.areas[(mapped.areas.period == 2) & (mapped.areas.area == "testing_1")].iloc[0]
    filled = np.isin(final["how"].values, (BRACKETED, NEAREST)) & (final["subarea"].values == 1)
    assert t1.filled_km2 == pytest.approx(filled.sum() * PX_KM2)
    left = (final["mask"].values == N) & (final["subarea"].values == 1)
    assert t1.unmapped_km2 == pytest.approx(left.sum() * PX_KM2)
    assert t1.unmapped_km2 <= t1.unseen_km2 + 1e-9
    assert mapped.areas.filled_km2.sum() > 0  # one acquisition per frame: clouds leave gaps to fill
