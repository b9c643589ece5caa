"""Experiment bookkeeping shared by notebooks 03-05: splits, run folders, training reuse, predictions."""

from __future__ import annotations

import numpy as np
import pytest

from glacier_utils import config, experiments, runs, study, tiles
from glacier_utils.io import sources


@pytest.fixture(scope="module")
def smoke_tiles():
    scenes = sources.training_scenes("synthetic", "smoke", seed=5)
    return tiles.prepare_tile_dataset(scenes, "smoke", seed=5)


def test_scene_and_policy_name_the_tile_experiment():
    assert study.experiment_name(1) == "scene1_grouped"
    assert study.experiment_name(1, "paper") == "scene1_paper"
    assert study.experiment_name(2) == "scene2"
    with pytest.raises(ValueError, match="scene is 1 or 2"):
        study.experiment_name(3)


def test_missing_tile_dataset_points_at_notebook_01(data_dir):
    with pytest.raises(FileNotFoundError, match="01_data_preparation"):
        experiments.load_tiles("smoke")


def test_run_folders_are_per_profile_experiment_model_and_seed(data_dir):
    path = runs.RunPaths("smoke").training_run("unet", "scene2", 3)
    assert path == data_dir / "runs" / "thr" / "smoke" / "models" / "scene2" / "unet_seed3"
    with pytest.raises(ValueError, match="m_landsnet"):
        runs.RunPaths("smoke").training_run("segformer", "scene2", 0)


def test_images_are_normalised_with_the_training_statistics_of_the_experiment(smoke_tiles):
    train = tiles.split_indices(smoke_tiles, "scene2")["train"]
    x = experiments.normalised_images(smoke_tiles, train, "scene2")
    assert x.dtype == np.float32 and x.shape[-1] == config.N_BANDS
    np.testing.assert_allclose(x.reshape(-1, x.shape[-1]).mean(axis=0), 0.0, atol=1e-3)


def test_band_ratio_masks_match_one_tile_at_a_time(smoke_tiles):
    from glacier_utils import bandratio

    index = np.arange(3)
    masks = experiments.band_ratio_masks(smoke_tiles, index, 2.5)
    single = bandratio.classify(smoke_tiles["image"].isel(sample=1).transpose("band", "y", "x").values, 2.5)
    assert masks.shape == (3, *smoke_tiles["label"].shape[1:]) and masks.dtype == bool
    np.testing.assert_array_equal(masks[1], np.asarray(single))


def test_a_finished_training_run_is_reused_not_retrained(smoke_tiles, data_dir):
    first = experiments.ensure_trained("m_landsnet", "scene2", "smoke", 0, smoke_tiles, verbose=0)
    again = experiments.ensure_trained("m_landsnet", "scene2", "smoke", 0, smoke_tiles, verbose=0)
    assert first.trained and not again.trained
    assert again.record["best_val_accuracy"] == first.record["best_val_accuracy"]
    probability = experiments.predict_glacier(again.load_model(), smoke_tiles, [0, 1], "scene2")
    assert probability.shape == (2, *smoke_tiles["label"].shape[1:])
    assert np.all((probability >= 0) & (probability <= 1))
