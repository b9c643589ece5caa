"""Tests of glacier_utils.bandratio: Eq. 1, the 5 x 5 cleanup and the one-pass 12-threshold sweep."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage

from glacier_utils import bandratio, config
from glacier_utils.metrics import Confusion, confusion_counts

TM3 = config.BAND_NUMBERS.index(config.RATIO_NUMERATOR_BAND)
TM5 = config.BAND_NUMBERS.index(config.RATIO_DENOMINATOR_BAND)


def _as_scene(dn: np.ndarray, label: np.ndarray | None = None, nodata: int = 0) -> xr.Dataset:
    """A minimal scene in the data contract's shape."""
    dn_da = xr.DataArray(dn, dims=("band", "y", "x"), coords={"band": list(config.BAND_NUMBERS)})
    dn_da.attrs["nodata"] = nodata
    variables = {"dn": dn_da}
    if label is not None:
        variables["label"] = xr.DataArray(label, dims=("y", "x"))
    return xr.Dataset(variables)


def _test_scene(seed: int, shape=(72, 90)) -> tuple[np.ndarray, np.ndarray]:
    """DN (7, y, x) uint8 and label: smooth glacier blobs, specks, holes, exact ties, x/0, 0/0, nodata, label 255."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), 4, mode="wrap")
    field = (field - field.mean()) / field.std()
    tm5 = np.clip(60 - 25 * field + rng.normal(0, 6, shape), 1, 200).round()
    ratio = np.clip(2.6 + 1.2 * field + rng.normal(0, 0.6, shape), 0.2, 5.0)
    tm3 = np.clip((ratio * tm5).round(), 1, 254)
    dn = rng.integers(20, 200, size=(config.N_BANDS, *shape)).astype(np.uint8)
    dn[TM3], dn[TM5] = tm3, tm5
    # Exact ties with thresholds (62/20 = 3.1, 17/10 = 1.7, 30/20 = 1.5), which must stay non-glacier.
    for (row, col), (num, den) in zip(rng.integers(0, shape, size=(30, 2)), [(62, 20), (17, 10), (30, 20)] * 10):
        dn[TM3, row, col], dn[TM5, row, col] = num, den
    spots = rng.integers(0, shape, size=(40, 2))
    dn[TM5, spots[:10, 0], spots[:10, 1]] = 0  # x / 0 = +inf
    dn[TM3, spots[10:20, 0], spots[10:20, 1]] = 0
    dn[TM5, spots[10:20, 0], spots[10:20, 1]] = 0  # 0 / 0 (also nodata 0)
    dn[6, spots[20:30, 0], spots[20:30, 1]] = 0  # nodata in another band
    dn[:, :, :3] = np.where(rng.random((config.N_BANDS, shape[0], 3)) < 0.02, 0, dn[:, :, :3])
    label = (field + rng.normal(0, 0.3, shape) > 0.2).astype(np.uint8)
    label[:4, :] = 1  # glacier touching the scene edge
    label[spots[30:, 0], spots[30:, 1]] = 255
    return dn, label


def _reference_counts(dn, label, threshold: float, size: int, nodata: int | None, valid=None) -> Confusion:
    """The naive path written independently: exact integer ratio test, scipy binary morphology, counting."""
    tm3, tm5 = dn[TM3].astype(np.int64), dn[TM5].astype(np.int64)
    tenths = round(threshold * 10)  # the thresholds have one decimal: tm3 / tm5 > t  <=>  10 tm3 > 10t tm5
    valid = ~((tm3 == 0) & (tm5 == 0)) & (True if valid is None else valid)
    if nodata is not None:
        valid &= ~(dn == nodata).any(axis=0)
    glacier = valid & (10 * tm3 > tenths * tm5)
    if size > 1:
        depth = 2 * (size - 1)
        square = np.ones((size, size), bool)
        padded = np.pad(glacier, depth, mode="edge")
        padded = ndimage.binary_closing(ndimage.binary_opening(padded, square), square)
        glacier = padded[depth:-depth, depth:-depth] & valid
    counted = valid & (label != 255)
    truth = label == 1
    tp = int((glacier & truth & counted).sum())
    fp = int((glacier & ~truth & counted).sum())
    fn = int((~glacier & truth & counted).sum())
    return Confusion(tp=tp, fp=fp, fn=fn, tn=int(counted.sum()) - tp - fp - fn)


def _reference_table(dn, label, thresholds=config.RATIO_THRESHOLDS, size=5, nodata=0, valid=None) -> pd.DataFrame:
    rows = [{"threshold": t, **_reference_counts(dn, label, t, size, nodata, valid).as_dict()} for t in thresholds]
    return pd.DataFrame(rows)


def _assert_tables_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


# ---------------------------------------------------------------------------------------------
# Eq. 1
# ---------------------------------------------------------------------------------------------
def test_band_ratio_is_tm3_over_tm5_selected_by_band_number():
    dn, _ = _test_scene(1, shape=(20, 24))
    scene = _as_scene(dn, nodata=0)
    shuffled = scene["dn"].isel(band=[6, 4, 2, 0, 1, 3, 5])  # order must not matter, the band label does
    ratio = bandratio.band_ratio(shuffled)
    tm3, tm5 = dn[TM3].astype(float), dn[TM5].astype(float)
    ok = ~(dn == 0).any(axis=0)
    assert ratio.dims == ("y", "x") and ratio.dtype == np.float32
    np.testing.assert_allclose(ratio.values[ok], tm3[ok] / tm5[ok], rtol=1e-6)
    assert np.isnan(ratio.values[~ok]).all()


def test_division_by_zero_is_inf_and_zero_over_zero_is_nan_without_nodata():
    dn = np.full((config.N_BANDS, 1, 3), 10, np.uint8)
    dn[TM3, 0], dn[TM5, 0] = [7, 0, 20], [0, 0, 10]
    ratio = bandratio.band_ratio(dn)  # a plain array has no nodata value
    assert np.isposinf(ratio.values[0, 0]) and np.isnan(ratio.values[0, 1]) and ratio.values[0, 2] == 2.0
    assert bandratio.valid_mask(dn).values.tolist() == [[True, False, True]]


def test_nodata_in_any_band_and_the_valid_mask_make_the_ratio_nan():
    dn = np.full((config.N_BANDS, 1, 4), 50, np.uint8)
    dn[6, 0, 1] = 255
    scene = _as_scene(dn, nodata=255)
    valid = np.array([[True, True, True, False]])
    ratio = bandratio.band_ratio(scene, valid=valid).values[0]
    assert np.isnan(ratio[[1, 3]]).all() and (ratio[[0, 2]] == 1.0).all()


def test_bad_dn_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        bandratio.band_ratio(np.zeros((3, 4, 4), np.uint8))
    two_bands = xr.DataArray(np.ones((2, 3, 3)), dims=("band", "y", "x"), coords={"band": [1, 2]})
    with pytest.raises(ValueError, match=r"lacks TM band\(s\) \[3, 5\]"):
        bandratio.band_ratio(two_bands)
    with pytest.raises(ValueError, match="valid has shape"):
        bandratio.band_ratio(np.ones((7, 4, 4)), valid=np.ones((3, 3), bool))


# ---------------------------------------------------------------------------------------------
# One threshold
# ---------------------------------------------------------------------------------------------
def _blocks_dn(glacier: np.ndarray) -> np.ndarray:
    """DN whose ratio is 4.0 on ``glacier`` and 1.0 elsewhere."""
    dn = np.full((config.N_BANDS, *glacier.shape), 40, np.uint8)
    dn[TM3] = np.where(glacier, 160, 40)
    return dn


def test_classify_is_strict_at_the_threshold():
    dn = np.full((config.N_BANDS, 1, 2), 10, np.uint8)
    dn[TM3, 0], dn[TM5, 0] = [62, 63], [20, 20]  # 3.1 exactly and 3.15
    assert bandratio.classify(dn, 3.1, morphology_px=1).values.tolist() == [[False, True]]
    dn[TM3, 0], dn[TM5, 0] = [17, 18], [10, 10]  # 1.7 (not exact in binary floating point) and 1.8
    assert bandratio.classify(dn, 1.7, morphology_px=1).values.tolist() == [[False, True]]


def test_cleanup_removes_specks_fills_small_holes_and_keeps_edge_glaciers():
    glacier = np.zeros((40, 40), bool)
    glacier[10:30, 14:34] = True
    glacier[18:20, 22:24] = False  # small hole: filled by the closing
    glacier[2:5, 36:39] = True  # 3 x 3 speck: removed by the opening
    glacier[:, :6] = True  # strip along the left edge: kept whole (nearest border)
    mask = bandratio.classify(_blocks_dn(glacier), 2.0).values
    expected = np.zeros_like(glacier)
    expected[10:30, 14:34] = True
    expected[:, :6] = True
    np.testing.assert_array_equal(mask, expected)


def test_nodata_is_never_glacier_even_inside_a_closed_hole():
    glacier = np.zeros((30, 30), bool)
    glacier[5:25, 5:25] = True
    dn = _blocks_dn(glacier)
    dn[:, 14:16, 14:16] = 0
    mask = bandratio.classify(_as_scene(dn, nodata=0), 2.0).values
    assert not mask[14:16, 14:16].any()
    assert mask[5:25, 5:25].sum() == 400 - 4


@pytest.mark.parametrize("chunks", [{"y": 25, "x": 31}, {"y": 6, "x": 90}])
def test_classify_dask_equals_numpy(chunks):
    dn, _ = _test_scene(2)
    scene = _as_scene(dn)
    eager = bandratio.classify(scene, 2.5).values
    lazy = bandratio.classify(scene.chunk(chunks), 2.5)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager)


def test_morphology_px_must_be_odd_and_positive():
    with pytest.raises(ValueError, match="morphology_px"):
        bandratio.classify(np.ones((7, 4, 4)), 2.0, morphology_px=4)
    with pytest.raises(ValueError, match="morphology_px"):
        bandratio.sweep((np.ones((7, 4, 4)), np.ones((4, 4))), morphology_px=0)


# ---------------------------------------------------------------------------------------------
# The one-pass sweep
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_one_pass_sweep_equals_twelve_naive_binary_passes_exactly(seed):
    dn, label = _test_scene(seed)
    table = bandratio.sweep(_as_scene(dn, label))
    assert table["threshold"].tolist() == list(config.RATIO_THRESHOLDS)
    _assert_tables_equal(table, _reference_table(dn, label))


def test_one_pass_sweep_equals_the_packages_own_per_threshold_path():
    dn, label = _test_scene(4, shape=(50, 60))
    scene = _as_scene(dn, label)
    naive = [confusion_counts(bandratio.classify(scene, t), label, bandratio.valid_mask(scene)) for t in config.RATIO_THRESHOLDS]
    table = bandratio.sweep(scene)
    assert [Confusion(*row) for row in table[["tp", "fp", "fn", "tn"]].itertuples(index=False)] == naive


@pytest.mark.parametrize("chunks", [{"y": 24, "x": 30}, {"y": 11, "x": 90}, {"y": 5, "x": 7}])
def test_dask_sweep_equals_numpy_sweep_for_any_chunking(chunks):
    dn, label = _test_scene(3)
    eager = bandratio.sweep(_as_scene(dn, label))
    lazy = bandratio.sweep(_as_scene(dn, label).chunk(chunks))
    _assert_tables_equal(lazy, eager)


def test_without_morphology_the_sweep_is_plain_thresholding():
    dn, label = _test_scene(5, shape=(30, 40))
    table = bandratio.sweep((dn, label), morphology_px=1)
    _assert_tables_equal(table, _reference_table(dn, label, size=1, nodata=None))


def test_sweep_pools_scenes_and_accepts_tuples_with_a_valid_mask():
    (dn_a, label_a), (dn_b, label_b) = _test_scene(6, (40, 44)), _test_scene(7, (36, 52))
    valid_b = np.random.default_rng(70).random(label_b.shape) > 0.3
    pooled = bandratio.sweep([_as_scene(dn_a, label_a), (dn_b, label_b, valid_b)])
    first = _reference_table(dn_a, label_a)
    second = _reference_table(dn_b, label_b, nodata=None, valid=valid_b)  # a plain array has no nodata
    counts = ["tp", "fp", "fn", "tn"]
    np.testing.assert_array_equal(pooled[counts].to_numpy(), first[counts].to_numpy() + second[counts].to_numpy())
    expected = [Confusion(*row) for row in (first[counts] + second[counts]).itertuples(index=False)]
    np.testing.assert_allclose(pooled["kappa"], [c.kappa for c in expected], rtol=1e-12)


def test_sweep_sorts_and_deduplicates_thresholds():
    dn, label = _test_scene(8, shape=(24, 24))
    table = bandratio.sweep((dn, label), thresholds=[3.1, 1.5, 3.1, 2.0])
    assert table["threshold"].tolist() == [1.5, 2.0, 3.1]
    with pytest.raises(ValueError, match="thresholds"):
        bandratio.sweep((dn, label), thresholds=[])
    with pytest.raises(ValueError, match="thresholds"):
        bandratio.sweep((dn, label), thresholds=[2.0, float("nan")])


def test_sweep_rejects_scenes_it_cannot_read():
    with pytest.raises(ValueError, match="'label'"):
        bandratio.sweep(xr.Dataset({"dn": xr.DataArray(np.ones((7, 3, 3)), dims=("band", "y", "x"))}))
    with pytest.raises(TypeError, match="scene 0"):
        bandratio.sweep([np.ones((7, 3, 3))])
    with pytest.raises(ValueError, match="truth has shape"):
        bandratio.sweep((np.ones((7, 3, 3)), np.ones((3, 4))))


def test_best_threshold_takes_the_maximum_and_the_lowest_on_a_tie():
    table = pd.DataFrame({"threshold": [1.5, 1.7, 1.9, 2.1], "f1": [0.8, 0.9, 0.9, 0.7], "kappa": [0.5, 0.4, 0.3, 0.6]})
    assert bandratio.best_threshold(table) == 1.7
    assert bandratio.best_threshold(table, "kappa") == 2.1
    with pytest.raises(ValueError, match="metric"):
        bandratio.best_threshold(table, "iou")


@pytest.mark.real
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # rioxarray's use of affine, not ours
def test_real_tm_scene_ratio_matches_the_band_files(real_data_dir):
    rioxarray = pytest.importorskip("rioxarray")
    folder = real_data_dir / "landsat5_tm_p224r063_1988"
    bands = [rioxarray.open_rasterio(next(folder.glob(f"*_B{b}.TIF")), masked=False).squeeze("band", drop=True) for b in config.BAND_NUMBERS]
    dn = xr.concat(bands, dim=xr.Variable("band", list(config.BAND_NUMBERS)))
    dn.attrs["nodata"] = 255
    ratio = bandratio.band_ratio(dn).values
    b3, b5 = dn.sel(band=3).values.astype(float), dn.sel(band=5).values.astype(float)
    fill = (dn.values == 255).any(axis=0) | ((b3 == 0) & (b5 == 0))
    assert np.isnan(ratio[fill]).all()
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(ratio[~fill], (b3 / b5)[~fill], rtol=1e-6)
    # An Amazon scene: hardly anything passes the paper's optimal threshold of 3.1.
    assert np.nanmean(ratio > 3.1) < 0.05
