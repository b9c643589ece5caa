"""What the study is: its vocabulary (experiments, splits, test sets, labels) and the study as a value.

A :class:`Study` (grid, bands, subareas, periods, images) is read from a TOML file; the paper's
Three-Rivers study is ``glacier_utils/studies/thr.toml``. Where a run's files go is :mod:`glacier_utils.runs`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from glacier_utils import config
from glacier_utils.errors import DataError
from glacier_utils.io.geotiff import UNITS, check_band_map

# --------------------------------------------------------------------------------------------
# Experiments (paper §II-C): which tiles train and test a network
# --------------------------------------------------------------------------------------------
#: Scene 1 split policies: ``grouped`` keeps every copy and date of a location on one side (default);
#: ``paper`` splits the augmented samples at random as the paper did, which leaks locations.
SPLIT_POLICIES: tuple[str, ...] = ("grouped", "paper")
#: The split variables stored in a tile dataset, one per experiment.
EXPERIMENTS: tuple[str, ...] = ("scene1_grouped", "scene1_paper", "scene2")
#: The paper's two scenes (§II-C) and the tile-dataset experiment each trains on.
SCENE_EXPERIMENTS: dict[tuple[int, str], str] = {
    (1, "grouped"): "scene1_grouped",
    (1, "paper"): "scene1_paper",
    (2, "grouped"): "scene2",
    (2, "paper"): "scene2",  # Scene 2's split is geographic: the Scene 1 policy does not apply
}
#: Test sets per experiment, in Table III order.
TEST_SETS: dict[str, tuple[str, ...]] = {
    "scene1_grouped": ("test",), "scene1_paper": ("test",), "scene2": ("test_1", "test_2", "test_3"),
}
#: Table III's row group (an area key) of each test set.
TEST_SET_AREAS: dict[str, str] = {"test": "scene_1", "test_1": "testing_1", "test_2": "testing_2",
                                  "test_3": "testing_3"}
#: Human labels of the area keys of Table III: Scene 1 and the paper's four areas.
AREA_LABELS: dict[str, str] = {"scene_1": "Scene 1", **config.AREA_LABELS}


def experiment_name(scene: int, policy: str = "grouped") -> str:
    """Tile-dataset experiment of a paper scene (1 or 2) and Scene 1 split policy ("grouped" or "paper")."""
    try:
        return SCENE_EXPERIMENTS[(int(scene), policy)]
    except (KeyError, ValueError):
        raise ValueError(f"unknown scene/policy {scene!r}/{policy!r}: scene is 1 or 2, "
                         "policy is 'grouped' or 'paper'") from None


def area_label(area: str) -> str:
    """Human label of an area key ("scene_1", "training", "testing_1", …); unknown keys pass through."""
    return AREA_LABELS.get(area, area)


def check_model_name(model: str) -> str:
    """``model`` if it is one of the seven networks, else a ValueError listing them."""
    if model not in config.MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(config.MODEL_NAMES)}")
    return model


# --------------------------------------------------------------------------------------------
# The study as a value: region, grid, bands, subareas, periods, inputs (one TOML file)
# --------------------------------------------------------------------------------------------
SOURCES: tuple[str, ...] = ("synthetic", "local", "stac")
_TOP_KEYS = {"name", "title", "source", "crs", "pixel_size_m", "bands", "periods", "subareas", "roles",
             "inventory", "scenes", "images", "stac", "stride_px"}
_IMAGE_KEYS = {"kind", "band_map", "unit", "sensor", "band_files"}
IMAGE_KINDS: tuple[str, ...] = ("level1", "geotiff")
_SUBAREA_KEYS = {"label", "wrs2"}
_POLYGON_KEYS = {"file", "column", "labels"}


@dataclasses.dataclass(frozen=True)
class SceneEntry:
    """One image of a study: a Level-1 folder (or MTL), a multi-band GeoTIFF, or a folder of band files."""

    path: Path
    #: ISO date; Level-1 scenes take it from their MTL, plain GeoTIFFs need it here.
    date: str | None = None


@dataclasses.dataclass(frozen=True)
class ImageFormat:
    """How a study's images are stored (``[images]`` of the study file)."""

    #: "level1" (Landsat Level-1 folders with MTL) or "geotiff" (plain files, no MTL).
    kind: str = "level1"
    #: GeoTIFF file band (1-based) -> TM-equivalent band.
    band_map: dict[int, int] = dataclasses.field(default_factory=dict)
    #: "dn" or "reflectance" (GeoTIFF only).
    unit: str = "dn"
    sensor: str = "unknown"
    #: Glob pattern of each band file inside a scene folder, in file-band order (GeoTIFF, one file per band).
    band_files: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Study:
    """One study: where (CRS, pixel size, subareas), what (bands), when (periods) and from which inputs.

    The paper's THR study is the default instance (``glacier_utils/studies/thr.toml``). A user's
    study is a TOML file of the same form: :func:`load_study` reads and checks it before anything
    long starts, and every error names the file and the key to change.
    """

    name: str
    title: str
    source: str
    crs: str
    pixel_size_m: float
    bands: tuple[int, ...]
    periods: tuple[tuple[int, int], ...]
    #: Subarea name -> WRS-2 ids (the paper's grouping); empty when subareas are polygons.
    subarea_frames: dict[str, tuple[str, ...]]
    #: Subarea name -> label, in file order.
    subarea_labels: dict[str, str]
    #: A vector file of subarea polygons and its name column, when subareas are polygons.
    subarea_polygons: tuple[Path, str] | None
    training_subarea: str
    inventory: Path | None = None
    #: "training" and each period's label ("1986–1988") -> its images (source "local").
    scenes: dict[str, tuple[SceneEntry, ...]] = dataclasses.field(default_factory=dict)
    #: How the images are stored: Level-1 folders, or plain GeoTIFFs with a band map and a unit.
    images: ImageFormat | None = None
    #: STAC search settings (source "stac"): catalog, max_cloud, months.
    stac: dict[str, Any] = dataclasses.field(default_factory=dict)
    stride_px: int | None = None
    path: Path | None = None

    @property
    def subareas(self) -> tuple[str, ...]:
        """Subarea names, in file order."""
        return tuple(self.subarea_labels)

    @property
    def testing_subareas(self) -> tuple[str, ...]:
        """Every subarea but the training one (Scene 2's testing areas, §II-C)."""
        return tuple(a for a in self.subareas if a != self.training_subarea)

    @property
    def period_labels(self) -> tuple[str, ...]:
        """"1986–1988"-style labels of the periods."""
        return tuple(f"{a}–{b}" for a, b in self.periods)

    @property
    def has_band_ratio(self) -> bool:
        """Whether TM3 and TM5, the band ratio's bands (Eq. 1), are among the study's bands."""
        return {config.RATIO_NUMERATOR_BAND, config.RATIO_DENOMINATOR_BAND} <= set(self.bands)

    def band_ratio_note(self) -> str:
        """One line saying why the band ratio cannot run on this study ('' when it can)."""
        if self.has_band_ratio:
            return ""
        missing = sorted({config.RATIO_NUMERATOR_BAND, config.RATIO_DENOMINATOR_BAND} - set(self.bands))
        return (f"study {self.name!r} has no TM band {' or '.join(map(str, missing))}: the band ratio "
                f"(TM3/TM5, paper Eq. 1) is skipped; the networks use bands {list(self.bands)}")


    def time_series_note(self) -> str:
        """One line saying why notebook 05 cannot map this study's periods ('' when it can)."""
        if self.source != "stac":
            return ""
        return (f"study {self.name!r} searches a STAC catalogue for its training images only: notebook 05 maps the "
                "images a study file lists per period; download each period's scenes (glacier_utils.io.download) "
                "and list them under [scenes] of a study with source = 'local'")


def _fail(where: str, message: str) -> DataError:
    return DataError(f"{where}: {message}")


def _check_keys(table: Mapping[str, Any], known: set[str], where: str, section: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown} in {section}; known keys: {sorted(known)}")


def _resolve(base: Path | None, value: str, where: str, key: str) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() or base is None else base / path
    if not path.exists():
        raise _fail(where, f"{key} = {value!r}: {path} does not exist")
    return path


def _periods(raw: Any, where: str) -> tuple[tuple[int, int], ...]:
    try:
        periods = tuple((int(a), int(b)) for a, b in raw)
    except (TypeError, ValueError):
        raise _fail(where, f"periods must be a list of [first year, last year] pairs, got {raw!r}") from None
    if not periods:
        raise _fail(where, "periods is empty: give at least one [first year, last year]")
    for (a, b), previous in zip(periods, ((None, None),) + periods[:-1]):
        if not 1972 <= a <= b:
            raise _fail(where, f"period [{a}, {b}]: the first year must not follow the last, both from 1972 (Landsat)")
        if previous[1] is not None and a <= previous[1]:
            raise _fail(where, f"period [{a}, {b}] overlaps or precedes [{previous[0]}, {previous[1]}]: "
                               "list periods in time order without overlap")
    return periods


def _bands(raw: Any, where: str) -> tuple[int, ...]:
    bands = tuple(raw) if isinstance(raw, (list, tuple)) else ()
    if not bands or any(isinstance(b, bool) or not isinstance(b, int) for b in bands):
        raise _fail(where, f"bands must be a list of TM-equivalent band numbers such as [1, 2, 3, 4], got {raw!r}")
    if len(set(bands)) != len(bands) or not set(bands) <= set(config.BAND_NUMBERS):
        raise _fail(where, f"bands {list(bands)}: each of {list(config.BAND_NUMBERS)} at most once")
    return bands


def _subareas(raw: Any, base: Path | None, where: str):
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(where, "[subareas] is missing: name the subareas (WRS-2 groups, or a polygon file)")
    if "file" in raw:  # polygons from a vector file
        _check_keys(raw, _POLYGON_KEYS, where, "[subareas]")
        column = raw.get("column", "name")
        path = _resolve(base, raw["file"], where, "subareas.file")
        try:
            table = pyogrio.read_dataframe(path, read_geometry=False)
        except Exception as err:  # pyogrio raises several types for unreadable files
            raise _fail(where, f"subareas.file {path} cannot be read as a vector file: {err}") from err
        if column not in table.columns:
            raise _fail(where, f"subareas.column = {column!r} is not a column of {path.name} "
                               f"(it has {list(table.columns)})")
        names = [str(v) for v in table[column]]
        if not names or len(set(names)) != len(names):
            raise _fail(where, f"subareas in {path.name}: column {column!r} must name each polygon once, got {names}")
        given = dict(raw.get("labels", {}))
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise _fail(where, f"subareas.labels names {unknown}, which are not in {path.name}'s {column!r}: {names}")
        return {}, {name: str(given.get(name, name)) for name in names}, (path, column)
    frames, labels = {}, {}
    for name, table in raw.items():
        if not isinstance(table, Mapping):
            raise _fail(where, f"[subareas.{name}] must be a table with wrs2 = [...] (and an optional label)")
        _check_keys(table, _SUBAREA_KEYS, where, f"[subareas.{name}]")
        ids = [str(w).replace(" ", "") for w in table.get("wrs2", [])]
        if not ids or any(len(w) != 6 or not w.isdigit() for w in ids):
            raise _fail(where, f"[subareas.{name}] wrs2 must list WRS-2 ids as 'PPPRRR' strings, got {ids!r}")
        frames[name] = tuple(ids)
        labels[name] = str(table.get("label", name))
    doubled = sorted({w for ids in frames.values() for w in ids if sum(w in other for other in frames.values()) > 1})
    if doubled:
        raise _fail(where, f"WRS-2 id(s) {doubled} belong to more than one subarea")
    return frames, labels, None


def _images(raw: Any, where: str) -> ImageFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(where, "[images] must be a table: kind = 'level1' or 'geotiff' (with band_map and unit)")
    _check_keys(raw, _IMAGE_KEYS, where, "[images]")
    kind = raw.get("kind", "level1")
    if kind not in IMAGE_KINDS:
        raise _fail(where, f"images.kind = {kind!r}; choose one of {', '.join(IMAGE_KINDS)}")
    if kind == "level1":
        extra = sorted(set(raw) - {"kind", "sensor"})
        if extra:
            raise _fail(where, f"images.kind = 'level1' reads bands and units from the MTL; drop {extra}")
        return ImageFormat(kind=kind, sensor=str(raw.get("sensor", "unknown")))
    if "band_map" not in raw:
        raise _fail(where, "images.kind = 'geotiff' needs band_map = {1 = 1, 2 = 2, …} (file band -> TM band)")
    unit = raw.get("unit", "dn")
    if unit not in UNITS:
        raise _fail(where, f"images.unit = {unit!r}; choose one of {', '.join(UNITS)}")
    band_map = check_band_map(raw["band_map"], where)
    band_files = tuple(str(p) for p in raw.get("band_files", ()))
    if band_files and sorted(band_map) != list(range(1, len(band_files) + 1)):
        raise _fail(where, f"images.band_files lists {len(band_files)} files but band_map names file bands "
                           f"{sorted(band_map)}: number them 1..{len(band_files)}")
    return ImageFormat(kind=kind, band_map=band_map, unit=unit, sensor=str(raw.get("sensor", "unknown")),
                       band_files=band_files)


def _scene_entry(entry: Any, base: Path | None, where: str, key: str, images: ImageFormat | None) -> SceneEntry:
    if isinstance(entry, Mapping):
        _check_keys(entry, {"path", "date"}, where, f"an entry of scenes.{key!r}")
        if "path" not in entry:
            raise _fail(where, f"an entry of scenes.{key!r} has no path")
        path, date = entry["path"], entry.get("date")
    else:
        path, date = entry, None
    resolved = _resolve(base, str(path), where, f"scenes.{key!r}")
    if images is not None and images.kind == "geotiff" and date is None:
        raise _fail(where, f"scenes.{key!r}: {path} is a plain GeoTIFF (no MTL): give its date, "
                           f"e.g. {{path = {str(path)!r}, date = '2005-08-10'}}")
    if date is not None:
        try:
            date = dt.date.fromisoformat(str(date)).isoformat()
        except ValueError:
            raise _fail(where, f"scenes.{key!r}: date {date!r} of {path} is not an ISO date 'YYYY-MM-DD'") from None
    return SceneEntry(resolved, date)


def study_from_mapping(data: Mapping[str, Any], *, path: Path | None = None) -> Study:
    """A checked Study from the parsed TOML of a study file (``path`` resolves relative file names)."""
    where = str(path) if path else "study"
    base = path.parent if path else None
    _check_keys(data, _TOP_KEYS, where, "the top level")
    for key in ("name", "subareas", "roles"):
        if key not in data:
            raise _fail(where, f"required key {key!r} is missing")
    name = str(data["name"])
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise _fail(where, f"name = {name!r}: use letters, digits, '-' and '_' (it names the run folder)")
    source = data.get("source", "local")
    if source not in SOURCES:
        raise _fail(where, f"source = {source!r}; choose one of {', '.join(SOURCES)}")
    crs = str(data.get("crs", "auto"))
    if crs != "auto":
        try:
            CRS.from_user_input(crs)
        except CRSError:
            raise _fail(where, f"crs = {crs!r} is not a CRS pyproj knows; give e.g. 'EPSG:32632' or 'auto'") from None
    pixel_size_m = float(data.get("pixel_size_m", config.PIXEL_SIZE_M))
    if not pixel_size_m > 0:
        raise _fail(where, f"pixel_size_m = {pixel_size_m}: must be positive")
    frames, labels, polygons = _subareas(data["subareas"], base, where)
    roles = data["roles"]
    if not isinstance(roles, Mapping) or set(roles) != {"training"}:
        raise _fail(where, "[roles] must name the training subarea: training = '<subarea>'")
    training = str(roles["training"])
    if labels and training not in labels:
        raise _fail(where, f"roles.training = {training!r} is not a subarea; subareas: {sorted(labels)}")
    periods = _periods(data.get("periods", [list(p) for p in config.PERIODS]), where)
    inventory = data.get("inventory")
    if source != "synthetic" and not inventory:
        raise _fail(where, f"source = {source!r} needs inventory = '<glacier outlines file>' (RGI, SCGI, GLIMS)")
    images = _images(data.get("images"), where)
    scenes = {}
    for key, entries in dict(data.get("scenes", {})).items():
        scenes[key] = tuple(_scene_entry(entry, base, where, key, images) for entry in entries)
    if source == "local":
        known = {"training", *(f"{a}–{b}" for a, b in periods), *(f"{a}-{b}" for a, b in periods)}
        _check_keys(scenes, known, where, "[scenes] (use 'training' and the periods' labels, e.g. '1986-1988')")
        if not scenes.get("training"):
            raise _fail(where, "[scenes] training = [...] is missing: the images the networks train on")
        empty = [f"{a}-{b}" for a, b in periods if not (scenes.get(f"{a}-{b}") or scenes.get(f"{a}–{b}"))]
        if empty:
            raise _fail(where, f"period(s) {empty} have no acquisition in [scenes]: list at least one image "
                               "per period, or drop the period from periods")
    stride_px = data.get("stride_px")
    return Study(
        name=name, title=str(data.get("title", name)), source=source, crs=crs, pixel_size_m=pixel_size_m,
        bands=_bands(data.get("bands", list(config.BAND_NUMBERS)), where), periods=periods,
        subarea_frames=frames, subarea_labels=labels, subarea_polygons=polygons, training_subarea=training,
        inventory=_resolve(base, str(inventory), where, "inventory") if inventory else None,
        scenes={k.replace("-", "–"): v for k, v in scenes.items()}, images=images, stac=dict(data.get("stac", {})),
        stride_px=None if stride_px is None else int(stride_px), path=path,
    )


def load_study(study: str | os.PathLike | Study = "thr") -> Study:
    """The study of a TOML file, or a packaged one by name (``"thr"``, the paper's); checked, with clear errors."""
    if isinstance(study, Study):
        return study
    path = Path(study)
    if path.suffix != ".toml":
        packaged = config.PACKAGE_DIR / "studies" / f"{study}.toml"
        if not packaged.exists():
            known = sorted(p.stem for p in (config.PACKAGE_DIR / "studies").glob("*.toml"))
            raise DataError(f"study {str(study)!r}: no such study file; give a .toml path or one of {known}")
        path = packaged
    if not path.is_file():
        raise DataError(f"study file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"study file {path} is not valid TOML: {err}") from None
    return study_from_mapping(data, path=path.resolve())
