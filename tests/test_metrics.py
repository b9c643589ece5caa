"""Tests of glacier_utils.metrics: confusion counts and the paper's Eqs. 2-5 + Cohen's Kappa."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn import metrics as skm

from glacier_utils.metrics import METRIC_NAMES, Confusion, as_percent, confusion_counts


def _random_masks(seed: int, shape=(40, 50), p_truth=0.3, p_flip=0.15):
    """A truth mask and a prediction that disagrees with it on about ``p_flip`` of the pixels."""
    rng = np.random.default_rng(seed)
    truth = rng.random(shape) < p_truth
    pred = truth ^ (rng.random(shape) < p_flip)
    return pred, truth


def _sklearn_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The five metrics from scikit-learn, the independent implementation."""
    pred, truth = pred.ravel().astype(int), truth.ravel().astype(int)
    return {
        "precision": skm.precision_score(truth, pred),
        "recall": skm.recall_score(truth, pred),
        "f1": skm.f1_score(truth, pred),
        "kappa": skm.cohen_kappa_score(truth, pred),
        "oa": skm.accuracy_score(truth, pred),
    }


def test_hand_computed_counts_and_metrics():
    pred = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    truth = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    c = confusion_counts(pred, truth)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 2, 4)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert c.oa == pytest.approx(0.7)
    # po = 0.7, pe = (4*5 + 6*5) / 100 = 0.5 -> kappa = 0.2 / 0.5
    assert c.kappa == pytest.approx(0.4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed):
    pred, truth = _random_masks(seed)
    c = confusion_counts(pred, truth)
    tn, fp, fn, tp = skm.confusion_matrix(truth.ravel(), pred.ravel(), labels=[0, 1]).ravel()
    assert (c.tp, c.fp, c.fn, c.tn) == (tp, fp, fn, tn)
    expected = _sklearn_metrics(pred, truth)
    for name in METRIC_NAMES:
        assert getattr(c, name) == pytest.approx(expected[name], rel=1e-12), name


def test_valid_mask_and_unknown_labels_are_left_out_of_the_counts():
    pred, truth = _random_masks(3)
    truth_coded = truth.astype(np.uint8)
    rng = np.random.default_rng(30)
    truth_coded[rng.random(truth.shape) < 0.1] = 255  # unknown label
    valid = rng.random(truth.shape) > 0.2
    c = confusion_counts(pred.astype(np.uint8), truth_coded, valid=valid)
    keep = valid & (truth_coded != 255)
    assert c.n == keep.sum()
    expected = _sklearn_metrics(pred[keep], truth[keep])
    for name in METRIC_NAMES:
        assert getattr(c, name) == pytest.approx(expected[name], rel=1e-12), name


def test_nan_in_a_float_prediction_excludes_the_pixel():
    pred = np.array([1.0, np.nan, 0.0, 1.0])
    truth = np.array([1, 1, 0, 0], dtype=np.uint8)
    assert confusion_counts(pred, truth) == Confusion(tp=1, fp=1, fn=0, tn=1)


def test_adding_confusions_equals_counting_the_pooled_pixels():
    parts = [_random_masks(seed, shape=(20 + seed, 30)) for seed in range(4)]
    pooled = confusion_counts(
        np.concatenate([p.ravel() for p, _ in parts]), np.concatenate([t.ravel() for _, t in parts])
    )
    assert sum(confusion_counts(p, t) for p, t in parts) == pooled
    first, second = (confusion_counts(p, t) for p, t in parts[:2])
    assert (first + second).tp == first.tp + second.tp


def test_dask_and_xarray_inputs_give_the_numpy_counts():
    pred, truth = _random_masks(5, shape=(64, 48))
    valid = np.random.default_rng(50).random(truth.shape) > 0.1
    expected = confusion_counts(pred, truth, valid)
    lazy = confusion_counts(da.from_array(pred, chunks=16), da.from_array(truth, chunks=(20, 13)), da.from_array(valid, chunks=32))
    labelled = confusion_counts(xr.DataArray(pred, dims=("y", "x")), xr.DataArray(truth.astype(np.uint8), dims=("y", "x")))
    assert lazy == expected
    assert labelled == confusion_counts(pred, truth)


def test_empty_denominators_give_nan_not_an_error():
    all_negative = confusion_counts(np.zeros(10, bool), np.zeros(10, bool))
    assert all_negative == Confusion(0, 0, 0, 10)
    assert math.isnan(all_negative.precision) and math.isnan(all_negative.recall) and math.isnan(all_negative.f1)
    assert math.isnan(all_negative.kappa)  # one class everywhere: chance agreement is total
    assert all_negative.oa == 1.0
    nothing = Confusion(0, 0, 0, 0)
    assert all(math.isnan(getattr(nothing, name)) for name in METRIC_NAMES)
    no_prediction = Confusion(tp=0, fp=0, fn=5, tn=5)
    assert math.isnan(no_prediction.precision) and no_prediction.recall == 0.0


def test_a_method_that_predicts_no_glacier_where_there_is_some_scores_f1_zero_like_scikit_learn():
    truth = np.array([1, 1, 1, 0, 0])
    pred = np.zeros(5, bool)
    assert confusion_counts(pred, truth).f1 == 0.0 == skm.f1_score(truth, pred, zero_division=0)


def test_kappa_of_huge_pooled_counts_does_not_overflow():
    c = Confusion(tp=3 * 10**9, fp=10**8, fn=2 * 10**8, tn=4 * 10**10)
    n = c.n
    po = (c.tp + c.tn) / n
    pe = ((c.tp + c.fp) * (c.tp + c.fn) + (c.fn + c.tn) * (c.fp + c.tn)) / n**2
    assert c.kappa == pytest.approx((po - pe) / (1 - pe), rel=1e-9)


def test_shape_mismatch_and_negative_counts_are_clear_errors():
    with pytest.raises(ValueError, match="pred has shape"):
        confusion_counts(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="valid has shape"):
        confusion_counts(np.zeros((3, 3)), np.zeros((3, 3)), valid=np.ones(9, bool))
    with pytest.raises(ValueError, match="non-negative"):
        Confusion(tp=-1, fp=0, fn=0, tn=0)


def test_as_dict_and_as_percent_report_the_paper_columns():
    c = Confusion(tp=3, fp=1, fn=2, tn=4)
    row = c.as_dict()
    assert list(row) == ["tp", "fp", "fn", "tn", *METRIC_NAMES]
    assert c.as_percent() == {"precision": 75.0, "recall": 60.0, "f1": 66.67, "kappa": 40.0, "oa": 70.0}
    table = as_percent(pd.DataFrame([row]))
    assert table.loc[0, "f1"] == 66.67 and table.loc[0, "tp"] == 3
    with pytest.raises(TypeError):
        as_percent([1, 2])
