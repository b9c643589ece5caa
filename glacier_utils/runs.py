"""Every artefact of a run by name, and reading and writing them atomically.

Notebooks hand results to each other through files. Every such file has one name here, on
:class:`RunPaths`, so no notebook or book page types a file name: notebook 02 writes
``RunPaths(profile).table_ii`` and the results page reads the same attribute.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from glacier_utils import config
from glacier_utils._atomic import atomic_path, write_text
from glacier_utils.study import Study, check_model_name


def _period_years(period: int | tuple[int, int]) -> tuple[int, int]:
    """(first, last) years of a period given as an index into the THR's periods or as its years."""
    return config.PERIODS[period] if isinstance(period, int) else tuple(period)


# --------------------------------------------------------------------------------------------
# Artefacts by name
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Every artefact of one study's run in one profile, by name: ``<data_root>/runs/<study>/<profile>/…``.

    The attribute docstrings say which notebook writes each file; :meth:`require` turns a missing
    one into an error that names the notebook to run.
    """

    profile: str
    #: The study's name (its file's ``name``); the paper's THR by default.
    study: str = "thr"
    #: The seed of the simulated region and of the splits; None: the profile's own (``Profile.data_seed``).
    data_seed: int | None = None

    def __post_init__(self):
        profile = config.get_profile(self.profile)
        object.__setattr__(self, "profile", profile.name)
        if isinstance(self.study, Study):
            object.__setattr__(self, "study", self.study.name)
        seed = profile.data_seed if self.data_seed is None else int(self.data_seed)
        object.__setattr__(self, "data_seed", seed)

    @property
    def root(self) -> Path:
        """The run folder of the study, profile and data seed (created on demand)."""
        return config.run_dir(self.profile, self.study, self.data_seed)

    # notebook 01
    @property
    def tiles(self) -> Path:
        """The tile dataset (zarr), written by notebook 01."""
        return self.root / "tiles.zarr"

    @property
    def preparation_record(self) -> Path:
        """What notebook 01 prepared (source, seed, counts), as JSON."""
        return self.root / "data_preparation.json"

    # notebook 02
    @property
    def band_ratio_choice(self) -> Path:
        """The optimal band-ratio threshold and how it was chosen (JSON), written by notebook 02."""
        return self.root / "band_ratio.json"

    @property
    def table_ii(self) -> Path:
        """Our Table II: the threshold sweep on Scene 1's test tiles (CSV), written by notebook 02."""
        return self.root / "table_ii.csv"

    # notebook 03
    @property
    def models(self) -> Path:
        """The folder of every training run, written by notebook 03 (and 04 for missing runs)."""
        return self.root / "models"

    def training_run(self, model: str, experiment: str, seed: int) -> Path:
        """Folder of one training run: ``models/<experiment>/<model>_seed<seed>``."""
        return self.models / experiment / f"{check_model_name(model)}_seed{seed}"

    # notebook 04
    @property
    def scores(self) -> Path:
        """Every method's scores on every test set, tidy (parquet), written by notebook 04."""
        return self.root / "scene_comparison.parquet"

    @property
    def scores_csv(self) -> Path:
        """The same scores as CSV, for reading without pandas."""
        return self.root / "scene_comparison.csv"

    @property
    def errors_by_class(self) -> Path:
        """Error rates per simulated surface/sky class (CSV), written by notebook 04."""
        return self.root / "errors_by_surface_class.csv"

    # notebook 05
    @property
    def timeseries(self) -> Path:
        """The time series folder (masks, outlines, tables), written by notebook 05 (created on demand)."""
        path = self.root / "timeseries"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def period_mask(self, period: int | tuple[int, int]) -> Path:
        """The mapped glacier mask (COG) of one period, e.g. ``timeseries/mask_1986_1988.tif``.

        ``period`` is an index into the THR's periods or, for any study, its ``(first, last)`` years.
        """
        first, last = _period_years(period)
        return self.timeseries / f"mask_{first}_{last}.tif"

    @property
    def outlines(self) -> Path:
        """The outlines of every period, one GeoPackage layer each."""
        return self.timeseries / "outlines.gpkg"

    @property
    def areas(self) -> Path:
        """Areas ± uncertainty per period and subarea (CSV), Table V(a)."""
        return self.timeseries / "areas.csv"

    @property
    def changes(self) -> Path:
        """Changes and rates per interval and subarea (CSV), Table V(b)."""
        return self.timeseries / "changes.csv"

    def acquisition_stores(self, period: int | tuple[int, int]) -> Path:
        """Folder of one period's per-acquisition probability stores (zarr), e.g. ``timeseries/acquisitions_1986_1988``."""
        first, last = _period_years(period)
        return self.timeseries / f"acquisitions_{first}_{last}"

    def period_store(self, period: int | tuple[int, int]) -> Path:
        """One period's mosaic (zarr: mask, clear views, frame, subarea, and the gap-filled mask), e.g. ``timeseries/map_1986_1988.zarr``."""
        first, last = _period_years(period)
        return self.timeseries / f"map_{first}_{last}.zarr"

    @property
    def acquisition_scores(self) -> Path:
        """Every acquisition of every period: metadata and pixel scores, chosen or not and why (CSV)."""
        return self.timeseries / "acquisition_scores.csv"

    @property
    def reference_inventory(self) -> Path:
        """The reference glacier inventory whose ids the outlines carry (GeoPackage)."""
        return self.timeseries / "reference_inventory.gpkg"

    @property
    def bias_table(self) -> Path:
        """Mapped minus true area per period and subarea, both uncertainties and the floor (CSV)."""
        return self.timeseries / "bias_table.csv"

    @property
    def change_check(self) -> Path:
        """Every change against the truth, with the stated uncertainty and the floor (CSV)."""
        return self.timeseries / "change_check.csv"

    @property
    def timeseries_summary(self) -> Path:
        """The time series' headline numbers (JSON), read by the results page."""
        return self.root / "timeseries_summary.json"

    # the run command
    @property
    def notebook_timings(self) -> Path:
        """Wall time of every notebook run (CSV), written by the book build."""
        return self.root / "notebook_timings.csv"

    #: Which notebook writes each named artefact, for :meth:`require`.
    WRITERS = {"tiles": "01_data_preparation", "preparation_record": "01_data_preparation",
               "band_ratio_choice": "02_band_ratio_threshold_sweep", "table_ii": "02_band_ratio_threshold_sweep",
               "scores": "04_scene_comparison", "scores_csv": "04_scene_comparison",
               "errors_by_class": "04_scene_comparison", "outlines": "05_time_series_1986_2021",
               "areas": "05_time_series_1986_2021", "changes": "05_time_series_1986_2021",
               "timeseries_summary": "05_time_series_1986_2021", "acquisition_scores": "05_time_series_1986_2021",
               "reference_inventory": "05_time_series_1986_2021", "bias_table": "05_time_series_1986_2021",
               "change_check": "05_time_series_1986_2021"}

    def require(self, *names: str) -> None:
        """A FileNotFoundError naming the notebooks to run when any named artefact is missing."""
        missing = [f"{getattr(self, name).relative_to(self.root)} (notebooks/{self.WRITERS[name]}.ipynb)"
                   for name in names if not getattr(self, name).exists()]
        if missing:
            raise FileNotFoundError(f"{self.root} lacks {', '.join(missing)}: run those notebooks "
                                    f"with profile={self.profile!r} first")


def as_run_paths(run: RunPaths | str | config.Profile) -> RunPaths:
    """A RunPaths as it is, or the THR study's run of a profile (name or Profile) at its own data seed."""
    return run if isinstance(run, RunPaths) else RunPaths(config.get_profile(run).name)


# --------------------------------------------------------------------------------------------
# Reading and writing artefacts (atomically)
# --------------------------------------------------------------------------------------------
def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (temporary name, then rename)."""
    return write_text(path, json.dumps(data, indent=2))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON artefact."""
    return json.loads(Path(path).read_text())


def write_table(path: str | os.PathLike, table: pd.DataFrame) -> Path:
    """Write a table as CSV or parquet (by the suffix), without the index, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        elif path.suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            raise ValueError(f"{path}: write_table writes .csv or .parquet files")
    return path


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or parquet artefact (by the suffix)."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
