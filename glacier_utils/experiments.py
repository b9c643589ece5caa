"""The study's experiments: which tiles train and test a network in each scene, and where runs live.

Notebook 03 trains one network on one scene; notebook 04 evaluates every network on every test set
and trains any run that is missing, so each notebook also works on its own (papermill, nbval).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from glacier_utils import config

#: The paper's two scenes (§II-C) and the tile-dataset experiment each trains on.
SCENE_EXPERIMENTS: dict[tuple[int, str], str] = {
    (1, "grouped"): "scene1_grouped",
    (1, "paper"): "scene1_paper",
    (2, "grouped"): "scene2",
    (2, "paper"): "scene2",  # Scene 2's split is geographic: the Scene 1 policy does not apply
}
#: Test sets per scene, in Table III order.
TEST_SETS: dict[str, tuple[str, ...]] = {
    "scene1_grouped": ("test",), "scene1_paper": ("test",), "scene2": ("test_1", "test_2", "test_3"),
}
#: Table III's row group of each test set.
TEST_SET_AREAS: dict[str, str] = {"test": "scene_1", "test_1": "testing_1", "test_2": "testing_2",
                                  "test_3": "testing_3"}


def experiment_name(scene: int, policy: str = "grouped") -> str:
    """Tile-dataset experiment of a paper scene (1 or 2) and Scene 1 split policy ("grouped" or "paper")."""
    try:
        return SCENE_EXPERIMENTS[(int(scene), policy)]
    except (KeyError, ValueError):
        raise ValueError(f"unknown scene/policy {scene!r}/{policy!r}: scene is 1 or 2, "
                         "policy is 'grouped' or 'paper'") from None


def tiles_path(profile: str | config.Profile) -> Path:
    """Where notebook 01 saved the tile dataset of a profile."""
    return config.run_dir(profile) / "tiles.zarr"


def load_tiles(profile: str | config.Profile) -> xr.Dataset:
    """The tile dataset of notebook 01; a clear error when it has not been prepared yet."""
    from glacier_utils import tiles

    path = tiles_path(profile)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebooks/01_data_preparation.ipynb "
                                f"with profile={config.get_profile(profile).name!r} first")
    return tiles.load_tile_dataset(path)


def run_folder(profile: str | config.Profile, model: str, experiment: str, seed: int) -> Path:
    """Folder of one training run: ``<run_dir>/models/<experiment>/<model>_seed<seed>``."""
    if model not in config.MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(config.MODEL_NAMES)}")
    return config.run_dir(profile) / "models" / experiment / f"{model}_seed{seed}"


def datasets(tiles_ds: xr.Dataset, experiment: str, profile: str | config.Profile, seed: int):
    """The shuffled training and the validation ``tf.data`` pipelines of an experiment."""
    from glacier_utils import tiles

    prof = config.get_profile(profile)
    parts = tiles.split_indices(tiles_ds, experiment)
    train = tiles.make_tf_dataset(tiles_ds, parts["train"], experiment, prof.batch_size, shuffle=True, seed=seed)
    val = tiles.make_tf_dataset(tiles_ds, parts["validation"], experiment, prof.batch_size, shuffle=False)
    return train, val


def ensure_trained(model: str, experiment: str, profile: str | config.Profile, seed: int,
                   tiles_ds: xr.Dataset, force: bool = False, verbose: int = 2):
    """Train ``model`` on ``experiment`` unless a finished run exists (``force`` retrains); returns the result."""
    from glacier_utils import training

    train, val = datasets(tiles_ds, experiment, profile, seed)
    return training.train_model(model, train, val, run_folder(profile, model, experiment, seed),
                                profile, seed=seed, n_bands=tiles_ds.sizes["band"], force=force,
                                verbose=verbose)


def normalised_images(tiles_ds: xr.Dataset, indices, experiment: str) -> np.ndarray:
    """Images of the given samples as float32 (n, y, x, band), normalised with the experiment's training stats."""
    from glacier_utils import tiles

    mean, std = tiles.resolve_stats(tiles_ds, experiment)
    images = tiles_ds["image"].isel(sample=np.asarray(indices)).transpose("sample", "y", "x", "band").values
    return (images.astype("float32") - mean) / std


def predict_glacier(model, tiles_ds: xr.Dataset, indices, experiment: str, batch_size: int = 16) -> np.ndarray:
    """Glacier probability (n, y, x) of a trained network on the given tiles."""
    from glacier_utils import training

    x = normalised_images(tiles_ds, indices, experiment)
    return training.predict_proba(model, x, batch_size=batch_size)[..., 1]


def band_first_tiles(tiles_ds: xr.Dataset, indices) -> np.ndarray:
    """DN of the given samples as (n, band, y, x), the band-ratio functions' layout."""
    return tiles_ds["image"].isel(sample=np.asarray(indices)).transpose("sample", "band", "y", "x").values


def band_ratio_pairs(tiles_ds: xr.Dataset, indices) -> list[tuple[np.ndarray, np.ndarray]]:
    """(dn (band, y, x), label (y, x)) per sample, the input of ``bandratio.sweep``."""
    dn = band_first_tiles(tiles_ds, indices)
    labels = tiles_ds["label"].isel(sample=np.asarray(indices)).values
    return list(zip(dn, labels))


def band_ratio_masks(tiles_ds: xr.Dataset, indices, threshold: float,
                     morphology_px: int = config.MORPHOLOGY_SIZE_PX) -> np.ndarray:
    """Band-ratio glacier masks (n, y, x) of the given samples at one threshold (Eq. 1 + 5x5 morphology)."""
    from glacier_utils import bandratio

    dn = band_first_tiles(tiles_ds, indices)
    return np.stack([np.asarray(bandratio.classify(tile, threshold, morphology_px)) for tile in dn]) if len(dn) \
        else np.zeros((0,) + tuple(tiles_ds["label"].shape[1:]), bool)
