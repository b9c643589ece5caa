"""A seeded, physically motivated Landsat TM/OLI simulator of a Tibetan-Plateau-like region.

No real imagery of the study area ships with the project, so the book's default data come from
here (SPEC §4). The simulator builds one regional mosaic grid (EPSG:32646, 30 m) holding the 13
WRS-2 frames of the paper's Table I as overlapping windows, and on it:

* terrain: spectral-synthesis fractal noise, ridged into arêtes and valleys, on massifs whose
  bases fall from west to east as in the Three-Rivers Headwater Region (paper §II-A);
* glaciers: a pixel carries ice while the mean elevation of its upstream catchment (D8 flow on
  the smoothed DEM) lies above the equilibrium-line altitude (ELA), the balance-of-mass idea
  behind accumulation-area-ratio and median-elevation ELA estimates; tongues widen laterally
  into their valleys. That gives every pixel a "margin" (metres by which the ELA may rise
  before it deglaciates), so the 12 periods are a rising ELA calibrated per subarea to the
  paper's Table V;
* surfaces: clean ice, firn, debris-covered tongues, seasonal snow, proglacial and plateau
  lakes, rock, soil, alpine meadow (more in the east), each with a published spectrum
  (`glacier_utils.spectra`) and within-class variability;
* light and atmosphere: sun position for the date, cosine-of-incidence shading, cast shadows by
  ray marching, diffuse sky light, path radiance, thin and thick cloud and fog with shadows;
* sensor: reflectance -> radiance -> DN with the Landsat 5 TM calibration (uint8, saturating
  over bright snow), the OLI Level-1 scaling from 2013 (uint16), PSF blur and noise; band 6 as
  brightness temperature through Planck's law.

Everything random takes its seed from the region seed plus the acquisition, so the same call
returns the same numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import fft as sp_fft
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve_triangular

from glacier_utils import config, paper, spectra

# --------------------------------------------------------------------------------------------
# Code tables (the `surface` and `cloud` variables of a synthetic scene)
# --------------------------------------------------------------------------------------------
SURFACE_CLASSES: dict[int, str] = {
    0: "rock", 1: "soil", 2: "meadow", 3: "water", 4: "seasonal_snow",
    5: "clean_ice", 6: "firn", 7: "debris_ice", 255: "nodata",
}
SURFACE_CODES: dict[str, int] = {v: k for k, v in SURFACE_CLASSES.items()}
#: Surface codes that are glacier (label 1): clean ice, firn/snow on the glacier, debris-covered ice.
GLACIER_SURFACES: tuple[int, ...] = (5, 6, 7)
CLOUD_CLASSES: dict[int, str] = {0: "clear", 1: "thin_cloud", 2: "thick_cloud", 3: "cloud_shadow", 255: "nodata"}
CLOUD_CODES: dict[str, int] = {v: k for k, v in CLOUD_CLASSES.items()}
#: DN fill value of synthetic scenes (as in Collection 2 Level-1), and the label's unknown value.
DN_NODATA = 0
LABEL_NODATA = 255
CODE_NODATA = 255

# --------------------------------------------------------------------------------------------
# The paper's acquisitions and areas (cited data)
# --------------------------------------------------------------------------------------------
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
#: Upper-left corner of the regional mosaic (UTM 46N metres, multiples of 30 m).
MOSAIC_ORIGIN_XY: tuple[float, float] = (300_000.0, 3_999_990.0)
#: Mosaic margin around the frames (pixels): room for cast shadows at the frame edges.
MOSAIC_MARGIN_PX = 160
#: Smooth fields are stored at 1/LOWRES_FACTOR resolution.
LOWRES_FACTOR = 8
#: Rotation (deg) of the WRS-2 frame inside its north-up product; corners outside are fill.
FRAME_TILT_DEG = 12.0
FRAME_SCALE = 1.08
PROCESSING_DATE = {"TM": "20200830", "OLI": "20200915"}
#: Steepest slope (deg) that can hold ice; steeper rock walls stay bare.
MAX_ICE_SLOPE_DEG = 48.0


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

    def _rise_per_pixel(self, period: int, area_index: np.ndarray) -> np.ndarray:
        lookup = np.full(256, np.inf, dtype=np.float32)
        lookup[: len(config.AREAS)] = self.ela_rise_m[:, period]
        return lookup[area_index]


def _check_period(period: int) -> None:
    if not isinstance(period, (int, np.integer)) or not 0 <= int(period) < len(config.PERIODS):
        raise ValueError(f"period must be an integer 0-{len(config.PERIODS) - 1} (config.PERIODS), got {period!r}")


def _parse_wrs2(wrs2: str) -> tuple[int, int]:
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


def spectral_noise(shape: tuple[int, int], rng: np.random.Generator, beta: float,
                   max_wavelength_px: float | None = None, min_wavelength_px: float | None = None) -> np.ndarray:
    """Gaussian random field with power spectrum k^-beta (spectral synthesis), unit std, float32."""
    h, w = int(shape[0]), int(shape[1])
    ky = np.fft.fftfreq(h).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(w).astype(np.float32)[None, :]
    k = np.sqrt(ky * ky + kx * kx)
    k[0, 0] = 1.0
    amp = k ** np.float32(-beta / 2.0)
    if max_wavelength_px:
        amp *= 1.0 - np.exp(-((k * max_wavelength_px) ** 2))  # soft high-pass
    if min_wavelength_px:
        amp *= np.exp(-((k * min_wavelength_px) ** 2))  # soft low-pass
    amp[0, 0] = 0.0
    del k
    coeff = rng.standard_normal(amp.shape, dtype=np.float32) + 1j * rng.standard_normal(amp.shape, dtype=np.float32)
    coeff = (coeff * amp).astype(np.complex64)
    del amp
    field = sp_fft.irfft2(coeff, s=(h, w), workers=-1).astype(np.float32, copy=False)
    del coeff
    field -= field.mean()
    std = float(field.std())
    if std > 0:
        field /= std
    return field


def _upsample(lowres: np.ndarray, row0: int, col0: int, h: int, w: int) -> np.ndarray:
    """Bilinear values of a low-resolution field on a full-resolution window."""
    f = LOWRES_FACTOR
    rr = (np.arange(row0, row0 + h, dtype=np.float32) + 0.5) / f - 0.5
    cc = (np.arange(col0, col0 + w, dtype=np.float32) + 0.5) / f - 0.5
    r0 = np.clip(np.floor(rr).astype(int), 0, lowres.shape[0] - 2)
    c0 = np.clip(np.floor(cc).astype(int), 0, lowres.shape[1] - 2)
    tr = np.clip(rr - r0, 0, 1)[:, None]
    tc = np.clip(cc - c0, 0, 1)[None, :]
    rows = lowres[r0] * (1 - tr) + lowres[r0 + 1] * tr  # separable: rows first, then columns
    return (rows[:, c0] * (1 - tc) + rows[:, c0 + 1] * tc).astype(np.float32)


def _area_weights_lowres(origins: dict[str, tuple[int, int]], shape_lr: tuple[int, int], scene_px: int) -> np.ndarray:
    """Smooth weights (4, h, w) of each area group at low resolution (Gaussian around frames)."""
    f = LOWRES_FACTOR
    rr = (np.arange(shape_lr[0]) + 0.5) * f
    cc = (np.arange(shape_lr[1]) + 0.5) * f
    weights = np.zeros((len(config.AREAS),) + shape_lr, dtype=np.float32)
    sigma = 0.45 * scene_px
    for wrs2, (r0, c0) in origins.items():
        a = config.AREAS.index(config.area_of_scene(wrs2))
        gr = np.exp(-(((rr - r0 - scene_px / 2) / sigma) ** 2))
        gc = np.exp(-(((cc - c0 - scene_px / 2) / sigma) ** 2))
        weights[a] += np.outer(gr, gc).astype(np.float32)
    weights /= weights.sum(axis=0, keepdims=True) + 1e-12
    return weights


def _climate_fields(weights: np.ndarray) -> dict[str, np.ndarray]:
    """Blend each area's climate parameters into smooth low-resolution fields."""
    out = {}
    for name in ("ela_m", "meadow", "debris", "lakes", "snowline_offset_m", "haze", "fog",
                 "cloud_orography", "warm_k", "moisture"):
        vals = np.array([getattr(AREA_CLIMATE[a], name) for a in config.AREAS], dtype=np.float32)
        out[name] = np.tensordot(vals, weights, axes=1).astype(np.float32)
    return out


def _massif_amplitude(origins, shape_lr, scene_px, base_lr, ela_lr, rng) -> np.ndarray:
    """Low-resolution relief amplitude (m) of the glacierised massifs (ranges trend WNW-ESE)."""
    f = LOWRES_FACTOR
    amp = np.zeros(shape_lr, dtype=np.float32)
    rr = (np.arange(shape_lr[0], dtype=np.float32) + 0.5) * f
    cc = (np.arange(shape_lr[1], dtype=np.float32) + 0.5) * f
    scene_km2 = (scene_px * config.PIXEL_SIZE_M / 1000.0) ** 2
    for wrs2 in sorted(origins):
        r0, c0 = origins[wrs2]
        # How glacierised the frame is, from Table I (log scale: 1 km² -> 0.2, 1,000 km² -> 1).
        weight = float(np.clip(np.log10(max(TABLE_I_GLACIER_KM2[wrs2], 1.0)) / 3.07, 0.05, 1.0))
        abundance = AREA_ABUNDANCE[config.area_of_scene(wrs2)]
        n = max(1, int(round(weight * scene_km2 / 110.0)))
        for _ in range(n):
            cr = r0 + scene_px * rng.uniform(0.25, 0.75)
            ccol = c0 + scene_px * rng.uniform(0.25, 0.75)
            radius_px = rng.uniform(2500.0, 4000.0) * (0.5 + 0.5 * weight) / config.PIXEL_SIZE_M
            ir, ic = int(cr // f), int(ccol // f)
            ir = min(max(ir, 0), shape_lr[0] - 1)
            ic = min(max(ic, 0), shape_lr[1] - 1)
            peak_above_ela = (150.0 + 1000.0 * weight * rng.uniform(0.6, 1.0)) * abundance
            a = ela_lr[ir, ic] + peak_above_ela - base_lr[ir, ic]
            theta = math.radians(-15.0 + rng.normal(0, 10))
            du = (cc[None, :] - ccol) * math.cos(theta) - (rr[:, None] - cr) * math.sin(theta)
            dv = (cc[None, :] - ccol) * math.sin(theta) + (rr[:, None] - cr) * math.cos(theta)
            g = np.exp(-((du / (1.6 * radius_px)) ** 2 + (dv / radius_px) ** 2))
            np.maximum(amp, (a * g).astype(np.float32), out=amp)
    return amp


def _make_terrain(shape, origins, scene_px, rng) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fractal elevation (m) on the mosaic and the low-resolution climate fields."""
    h, w = shape
    f = LOWRES_FACTOR
    shape_lr = (-(-h // f), -(-w // f))
    weights = _area_weights_lowres(origins, shape_lr, scene_px)
    lowres = _climate_fields(weights)
    # Regional base: the THR falls from west to east (paper §II-A), with broad undulation.
    xn = np.linspace(0.0, 1.0, shape_lr[1], dtype=np.float32)[None, :]
    undulation = spectral_noise(shape_lr, rng, beta=3.5)
    base_lr = (4750.0 - 650.0 * xn + 120.0 * undulation).astype(np.float32)
    amp_lr = _massif_amplitude(origins, shape_lr, scene_px, base_lr, lowres["ela_m"], rng)
    for name, beta in (("meadow_noise", 3.0), ("debris_noise", 3.0), ("lake_noise", 2.5),
                       ("snow_noise", 2.6), ("rock_noise", 2.6)):
        lowres[name] = spectral_noise(shape_lr, rng, beta=beta)
    lowres["base_m"] = base_lr
    lowres["amplitude_m"] = amp_lr
    # Full resolution: rolling fractal relief with a ridged share for sharp crests.
    pixel = config.PIXEL_SIZE_M
    n1 = spectral_noise(shape, rng, beta=2.7, max_wavelength_px=12000 / pixel, min_wavelength_px=450 / pixel)
    relief = np.tanh(0.6 * n1) * 0.5 + 0.5  # 0..1
    ridged = np.abs(n1, out=n1)
    np.minimum(ridged, 2.5, out=ridged)
    ridged *= -1.0 / 2.5
    ridged += 1.0
    ridged *= ridged
    relief *= 0.7
    relief += 0.3 * ridged
    del ridged, n1
    fine = spectral_noise(shape, rng, beta=2.0, min_wavelength_px=2.0, max_wavelength_px=800 / pixel)
    z = np.empty(shape, dtype=np.float32)
    for r0 in range(0, h, 1024):  # row blocks keep the paper profile's memory bounded
        r1 = min(h, r0 + 1024)
        base = _upsample(base_lr, r0, 0, r1 - r0, w)
        amp = _upsample(amp_lr, r0, 0, r1 - r0, w)
        rg = relief[r0:r1]
        z[r0:r1] = base + amp * (0.12 + 0.88 * rg) + 300.0 * rg + 15.0 * fine[r0:r1]
    del relief, fine
    _carve_valleys(z)
    np.clip(z, 3500.0, 6850.0, out=z)
    return z, lowres


def _carve_valleys(z: np.ndarray, factor: int = 4, depth_m: float = 550.0, area0_cells: float = 40.0) -> None:
    """Cut dendritic valleys into the DEM in place: incision grows with upstream drainage area.

    A one-step stand-in for fluvial/glacial erosion (stream-power-like depth ~ drainage area),
    computed at 1/`factor` resolution and smoothed so that valleys come out U-shaped.
    """
    h, w = z.shape
    hc, wc = h // factor, w // factor
    coarse = z[: hc * factor, : wc * factor].reshape(hc, factor, wc, factor).mean(axis=(1, 3))
    coarse = ndimage.gaussian_filter(coarse, 1.0)
    area = _upstream_sum(coarse, np.ones(coarse.shape, bool), [np.ones(coarse.size)])[0]
    incision = depth_m * (1.0 - np.exp(-np.sqrt(area / area0_cells) * 0.35))
    incision = ndimage.gaussian_filter(incision.reshape(coarse.shape).astype(np.float32), 1.2)
    full = ndimage.zoom(incision, factor, order=1, grid_mode=True, mode="nearest")
    z[: full.shape[0], : full.shape[1]] -= full[:h, :w]


def _slope_deg(z: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(z, config.PIXEL_SIZE_M)
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)


_D8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _upstream_sum(z: np.ndarray, active: np.ndarray, weights: list[np.ndarray]) -> list[np.ndarray]:
    """Sum of each weight over every active pixel's upstream catchment (D8 steepest descent).

    Upstream pixels are higher, so when `active` is an elevation threshold the restriction is
    exact. Accumulation solves (I - P) a = w on pixels sorted by elevation, a triangular sparse
    system (compiled in scipy) instead of a Python loop over pixels. Returns flat arrays over
    the whole grid (0 where inactive).
    """
    h, w = z.shape
    zf = z.ravel()
    idx = np.flatnonzero(active.ravel())
    n = idx.size
    if n == 0:
        return [np.zeros(h * w) for _ in weights]
    node = np.full(h * w, -1, dtype=np.int64)
    idx = idx[np.argsort(-zf[idx], kind="stable")]
    node[idx] = np.arange(n)
    # Steepest-descent neighbour on the 2-D grid with shifted slices (no fancy indexing).
    zp = np.pad(z.astype(np.float32), 1, mode="constant", constant_values=np.inf)
    best_drop = np.zeros((h, w), dtype=np.float32)
    best_dir = np.full((h, w), -1, dtype=np.int8)
    for k, (dr, dc) in enumerate(_D8):
        drop = (z - zp[1 + dr: 1 + dr + h, 1 + dc: 1 + dc + w]) / np.float32(math.hypot(dr, dc))
        better = drop > best_drop
        best_drop[better] = drop[better]
        best_dir[better] = k
    offsets = np.array([dr * w + dc for dr, dc in _D8] + [0], dtype=np.int64)
    dirs = best_dir.ravel()[idx]
    best = np.where(dirs >= 0, idx + offsets[dirs], -1)
    receiver = np.where(best >= 0, node[np.maximum(best, 0)], -1)
    src = np.flatnonzero(receiver >= 0)
    mat = sparse.csr_matrix(
        (np.r_[np.ones(n), -np.ones(src.size)], (np.r_[np.arange(n), receiver[src]], np.r_[np.arange(n), src])),
        shape=(n, n),
    )
    rhs = np.stack([np.asarray(wt, dtype=np.float64).ravel()[idx] for wt in weights], axis=1)
    acc = spsolve_triangular(mat, rhs, lower=True, unit_diagonal=True).reshape(n, len(weights))
    out = []
    for k in range(len(weights)):
        full = np.zeros(h * w)
        full[idx] = acc[:, k]
        out.append(full)
    return out


def _catchment_mean(z: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Mean elevation of each active pixel's upstream catchment (-inf where inactive)."""
    total, count = _upstream_sum(z, active, [z, np.ones(z.shape)])
    out = np.full(z.size, -np.inf, dtype=np.float32)
    ok = count > 0
    out[ok] = (total[ok] / count[ok]).astype(np.float32)
    return out.reshape(z.shape)


def _widen_tongues(margin: np.ndarray, z: np.ndarray, steps: int = 10,
                   cost_per_m: float = 1.0, cost_per_px: float = 12.0) -> np.ndarray:
    """Spread a valley's ice margin onto its floor and lower walls (monotone in the margin).

    A pixel inherits a neighbour's margin minus a cost for the height it sits above it and for
    the distance, so a well-fed tongue is wide and thins as the ELA rises.
    """
    field = np.where(np.isfinite(margin), margin + cost_per_m * z, -1e9).astype(np.float32)
    for _ in range(steps):
        padded = np.pad(field, 1, mode="edge")
        best = field.copy()
        for dr, dc in _D8:
            shifted = padded[1 + dr: 1 + dr + field.shape[0], 1 + dc: 1 + dc + field.shape[1]]
            np.maximum(best, shifted - cost_per_px * math.hypot(dr, dc), out=best)
        field = best
    return field - cost_per_m * z


def _glacier_margin(z: np.ndarray, ela_full_fn, shape) -> np.ndarray:
    """Per-pixel margin (m): ice exists while the ELA rise is below it."""
    h, w = shape
    margin = np.full(shape, -np.inf, dtype=np.float32)
    block = 2048
    halo = 256  # catchments and tongues near a block edge see their neighbours
    for r0 in range(0, h, block):
        for c0 in range(0, w, block):
            ra, rb = max(0, r0 - halo), min(h, r0 + block + halo)
            ca, cb = max(0, c0 - halo), min(w, c0 + block + halo)
            zb = ndimage.gaussian_filter(z[ra:rb, ca:cb], 1.5)
            ela = ela_full_fn(ra, ca, rb - ra, cb - ca)
            active = zb > ela - 800.0
            if not active.any():
                continue
            mean_up = _catchment_mean(zb, active)
            m = mean_up - ela
            m = np.maximum(m, np.where(active, zb - ela, -np.inf))
            m = _widen_tongues(m, zb)
            slope = _slope_deg(z[ra:rb, ca:cb])
            m[slope > MAX_ICE_SLOPE_DEG] = -np.inf
            rs, cs = r0 - ra, c0 - ca
            hb, wb = min(block, h - r0), min(block, w - c0)
            margin[r0:r0 + hb, c0:c0 + wb] = m[rs:rs + hb, cs:cs + wb]
    # Ice outlines are smoother than the fractal bed: smooth the margin (a fixed field, so the
    # extent stays monotone in the ELA rise); steep walls stay bare.
    never = ~np.isfinite(margin)
    margin = ndimage.gaussian_filter(np.where(never, -400.0, margin), 1.5)
    margin[never & (margin < 0)] = -np.inf
    return margin.astype(np.float32)


def _area_index(origins: dict[str, tuple[int, int]], shape: tuple[int, int], scene_px: int) -> np.ndarray:
    """Each mosaic pixel owned by the area of the nearest frame centre among frames covering it."""
    idx = np.full(shape, CODE_NODATA, dtype=np.uint8)
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


def _calibrate_ela_rise(margin: np.ndarray, area_index: np.ndarray) -> np.ndarray:
    """ELA rise per area and period reproducing Table V's relative areas (exact order statistics).

    Ice is monotone in the ELA rise, so the rise that leaves a target number of pixels is the
    margin of the pixel of that rank: no bisection needed.
    """
    targets = target_area_fractions()
    rise = np.zeros((len(config.AREAS), len(config.PERIODS)), dtype=np.float32)
    for a, area in enumerate(config.AREAS):
        m = margin[area_index == a]
        m = np.sort(m[m > 0.0])[::-1]
        n0 = m.size
        if n0 == 0:
            continue
        for p in range(1, len(config.PERIODS)):
            keep = int(round(targets[area].iloc[p] * n0))
            rise[a, p] = m[keep] if keep < n0 else 0.0
    return rise


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
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"true_glacier_area_{region.profile.name}_seed{region.seed}.csv"
    _atomic_write_text(path, true_area_table(region).to_csv(float_format="%.4f"))
    return path


# --------------------------------------------------------------------------------------------
# Acquisitions
# --------------------------------------------------------------------------------------------
def training_acquisitions(region: SyntheticRegion | None = None) -> list[tuple[str, str]]:
    """The Table I acquisitions (wrs2, ISO date): 13 frames, two of them on two dates."""
    return [(wrs2, date) for wrs2 in config.WRS2_IDS for date, _ in TABLE_I_ACQUISITIONS[wrs2]]


def period_acquisitions(region: SyntheticRegion, period: int) -> list[tuple[str, str]]:
    """One late-summer acquisition (wrs2, ISO date) per frame for a period (seeded).

    Landsat 5 TM up to 2011 (it stopped imaging in November 2011), Landsat 8 OLI from 2013
    (paper §II-B); dates fall between mid-July and early October, the end of the ablation season.
    """
    _check_period(period)
    first, last = config.PERIODS[period]
    if first < config.FIRST_OLI_YEAR:
        last = min(last, 2011)
    out = []
    for wrs2 in config.WRS2_IDS:
        rng = np.random.default_rng(_seed_from("acquisition", region.seed, period, wrs2))
        year = int(rng.integers(first, last + 1))
        day = int(rng.integers(195, 280))
        date = dt.date(year, 1, 1) + dt.timedelta(days=day - 1)
        out.append((wrs2, date.isoformat()))
    return out


def _validate_date(date: str) -> str:
    try:
        d = dt.date.fromisoformat(str(date))
    except ValueError:
        raise ValueError(f"date must be an ISO date 'YYYY-MM-DD', got {date!r}") from None
    if not config.PERIODS[0][0] <= d.year <= config.PERIODS[-1][1]:
        raise ValueError(f"date {date} lies outside the study's periods 1986–2021")
    return d.isoformat()


def _default_cloud_cover(region: SyntheticRegion, wrs2: str, date: str) -> float:
    area = config.area_of_scene(wrs2)
    if area == "testing_3" and any(d == date for d, _ in TABLE_I_ACQUISITIONS[wrs2]):
        return AREA3_CLOUD_COVER[wrs2]
    for d, cc in TABLE_I_ACQUISITIONS[wrs2]:
        if d == date:
            return cc
    lo, hi = AREA_CLIMATE[area].cloud_cover_range
    rng = np.random.default_rng(_seed_from("cloudcover", region.seed, wrs2, date))
    return float(rng.uniform(lo, hi))


# --------------------------------------------------------------------------------------------
# Scene simulation
# --------------------------------------------------------------------------------------------
#: Two-way atmospheric transmittance, diffuse-sky fraction and path reflectance per TM band at
#: ~5 km altitude (thin, dry atmosphere; values in the range MODTRAN gives for high plateaus).
_TRANSMITTANCE = np.array([0.80, 0.86, 0.90, 0.93, 0.96, 1.0, 0.97], dtype=np.float32)
_DIFFUSE = np.array([0.20, 0.14, 0.10, 0.06, 0.03, 0.0, 0.02], dtype=np.float32)
_PATH = np.array([0.050, 0.028, 0.015, 0.008, 0.002, 0.0, 0.001], dtype=np.float32)
_REFL_IDX = [spectra.BAND_INDEX[b] for b in spectra.REFLECTIVE_BANDS]
_T6 = spectra.BAND_INDEX[spectra.THERMAL_BAND]


def _window(arr: np.ndarray, r0: int, c0: int, h: int, w: int, fill: float = 0.0) -> np.ndarray:
    """A window of a mosaic array, padded with edge values where it leaves the mosaic."""
    H, W = arr.shape
    ra, rb, ca, cb = max(r0, 0), min(r0 + h, H), max(c0, 0), min(c0 + w, W)
    out = arr[ra:rb, ca:cb]
    pads = ((ra - r0, r0 + h - rb), (ca - c0, c0 + w - cb))
    if any(p for pair in pads for p in pair):
        out = np.pad(out, pads, mode="edge")
    return out


def _cast_shadow(zpad: np.ndarray, pad: int, elev_deg: float, az_deg: float) -> np.ndarray:
    """Cast shadows by marching from each pixel towards the sun over the padded DEM."""
    h, w = zpad.shape[0] - 2 * pad, zpad.shape[1] - 2 * pad
    z0 = zpad[pad:pad + h, pad:pad + w]
    tan_e = math.tan(math.radians(elev_deg))
    dr, dc = -math.cos(math.radians(az_deg)), math.sin(math.radians(az_deg))
    shadow = np.zeros((h, w), dtype=bool)
    s = 1.0
    while s <= pad:
        ir, ic = int(round(s * dr)), int(round(s * dc))
        zs = zpad[pad + ir: pad + ir + h, pad + ic: pad + ic + w]
        shadow |= zs > z0 + s * config.PIXEL_SIZE_M * tan_e
        s = s + 1.0 if s < 6 else s * 1.12
    return shadow


def _frame_mask(n: int) -> np.ndarray:
    """Pixels inside the tilted WRS-2 frame (the rest is fill, as in a north-up Level-1 product)."""
    c = (np.arange(n) + 0.5 - n / 2.0) / (n / 2.0)
    t = math.radians(FRAME_TILT_DEG)
    u = c[None, :] * math.cos(t) - c[:, None] * math.sin(t)
    v = c[None, :] * math.sin(t) + c[:, None] * math.cos(t)
    return (np.abs(u) <= FRAME_SCALE * 0.93) & (np.abs(v) <= FRAME_SCALE * 0.93)


def _season_snowline_offset_m(date: str) -> float:
    """Seasonal snowline below the ELA (m, negative) for a day of year: low in spring, high in Aug-Sep."""
    doy = spectra.day_of_year(date)
    # Late-summer minimum around day 235 (late August); spring and autumn snow lie far lower.
    return float(-60.0 - 450.0 * (1.0 - math.exp(-(((doy - 235.0) / 60.0) ** 2))))


def simulate_scene(region: SyntheticRegion, wrs2: str, date: str, sensor: str | None = None,
                   cloud_cover: float | None = None) -> xr.Dataset:
    """Simulate one Landsat acquisition of a frame: DN bands, truth label, surface and cloud codes."""
    path, row = _parse_wrs2(wrs2)
    wrs2 = f"{path:03d}{row:03d}"
    date = _validate_date(date)
    year = int(date[:4])
    default_sensor = config.sensor_for_year(year)
    sensor = default_sensor if sensor is None else str(sensor).upper()
    if sensor not in ("TM", "OLI"):
        raise ValueError(f"sensor must be 'TM' or 'OLI', got {sensor!r}")
    if sensor == "OLI" and year < config.FIRST_OLI_YEAR:
        raise ValueError(f"sensor 'OLI' (Landsat 8) has no data before 2013, got date {date}")
    if sensor == "TM" and year > 2011:
        raise ValueError(f"sensor 'TM' (Landsat 5) stopped imaging in 2011, got date {date}")
    if cloud_cover is None:
        cloud_cover = _default_cloud_cover(region, wrs2, date)
    if not 0.0 <= float(cloud_cover) <= 100.0:
        raise ValueError(f"cloud_cover must be a percentage 0-100, got {cloud_cover}")
    period = config.period_of_year(year)
    area = config.area_of_scene(wrs2)
    s = region.scene_px
    r0, c0 = region.scene_origins[wrs2]
    rng = np.random.default_rng(_seed_from("scene", region.seed, wrs2, date))
    ground_rng = np.random.default_rng(_seed_from("ground", region.seed, wrs2))

    elev_deg, az_deg = spectra.sun_position(date, ROW_LATITUDE_DEG[row])
    d_au = spectra.earth_sun_distance(date)
    sin_e = math.sin(math.radians(elev_deg))

    # ---- terrain and light ------------------------------------------------------------
    z_all = region.elevation
    relief = float(z_all[r0:r0 + s, c0:c0 + s].max() - z_all[r0:r0 + s, c0:c0 + s].min()) + 400.0
    pad = int(min(MOSAIC_MARGIN_PX, math.ceil(relief / math.tan(math.radians(elev_deg)) / config.PIXEL_SIZE_M)))
    pad = max(pad, 2)
    zpad = _window(z_all, r0 - pad, c0 - pad, s + 2 * pad, s + 2 * pad)
    z = zpad[pad:pad + s, pad:pad + s]
    # Ice smooths its bed: glacier surfaces take their slope from a smoothed DEM.
    area_idx = region.area_index[r0:r0 + s, c0:c0 + s]
    margin = region.margin_m[r0:r0 + s, c0:c0 + s]
    rise = region._rise_per_pixel(period, area_idx)
    rise = np.where(np.isfinite(rise), rise, 0.0).astype(np.float32)
    glacier = margin > rise
    zsurf = zpad[pad - 1:pad + s + 1, pad - 1:pad + s + 1]
    zsurf = np.where(np.pad(glacier, 1, mode="edge"), ndimage.gaussian_filter(zsurf, 3.0), zsurf)
    gy, gx = np.gradient(zsurf, config.PIXEL_SIZE_M)
    gy, gx = -gy[1:-1, 1:-1], gx[1:-1, 1:-1]  # rows run south, so d/dnorth = -d/drow
    slope = np.arctan(np.hypot(gx, gy)).astype(np.float32)
    aspect = np.arctan2(-gx, -gy).astype(np.float32)  # downslope direction, clockwise from north
    zen, az = math.radians(90.0 - elev_deg), math.radians(az_deg)
    cos_i = (np.cos(slope) * math.cos(zen) + np.sin(slope) * math.sin(zen) * np.cos(az - aspect)).astype(np.float32)
    shadow = _cast_shadow(zpad, pad, elev_deg, az_deg)
    direct = np.where(shadow, 0.0, np.maximum(cos_i, 0.0)).astype(np.float32)
    sky_view = ((1.0 + np.cos(slope)) / 2.0).astype(np.float32)
    slope_deg = np.degrees(slope)

    # ---- smooth fields and glacier state ------------------------------------------------
    lr = {k: _upsample(v, r0, c0, s, s) for k, v in region.lowres.items()}
    headroom = margin - rise  # metres of ELA rise this pixel can still take
    ela_now = lr["ela_m"] + rise
    texture = spectral_noise((s, s), ground_rng, beta=2.3, min_wavelength_px=1.5)
    texture2 = spectral_noise((s, s), ground_rng, beta=2.8)

    # Glacier zones: firn above the ELA, clean ice below, dirty margins, debris on some tongues.
    firn = glacier & (z > ela_now + 40.0 * texture2)
    debris_prop = lr["debris"] * (0.6 + 0.4 * np.tanh(lr["debris_noise"]))
    debris = glacier & ~firn & (headroom < 260.0 * debris_prop) & (debris_prop > 0.12)
    ice = glacier & ~firn & ~debris

    # Lakes: proglacial lakes on flat, recently deglaciated valley floors, and plateau lakes.
    lake_prop = lr["lakes"] * (0.5 + 0.5 * np.tanh(lr["lake_noise"] + 0.6 * texture2))
    proglacial = (~glacier & np.isfinite(margin) & (headroom > -90.0) & (slope_deg < 9.0) & (lake_prop > 0.3))
    plateau = (~glacier & (slope_deg < 2.0) & (lr["lake_noise"] > 1.2) & (z < lr["ela_m"] - 500.0))
    water = proglacial | plateau
    turbid = proglacial

    # Seasonal snow off the glacier (and on it), patchy, more on shaded north-facing slopes.
    snowline = (ela_now + _season_snowline_offset_m(date) + lr["snowline_offset_m"]
                + 120.0 * lr["snow_noise"] + 60.0 * texture2)
    north = np.cos(aspect) * np.sin(slope)
    snow_frac = np.clip((z + 150.0 * north - snowline) / 220.0, 0.0, 1.0)
    snow_frac *= np.clip((60.0 - slope_deg) / 25.0, 0.0, 1.0)
    snow_frac[water] = 0.0
    snow_age = np.clip(0.5 + 0.3 * texture2 + 0.3 * (spectra.day_of_year(date) > 200), 0.0, 1.0)

    # Ground cover off the ice: meadow (east, gentle, low), soil (gentle), rock (steep).
    meadow_frac = np.clip(lr["meadow"] * (1.2 + 0.6 * lr["meadow_noise"] + 0.3 * texture2)
                          * np.clip((30.0 - slope_deg) / 20.0, 0.0, 1.0)
                          * np.clip((lr["ela_m"] - 250.0 - z) / 400.0, 0.0, 1.0), 0.0, 1.0)
    soil_frac = np.clip((32.0 - slope_deg) / 25.0 + 0.2 * texture2, 0.0, 1.0)

    # ---- reflectance -------------------------------------------------------------------
    R = spectra.reflectance
    bright = 1.0 + 0.18 * np.clip(lr["rock_noise"] * 0.5 + 0.5 * texture, -2, 2)
    wet = 1.0 - 0.25 * lr["moisture"] * np.clip(0.5 + 0.5 * texture2, 0, 1)
    rock_spec = R("rock")[:, None, None] * bright
    soil_spec = R("soil")[:, None, None] * wet * (1.0 + 0.08 * texture)
    ground = (1.0 - soil_frac) * rock_spec + soil_frac * soil_spec
    ground = (1.0 - meadow_frac) * ground + meadow_frac * R("meadow")[:, None, None] * (1.0 + 0.1 * texture)
    dirt = np.clip(np.exp(-np.maximum(headroom, 0.0) / 120.0) + 0.15 * texture, 0.0, 1.0)
    ice_spec = (1.0 - dirt) * R("clean_ice")[:, None, None] + dirt * R("dirty_ice")[:, None, None]
    snow_spec = (1.0 - snow_age) * R("fine_snow")[:, None, None] + snow_age * R("coarse_snow")[:, None, None]
    firn_spec = 0.5 * R("firn")[:, None, None] + 0.5 * snow_spec
    debris_spec = R("debris")[:, None, None] * (1.0 + 0.12 * texture)
    water_spec = np.where(turbid, 1.0, 0.0) * R("turbid_water")[:, None, None] \
        + np.where(turbid, 0.0, 1.0) * R("clear_water")[:, None, None]
    refl = np.where(firn, firn_spec, np.where(ice, ice_spec, np.where(debris, debris_spec, ground)))
    refl = np.where(water, water_spec, refl)
    refl = (1.0 - snow_frac) * refl + snow_frac * snow_spec
    refl = np.nan_to_num(refl).astype(np.float32)

    # Surface codes (dominant class).
    surface = np.where(soil_frac > 0.5, SURFACE_CODES["soil"], SURFACE_CODES["rock"]).astype(np.uint8)
    surface[meadow_frac > 0.5] = SURFACE_CODES["meadow"]
    surface[water] = SURFACE_CODES["water"]
    surface[(snow_frac > 0.5) & ~glacier] = SURFACE_CODES["seasonal_snow"]
    surface[ice] = SURFACE_CODES["clean_ice"]
    surface[debris] = SURFACE_CODES["debris_ice"]
    surface[firn | (glacier & ~debris & (snow_frac > 0.5))] = SURFACE_CODES["firn"]

    # ---- clouds, fog and their shadows ---------------------------------------------------
    cpad = pad
    cshape = (s + 2 * cpad, s + 2 * cpad)
    cfield = spectral_noise(cshape, rng, beta=3.2, min_wavelength_px=3.0)
    zc = _window(z_all, r0 - cpad, c0 - cpad, *cshape)
    oro = float(lr["cloud_orography"].mean())
    cfield = cfield + 1.4 * oro * (zc - zc.mean()) / (zc.std() + 1e-6)
    cover = float(cloud_cover) / 100.0
    if cover > 0:
        thresh = np.quantile(cfield[cpad:cpad + s, cpad:cpad + s], 1.0 - cover)
        spread = float(cfield.std()) * 0.35
        opacity = AREA_CLIMATE[area].cloud_opacity
        alpha = opacity * np.clip(1.0 - np.exp(-np.maximum(cfield - thresh, 0.0) / spread * 1.6), 0.0, 0.98)
        alpha = np.where(cfield > thresh, np.maximum(alpha, 0.12), 0.0).astype(np.float32)
    else:
        alpha = np.zeros(cshape, dtype=np.float32)
    height_m = 1800.0
    shift = height_m / math.tan(math.radians(elev_deg)) / config.PIXEL_SIZE_M
    sr, sc = int(round(-math.cos(az) * shift)), int(round(math.sin(az) * shift))
    sr, sc = int(np.clip(sr, -cpad, cpad)), int(np.clip(sc, -cpad, cpad))
    caster = alpha[cpad + sr: cpad + sr + s, cpad + sc: cpad + sc + s]
    alpha = alpha[cpad:cpad + s, cpad:cpad + s]
    fog = np.clip(lr["fog"] * (1.0 + 0.8 * texture2), 0.0, 0.6).astype(np.float32)
    cloud_alpha = 1.0 - (1.0 - alpha) * (1.0 - fog)
    cloud_code = np.zeros((s, s), dtype=np.uint8)
    cloud_code[(caster > 0.3) & (cloud_alpha < 0.12)] = CLOUD_CODES["cloud_shadow"]
    cloud_code[cloud_alpha >= 0.12] = CLOUD_CODES["thin_cloud"]
    cloud_code[cloud_alpha >= 0.6] = CLOUD_CODES["thick_cloud"]

    # ---- at-sensor signal (x = pi L d² / ESUN, the OLI "reflectance without sun angle") -----
    haze = lr["haze"][None]
    shade_direct = direct * (1.0 - 0.85 * caster)
    irradiance = (_TRANSMITTANCE[:, None, None] * shade_direct[None]
                  + _DIFFUSE[:, None, None] * sin_e * sky_view[None])
    x = refl * irradiance + _PATH[:, None, None] * sin_e * haze
    cloud_spec = np.where(fog[None] > alpha[None], R("ice_cloud")[:, None, None], R("water_cloud")[:, None, None])
    x = (1.0 - cloud_alpha[None]) * x + cloud_alpha[None] * np.nan_to_num(cloud_spec) * sin_e
    for b in _REFL_IDX:  # TM point spread function (~0.5 px Gaussian)
        x[b] = ndimage.gaussian_filter(x[b], 0.5)

    # Band 6: brightness temperature of the mix, Planck radiance, 120 m native resolution.
    T = spectra.SURFACE_TEMPERATURE_K
    t_ground = (T["rock"] + 14.0 * (np.maximum(cos_i, 0) * ~shadow - 0.5) - 6.5 * (z - 5000.0) / 1000.0
                + lr["warm_k"] + 4.0 * meadow_frac)
    t_surf = np.where(glacier & ~debris, T["ice"], t_ground)
    t_surf = np.where(debris, T["debris"] + 6.0 * np.maximum(cos_i, 0) + lr["warm_k"], t_surf)
    t_surf = np.where(water, T["water"] + lr["warm_k"], t_surf)
    t_surf = (1.0 - snow_frac) * t_surf + snow_frac * T["snow"]
    k1, k2 = (spectra.TM_K1, spectra.TM_K2) if sensor == "TM" else (spectra.TIRS_K1[10], spectra.TIRS_K2[10])
    l6 = (1.0 - cloud_alpha) * spectra.planck_radiance(t_surf, k1, k2) \
        + cloud_alpha * spectra.planck_radiance(T["cloud"], k1, k2)
    l6 = ndimage.gaussian_filter(l6.astype(np.float32), 1.6)

    dn = _to_dn(x, l6, sensor, date, d_au, rng)
    frame = _frame_mask(s)
    dn[:, ~frame] = DN_NODATA
    label = glacier.astype(np.uint8)
    label[~frame] = LABEL_NODATA
    surface[~frame] = CODE_NODATA
    cloud_code[~frame] = CODE_NODATA
    cc = 100.0 * float(np.isin(cloud_code[frame], (1, 2)).mean())
    return _as_dataset(region, wrs2, date, sensor, period, dn, label, surface, cloud_code,
                       elev_deg, az_deg, d_au, cc)


def _to_dn(x: np.ndarray, l6: np.ndarray, sensor: str, date: str, d_au: float,
           rng: np.random.Generator) -> np.ndarray:
    """Quantise the at-sensor signal to Level-1 DN (TM uint8 via Chander 2009; OLI uint16)."""
    nb, h, w = x.shape
    if sensor == "TM":
        gain, bias = spectra.tm_gain_bias(date)
        out = np.empty((nb, h, w), dtype=np.uint8)
        for b in range(nb):
            if b == _T6:
                radiance = l6
                noise = 0.4
            else:
                radiance = x[b] * spectra.TM_ESUN[b] / (math.pi * d_au ** 2)
                noise = 0.7
            q = (radiance - bias[b]) / gain[b] + rng.normal(0.0, noise, (h, w)).astype(np.float32)
            out[b] = np.clip(np.rint(q), spectra.TM_QCALMIN, spectra.TM_QCALMAX).astype(np.uint8)
        return out
    out = np.empty((nb, h, w), dtype=np.uint16)
    for b in range(nb):
        if b == _T6:
            q = (l6 - spectra.TIRS_RADIANCE_ADD) / spectra.TIRS_RADIANCE_MULT + rng.normal(0.0, 8.0, (h, w))
        else:
            q = (x[b] - spectra.OLI_REFLECTANCE_ADD) / spectra.OLI_REFLECTANCE_MULT + rng.normal(0.0, 25.0, (h, w))
        out[b] = np.clip(np.rint(q), spectra.OLI_QCALMIN, spectra.OLI_QCALMAX).astype(np.uint16)
    return out


def _as_dataset(region, wrs2, date, sensor, period, dn, label, surface, cloud_code,
                elev_deg, az_deg, d_au, cloud_cover) -> xr.Dataset:
    """Wrap the arrays in the project's scene contract (xarray + rioxarray CRS and transform)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    s = region.scene_px
    r0, c0 = region.scene_origins[wrs2]
    x0, y0 = MOSAIC_ORIGIN_XY
    px = config.PIXEL_SIZE_M
    xs = x0 + (c0 + np.arange(s) + 0.5) * px
    ys = y0 - (r0 + np.arange(s) + 0.5) * px
    coords = {"band": list(config.BAND_NUMBERS), "y": ys, "x": xs}
    dn_da = xr.DataArray(dn, dims=("band", "y", "x"), coords=coords, name="dn")
    dn_da = dn_da.assign_coords(band_name=("band", list(config.BAND_NAMES)))
    dn_da.attrs["nodata"] = DN_NODATA
    dn_da = dn_da.rio.write_nodata(DN_NODATA, encoded=False)
    ds = xr.Dataset(
        {
            "dn": dn_da,
            "label": xr.DataArray(label, dims=("y", "x"), attrs={"nodata": LABEL_NODATA, "flag_values": "0 not glacier, 1 glacier, 255 nodata"}),
            "surface": xr.DataArray(surface, dims=("y", "x"), attrs={"codes": str(SURFACE_CLASSES), "nodata": CODE_NODATA}),
            "cloud": xr.DataArray(cloud_code, dims=("y", "x"), attrs={"codes": str(CLOUD_CLASSES), "nodata": CODE_NODATA}),
        },
        coords={"y": ys, "x": xs},
    )
    ds.attrs.update({
        "wrs2": wrs2, "area": config.area_of_scene(wrs2), "date": date, "sensor": sensor,
        "sun_elevation": round(float(elev_deg), 6), "sun_azimuth": round(float(az_deg), 6),
        "earth_sun_distance": round(float(d_au), 7), "period": int(period),
        "cloud_cover": round(float(cloud_cover), 2), "source": "synthetic",
        "seed": int(region.seed), "profile": region.profile.name,
    })
    ds = ds.rio.write_crs(config.STUDY_CRS)
    ds = ds.rio.write_transform(_scene_transform(xs[0] - px / 2, ys[0] + px / 2))
    return ds


def _scene_transform(x_ul: float, y_ul: float):
    from affine import Affine

    return Affine(config.PIXEL_SIZE_M, 0.0, x_ul, 0.0, -config.PIXEL_SIZE_M, y_ul)


# --------------------------------------------------------------------------------------------
# Level-1 export (Collection 2 naming and MTL)
# --------------------------------------------------------------------------------------------
def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_geotiff(path: Path, array: np.ndarray, scene: xr.Dataset, nodata: int | None) -> None:
    import rasterio

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tif")
    os.close(fd)
    try:
        profile = {
            "driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
            "dtype": array.dtype.name, "crs": config.STUDY_CRS, "transform": scene.rio.transform(),
            "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256,
        }
        if array.shape[0] < 256 or array.shape[1] < 256:
            profile.update(tiled=False)
            profile.pop("blockxsize")
            profile.pop("blockysize")
        if nodata is not None:
            profile["nodata"] = nodata
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(array, 1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def product_id(scene: xr.Dataset) -> str:
    """Collection 2 Level-1 product id, e.g. ``LT05_L1TP_138037_20070505_20200830_02_T1``."""
    sensor = scene.attrs["sensor"]
    prefix = "LT05" if sensor == "TM" else "LC08"
    return f"{prefix}_L1TP_{scene.attrs['wrs2']}_{scene.attrs['date'].replace('-', '')}_{PROCESSING_DATE[sensor]}_02_T1"


def _oli_extra_bands(scene: xr.Dataset) -> dict[int, np.ndarray]:
    """OLI bands without a TM equivalent (1 coastal, 9 cirrus, 11 thermal) derived from the others."""
    dn = scene["dn"]
    valid = dn.sel(band=1).values != DN_NODATA
    blue = dn.sel(band=1).values.astype(np.float64)
    coastal = np.where(valid, np.clip(blue * 1.04 + 300.0, 1, 65535), 0).astype(np.uint16)
    cloud = scene["cloud"].values if "cloud" in scene else np.zeros(blue.shape, np.uint8)
    rho_cirrus = 0.001 + np.where(cloud == 2, 0.03, np.where(cloud == 1, 0.01, 0.0))
    cirrus = np.where(valid, (rho_cirrus - spectra.OLI_REFLECTANCE_ADD) / spectra.OLI_REFLECTANCE_MULT, 0).astype(np.uint16)
    l10 = dn.sel(band=6).values * spectra.TIRS_RADIANCE_MULT + spectra.TIRS_RADIANCE_ADD
    t10 = spectra.brightness_temperature(np.maximum(l10, 1e-3), spectra.TIRS_K1[10], spectra.TIRS_K2[10])
    l11 = spectra.planck_radiance(t10 - 1.2, spectra.TIRS_K1[11], spectra.TIRS_K2[11])
    b11 = np.clip(np.rint((l11 - spectra.TIRS_RADIANCE_ADD) / spectra.TIRS_RADIANCE_MULT), 1, 65535)
    b11 = np.where(valid, b11, 0).astype(np.uint16)
    return {1: coastal, 9: cirrus, 11: b11}


def _qa_pixel(scene: xr.Dataset) -> np.ndarray:
    """Collection 2 QA_PIXEL bits from the synthetic truth (fill, cloud, shadow, snow, clear, water)."""
    valid = scene["dn"].sel(band=1).values != DN_NODATA
    cloud = scene["cloud"].values if "cloud" in scene else np.zeros(valid.shape, np.uint8)
    surface = scene["surface"].values if "surface" in scene else np.zeros(valid.shape, np.uint8)
    qa = np.zeros(valid.shape, dtype=np.uint16)
    qa[~valid] = 1  # bit 0 fill
    thick, thin, shadow = cloud == 2, cloud == 1, cloud == 3
    qa |= (thick.astype(np.uint16) << 3)  # bit 3 cloud
    qa |= (shadow.astype(np.uint16) << 4)  # bit 4 cloud shadow
    snowy = np.isin(surface, (4, 5, 6)) & ~thick
    qa |= (snowy.astype(np.uint16) << 5)  # bit 5 snow
    clear = valid & ~thick & ~shadow
    qa |= (clear.astype(np.uint16) << 6)  # bit 6 clear
    qa |= (((surface == 3) & clear).astype(np.uint16) << 7)  # bit 7 water
    conf = np.where(thick, 3, np.where(thin, 2, 1)).astype(np.uint16)
    qa |= np.where(valid, conf << 8, 0).astype(np.uint16)  # bits 8-9 cloud confidence
    qa |= np.where(valid, np.where(shadow, 3, 1) << 10, 0).astype(np.uint16)  # bits 10-11 shadow
    qa |= np.where(valid, np.where(snowy, 3, 1) << 12, 0).astype(np.uint16)  # bits 12-13 snow
    return qa


def write_level1(scene: xr.Dataset, folder: str | os.PathLike) -> Path:
    """Write a scene as Collection 2 Level-1 band GeoTIFFs + MTL (+ truth label); return the MTL path.

    TM: ``LT05_L1TP_PPPRRR_YYYYMMDD_<processed>_02_T1_B1.TIF`` ... ``_B7.TIF``; OLI: ``LC08_..._B1``
    ... ``_B11`` (B8, the 15 m panchromatic band, is not simulated), TM bands mapped through
    `config.SENSOR_BAND_FILES`. Also ``_QA_PIXEL.TIF`` and the truth ``_LABEL.TIF`` (not a USGS
    file). Every file is written under a temporary name and moved into place.
    """
    for key in ("wrs2", "date", "sensor", "sun_elevation", "sun_azimuth"):
        if key not in scene.attrs:
            raise ValueError(f"scene: attribute {key!r} is missing; write_level1 needs a scene from simulate_scene")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sensor = scene.attrs["sensor"]
    pid = product_id(scene)
    band_files: dict[int, np.ndarray] = {}
    for tm_band, file_band in config.SENSOR_BAND_FILES[sensor].items():
        band_files[file_band] = scene["dn"].sel(band=tm_band).values
    if sensor == "OLI":
        band_files.update(_oli_extra_bands(scene))
    for file_band in sorted(band_files):
        _atomic_write_geotiff(folder / f"{pid}_B{file_band}.TIF", band_files[file_band], scene, DN_NODATA)
    _atomic_write_geotiff(folder / f"{pid}_QA_PIXEL.TIF", _qa_pixel(scene), scene, None)
    _atomic_write_geotiff(folder / f"{pid}_LABEL.TIF", scene["label"].values.astype(np.uint8), scene, LABEL_NODATA)
    mtl = folder / f"{pid}_MTL.txt"
    _atomic_write_text(mtl, level1_mtl_text(scene, sorted(band_files)))
    return mtl


def level1_mtl_text(scene: xr.Dataset, file_bands: Iterable[int]) -> str:
    """A Collection 2 ``LANDSAT_METADATA_FILE`` MTL for a synthetic scene (standard USGS keys)."""
    a = scene.attrs
    sensor = a["sensor"]
    pid = product_id(scene)
    path, row = int(a["wrs2"][:3]), int(a["wrs2"][3:])
    d_au = float(a.get("earth_sun_distance", spectra.earth_sun_distance(a["date"])))
    transform = scene.rio.transform()
    h, w = scene.sizes["y"], scene.sizes["x"]
    ulx, uly = transform.c, transform.f
    lrx, lry = ulx + w * transform.a, uly + h * transform.e
    lon = 93.5 + (139 - path) * 1.45
    utc = (10.2 - lon / 15.0) % 24
    hh, mm = int(utc), int((utc % 1) * 60)
    ss = ((utc * 3600) % 60)
    file_bands = list(file_bands)
    inv = {fb: tm for tm, fb in config.SENSOR_BAND_FILES[sensor].items()}
    lines = ["GROUP = LANDSAT_METADATA_FILE"]

    def group(name, items):
        lines.append(f"  GROUP = {name}")
        for k, v in items:
            lines.append(f"    {k} = {v}")
        lines.append(f"  END_GROUP = {name}")

    dtype = "UINT8" if sensor == "TM" else "UINT16"
    contents = [
        ("ORIGIN", '"Synthetic scene from glacier_utils.synthetic (not a USGS product)"'),
        ("LANDSAT_PRODUCT_ID", f'"{pid}"'), ("PROCESSING_LEVEL", '"L1TP"'),
        ("COLLECTION_NUMBER", "02"), ("COLLECTION_CATEGORY", '"T1"'), ("OUTPUT_FORMAT", '"GEOTIFF"'),
    ]
    contents += [(f"FILE_NAME_BAND_{b}", f'"{pid}_B{b}.TIF"') for b in file_bands]
    contents += [("FILE_NAME_QUALITY_L1_PIXEL", f'"{pid}_QA_PIXEL.TIF"'), ("FILE_NAME_METADATA_ODL", f'"{pid}_MTL.txt"')]
    contents += [(f"DATA_TYPE_BAND_{b}", f'"{dtype}"') for b in file_bands]
    group("PRODUCT_CONTENTS", contents)
    group("IMAGE_ATTRIBUTES", [
        ("SPACECRAFT_ID", '"LANDSAT_5"' if sensor == "TM" else '"LANDSAT_8"'),
        ("SENSOR_ID", '"TM"' if sensor == "TM" else '"OLI_TIRS"'),
        ("WRS_TYPE", "2"), ("WRS_PATH", str(path)), ("WRS_ROW", f"{row:d}"),
        ("DATE_ACQUIRED", a["date"]), ("SCENE_CENTER_TIME", f'"{hh:02d}:{mm:02d}:{ss:010.7f}Z"'),
        ("CLOUD_COVER", f"{float(a.get('cloud_cover', 0.0)):.2f}"),
        ("CLOUD_COVER_LAND", f"{float(a.get('cloud_cover', 0.0)):.2f}"),
        ("SUN_AZIMUTH", f"{float(a['sun_azimuth']):.8f}"), ("SUN_ELEVATION", f"{float(a['sun_elevation']):.8f}"),
        ("EARTH_SUN_DISTANCE", f"{d_au:.7f}"),
    ])
    group("PROJECTION_ATTRIBUTES", [
        ("MAP_PROJECTION", '"UTM"'), ("DATUM", '"WGS84"'), ("ELLIPSOID", '"WGS84"'), ("UTM_ZONE", "46"),
        ("GRID_CELL_SIZE_REFLECTIVE", "30.00"), ("GRID_CELL_SIZE_THERMAL", "30.00"),
        ("REFLECTIVE_LINES", str(h)), ("REFLECTIVE_SAMPLES", str(w)),
        ("THERMAL_LINES", str(h)), ("THERMAL_SAMPLES", str(w)), ("ORIENTATION", '"NORTH_UP"'),
        ("CORNER_UL_PROJECTION_X_PRODUCT", f"{ulx:.3f}"), ("CORNER_UL_PROJECTION_Y_PRODUCT", f"{uly:.3f}"),
        ("CORNER_UR_PROJECTION_X_PRODUCT", f"{lrx:.3f}"), ("CORNER_UR_PROJECTION_Y_PRODUCT", f"{uly:.3f}"),
        ("CORNER_LL_PROJECTION_X_PRODUCT", f"{ulx:.3f}"), ("CORNER_LL_PROJECTION_Y_PRODUCT", f"{lry:.3f}"),
        ("CORNER_LR_PROJECTION_X_PRODUCT", f"{lrx:.3f}"), ("CORNER_LR_PROJECTION_Y_PRODUCT", f"{lry:.3f}"),
    ])
    rad, refl, pix, thermal = [], [], [], []
    if sensor == "TM":
        gain, bias = spectra.tm_gain_bias(a["date"])
        for fb in file_bands:
            i = spectra.BAND_INDEX[inv[fb]]
            rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{gain[i]:.4E}"), (f"RADIANCE_ADD_BAND_{fb}", f"{bias[i]:.5f}")]
            pix += [(f"QUANTIZE_CAL_MAX_BAND_{fb}", "255"), (f"QUANTIZE_CAL_MIN_BAND_{fb}", "1")]
            if inv[fb] != spectra.THERMAL_BAND:
                scale = math.pi * d_au ** 2 / spectra.TM_ESUN[i]
                refl += [(f"REFLECTANCE_MULT_BAND_{fb}", f"{gain[i] * scale:.4E}"),
                         (f"REFLECTANCE_ADD_BAND_{fb}", f"{bias[i] * scale:.6f}")]
        thermal = [("K1_CONSTANT_BAND_6", f"{spectra.TM_K1:.2f}"), ("K2_CONSTANT_BAND_6", f"{spectra.TM_K2:.2f}")]
    else:
        for fb in file_bands:
            pix += [(f"QUANTIZE_CAL_MAX_BAND_{fb}", "65535"), (f"QUANTIZE_CAL_MIN_BAND_{fb}", "1")]
            if fb in (10, 11):
                rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{spectra.TIRS_RADIANCE_MULT:.4E}"),
                        (f"RADIANCE_ADD_BAND_{fb}", f"{spectra.TIRS_RADIANCE_ADD:.5f}")]
                continue
            esun = spectra.OLI_ESUN_EXTRA[fb] if fb in spectra.OLI_ESUN_EXTRA else spectra.OLI_ESUN[spectra.BAND_INDEX[inv[fb]]]
            mult = spectra.OLI_REFLECTANCE_MULT * esun / (math.pi * d_au ** 2)
            rad += [(f"RADIANCE_MULT_BAND_{fb}", f"{mult:.4E}"),
                    (f"RADIANCE_ADD_BAND_{fb}", f"{spectra.OLI_REFLECTANCE_ADD / spectra.OLI_REFLECTANCE_MULT * mult:.5f}")]
            refl += [(f"REFLECTANCE_MULT_BAND_{fb}", f"{spectra.OLI_REFLECTANCE_MULT:.4E}"),
                     (f"REFLECTANCE_ADD_BAND_{fb}", f"{spectra.OLI_REFLECTANCE_ADD:.6f}")]
        for fb in (10, 11):
            thermal += [(f"K1_CONSTANT_BAND_{fb}", f"{spectra.TIRS_K1[fb]:.4f}"),
                        (f"K2_CONSTANT_BAND_{fb}", f"{spectra.TIRS_K2[fb]:.4f}")]
    group("LEVEL1_MIN_MAX_PIXEL_VALUE", pix)
    group("LEVEL1_RADIOMETRIC_RESCALING", rad + refl)
    group("LEVEL1_THERMAL_CONSTANTS", thermal)
    group("LEVEL1_PROJECTION_PARAMETERS", [
        ("MAP_PROJECTION", '"UTM"'), ("DATUM", '"WGS84"'), ("ELLIPSOID", '"WGS84"'), ("UTM_ZONE", "46"),
        ("GRID_CELL_SIZE_REFLECTIVE", "30.00"), ("GRID_CELL_SIZE_THERMAL", "30.00"),
        ("ORIENTATION", '"NORTH_UP"'), ("RESAMPLING_OPTION", '"CUBIC_CONVOLUTION"'),
    ])
    lines.append("END_GROUP = LANDSAT_METADATA_FILE")
    lines.append("END")
    return "\n".join(lines) + "\n"
