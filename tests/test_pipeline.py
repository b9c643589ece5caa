"""The study runner plans papermill runs in order with the right parameters."""

from __future__ import annotations

import pytest

from glacier_utils import config, pipeline


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


def test_every_study_notebook_is_planned_in_order():
    names = [r.notebook for r in pipeline.plan("quick")]
    assert sorted(set(names)) == ["01_data_preparation", "02_band_ratio_threshold_sweep", "03_train_networks",
                                  "04_scene_comparison", "05_time_series_1986_2021"]
    assert names == sorted(names)


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
