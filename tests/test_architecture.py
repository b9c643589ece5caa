"""The package's layout rules: one owner per fact, no book tooling in the science package, small modules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from glacier_utils import config

PACKAGE = config.PACKAGE_DIR
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
#: Modules allowed to pass the size guide, and why (their docstring says so too).
LONG_MODULES = {"paper.py": "the paper's tables as data", "training.py": "one run folder's writer and reader (its docstring)"}


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_importing_every_module_loads_no_book_tooling():
    script = ("import importlib, pkgutil, sys, glacier_utils\n"
              "for m in pkgutil.walk_packages(glacier_utils.__path__, 'glacier_utils.'):\n"
              "    importlib.import_module(m.name)\n"
              "print(sorted(k for k in ('papermill', 'jupyter_book', 'panel', 'nbformat', 'tools') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(_source(path).splitlines())
    assert lines <= 520 or path.name in LONG_MODULES, f"{path.name}: {lines} lines; split it by question"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_are_absolute(path):
    assert not re.search(r"^\s*from \.", _source(path), re.MULTILINE), f"{path.name} has a relative import"


#: (what, a regex of its definition, the one module allowed to hold it)
ONE_OWNER = [
    ("the label nodata", r"^\s*[A-Z_]*NODATA\s*(:[^=]*)?=\s*255\b", "config.py"),
    ("the side multiple", r"^\s*[A-Z_]*MULTIPLE\s*(:[^=]*)?=\s*16\b", "config.py"),
    ("the DN-nodata lookup", r"attrs\.get\(\s*[\"']nodata[\"']|\.rio\.nodata\b", "config.py"),
    ("the atomic rename", r"os\.(replace|rename)\(|\btmp\w*\.(replace|rename)\(", "_atomic.py"),
    ("the Keras model loader", r"keras\.models\.load_model\(|keras\.saving\.load_model\(", "training.py"),
    ("the brightness-temperature formula", r"^def brightness_temperature", "radiometry.py"),
    ("the surface class table", r"^SURFACE_CLASSES\b", "config.py"),
]


@pytest.mark.parametrize("what, pattern, owner", ONE_OWNER, ids=[w for w, _, _ in ONE_OWNER])
def test_each_fact_has_one_owner(what, pattern, owner):
    holders = [p.relative_to(PACKAGE).as_posix() for p in MODULES
               if re.search(pattern, _source(p), re.MULTILINE)]
    assert [Path(h).name for h in holders] == [owner], f"{what} is defined in {holders}, expected only {owner}"
