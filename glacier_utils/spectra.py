"""Spectral and sensor tables for the synthetic Landsat simulator (`glacier_utils.synthetic`).

Three kinds of numbers live here, each with its source:

* surface reflectance of every simulated surface class in the six reflective TM bands (1-5, 7),
  as band means read off published laboratory and field spectra (ASTER/JHU spectral library
  {Baldridge et al. 2009}, USGS splib07 {Kokaly et al. 2017}, snow and ice after Dozier 1989 and
  Warren 1982) and rounded to two digits: they are representative values for the class, not a
  measurement of any one sample;
* the Landsat 5 TM radiometric calibration (LMIN/LMAX, ESUN, thermal K1/K2) of Chander, Markham
  & Helder (2009, Remote Sens. Environ. 113, 893-903, Tables 8, 11 and 12);
* the Landsat 8 OLI/TIRS Level-1 scaling (reflectance 2e-5 / -0.1, TIRS radiance and K1/K2) as
  published in every Collection 2 MTL file (USGS Landsat 8-9 Data Format Control Book).

The band axis of every array here follows `config.BAND_NUMBERS` (TM 1..7); the thermal band 6
entry of a reflectance table is NaN because band 6 is simulated as brightness temperature.
"""

from __future__ import annotations

import math

import numpy as np

from glacier_utils import config

#: Index of each TM band number in the band axis (``config.BAND_NUMBERS`` order).
BAND_INDEX: dict[int, int] = {b: i for i, b in enumerate(config.BAND_NUMBERS)}
REFLECTIVE_BANDS: tuple[int, ...] = (1, 2, 3, 4, 5, 7)
THERMAL_BAND = 6

_NAN = float("nan")

# --------------------------------------------------------------------------------------------
# Surface reflectance, TM bands 1, 2, 3, 4, 5, (6 = NaN), 7
# --------------------------------------------------------------------------------------------
#: Representative band-mean reflectances (0-1). Sources per row:
#: * fine_snow / coarse_snow: ASTER spectral library "fine snow" and "coarse granular snow"
#:   (JHU, Baldridge et al. 2009); the drop to ~0.1 / ~0.03 at 1.65 um is the grain-size signal
#:   that makes TM5 dark over snow (Dozier 1989; Warren 1982).
#: * firn: old coarse, slightly dirty snow; between coarse snow and ice (Paul et al. 2015 Fig. 2).
#: * clean_ice / dirty_ice: ASTER/JHU "ice" and splib07 melting-ice spectra; visible 0.3-0.55,
#:   nearly black beyond 1.5 um.
#: * debris: splib07 granite/schist rock and moraine-like gravelly loam, slightly moist.
#: * rock: ASTER granite and greywacke band means; soil: ASTER "brown to dark brown gravelly
#:   loam"; meadow: splib07 "Lawn_Grass GDS91" and "Grass_dry" mixed for short alpine sward.
#: * clear_water / turbid_water: ASTER "tap water" and a glacial-flour lake (visible reflectance
#:   raised by suspended silt, near zero in the SWIR; Giardino et al. style turbid lakes).
#: * water_cloud / ice_cloud: liquid clouds stay bright at 1.65 um while ice clouds and snow are
#:   dark (Dozier 1989); values typical of optically thick stratiform cloud.
SURFACE_REFLECTANCE: dict[str, tuple[float, ...]] = {
    #               B1    B2    B3    B4    B5    B6    B7
    "fine_snow":   (0.96, 0.95, 0.93, 0.86, 0.14, _NAN, 0.06),
    "coarse_snow": (0.90, 0.88, 0.84, 0.70, 0.035, _NAN, 0.015),
    "firn":        (0.72, 0.70, 0.66, 0.55, 0.030, _NAN, 0.015),
    "clean_ice":   (0.58, 0.52, 0.45, 0.30, 0.020, _NAN, 0.010),
    "dirty_ice":   (0.34, 0.32, 0.29, 0.22, 0.035, _NAN, 0.025),
    "debris":      (0.10, 0.13, 0.16, 0.20, 0.24, _NAN, 0.19),
    "rock":        (0.12, 0.15, 0.19, 0.23, 0.29, _NAN, 0.23),
    "soil":        (0.09, 0.13, 0.17, 0.21, 0.31, _NAN, 0.27),
    "meadow":      (0.04, 0.08, 0.05, 0.36, 0.19, _NAN, 0.08),
    "clear_water": (0.06, 0.05, 0.03, 0.015, 0.005, _NAN, 0.003),
    "turbid_water": (0.10, 0.13, 0.11, 0.05, 0.010, _NAN, 0.005),
    "water_cloud": (0.78, 0.77, 0.76, 0.74, 0.52, _NAN, 0.30),
    "ice_cloud":   (0.70, 0.69, 0.68, 0.66, 0.28, _NAN, 0.12),
}


def reflectance(name: str) -> np.ndarray:
    """Reflectance spectrum of one surface (7 values in TM band order, NaN for band 6)."""
    try:
        return np.asarray(SURFACE_REFLECTANCE[name], dtype=np.float32)
    except KeyError:
        raise ValueError(f"unknown surface {name!r}; known: {', '.join(SURFACE_REFLECTANCE)}") from None


#: Typical kinetic surface temperatures (K) at ~5,000 m on a late-summer morning, for band 6.
#: Ice and snow cannot exceed melting point; rock and soil warm with insolation (added in the
#: simulator from the cosine of incidence). Clouds at 2-3 km above ground are colder.
SURFACE_TEMPERATURE_K: dict[str, float] = {
    "snow": 268.0, "ice": 271.5, "debris": 278.0, "rock": 276.0, "soil": 279.0,
    "meadow": 282.0, "water": 278.5, "cloud": 250.0,
}

# --------------------------------------------------------------------------------------------
# Landsat 5 TM calibration (Chander et al. 2009, Table 8: LMIN/LMAX in W m-2 sr-1 um-1)
# --------------------------------------------------------------------------------------------
TM_QCALMIN = 1
TM_QCALMAX = 255
#: Post-calibration-update dynamic ranges (acquisitions from 2003-05-05 onwards).
TM_LMIN = np.array([-1.52, -2.84, -1.17, -1.51, -0.37, 1.2378, -0.15])
TM_LMAX_FROM_2003 = np.array([193.0, 365.0, 264.0, 221.0, 30.2, 15.303, 16.5])
#: Before 2003-05-05 bands 1 and 2 had smaller LMAX (same table, first half).
TM_LMAX_BEFORE_2003 = np.array([169.0, 333.0, 264.0, 221.0, 30.2, 15.303, 16.5])
TM_CALIBRATION_CHANGE = "2003-05-05"
#: Exo-atmospheric solar irradiance, W m-2 um-1 (Chander et al. 2009, Table 11); band 6 none.
TM_ESUN = np.array([1983.0, 1796.0, 1536.0, 1031.0, 220.0, _NAN, 83.44])
#: Band 6 thermal constants (Chander et al. 2009, Table 12).
TM_K1 = 607.76
TM_K2 = 1260.56


def tm_gain_bias(date: str) -> tuple[np.ndarray, np.ndarray]:
    """TM radiance gain and bias per band (L = gain * DN + bias) for an ISO acquisition date."""
    lmax = TM_LMAX_FROM_2003 if date >= TM_CALIBRATION_CHANGE else TM_LMAX_BEFORE_2003
    gain = (lmax - TM_LMIN) / (TM_QCALMAX - TM_QCALMIN)
    bias = TM_LMIN - gain * TM_QCALMIN
    return gain, bias


# --------------------------------------------------------------------------------------------
# Landsat 8 OLI/TIRS Level-1 scaling (Collection 2 MTL, LEVEL1_RADIOMETRIC_RESCALING)
# --------------------------------------------------------------------------------------------
OLI_REFLECTANCE_MULT = 2.0e-5
OLI_REFLECTANCE_ADD = -0.1
OLI_QCALMIN = 1
OLI_QCALMAX = 65535
#: Solar irradiance equivalents of the OLI bands mapped to TM 1-5, 7 (W m-2 um-1); they only
#: set the RADIANCE_MULT/ADD written to the MTL (ratios of the published MTL radiance and
#: reflectance scalings, as used by GRASS i.landsat.toar).
OLI_ESUN = np.array([2067.0, 1893.0, 1603.0, 972.6, 245.0, _NAN, 79.72])
#: Extra OLI bands written to Level-1 files: 1 (coastal), 9 (cirrus).
OLI_ESUN_EXTRA = {1: 2067.0, 9: 361.0}
#: TIRS band 10 and 11 radiance scaling and thermal constants (Collection 2 MTL values).
TIRS_RADIANCE_MULT = 3.342e-4
TIRS_RADIANCE_ADD = 0.1
TIRS_K1 = {10: 774.8853, 11: 480.8883}
TIRS_K2 = {10: 1321.0789, 11: 1201.1442}


# --------------------------------------------------------------------------------------------
# Sun geometry
# --------------------------------------------------------------------------------------------
def day_of_year(date: str) -> int:
    """Day of year (1-366) of an ISO date string."""
    import datetime as _dt

    return _dt.date.fromisoformat(date).timetuple().tm_yday


def earth_sun_distance(date: str) -> float:
    """Earth-Sun distance in astronomical units: 1 - 0.01672 cos(0.9856 (doy - 4)) degrees.

    Within 3e-4 AU of Chander et al. (2009) Table 6, the table Landsat calibration uses (a
    Fourier fit such as Spencer 1971 is 4e-4 AU off it in early January).
    """
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (day_of_year(date) - 4)))


def sun_position(date: str, latitude_deg: float, solar_hour: float = 10.2) -> tuple[float, float]:
    """Sun (elevation, azimuth) in degrees at a local solar time; Landsat crosses at ~10:00.

    Declination from Spencer (1971); azimuth clockwise from north.
    """
    gamma = 2.0 * math.pi * (day_of_year(date) - 1) / 365.0
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


def planck_radiance(temperature_k: np.ndarray, k1: float, k2: float) -> np.ndarray:
    """Band radiance from brightness temperature: L = K1 / (exp(K2 / T) - 1)."""
    return k1 / np.expm1(k2 / np.asarray(temperature_k, dtype=np.float64))


def brightness_temperature(radiance: np.ndarray, k1: float, k2: float) -> np.ndarray:
    """Brightness temperature from band radiance: T = K2 / ln(K1 / L + 1)."""
    return k2 / np.log(k1 / np.asarray(radiance, dtype=np.float64) + 1.0)
