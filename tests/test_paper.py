"""Tests of glacier_utils.paper: spot checks against the paper's text and internal consistency.

The consistency checks recompute each derived number independently (F1 from P and R, kappa from
the confusion matrix that P, R and OA fix, Table V(b) from Table V(a) with Eq. 6), so that a
transcription slip in any single cell makes a test fail.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from glacier_utils import config, paper
from glacier_utils.metrics import METRIC_NAMES

# Half a unit in the last printed digit (values are printed with two decimals).
HALF_ULP = 0.005


# --------------------------------------------------------------------------------------------
# Citation and shapes
# --------------------------------------------------------------------------------------------
def test_citation_names_the_doi():
    assert "10.1109/JSTARS.2022.3189277" in paper.CITATION
    assert paper.DOI == "10.1109/JSTARS.2022.3189277"


def test_every_table_builds_a_fresh_dataframe():
    for name, build in paper.TABLES.items():
        first, second = build(), build()
        assert isinstance(first, pd.DataFrame) and len(first) > 0, name
        first.iloc[0, 0] = None  # a caller's edit must not leak into the next call
        assert second.equals(build()), name


# --------------------------------------------------------------------------------------------
# Table I
# --------------------------------------------------------------------------------------------
def test_table_i_has_the_13_scenes_and_two_multi_date_scenes():
    table = paper.table_i()
    assert len(table) == 13
    assert sorted(table["wrs2"]) == sorted(config.WRS2_IDS)
    multi = table[table["n_images"] > 1].set_index("wrs2")
    assert sorted(multi.index) == ["138035", "139035"]
    assert multi.loc["138035", "dates"] == ("2009-08-30", "2010-09-02")
    assert multi.loc["139035", "cloud_cover"] == (3.00, 2.00)
    assert len(paper.table_i_images()) == 15


def test_table_i_spot_cells():
    table = paper.table_i().set_index("wrs2")
    assert table.loc["138037", "glacier_area_km2"] == 1164.88
    assert table.loc["136037", "dates"] == ("2010-04-29",)
    assert table.loc["136037", "cloud_cover"] == (32.00,)
    assert table.loc["135038", "area"] == "testing_3"  # the paper's text says 133038


# --------------------------------------------------------------------------------------------
# Table II
# --------------------------------------------------------------------------------------------
def test_table_ii_optimal_threshold_row():
    table = paper.table_ii()
    optimal = table[table["optimal"]]
    assert len(optimal) == 1
    row = optimal.iloc[0]
    assert row["threshold"] == pytest.approx(3.1)
    assert (row["precision"], row["recall"], row["f1"], row["kappa"], row["oa"]) == (
        92.82, 94.75, 93.77, 91.87, 97.08)


def test_table_ii_thresholds_match_config():
    assert paper.table_ii()["threshold"].tolist() == pytest.approx(list(config.RATIO_THRESHOLDS))


def test_table_ii_optimum_maximises_f1_kappa_and_oa():
    table = paper.table_ii()
    for metric in ("f1", "kappa", "oa"):
        assert table.loc[table[metric].idxmax(), "threshold"] == pytest.approx(paper.OPTIMAL_THRESHOLD)


def test_table_ii_matches_the_gains_quoted_in_section_iii_a():
    table = paper.table_ii().set_index("threshold")[["f1", "kappa", "oa"]]
    gains = table.loc[3.1] - table.loc[1.5]
    assert gains["f1"] == pytest.approx(2.74, abs=1e-9)
    assert gains["kappa"] == pytest.approx(3.80, abs=1e-9)
    assert gains["oa"] == pytest.approx(1.55, abs=1e-9)


def test_table_ii_precision_rises_and_recall_falls_with_threshold():
    table = paper.table_ii()
    assert table["precision"].is_monotonic_increasing
    assert table["recall"].is_monotonic_decreasing


# --------------------------------------------------------------------------------------------
# Table III
# --------------------------------------------------------------------------------------------
def test_table_iii_covers_eight_methods_in_four_scenes():
    table = paper.table_iii()
    assert len(table) == 32
    for scene in paper.TABLE_III_SCENES:
        assert table.loc[table["scene"] == scene, "method"].tolist() == list(config.METHOD_LABELS)


def test_table_iii_spot_cells():
    table = paper.table_iii().set_index(["scene", "method"])
    assert table.loc[("testing_3", "m_landsnet"), "f1"] == 80.48
    assert table.loc[("scene_1", "m_landsnet"), ["f1", "kappa", "oa"]].tolist() == [96.01, 94.81, 98.16]
    assert table.loc[("testing_2", "band_ratio"), "recall"] == 92.59
    assert table.loc[("testing_3", "unet"), "precision"] == 59.68
    assert table.loc[("testing_1", "unet_cse"), "oa"] == 97.72


def test_table_iii_f1_is_the_harmonic_mean_of_precision_and_recall():
    table = paper.table_iii()
    f1 = 2 * table["precision"] * table["recall"] / (table["precision"] + table["recall"])
    np.testing.assert_allclose(table["f1"], f1, atol=0.02)


def test_table_ii_f1_is_the_harmonic_mean_of_precision_and_recall():
    table = paper.table_ii()
    f1 = 2 * table["precision"] * table["recall"] / (table["precision"] + table["recall"])
    np.testing.assert_allclose(table["f1"], f1, atol=0.02)


def _kappa_from_precision_recall_oa(precision, recall, oa):
    """Cohen's kappa of the confusion matrix (as fractions of all pixels) that P, R and OA fix."""
    p, r, a = precision / 100, recall / 100, oa / 100
    tp = (1 - a) / (1 / p + 1 / r - 2)  # FP + FN = 1 - OA with FP = TP(1/P - 1), FN = TP(1/R - 1)
    predicted, actual = tp / p, tp / r
    chance = predicted * actual + (1 - predicted) * (1 - actual)
    return 100 * (a - chance) / (1 - chance)


def _kappa_rounding_range(precision, recall, oa):
    corners = [
        _kappa_from_precision_recall_oa(precision + dp, recall + dr, oa + do)
        for dp, dr, do in itertools.product((-HALF_ULP, HALF_ULP), repeat=3)
    ]
    return min(corners) - HALF_ULP, max(corners) + HALF_ULP


def test_table_ii_kappa_follows_from_precision_recall_and_oa():
    for row in paper.table_ii().itertuples():
        low, high = _kappa_rounding_range(row.precision, row.recall, row.oa)
        assert low <= row.kappa <= high, row.threshold


def test_table_iii_kappa_follows_from_precision_recall_and_oa_except_documented_rows():
    # 0.1 kappa points of slack on top of rounding: a few rows miss by 0.02-0.07, which the
    # paper's own rounding chain may explain; the documented rows miss by 0.15 or more.
    inconsistent = set()
    for row in paper.table_iii().itertuples():
        low, high = _kappa_rounding_range(row.precision, row.recall, row.oa)
        if not low - 0.1 <= row.kappa <= high + 0.1:
            inconsistent.add((row.scene, row.method))
    assert inconsistent == set(paper.TABLE_III_KAPPA_INCONSISTENT)


def test_table_iii_glaciernet_testing_3_kappa_fits_the_oa_drop_quoted_in_the_text():
    row = paper.table_iii().set_index(["scene", "method"]).loc[("testing_3", "glaciernet")]
    oa_from_text = 96.39 - 1.09  # scene-1 OA minus the drop quoted in §III-C
    kappa = _kappa_from_precision_recall_oa(row["precision"], row["recall"], oa_from_text)
    assert kappa == pytest.approx(row["kappa"], abs=0.05)


def test_table_iii_f1_drops_match_section_iii_c():
    table = paper.table_iii().set_index(["scene", "method"])["f1"]
    quoted = {"unet": 24.84, "glaciernet": 21.50, "landsnet": 19.88, "unet_cse": 17.76,
              "saunet": 17.54, "unetpp": 17.51, "band_ratio": 16.68, "m_landsnet": 15.53}
    for method, drop in quoted.items():
        assert table[("scene_1", method)] - table[("testing_3", method)] == pytest.approx(drop, abs=1e-9)


def test_wide_table_iii_has_the_paper_layout():
    wide = paper.wide_table_iii()
    assert wide.shape == (32, 5)
    assert wide.loc[("Testing area 3", "M-LandsNet"), "F1 (%)"] == 80.48
    assert list(wide.columns) == [paper.METRIC_LABELS[m] for m in METRIC_NAMES]


# --------------------------------------------------------------------------------------------
# Table IV
# --------------------------------------------------------------------------------------------
def test_table_iv_covers_13_scenes_in_each_of_12_periods():
    cells = paper.table_iv_cells()
    assert len(cells) == 13 * 12
    images = paper.table_iv()
    covered = images.groupby("period")["wrs2"].nunique()
    assert covered.reindex(config.PERIOD_LABELS).tolist() == [13] * 12
    assert set(images["wrs2"]) == set(config.WRS2_IDS)
    assert paper.wide_table_iv().shape == (12, 13)


def test_table_iv_spot_cells():
    images = paper.table_iv().set_index(["period", "wrs2", "image"])
    first = images.loc[("1986–1988", "137037", 1)]
    assert first["date"] == pd.Timestamp("1987-06-24") and first["cloud_cover"] == 46.0
    third = images.loc[("1986–1988", "137037", 3)]
    assert third["date"] == pd.Timestamp("1988-10-16") and third["cloud_cover"] == 2.0
    oli = images.loc[("2019–2021", "135038", 2)]
    assert oli["date"] == pd.Timestamp("2021-08-10") and oli["cloud_cover"] == 65.96
    assert oli["sensor"] == "OLI"
    assert images.loc[("1998–2000", "133036", 3), "date"] == pd.Timestamp("2000-07-01")
    assert images.loc[("2013–2015", "134037", 1), "cloud_cover"] == 0.04


def test_table_iv_keeps_illegible_tokens_as_missing_values_with_a_note():
    images = paper.table_iv().set_index(["period", "wrs2", "image"])
    lost_date = images.loc[("1986–1988", "135037", 2)]
    assert pd.isna(lost_date["date"]) and lost_date["cloud_cover"] == 4.0
    assert "date" in lost_date["note"]
    lost_cloud = images.loc[("2016–2018", "135038", 2)]
    assert lost_cloud["date"] == pd.Timestamp("2017-09-16") and np.isnan(lost_cloud["cloud_cover"])
    assert "cloud cover" in lost_cloud["note"]
    trailing = images.loc[("2013–2015", "138037", 2)]  # printed "20130809 (20.92%)/"
    assert pd.isna(trailing["date"]) and np.isnan(trailing["cloud_cover"])


def test_table_iv_dates_lie_in_their_period_except_the_underlined_image():
    images = paper.table_iv().dropna(subset=["date"])
    first = images["period_index"].map(lambda i: config.PERIODS[i][0])
    last = images["period_index"].map(lambda i: config.PERIODS[i][1])
    outside = images[(images["date"].dt.year < first) | (images["date"].dt.year > last)]
    assert [(r.period, r.wrs2, r.date.strftime("%Y-%m-%d")) for r in outside.itertuples()] == [
        paper.TABLE_IV_OUT_OF_PERIOD]
    assert outside["underlined"].all() and images["underlined"].sum() == 1


def test_table_iv_cloud_cover_is_a_percentage():
    clouds = paper.table_iv()["cloud_cover"].dropna()
    assert clouds.between(0, 100).all()


def test_table_iv_off_cycle_dates_are_exactly_the_documented_ones():
    # Landsat revisits a WRS-2 path every 16 days, so all dates of one path and sensor share
    # day-number mod 16; the modal phase per path stands for the true one.
    images = paper.table_iv().dropna(subset=["date"])
    images = images.assign(path=images["wrs2"].str[:3],
                           phase=images["date"].map(lambda d: d.toordinal() % 16))
    modal = images.groupby(["path", "sensor"])["phase"].agg(lambda s: s.mode().iloc[0])
    off = images[[row.phase != modal[(row.path, row.sensor)] for row in images.itertuples()]]
    found = {(r.period, r.wrs2, r.date.strftime("%Y-%m-%d")) for r in off.itertuples()}
    assert found == set(paper.TABLE_IV_OFF_CYCLE_DATES)


def test_table_i_images_reappear_in_table_iv_except_three_scenes():
    table_iv = paper.table_iv()[["wrs2", "date"]].dropna()
    merged = paper.table_i_images().merge(table_iv, on=["wrs2", "date"], how="left", indicator=True)
    missing = merged.loc[merged["_merge"] == "left_only", "wrs2"]
    assert sorted(missing) == ["134037", "136037", "137036"]


def test_parse_cell_rejects_an_unreadable_token():
    with pytest.raises(ValueError, match="cannot read token"):
        paper._parse_cell("20010101 (3.00%)/ 2001x")


# --------------------------------------------------------------------------------------------
# Table V
# --------------------------------------------------------------------------------------------
def test_table_va_spot_cells():
    table = paper.table_va().set_index(["period", "area"])
    first = table.loc[("1986–1988", "total")]
    assert (first["area_km2"], first["uncertainty_km2"]) == (2518.65, 72.69)
    last = table.loc[("2019–2021", "total")]
    assert (last["area_km2"], last["uncertainty_km2"]) == (2102.25, 72.56)
    assert table.loc[("2010–2012", "testing_2"), "uncertainty_km2"] == 48.06
    assert len(table) == 12 * 5
    assert set(table.index.get_level_values("area")) == {"total", *config.AREAS}


def test_table_va_total_is_the_sum_of_the_subareas_in_every_period():
    areas = paper.table_va().pivot(index="period", columns="area", values="area_km2")
    subareas = areas[list(config.AREAS)].sum(axis=1)
    # five rounded numbers: at most 5 half-units apart
    np.testing.assert_allclose(areas["total"], subareas, atol=5 * HALF_ULP + 1e-9)


def test_table_vb_follows_from_table_va_and_eq_6():
    areas = paper.table_va().set_index(["period_index", "area"])
    for row in paper.table_vb().itertuples():
        start, end = config.CHANGE_INTERVALS[row.interval]
        years = int(row.interval[-4:]) - int(row.interval[:4])
        first, last = areas.loc[(start, row.area)], areas.loc[(end, row.area)]
        change = last["area_km2"] - first["area_km2"]
        error = np.hypot(first["uncertainty_km2"], last["uncertainty_km2"])  # Eq. (6)
        expected = {
            "change_km2": change, "change_km2_err": error,
            "change_pct": 100 * change / first["area_km2"],
            "change_pct_err": 100 * error / first["area_km2"],
            "rate_km2_per_a": change / years, "rate_km2_per_a_err": error / years,
            "rate_pct_per_a": 100 * change / first["area_km2"] / years,
            "rate_pct_per_a_err": 100 * error / first["area_km2"] / years,
        }
        for column, value in expected.items():
            assert getattr(row, column) == pytest.approx(value, abs=0.006), (row.interval, row.area, column)


def test_table_vb_spot_cells():
    table = paper.table_vb().set_index(["interval", "area"])
    whole = table.loc[("1986–2021", "total")]
    assert (whole["change_km2"], whole["change_km2_err"]) == (-416.40, 102.71)
    assert (whole["change_pct"], whole["change_pct_err"]) == (-16.53, 4.08)
    assert (whole["rate_km2_per_a"], whole["rate_pct_per_a"]) == (-11.90, -0.47)
    assert table.loc[("2003–2021", "testing_2"), "change_pct_err"] == 56.01
    assert set(table.index.get_level_values("interval")) == set(config.CHANGE_INTERVALS)


def test_wide_tables_v_have_the_paper_layout():
    wide_a = paper.wide_table_va()
    assert wide_a.shape == (12, 5)
    assert wide_a.loc["1986–1988", "THR (km²)"] == "2518.65 ± 72.69"
    wide_b = paper.wide_table_vb()
    assert wide_b.shape == (20, 3)
    assert wide_b.loc[("THR", "Area change (km²)"), "1986–2021"] == "-416.40 ± 102.71"


# --------------------------------------------------------------------------------------------
# Table VI
# --------------------------------------------------------------------------------------------
def test_table_vi_relative_error_is_the_difference_over_the_previous_area():
    table = paper.table_vi()
    relative = 100 * (table["present_km2"] - table["previous_km2"]).abs() / table["previous_km2"]
    np.testing.assert_allclose(table["relative_error_pct"], relative, atol=HALF_ULP + 1e-9)


def test_table_vi_spot_cells_and_references():
    table = paper.table_vi()
    assert len(table) == 14
    assert sorted(table["region"].unique()) == ["a", "b", "c", "d"]
    scgi = table[table["reference"] == "SCGI"].set_index("region")["relative_error_pct"]
    assert scgi.to_dict() == {"a": 1.38, "b": 0.58, "c": 0.03, "d": 0.11}  # as quoted in §IV-B
    assert table["reference_name"].notna().all()
    assert (table["note"] != "").sum() == 1
