"""The paper's data and the per-area climate behind the simulated region (paper §II-A, §II-C, Tables I, V).

Table I sets which frames are imaged when and how glacierised each one is; Table V(a) sets how
much ice each subarea loses over the 12 periods; `AREA_CLIMATE` sets the four area groups apart
(ELA, ground cover, haze, fog and cloud), as the paper describes the Three-Rivers Headwater Region.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from glacier_utils import config, paper

#: Table I (via glacier_utils.paper): the Landsat 5 images behind the SCGI and the networks'
#: training, as (date, cloud cover %) per frame.
TABLE_I_ACQUISITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    row.wrs2: tuple(zip(row.dates, row.cloud_cover)) for row in paper.table_i().itertuples()
}
#: Table I glacier area per frame (km²): sets how glacierised each synthetic frame is.
TABLE_I_GLACIER_KM2: dict[str, float] = dict(zip(paper.table_i().wrs2, paper.table_i().glacier_area_km2))
#: Cloud cover (%) used for testing area 3's Table I images. The paper's §II-C and Fig. 8 say
#: most glaciers there were under cloud and fog, which Table I's 1-32 % does not show; the
#: simulator follows the text so that area 3 is as hard as the paper found it.
AREA3_CLOUD_COVER: dict[str, float] = {"136037": 40.0, "135037": 35.0, "134037": 30.0, "135038": 40.0}

#: Table V(a) (via glacier_utils.paper): glacier area (km²) per subarea over the 12 periods; the
#: simulator reproduces its relative changes (the absolute areas belong to the real, larger region).
TABLE_V_AREA_KM2: dict[str, tuple[float, ...]] = {
    area: tuple(paper.table_va().query("area == @area").sort_values("period_index").area_km2)
    for area in config.AREAS
}


def target_area_fractions() -> pd.DataFrame:
    """Table V(a) as area relative to 1986-1988, made non-increasing (period x area)."""
    data = {}
    for area, values in TABLE_V_AREA_KM2.items():
        rel = np.asarray(values) / values[0]
        # Three Table V(a) entries rise slightly (mapping noise); true retreat cannot reverse.
        data[area] = np.minimum.accumulate(rel)
    return pd.DataFrame(data, index=pd.Index(range(len(config.PERIODS)), name="period"))


@dataclasses.dataclass(frozen=True)
class AreaClimate:
    """What sets one area group apart (paper §II-C, Scene 2): climate, ground cover, weather."""

    #: Equilibrium-line altitude in 1986 (m); THR ELAs fall from ~5,600 m west to ~5,100 m east.
    ela_m: float
    #: Alpine meadow propensity (0-1); the east is warmer and wetter (§II-A).
    meadow: float
    #: Propensity of glacier tongues to be debris covered (0-1).
    debris: float
    #: Propensity of flat ground near termini to hold lakes (0-1).
    lakes: float
    #: Shift of the seasonal snowline relative to the ELA (m; negative = more snow).
    snowline_offset_m: float
    #: Path-radiance multiplier (haze) and mean fog opacity.
    haze: float
    fog: float
    #: How strongly clouds cling to high ground (0 = anywhere, 1 = mostly over the massifs).
    cloud_orography: float
    #: Cloud cover (%) range for time-series acquisitions.
    cloud_cover_range: tuple[float, float]
    #: Surface warming (K) relative to the west, for band 6.
    warm_k: float
    #: Soil moisture darkening (0 dry - 1 wet).
    moisture: float
    #: Largest cloud opacity (1: clouds can be opaque; below 1: mostly thin cloud and fog).
    cloud_opacity: float = 1.0


AREA_CLIMATE: dict[str, AreaClimate] = {
    "training": AreaClimate(5550.0, 0.12, 0.10, 0.55, 0.0, 1.0, 0.0, 0.4, (0.0, 12.0), 0.0, 0.15),
    "testing_1": AreaClimate(5500.0, 0.10, 0.05, 0.65, 0.0, 1.0, 0.0, 0.4, (0.0, 12.0), 0.0, 0.1),
    "testing_2": AreaClimate(5150.0, 0.75, 0.30, 0.40, 80.0, 1.2, 0.0, 0.3, (0.0, 15.0), 5.0, 0.6),
    "testing_3": AreaClimate(5350.0, 0.40, 0.20, 0.35, 60.0, 1.8, 0.12, 0.0, (30.0, 60.0), 2.5, 0.35, 0.6),
}

#: Relative glacier abundance per area: scales massif height so that the subareas' shares of
#: the total glacier area approach Table V(a) (training 56 %, 1: 28 %, 2: 5 %, 3: 11 %).
AREA_ABUNDANCE: dict[str, float] = {"training": 1.0, "testing_1": 1.0, "testing_2": 0.7, "testing_3": 0.95}

#: Approximate latitude of each WRS-2 row's centre in the THR (used for the sun position).
ROW_LATITUDE_DEG: dict[int, float] = {35: 36.0, 36: 34.6, 37: 33.2, 38: 31.7}
