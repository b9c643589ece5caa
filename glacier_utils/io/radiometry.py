"""Every Landsat sensor constant and radiometric formula, in one place: DN <-> radiance <-> TOA.

* Landsat 4/5 TM and 7 ETM+ calibration of Chander, Markham & Helder (2009, Remote Sens. Environ.
  113, 893-903): the TM dynamic ranges LMIN/LMAX and QCALMIN/QCALMAX (Table 8), the exo-atmospheric
  solar irradiance ESUN (Table 11), the thermal constants K1/K2 (Table 12) and the Earth-Sun
  distance (Table 6, here as a cosine fit).
* Landsat 8 OLI/TIRS Level-1 scaling (reflectance 2e-5 / -0.1, TIRS radiance and K1/K2) as
  published in every Collection 2 MTL file (USGS Landsat 8-9 Data Format Control Book).
* :func:`toa`: DN -> top-of-atmosphere (TOA) reflectance after the USGS product guides. With the
  MTL's ``REFLECTANCE_MULT/ADD`` (Collection 2, and all OLI products) rho = (M*Q + A) / sin(sun
  elevation); older TM/ETM+ files lack them, so radiance comes from ``RADIANCE_MULT/ADD`` (or
  LMIN/LMAX and QCALMIN/QCALMAX) and rho = pi * L * d^2 / (ESUN * cos(solar zenith)). The
  thermal band becomes brightness temperature T = K2 / ln(K1 / L + 1) (kelvin).
* :func:`tm_equivalent_dn`: an OLI scene as the DN Landsat 5 TM would have recorded (paper §II-B,
  §III-D: the 2013-2021 periods are mapped with networks trained on TM).

The band axis of every array here follows ``config.BAND_NUMBERS`` (TM 1..7); thermal band 6 has
no ESUN (NaN). The MTL itself is read by ``glacier_utils.io.landsat``; this module never imports
the simulator (``glacier_utils.synthetic`` imports it, for its sensor step and Level-1 writer).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from glacier_utils import config
from glacier_utils.errors import DataError
from glacier_utils.io.landsat import flatten_mtl, mtl_scene_metadata, read_mtl

__all__ = [
    "BAND_INDEX", "REFLECTIVE_BANDS", "THERMAL_BAND",
    "TM_QCALMIN", "TM_QCALMAX", "TM_LMIN", "TM_LMAX_FROM_2003", "TM_LMAX_BEFORE_2003",
    "TM_CALIBRATION_CHANGE", "ESUN", "TM_ESUN", "THERMAL_CONSTANTS", "TM_K1", "TM_K2",
    "OLI_REFLECTANCE_MULT", "OLI_REFLECTANCE_ADD", "OLI_QCALMIN", "OLI_QCALMAX", "OLI_ESUN",
    "OLI_ESUN_EXTRA", "TIRS_RADIANCE_MULT", "TIRS_RADIANCE_ADD", "TIRS_K1", "TIRS_K2",
    "TM_REFERENCE_DATE",
    "tm_gain_bias", "tm_dn_from_radiance", "oli_reflectance", "oli_dn_from_reflectance",
    "tirs_radiance", "tirs_dn_from_radiance", "planck_radiance", "brightness_temperature",
    "day_of_year", "earth_sun_distance", "toa", "tm_equivalent_dn",
]

#: Index of each TM band number in the band axis (``config.BAND_NUMBERS`` order).
BAND_INDEX: dict[int, int] = {b: i for i, b in enumerate(config.BAND_NUMBERS)}
REFLECTIVE_BANDS: tuple[int, ...] = (1, 2, 3, 4, 5, 7)
THERMAL_BAND = 6

# --------------------------------------------------------------------------------------------
# Landsat 4/5 TM and 7 ETM+ (Chander et al. 2009)
# --------------------------------------------------------------------------------------------
TM_QCALMIN = 1
TM_QCALMAX = 255
#: TM LMIN/LMAX (W m-2 sr-1 um-1, Table 8), post-calibration-update ranges (from 2003-05-05 on).
TM_LMIN = np.array([-1.52, -2.84, -1.17, -1.51, -0.37, 1.2378, -0.15])
TM_LMAX_FROM_2003 = np.array([193.0, 365.0, 264.0, 221.0, 30.2, 15.303, 16.5])
#: Before 2003-05-05 bands 1 and 2 had smaller LMAX (same table, first half).
TM_LMAX_BEFORE_2003 = np.array([169.0, 333.0, 264.0, 221.0, 30.2, 15.303, 16.5])
TM_CALIBRATION_CHANGE = "2003-05-05"

#: ESUN (W m-2 um-1, Table 11) per spacecraft and file band; band 6 (thermal) has none.
ESUN: dict[str, dict[int, float]] = {
    "LANDSAT_4": {1: 1983.0, 2: 1795.0, 3: 1539.0, 4: 1028.0, 5: 219.8, 7: 83.49},
    "LANDSAT_5": {1: 1983.0, 2: 1796.0, 3: 1536.0, 4: 1031.0, 5: 220.0, 7: 83.44},
    "LANDSAT_7": {1: 1997.0, 2: 1812.0, 3: 1533.0, 4: 1039.0, 5: 230.8, 7: 84.90},
}
#: Landsat 5 TM ESUN along the band axis (NaN for band 6).
TM_ESUN = np.array([ESUN["LANDSAT_5"].get(b, math.nan) for b in config.BAND_NUMBERS])

# --------------------------------------------------------------------------------------------
# Landsat 8 OLI/TIRS Level-1 scaling (Collection 2 MTL, LEVEL1_RADIOMETRIC_RESCALING)
# --------------------------------------------------------------------------------------------
OLI_REFLECTANCE_MULT = 2.0e-5
OLI_REFLECTANCE_ADD = -0.1
OLI_QCALMIN = 1
OLI_QCALMAX = 65535
#: Solar irradiance equivalents of the OLI bands mapped to TM 1-5, 7 (W m-2 um-1); they only
#: set the RADIANCE_MULT/ADD of a written MTL (ratios of the published MTL radiance and
#: reflectance scalings, as used by GRASS i.landsat.toar).
OLI_ESUN = np.array([2067.0, 1893.0, 1603.0, 972.6, 245.0, math.nan, 79.72])
#: The same for the OLI bands without a TM equivalent: 1 (coastal), 9 (cirrus).
OLI_ESUN_EXTRA = {1: 2067.0, 9: 361.0}
#: TIRS band 10 and 11 radiance scaling and thermal constants (Collection 2 MTL values).
TIRS_RADIANCE_MULT = 3.342e-4
TIRS_RADIANCE_ADD = 0.1
TIRS_K1 = {10: 774.8853, 11: 480.8883}
TIRS_K2 = {10: 1321.0789, 11: 1201.1442}

#: Thermal constants (K1 in W m-2 sr-1 um-1, K2 in K) where an MTL lacks them: Chander et al.
#: (2009) Table 12 for TM/ETM+; USGS Landsat 8/9 Data Users Handbooks for TIRS band 10.
THERMAL_CONSTANTS: dict[str, tuple[float, float]] = {
    "LANDSAT_4": (671.62, 1284.30),
    "LANDSAT_5": (607.76, 1260.56),
    "LANDSAT_7": (666.09, 1282.71),
    "LANDSAT_8": (TIRS_K1[10], TIRS_K2[10]),
    "LANDSAT_9": (799.0284, 1329.2405),
}
#: Landsat 5 TM band 6 K1, K2.
TM_K1, TM_K2 = THERMAL_CONSTANTS["LANDSAT_5"]

#: Acquisition date whose Landsat 5 TM calibration defines "TM-equivalent" DN: the networks are
#: trained on the paper's Table I images of 2006-2010, all after the 2003 TM calibration update.
TM_REFERENCE_DATE = "2007-08-01"


# --------------------------------------------------------------------------------------------
# Formulas
# --------------------------------------------------------------------------------------------
def tm_gain_bias(date: str) -> tuple[np.ndarray, np.ndarray]:
    """TM radiance gain and bias per band (L = gain * DN + bias) for an ISO acquisition date."""
    lmax = TM_LMAX_FROM_2003 if date >= TM_CALIBRATION_CHANGE else TM_LMAX_BEFORE_2003
    gain = (lmax - TM_LMIN) / (TM_QCALMAX - TM_QCALMIN)
    bias = TM_LMIN - gain * TM_QCALMIN
    return gain, bias


def tm_dn_from_radiance(radiance: Any, gain: float, bias: float) -> Any:
    """Unrounded, unclipped TM DN of a band radiance: (L - bias) / gain (Chander et al. 2009 Eq. 1)."""
    return (radiance - bias) / gain


def oli_reflectance(dn: Any) -> Any:
    """OLI TOA reflectance without the sun-angle correction: 2e-5 * DN - 0.1 (Collection 2)."""
    return OLI_REFLECTANCE_MULT * dn + OLI_REFLECTANCE_ADD


def oli_dn_from_reflectance(reflectance: Any) -> Any:
    """Unrounded OLI DN of a TOA reflectance without the sun-angle correction (inverse of `oli_reflectance`)."""
    return (reflectance - OLI_REFLECTANCE_ADD) / OLI_REFLECTANCE_MULT


def tirs_radiance(dn: Any) -> Any:
    """TIRS band radiance of a DN: 3.342e-4 * DN + 0.1 (Collection 2)."""
    return TIRS_RADIANCE_MULT * dn + TIRS_RADIANCE_ADD


def tirs_dn_from_radiance(radiance: Any) -> Any:
    """Unrounded TIRS DN of a band radiance (inverse of `tirs_radiance`)."""
    return (radiance - TIRS_RADIANCE_ADD) / TIRS_RADIANCE_MULT


def _floating(values: Any, dtype: Any = None) -> Any:
    """``values`` as floats (an xarray stays xarray, lazily); ``dtype=None`` keeps float32/float64."""
    if not isinstance(values, xr.DataArray):
        values = np.asarray(values)
    if dtype is None and values.dtype.kind == "f":
        return values
    return values.astype(dtype or np.float64)


def planck_radiance(temperature_k: Any, k1: float, k2: float) -> Any:
    """Band radiance from brightness temperature, in float64: L = K1 / (exp(K2 / T) - 1)."""
    return k1 / np.expm1(k2 / _floating(temperature_k, np.float64))


def brightness_temperature(radiance: Any, k1: float, k2: float) -> Any:
    """Brightness temperature (K) from band radiance, in the radiance's precision: T = K2 / ln(K1 / L + 1)."""
    return k2 / np.log(k1 / _floating(radiance) + 1.0)


def day_of_year(date: str | dt.date) -> int:
    """Day of year (1-366) of a date or an ISO date string."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    return date.timetuple().tm_yday


def earth_sun_distance(date: str | dt.date) -> float:
    """Earth-Sun distance in astronomical units: 1 - 0.01672 cos(0.9856 (doy - 4)) degrees.

    Within 3e-4 AU of Chander et al. (2009) Table 6, the table Landsat calibration uses (a
    Fourier fit such as Spencer 1971 is 4e-4 AU off it in early January).
    """
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (day_of_year(date) - 4)))


# --------------------------------------------------------------------------------------------
# DN -> TOA reflectance and brightness temperature of a scene read with its MTL
# --------------------------------------------------------------------------------------------
def _mtl_number(flat: Mapping[str, Any], key: str, source: str) -> float:
    """A finite number of the MTL, or a DataError naming the key and the file."""
    if key not in flat:
        raise DataError(f"MTL {source} lacks {key}; the file is incomplete: download the scene's MTL again")
    try:
        value = float(flat[key])
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"MTL {source}: {key} = {flat[key]!r} is not a finite number")
    return value


def _rescaling(flat: Mapping[str, Any], kind: str, n: int, source: str) -> tuple[float, float]:
    """(MULT, ADD) of ``<kind>_MULT/ADD_BAND_n`` (kind RADIANCE or REFLECTANCE); the gain must be positive."""
    mult = _mtl_number(flat, f"{kind}_MULT_BAND_{n}", source)
    add = _mtl_number(flat, f"{kind}_ADD_BAND_{n}", source)
    if mult <= 0:
        raise DataError(f"MTL {source}: {kind}_MULT_BAND_{n} = {mult} is not a positive gain (a brighter pixel "
                        "must mean more light); the MTL is corrupt or belongs to another product")
    return mult, add


def _radiance_coefficients(flat: Mapping[str, Any], n: int, source: str) -> tuple[float, float]:
    """(mult, add) converting DN of file band n to radiance, from whichever form the MTL has."""
    if f"RADIANCE_MULT_BAND_{n}" in flat or f"RADIANCE_ADD_BAND_{n}" in flat:
        return _rescaling(flat, "RADIANCE", n, source)
    for lmax, lmin, qmax, qmin in (
        (f"RADIANCE_MAXIMUM_BAND_{n}", f"RADIANCE_MINIMUM_BAND_{n}",
         f"QUANTIZE_CAL_MAX_BAND_{n}", f"QUANTIZE_CAL_MIN_BAND_{n}"),
        (f"LMAX_BAND{n}", f"LMIN_BAND{n}", f"QCALMAX_BAND{n}", f"QCALMIN_BAND{n}"),
    ):
        if all(k in flat for k in (lmax, lmin, qmax, qmin)):
            hi, lo, qhi, qlo = (_mtl_number(flat, k, source) for k in (lmax, lmin, qmax, qmin))
            if hi <= lo or qhi <= qlo:
                raise DataError(f"MTL {source}: band {n} has {lmax} = {hi} <= {lmin} = {lo} or {qmax} = {qhi} <= "
                                f"{qmin} = {qlo}; a radiance range must grow with DN (corrupt MTL?)")
            # Chander et al. (2009) Eq. 1: L = (LMAX - LMIN) / (QCALMAX - QCALMIN) * (Q - QCALMIN) + LMIN
            gain = (hi - lo) / (qhi - qlo)
            return gain, lo - gain * qlo
    raise DataError(f"MTL {source} has no radiance rescaling for band {n}")


def _thermal_constants(flat: Mapping[str, Any], n: int, spacecraft: str, source: str) -> tuple[float, float]:
    """(K1, K2) for thermal file band n: from the MTL, else the published table."""
    for suffix in (f"BAND_{n}", f"BAND_{n}_VCID_1"):
        if f"K1_CONSTANT_{suffix}" in flat and f"K2_CONSTANT_{suffix}" in flat:
            k1, k2 = (_mtl_number(flat, f"{k}_CONSTANT_{suffix}", source) for k in ("K1", "K2"))
            if k1 <= 0 or k2 <= 0:
                raise DataError(f"MTL {source}: thermal constants K1 = {k1}, K2 = {k2} of band {n} must be positive")
            return k1, k2
    if spacecraft not in THERMAL_CONSTANTS:
        raise DataError(f"MTL {source}: no thermal constants for band {n} of {spacecraft}")
    return THERMAL_CONSTANTS[spacecraft]


def toa(scene: xr.Dataset, mtl: Mapping[str, Any] | None = None) -> xr.DataArray:
    """TOA reflectance (bands 1-5, 7) and brightness temperature in K (band 6) of a scene, float32, NaN at nodata.

    The coefficients come from ``mtl`` or the scene's own MTL (``attrs["mtl_path"]``); a scene
    read without an MTL raises DataError naming its folder.
    """
    source = scene.attrs.get("mtl_path")
    if mtl is None:
        if not source:
            raise DataError(
                f"TOA conversion needs the scene's *_MTL.txt, but none was read for "
                f"{scene.attrs.get('source', 'this scene')}; put the MTL in the folder or pass mtl="
            )
        mtl = read_mtl(source)
    source = source or "given as mtl="
    flat = flatten_mtl(mtl)
    meta = mtl_scene_metadata(mtl, source=str(source))
    sensor = meta["sensor"]
    elevation = math.radians(meta["sun_elevation"])
    distance = meta.get("earth_sun_distance") or earth_sun_distance(meta["date"])
    dn = scene["dn"]
    nodata = config.nodata_of(dn)
    layers, quantities = [], []
    for band in config.BAND_NUMBERS:
        n = config.SENSOR_BAND_FILES[sensor][band]
        q = dn.sel(band=band).drop_vars(["band", "band_name"]).astype("float32")
        if band == THERMAL_BAND:
            mult, add = _radiance_coefficients(flat, n, str(source))
            k1, k2 = _thermal_constants(flat, n, meta["spacecraft"], str(source))
            value = brightness_temperature(q * mult + add, k1, k2)
            quantities.append("brightness_temperature_K")
        elif f"REFLECTANCE_MULT_BAND_{n}" in flat:
            mult, add = _rescaling(flat, "REFLECTANCE", n, source)
            value = (q * mult + add) / math.sin(elevation)
            quantities.append("reflectance")
        else:
            esun = ESUN.get(meta["spacecraft"], {}).get(n)
            if esun is None:
                raise DataError(
                    f"MTL {source} has no REFLECTANCE_MULT_BAND_{n} and no ESUN is tabulated for "
                    f"{meta['spacecraft']} band {n}"
                )
            mult, add = _radiance_coefficients(flat, n, str(source))
            radiance = q * mult + add
            value = math.pi * radiance * distance**2 / (esun * math.sin(elevation))
            quantities.append("reflectance")
        if nodata is not None:
            value = value.where(dn.sel(band=band).drop_vars(["band", "band_name"]) != nodata)
        layers.append(value.astype("float32"))
    out = xr.concat(layers, dim="band", coords="minimal", compat="override").assign_coords(
        band=list(config.BAND_NUMBERS),
        band_name=("band", list(config.BAND_NAMES)),
        quantity=("band", quantities),
    )
    out.attrs = {"long_name": "TOA reflectance (1) / brightness temperature (K, band 6)", "nodata": np.nan}
    out.name = "toa"
    return out.rio.write_crs(dn.rio.crs).rio.write_transform(dn.rio.transform())


# --------------------------------------------------------------------------------------------
# OLI -> TM-equivalent DN (paper §II-B, §III-D)
# --------------------------------------------------------------------------------------------
def tm_equivalent_dn(scene: xr.Dataset) -> xr.Dataset:
    """An OLI scene with its DN replaced by the uint8 DN Landsat 5 TM would have recorded.

    The paper maps 2013-2021 from Landsat 8 with the network it trained on Landsat 5 (§II-B,
    §III-D); fed raw OLI DN (uint16, another scaling) such a network sees nonsense. Reflective
    bands go OLI DN -> TOA reflectance (Collection 2 scaling 2e-5 x DN - 0.1, divided by the sine
    of the sun elevation) -> TM radiance and DN (Chander et al. 2009 ESUN and post-2003 gains,
    Earth-Sun distance of the acquisition); the thermal band goes TIRS B10 DN -> brightness
    temperature -> TM band 6 radiance and DN. TM scenes are returned unchanged.
    """
    sensor = scene.attrs.get("sensor")
    if sensor in ("TM", "ETM"):
        return scene
    if sensor != "OLI":
        raise DataError(f"tm_equivalent_dn: unknown sensor {sensor!r} in {scene.attrs.get('source', 'the scene')}")
    for key in ("sun_elevation", "date"):
        if key not in scene.attrs:
            raise DataError(f"tm_equivalent_dn needs attrs[{key!r}] (from the MTL) for {scene.attrs.get('source', 'the scene')}")
    dn = scene["dn"]
    fill = config.LEVEL1_FILL_DN
    invalid = config.nodata_pixels(dn, default=fill)
    q = dn.astype("float64")
    sin_elev = np.sin(np.deg2rad(float(scene.attrs["sun_elevation"])))
    d = float(scene.attrs.get("earth_sun_distance") or earth_sun_distance(scene.attrs["date"]))
    gain, bias = tm_gain_bias(TM_REFERENCE_DATE)
    out = []
    for i, band in enumerate(config.BAND_NUMBERS):
        qb = q.sel(band=band)
        if band == THERMAL_BAND:
            temperature = brightness_temperature(tirs_radiance(qb), TIRS_K1[10], TIRS_K2[10])
            tm_radiance = planck_radiance(temperature, TM_K1, TM_K2)
        else:
            reflectance = oli_reflectance(qb) / sin_elev
            tm_radiance = reflectance * TM_ESUN[i] * sin_elev / (np.pi * d ** 2)
        tm_dn = tm_dn_from_radiance(tm_radiance, gain[i], bias[i]).clip(TM_QCALMIN, TM_QCALMAX)
        out.append(xr.where(invalid, fill, np.rint(tm_dn)).astype("uint8")
                   .drop_vars(["band", "band_name"], errors="ignore"))
    new_dn = xr.concat(out, dim=dn["band"]).transpose(*dn.dims).assign_attrs({**dn.attrs, "nodata": fill})
    new_dn = new_dn.rio.write_nodata(fill, encoded=False)
    result = scene.assign(dn=new_dn)
    result.attrs.update(sensor="TM", harmonised_from="OLI")
    return result
