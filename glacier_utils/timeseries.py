"""The time-series arithmetic of Table V(b): area changes, rates, their errors (Eq. 6), trends.

Input everywhere is a long table of areas, one row per (period, area): ``period`` (index into
``config.PERIODS``, or its label such as "1986–1988"), ``area`` (subarea key, e.g. "training"
or "total"), ``area_km2`` and ``error_km2`` (the buffer uncertainty, see
:mod:`glacier_utils.outlines`; :func:`glacier_utils.outlines.area_summary` makes this table).

Conventions, checked against the paper's own Table V(b):
- change ΔA = A2 − A1 with error ε = sqrt(e1² + e2²) (paper Eq. 6, after Hall et al. 2003);
- relative change and its error are taken against the first area: 100 ΔA / A1 ± 100 ε / A1;
- rates divide change and error by the interval's length in years. The paper names each interval
  by years ("1986–2003") and divides by their difference: 17, 18 and 35 years
  (``years="paper"``, the default: −126.11/17 = −7.42 km² a⁻¹ as printed). ``years="mid"`` uses
  the distance between the two periods' mid-years instead (15, 18, 33 years).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from glacier_utils import config
from glacier_utils.errors import DataError

AREA_COLUMNS = ("period", "area", "area_km2", "error_km2")
YEAR_CONVENTIONS = ("paper", "mid")


def period_mid_year(period: int) -> float:
    """Middle year of a period: 1987.0 for 1986–1988 (period 0)."""
    first, last = config.PERIODS[int(period)]
    return (first + last) / 2.0


def interval_years(label: str, start: int, end: int, years: str = "paper") -> float:
    """Length in years of a change interval (see the module docstring for the two conventions)."""
    if years not in YEAR_CONVENTIONS:
        raise ValueError(f"years={years!r}: choose one of {', '.join(YEAR_CONVENTIONS)}")
    if years == "paper":
        found = re.fullmatch(r"\s*(\d{4})\s*[–—-]\s*(\d{4})\s*", str(label))
        if found:
            return float(int(found.group(2)) - int(found.group(1)))
        raise ValueError(f"interval {label!r}: the paper convention needs a 'YYYY–YYYY' label; use years='mid'")
    return period_mid_year(end) - period_mid_year(start)


def _period_index(value) -> int:
    if isinstance(value, str):
        if value in config.PERIOD_LABELS:
            return config.PERIOD_LABELS.index(value)
        if value.replace("-", "–") in config.PERIOD_LABELS:
            return config.PERIOD_LABELS.index(value.replace("-", "–"))
        raise DataError(f"areas: unknown period label {value!r}; expected one of {config.PERIOD_LABELS}")
    index = int(value)
    if index < 0:  # any study's periods: the index is checked where its years are looked up
        raise DataError(f"areas: period {value!r} is not an index 0, 1, …")
    return index


def validate_areas(areas: pd.DataFrame, name: str = "areas", need_error: bool = True) -> pd.DataFrame:
    """The long area table with integer periods, checked for missing columns and duplicate rows."""
    needed = AREA_COLUMNS if need_error else AREA_COLUMNS[:3]
    missing = [c for c in needed if c not in areas]
    if missing:
        raise DataError(f"{name}: missing column(s) {missing}; expected {list(needed)}")
    out = areas[list(needed)].copy()
    out["period"] = [_period_index(p) for p in out["period"]]
    duplicated = out.duplicated(["period", "area"])
    if duplicated.any():
        rows = out.loc[duplicated, ["period", "area"]].values.tolist()
        raise DataError(f"{name}: more than one row for (period, area) {rows}")
    return out


def change_table(
    areas: pd.DataFrame,
    intervals: Mapping[str, tuple[int, int]] = config.CHANGE_INTERVALS,
    *,
    years: str = "paper",
) -> pd.DataFrame:
    """Table V(b) in long form: per (area, interval) the change in km² and %, rates, and their errors.

    Columns: area, interval, start_period, end_period, years, area_start_km2, area_end_km2,
    change_km2, change_error_km2 (Eq. 6), change_pct, change_pct_error, rate_km2_per_a,
    rate_error_km2_per_a, rate_pct_per_a, rate_pct_error_per_a. An interval whose end period is
    missing for an area gives a row of NaN rather than no row.
    """
    table = validate_areas(areas).set_index(["area", "period"]).sort_index()
    rows = []
    for area in table.index.get_level_values("area").unique():
        for label, (start, end) in intervals.items():
            n_years = interval_years(label, start, end, years)
            a1, e1 = _lookup(table, area, start)
            a2, e2 = _lookup(table, area, end)
            change = a2 - a1
            error = float(np.hypot(e1, e2))  # Eq. 6
            pct, pct_error = 100.0 * change / a1, 100.0 * error / a1
            rows.append({
                "area": area, "interval": label, "start_period": start, "end_period": end,
                "years": n_years, "area_start_km2": a1, "area_end_km2": a2,
                "change_km2": change, "change_error_km2": error,
                "change_pct": pct, "change_pct_error": pct_error,
                "rate_km2_per_a": change / n_years, "rate_error_km2_per_a": error / n_years,
                "rate_pct_per_a": pct / n_years, "rate_pct_error_per_a": pct_error / n_years,
            })
    return pd.DataFrame(rows)


def _lookup(table: pd.DataFrame, area, period: int) -> tuple[float, float]:
    try:
        row = table.loc[(area, period)]
    except KeyError:
        return np.nan, np.nan
    return float(row["area_km2"]), float(row["error_km2"])


def format_change_table(changes: pd.DataFrame, decimals: int = 2, labels: Mapping[str, str] | None = None
                        ) -> pd.DataFrame:
    """Table V(b) as printed: rows (area, quantity, unit), one column per interval, 'value ± error'.

    ``labels``: area key -> row label (default the THR's subareas, and "THR" for the total).
    """
    labels = {**config.AREA_LABELS, "total": "THR"} if labels is None else labels
    quantities = [
        ("Area change", "km²", "change_km2", "change_error_km2"),
        ("Area change", "%", "change_pct", "change_pct_error"),
        ("Area change rate", "km² a⁻¹", "rate_km2_per_a", "rate_error_km2_per_a"),
        ("Area change rate", "% a⁻¹", "rate_pct_per_a", "rate_pct_error_per_a"),
    ]
    records = []
    for _, row in changes.iterrows():
        for quantity, unit, value, error in quantities:
            label = labels.get(row["area"], row["area"])
            records.append({"area": label, "quantity": quantity, "unit": unit, "interval": row["interval"],
                            "value": f"{row[value]:.{decimals}f} ± {row[error]:.{decimals}f}"})
    wide = pd.DataFrame(records).pivot_table(index=["area", "quantity", "unit"], columns="interval",
                                            values="value", aggfunc="first", sort=False)
    wide.columns.name = None
    return wide[list(dict.fromkeys(changes["interval"]))]


def linear_trend(areas: pd.DataFrame, *, weighted: bool = True, absolute_sigma: bool = False,
                 mid_years: Mapping[int, float] | None = None) -> pd.DataFrame:
    """Least-squares line through area vs period mid-year, per area (the dashed lines of Fig. 9).

    ``weighted``: weights 1/error² (numpy.polyfit with w = 1/error). The slope's standard error
    comes from the scatter about the line (``absolute_sigma=False``: the stated errors only weigh
    the points, they are largely systematic and shared between periods) or from the stated errors
    alone (``absolute_sigma=True``). Columns: area, n_periods, slope_km2_per_a, slope_error_km2_per_a,
    intercept_km2 (the fitted area at the first period's mid-year), slope_pct_per_a (relative to it).
    ``mid_years``: period index -> middle year for a study's own periods (default the THR's).
    """
    middle = mid_years or {p: period_mid_year(p) for p in range(len(config.PERIODS))}
    table = validate_areas(areas, need_error=weighted)
    rows = []
    for area, group in table.groupby("area", sort=False):
        group = group.sort_values("period")
        x = np.array([middle[p] for p in group["period"]]) - middle[group["period"].iloc[0]]
        y = group["area_km2"].to_numpy(float)
        if len(y) < 3:
            raise DataError(f"linear_trend: area {area!r} has {len(y)} period(s); a trend with an error needs 3")
        w = 1.0 / group["error_km2"].to_numpy(float) if weighted else None
        if w is not None and not np.all(np.isfinite(w) & (w > 0)):
            raise DataError(f"linear_trend: area {area!r} has zero or missing errors; use weighted=False")
        (slope, intercept), cov = np.polyfit(x, y, 1, w=w, cov="unscaled" if absolute_sigma else True)
        rows.append({"area": area, "n_periods": len(y), "slope_km2_per_a": slope,
                     "slope_error_km2_per_a": float(np.sqrt(cov[0, 0])), "intercept_km2": intercept,
                     "slope_pct_per_a": 100.0 * slope / intercept})
    return pd.DataFrame(rows)


def truth_check(
    areas: pd.DataFrame,
    true_areas: pd.DataFrame,
    intervals: Mapping[str, tuple[int, int]] = config.CHANGE_INTERVALS,
    *,
    k: float = 1.0,
    years: str = "paper",
) -> pd.DataFrame:
    """Does each true area change lie within k x the stated change uncertainty (Eq. 6)? One row per (area, interval).

    ``true_areas``: the same long table (period, area, area_km2), e.g. the simulator's true areas.
    Columns: area, interval, change_km2, change_error_km2, true_change_km2, difference_km2,
    z (difference / error), within (|difference| <= k x error).
    """
    truth = validate_areas(true_areas, "true_areas", need_error=False)
    truth["error_km2"] = 0.0
    estimated = change_table(areas, intervals, years=years)
    true_changes = change_table(truth, intervals, years=years)[["area", "interval", "change_km2"]]
    merged = estimated.merge(true_changes.rename(columns={"change_km2": "true_change_km2"}),
                             on=["area", "interval"], how="left")
    merged["difference_km2"] = merged["change_km2"] - merged["true_change_km2"]
    merged["z"] = merged["difference_km2"] / merged["change_error_km2"]
    merged["within"] = merged["difference_km2"].abs() <= k * merged["change_error_km2"]
    return merged[["area", "interval", "change_km2", "change_error_km2", "true_change_km2",
                   "difference_km2", "z", "within"]]


# ----------------------------------------------------------------------------------------------
# Honest uncertainty: the buffer, the spread between acquisitions, the unmapped area, the floor
# ----------------------------------------------------------------------------------------------
#: Columns an area table needs for the stated uncertainty (`glacier_utils.period_mapping.period_areas`).
UNCERTAINTY_COLUMNS = ("error_km2", "spread_km2", "unmapped_ice_km2")


def stated_uncertainty(areas: pd.DataFrame) -> pd.Series:
    """Per row: sqrt(buffer² + bootstrap spread²) + gap-fill error + the unmapped area that could be ice (km²).

    The 15 m buffer (§II-H) bounds where an outline can lie; the spread between acquisitions
    (a bootstrap over them) is how much the choice of images moves the area; pixels filled from
    another period's view (`glacier_utils.gap_filling`) add the area expected to be filled wrongly
    (``gap_error_km2``, where the table has it); unmapped pixels near the reference glaciers may
    hold ice that no clear view of any period saw, and as nothing is known of them they add in
    full (a bound, not a standard error).
    """
    missing = [c for c in UNCERTAINTY_COLUMNS if c not in areas]
    if missing:
        raise DataError(f"areas: missing column(s) {missing} for the stated uncertainty; "
                        "make the table with glacier_utils.period_mapping.period_areas")
    gap = areas["gap_error_km2"] if "gap_error_km2" in areas else 0.0
    return np.hypot(areas["error_km2"], areas["spread_km2"]) + gap + areas["unmapped_ice_km2"]


def with_stated_error(areas: pd.DataFrame) -> pd.DataFrame:
    """The area table with ``error_km2`` replaced by the stated uncertainty (the paper's buffer kept as ``buffer_km2``)."""
    return areas.assign(buffer_km2=areas["error_km2"], error_km2=stated_uncertainty(areas))


def bias_table(areas: pd.DataFrame, true_areas: pd.DataFrame, floor: pd.DataFrame) -> pd.DataFrame:
    """Mapped minus true area per (period, area), beside both uncertainties and the floor.

    ``areas``: `period_mapping.period_areas` rows; ``true_areas``: the truth (period, area,
    area_km2); ``floor``: the same uncertainty method on the true outlines (period, area,
    error_km2: their 15 m buffer; their spread and unmapped area are zero). Columns: period,
    area, area_km2, true_km2, bias_km2, bias_pct, buffer_km2, spread_km2, unmapped_km2,
    stated_km2, floor_km2, within (|bias| <= stated), width_ratio (stated / floor).
    """
    truth = validate_areas(true_areas, "true_areas", need_error=False).rename(columns={"area_km2": "true_km2"})
    base = validate_areas(floor, "floor").rename(columns={"error_km2": "floor_km2"})[["period", "area", "floor_km2"]]
    ours = areas.copy()
    ours["period"] = [_period_index(p) for p in ours["period"]]
    table = ours.merge(truth, on=["period", "area"], how="left").merge(base, on=["period", "area"], how="left")
    table["bias_km2"] = table["area_km2"] - table["true_km2"]
    table["bias_pct"] = 100.0 * table["bias_km2"] / table["true_km2"]
    table["buffer_km2"] = table["error_km2"]
    table["stated_km2"] = stated_uncertainty(table)
    table["within"] = table["bias_km2"].abs() <= table["stated_km2"]
    table["width_ratio"] = table["stated_km2"] / table["floor_km2"]
    return table[["period", "area", "area_km2", "true_km2", "bias_km2", "bias_pct", "buffer_km2", "spread_km2",
                  "unmapped_km2", "stated_km2", "floor_km2", "within", "width_ratio"]]


def change_check(areas: pd.DataFrame, true_areas: pd.DataFrame, floor: pd.DataFrame,
                 intervals: Mapping[str, tuple[int, int]] = config.CHANGE_INTERVALS, *,
                 max_ratio: float = 1.25, years: str = "paper") -> pd.DataFrame:
    """The truth check of every change with the stated uncertainty, and its width against the floor's (Eq. 6).

    One row per (area, interval): change_pct, true_change_pct, error_pct (stated, Eq. 6),
    floor_error_pct (the floor through Eq. 6), within (the true change lies inside ± the stated
    error), width_ratio (stated / floor error) and narrow (width_ratio <= ``max_ratio``).
    """
    stated = with_stated_error(areas)
    check = truth_check(stated, true_areas, intervals, years=years)
    ours = change_table(stated, intervals, years=years)
    base = change_table(floor, intervals, years=years)[["area", "interval", "change_error_km2"]]
    table = check.merge(ours[["area", "interval", "area_start_km2", "change_pct", "change_pct_error"]],
                        on=["area", "interval"]).merge(base.rename(columns={"change_error_km2": "floor_error_km2"}),
                                                       on=["area", "interval"], how="left")
    truth = validate_areas(true_areas, "true_areas", need_error=False).assign(error_km2=0.0)
    true_start = change_table(truth, intervals, years=years)[["area", "interval", "change_pct"]]
    table = table.merge(true_start.rename(columns={"change_pct": "true_change_pct"}), on=["area", "interval"], how="left")
    table["floor_error_pct"] = 100.0 * table["floor_error_km2"] / table["area_start_km2"]
    table["width_ratio"] = table["change_error_km2"] / table["floor_error_km2"]
    table["narrow"] = table["width_ratio"] <= max_ratio
    return table.rename(columns={"change_pct_error": "error_pct"})[
        ["area", "interval", "change_pct", "true_change_pct", "error_pct", "floor_error_pct", "change_km2",
         "true_change_km2", "change_error_km2", "floor_error_km2", "within", "width_ratio", "narrow"]]


def relative_error_pct(present_km2, previous_km2):
    """Table VI's relative error: |present − previous| / previous x 100."""
    present, previous = np.asarray(present_km2, float), np.asarray(previous_km2, float)
    return 100.0 * np.abs(present - previous) / previous


__all__ = [
    "period_mid_year", "interval_years", "validate_areas", "change_table", "format_change_table",
    "linear_trend", "truth_check", "relative_error_pct", "UNCERTAINTY_COLUMNS", "stated_uncertainty",
    "with_stated_error", "bias_table", "change_check",
]
