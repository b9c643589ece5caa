"""The experiments' glue: load the tiles, train (or reuse) a run, predict and score tiles.

The names (experiments, test sets) and where runs live are the study's (``glacier_utils.study``).

Notebook 03 trains one network on one scene; notebook 04 evaluates every network on every test set
and trains any run that is missing, so each notebook also works on its own (papermill, nbval).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from glacier_utils import bandratio, config, runs, tiles


def load_tiles(run: runs.RunPaths | str | config.Profile) -> xr.Dataset:
    """The tile dataset of notebook 01 (a run's paths, or a profile of the THR); a clear error when missing."""
    paths = runs.as_run_paths(run)
    paths.require("tiles")
    return tiles.load_tile_dataset(paths.tiles)


def statistics(tiles_ds: xr.Dataset, experiment: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) a network of ``experiment`` was trained with: the inputs of whole-scene inference."""
    return tiles.resolve_stats(tiles_ds, experiment)


def datasets(tiles_ds: xr.Dataset, experiment: str, profile: runs.RunPaths | str | config.Profile, seed: int):
    """The shuffled training and the validation ``tf.data`` pipelines of an experiment."""
    from glacier_utils import training_data  # deferred: importing TensorFlow takes seconds

    prof = config.get_profile(runs.as_run_paths(profile).profile)
    parts = tiles.split_indices(tiles_ds, experiment)
    train = training_data.make_tf_dataset(tiles_ds, parts["train"], experiment, prof.batch_size, shuffle=True, seed=seed)
    val = training_data.make_tf_dataset(tiles_ds, parts["validation"], experiment, prof.batch_size, shuffle=False)
    return train, val


def ensure_trained(model: str, experiment: str, profile: runs.RunPaths | str | config.Profile, seed: int,
                   tiles_ds: xr.Dataset, force: bool = False, verbose: int = 2):
    """Train ``model`` on ``experiment`` unless a finished run exists (``force`` retrains); returns the result.

    ``profile`` is a run's paths (any study and data seed) or, for the THR at its own seed, a profile.
    """
    from glacier_utils import training  # deferred: importing TensorFlow takes seconds

    paths = runs.as_run_paths(profile)
    train, val = datasets(tiles_ds, experiment, paths, seed)
    return training.train_model(model, train, val, paths.training_run(model, experiment, seed),
                                paths.profile, seed=seed, n_bands=tiles_ds.sizes["band"], force=force,
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


def band_ratio_threshold(tiles_ds: xr.Dataset, profile: runs.RunPaths | str | config.Profile) -> float:
    """The optimal threshold notebook 02 chose, or, where it has not run, the same choice made here."""
    choice = runs.as_run_paths(profile).band_ratio_choice
    if choice.exists():
        return float(runs.read_json(choice)["threshold"])
    return bandratio.best_threshold(threshold_sweep(tiles_ds))


# --------------------------------------------------------------------------------------------
# A notebook on its own (a fresh Colab or Kaggle VM): rebuild what earlier notebooks would have written
# --------------------------------------------------------------------------------------------
#: What :func:`ensure_prerequisites` can rebuild, and the notebook that writes it in a full run.
PREREQUISITES: dict[str, str] = {
    "tiles": "notebook 01",
    "band_ratio": "notebook 02",
    "networks": "notebook 03",
}


def preparation_record(paths: runs.RunPaths, dataset: xr.Dataset, source: str, seed: int) -> dict:
    """Notebook 01's record of what it prepared (and which code prepared it), as written to ``paths.preparation_record``."""
    from glacier_utils import provenance

    return {"profile": paths.profile, "source": source, "seed": int(seed), "tiles": str(paths.tiles),
            "samples": int(dataset.sizes["sample"]), "tile_px": int(dataset.sizes["y"]), "code": provenance.record()}


def band_ratio_record(threshold: float, metric: str, morphology_px: int, profile: str | config.Profile) -> dict:
    """Notebook 02's record of the optimal threshold and how it was chosen (``band_ratio.json``)."""
    from glacier_utils import paper, provenance

    return {"threshold": float(threshold), "metric": metric, "morphology_px": int(morphology_px),
            "profile": config.get_profile(profile).name, "evaluated_on": "scene1_grouped test tiles",
            "paper_threshold": paper.OPTIMAL_THRESHOLD, "code": provenance.record()}


def _prepare_synthetic_tiles(paths: runs.RunPaths) -> xr.Dataset:
    """Notebook 01 with its default parameters: the synthetic region's scenes at the run's data seed, tiled and saved."""
    from glacier_utils import synthetic
    from glacier_utils.io import sources

    if paths.study != "thr":
        raise FileNotFoundError(f"no tiles of study {paths.study!r} at {paths.tiles}: they come from the study's own "
                                "images, so run notebooks/01_data_preparation.ipynb with that study first")
    seed = paths.data_seed
    scenes = sources.training_scenes("synthetic", paths.profile, seed)
    dataset = tiles.prepare_tile_dataset(scenes, paths.profile, seed=seed)
    tiles.save_tile_dataset(dataset, paths.tiles)
    record = preparation_record(paths, dataset, "synthetic", seed)
    region = synthetic.generate_region(paths.profile, seed=seed)
    record["true_areas"] = str(synthetic.write_true_area_table(region, paths.root))
    runs.write_json(paths.preparation_record, record)
    return dataset


def ensure_prerequisites(run: runs.RunPaths | str | config.Profile, need=("tiles",), *,
                         networks=(), force: bool = False) -> xr.Dataset:
    """Make sure what a notebook reads is there, rebuilding what an earlier notebook has not written; returns the tiles.

    Each Colab or Kaggle session is a fresh machine, so notebook 04 may run where 01-03 never did. Every
    item of ``need`` is reused when it exists and otherwise rebuilt the way its notebook does with its
    default parameters, with one line saying which:

    - ``"tiles"`` (always loaded): notebook 01's tile dataset, from the synthetic region at the run's data seed;
    - ``"band_ratio"``: notebook 02's optimal threshold (``band_ratio.json``) and Table II (skipped, and
      said so, where the tiles lack the ratio's bands TM3 and TM5);
    - ``"networks"``: notebook 03's training runs, one per ``(model, experiment, seed)`` in ``networks``.

    ``run`` is a run's paths (any study and data seed) or a profile of the THR; ``force`` rebuilds every
    item of ``need`` even where it exists. A study of real images has no default to rebuild its tiles
    from: their absence is an error naming notebook 01.
    """
    paths = runs.as_run_paths(run)
    unknown = sorted(set(need) - set(PREREQUISITES))
    if unknown:
        raise ValueError(f"need={list(need)}: unknown {unknown}; choose from {list(PREREQUISITES)}")
    if networks and "networks" not in need:
        raise ValueError("networks=... names training runs: add 'networks' to need")
    if paths.tiles.exists() and not force:
        print(f"tiles: reusing {PREREQUISITES['tiles']}'s {paths.tiles}")
        dataset = load_tiles(paths)
    else:
        print(f"tiles: {'rebuilding' if force else 'none at'} {paths.tiles}; preparing them as notebook 01 does "
              f"(synthetic region, data seed {paths.data_seed}, profile {paths.profile!r}) ...", flush=True)
        dataset = _prepare_synthetic_tiles(paths)
        print(f"tiles: wrote {dataset.sizes['sample']} samples")
    ratio_bands = {config.RATIO_NUMERATOR_BAND, config.RATIO_DENOMINATOR_BAND}
    if "band_ratio" in need and not ratio_bands <= {int(b) for b in dataset["band"].values}:
        print("band ratio: skipped, the tiles have no TM3 or TM5 (the bands of Eq. 1)")
    elif "band_ratio" in need:
        if paths.band_ratio_choice.exists() and paths.table_ii.exists() and not force:
            print(f"band ratio: reusing {PREREQUISITES['band_ratio']}'s threshold {band_ratio_threshold(dataset, paths)}")
        else:
            print("band ratio: no threshold yet; sweeping Table II's thresholds as notebook 02 does ...", flush=True)
            sweep = threshold_sweep(dataset)
            best = bandratio.best_threshold(sweep)
            runs.write_table(paths.table_ii, sweep)
            runs.write_json(paths.band_ratio_choice,
                            band_ratio_record(best, "f1", config.MORPHOLOGY_SIZE_PX, paths.profile))
            print(f"band ratio: threshold {best}, written to {paths.band_ratio_choice}")
    if networks:
        from glacier_utils import training  # deferred: importing TensorFlow takes seconds

        for model, experiment, seed in networks:
            record = training.read_record(paths.training_run(model, experiment, seed))
            finished = record is not None and record.get("status") == "finished" and not force
            print(f"network: {'reusing' if finished else 'training'} {model} on {experiment}, seed {seed}"
                  f"{'' if finished else ' (as notebook 03 does) ...'}", flush=True)
            ensure_trained(model, experiment, paths, seed, dataset, force=force, verbose=0)
    return dataset
