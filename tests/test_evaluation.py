"""Error rates by surface class and pooled scores per group."""

from __future__ import annotations

import numpy as np
import pytest

from glacier_utils import evaluation
from glacier_utils.config import CLOUD_CODES, SURFACE_CODES


def _rate(table, condition):
    return table.set_index("condition").loc[condition, "rate"]


def test_snow_called_glacier_and_ice_missed_under_thick_cloud_are_counted_per_class():
    surface = np.array([SURFACE_CODES["seasonal_snow"]] * 4 + [SURFACE_CODES["clean_ice"]] * 4)
    cloud = np.array([0, 0, 0, 0, 0, 0, CLOUD_CODES["thick_cloud"], CLOUD_CODES["thick_cloud"]])
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([1, 1, 1, 0, 1, 1, 0, 1])
    table = evaluation.error_by_class(pred, truth, surface, cloud)
    assert _rate(table, "seasonal snow called glacier") == pytest.approx(0.75)
    assert _rate(table, "ice under thick cloud missed") == pytest.approx(0.5)
    assert _rate(table, "clean ice and firn missed (clear sky)") == 0.0
    assert np.isnan(_rate(table, "lake water called glacier"))


def test_unknown_truth_pixels_count_in_no_condition():
    surface = np.full(4, SURFACE_CODES["seasonal_snow"])
    table = evaluation.error_by_class(np.ones(4), np.array([255, 255, 0, 0]), surface, np.zeros(4))
    assert table.set_index("condition").loc["seasonal snow called glacier", "pixels"] == 2


def test_tidy_scores_have_the_documented_schema_and_pool_pixels():
    truth = np.array([[1, 1, 0, 0], [1, 0, 0, 255]])
    predictions = {("unet", "scene2", "test_1", 0): np.array([[1, 0, 0, 1], [1, 0, 0, 1]]),
                   ("band_ratio", "scene1_grouped", "test", 0): truth == 1}
    labels = {("scene2", "test_1"): truth, ("scene1_grouped", "test"): truth}
    table = evaluation.tidy_scores(predictions, labels, "quick")
    assert tuple(table.columns) == evaluation.RESULT_COLUMNS
    assert set(table.metric) == {"precision", "recall", "f1", "kappa", "oa"}
    assert set(table.area) == {"testing_1", "scene_1"}
    unet = table[table.method == "unet"].set_index("metric").value
    assert unet["precision"] == pytest.approx(100 * 2 / 3, abs=0.01)  # TP 2, FP 1 (the 255 pixel is skipped)
    assert unet["recall"] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert (table.pixels == 7).all() and (table.profile == "quick").all()
    assert table[table.method == "band_ratio"].set_index("metric").value["f1"] == 100.0
