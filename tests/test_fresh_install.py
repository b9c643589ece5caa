"""A notebook on a fresh machine: the package installed from a wheel, no checkout, an empty data folder.

This is what a Colab or Kaggle VM is: a new environment where `pip install` put the package in
site-packages, the working directory is empty and no earlier notebook has run. The test builds a
real wheel from this checkout, installs it (not editable) into a new virtual environment outside
the checkout, and runs notebook 02 there with papermill in the smoke profile: the notebook must
rebuild notebook 01's tiles itself and write everything below the working directory.

The new environment takes its dependencies from the running one (a ``.pth`` file pointing at its
site-packages), so nothing is downloaded but, where the build requirements are not installed, the
setuptools and setuptools-scm pip fetches to build the wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from glacier_utils import config

pytestmark = pytest.mark.slow

NOTEBOOK = config.PROJECT_ROOT / "notebooks" / "02_band_ratio_threshold_sweep.ipynb"
#: What the wheel is built from: the files pyproject.toml packages, and git's metadata for the version.
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "glacier_utils", ".git")
KERNEL = "glacier-fresh-install"


def _run(args, **kwargs):
    """Run a command; on failure, fail the test with its output."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs)
    if done.returncode:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def _build_requirements_installed() -> bool:
    """Whether this environment can build the wheel without pip fetching setuptools and setuptools-scm."""
    if importlib.util.find_spec("setuptools_scm") is None:
        return False
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0]) >= 77
    except importlib.metadata.PackageNotFoundError:
        return False


def build_wheel(folder: Path) -> Path:
    """A wheel of this checkout's package, built from a copy (the checkout gets no build/ folder)."""
    source = folder / "source"
    for name in WHEEL_SOURCES:
        path = config.PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    isolation = ["--no-build-isolation"] if _build_requirements_installed() else []
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation, "--wheel-dir", folder / "dist",
          source])
    (wheel,) = (folder / "dist").glob("glacier_utils-*.whl")
    return wheel


def fresh_environment(folder: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed and this environment's packages visible; its python."""
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "_dependencies_from_the_test_environment.pth").write_text("\n".join(ours) + "\n")
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel])
    _run([python, "-m", "ipykernel", "install", "--prefix", folder, "--name", KERNEL])
    return python


def notebook_as_a_fresh_machine_runs_it(path: Path, out: Path) -> Path:
    """A copy of a notebook that also records, in a last cell, which package and data folder it used.

    Until the committed notebook makes the call itself, the copy loads its tiles through
    ``experiments.ensure_prerequisites``, as the book's notebooks do.
    """
    notebook = nbformat.read(path, as_version=4)
    if "ensure_prerequisites" not in path.read_text(encoding="utf-8"):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.source = re.sub(r"experiments\.load_tiles\((\w+)\)",
                                     r'experiments.ensure_prerequisites(\1, need=["tiles"])', cell.source)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json as _json, sys as _sys, glacier_utils as _gu\n"
        "from glacier_utils import config as _config\n"
        "_json.dump({'package': _gu.__file__, 'version': _gu.__version__, 'python': _sys.executable,\n"
        "            'data_root': str(_config.data_root()), 'in_checkout': _config.IN_SOURCE_CHECKOUT},\n"
        "           open('where.json', 'w'))"))
    nbformat.write(notebook, out)
    return out


def test_a_notebook_runs_from_a_wheel_in_a_fresh_environment_with_an_empty_data_folder(tmp_path):
    wheel = build_wheel(tmp_path / "build")
    python = fresh_environment(tmp_path / "venv", wheel)
    work = tmp_path / "work"  # the working directory: empty, outside the checkout
    work.mkdir()
    notebook = notebook_as_a_fresh_machine_runs_it(NOTEBOOK, tmp_path / NOTEBOOK.name)
    env = {k: v for k, v in os.environ.items() if k not in ("GLACIER_DATA_DIR", "PYTHONPATH", "JUPYTER_PATH")}

    imported = _run([python, "-c", "import glacier_utils; print(glacier_utils.__file__)"], cwd=work, env=env)
    assert Path(imported.stdout.strip()).is_relative_to(tmp_path / "venv")  # the wheel's copy, not the checkout
    assert "prepare" in _run([python.parent / "glacier-outlines", "-h"], cwd=work, env=env).stdout
    book = subprocess.run([python.parent / "glacier-outlines", "book"], cwd=work, env=env, capture_output=True, text=True)
    assert book.returncode != 0 and "needs a source checkout" in book.stderr
    _run([python, "-m", "papermill", notebook, tmp_path / "executed.ipynb", "-p", "profile", "smoke",
          "-k", KERNEL, "--cwd", work, "--no-progress-bar"], cwd=work, env=env)

    where = json.loads((work / "where.json").read_text())
    assert Path(where["package"]).is_relative_to(tmp_path / "venv") and not where["in_checkout"]
    assert Path(where["python"]).parent == python.parent
    assert where["data_root"] == str((work / config.INSTALLED_DATA_DIR_NAME).resolve())
    run = work / config.INSTALLED_DATA_DIR_NAME / "runs" / "thr" / "smoke"
    assert (run / "tiles.zarr").is_dir() and (run / "data_preparation.json").is_file()  # rebuilt by notebook 02
    assert (run / "band_ratio.json").is_file()  # notebook 02's own result
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "preparing them as notebook 01 does" in printed


def test_the_wheel_holds_the_package_its_licence_and_its_study_files_but_not_the_tooling(tmp_path):
    wheel = zipfile.ZipFile(build_wheel(tmp_path))
    names = wheel.namelist()
    assert "glacier_utils/studies/thr.toml" in names and "glacier_utils/cli.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tools/", "tests/", "notebooks/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "glacier-outlines = glacier_utils.cli:main" in wheel.read(entry_points).decode()
