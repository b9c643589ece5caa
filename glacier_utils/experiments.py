"""The experiments' glue: load the tiles, train (or reuse) a run, predict and score tiles.

The names (experiments, test sets) and where runs live are the study's (``glacier_utils.study``).

Notebook 03 trains one network on one scene; notebook 04 evaluates every network on every test set
and trains any run that is missing, so each notebook also works on its own (papermill, nbval).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from glacier_utils import bandratio, config, runs, tiles


def load_tiles(profile: str | config.Profile) -> xr.Dataset:
    """The tile dataset of notebook 01; a clear error when it has not been prepared yet."""
    paths = runs.RunPaths(profile)
    paths.require("tiles")
    return tiles.load_tile_dataset(paths.tiles)


def statistics(tiles_ds: xr.Dataset, experiment: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) a network of ``experiment`` was trained with: the inputs of whole-scene inference."""
    return tiles.resolve_stats(tiles_ds, experiment)


def datasets(tiles_ds: xr.Dataset, experiment: str, profile: str | config.Profile, seed: int):
    """The shuffled training and the validation ``tf.data`` pipelines of an experiment."""
    from glacier_utils import training_data  # deferred: importing TensorFlow takes seconds

    prof = config.get_profile(profile)
    parts = tiles.split_indices(tiles_ds, experiment)
    train = training_data.make_tf_dataset(tiles_ds, parts["train"], experiment, prof.batch_size, shuffle=True, seed=seed)
    val = training_data.make_tf_dataset(tiles_ds, parts["validation"], experiment, prof.batch_size, shuffle=False)
    return train, val


def ensure_trained(model: str, experiment: str, profile: str | config.Profile, seed: int,
                   tiles_ds: xr.Dataset, force: bool = False, verbose: int = 2):
    """Train ``model`` on ``experiment`` unless a finished run exists (``force`` retrains); returns the result."""
    from glacier_utils import training  # deferred: importing TensorFlow takes seconds

    train, val = datasets(tiles_ds, experiment, profile, seed)
    return training.train_model(model, train, val, runs.RunPaths(profile).training_run(model, experiment, seed),
                                profile, seed=seed, n_bands=tiles_ds.sizes["band"], force=force,
                                verbose=verbose)


def normalised_images(tiles_ds: xr.Dataset, indices, experiment: str) -> np.ndarray:
    """Images of the given samples as float32 (n, y, x, band), normalised with the experiment's training stats."""
    mean, std = statistics(tiles_ds, experiment)
    images = tiles_ds["image"].isel(sample=np.asarray(indices)).transpose("sample", "y", "x", "band").values
    return (images.astype("float32") - mean) / std


def predict_glacier(model, tiles_ds: xr.Dataset, indices, experiment: str, batch_size: int = 16) -> np.ndarray:
    """Glacier probability (n, y, x) of a trained network on the given tiles."""
    from glacier_utils import training  # deferred: importing TensorFlow takes seconds

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
    dn = band_first_tiles(tiles_ds, indices)
    return np.stack([np.asarray(bandratio.classify(tile, threshold, morphology_px)) for tile in dn]) if len(dn) \
        else np.zeros((0,) + tuple(tiles_ds["label"].shape[1:]), bool)


def threshold_sweep(tiles_ds: xr.Dataset, thresholds=config.RATIO_THRESHOLDS,
                    morphology_px: int = config.MORPHOLOGY_SIZE_PX):
    """Table II: the band-ratio sweep on Scene 1's test tiles (the grouped split), the pixels the threshold is chosen on."""
    scene1_test = tiles.split_indices(tiles_ds, "scene1_grouped")["test"]
    return bandratio.sweep(band_ratio_pairs(tiles_ds, scene1_test), thresholds, morphology_px)


def band_ratio_threshold(tiles_ds: xr.Dataset, profile: str | config.Profile) -> float:
    """The optimal threshold notebook 02 chose, or, where it has not run, the same choice made here."""
    choice = runs.RunPaths(profile).band_ratio_choice
    if choice.exists():
        return float(runs.read_json(choice)["threshold"])
    return bandratio.best_threshold(threshold_sweep(tiles_ds))
