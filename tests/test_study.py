"""The study's vocabulary and its artefacts by name."""

from __future__ import annotations

import pandas as pd
import pytest

from glacier_utils import config, study


def test_every_artefact_lives_under_the_profiles_run_folder(data_dir):
    paths = study.RunPaths("smoke")
    root = data_dir / "runs" / "smoke"
    assert paths.root == root
    assert paths.tiles == root / "tiles.zarr"
    assert paths.table_ii.parent == root and paths.changes.parent == root / "timeseries"
    assert paths.period_mask(0).name == "mask_1986_1988.tif"
    assert paths.period_mask(11).name == "mask_2019_2021.tif"
    assert paths.training_run("unet", "scene2", 3) == root / "models" / "scene2" / "unet_seed3"


def test_every_artefact_a_notebook_reads_names_its_writer():
    assert set(study.RunPaths.WRITERS) <= {name for name in dir(study.RunPaths) if not name.startswith("_")}


def test_a_missing_artefact_names_the_notebook_to_run(data_dir):
    with pytest.raises(FileNotFoundError, match="02_band_ratio_threshold_sweep.*04_scene_comparison"):
        study.RunPaths("smoke").require("table_ii", "scores")


def test_an_unknown_profile_or_model_is_refused(data_dir):
    with pytest.raises(ValueError, match="unknown profile"):
        study.RunPaths("huge")
    with pytest.raises(ValueError, match="m_landsnet"):
        study.RunPaths("smoke").training_run("segformer", "scene2", 0)


def test_tables_and_records_round_trip(tmp_path):
    table = pd.DataFrame({"area": ["training", "total"], "km2": [1.5, 2.25]})
    for name in ("t.csv", "t.parquet"):
        study.write_table(tmp_path / name, table)
        pd.testing.assert_frame_equal(study.read_table(tmp_path / name), table)
    study.write_json(tmp_path / "r.json", {"threshold": 3.1})
    assert study.read_json(tmp_path / "r.json") == {"threshold": 3.1}
    with pytest.raises(ValueError, match="csv or .parquet"):
        study.write_table(tmp_path / "t.xlsx", table)


def test_labels_cover_every_test_set_area():
    assert {study.area_label(a) for a in study.TEST_SET_AREAS.values()} == {
        "Scene 1", *(config.AREA_LABELS[a] for a in config.TESTING_AREAS)}
    assert set(study.SCENE_EXPERIMENTS.values()) <= set(study.EXPERIMENTS)
