"""Run the study end to end: execute the notebooks with papermill in order, then build the book.

``glacier-outlines book`` (``python -m tools.pipeline``) is what the README's first command runs. The
committed notebooks are never written to: papermill writes executed copies under
``_build/executed/`` and the book is built from a staging tree (``_build/source``) that mirrors the
repository's layout, so each page's Colab link points at ``notebooks/<name>.ipynb`` at the commit
the book was built from. Only the staged copies are stamped with that repository and commit (read
from git: the ``origin`` remote and ``HEAD``): their set-up cells install exactly that version, and
the book's launch buttons open it. Notebooks reuse finished work themselves (prepared data, trained
networks); ``--force`` asks them to redo it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import dataclasses
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pandas as pd
import panel
import papermill as pm
import yaml
from jupyter_client.manager import AsyncKernelManager

from glacier_utils import config, runs
from glacier_utils import study as studies
from glacier_utils._atomic import write_text
from glacier_utils.provenance import checkout_commit

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
#: What the staging tree copies from the repository (the package and a Sphinx extension: the API reference).
BOOK_FILES = ("_config.yml", "_toc.yml", "book", "glacier_utils", "tools/api_docstrings.py")
#: Where the staged book gets the network diagrams (drawn from the Keras graphs) that book/networks.md shows.
NETWORK_FIGURES = Path("book") / "figures" / "networks"


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """One papermill execution: which committed notebook, with which parameters, written where."""

    source: Path
    parameters: dict
    output: Path
    #: The executed tree the output lies in; None: the book's (``EXECUTED_DIR``).
    root: Path | None = None

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


def write_executed_copy(page: Path, notebook: nbformat.NotebookNode, outputs: Sequence[list | None]) -> Path | None:
    """Store a page executed elsewhere (nbval): ``notebook`` with ``outputs[i]`` in its i-th code cell.

    Written only for a book page whose every code cell ran (no None) without an error, as valid nbformat;
    returns the path written, or None (the book build then executes the page itself).
    """
    pages = {p.resolve(): p for p in executed_pages()}
    page = pages.get(Path(page).resolve())
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if page is None or len(outputs) != len(code_cells) or any(
            ran is None or any(o.get("output_type") == "error" for o in ran) for ran in outputs):
        return None
    executed = copy.deepcopy(notebook)
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    for count, (cell, ran) in enumerate(zip(code_cells, outputs), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(output)) for output in ran]
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    try:
        nbformat.validate(executed)
    except nbformat.ValidationError:
        return None
    target = executed_copy(page)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text(target, nbformat.writes(executed))


def notebook_defaults(path: Path) -> dict:
    """The values of a notebook's ``parameters`` cell, as papermill reads them."""
    return {name: ast.literal_eval(p["default"]) for name, p in pm.inspect_notebook(str(path)).items()}


def declared_parameters(path: Path) -> set[str]:
    """The names a notebook's ``parameters`` cell assigns (read with ``ast``, whatever their comments say)."""
    names: set[str] = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def resolve_study(study: str | os.PathLike | None) -> str | None:
    """A study option as the notebooks get it: a packaged study's name (``"thr"``) or a TOML file's absolute path.

    The study is read and checked here, so a bad file fails before any notebook runs; the path is made
    absolute because papermill runs each notebook from its own folder.
    """
    if study is None:
        return None
    loaded = studies.load_study(study)
    return str(study) if Path(str(study)).suffix != ".toml" else str(loaded.path)


def skipped_pages(study: str | os.PathLike | None) -> dict[Path, str]:
    """The pages a study cannot run, each with the one line that says why.

    Notebook 02 needs TM3 and TM5. Notebook 05 maps the periods of the simulated region or the images a
    study file lists per period; a STAC study lists none (`Study.time_series_note`).
    """
    loaded = studies.load_study(study or "thr")
    skipped = {}
    if not loaded.has_band_ratio:
        skipped[NOTEBOOK_DIR / "02_band_ratio_threshold_sweep.ipynb"] = loaded.band_ratio_note()
    if loaded.time_series_note():
        skipped[NOTEBOOK_DIR / "05_time_series_1986_2021.ipynb"] = loaded.time_series_note()
    return skipped


def plan(profile: str = "quick", force: bool = False, pages_only: bool = False,
         study: str | os.PathLike | None = None, data_seed: int | None = None,
         executed_dir: Path | None = None) -> list[NotebookRun]:
    """The ordered papermill runs of the study for a profile (notebooks 01 to 05, 03 once per network and scene).

    The results chapter runs last. ``pages_only`` keeps only the runs whose output is a page of the book
    (notebook 03 once, with its defaults); notebook 04 then trains any network still missing itself.
    ``study`` (a study file or a packaged study's name) and ``data_seed`` go, as the papermill parameters
    ``study`` and ``data_seed``, to the notebooks that declare those parameters, and only to them; a
    page the study cannot run (:func:`skipped_pages`) is left out. ``executed_dir`` is where the executed
    copies go (the book's tree by default).
    """
    config.get_profile(profile)
    # Only non-default values are passed, so a quick run leaves the notebook's own parameter cell alone.
    common: dict = {}
    if profile != "quick":
        common["profile"] = profile
    if force:
        common["force"] = True
    wide = {"study": resolve_study(study), "data_seed": None if data_seed is None else int(data_seed)}
    wide = {name: value for name, value in wide.items() if value is not None}
    runs: list[NotebookRun] = []
    skipped = skipped_pages(study)
    for page in executed_pages():
        if page in skipped:
            continue
        declared = declared_parameters(page)
        # The results chapter only reads what the notebooks wrote: `force` means nothing to it.
        parameters = {k: v for k, v in common.items() if k != "force"} if page == RESULTS_NOTEBOOK else dict(common)
        parameters.update({name: value for name, value in wide.items() if name in declared})
        output = (executed_dir or EXECUTED_DIR) / page.relative_to(config.PROJECT_ROOT)
        runs.append(NotebookRun(page, parameters, output, executed_dir))  # notebook 03: with its own defaults
        if page.stem.startswith("03_") and not pages_only:
            defaults = notebook_defaults(page)
            for scene in (1, 2):
                for model in config.MODEL_NAMES:
                    if (model, scene) != (defaults["model"], defaults["scene"]):  # not the page's run again
                        name = f"{page.stem}_{model}_scene{scene}.ipynb"
                        runs.append(NotebookRun(page, {**parameters, "model": model, "scene": scene},
                                                output.parent / "runs" / name, executed_dir))
    return runs


def ignored_options(runs: Sequence[NotebookRun], study: str | None = None, data_seed: int | None = None) -> list[str]:
    """One line per notebook that does not declare a given study-wide option (it runs with its own)."""
    given = {name: value for name, value in (("study", study), ("data_seed", data_seed)) if value is not None}
    lines = []
    for source in dict.fromkeys(run.source for run in runs):
        passed = next(run.parameters for run in runs if run.source == source)
        missing = [name for name in given if name not in passed]
        if missing:
            lines.append(f"note: {source.name} has no parameter {' or '.join(missing)}: it runs with its own")
    return lines


def describe(parameters: dict) -> str:
    """Papermill parameters as ``name=value`` pairs ('defaults' when none)."""
    return ", ".join(f"{k}={v}" for k, v in parameters.items()) or "defaults"


#: ipykernel's own default backend: figures become image outputs of their cell.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: What the kernels papermill starts find in their environment (a user's own TF_CPP_MIN_LOG_LEVEL wins).
#: MPLBACKEND=Agg (common on headless machines and in CI) would keep every matplotlib figure out of the
#: executed notebooks, and so out of the book; TF_CPP_MIN_LOG_LEVEL=2 keeps TensorFlow's C++ notices out.
KERNEL_ENVIRONMENT = {"MPLBACKEND": INLINE_BACKEND}
KERNEL_ENVIRONMENT_DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "2"}
#: The kernels' own stderr (TensorFlow's C++ start-up lines, which no setting silences, and the kernel's
#: log) goes to one file per run here; what a cell prints still goes into its notebook.
KERNEL_LOG_DIR = BOOK_BUILD_DIR / "logs"


@contextlib.contextmanager
def kernel_environment():
    """Kernels started inside draw figures inline and keep TensorFlow's C++ notices to themselves.

    The kernels inherit this process's environment; it is restored on the way out.
    """
    wanted = {**{k: v for k, v in KERNEL_ENVIRONMENT_DEFAULTS.items() if k not in os.environ}, **KERNEL_ENVIRONMENT}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class QuietKernelManager(AsyncKernelManager):
    """A local kernel over IPC sockets, its process-level stderr written to ``stderr_path``.

    IPC (Unix sockets in the Jupyter runtime folder) rather than unencrypted TCP on localhost: ipykernel
    warns about the latter at every start, and nothing but this process needs to reach the kernel.
    """

    stderr_path: Path | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if os.name != "nt":  # Windows has no IPC transport
            self.transport = "ipc"

    async def start_kernel(self, **kw):
        """Start the kernel with its stdout and stderr in ``stderr_path`` (when set)."""
        if self.stderr_path is None or "stderr" in kw:
            return await super().start_kernel(**kw)
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "wb") as log:  # the kernel process keeps its own copy of the descriptor
            kw.setdefault("stdout", log)
            return await super().start_kernel(stderr=log, **kw)


def kernel_manager(stderr_path: Path | None) -> type[QuietKernelManager]:
    """A QuietKernelManager class writing the kernel's stderr to ``stderr_path`` (papermill takes a class)."""
    return type("RunKernelManager", (QuietKernelManager,), {"stderr_path": stderr_path})


def kernel_log(run: NotebookRun) -> Path:
    """Where the kernel of one run writes its own stderr (``logs/`` beside a separate executed tree)."""
    if run.root is None:
        return KERNEL_LOG_DIR / run.output.relative_to(EXECUTED_DIR).with_suffix(".log")
    return run.root.parent / "logs" / run.output.relative_to(run.root).with_suffix(".log")


def execute(runs: Sequence[NotebookRun]) -> pd.DataFrame:
    """Execute the runs in order with papermill, one line each; returns one row per run with its wall time.

    A failing notebook's error is raised with the path of its kernel's log.
    """
    # papermill parses a parameters cell's comments to document its types, and warns at every run about
    # comments holding an "=" (source="local"): noise, since the parameters themselves are injected fine.
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    rows = []
    width = len(str(len(runs)))
    for i, run in enumerate(runs, 1):
        run.output.parent.mkdir(parents=True, exist_ok=True)
        label = run.output.relative_to(run.root or EXECUTED_DIR).with_suffix("").as_posix()
        print(f"[{i:>{width}}/{len(runs)}] {label} ({describe(run.parameters)}) ...", end="", flush=True)
        log = kernel_log(run)
        start = time.perf_counter()
        try:
            with kernel_environment():
                pm.execute_notebook(
                    str(run.source), str(run.output), parameters=run.parameters or None,
                    cwd=str(run.source.parent), kernel_name="python3", progress_bar=False,
                    kernel_manager_class=kernel_manager(log),
                )
        except BaseException:
            print(f" failed after {time.perf_counter() - start:.0f} s (kernel log: {log})", flush=True)
            raise
        seconds = time.perf_counter() - start
        print(f" {seconds:.1f} s", flush=True)
        rows.append({"notebook": label, "parameters": describe(run.parameters), "seconds": round(seconds, 1)})
    return pd.DataFrame(rows, columns=["notebook", "parameters", "seconds"])


def stage_book(origin: Origin | None = None) -> Path:
    """Assemble the book's source tree: configuration and chapters, plus the executed notebooks, stamped.

    ``origin`` (default: read from git) stamps the staged notebooks' set-up cells and the launch buttons.
    """
    missing = [p.name for p in executed_pages() if not executed_copy(p).exists()]
    if missing:
        raise FileNotFoundError(f"no executed copy of {', '.join(missing)} under {EXECUTED_DIR}: "
                                "run the notebooks first (python -m tools.pipeline without --build-only)")
    if STAGING_DIR.exists():
        shutil.rmtree(STAGING_DIR)
    STAGING_DIR.mkdir(parents=True)
    for name in BOOK_FILES:
        source = config.PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, STAGING_DIR / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (STAGING_DIR / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, STAGING_DIR / name)
    for page in executed_pages():
        staged = STAGING_DIR / page.relative_to(config.PROJECT_ROOT)
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed_copy(page), staged)
    for message in stamp_staging(STAGING_DIR, read_origin() if origin is None else origin):
        print(f"warning: {message}", file=sys.stderr, flush=True)
    vendor_panel_assets(STAGING_DIR)
    with stderr_to(KERNEL_LOG_DIR / "diagrams.log"):  # TensorFlow's C++ start-up lines
        from tools import diagrams  # imports TensorFlow: only when a book is built

        diagrams.write_architecture_figures(STAGING_DIR / NETWORK_FIGURES)
    return STAGING_DIR


@contextlib.contextmanager
def stderr_to(path: Path):
    """This process's stderr (file descriptor 2, where TensorFlow's C++ library writes) goes to ``path`` inside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


# --------------------------------------------------------------------------------------------
# The repository and commit the book was built from, stamped into the staged copies
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Origin:
    """Where the book's code can be fetched: the ``origin`` remote's web address and the commit, from git."""

    #: ``https://<host>/<owner>/<repo>`` (credentials and ``.git`` dropped); None without a usable remote.
    url: str | None
    #: The commit the book is built from (``HEAD``); None outside a git checkout.
    commit: str | None
    #: Whether tracked files differ from that commit.
    dirty: bool = False
    #: Whether a remote branch contains the commit (it may not be pushed yet).
    pushed: bool = True

    @property
    def requirement(self) -> str | None:
        """What pip installs: ``git+<url>@<commit>``; None when either is unknown."""
        return f"git+{self.url}@{self.commit}" if self.url and self.commit else None

    @property
    def github_path(self) -> str | None:
        """``<owner>/<repo>`` when the remote is on GitHub (the launch buttons' one host); else None."""
        if not self.url or not self.commit:
            return None
        parts = urllib.parse.urlsplit(self.url)
        path = parts.path.strip("/")
        return path if parts.hostname == "github.com" and path.count("/") == 1 else None


#: An scp-like git address: ``[user@]host:path`` (``git@github.com:owner/repo.git``).
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?!//)(?P<path>.+)$")


def remote_web_url(remote: str | None) -> str | None:
    """The ``https://host/owner/repo`` of a git remote address; None for a local path or an unknown form.

    ``git@host:owner/repo.git``, ``ssh://git@host:22/owner/repo.git`` and
    ``https://user:token@host/owner/repo.git`` all give ``https://host/owner/repo``: no credentials
    ever reach the book.
    """
    if not remote or not remote.strip():
        return None
    remote = remote.strip()
    parts = urllib.parse.urlsplit(remote)
    if parts.scheme in ("https", "http", "ssh", "git", "git+ssh") and parts.hostname:
        host, path = parts.hostname, parts.path
    elif not parts.scheme and (found := _SCP_LIKE.match(remote)):
        host, path = found["host"], found["path"]
    else:
        return None  # file://, a local folder, a Windows drive
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"https://{host}/{path}" if path else None


def _git(root: Path, *args: str) -> str | None:
    """A git command's stripped output in ``root``; None when git is missing or the command fails."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def read_origin(root: Path = config.PROJECT_ROOT) -> Origin:
    """The repository (``git remote get-url origin``) and the commit (``git rev-parse HEAD``) of ``root``."""
    head = checkout_commit(root)
    if head is None:
        return Origin(url=None, commit=None)
    commit, dirty = head
    url = remote_web_url(_git(root, "remote", "get-url", "origin"))
    pushed = bool(_git(root, "branch", "--remotes", "--contains", commit)) if url else False
    return Origin(url=url, commit=commit, dirty=dirty, pushed=pushed)


#: The opening of every notebook's set-up cell. Committed with ``PACKAGE_SOURCE = ""``: the build stamps
#: the staged copy with ``git+<repository>@<commit>``; unstamped, a machine without the package is told
#: how to install it rather than sent to a guessed address.
INSTALL_BLOCK = """\
# On Colab or Kaggle the package is installed first. The book's build writes here the repository and
# commit it was built from; in the repository itself this line stays empty.
PACKAGE_SOURCE = ""
import importlib.util, subprocess, sys
if importlib.util.find_spec("glacier_utils") is None:
    if not PACKAGE_SOURCE:
        raise ModuleNotFoundError(
            "glacier_utils is not installed. Copy the PACKAGE_SOURCE line of this cell from the notebook's page "
            "in the built book (it names the repository and commit the book was built from) and run the cell "
            "again, or install the package yourself: pip install 'git+<repository URL>@<commit>'.")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE_SOURCE], check=True)
"""
#: The line of the set-up cell that the build stamps.
INSTALL_PLACEHOLDER = re.compile(r'^(?P<name>PACKAGE_SOURCE = )""', re.MULTILINE)
#: Google Colab opens ``<COLAB_URL>/github/<owner>/<repo>/blob/<commit>/<path>``.
COLAB_URL = "https://colab.research.google.com"
#: The notebook the introduction's badges open.
FIRST_NOTEBOOK = "notebooks/01_data_preparation.ipynb"


def stamp_install_cell(path: Path, requirement: str) -> int:
    """Write ``requirement`` into the set-up cell's ``PACKAGE_SOURCE = ""`` line of a notebook; returns the lines stamped."""
    notebook = nbformat.read(path, as_version=4)
    stamped = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.source, n = INSTALL_PLACEHOLDER.subn(lambda m: m["name"] + json.dumps(requirement), cell.source)
        stamped += n
    if stamped:
        nbformat.write(notebook, path)
    return stamped


def launch_badges(origin: Origin) -> str:
    """The introduction's "Open in Colab / Kaggle" badges for the first notebook at the origin's commit ('' without)."""
    if origin.github_path is None:
        return ""
    blob = f"{origin.github_path}/blob/{origin.commit}/{FIRST_NOTEBOOK}"
    return (f"{{bdg-link-warning}}`Open in Colab <{COLAB_URL}/github/{blob}>` "
            f"{{bdg-link-info}}`Open in Kaggle <https://kaggle.com/kernels/welcome?src=https://github.com/{blob}>`")


def stamp_launch_buttons(book_config: Path, origin: Origin) -> None:
    """Point the staged ``_config.yml``'s launch buttons at the origin's commit, or turn them off without one.

    Also sets the MyST substitution ``launch_badges`` (the introduction's badges, '' without an origin).
    """
    settings = yaml.safe_load(book_config.read_text(encoding="utf-8")) or {}
    repository = settings.setdefault("repository", {})
    launch = settings.setdefault("launch_buttons", {})
    html = settings.setdefault("html", {})
    if origin.github_path is not None:
        repository.update(url=origin.url, branch=origin.commit)
        launch["colab_url"] = COLAB_URL
        html["use_repository_button"] = True
    else:
        repository.pop("url", None)
        launch.pop("colab_url", None)
        html.update(use_repository_button=False, use_issues_button=False, use_edit_page_button=False)
    settings.setdefault("parse", {}).setdefault("myst_substitutions", {})["launch_badges"] = launch_badges(origin)
    book_config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")


def stamp_staging(source: Path, origin: Origin) -> list[str]:
    """Stamp the staged notebooks' set-up cells and the launch buttons with ``origin``; returns the warnings.

    Only the staged tree is touched; the committed notebooks keep their empty ``PACKAGE_SOURCE``.
    """
    messages = []
    requirement = origin.requirement
    if requirement is None:
        messages.append("no git remote 'origin' (or no commit): the book has no launch buttons, and its notebooks' "
                        "set-up cells ask the reader to install the package rather than guess where it lives")
    else:
        stamped = [path for path in sorted(source.rglob("*.ipynb")) if stamp_install_cell(path, requirement)]
        unstamped = [path.relative_to(source).as_posix() for path in sorted(source.rglob("*.ipynb"))
                     if path not in stamped and "glacier_utils" in path.read_text(encoding="utf-8")]
        if unstamped:
            messages.append(f"no 'PACKAGE_SOURCE = \"\"' line to stamp in {', '.join(unstamped)}")
        if origin.github_path is None:
            messages.append(f"the origin {origin.url} is not on GitHub: the book has no Colab launch buttons")
        if origin.dirty:
            messages.append(f"tracked files differ from {origin.commit[:12]}: the set-up cells install that "
                            "commit, without the changes this book shows")
        if not origin.pushed:
            messages.append(f"no remote branch contains {origin.commit[:12]} yet: its links work once it is pushed")
    stamp_launch_buttons(source / "_config.yml", origin)
    return messages


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


def summary(timings: pd.DataFrame) -> str:
    """The closing table of a run: one row per notebook run, and the total."""
    total = pd.DataFrame([{"notebook": "total", "parameters": "", "seconds": round(timings.seconds.sum(), 1)}])
    return pd.concat([timings, total], ignore_index=True).to_string(index=False)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of a book build (shared with ``glacier-outlines book``)."""
    parser.add_argument("--profile", default="quick", choices=sorted(config.PROFILES),
                        help="the run profile (default: quick)")
    parser.add_argument("--study", default=None, metavar="PATH|NAME",
                        help="a study file (.toml) or a packaged study's name (thr), passed as the parameter "
                             "`study` to the notebooks that declare it")
    parser.add_argument("--data-seed", type=int, default=None, metavar="N",
                        help="the seed of the simulated region and the splits, passed as the parameter "
                             "`data_seed` to the notebooks that declare it (default: the profile's)")
    parser.add_argument("--force", action="store_true", help="redo finished work (data, training)")
    parser.add_argument("--build-only", action="store_true", help="only build the book from executed notebooks")
    parser.add_argument("--no-build", action="store_true", help="execute the notebooks, skip the book build")
    parser.add_argument("--pages-only", action="store_true",
                        help="run each page once, notebook 03 with its defaults (the default; notebook 04 trains "
                             "the other networks in its own kernel)")
    parser.add_argument("--every-run", action="store_true",
                        help="also run notebook 03 once per network and scene, keeping each training's notebook")
    parser.add_argument("--update-references", action="store_true",
                        help="only store the pinned cells' outputs of the executed quick run as the tests' references")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Command-line entry point (see ``--help``); ``glacier-outlines book`` calls it with its own ``prog``."""
    parser = add_arguments(argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)

    if args.update_references:
        changed = update_references()
        print(f"updated {PINNED_RESULTS.name} for: " + ", ".join(changed) if changed else "the references are up to date")
        return 0
    if not args.build_only:
        study = resolve_study(args.study)
        todo = plan(args.profile, args.force, not args.every_run, study, args.data_seed)
        seed = "the profile's" if args.data_seed is None else args.data_seed
        print(f"{len(todo)} notebook runs: profile {args.profile!r}, study {study or 'thr (the default)'}, "
              f"data seed {seed}; kernel logs in {KERNEL_LOG_DIR}", flush=True)
        for line in ignored_options(todo, study, args.data_seed):
            print(line, flush=True)
        for page, why in skipped_pages(study).items():
            print(f"skipped {page.name}: {why}", flush=True)
        timings = execute(todo)
        if len(timings):
            name = studies.load_study(study).name if study else "thr"
            path = runs.write_table(runs.RunPaths(args.profile, study=name, data_seed=args.data_seed).notebook_timings,
                                    timings)
            print(summary(timings))
            print(f"(timings in {path})")
    if not args.no_build:
        html = build_book()
        print(f"book: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
