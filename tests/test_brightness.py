"""The brightness threshold: the no-learned-parameter baseline of studies without TM5 (no band ratio)."""

from __future__ import annotations

import numpy as np
import pytest

from glacier_utils import brightness


def test_visible_brightness_averages_the_visible_bands_present_and_marks_fill():
    dn = np.zeros((1, 4, 2, 2), np.uint8)
    dn[0, 0], dn[0, 1], dn[0, 2], dn[0, 3] = 30, 60, 90, 200  # blue, green, red, NIR
    dn[0, 1, 0, 0] = 0  # fill in one band: no data
    values = brightness.visible_brightness(dn, [1, 2, 3, 4])
    assert np.isnan(values[0, 0, 0])
    np.testing.assert_allclose(values[0].ravel()[1:], 60.0)
    np.testing.assert_allclose(brightness.visible_brightness(dn[:, 2:], [3, 4])[0, 1, 1], 90.0)  # red alone
    with pytest.raises(ValueError, match="none of the visible TM bands"):
        brightness.visible_brightness(dn[:, 3:], [4])


def test_a_bright_square_is_found_and_specks_are_cleaned_away():
    values = np.full((1, 20, 20), 50.0, np.float32)
    values[0, 5:15, 5:15] = 200.0  # a 10 x 10 glacier
    values[0, 2, 17] = 250.0  # a 1-pixel speck: the 5 x 5 opening removes it
    values[0, 18, 0] = np.nan  # no data is never glacier
    glacier = brightness.masks(values, 100.0)
    assert glacier[0, 5:15, 5:15].all() and glacier.sum() == 100


def test_the_sweep_picks_a_threshold_between_the_two_classes():
    rng = np.random.default_rng(0)
    values = rng.normal(60, 5, (4, 24, 24)).astype(np.float32)
    labels = np.zeros(values.shape, np.uint8)
    values[:, 6:18, 6:18] += 120
    labels[:, 6:18, 6:18] = 1
    table = brightness.sweep(values, labels, brightness.candidate_thresholds(values))
    best = table.loc[table.f1.idxmax()]
    assert 60 < best.threshold < 180 and best.f1 == pytest.approx(1.0)  # the lowest of the perfect ones
    assert {"tp", "fp", "fn", "tn", "precision", "recall", "f1", "kappa", "oa"} <= set(table.columns)
