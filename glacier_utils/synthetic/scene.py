"""One simulated Landsat acquisition of a frame of the region: light, surfaces, sky, sensor.

`simulate_scene` runs named steps, each a function here:

* `_terrain_light`: sun position for the date, glacier extent of the period, cosine-of-incidence
  shading, cast shadows by ray marching and the diffuse sky view;
* `_glacier_zones`, `_lakes`, `_seasonal_snow`, `_ground_cover`: the surfaces (clean ice, firn,
  debris-covered tongues, proglacial and plateau lakes, seasonal snow, rock, soil, alpine meadow,
  more in the east), then `_reflectance` (published spectra, `glacier_utils.synthetic.spectra`, with
  within-class variability) and `_surface_codes`;
* `_sky`: thin and thick cloud and fog with their shadows;
* `_at_sensor_signal` and `_thermal_radiance`: diffuse sky light, path radiance (haze), PSF blur,
  and band 6 as brightness temperature through Planck's law;
* `_to_dn`: the sensor, reflectance -> radiance -> DN with the Landsat 5 TM calibration (uint8,
  saturating over bright snow) or the OLI Level-1 scaling from 2013 (uint16), with noise, using
  the constants of `glacier_utils.io.radiometry`.

Random draws come from two generators seeded by the region seed and the acquisition ("scene")
or the frame alone ("ground"), always in the same order, so the same call returns the same numbers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from scipy import ndimage

from glacier_utils import config
from glacier_utils.io import radiometry
from glacier_utils.synthetic import climate, spectra
from glacier_utils.synthetic.climate import AREA_CLIMATE, ROW_LATITUDE_DEG
from glacier_utils.synthetic.region import (
    MOSAIC_MARGIN_PX, MOSAIC_ORIGIN_XY, SyntheticRegion, _default_cloud_cover, _frame_mask, _parse_wrs2,
    _seed_from, _validate_date,
)
from glacier_utils.synthetic.terrain import _upsample, spectral_noise

#: Two-way atmospheric transmittance, diffuse-sky fraction and path reflectance per TM band at
#: ~5 km altitude (thin, dry atmosphere; values in the range MODTRAN gives for high plateaus).
_TRANSMITTANCE = np.array([0.80, 0.86, 0.90, 0.93, 0.96, 1.0, 0.97], dtype=np.float32)
_DIFFUSE = np.array([0.20, 0.14, 0.10, 0.06, 0.03, 0.0, 0.02], dtype=np.float32)
_PATH = np.array([0.050, 0.028, 0.015, 0.008, 0.002, 0.0, 0.001], dtype=np.float32)
_REFL_IDX = [radiometry.BAND_INDEX[b] for b in radiometry.REFLECTIVE_BANDS]
_T6 = radiometry.BAND_INDEX[radiometry.THERMAL_BAND]


def sun_position(date: str, latitude_deg: float, solar_hour: float = 10.2) -> tuple[float, float]:
    """Sun (elevation, azimuth) in degrees at a local solar time; Landsat crosses at ~10:00.

    Declination from Spencer (1971); azimuth clockwise from north.
    """
    gamma = 2.0 * math.pi * (radiometry.day_of_year(date) - 1) / 365.0
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
            - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
            - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    lat = math.radians(latitude_deg)
    hour_angle = math.radians(15.0 * (solar_hour - 12.0))
    sin_elev = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    elev = math.asin(sin_elev)
    cos_az = (math.sin(decl) - math.sin(elev) * math.sin(lat)) / (math.cos(elev) * math.cos(lat))
    az = math.degrees(math.acos(max(-1.0, min(1.0, cos_az))))
    if hour_angle > 0:
        az = 360.0 - az
    return math.degrees(elev), az


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


def _season_snowline_offset_m(date: str) -> float:
    """Seasonal snowline below the ELA (m, negative) for a day of year: low in spring, high in Aug-Sep."""
    doy = radiometry.day_of_year(date)
    # Late-summer minimum around day 235 (late August); spring and autumn snow lie far lower.
    cal = climate.CALIBRATION
    return float(-cal.snowline_summer_m - cal.snowline_spring_m * (1.0 - math.exp(-(((doy - 235.0) / 60.0) ** 2))))


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Terrain:
    """A frame's elevation, glacier state and illumination for one acquisition."""

    pad: int
    z: np.ndarray
    margin: np.ndarray
    rise: np.ndarray
    glacier: np.ndarray
    slope: np.ndarray
    aspect: np.ndarray
    slope_deg: np.ndarray
    cos_i: np.ndarray
    shadow: np.ndarray
    direct: np.ndarray
    sky_view: np.ndarray


def _terrain_light(region: SyntheticRegion, r0: int, c0: int, period: int,
                   elev_deg: float, az_deg: float) -> _Terrain:
    """Glacier extent of the period, slope and aspect, cosine of incidence, cast shadow and sky view."""
    s = region.scene_px
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
    return _Terrain(pad, z, margin, rise, glacier, slope, aspect, np.degrees(slope), cos_i, shadow, direct, sky_view)


def _glacier_zones(t: _Terrain, lr: dict[str, np.ndarray], debris_margin: np.ndarray, texture2: np.ndarray):
    """Firn above the ELA, clean ice below, debris on the ice closest to melting out: (firn, debris, ice) masks."""
    firn = t.glacier & (t.z > lr["ela_m"] + t.rise + 40.0 * texture2)
    debris = t.glacier & ~firn & (t.margin <= debris_margin)
    return firn, debris, t.glacier & ~firn & ~debris


def _lakes(t: _Terrain, lr: dict[str, np.ndarray], headroom: np.ndarray, texture2: np.ndarray):
    """Proglacial lakes on flat, recently deglaciated valley floors (turbid) and plateau lakes: (water, turbid)."""
    lake_prop = lr["lakes"] * (0.5 + 0.5 * np.tanh(lr["lake_noise"] + 0.6 * texture2))
    proglacial = (~t.glacier & np.isfinite(t.margin) & (headroom > -90.0) & (t.slope_deg < 9.0) & (lake_prop > 0.3))
    plateau = (~t.glacier & (t.slope_deg < 2.0) & (lr["lake_noise"] > 1.2) & (t.z < lr["ela_m"] - 500.0))
    return proglacial | plateau, proglacial


def _seasonal_snow(t: _Terrain, lr: dict[str, np.ndarray], date: str, texture2: np.ndarray, water: np.ndarray):
    """Patchy seasonal snow on and off the ice, more on shaded north-facing slopes: (fraction, age)."""
    snowline = (lr["ela_m"] + t.rise + _season_snowline_offset_m(date) + lr["snowline_offset_m"]
                + 120.0 * lr["snow_noise"] + 60.0 * texture2)
    north = np.cos(t.aspect) * np.sin(t.slope)
    snow_frac = np.clip((t.z + 150.0 * north - snowline) / 220.0, 0.0, 1.0)
    snow_frac *= np.clip((60.0 - t.slope_deg) / 25.0, 0.0, 1.0)
    snow_frac[water] = 0.0
    snow_age = np.clip(climate.CALIBRATION.snow_age_spring + 0.3 * texture2
                       + 0.3 * (radiometry.day_of_year(date) > 200), 0.0, 1.0)
    return snow_frac, snow_age


def _ground_cover(t: _Terrain, lr: dict[str, np.ndarray], texture2: np.ndarray):
    """Ground cover off the ice: meadow (east, gentle, low), soil (gentle), rock (steep): (meadow, soil) fractions."""
    meadow_frac = np.clip(lr["meadow"] * (1.2 + 0.6 * lr["meadow_noise"] + 0.3 * texture2)
                          * np.clip((30.0 - t.slope_deg) / 20.0, 0.0, 1.0)
                          * np.clip((lr["ela_m"] - 250.0 - t.z) / 400.0, 0.0, 1.0), 0.0, 1.0)
    soil_frac = np.clip((32.0 - t.slope_deg) / 25.0 + 0.2 * texture2, 0.0, 1.0)
    return meadow_frac, soil_frac


@dataclasses.dataclass
class _Surfaces:
    """What lies on the ground of a frame: glacier zones, water, snow and ground-cover fractions."""

    firn: np.ndarray
    debris: np.ndarray
    ice: np.ndarray
    water: np.ndarray
    turbid: np.ndarray
    snow_frac: np.ndarray
    snow_age: np.ndarray
    meadow_frac: np.ndarray
    soil_frac: np.ndarray


def _reflectance(g: _Surfaces, lr: dict[str, np.ndarray], headroom: np.ndarray,
                 texture: np.ndarray, texture2: np.ndarray) -> np.ndarray:
    """Surface reflectance (band, y, x), float32: each class's spectrum with within-class variability, mixed."""
    R = spectra.reflectance
    bright = 1.0 + 0.18 * np.clip(lr["rock_noise"] * 0.5 + 0.5 * texture, -2, 2)
    wet = 1.0 - 0.25 * lr["moisture"] * np.clip(0.5 + 0.5 * texture2, 0, 1)
    rock_spec = R("rock")[:, None, None] * bright
    soil_spec = R("soil")[:, None, None] * wet * (1.0 + 0.08 * texture)
    ground = (1.0 - g.soil_frac) * rock_spec + g.soil_frac * soil_spec
    ground = (1.0 - g.meadow_frac) * ground + g.meadow_frac * R("meadow")[:, None, None] * (1.0 + 0.1 * texture)
    dirt = np.clip(np.exp(-np.maximum(headroom, 0.0) / climate.CALIBRATION.dirt_scale_m) + 0.15 * texture, 0.0, 1.0)
    ice_spec = (1.0 - dirt) * R("clean_ice")[:, None, None] + dirt * R("dirty_ice")[:, None, None]
    snow_spec = (1.0 - g.snow_age) * R("fine_snow")[:, None, None] + g.snow_age * R("coarse_snow")[:, None, None]
    firn_spec = 0.5 * R("firn")[:, None, None] + 0.5 * snow_spec
    debris_spec = R("debris")[:, None, None] * (1.0 + 0.12 * texture)
    water_spec = np.where(g.turbid, 1.0, 0.0) * R("turbid_water")[:, None, None] \
        + np.where(g.turbid, 0.0, 1.0) * R("clear_water")[:, None, None]
    refl = np.where(g.firn, firn_spec, np.where(g.ice, ice_spec, np.where(g.debris, debris_spec, ground)))
    refl = np.where(g.water, water_spec, refl)
    refl = (1.0 - g.snow_frac) * refl + g.snow_frac * snow_spec
    return np.nan_to_num(refl).astype(np.float32)


def _surface_codes(g: _Surfaces, glacier: np.ndarray) -> np.ndarray:
    """The dominant surface class of each pixel (`config.SURFACE_CODES`), uint8."""
    codes = config.SURFACE_CODES
    surface = np.where(g.soil_frac > 0.5, codes["soil"], codes["rock"]).astype(np.uint8)
    surface[g.meadow_frac > 0.5] = codes["meadow"]
    surface[g.water] = codes["water"]
    surface[(g.snow_frac > 0.5) & ~glacier] = codes["seasonal_snow"]
    surface[g.ice] = codes["clean_ice"]
    surface[g.debris] = codes["debris_ice"]
    surface[g.firn | (glacier & ~g.debris & (g.snow_frac > 0.5))] = codes["firn"]
    return surface


def _sky(region: SyntheticRegion, r0: int, c0: int, pad: int, lr: dict[str, np.ndarray], texture2: np.ndarray,
         cloud_cover: float, area: str, elev_deg: float, az_deg: float, rng: np.random.Generator):
    """Clouds, fog and their shadows: (cloud opacity, shadow caster, fog, combined opacity, cloud codes)."""
    s = region.scene_px
    cpad = pad
    cshape = (s + 2 * cpad, s + 2 * cpad)
    cfield = spectral_noise(cshape, rng, beta=3.2, min_wavelength_px=3.0)
    zc = _window(region.elevation, r0 - cpad, c0 - cpad, *cshape)
    oro = float(lr["cloud_orography"].mean())
    cfield = cfield + 1.4 * oro * (zc - zc.mean()) / (zc.std() + 1e-6)
    cover = float(cloud_cover) / 100.0
    if cover > 0:
        thresh = np.quantile(cfield[cpad:cpad + s, cpad:cpad + s], 1.0 - cover)
        spread = float(cfield.std()) * 0.35
        opacity = AREA_CLIMATE[area].cloud_opacity
        alpha = opacity * np.clip(1.0 - np.exp(-np.maximum(cfield - thresh, 0.0) / spread * 1.6), 0.0, 0.98)
        alpha = np.where(cfield > thresh, np.maximum(alpha, climate.CALIBRATION.cloud_min_opacity), 0.0).astype(np.float32)
    else:
        alpha = np.zeros(cshape, dtype=np.float32)
    height_m = 1800.0
    shift = height_m / math.tan(math.radians(elev_deg)) / config.PIXEL_SIZE_M
    az = math.radians(az_deg)
    sr, sc = int(round(-math.cos(az) * shift)), int(round(math.sin(az) * shift))
    sr, sc = int(np.clip(sr, -cpad, cpad)), int(np.clip(sc, -cpad, cpad))
    caster = alpha[cpad + sr: cpad + sr + s, cpad + sc: cpad + sc + s]
    alpha = alpha[cpad:cpad + s, cpad:cpad + s]
    fog = np.clip(lr["fog"] * (1.0 + 0.8 * texture2), 0.0, 0.6).astype(np.float32)
    cloud_alpha = 1.0 - (1.0 - alpha) * (1.0 - fog)
    cloud_code = np.zeros((s, s), dtype=np.uint8)
    cloud_code[(caster > 0.3) & (cloud_alpha < 0.12)] = config.CLOUD_CODES["cloud_shadow"]
    cloud_code[cloud_alpha >= 0.12] = config.CLOUD_CODES["thin_cloud"]
    cloud_code[cloud_alpha >= 0.6] = config.CLOUD_CODES["thick_cloud"]
    return alpha, caster, fog, cloud_alpha, cloud_code


def _at_sensor_signal(refl: np.ndarray, t: _Terrain, lr: dict[str, np.ndarray], alpha: np.ndarray,
                      caster: np.ndarray, fog: np.ndarray, cloud_alpha: np.ndarray, sin_e: float) -> np.ndarray:
    """x = pi L d² / ESUN (the OLI "reflectance without sun angle"): light, path radiance, cloud, PSF."""
    R = spectra.reflectance
    haze = lr["haze"][None]
    cal = climate.CALIBRATION
    shade_direct = t.direct * (1.0 - cal.cloud_shadow_depth * caster)
    irradiance = (_TRANSMITTANCE[:, None, None] * shade_direct[None]
                  + cal.diffuse_scale * _DIFFUSE[:, None, None] * sin_e * t.sky_view[None])
    x = refl * irradiance + _PATH[:, None, None] * sin_e * haze
    cloud_spec = np.where(fog[None] > alpha[None], R("ice_cloud")[:, None, None], R("water_cloud")[:, None, None])
    x = (1.0 - cloud_alpha[None]) * x + cloud_alpha[None] * np.nan_to_num(cloud_spec) * sin_e
    for b in _REFL_IDX:  # TM point spread function (~0.5 px Gaussian)
        x[b] = ndimage.gaussian_filter(x[b], 0.5)
    return x


def _thermal_radiance(t: _Terrain, lr: dict[str, np.ndarray], g: _Surfaces, cloud_alpha: np.ndarray,
                      sensor: str) -> np.ndarray:
    """Band 6: brightness temperature of the mix, Planck radiance, 120 m native resolution."""
    T = spectra.SURFACE_TEMPERATURE_K
    t_ground = (T["rock"] + 14.0 * (np.maximum(t.cos_i, 0) * ~t.shadow - 0.5) - 6.5 * (t.z - 5000.0) / 1000.0
                + lr["warm_k"] + 4.0 * g.meadow_frac)
    t_surf = np.where(t.glacier & ~g.debris, T["ice"], t_ground)
    t_surf = np.where(g.debris, T["debris"] + 6.0 * np.maximum(t.cos_i, 0) + lr["warm_k"], t_surf)
    t_surf = np.where(g.water, T["water"] + lr["warm_k"], t_surf)
    t_surf = (1.0 - g.snow_frac) * t_surf + g.snow_frac * T["snow"]
    if sensor == "TM":
        k1, k2 = radiometry.TM_K1, radiometry.TM_K2
    else:
        k1, k2 = radiometry.TIRS_K1[10], radiometry.TIRS_K2[10]
    l6 = (1.0 - cloud_alpha) * radiometry.planck_radiance(t_surf, k1, k2) \
        + cloud_alpha * radiometry.planck_radiance(T["cloud"], k1, k2)
    return ndimage.gaussian_filter(l6.astype(np.float32), 1.6)


def _to_dn(x: np.ndarray, l6: np.ndarray, sensor: str, date: str, d_au: float,
           rng: np.random.Generator) -> np.ndarray:
    """Quantise the at-sensor signal to Level-1 DN (TM uint8 via Chander 2009; OLI uint16)."""
    nb, h, w = x.shape
    if sensor == "TM":
        gain, bias = radiometry.tm_gain_bias(date)
        out = np.empty((nb, h, w), dtype=np.uint8)
        for b in range(nb):
            if b == _T6:
                radiance = l6
                noise = 0.4
            else:
                radiance = x[b] * radiometry.TM_ESUN[b] / (math.pi * d_au ** 2)
                noise = 0.7
            noise_dn = rng.normal(0.0, noise, (h, w)).astype(np.float32)
            q = radiometry.tm_dn_from_radiance(radiance, gain[b], bias[b]) + noise_dn
            out[b] = np.clip(np.rint(q), radiometry.TM_QCALMIN, radiometry.TM_QCALMAX).astype(np.uint8)
        return out
    out = np.empty((nb, h, w), dtype=np.uint16)
    for b in range(nb):
        if b == _T6:
            q = radiometry.tirs_dn_from_radiance(l6) + rng.normal(0.0, 8.0, (h, w))
        else:
            q = radiometry.oli_dn_from_reflectance(x[b]) + rng.normal(0.0, 25.0, (h, w))
        out[b] = np.clip(np.rint(q), radiometry.OLI_QCALMIN, radiometry.OLI_QCALMAX).astype(np.uint16)
    return out


# --------------------------------------------------------------------------------------------
# The scene
# --------------------------------------------------------------------------------------------
def _check_acquisition(region: SyntheticRegion, wrs2: str, date: str, sensor: str | None,
                       cloud_cover: float | None) -> tuple[str, str, int, str, float]:
    """Validate an acquisition: (wrs2, ISO date, WRS-2 row, sensor, cloud cover %), defaults filled in."""
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
    return wrs2, date, row, sensor, cloud_cover


def simulate_scene(region: SyntheticRegion, wrs2: str, date: str, sensor: str | None = None,
                   cloud_cover: float | None = None) -> xr.Dataset:
    """Simulate one Landsat acquisition of a frame: DN bands, truth label, surface and cloud codes."""
    wrs2, date, row, sensor, cloud_cover = _check_acquisition(region, wrs2, date, sensor, cloud_cover)
    period = config.period_of_year(int(date[:4]))
    area = config.area_of_scene(wrs2)
    s = region.scene_px
    r0, c0 = region.scene_origins[wrs2]
    rng = np.random.default_rng(_seed_from("scene", region.seed, wrs2, date))
    ground_rng = np.random.default_rng(_seed_from("ground", region.seed, wrs2))
    elev_deg, az_deg = sun_position(date, ROW_LATITUDE_DEG[row])
    d_au = radiometry.earth_sun_distance(date)
    sin_e = math.sin(math.radians(elev_deg))

    terrain = _terrain_light(region, r0, c0, period, elev_deg, az_deg)
    lr = {k: _upsample(v, r0, c0, s, s) for k, v in region.lowres.items()}
    headroom = terrain.margin - terrain.rise  # metres of ELA rise this pixel can still take
    texture = spectral_noise((s, s), ground_rng, beta=2.3, min_wavelength_px=1.5)
    texture2 = spectral_noise((s, s), ground_rng, beta=2.8)
    debris_margin = region.debris_margin_m(period)[region.area_index[r0:r0 + s, c0:c0 + s]]
    firn, debris, ice = _glacier_zones(terrain, lr, debris_margin, texture2)
    water, turbid = _lakes(terrain, lr, headroom, texture2)
    snow_frac, snow_age = _seasonal_snow(terrain, lr, date, texture2, water)
    meadow_frac, soil_frac = _ground_cover(terrain, lr, texture2)
    ground = _Surfaces(firn, debris, ice, water, turbid, snow_frac, snow_age, meadow_frac, soil_frac)
    refl = _reflectance(ground, lr, headroom, texture, texture2)
    surface = _surface_codes(ground, terrain.glacier)
    alpha, caster, fog, cloud_alpha, cloud_code = _sky(region, r0, c0, terrain.pad, lr, texture2, cloud_cover,
                                                       area, elev_deg, az_deg, rng)
    x = _at_sensor_signal(refl, terrain, lr, alpha, caster, fog, cloud_alpha, sin_e)
    l6 = _thermal_radiance(terrain, lr, ground, cloud_alpha, sensor)
    dn = _to_dn(x, l6, sensor, date, d_au, rng)

    frame = _frame_mask(s)
    dn[:, ~frame] = config.LEVEL1_FILL_DN
    label = terrain.glacier.astype(np.uint8)
    label[~frame] = config.LABEL_NODATA
    surface[~frame] = config.LABEL_NODATA
    cloud_code[~frame] = config.LABEL_NODATA
    cloudy = (config.CLOUD_CODES["thin_cloud"], config.CLOUD_CODES["thick_cloud"])
    cc = 100.0 * float(np.isin(cloud_code[frame], cloudy).mean())
    return _as_dataset(region, wrs2, date, sensor, period, dn, label, surface, cloud_code,
                       elev_deg, az_deg, d_au, cc)


def _as_dataset(region, wrs2, date, sensor, period, dn, label, surface, cloud_code,
                elev_deg, az_deg, d_au, cloud_cover) -> xr.Dataset:
    """Wrap the arrays in the project's scene contract (xarray + rioxarray CRS and transform)."""
    s = region.scene_px
    r0, c0 = region.scene_origins[wrs2]
    x0, y0 = MOSAIC_ORIGIN_XY
    px = config.PIXEL_SIZE_M
    xs = x0 + (c0 + np.arange(s) + 0.5) * px
    ys = y0 - (r0 + np.arange(s) + 0.5) * px
    coords = {"band": list(config.BAND_NUMBERS), "y": ys, "x": xs}
    dn_da = xr.DataArray(dn, dims=("band", "y", "x"), coords=coords, name="dn")
    dn_da = dn_da.assign_coords(band_name=("band", list(config.BAND_NAMES)))
    dn_da.attrs["nodata"] = config.LEVEL1_FILL_DN
    dn_da = dn_da.rio.write_nodata(config.LEVEL1_FILL_DN, encoded=False)
    nodata = config.LABEL_NODATA
    ds = xr.Dataset(
        {
            "dn": dn_da,
            "label": xr.DataArray(label, dims=("y", "x"), attrs={"nodata": nodata, "flag_values": "0 not glacier, 1 glacier, 255 nodata"}),
            "surface": xr.DataArray(surface, dims=("y", "x"), attrs={"codes": str(config.SURFACE_CLASSES), "nodata": nodata}),
            "cloud": xr.DataArray(cloud_code, dims=("y", "x"), attrs={"codes": str(config.CLOUD_CLASSES), "nodata": nodata}),
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
    return ds.rio.write_transform(Affine(px, 0.0, xs[0] - px / 2, 0.0, -px, ys[0] + px / 2))
