"""The constants the paper fixes and the profiles."""

from __future__ import annotations

import re

import pytest

from glacier_utils import config, runs


def test_thirteen_scenes_in_four_areas_as_in_table_i_and_section_ii_c():
    assert len(config.WRS2_IDS) == 13 and len(set(config.WRS2_IDS)) == 13
    assert config.AREA_SCENES["training"] == ("139036", "137036", "138037", "137037")
    assert config.area_of_scene("135038") == "testing_3"
    assert config.area_of_scene("138 035") == "testing_1"


def test_unknown_wrs2_id_names_the_id():
    with pytest.raises(ValueError, match="133038"):
        config.area_of_scene("133038")


def test_twelve_three_year_periods_from_1986_to_2021():
    assert len(config.PERIODS) == 12
    assert config.PERIODS[0] == (1986, 1988) and config.PERIODS[-1] == (2019, 2021)
    assert config.period_of_year(2003) == 5 and config.PERIOD_LABELS[5] == "2001–2003"
    assert config.sensor_for_year(2012) == "TM" and config.sensor_for_year(2013) == "OLI"
    with pytest.raises(ValueError, match="1985"):
        config.period_of_year(1985)


def test_table_ii_thresholds_run_from_1_5_to_3_7_in_steps_of_0_2():
    assert config.RATIO_THRESHOLDS == (1.5, 1.7, 1.9, 2.1, 2.3, 2.5, 2.7, 2.9, 3.1, 3.3, 3.5, 3.7)


def test_oli_bands_map_onto_the_tm_order():
    assert config.SENSOR_BAND_FILES["OLI"][3] == 4 and config.SENSOR_BAND_FILES["OLI"][5] == 6
    assert config.SENSOR_BAND_FILES["OLI"][6] == 10
    assert set(config.SENSOR_BAND_FILES["TM"]) == set(config.BAND_NUMBERS)


def test_paper_profile_follows_the_published_recipe():
    p = config.get_profile("paper")
    assert (p.tile_px, p.batch_size, p.patience, p.lr_drop_every, p.learning_rate, p.base_filters) == (
        128, 4, 10, 10, 1e-3, 64)
    assert p.max_epochs >= 80


def test_quick_profile_shrinks_sizes_not_the_method():
    q, p = config.get_profile("quick"), config.get_profile("paper")
    assert q.tile_px < p.tile_px and q.base_filters < p.base_filters and q.scene_px < p.scene_px
    assert (q.test_fraction, q.validation_fraction) == (p.test_fraction, p.validation_fraction) == (0.3, 0.2)
    assert q.tile_px % 16 == 0 and q.scene_px % q.tile_px == 0
    assert q.patience < q.max_epochs and q.lr_drop_every < q.max_epochs


def test_unknown_profile_lists_the_choices():
    with pytest.raises(ValueError, match="quick"):
        config.get_profile("fast")


def test_paths_resolve_from_the_project_root_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLACIER_DATA_DIR", raising=False)
    assert config.data_root() == config.PROJECT_ROOT / "data"
    assert (config.PROJECT_ROOT / "pyproject.toml").is_file()


def test_run_dir_honours_glacier_data_dir(data_dir):
    path = config.run_dir("quick")
    assert path == data_dir / "runs" / "thr" / "quick" and path.is_dir()
    assert config.run_dir("smoke", "alps") == data_dir / "runs" / "alps" / "smoke"


def test_another_data_seed_gets_its_own_run_folder(data_dir):
    seed = config.get_profile("quick").data_seed
    assert config.run_dir("quick", "thr", seed) == data_dir / "runs" / "thr" / "quick"
    assert config.run_dir("quick", "thr", 7) == data_dir / "runs" / "thr" / "quick-seed7"
    paths = runs.RunPaths("quick", data_seed=7)
    assert paths.data_seed == 7 and paths.tiles.parent == data_dir / "runs" / "thr" / "quick-seed7"
    assert runs.RunPaths("quick").data_seed == seed and runs.RunPaths("quick").root.name == "quick"
    assert runs.RunPaths("quick").period_mask((2000, 2004)).name == "mask_2000_2004.tif"


def test_book_profile_table_matches_the_profiles():
    text = (config.PROJECT_ROOT / "book" / "methods.md").read_text()
    row = lambda name: re.search(rf"^\| {re.escape(name)} \|(.*)\|$", text, re.M).group(1)  # noqa: E731
    q, p = config.get_profile("quick"), config.get_profile("paper")
    assert row("tile size (px)").split("|") == [f" {q.tile_px} ", f" {p.tile_px} "]
    assert row("first-stage filters").split("|") == [f" {q.base_filters} ", f" {p.base_filters} "]
    assert row("batch size").split("|") == [f" {q.batch_size} ", f" {p.batch_size} "]
    assert row("epoch cap / patience / LR step").split("|") == [
        f" {q.max_epochs} / {q.patience} / {q.lr_drop_every} ", f" {p.max_epochs} / {p.patience} / {p.lr_drop_every} "]
    assert row("synthetic scene side (px)").split("|") == [f" {q.scene_px} ", f" {p.scene_px} "]
