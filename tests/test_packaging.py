"""The package as users get it: declared dependencies, version and commit, licence and citation, where data go."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import glacier_utils
from glacier_utils import config, paper, provenance

ROOT = config.PROJECT_ROOT
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Declared dependencies that no module imports, and why they are needed all the same.
USED_WITHOUT_IMPORT = {
    "zarr": "xarray's zarr engine (the tile dataset, tiles.store)",
    "netcdf4": "xarray's netCDF engine (tiles.store)",
    "pyarrow": "pandas' parquet engine (runs.write_table)",
    "bokeh": "holoviews' plotting backend (plots.interactive)",
    "ipykernel": "the kernel the notebooks run in",
}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()


def _declared(*groups: str) -> set[str]:
    """Distribution names of the main dependencies and the named extras (a package's extras included)."""
    requirements = list(PYPROJECT["project"]["dependencies"])
    for group in groups:
        requirements += PYPROJECT["project"]["optional-dependencies"][group]
    names = {_name(r) for r in requirements}
    for requirement in requirements:  # dask[array,distributed]: distributed comes with dask
        extras = re.search(r"\[([^\]]+)\]", requirement)
        names |= {_name(e) for e in extras.group(1).split(",")} if extras else set()
    return names


def _imported(folder: Path) -> dict[str, set[str]]:
    """Third-party top-level modules imported anywhere in a folder's Python files -> the files importing them."""
    found: dict[str, set[str]] = {}
    local = {"glacier_utils", "tools", "_level1_fixtures"}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    """The installed distributions providing a top-level module."""
    return {_name(d) for d in _module_distributions().get(module, [])}


@pytest.mark.parametrize("folder, groups", [("glacier_utils", ()), ("tools", ("dev",))])
def test_every_imported_package_is_declared(folder, groups):
    declared = _declared(*groups)
    undeclared = {module: sorted(files) for module, files in _imported(ROOT / folder).items()
                  if not _distributions(module) & declared}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_dependency_is_imported_or_says_why_it_is_there():
    imported = set().union(*(_distributions(m) for m in _imported(ROOT / "glacier_utils")))
    unused = {_name(r) for r in PYPROJECT["project"]["dependencies"]} - imported - set(USED_WITHOUT_IMPORT)
    assert not unused, f"declared but never imported by glacier_utils (drop them, or say why in USED_WITHOUT_IMPORT): {unused}"


def test_upper_bounds_stop_only_at_a_next_major_version():
    """Colab and Kaggle ship current releases: a cap below the next major version would make pip downgrade them."""
    for requirement in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]:
        for cap in re.findall(r"<\s*([0-9][0-9.]*)", requirement):
            assert re.fullmatch(r"[0-9]+", cap), f"{requirement}: cap at a major version (<N), not <{cap}"


def _environment_requirements() -> dict[str, str]:
    """environment.yml's conda and pip requirements: normalised name -> the version specifier."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries = [d for d in environment["dependencies"] if isinstance(d, str)]
    entries += next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    return {_name(e): e[len(re.match(r"[A-Za-z0-9_.-]+", e).group(0)):].strip() for e in entries
            if not e.startswith("-e")}


def test_environment_yml_asks_for_the_same_versions_as_pyproject():
    environment = _environment_requirements()
    for requirement in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]:
        name = _name(requirement)
        specifier = re.sub(r"^[A-Za-z0-9_.-]+(\[[^\]]*\])?", "", requirement).strip()
        assert environment.get(name) == specifier, f"environment.yml: {name}{environment.get(name)} vs {requirement}"
    assert environment["distributed"] == environment["dask"]  # pyproject's dask[distributed]


def test_python_3_11_and_3_12_are_accepted_everywhere():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert {"Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12"} <= set(
        PYPROJECT["project"]["classifiers"])
    makefile = (ROOT / "Makefile").read_text()
    assert "((3, 11), (3, 12))" in makefile
    assert yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"][0] == "python>=3.11,<3.13"


# --------------------------------------------------------------------------------------------
# A release a paper can cite: licence, citation, version from git, provenance in the records
# --------------------------------------------------------------------------------------------
def test_the_licence_and_the_citation_agree():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software" and citation["license"] == "MIT"
    (reference,) = citation["references"]
    assert reference["doi"] == paper.DOI and reference["year"] == 2022
    assert [a["family-names"] for a in reference["authors"]] == ["Chen", "Zhang", "Yi", "Zhang", "Chao"]


def test_the_version_comes_from_the_git_tags():
    assert PYPROJECT["project"]["dynamic"] == ["version"] and "version" not in PYPROJECT["project"]
    assert "setuptools-scm>=8" in PYPROJECT["build-system"]["requires"]
    assert PYPROJECT["tool"]["setuptools_scm"]["fallback_version"] == "0.1.0.dev0"
    assert provenance.version() == glacier_utils.__version__
    try:
        assert glacier_utils.__version__ == importlib.metadata.version("glacier-utils")
    except importlib.metadata.PackageNotFoundError:
        assert glacier_utils.__version__ == "0+unknown"
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_the_commit_of_a_checkout_is_read_from_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    assert provenance.commit() == _git("rev-parse", "HEAD") + ("+dirty" if dirty else "")
    assert provenance.record() == {"version": glacier_utils.__version__, "commit": provenance.commit()}


class _Installed:
    """A stand-in for an installed distribution's metadata."""

    def __init__(self, version, direct_url=None):
        self.version = version
        self._direct_url = direct_url

    def read_text(self, name):
        return json.dumps(self._direct_url) if name == "direct_url.json" and self._direct_url else None


@pytest.mark.parametrize("installed, commit", [
    (_Installed("0.2.0", {"url": "https://github.com/o/r", "vcs_info": {"vcs": "git", "commit_id": "f" * 40}}), "f" * 40),
    (_Installed("0.2.1.dev3+g1a2b3c4d"), "1a2b3c4d"),
    (_Installed("0.2.0"), None),
])
def test_an_installed_package_knows_its_commit_from_pip_or_its_version(monkeypatch, installed, commit):
    monkeypatch.setattr(config, "IN_SOURCE_CHECKOUT", False)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: installed)
    assert provenance.commit() == commit


# --------------------------------------------------------------------------------------------
# Where an installed package keeps its data; no repository address typed anywhere
# --------------------------------------------------------------------------------------------
def test_an_installed_package_keeps_its_data_below_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("GLACIER_DATA_DIR", raising=False)
    assert config.IN_SOURCE_CHECKOUT and config.data_root() == ROOT / "data"
    monkeypatch.setattr(config, "IN_SOURCE_CHECKOUT", False)
    monkeypatch.chdir(tmp_path)
    assert config.data_root() == tmp_path.resolve() / "glacier_data"
    monkeypatch.setenv("GLACIER_DATA_DIR", str(tmp_path / "elsewhere"))
    assert config.data_root() == tmp_path / "elsewhere"  # the environment variable still wins


def test_no_file_names_a_repository_that_was_not_read_from_git():
    """The repository's address comes from `git remote get-url origin` at build time, never from a guess."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = _git("ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    guessed = re.compile(r"github\.com/[\w.-]+/glacier-outlines\b")
    offenders = sorted(f for f in files if (ROOT / f).is_file() and (ROOT / f).suffix not in (".png", ".jpg", ".tif")
                       and guessed.search((ROOT / f).read_text(encoding="utf-8", errors="ignore")))
    assert not offenders, f"a repository address typed in {offenders}: the book build reads it from git"
    urls = PYPROJECT["project"].get("urls", {})
    if "Repository" in urls:
        from tools.pipeline import remote_web_url

        remote = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT, capture_output=True, text=True)
        assert remote.returncode == 0 and urls["Repository"] == remote_web_url(remote.stdout), (
            "pyproject's Repository must be the origin remote's address")
