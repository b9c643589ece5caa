"""One place for the constants the paper fixes, the run profiles, and project paths.

Everything the paper pins down (band order, WRS-2 grouping, periods, thresholds, the training
recipe) lives here with the section or table it comes from, so that no other module hard-codes it.
Paths are resolved from the project root, never from the current directory: papermill, nbval and
Jupyter Book all run notebooks from different working directories.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
#: Whether the package runs from a source checkout (pyproject.toml beside it), not from an installed copy
#: (a wheel in site-packages, as on Colab or Kaggle), whose parent is no place for data.
IN_SOURCE_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file()
SHARED_DIR = PROJECT_ROOT.parent / "shared"
SHARED_REAL_DATA_DIR = SHARED_DIR / "data" / "real"
#: The data folder of an installed package, below the working directory (e.g. /content on Colab).
INSTALLED_DATA_DIR_NAME = "glacier_data"


def data_root() -> Path:
    """Root folder for generated data and run artefacts.

    ``$GLACIER_DATA_DIR`` when set; else ``<project root>/data`` in a source checkout; else, for an
    installed package, ``glacier_data`` in the current working directory.
    """
    env = os.environ.get("GLACIER_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    if IN_SOURCE_CHECKOUT:
        return PROJECT_ROOT / "data"
    return Path.cwd().resolve() / INSTALLED_DATA_DIR_NAME


def run_dir(profile: str | "Profile", study: str = "thr", data_seed: int | None = None) -> Path:
    """The artefact folder of one study, profile and data seed (created on demand).

    ``<data_root>/runs/<study>/<profile>`` for the profile's own data seed, and
    ``<data_root>/runs/<study>/<profile>-seed<n>`` for any other, so that rerunning the study on
    another simulated region never overwrites the book's.
    """
    prof = get_profile(profile)
    name = prof.name if data_seed is None or int(data_seed) == prof.data_seed else f"{prof.name}-seed{int(data_seed)}"
    path = data_root() / "runs" / study / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# Bands (paper §II-B: the 7 Landsat-5 TM bands stacked into one image)
# --------------------------------------------------------------------------------------------
#: The paper's band order: TM bands 1-7. Band 6 is thermal. The ``band`` coordinate of every
#: scene in this project holds these TM-equivalent numbers, whatever the sensor.
BAND_NUMBERS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
BAND_NAMES: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "thermal", "swir2")
N_BANDS = len(BAND_NUMBERS)

#: TM-equivalent band -> file band number, per sensor. OLI has no TM6 equivalent at 30 m;
#: TIRS band 10 (10.6-11.19 um) is the nearest thermal band (USGS Landsat 8 Data Users Handbook).
SENSOR_BAND_FILES: dict[str, dict[int, int]] = {
    "TM": {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7},
    "ETM": {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7},
    "OLI": {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 10, 7: 7},
}

#: Bands of the band-ratio method, Eq. (1): Ratio = TM3 / TM5 on DN.
RATIO_NUMERATOR_BAND = 3
RATIO_DENOMINATOR_BAND = 5

#: False-colour composite of Fig. 5(a): band 7 (SWIR), band 4 (NIR), band 3 (red) as R/G/B.
FALSE_COLOUR_BANDS: tuple[int, int, int] = (7, 4, 3)

#: The paper's study as data: its grid, areas and periods are read from this file, their one owner.
THR_STUDY_FILE = PACKAGE_DIR / "studies" / "thr.toml"
with THR_STUDY_FILE.open("rb") as _handle:
    _THR = tomllib.load(_handle)

#: The study grid (paper §II-B step 1): WGS 84 / UTM zone 46N, 30 m Landsat pixels.
STUDY_CRS: str = _THR["crs"]
PIXEL_SIZE_M = float(_THR["pixel_size_m"])

# --------------------------------------------------------------------------------------------
# The data contract: every scene is a Dataset with ``dn`` (band, y, x) and ``label`` (y, x)
# --------------------------------------------------------------------------------------------
#: ``label`` (and every predicted mask): 1 glacier, 0 not glacier, 255 unknown / no data.
LABEL_NODATA = 255
#: Tiles and inference windows must halve cleanly through the networks' four 2x2 poolings
#: (U-Net, paper §II-E), so their sides are multiples of 2**4.
SIDE_MULTIPLE = 16
#: DN fill value of Landsat Level-1 products (Collection 2 and pre-Collection) and of the simulator.
LEVEL1_FILL_DN = 0

#: Per-pixel surface classes of a simulated scene (its ``surface`` layer), shared by the simulator
#: and the error analysis; real scenes have no such layer.
SURFACE_CLASSES: dict[int, str] = {
    0: "rock", 1: "soil", 2: "meadow", 3: "water", 4: "seasonal_snow",
    5: "clean_ice", 6: "firn", 7: "debris_ice", LABEL_NODATA: "nodata",
}
SURFACE_CODES: dict[str, int] = {v: k for k, v in SURFACE_CLASSES.items()}
#: Per-pixel sky condition of a simulated scene (its ``cloud`` layer).
CLOUD_CLASSES: dict[int, str] = {0: "clear", 1: "thin_cloud", 2: "thick_cloud", 3: "cloud_shadow", LABEL_NODATA: "nodata"}
CLOUD_CODES: dict[str, int] = {v: k for k, v in CLOUD_CLASSES.items()}


def nodata_of(dn: Any, default: Any = None) -> Any:
    """A scene's DN nodata value: ``attrs["nodata"]``, the rio nodata, ``_FillValue``; else ``default``."""
    attrs = getattr(dn, "attrs", {})
    if attrs.get("nodata") is not None:
        return attrs["nodata"]
    rio_nodata = None
    if hasattr(dn, "rio"):
        try:
            rio_nodata = dn.rio.nodata
        except Exception:  # noqa: BLE001  (rio raises for arrays without x/y dims; then there is no rio nodata)
            rio_nodata = None
    if rio_nodata is not None:
        return rio_nodata
    for source in (attrs, getattr(dn, "encoding", {})):
        if source.get("_FillValue") is not None:
            return source["_FillValue"]
    return default


def nodata_pixels(dn: Any, nodata: Any = None, *, default: Any = None, rule: str = "any") -> Any:
    """The one validity rule of DN: True at (y, x) pixels without data.

    A pixel has no data where ``rule="any"`` band (or ``"all"`` bands) equals the nodata value
    (``nodata``, else :func:`nodata_of` with ``default``), and, whatever the rule and the nodata
    value, where any band is NaN (a float band's NaN is never a DN; a NaN nodata matches only NaN).
    ``dn``: a (band, y, x) DataArray (dask stays lazy) or an array with the band axis first.
    """
    if rule not in ("any", "all"):
        raise ValueError(f"rule={rule!r}: choose 'any' or 'all'")
    if nodata is None:
        nodata = nodata_of(dn, default)
    labelled = "band" in getattr(dn, "dims", ())
    if not labelled and not hasattr(dn, "dtype"):
        dn = np.asarray(dn)

    def over_bands(mask: Any, how: str) -> Any:
        return getattr(mask, how)("band") if labelled else getattr(mask, how)(axis=0)

    numeric_nodata = nodata is not None and not (isinstance(nodata, (float, np.floating)) and np.isnan(nodata))
    floating = np.dtype(dn.dtype).kind in "fc"
    if not numeric_nodata or floating:
        invalid = over_bands(dn != dn, "any")  # NaN != NaN; all False for integer DN
        return invalid | over_bands(dn == nodata, rule) if numeric_nodata else invalid
    return over_bands(dn == nodata, rule)


# --------------------------------------------------------------------------------------------
# Scenes and areas (paper Table I and §II-C "Scene 2")
# --------------------------------------------------------------------------------------------
#: WRS-2 path/row ids of the 13 Landsat-5 images (Table I), grouped as in §II-C Scene 2 (thr.toml).
AREA_SCENES: dict[str, tuple[str, ...]] = {name: tuple(area["wrs2"]) for name, area in _THR["subareas"].items()}
AREA_LABELS: dict[str, str] = {name: area["label"] for name, area in _THR["subareas"].items()}
AREAS: tuple[str, ...] = tuple(AREA_SCENES)
TESTING_AREAS: tuple[str, ...] = ("testing_1", "testing_2", "testing_3")
WRS2_IDS: tuple[str, ...] = tuple(sorted(w for ws in AREA_SCENES.values() for w in ws))


def area_of_scene(wrs2: str) -> str:
    """The paper's area group (training, testing_1..3) of a WRS-2 id such as ``"138037"``."""
    wrs2 = str(wrs2).replace(" ", "")
    for area, scenes in AREA_SCENES.items():
        if wrs2 in scenes:
            return area
    raise ValueError(f"unknown WRS-2 id {wrs2!r}: the study uses {', '.join(WRS2_IDS)} (paper Table I)")


# --------------------------------------------------------------------------------------------
# Time (paper §III-D, Tables IV and V)
# --------------------------------------------------------------------------------------------
#: The 12 three-year periods of the time series, (first year, last year).
PERIODS: tuple[tuple[int, int], ...] = tuple((int(a), int(b)) for a, b in _THR["periods"])
PERIOD_LABELS: tuple[str, ...] = tuple(f"{a}–{b}" for a, b in PERIODS)
#: Landsat 5 TM for 1986-2012, Landsat 8 OLI for 2013-2021 (paper §II-B).
FIRST_OLI_YEAR = 2013
#: Change intervals of Table V(b): 1986-2003, 2003-2021, 1986-2021 (period indices).
CHANGE_INTERVALS: dict[str, tuple[int, int]] = {
    "1986–2003": (0, 5),
    "2003–2021": (5, 11),
    "1986–2021": (0, 11),
}


def period_of_year(year: int) -> int:
    """Index (0-11) of the three-year period that contains ``year``."""
    for i, (a, b) in enumerate(PERIODS):
        if a <= year <= b:
            return i
    raise ValueError(f"year {year} lies outside the study's periods 1986–2021")


def sensor_for_year(year: int) -> str:
    """The sensor the paper used for a year: ``"TM"`` before 2013, ``"OLI"`` from 2013 on."""
    period_of_year(year)  # validates the range
    return "OLI" if year >= FIRST_OLI_YEAR else "TM"


# --------------------------------------------------------------------------------------------
# Methods (paper §II-D, §II-G, §II-H, Table II)
# --------------------------------------------------------------------------------------------
#: The 12 thresholds of Table II: 1.5 to 3.7 in steps of 0.2.
RATIO_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.arange(1.5, 3.71, 0.2), 1).tolist())
#: Side of the square morphological filter applied to the band-ratio map (§II-C, Fig. 3b).
MORPHOLOGY_SIZE_PX = 5
#: Buffer around outlines for the area uncertainty (§II-H): half a 30 m pixel.
BUFFER_M = 15.0
#: The seven networks compared with the band ratio (paper §II-E to §II-G), in Table III order.
MODEL_NAMES: tuple[str, ...] = (
    "unet", "unetpp", "glaciernet", "saunet", "unet_cse", "landsnet", "m_landsnet",
)
METHOD_LABELS: dict[str, str] = {
    "band_ratio": "Band ratio",
    "unet": "U-Net",
    "unetpp": "U-Net++",
    "glaciernet": "GlacierNet",
    "saunet": "SaU-Net",
    "unet_cse": "U-Net+cSE",
    "landsnet": "LandsNet",
    "m_landsnet": "M-LandsNet",
}


# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Profile:
    """Every size and setting that differs between a CPU smoke run, CI (quick) and the paper.

    The science (the methods, metrics, splits and recipe) is the same in every profile; only the
    amount of data and the network widths shrink.
    """

    name: str
    #: Side of one synthetic Landsat scene in pixels (a real scene is about 7,000).
    scene_px: int
    #: Side of the square tiles fed to the networks (paper §II-B step 3: 128).
    tile_px: int
    #: Number of filters of a network's first stage; deeper stages double it.
    base_filters: int
    #: Upper bound on training epochs; early stopping usually ends training sooner.
    max_epochs: int
    #: Batch size (paper §II-G: 4).
    batch_size: int
    #: Early-stopping patience on validation accuracy, in epochs (paper §II-G: 10).
    patience: int
    #: The learning rate is divided by 10 every this many epochs (paper §II-G: 10).
    lr_drop_every: int
    #: Initial Adam learning rate (paper §II-G: 1e-3).
    learning_rate: float = 1e-3
    #: Seeds of the training runs; more than one gives a seed spread in notebook 04.
    seeds: tuple[int, ...] = (0,)
    #: Seed of everything random in the data (simulator, splits, augmentation order).
    data_seed: int = 42
    #: Fraction of Scene 1 samples held out for testing, and of training kept for validation.
    test_fraction: float = 0.3
    validation_fraction: float = 0.2

    def as_dict(self) -> dict[str, Any]:
        """The profile as a plain dict (for run records and notebook parameter tables)."""
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    # Unit tests only: a few seconds end to end.
    "smoke": Profile(
        name="smoke", scene_px=128, tile_px=32, base_filters=4, max_epochs=2, batch_size=8,
        patience=1, lr_drop_every=1,
    ),
    # CI and the default book build: 2 CPU cores, the whole study in about 15 minutes.
    # Epoch counts shrink with the data; patience equals the LR step, as in the paper (10 and 10).
    # The cap is two LR steps: on this region a third step (at 1e-5) raised the best validation
    # accuracy by at most 0.002 in each of the 15 runs, for a third of the training time. Shorter
    # steps do not plateau: with 6-epoch steps (cap 12) Scene 1 lost 0.015-0.017 of validation accuracy.
    "quick": Profile(
        name="quick", scene_px=384, tile_px=64, base_filters=8, max_epochs=16, batch_size=16,
        patience=8, lr_drop_every=8,
    ),
    # The published recipe (paper §II-B, §II-G) for a GPU.
    "paper": Profile(
        name="paper", scene_px=2048, tile_px=128, base_filters=64, max_epochs=80, batch_size=4,
        patience=10, lr_drop_every=10, seeds=(0, 1, 2),
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """Look up a profile by name (``smoke``, ``quick``, ``paper``); a Profile passes through."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
