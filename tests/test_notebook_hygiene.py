"""Committed notebooks follow the project's conventions (no outputs, kernel python3, a parameters cell, pinned results)."""

from __future__ import annotations

import json
import subprocess

import pytest

from glacier_utils import config
from tools import pipeline

ROOT = config.PROJECT_ROOT


def committed_notebooks() -> list[str]:
    """Notebook paths tracked by git (falls back to the files on disk outside a checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True)
        files = out.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        files = []
    return files or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").rglob("*.ipynb")
                           if "runs" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def committed_text(path: str) -> str:
    """The staged (committed) version of a notebook; the working copy may hold papermill outputs."""
    out = subprocess.run(["git", "show", f":{path}"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else (ROOT / path).read_text()


NOTEBOOKS = committed_notebooks()


def test_the_study_notebooks_and_the_template_are_committed():
    assert "notebooks/templates/notebook_template.ipynb" in NOTEBOOKS


def is_pinned(cell: dict) -> bool:
    """Whether nbval compares this cell's output with its reference in notebooks/pinned_results.json."""
    return pipeline.PINNED_TAG in cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_notebook_has_no_outputs_kernel_python3_and_a_parameters_cell(path):
    nb = json.loads(committed_text(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c for c in code if c.get("outputs")], f"{path} is committed with outputs"
    assert not [c for c in code if c.get("execution_count")], f"{path} is committed with execution counts"
    assert nb["metadata"].get("kernelspec", {}).get("name", "python3") == "python3"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path} needs exactly one cell tagged 'parameters' for papermill"
    assert "profile" in "".join(tagged[0]["source"]), f"{path}: the parameters cell must set `profile`"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if "templates" not in p])
def test_study_notebook_reads_as_the_template_says(path):
    nb = json.loads(committed_text(path))
    headings = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for section in ("## Overview", "## Prerequisites", "## Parameters", "## Summary", "## What's next"):
        assert section in headings, f"{path} lacks the section {section!r}"
    assert not any("sys.path" in "".join(c["source"]) for c in nb["cells"]), f"{path} edits sys.path"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.startswith("notebooks/0")])
def test_study_notebook_pins_its_results_with_a_plain_text_reference(path):
    pinned = ["".join(c["source"]) for c in json.loads(committed_text(path))["cells"]
              if c["cell_type"] == "code" and is_pinned(c)]
    assert pinned, f"{path} has no cell tagged {pipeline.PINNED_TAG!r}: nothing in it is regression-tested"
    stored = pipeline.read_pinned_results().get(path, {})
    for source in pinned:
        outputs = stored.get(source)
        assert outputs, f"{path}: a pinned cell has no reference output (run `make book` then `make references`)"
        assert all(o["output_type"] == "stream" and o["name"] == "stdout" for o in outputs), \
            f"{path}: pinned cells print plain text (rich outputs carry ids that change every run)"
    assert set(stored) == set(pinned), f"{path}: {pipeline.PINNED_RESULTS.name} holds references of cells it no longer has"


def test_pinned_results_name_only_committed_notebooks():
    assert set(pipeline.read_pinned_results()) <= set(NOTEBOOKS)


def test_git_filter_strips_notebook_outputs_on_commit():
    attributes = (ROOT / ".gitattributes").read_text()
    assert "*.ipynb filter=nbstripout" in attributes
