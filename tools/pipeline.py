"""Run the study end to end: execute the notebooks with papermill in order, then build the book.

``python -m tools.pipeline --profile quick`` is what the README's first command runs. The
committed notebooks are never written to: papermill writes executed copies under
``_build/executed/`` and the book is built from a staging tree (``_build/source``) that mirrors the
repository's layout, so each page's Colab/Kaggle link still points at ``notebooks/<name>.ipynb``.
Notebooks reuse finished work themselves (prepared data, trained networks); ``--force`` asks them
to redo it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pandas as pd
import panel
import papermill as pm

from glacier_utils import config, runs
from glacier_utils._atomic import write_text

NOTEBOOK_DIR = config.PROJECT_ROOT / "notebooks"
#: The results chapter: a notebook that gathers what notebooks 02-05 wrote, run after them.
RESULTS_NOTEBOOK = config.PROJECT_ROOT / "book" / "results.ipynb"
BOOK_BUILD_DIR = config.PROJECT_ROOT / "_build"
#: Executed copies of the notebooks, in the repository's layout (notebooks/..., notebooks/runs/...).
EXECUTED_DIR = BOOK_BUILD_DIR / "executed"
RUNS_DIR = EXECUTED_DIR / "notebooks" / "runs"
#: The book's staging tree: configuration and chapters copied, executed notebooks in place of the committed ones.
STAGING_DIR = BOOK_BUILD_DIR / "source"
#: Touched after each successful build (Sphinx leaves unchanged pages, and their times, alone).
BUILD_STAMP = BOOK_BUILD_DIR / "html.built"
BOOK_FILES = ("_config.yml", "_toc.yml", "book")
#: Where the staged book gets the network diagrams (drawn from the Keras graphs) that book/networks.md shows.
NETWORK_FIGURES = Path("book") / "figures" / "networks"


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """One papermill execution: which committed notebook, with which parameters, written where."""

    source: Path
    parameters: dict
    output: Path

    @property
    def notebook(self) -> str:
        """The notebook's name, without folder and suffix."""
        return self.source.stem


def executed_pages() -> list[Path]:
    """The committed notebooks that are pages of the book (notebooks 01-05 and the results chapter)."""
    return [*sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")), RESULTS_NOTEBOOK]


def executed_copy(page: Path) -> Path:
    """Where the executed copy of a committed notebook goes: the repository's layout below EXECUTED_DIR."""
    return EXECUTED_DIR / page.relative_to(config.PROJECT_ROOT)


def notebook_defaults(path: Path) -> dict:
    """The values of a notebook's ``parameters`` cell, as papermill reads them."""


    return {name: ast.literal_eval(p["default"]) for name, p in pm.inspect_notebook(str(path)).items()}


def plan(profile: str = "quick", force: bool = False, pages_only: bool = False) -> list[NotebookRun]:
    """The ordered papermill runs of the study for a profile (notebooks 01 to 05, 03 once per network and scene).

    The results chapter runs last. ``pages_only`` keeps only the runs whose output is a page of the book
    (notebook 03 once, with its defaults); notebook 04 then trains any network still missing itself.
    """
    config.get_profile(profile)
    # Only non-default values are passed, so a quick run leaves the notebook's own parameter cell alone.
    common: dict = {}
    if profile != "quick":
        common["profile"] = profile
    if force:
        common["force"] = True
    runs: list[NotebookRun] = []
    for page in executed_pages():
        # The results chapter only reads what the notebooks wrote: `force` means nothing to it.
        parameters = {k: v for k, v in common.items() if k != "force"} if page == RESULTS_NOTEBOOK else dict(common)
        runs.append(NotebookRun(page, parameters, executed_copy(page)))  # notebook 03: with its own defaults
        if page.stem.startswith("03_") and not pages_only:
            defaults = notebook_defaults(page)
            for scene in (1, 2):
                for model in config.MODEL_NAMES:
                    if (model, scene) != (defaults["model"], defaults["scene"]):  # not the page's run again
                        runs.append(NotebookRun(page, {**common, "model": model, "scene": scene},
                                                RUNS_DIR / f"{page.stem}_{model}_scene{scene}.ipynb"))
    return runs


#: ipykernel's own default backend: figures become image outputs of their cell.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


@contextlib.contextmanager
def inline_figures():
    """Kernels started inside draw matplotlib figures inline, whatever MPLBACKEND says outside.

    The kernels inherit this process's environment, and MPLBACKEND=Agg (common on headless machines and
    in CI) would keep every matplotlib figure out of the executed notebooks, and so out of the book.
    """
    before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = before


def execute(runs: Sequence[NotebookRun]) -> pd.DataFrame:
    """Execute the runs in order with papermill; returns one row per run with its wall time in seconds."""

    rows = []
    for i, run in enumerate(runs, 1):
        run.output.parent.mkdir(parents=True, exist_ok=True)
        label = run.output.relative_to(config.PROJECT_ROOT)
        print(f"[{i}/{len(runs)}] {label} {run.parameters or ''}", flush=True)
        start = time.perf_counter()
        with inline_figures():
            pm.execute_notebook(
                str(run.source), str(run.output), parameters=run.parameters or None,
                cwd=str(run.source.parent), kernel_name="python3", progress_bar=False,
            )
        seconds = time.perf_counter() - start
        print(f"    done in {seconds:.1f} s", flush=True)
        rows.append({"notebook": str(label), "parameters": run.parameters, "seconds": round(seconds, 1)})
    return pd.DataFrame(rows, columns=["notebook", "parameters", "seconds"])


def stage_book() -> Path:
    """Assemble the book's source tree: configuration and chapters, plus the executed notebooks."""
    missing = [p.name for p in executed_pages() if not executed_copy(p).exists()]
    if missing:
        raise FileNotFoundError(f"no executed copy of {', '.join(missing)} under {EXECUTED_DIR}: "
                                "run the notebooks first (python -m tools.pipeline without --build-only)")
    if STAGING_DIR.exists():
        shutil.rmtree(STAGING_DIR)
    STAGING_DIR.mkdir(parents=True)
    for name in BOOK_FILES:
        source = config.PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, STAGING_DIR / name)
    for page in executed_pages():
        staged = STAGING_DIR / page.relative_to(config.PROJECT_ROOT)
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed_copy(page), staged)
    vendor_panel_assets(STAGING_DIR)
    from tools import diagrams  # imports TensorFlow: only when a book is built

    diagrams.write_architecture_figures(STAGING_DIR / NETWORK_FIGURES)
    return STAGING_DIR


#: Panel (under hvplot/holoviews) writes its stylesheets and module shim as CDN links into the
#: outputs even when BokehJS itself is inlined; the book must render without network access.
PANEL_CDN = re.compile(r"https://cdn\.holoviz\.org/panel/[^/]+/dist/([^\"'\\\s?]+)")


def vendor_panel_assets(source: Path) -> list[Path]:
    """Copy the Panel assets the staged notebooks link to into ``_static/panel`` and point the links there.

    Done here rather than with a Panel setting: Panel only chooses between its CDN and a Panel server's
    own route, and a static book has neither. Returns the copied files.
    """

    dist = Path(panel.__file__).parent / "dist"
    static = source / "_static" / "panel"
    copied: set[Path] = set()
    for notebook in sorted(source.rglob("*.ipynb")):
        text = notebook.read_text(encoding="utf-8")
        assets = set(PANEL_CDN.findall(text))
        if not assets:
            continue
        for asset in sorted(assets):
            local = dist / asset
            if not local.is_file():
                raise FileNotFoundError(f"{notebook.name} links to Panel's {asset}, which is not in the installed "
                                        f"panel {panel.__version__} ({dist}): rerun the notebooks with this panel")
            (static / asset).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local, static / asset)
            copied.add(static / asset)
        relative = Path(os.path.relpath(static, notebook.parent)).as_posix()
        notebook.write_text(PANEL_CDN.sub(lambda m: f"{relative}/{m.group(1)}", text), encoding="utf-8")
    return sorted(copied)


#: nbval compares the output of cells with this tag with their reference in PINNED_RESULTS.
PINNED_TAG = "nbval-check-output"
#: The pinned cells' reference outputs (quick profile), kept out of the notebooks so that they stay output-free:
#: ``{notebook path below the project root: {cell source: [nbformat outputs]}}``. Read by the root conftest.py.
PINNED_RESULTS = NOTEBOOK_DIR / "pinned_results.json"


def read_pinned_results(path: Path = PINNED_RESULTS) -> dict:
    """The stored reference outputs of the pinned cells (empty where none are stored yet)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def update_references(pairs: Sequence[tuple[Path, Path]] | None = None, path: Path = PINNED_RESULTS,
                      root: Path = config.PROJECT_ROOT) -> list[str]:
    """Store the outputs of the pinned cells of executed quick-profile notebooks as nbval's references.

    Run after an intended change of results (``make references``). Cells are matched by their source.
    Returns the notebooks (paths below ``root``) whose references changed; the file is written to a
    temporary name first, then renamed.
    """

    references = {}
    for committed, executed in [(p, executed_copy(p)) for p in executed_pages()] if pairs is None else pairs:
        pinned = [c.source for c in nbformat.read(committed, as_version=4).cells
                  if PINNED_TAG in c.metadata.get("tags", [])]
        if not pinned:
            continue
        if not executed.exists():
            raise FileNotFoundError(f"no executed copy of {committed.name} at {executed}: run the quick profile first")
        ran = nbformat.read(executed, as_version=4)
        profile = ran.metadata.get("papermill", {}).get("parameters", {}).get("profile", "quick")
        if profile != "quick":
            raise ValueError(f"{executed} ran with profile {profile!r}: the references are the quick profile's")
        outputs = {c.source: c.get("outputs", []) for c in ran.cells if c.cell_type == "code"}
        missing = [source for source in pinned if source not in outputs]
        if missing:
            raise ValueError(f"{executed} has no cell with the source of a pinned cell of {committed.name}: "
                             "it was executed from an older version; rerun the notebooks")
        references[committed.relative_to(root).as_posix()] = {
            source: [{k: v for k, v in o.items() if k != "execution_count"} for o in outputs[source]]
            for source in pinned}
    # A JSON round trip turns nbformat's nodes into plain data, comparable with what is stored.
    references = json.loads(json.dumps(references))
    stored = read_pinned_results(path)
    changed = sorted(k for k in set(stored) | set(references) if stored.get(k) != references.get(k))
    if changed:
        write_text(path, json.dumps(references, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return changed


def build_book() -> Path:
    """Build the HTML book from the executed notebooks, warnings as errors; returns the HTML folder."""
    source = stage_book()
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jupyter_book), "build", str(source), "--path-output", str(config.PROJECT_ROOT),
                    "--warningiserror", "--nitpick", "--keep-going"], check=True)
    BUILD_STAMP.touch()
    return BOOK_BUILD_DIR / "html"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(config.PROFILES))
    parser.add_argument("--force", action="store_true", help="redo finished work (data, training)")
    parser.add_argument("--build-only", action="store_true", help="only build the book from executed notebooks")
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks, skip the book build")
    parser.add_argument("--pages-only", action="store_true",
                        help="run notebook 03 once (the book's page), not once per network and scene")
    parser.add_argument("--update-references", action="store_true",
                        help="only store the pinned cells' outputs of the executed quick run as the tests' references")
    args = parser.parse_args(argv)

    if args.update_references:
        changed = update_references()
        print(f"updated {PINNED_RESULTS.name} for: " + ", ".join(changed) if changed else "the references are up to date")
        return 0
    if not args.build_only:
        timings = execute(plan(args.profile, args.force, args.pages_only))
        if len(timings):
            path = runs.write_table(runs.RunPaths(args.profile).notebook_timings, timings)
            print(timings.to_string(index=False))
            print(f"total: {timings.seconds.sum():.0f} s (timings in {path})")
    if not args.no_build:
        html = build_book()
        print(f"book: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
