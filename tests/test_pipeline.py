"""The study runner plans papermill runs in order with the right parameters."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from glacier_utils import config
from tools import pipeline


def test_quick_plan_passes_no_parameters_to_the_single_run_notebooks():
    runs = pipeline.plan("quick")
    single = [r for r in runs if not r.notebook.startswith("03_")]
    assert all(r.parameters == {} for r in single)
    assert [r.notebook for r in runs] == sorted(r.notebook for r in runs)


def test_training_notebook_runs_once_per_network_and_scene():
    runs = [r for r in pipeline.plan("paper", force=True) if r.notebook.startswith("03_")]
    in_place, copies = runs[0], runs[1:]
    assert in_place.output == pipeline.EXECUTED_DIR / "notebooks" / in_place.source.name  # the book's page
    assert "model" not in in_place.parameters  # ... with the notebook's own defaults
    assert {(r.parameters["model"], r.parameters["scene"]) for r in copies} | {("m_landsnet", 1)} == {
        (m, s) for m in config.MODEL_NAMES for s in (1, 2)}
    assert len(copies) == 2 * len(config.MODEL_NAMES) - 1
    assert all(r.parameters["profile"] == "paper" and r.parameters["force"] for r in runs)
    assert all(r.output.parent == pipeline.RUNS_DIR for r in copies)


def test_every_study_notebook_is_planned_in_order_then_the_results_chapter():
    runs = pipeline.plan("quick")
    names = [r.notebook for r in runs]
    assert sorted(set(names)) == ["01_data_preparation", "02_band_ratio_threshold_sweep", "03_train_networks",
                                  "04_scene_comparison", "05_time_series_1986_2021", "results"]
    assert names == sorted(names)
    assert runs[-1].source == pipeline.RESULTS_NOTEBOOK
    assert runs[-1].output == pipeline.EXECUTED_DIR / "book" / "results.ipynb"


def test_pages_only_plan_runs_each_page_of_the_book_once():
    runs = pipeline.plan("paper", pages_only=True)
    assert [r.source for r in runs] == pipeline.executed_pages()
    assert all(r.parameters["profile"] == "paper" for r in runs)


def test_results_chapter_gets_the_profile_but_not_force():
    results = pipeline.plan("paper", force=True)[-1]
    assert results.parameters == {"profile": "paper"}


def test_unknown_profile_is_rejected_before_anything_runs():
    with pytest.raises(ValueError, match="unknown profile"):
        pipeline.plan("huge")


def test_committed_notebooks_are_never_papermill_outputs():
    for run in pipeline.plan("quick"):
        assert run.output != run.source
        assert pipeline.EXECUTED_DIR in run.output.parents


def test_staging_refuses_to_build_a_book_without_executed_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "EXECUTED_DIR", tmp_path / "executed")
    with pytest.raises(FileNotFoundError, match="01_data_preparation"):
        pipeline.stage_book()


PANEL_URL = "https://cdn.holoviz.org/panel/1.9.4/dist/css/loading.css?v=1.9.4"


def _staged_notebook(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "page.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [{"data": {"text/html": text}}]}]}))
    return path


def test_panel_assets_are_vendored_and_the_links_made_relative(tmp_path):
    page = _staged_notebook(tmp_path / "notebooks", f'<link href="{PANEL_URL}">')
    copied = pipeline.vendor_panel_assets(tmp_path)
    assert copied == [tmp_path / "_static" / "panel" / "css" / "loading.css"]
    assert copied[0].read_text().strip()
    text = page.read_text()
    assert "cdn.holoviz.org" not in text
    assert '../_static/panel/css/loading.css?v=1.9.4' in text


def test_a_link_to_a_panel_asset_that_is_not_installed_is_named(tmp_path):
    _staged_notebook(tmp_path / "notebooks", PANEL_URL.replace("loading.css", "no_such_sheet.css"))
    with pytest.raises(FileNotFoundError, match="no_such_sheet.css"):
        pipeline.vendor_panel_assets(tmp_path)


def _pinned_notebook(path, source, outputs=()):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(source, metadata={"tags": [pipeline.PINNED_TAG]}),
    ])
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in outputs]
    nbformat.write(nb, path)
    return path


def test_update_references_stores_only_the_pinned_outputs_and_leaves_the_notebook_alone(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(2)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    ran = nbformat.read(executed, as_version=4)
    ran.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="not pinned\n")]
    nbformat.write(ran, executed)
    store, before = tmp_path / "pinned.json", committed.read_text()

    assert pipeline.update_references([(committed, executed)], store, tmp_path) == ["committed.ipynb"]
    assert pipeline.read_pinned_results(store) == {
        "committed.ipynb": {"print(2)": [{"name": "stdout", "output_type": "stream", "text": "2\n"}]}}
    assert committed.read_text() == before
    assert pipeline.update_references([(committed, executed)], store, tmp_path) == []  # already up to date
    assert not list(tmp_path.glob("*.tmp"))


def test_update_references_refuses_an_executed_copy_of_another_version(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(3)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    store = tmp_path / "pinned.json"
    with pytest.raises(ValueError, match="older version"):
        pipeline.update_references([(committed, executed)], store, tmp_path)
    assert not store.exists()


def test_update_references_refuses_a_paper_profile_run(tmp_path):
    committed = _pinned_notebook(tmp_path / "committed.ipynb", "print(2)")
    executed = _pinned_notebook(tmp_path / "executed.ipynb", "print(2)", ["2\n"])
    ran = nbformat.read(executed, as_version=4)
    ran.metadata["papermill"] = {"parameters": {"profile": "paper"}}
    nbformat.write(ran, executed)
    with pytest.raises(ValueError, match="profile 'paper'"):
        pipeline.update_references([(committed, executed)], tmp_path / "pinned.json", tmp_path)


@pytest.mark.parametrize("outside", ["Agg", None])
def test_kernels_draw_figures_inline_whatever_the_environment_says(monkeypatch, outside):
    if outside is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", outside)
    with pipeline.inline_figures():
        assert os.environ["MPLBACKEND"] == pipeline.INLINE_BACKEND
    assert os.environ.get("MPLBACKEND") == outside


def test_notebook_defaults_are_read_from_the_parameters_cell():
    defaults = pipeline.notebook_defaults(pipeline.NOTEBOOK_DIR / "03_train_networks.ipynb")
    assert defaults["profile"] == "quick" and defaults["model"] in config.MODEL_NAMES and defaults["scene"] in (1, 2)
