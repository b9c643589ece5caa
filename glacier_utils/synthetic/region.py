"""The seeded synthetic region: its frames on one mosaic grid, terrain, glaciers, truth and acquisitions.

The region is one mosaic grid (EPSG:32646, 30 m) holding the 13 WRS-2 frames of the paper's
Table I as overlapping windows (Fig. 1). `generate_region` builds its terrain, climate fields and
glacier model (`glacier_utils.synthetic.terrain`, with the cited data of
`glacier_utils.synthetic.climate`); the true glacier extent of any of the 12 periods then follows
from the ELA rise calibrated to Table V. Everything random takes its seed from the region seed,
so the same call returns the same numbers. The Table I acquisitions are listed here; the archive
of each period (every summer acquisition) in `glacier_utils.synthetic.archive`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.synthetic import climate
from glacier_utils.synthetic.climate import TABLE_I_ACQUISITIONS
from glacier_utils.synthetic.terrain import _calibrate_ela_rise, _glacier_margin, _make_terrain, _upsample

#: Surface codes that are glacier (label 1): clean ice, firn/snow on the glacier, debris-covered ice.
GLACIER_SURFACES: tuple[int, ...] = tuple(config.SURFACE_CODES[n] for n in ("clean_ice", "firn", "debris_ice"))
#: Upper-left corner of the regional mosaic (UTM 46N metres, multiples of 30 m).
MOSAIC_ORIGIN_XY: tuple[float, float] = (300_000.0, 3_999_990.0)
#: Mosaic margin around the frames (pixels): room for cast shadows at the frame edges.
MOSAIC_MARGIN_PX = 160
#: Rotation (deg) of the WRS-2 frame inside its north-up product; corners outside are fill.
FRAME_TILT_DEG = 12.0
FRAME_SCALE = 1.08


# --------------------------------------------------------------------------------------------
# The region
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticRegion:
    """Terrain, glacier model and area ownership of one seeded synthetic region (cheap to keep)."""

    profile: config.Profile
    seed: int
    #: Scene upper-left pixel (row, col) in the mosaic, per WRS-2 id.
    scene_origins: dict[str, tuple[int, int]]
    #: Elevation (m, float32) on the mosaic grid.
    elevation: np.ndarray
    #: Metres the ELA may rise above its 1986 level before a pixel loses its ice (-inf: never ice).
    margin_m: np.ndarray
    #: Index into `config.AREAS` of the subarea owning each pixel; 255 outside every frame.
    area_index: np.ndarray
    #: Smooth fields at 1/LOWRES_FACTOR resolution (ELA, meadow, debris, lakes, fog, ...).
    lowres: dict[str, np.ndarray]
    #: ELA rise (m) above 1986 per area (rows, `config.AREAS` order) and period (columns).
    ela_rise_m: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Mosaic shape (rows, cols)."""
        return self.elevation.shape

    @property
    def scene_px(self) -> int:
        """Side of one frame in pixels."""
        return self.profile.scene_px

    def transform(self) -> tuple[float, float, float, float, float, float]:
        """Affine (GDAL order: a, b, c, d, e, f) of the mosaic grid."""
        x0, y0 = MOSAIC_ORIGIN_XY
        return (config.PIXEL_SIZE_M, 0.0, x0, 0.0, -config.PIXEL_SIZE_M, y0)

    def glacier_mask(self, period: int) -> np.ndarray:
        """True glacier extent of one period on the whole mosaic (bool)."""
        _check_period(period)
        rise = self._rise_per_pixel(period, self.area_index)
        return self.margin_m > rise

    def debris_margin_m(self, period: int) -> np.ndarray:
        """Per area index (256 entries), the margin (m) at or below which the period's ice is debris covered.

        Each area's lowest-margin ice, the ice closest to melting out (the tongues and the edges
        below rock walls), is debris covered up to the area's debris share of its glacier area
        (`climate.AREA_CLIMATE`). Cut by rank, as `_calibrate_ela_rise` cuts the retreat, so the
        share is the same on every seed and in every period, and overlapping frames agree.
        """
        _check_period(period)
        cut = np.full(256, -np.inf, dtype=np.float32)
        for a, area in enumerate(config.AREAS):
            margins = self._sorted_margins[a]
            ice = margins[np.searchsorted(margins, self.ela_rise_m[a, period], side="right"):]
            n_debris = int(round(climate.AREA_CLIMATE[area].debris * ice.size))
            if n_debris:
                cut[a] = ice[n_debris - 1]
        return cut

    @functools.cached_property
    def _sorted_margins(self) -> list[np.ndarray]:
        """Each area's 1986 glacier margins (m), ascending (the order statistics debris is cut from)."""
        out = []
        for a in range(len(config.AREAS)):
            m = self.margin_m[self.area_index == a]
            out.append(np.sort(m[m > 0.0]))
        return out

    def _rise_per_pixel(self, period: int, area_index: np.ndarray) -> np.ndarray:
        """ELA rise (m) of a period at each pixel of an area-index array (inf where no area owns it)."""
        lookup = np.full(256, np.inf, dtype=np.float32)
        lookup[: len(config.AREAS)] = self.ela_rise_m[:, period]
        return lookup[area_index]


def _check_period(period: int) -> None:
    """ValueError unless ``period`` indexes `config.PERIODS`."""
    if not isinstance(period, (int, np.integer)) or not 0 <= int(period) < len(config.PERIODS):
        raise ValueError(f"period must be an integer 0-{len(config.PERIODS) - 1} (config.PERIODS), got {period!r}")


def _parse_wrs2(wrs2: str) -> tuple[int, int]:
    """(path, row) of one of the study's WRS-2 ids; ValueError for any other."""
    wrs2 = str(wrs2).replace(" ", "")
    if wrs2 not in config.WRS2_IDS:
        raise ValueError(f"wrs2: unknown WRS-2 id {wrs2!r}; the study uses {', '.join(config.WRS2_IDS)}")
    return int(wrs2[:3]), int(wrs2[3:])


def scene_layout(scene_px: int) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """Frame origins (row, col) on the mosaic and the mosaic shape, like the paper's Fig. 1.

    WRS-2 paths number westwards, so path 139 is the westernmost column; rows increase
    southwards; a descending orbit drifts west as it goes south; neighbouring frames overlap.
    """
    if int(scene_px) < 32:
        raise ValueError(f"scene_px must be at least 32 pixels, got {scene_px}")
    s = int(scene_px)
    step_x, step_y, drift = round(0.88 * s), round(0.90 * s), round(0.12 * s)
    paths = [int(w[:3]) for w in config.WRS2_IDS]
    rows = [int(w[3:]) for w in config.WRS2_IDS]
    max_path, min_row, max_row = max(paths), min(rows), max(rows)
    origins = {}
    for wrs2 in config.WRS2_IDS:
        path, row = int(wrs2[:3]), int(wrs2[3:])
        r = MOSAIC_MARGIN_PX + (row - min_row) * step_y
        c = MOSAIC_MARGIN_PX + (max_path - path) * step_x + (max_row - row) * drift
        origins[wrs2] = (r, c)
    height = max(r for r, _ in origins.values()) + s + MOSAIC_MARGIN_PX
    width = max(c for _, c in origins.values()) + s + MOSAIC_MARGIN_PX
    return origins, (height, width)


def _seed_from(*parts: object) -> np.random.SeedSequence:
    """A SeedSequence from the region seed and any labels (stable across runs and platforms)."""
    words = [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.SeedSequence(words)


def _frame_mask(n: int) -> np.ndarray:
    """Pixels inside the tilted WRS-2 frame (the rest is fill, as in a north-up Level-1 product)."""
    c = (np.arange(n) + 0.5 - n / 2.0) / (n / 2.0)
    t = math.radians(FRAME_TILT_DEG)
    u = c[None, :] * math.cos(t) - c[:, None] * math.sin(t)
    v = c[None, :] * math.sin(t) + c[:, None] * math.cos(t)
    return (np.abs(u) <= FRAME_SCALE * 0.93) & (np.abs(v) <= FRAME_SCALE * 0.93)


def _area_index(origins: dict[str, tuple[int, int]], shape: tuple[int, int], scene_px: int) -> np.ndarray:
    """Each mosaic pixel owned by the area of the nearest frame centre among frames covering it."""
    idx = np.full(shape, config.LABEL_NODATA, dtype=np.uint8)
    best = np.full(shape, np.inf, dtype=np.float32)
    half = scene_px / 2.0
    d = (np.arange(scene_px, dtype=np.float32) + 0.5 - half) ** 2
    # Only the valid (non-fill) part of a frame can own pixels, so every owned pixel is imaged.
    dist = np.where(_frame_mask(scene_px), d[:, None] + d[None, :], np.inf)
    for wrs2 in sorted(origins):
        r0, c0 = origins[wrs2]
        a = config.AREAS.index(config.area_of_scene(wrs2))
        sl = (slice(r0, r0 + scene_px), slice(c0, c0 + scene_px))
        closer = dist < best[sl]
        best[sl] = np.where(closer, dist, best[sl])
        idx[sl] = np.where(closer, a, idx[sl])
    return idx


def generate_region(profile: str | config.Profile = "quick", seed: int | None = None) -> SyntheticRegion:
    """Build the seeded synthetic region: terrain, climate fields, glacier model, area ownership."""
    prof = config.get_profile(profile)
    seed = prof.data_seed if seed is None else seed
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    origins, shape = scene_layout(prof.scene_px)
    rng = np.random.default_rng(_seed_from("terrain", seed))
    z, lowres = _make_terrain(shape, origins, prof.scene_px, rng)

    def ela_window(r0, c0, h, w):
        return _upsample(lowres["ela_m"], r0, c0, h, w)

    margin = _glacier_margin(z, ela_window, shape)
    area_index = _area_index(origins, shape, prof.scene_px)
    rise = _calibrate_ela_rise(margin, area_index)
    return SyntheticRegion(prof, int(seed), origins, z, margin, area_index, lowres, rise)


# --------------------------------------------------------------------------------------------
# Truth bookkeeping
# --------------------------------------------------------------------------------------------
def true_area_table(region: SyntheticRegion) -> pd.DataFrame:
    """True glacier area (km²) per period (rows) and subarea (columns), plus the total."""
    px_km2 = config.PIXEL_SIZE_M ** 2 / 1e6
    rows = []
    counts_idx = region.area_index.ravel()
    for p in range(len(config.PERIODS)):
        ice = region.glacier_mask(p).ravel()
        counts = np.bincount(counts_idx[ice], minlength=256)[: len(config.AREAS)]
        rows.append(counts * px_km2)
    table = pd.DataFrame(rows, columns=list(config.AREAS), index=pd.Index(config.PERIOD_LABELS, name="period"))
    table["total"] = table.sum(axis=1)
    return table


def true_relative_change(region: SyntheticRegion, start: int = 0, end: int = 11) -> pd.Series:
    """True relative area change (%) between two periods per subarea and total."""
    table = true_area_table(region)
    return 100.0 * (table.iloc[end] - table.iloc[start]) / table.iloc[start]


def write_true_area_table(region: SyntheticRegion, folder: str | os.PathLike) -> Path:
    """Write the true area table as CSV (atomically) and return its path."""
    path = Path(folder) / f"true_glacier_area_{region.profile.name}_seed{region.seed}.csv"
    with atomic_path(path) as tmp:
        tmp.write_text(true_area_table(region).to_csv(float_format="%.4f"), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Acquisitions
# --------------------------------------------------------------------------------------------
def training_acquisitions(region: SyntheticRegion | None = None) -> list[tuple[str, str]]:
    """The Table I acquisitions (wrs2, ISO date): 13 frames, two of them on two dates.

    The time series' acquisitions are listed by `glacier_utils.synthetic.archive.period_acquisitions`.
    """
    return [(wrs2, date) for wrs2 in config.WRS2_IDS for date, _ in TABLE_I_ACQUISITIONS[wrs2]]


def _validate_date(date: str | dt.date) -> str:
    """The ISO form of an acquisition date within the study's periods; ValueError otherwise."""
    if isinstance(date, dt.datetime):  # a pandas Timestamp too (an archive listing's date)
        date = date.date()
    try:
        d = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
    except ValueError:
        raise ValueError(f"date must be an ISO date 'YYYY-MM-DD', got {date!r}") from None
    if not config.PERIODS[0][0] <= d.year <= config.PERIODS[-1][1]:
        raise ValueError(f"date {date} lies outside the study's periods 1986–2021")
    return d.isoformat()


def _default_cloud_cover(region: SyntheticRegion, wrs2: str, date: str) -> float:
    """Cloud cover (%) of an acquisition: the archive's (Table I's for its images, area 3 after the paper's text)."""
    from glacier_utils.synthetic.archive import archive_cloud_cover  # the archive builds on the region

    return archive_cloud_cover(region, wrs2, date)
