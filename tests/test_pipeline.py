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
    if not runs:
        pytest.skip("notebook 03 is not written yet")
    assert {(r.parameters["model"], r.parameters["scene"]) for r in runs} == {
        (m, s) for m in config.MODEL_NAMES for s in (1, 2)}
    assert all(r.parameters["profile"] == "paper" and r.parameters["force"] for r in runs)
    assert all(r.output.parent == pipeline.RUNS_DIR for r in runs)


def test_unknown_profile_is_rejected_before_anything_runs():
    with pytest.raises(ValueError, match="unknown profile"):
        pipeline.plan("huge")
