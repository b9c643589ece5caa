"""Run the study end to end: execute the notebooks with papermill in order, then build the book.

``python -m glacier_utils.pipeline --profile quick`` is what the README's first command runs. The
committed notebooks are never written to: papermill writes executed copies under
``_build/executed/`` and the book is built from a staging tree (``_build/source``) that mirrors the
repository's layout, so each page's Colab/Kaggle link still points at ``notebooks/<name>.ipynb``.
Notebooks reuse finished work themselves (prepared data, trained networks); ``--force`` asks them
to redo it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from glacier_utils import config

NOTEBOOK_DIR = config.PROJECT_ROOT / "notebooks"
BOOK_BUILD_DIR = config.PROJECT_ROOT / "_build"
#: Executed copies of the notebooks, in the repository's layout (notebooks/..., notebooks/runs/...).
EXECUTED_DIR = BOOK_BUILD_DIR / "executed"
RUNS_DIR = EXECUTED_DIR / "notebooks" / "runs"
#: The book's staging tree: configuration and chapters copied, executed notebooks in place of the committed ones.
STAGING_DIR = BOOK_BUILD_DIR / "source"
BOOK_FILES = ("_config.yml", "_toc.yml", "book")


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """One papermill execution: which notebook, with which parameters, written where."""

    notebook: str
    parameters: dict
    output: Path

    @property
    def source(self) -> Path:
        """Path of the committed notebook."""
        return NOTEBOOK_DIR / f"{self.notebook}.ipynb"


def plan(profile: str = "quick", force: bool = False) -> list[NotebookRun]:
    """The ordered papermill runs of the study for a profile (notebooks 01 to 05, 03 once per network and scene)."""
    config.get_profile(profile)
    # Only non-default values are passed, so a quick run leaves the notebook's own parameter cell alone.
    common: dict = {}
    if profile != "quick":
        common["profile"] = profile
    if force:
        common["force"] = True
    runs: list[NotebookRun] = []
    for name in sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        if name.startswith("03_"):
            # The book's page: the notebook's own defaults (M-LandsNet, Scene 1).
            runs.append(NotebookRun(name, dict(common), EXECUTED_DIR / "notebooks" / f"{name}.ipynb"))
            for scene in (1, 2):
                for model in config.MODEL_NAMES:
                    if (model, scene) == ("m_landsnet", 1):
                        continue  # the in-place run above
                    out = RUNS_DIR / f"{name}_{model}_scene{scene}.ipynb"
                    runs.append(NotebookRun(name, {**common, "model": model, "scene": scene}, out))
        else:
            runs.append(NotebookRun(name, dict(common), EXECUTED_DIR / "notebooks" / f"{name}.ipynb"))
    return runs


def execute(runs: Sequence[NotebookRun]) -> pd.DataFrame:
    """Execute the runs in order with papermill; returns one row per run with its wall time in seconds."""
    import papermill as pm  # imported here: the package must import without the notebook stack

    rows = []
    for i, run in enumerate(runs, 1):
        run.output.parent.mkdir(parents=True, exist_ok=True)
        label = run.output.relative_to(config.PROJECT_ROOT)
        print(f"[{i}/{len(runs)}] {label} {run.parameters or ''}", flush=True)
        start = time.perf_counter()
        pm.execute_notebook(
            str(run.source), str(run.output), parameters=run.parameters or None,
            cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False,
        )
        seconds = time.perf_counter() - start
        print(f"    done in {seconds:.1f} s", flush=True)
        rows.append({"notebook": str(label), "parameters": run.parameters, "seconds": round(seconds, 1)})
    return pd.DataFrame(rows, columns=["notebook", "parameters", "seconds"])


def stage_book() -> Path:
    """Assemble the book's source tree: configuration and chapters, plus the executed notebooks."""
    missing = [p.name for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
               if not (EXECUTED_DIR / "notebooks" / p.name).exists()]
    if missing:
        raise FileNotFoundError(f"no executed copy of {', '.join(missing)} under {EXECUTED_DIR}: "
                                "run the notebooks first (python -m glacier_utils.pipeline without --build-only)")
    if STAGING_DIR.exists():
        shutil.rmtree(STAGING_DIR)
    STAGING_DIR.mkdir(parents=True)
    for name in BOOK_FILES:
        source = config.PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, STAGING_DIR / name)
    shutil.copytree(EXECUTED_DIR / "notebooks", STAGING_DIR / "notebooks", ignore=shutil.ignore_patterns("runs"))
    return STAGING_DIR


def build_book() -> Path:
    """Build the HTML book from the executed notebooks, warnings as errors; returns the HTML folder."""
    source = stage_book()
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jupyter_book), "build", str(source), "--path-output", str(config.PROJECT_ROOT),
                    "--warningiserror", "--nitpick", "--keep-going"], check=True)
    return BOOK_BUILD_DIR / "html"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(config.PROFILES))
    parser.add_argument("--force", action="store_true", help="redo finished work (data, training)")
    parser.add_argument("--build-only", action="store_true", help="only build the book from executed notebooks")
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks, skip the book build")
    args = parser.parse_args(argv)

    if not args.build_only:
        timings = execute(plan(args.profile, args.force))
        if len(timings):
            path = config.run_dir(args.profile) / "notebook_timings.csv"
            timings.to_csv(path, index=False)
            print(timings.to_string(index=False))
            print(f"total: {timings.seconds.sum():.0f} s (timings in {path})")
    if not args.no_build:
        html = build_book()
        print(f"book: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
