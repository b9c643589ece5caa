"""Tests of the simulator's calibration against the paper's band-ratio numbers (issue 16)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from glacier_utils import config
from glacier_utils import synthetic as syn
from glacier_utils.synthetic import calibration, climate


@pytest.fixture(scope="module")
def report_region():
    return syn.generate_region("quick", seed=calibration.REPORT_SEEDS[0])


@pytest.fixture(scope="module")
def check(report_region):
    return calibration.compare_with_paper(calibration.band_ratio_scores(report_region))


# ---- the band ratio against Tables II and III -----------------------------------------------
def test_check_has_every_table_ii_and_iii_cell(check):
    assert len(check) == 12 * 5 + 1 + 4
    assert set(check.columns) == {"table", "row", "metric", "ours", "paper", "difference", "within_tolerance"}
    t3 = check[check.table == "Table III"]
    assert list(t3.row) == ["scene_1", "testing_1", "testing_2", "testing_3"]
    np.testing.assert_allclose(check.difference, check.ours - check.paper)


def test_band_ratio_on_the_reporting_seed_is_close_to_the_paper(check):
    """What the calibration reaches on the reporting seed today (issues 16, 17): Table II, Scene 1, area 3."""
    t2 = check[(check.table == "Table II") & (check.metric != "threshold")]
    f1 = t2[t2.metric == "f1"].assign(threshold=lambda d: d.row.astype(float)).set_index("threshold").ours
    # The seed's F1 curve is flat (within 0.6 points from 1.9 to 3.1), so its optimum falls at 1.9
    # since debris became a share (issue 17); at the paper's optimum it is within that of the best.
    assert f1.max() - f1.loc[3.1] <= 0.6
    assert (t2[t2.metric.isin(["oa", "recall"])].difference.abs() <= 3.0).all()
    assert (t2[t2.metric.isin(["f1", "kappa"])].difference.abs() <= 4.0).all()
    assert (t2[t2.metric == "precision"].difference.abs() <= 6.0).all()
    t3 = check[check.table == "Table III"].set_index("row")
    assert t3.loc["scene_1"].within_tolerance
    assert t3.loc["testing_3"].within_tolerance  # 59.3 against 77.0 while one seed held 33 % debris there
    assert check.within_tolerance.sum() >= 44  # of 65 (45 today; 0 before the calibration)


@pytest.mark.xfail(strict=True, reason="issue 16 target not reached on seed 42: testing area 2, Table II "
                   "precision, F1 and Kappa at 1.5-1.9 and the optimum (1.9) stay outside (see "
                   "book/synthetic_region.md)")
def test_band_ratio_on_the_reporting_seed_is_within_tolerance_of_the_paper(check):
    outside = check[~check.within_tolerance]
    assert outside.empty, outside.to_string()


def test_band_ratio_check_is_the_default_region_seen_by_the_book(check):
    # the public entry point: profile + seed -> the same table as scoring the region directly
    again = calibration.band_ratio_check("quick", seed=calibration.REPORT_SEEDS[0])
    np.testing.assert_allclose(again.ours, check.ours)


def test_calibrated_settings_differ_from_the_uncalibrated_and_stay_in_their_search_ranges():
    from tools import calibrate_synthetic as fit

    assert climate.UNCALIBRATED == climate.SimulatorCalibration()
    assert climate.CALIBRATION != climate.UNCALIBRATED
    for name, lo, hi, _ in fit.SEARCH:
        assert lo - 1e-9 <= fit.get(name) <= hi + 1e-9, name
    # every field of the dataclass is frozen and has a value
    with pytest.raises(dataclasses.FrozenInstanceError):
        climate.CALIBRATION.outline_px = 3  # type: ignore[misc]


# ---- glacier geometry of the truth ---------------------------------------------------------
def test_glacier_geometry_reports_every_subarea_and_matches_the_true_areas(report_region):
    geometry = calibration.glacier_geometry(report_region)
    assert list(geometry.index) == list(config.AREAS)
    true_areas = syn.true_area_table(report_region).iloc[0]
    for area in config.AREAS:
        assert geometry.loc[area, "total_km2"] == pytest.approx(true_areas[area], rel=1e-6)
    assert (geometry["count"] > 0).all()
    assert (geometry.median_km2 <= geometry.largest_km2).all()
    assert (geometry.largest_km2 <= geometry.total_km2 + 1e-9).all()


def test_quick_glaciers_are_few_and_large_enough_for_a_meaningful_buffer_uncertainty(report_region):
    geometry = calibration.glacier_geometry(report_region)
    # before the calibration: 18-110 glaciers per subarea, medians 0.03-0.05 km², 13-24 % uncertainty
    assert (geometry.median_km2 >= 0.08).all()
    assert (geometry.uncertainty_pct <= 14.0).all()
    assert geometry["count"].sum() < 120


def test_buffer_uncertainty_shrinks_with_smoother_outlines():
    """The geometry settings are what make the outlines smoother (smoke region, fast)."""
    smooth = calibration.glacier_geometry(syn.generate_region("smoke", seed=3))
    before = climate.CALIBRATION
    try:
        climate.CALIBRATION = climate.UNCALIBRATED
        rough = calibration.glacier_geometry(syn.generate_region("smoke", seed=3))
    finally:
        climate.CALIBRATION = before
    assert smooth.uncertainty_km2.sum() / smooth.total_km2.sum() < rough.uncertainty_km2.sum() / rough.total_km2.sum()
