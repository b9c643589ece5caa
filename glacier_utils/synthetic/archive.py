"""The simulated Landsat archive: every summer acquisition of a frame in a period, as metadata.

A real archive holds a dozen or more summer scenes per WRS-2 frame and three-year period, of
which the paper combined the less cloudy and less snowy ones (§III-D, Table IV). This module lists
them without simulating a pixel:

* dates: each WRS-2 path is imaged every `WRS2_REPEAT_DAYS` days on a fixed phase of the cycle,
  here taken from a real acquisition of the path (`CYCLE_ANCHORS`, the paper's Table I images);
  neighbouring paths lie `WRS2_PATH_STEP_DAYS` days apart on the cycle, and every Table I date and
  every Table IV date but the seven misprints of `paper.TABLE_IV_OFF_CYCLE_DATES` falls on it;
* sensors: Landsat 5 TM up to `LAST_TM_YEAR` (it stopped imaging in November 2011), Landsat 8 OLI
  from `config.FIRST_OLI_YEAR` (same WRS-2 phase), nothing in 2012;
* season: the summer windows `ARCHIVE_MONTHS` (July-October) of the period's years;
* cloud cover: a seeded draw per acquisition from the area's summer cloud climate
  (`ARCHIVE_CLOUD`: fair-weather and disturbed days, their mix shifted per month by
  `MONTH_FAIR_LOGIT`, as the monsoon clouds July and August more than September and October):
  mostly clear scenes with a long tail up to unusable, overcast ones; testing area 3 cloudiest.
  Frames of one path imaged on the same day share part of their weather
  (`SAME_PATH_CORRELATION`). Table I's images keep the cloud cover the paper gives them.

`period_acquisitions` returns the listing (one row per acquisition, the columns of
`glacier_utils.io.stac.items_table` where they exist); `select_acquisitions` picks one
acquisition per frame and period from that listing alone. ``simulate_scene(region, wrs2, date)``
simulates any listed acquisition with its listed cloud cover (its default cloud cover is the
archive's). The truth depends only on the period, never on the date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math

import numpy as np
import pandas as pd
from scipy import special, stats

from glacier_utils import config
from glacier_utils.synthetic.climate import AREA3_CLOUD_COVER, TABLE_I_ACQUISITIONS
from glacier_utils.synthetic.level1 import collection2_product_id
from glacier_utils.synthetic.region import SyntheticRegion, _check_period, _parse_wrs2, _seed_from, _validate_date

#: Days between two acquisitions of one WRS-2 path by one satellite.
WRS2_REPEAT_DAYS = 16
#: Days (mod 16) from path p to path p + 1 on the WRS-2 cycle (checked on Table I and IV dates).
WRS2_PATH_STEP_DAYS = 7
#: A real acquisition per WRS-2 path (the earliest Table I image of any of its frames): the cycle phase.
CYCLE_ANCHORS: dict[int, dt.date] = {
    path: min(dt.date.fromisoformat(d) for w, images in TABLE_I_ACQUISITIONS.items() if int(w[:3]) == path
              for d, _ in images)
    for path in sorted({int(w[:3]) for w in config.WRS2_IDS})
}
#: Last year of Landsat 5 TM imaging (no TM or OLI images in 2012; OLI from config.FIRST_OLI_YEAR).
LAST_TM_YEAR = 2011
#: Months of the summer archive windows (July-October: the ablation season's end and the weeks around it).
ARCHIVE_MONTHS: tuple[int, ...] = (7, 8, 9, 10)
#: (month, day) an analyst takes as the end of the ablation season on the Tibetan Plateau: least
#: seasonal snow, before autumn snowfall (late August to early September).
ABLATION_SEASON_END: tuple[int, int] = (8, 31)

@dataclasses.dataclass(frozen=True)
class ArchiveCloudClimate:
    """An area's scene cloud cover over the summer archive: a mix of fair-weather and disturbed days."""

    #: Share of fair-weather scenes over July-October (shifted per month by `MONTH_FAIR_LOGIT`).
    fair_share: float
    #: Beta(a, b) of the cloud fraction of a fair-weather scene (a few per cent: convective cloud on the massifs).
    fair_beta: tuple[float, float]
    #: Beta(a, b) of a disturbed scene (monsoon systems: mostly cloudy, up to overcast).
    disturbed_beta: tuple[float, float] = (1.6, 1.0)


#: The cloud climate of each area's archive. Chosen so that the archive is mostly clear with a long
#: tail of unusable scenes (14-16 % above 60 % cloud in the west, 23 % in testing area 2, 31 % in
#: testing area 3), and that the least cloudy scene of a frame and period has about the cloud cover
#: of the paper's Table IV picks (median 1-2 % in the west, 3 % in testing area 2, 5-6 % in area 3).
ARCHIVE_CLOUD: dict[str, ArchiveCloudClimate] = {
    "training": ArchiveCloudClimate(0.72, (2.0, 18.0)),
    "testing_1": ArchiveCloudClimate(0.75, (1.8, 20.0)),
    "testing_2": ArchiveCloudClimate(0.60, (2.0, 12.0)),
    "testing_3": ArchiveCloudClimate(0.45, (2.2, 9.0)),
}
#: Shift of the log-odds of a fair-weather scene per month: the summer monsoon clouds July and
#: August most; September and October, and the dry season, are clearer.
MONTH_FAIR_LOGIT: dict[int, float] = {1: 1.0, 2: 1.0, 3: 0.8, 4: 0.6, 5: 0.4, 6: -0.2,
                                      7: -0.35, 8: -0.25, 9: 0.25, 10: 0.5, 11: 0.9, 12: 1.0}
#: Correlation of the cloud draws of two frames of one path imaged on the same day (same weather).
SAME_PATH_CORRELATION = 0.6
#: Columns of the archive listing (`period_acquisitions`).
ARCHIVE_COLUMNS: tuple[str, ...] = ("id", "date", "wrs2", "path", "row", "area", "sensor", "period",
                                    "cloud_cover", "day_of_year")


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------
def cycle_phase(path: int) -> int:
    """Day of the 16-day WRS-2 cycle (proleptic ordinal mod 16) on which a path is imaged."""
    if int(path) not in CYCLE_ANCHORS:
        raise ValueError(f"path {path!r}: the study's WRS-2 paths are {', '.join(map(str, CYCLE_ANCHORS))}")
    return CYCLE_ANCHORS[int(path)].toordinal() % WRS2_REPEAT_DAYS


def on_wrs2_cycle(wrs2: str, date: str | dt.date) -> bool:
    """Whether a date falls on the 16-day cycle of the frame's WRS-2 path."""
    path, _ = _parse_wrs2(wrs2)
    return dt.date.fromisoformat(_validate_date(date)).toordinal() % WRS2_REPEAT_DAYS == cycle_phase(path)


def archive_sensor(year: int) -> str | None:
    """The sensor of the archive in a year: 'TM' to 2011, 'OLI' from 2013, None in 2012."""
    if LAST_TM_YEAR < int(year) < config.FIRST_OLI_YEAR:
        return None
    return config.sensor_for_year(int(year))


def archive_dates(wrs2: str, year: int) -> list[dt.date]:
    """The frame's acquisition dates in the summer window (`ARCHIVE_MONTHS`) of a year; [] in 2012."""
    path, _ = _parse_wrs2(wrs2)
    if archive_sensor(year) is None:
        return []
    start = dt.date(int(year), ARCHIVE_MONTHS[0], 1)
    end = dt.date(int(year) + (ARCHIVE_MONTHS[-1] == 12), ARCHIVE_MONTHS[-1] % 12 + 1, 1)
    first = start.toordinal() + (cycle_phase(path) - start.toordinal()) % WRS2_REPEAT_DAYS
    return [dt.date.fromordinal(o) for o in range(first, end.toordinal(), WRS2_REPEAT_DAYS)]


# --------------------------------------------------------------------------------------------
# Cloud cover
# --------------------------------------------------------------------------------------------
_CLOUD_GRID = np.linspace(0.0, 1.0, 4001)


@functools.lru_cache(maxsize=None)
def _cloud_cdf(area: str, month: int) -> np.ndarray:
    """CDF of the area's mixed cloud-fraction law in a month on `_CLOUD_GRID`."""
    c = ARCHIVE_CLOUD[area]
    logit = math.log(c.fair_share / (1.0 - c.fair_share)) + MONTH_FAIR_LOGIT[month]
    w = 1.0 / (1.0 + math.exp(-logit))
    cdf = w * stats.beta.cdf(_CLOUD_GRID, *c.fair_beta) + (1.0 - w) * stats.beta.cdf(_CLOUD_GRID, *c.disturbed_beta)
    cdf.setflags(write=False)
    return cdf


def _cloud_law(seed: int, wrs2: str, dates: list[dt.date]) -> np.ndarray:
    """Cloud cover (%) drawn from the area's cloud climate for a frame's dates (before Table I)."""
    path, area = int(wrs2[:3]), config.area_of_scene(wrs2)
    out = np.empty(len(dates))
    for i, d in enumerate(dates):
        shared = np.random.default_rng(_seed_from("archive-weather", seed, path, d.isoformat())).standard_normal()
        own = np.random.default_rng(_seed_from("archive-cloud", seed, wrs2, d.isoformat())).standard_normal()
        z = SAME_PATH_CORRELATION * shared + math.sqrt(1.0 - SAME_PATH_CORRELATION ** 2) * own
        out[i] = np.interp(special.ndtr(z), _cloud_cdf(area, d.month), _CLOUD_GRID)
    return np.round(100.0 * out, 2)


def _table_i_cloud_cover(wrs2: str, date: str) -> float | None:
    """Table I's cloud cover of an image (area 3 after the paper's text), None for other dates."""
    for d, cc in TABLE_I_ACQUISITIONS[wrs2]:
        if d == date:
            return AREA3_CLOUD_COVER[wrs2] if config.area_of_scene(wrs2) == "testing_3" else float(cc)
    return None


def archive_cloud_cover(region: SyntheticRegion, wrs2: str, date: str | dt.date) -> float:
    """The cloud cover (%) the archive lists for an acquisition (any date: the same seeded law)."""
    path, row = _parse_wrs2(wrs2)
    wrs2 = f"{path:03d}{row:03d}"
    d = dt.date.fromisoformat(_validate_date(date))
    table_i = _table_i_cloud_cover(wrs2, d.isoformat())
    return table_i if table_i is not None else float(_cloud_law(region.seed, wrs2, [d])[0])


# --------------------------------------------------------------------------------------------
# The listing and the pick
# --------------------------------------------------------------------------------------------
def period_acquisitions(region: SyntheticRegion, period: int) -> pd.DataFrame:
    """Every acquisition the archive holds for each frame in a period (metadata only, no pixels).

    One row per acquisition, ordered by frame (`config.WRS2_IDS`) and date, with the columns
    `ARCHIVE_COLUMNS`: ``id`` (Collection 2 product id), ``date`` (Timestamp), ``wrs2``, ``path``,
    ``row``, ``area``, ``sensor`` ('TM' or 'OLI'), ``period``, ``cloud_cover`` (%) and
    ``day_of_year``. Seeded by the region seed: the same call returns the same listing.
    ``simulate_scene(region, row.wrs2, row.date, row.sensor, row.cloud_cover)`` simulates a row.
    """
    _check_period(period)
    first, last = config.PERIODS[period]
    rows = []
    for wrs2 in config.WRS2_IDS:
        path, row = _parse_wrs2(wrs2)
        dates = [d for year in range(first, last + 1) for d in archive_dates(wrs2, year)]
        clouds = _cloud_law(region.seed, wrs2, dates)
        for d, cc in zip(dates, clouds):
            table_i = _table_i_cloud_cover(wrs2, d.isoformat())
            sensor = archive_sensor(d.year)
            rows.append({
                "id": collection2_product_id(sensor, wrs2, d.isoformat()), "date": pd.Timestamp(d),
                "wrs2": wrs2, "path": path,
                "row": row, "area": config.area_of_scene(wrs2), "sensor": sensor, "period": int(period),
                "cloud_cover": float(cc) if table_i is None else table_i, "day_of_year": d.timetuple().tm_yday,
            })
    return pd.DataFrame(rows, columns=list(ARCHIVE_COLUMNS))


def select_acquisitions(archive: pd.DataFrame, cloud_tolerance: float = 2.0) -> pd.DataFrame:
    """One acquisition per frame and period, as a careful analyst picks it from the listing alone.

    Looks only at the metadata (cloud cover and date), never at pixels: the least cloudy
    acquisition, where acquisitions within ``cloud_tolerance`` percentage points of the least
    cloudy count as tied and the tie goes to the date nearest `ABLATION_SEASON_END` (least
    seasonal snow), then to the lower cloud cover, then to the earlier date. Missing cloud covers
    rank last. A placeholder for the paper's fuller choose / mask / fuse of several images per
    period (§III-D). ``archive`` is a `period_acquisitions` listing (or any table with ``wrs2``,
    ``date``, ``cloud_cover`` and optionally ``period``, such as `glacier_utils.io.stac.items_table`);
    the result keeps its columns and order, one row per (wrs2, period).
    """
    if cloud_tolerance < 0:
        raise ValueError(f"cloud_tolerance must be >= 0 percentage points, got {cloud_tolerance}")
    missing = [c for c in ("wrs2", "date", "cloud_cover") if c not in archive.columns]
    if missing:
        raise ValueError(f"archive: missing column(s) {', '.join(missing)}; pass a period_acquisitions listing")
    if archive.empty:
        return archive.copy()
    dates = pd.to_datetime(archive["date"])
    cloud = archive["cloud_cover"].astype(float).fillna(np.inf)
    period = archive["period"] if "period" in archive.columns else dates.dt.year.map(config.period_of_year)
    season_end = pd.to_datetime({"year": dates.dt.year, "month": ABLATION_SEASON_END[0], "day": ABLATION_SEASON_END[1]})
    key = pd.DataFrame({"wrs2": archive["wrs2"].to_numpy(), "period": np.asarray(period), "cloud": cloud.to_numpy(),
                        "season": (dates - season_end).dt.days.abs().to_numpy(), "date": dates.to_numpy(),
                        "pos": np.arange(len(archive))})
    least = key.groupby(["wrs2", "period"])["cloud"].transform("min")
    key["tied"] = ~(key["cloud"] <= least + cloud_tolerance)  # False (sorts first) for the tied
    key = key.sort_values(["wrs2", "period", "tied", "season", "cloud", "date"], kind="stable")
    chosen = np.sort(key.groupby(["wrs2", "period"], sort=False)["pos"].first().to_numpy())
    return archive.iloc[chosen]
