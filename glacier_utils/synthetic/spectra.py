"""Surface spectra of the synthetic Landsat simulator (`glacier_utils.synthetic`).

Surface reflectance of every simulated surface class in the six reflective TM bands (1-5, 7), as
band means read off published laboratory and field spectra (ASTER/JHU spectral library
{Baldridge et al. 2009}, USGS splib07 {Kokaly et al. 2017}, snow and ice after Dozier 1989 and
Warren 1982) and rounded to two digits: they are representative values for the class, not a
measurement of any one sample; and the surface temperatures behind band 6. The sensor's own
numbers (calibration, ESUN, thermal constants) are in `glacier_utils.io.radiometry`.

The band axis of every array here follows `config.BAND_NUMBERS` (TM 1..7); the thermal band 6
entry of a reflectance table is NaN because band 6 is simulated as brightness temperature.
"""

from __future__ import annotations

import numpy as np

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
