"""A study's periods for the time series (glacier_utils.study_periods, issue 15 item 4): intervals, years, labels.

The readers of a study's files (acquisitions, loader, inventory) are tested on the written example study
in tests/test_example_study.py; notebook 05 runs on it end to end in tests/test_study_book.py.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from affine import Affine

from glacier_utils import config, outlines, study_periods, timeseries
from glacier_utils.errors import DataError
from glacier_utils.study import load_study

ALPS_PERIODS = ((1986, 1988), (1998, 2000), (2010, 2012), (2019, 2021))


def test_the_paper_intervals_come_out_of_its_twelve_periods():
    assert study_periods.change_intervals(config.PERIODS) == config.CHANGE_INTERVALS


def test_any_study_gets_first_to_middle_middle_to_last_and_the_whole_span():
    assert study_periods.change_intervals(ALPS_PERIODS) == {"1986–2000": (0, 1), "2000–2021": (1, 3),
                                                            "1986–2021": (0, 3)}
    assert study_periods.change_intervals(((1990, 1992), (2020, 2022))) == {"1990–2022": (0, 1)}
    assert study_periods.change_intervals(((1990, 1992),)) == {}
    annual = [(y, y) for y in range(2000, 2021)]  # more periods than the THR's twelve
    assert study_periods.change_intervals(annual) == {"2000–2010": (0, 10), "2010–2020": (10, 20), "2000–2020": (0, 20)}


def test_mid_years_and_the_period_of_a_date():
    assert study_periods.mid_years(ALPS_PERIODS) == {0: 1987.0, 1: 1999.0, 2: 2011.0, 3: 2020.0}
    assert study_periods.period_of_date(ALPS_PERIODS, "1999-08-01") == 1
    assert study_periods.period_of_date(ALPS_PERIODS, "2005-08-01") is None


def test_the_inventory_period_is_the_nearest_to_its_median_year():
    def dated(*years):
        return gpd.GeoDataFrame({"source_date": pd.to_datetime([f"{y}-08-01" for y in years])},
                                geometry=[shapely.box(0, 0, 1, 1)] * len(years), crs="EPSG:32632")

    assert study_periods.inventory_period(dated(2008, 2008, 2015), ALPS_PERIODS) == (2, 2008)
    assert study_periods.inventory_period(dated(1993), ALPS_PERIODS) == (0, 1993)  # a tie goes to the earlier period
    no_dates = dated(2008).assign(source_date=pd.NaT)
    assert study_periods.inventory_period(no_dates, ALPS_PERIODS) is None


def test_subarea_labels_name_the_whole_study():
    assert study_periods.subarea_labels(load_study("thr")) == {**config.AREA_LABELS, "total": "THR"}


def _areas(periods: int) -> pd.DataFrame:
    rows = [{"period": p, "area": a, "area_km2": 100.0 - 2 * p - (a == "east") * 50, "error_km2": 2.0}
            for p in range(periods) for a in ("west", "east")]
    return pd.DataFrame(rows)


def test_the_time_series_arithmetic_takes_a_study_s_own_periods():
    areas = _areas(4)
    changes = timeseries.change_table(areas, study_periods.change_intervals(ALPS_PERIODS))
    row = changes.query("area == 'west' and interval == '1986–2021'").iloc[0]
    assert (row.change_km2, row.years) == (-6.0, 35.0)
    np.testing.assert_allclose(row.change_error_km2, np.hypot(2, 2))
    trend = timeseries.linear_trend(areas, mid_years=study_periods.mid_years(ALPS_PERIODS)).set_index("area")
    # -2 km² per period over mid-years 1987, 1999, 2011, 2020: not -2/3 km² a-1 as the THR's 3-year steps would give
    expected = np.polyfit([1987, 1999, 2011, 2020], [100, 98, 96, 94], 1)[0]
    np.testing.assert_allclose(trend.loc["west", "slope_km2_per_a"], expected, rtol=1e-6)
    wide = timeseries.format_change_table(changes, labels={"west": "West", "east": "East"})
    assert set(wide.index.get_level_values("area")) == {"West", "East"}
    annual = timeseries.change_table(_areas(20), {"2000–2019": (0, 19)})  # more periods than the THR's
    assert annual.query("area == 'west'").change_km2.item() == -38.0
    with pytest.raises(DataError, match="not an index"):
        timeseries.change_table(areas.assign(period=-1))


def test_outline_layers_are_named_by_the_study_s_periods(tmp_path):
    mask = np.zeros((10, 10), np.uint8)
    mask[1:7, 1:7] = 1  # 0.032 km², above the RGI minimum
    grid = {"transform": Affine(30.0, 0, 400_000.0, 0, -30.0, 5_100_000.0), "crs": "EPSG:32632"}
    layer = outlines.period_outlines(mask, 1, area="west", periods=ALPS_PERIODS, **grid)
    assert set(layer["period_label"]) == {"1998–2000"}
    path = outlines.write_outlines_gpkg({1: layer}, tmp_path / "alps.gpkg", periods=ALPS_PERIODS)
    assert [name for name, _ in pyogrio.list_layers(path)] == ["outlines_1998_2000"]
    assert outlines.period_label(1) == "1989–1991"  # the THR's periods by default
    with pytest.raises(ValueError, match="0..3"):
        outlines.period_outlines(mask, 4, periods=ALPS_PERIODS, **grid)


def test_the_simulated_study_lists_its_archive_itself_not_files():
    with pytest.raises(DataError, match="has source 'synthetic'.*synthetic.period_acquisitions"):
        study_periods.StudyLoader("thr", "EPSG:32646")
    with pytest.raises(DataError, match="has source 'synthetic'"):
        study_periods.study_acquisitions("thr", 0, "EPSG:32646")


def test_a_stac_study_says_why_its_periods_are_not_mapped():
    assert load_study("thr").time_series_note() == ""
    stac = dataclasses.replace(load_study("thr"), source="stac", name="himalaya")
    assert stac.time_series_note().startswith("study 'himalaya' searches a STAC catalogue for its training images only")
