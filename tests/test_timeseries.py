"""Time-series arithmetic: the paper's Table V(b) from its Table V(a), trends, and the truth check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glacier_utils import config, timeseries
from glacier_utils.errors import DataError

# Table V(a) of Chen et al. 2022, the rows the change intervals need: period -> area -> (km², ± km²).
TABLE_VA = {
    0: {"total": (2518.65, 72.69), "training": (1405.86, 37.77), "testing_1": (713.48, 13.92),
        "testing_2": (119.33, 41.05), "testing_3": (279.98, 16.90)},
    5: {"total": (2392.54, 70.80), "training": (1348.26, 36.92), "testing_1": (693.87, 13.46),
        "testing_2": (111.63, 43.06), "testing_3": (238.78, 16.11)},
    11: {"total": (2102.25, 72.56), "training": (1173.83, 38.70), "testing_1": (661.20, 14.28),
         "testing_2": (91.05, 45.33), "testing_3": (176.15, 15.05)},
}
# Table V(b): area -> interval -> [(change km², ±), (%, ±), (km² a⁻¹, ±), (% a⁻¹, ±)].
TABLE_VB = {
    "total": {"1986–2003": [(-126.11, 101.47), (-5.01, 4.03), (-7.42, 5.97), (-0.29, 0.24)],
              "2003–2021": [(-290.29, 101.38), (-12.13, 4.24), (-16.13, 5.63), (-0.67, 0.24)],
              "1986–2021": [(-416.4, 102.71), (-16.53, 4.08), (-11.90, 2.93), (-0.47, 0.12)]},
    "training": {"1986–2003": [(-57.6, 52.82), (-4.10, 3.76), (-3.39, 3.11), (-0.24, 0.22)],
                 "2003–2021": [(-174.43, 53.49), (-12.94, 3.97), (-9.69, 2.97), (-0.72, 0.22)],
                 "1986–2021": [(-232.03, 54.08), (-16.50, 3.85), (-6.63, 1.55), (-0.47, 0.11)]},
    "testing_1": {"1986–2003": [(-19.61, 19.36), (-2.75, 2.71), (-1.15, 1.14), (-0.16, 0.16)],
                  "2003–2021": [(-32.67, 19.62), (-4.71, 2.83), (-1.82, 1.09), (-0.26, 0.16)],
                  "1986–2021": [(-52.28, 19.94), (-7.33, 2.80), (-1.49, 0.57), (-0.21, 0.08)]},
    "testing_2": {"1986–2003": [(-7.70, 59.49), (-6.45, 49.85), (-0.45, 3.50), (-0.38, 2.93)],
                  "2003–2021": [(-20.58, 62.52), (-18.44, 56.01), (-1.14, 3.47), (-1.02, 3.11)],
                  "1986–2021": [(-28.28, 61.15), (-23.70, 51.25), (-0.81, 1.75), (-0.68, 1.46)]},
    "testing_3": {"1986–2003": [(-41.20, 23.35), (-14.72, 8.34), (-2.42, 1.37), (-0.87, 0.49)],
                  "2003–2021": [(-62.63, 22.05), (-26.23, 9.23), (-3.48, 1.22), (-1.46, 0.51)],
                  "1986–2021": [(-103.83, 22.63), (-37.08, 8.08), (-2.97, 0.65), (-1.06, 0.23)]},
}
COLUMNS = [("change_km2", "change_error_km2"), ("change_pct", "change_pct_error"),
           ("rate_km2_per_a", "rate_error_km2_per_a"), ("rate_pct_per_a", "rate_pct_error_per_a")]


def paper_areas() -> pd.DataFrame:
    return pd.DataFrame([{"period": p, "area": a, "area_km2": v, "error_km2": e}
                         for p, row in TABLE_VA.items() for a, (v, e) in row.items()])


def test_changes_rates_and_eq6_errors_reproduce_the_papers_table_vb():
    changes = timeseries.change_table(paper_areas()).set_index(["area", "interval"])
    assert len(changes) == 15
    for area, intervals in TABLE_VB.items():
        for interval, printed in intervals.items():
            row = changes.loc[(area, interval)]
            for (value_col, error_col), (value, error) in zip(COLUMNS, printed):
                # Printed to 2 decimals from rounded inputs: agree within rounding.
                assert row[value_col] == pytest.approx(value, abs=0.011), (area, interval, value_col)
                assert row[error_col] == pytest.approx(error, abs=0.011), (area, interval, error_col)


def test_total_1986_2021_matches_the_worked_example():
    row = timeseries.change_table(paper_areas()).set_index(["area", "interval"]).loc[("total", "1986–2021")]
    assert row.change_km2 == pytest.approx(2102.25 - 2518.65)
    assert row.change_error_km2 == pytest.approx(np.sqrt(72.69**2 + 72.56**2))
    assert row.change_pct_error == pytest.approx(100 * np.sqrt(72.69**2 + 72.56**2) / 2518.65)
    assert row.years == 35 and row.rate_km2_per_a == pytest.approx(-416.40 / 35)


def test_year_conventions():
    assert [timeseries.interval_years(k, *v) for k, v in config.CHANGE_INTERVALS.items()] == [17, 18, 35]
    assert [timeseries.interval_years(k, *v, years="mid") for k, v in config.CHANGE_INTERVALS.items()] == [15, 18, 33]


def test_formatted_table_has_the_papers_layout():
    wide = timeseries.format_change_table(timeseries.change_table(paper_areas()))
    assert list(wide.columns) == list(config.CHANGE_INTERVALS)
    assert wide.loc[("THR", "Area change", "km²"), "1986–2021"] == "-416.40 ± 102.71"
    assert wide.loc[("Testing area 3", "Area change rate", "% a⁻¹"), "2003–2021"] == "-1.46 ± 0.51"


def test_trend_recovers_the_slope_of_synthetic_linear_areas():
    rng = np.random.default_rng(0)
    years = np.array([timeseries.period_mid_year(p) for p in range(12)])
    truth = 2500.0 - 11.9 * (years - years[0])
    exact = pd.DataFrame({"period": range(12), "area": "total", "area_km2": truth, "error_km2": 70.0})
    fit = timeseries.linear_trend(exact).iloc[0]
    assert fit.slope_km2_per_a == pytest.approx(-11.9, abs=1e-9)
    assert fit.intercept_km2 == pytest.approx(2500.0)
    noisy = exact.assign(area_km2=truth + rng.normal(0, 5.0, 12), error_km2=rng.uniform(60, 80, 12))
    fit = timeseries.linear_trend(noisy).iloc[0]
    # Independent check of the standard error: ordinary formula for a weighted straight line.
    w = 1 / noisy.error_km2.to_numpy() ** 2
    x, y = years - years[0], noisy.area_km2.to_numpy()
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    slope = np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2)
    resid = y - (ym + slope * (x - xm))
    se = np.sqrt(np.sum(w * resid**2) / (len(x) - 2) / np.sum(w * (x - xm) ** 2))
    assert fit.slope_km2_per_a == pytest.approx(slope, rel=1e-9)
    assert fit.slope_error_km2_per_a == pytest.approx(se, rel=1e-6)
    assert abs(fit.slope_km2_per_a + 11.9) < 3 * fit.slope_error_km2_per_a


def test_truth_check_flags_changes_outside_the_stated_uncertainty():
    estimated = paper_areas()
    true = estimated.drop(columns="error_km2").copy()
    true.loc[(true.period == 11) & (true.area == "testing_1"), "area_km2"] -= 25.0  # beyond ±19.94
    true.loc[(true.period == 11) & (true.area == "training"), "area_km2"] += 50.0   # within ±54.08
    check = timeseries.truth_check(estimated, true).set_index(["area", "interval"])
    assert not check.loc[("testing_1", "1986–2021"), "within"]
    assert check.loc[("testing_1", "1986–2021"), "difference_km2"] == pytest.approx(25.0)
    assert check.loc[("training", "1986–2021"), "within"]
    assert check.loc[("total", "1986–2003"), "true_change_km2"] == pytest.approx(-126.11)
    assert check.drop(index=[("testing_1", "1986–2021"), ("testing_1", "2003–2021")])["within"].all()


def test_table_vi_relative_error():
    # Table VI (a): previous 109.21, 102.80, 99.34 km²; present 112.45, 107.00, 96.59 km².
    np.testing.assert_allclose(timeseries.relative_error_pct([112.45, 107.00, 96.59], [109.21, 102.80, 99.34]),
                               [2.97, 4.09, 2.77], atol=0.006)


def test_bad_area_tables_are_refused_with_the_reason():
    with pytest.raises(DataError, match="missing column"):
        timeseries.change_table(paper_areas().drop(columns="error_km2"))
    with pytest.raises(DataError, match="more than one row"):
        timeseries.change_table(pd.concat([paper_areas(), paper_areas().iloc[:1]]))
    with pytest.raises(DataError, match="period"):
        timeseries.change_table(paper_areas().assign(period=99))
    labelled = paper_areas().assign(period=lambda d: [config.PERIOD_LABELS[p] for p in d.period])
    pd.testing.assert_frame_equal(timeseries.change_table(labelled), timeseries.change_table(paper_areas()))
