"""The whole tile preparation (paper §II-B Steps 1-7 and §II-C splits) and its summary table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from glacier_utils import config, paper
from glacier_utils.study import EXPERIMENTS
from glacier_utils.tiles._checks import check_choice
from glacier_utils.tiles.augment import augment_tiles
from glacier_utils.tiles.grid import tile_scenes
from glacier_utils.tiles.splits import (
    OVERLAP_RULES,
    SPLIT_CODES,
    encode_splits,
    is_original,
    split_code,
    split_indices,
    split_scene1,
    split_scene2,
)
from glacier_utils.tiles.stats import band_stats

def prepare_tile_dataset(
    scenes: Iterable[xr.Dataset],
    profile: str | config.Profile = "quick",
    *,
    tile_px: int | None = None,
    seed: int | None = None,
    augment: bool = True,
    augment_test: bool = False,
    overlap: str = "drop_from_training",
    nodata_rule: str = "any",
    experiments: Sequence[str] = EXPERIMENTS,
    stride_px: int | None = None,
    crs: str = config.STUDY_CRS,
    pixel_size_m: float = config.PIXEL_SIZE_M,
    training_area: str = "training",
    testing_areas: Sequence[str] = config.TESTING_AREAS,
) -> xr.Dataset:
    """Scenes -> the tile dataset of paper §II-B/§II-C: tiles, x4 augmentation, splits, train-only stats.

    ``tile_px`` and ``seed`` default to the profile's ``tile_px`` and ``data_seed``; the Scene 1
    fractions come from the profile. The result holds ``image`` (sample, y, x, band; DN dtype kept),
    ``label``, class tiles where the scenes have them, per-sample metadata coordinates, one split
    variable per experiment (codes in ``SPLIT_CODES``; read them with :func:`split_indices`), and
    ``norm_mean``/``norm_std`` (experiment, band) computed on each experiment's training samples.
    ``stride_px`` (default ``tile_px``) cuts overlapping windows for small regions; the splits then keep
    every evaluated window free of pixels a training window holds. ``crs`` and ``pixel_size_m`` are
    the study grid and ``training_area``/``testing_areas`` Scene 2's subareas (default the paper's).
    """
    prof = config.get_profile(profile)
    tile_px = prof.tile_px if tile_px is None else tile_px
    seed = prof.data_seed if seed is None else int(seed)
    for experiment in experiments:
        check_choice("experiment", experiment, EXPERIMENTS)
    check_choice("overlap", overlap, OVERLAP_RULES)
    tiles = tile_scenes(scenes, tile_px, nodata_rule=nodata_rule, stride_px=stride_px, crs=crs,
                        pixel_size_m=pixel_size_m)
    n_tiles = tiles.sizes["sample"]
    if augment:
        tiles = augment_tiles(tiles)
    else:
        tiles = tiles.assign_coords(augmentation=("sample", np.full(n_tiles, "original", dtype=object)))
    n = tiles.sizes["sample"]
    means, stds = [], []
    for experiment in experiments:
        if experiment == "scene2":
            splits = split_scene2(tiles, validation_fraction=prof.validation_fraction, seed=seed,
                                  overlap=overlap, augment_test=augment_test, training_area=training_area,
                                  testing_areas=testing_areas)
        else:
            splits = split_scene1(tiles, experiment.removeprefix("scene1_"), test_fraction=prof.test_fraction,
                                  validation_fraction=prof.validation_fraction, seed=seed,
                                  augment_test=augment_test)
        flags = {**SPLIT_CODES, **{name: split_code(name) for name in splits}}
        tiles[f"split_{experiment}"] = ("sample", encode_splits(n, splits), {
            "long_name": f"{experiment} split",
            "flag_values": list(flags.values()),
            "flag_meanings": " ".join(flags),
            **({"testing_areas": " ".join(testing_areas)} if experiment == "scene2" else {}),
        })
        mean, std = band_stats(tiles["image"].values, splits["train"])
        means.append(mean)
        stds.append(std)
    tiles["norm_mean"] = (("experiment", "band"), np.array(means).reshape(len(experiments), -1),
                          {"long_name": "per-band DN mean of the training samples"})
    tiles["norm_std"] = (("experiment", "band"), np.array(stds).reshape(len(experiments), -1),
                         {"long_name": "per-band DN standard deviation of the training samples"})
    tiles = tiles.assign_coords(experiment=list(experiments))
    tiles.attrs.update(
        profile=prof.name, seed=seed, augment_test=int(augment_test), overlap=overlap, n_image_tiles=n_tiles,
        source_paper="Chen et al. 2022, JSTARS 15:5734, section II-B (Steps 1-7) and II-C (Scenes 1, 2)",
    )
    return tiles.rio.write_crs(tiles.attrs["crs"])


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def summarize_tiles(tiles: xr.Dataset) -> pd.DataFrame:
    """Counts per preparation step and per split and area, with class balance, as a DataFrame.

    Columns: ``step``, ``area`` ("all" or one of the tiles' areas), ``samples``, ``locations``
    (distinct global-grid tiles), ``glacier_fraction`` (share of glacier pixels), ``paper`` (the
    paper's count for that step where it gives one).
    """
    area = np.asarray(tiles["area"].values).astype(str)
    # The paper's areas in the paper's order; a study's own subareas in name order.
    areas = [a for a in config.AREAS if a in set(area)] + sorted(set(area) - set(config.AREAS))
    locations = np.asarray(tiles["location"].values).astype(str)
    fraction = np.asarray(tiles["glacier_fraction"].values, dtype=np.float64)
    original = is_original(tiles)
    rows: list[dict] = []

    def add(step: str, mask: np.ndarray, *, count_locations: bool = False) -> None:
        for name in ("all", *[a for a in areas if (mask & (area == a)).any()]):
            sel = mask if name == "all" else mask & (area == name)
            n_loc = len(np.unique(locations[sel]))
            rows.append({
                "step": step, "area": name, "samples": n_loc if count_locations else int(sel.sum()),
                "locations": n_loc,
                "glacier_fraction": float(fraction[sel].mean()) if sel.any() else np.nan,
                "paper": paper.TILE_COUNTS.get(step, np.nan) if name == "all" else np.nan,
            })

    for key, step in (("n_tiles_complete", "complete tiles on the grid"),
                      ("n_dropped_nodata", "dropped: nodata or unknown label"),
                      ("n_dropped_glacier_free", "dropped: glacier-free (Step 3)")):
        if key in tiles.attrs:
            rows.append({"step": step, "area": "all", "samples": int(tiles.attrs[key]),
                         "locations": np.nan, "glacier_fraction": np.nan, "paper": np.nan})
    add("label tiles (unique locations)", original, count_locations=True)
    add("image tiles (multi-date / overlap expansion)", original)
    add("samples (after x4 augmentation)", np.ones_like(original))
    for experiment in EXPERIMENTS:
        if f"split_{experiment}" not in tiles:
            continue
        splits = split_indices(tiles, experiment)
        for name, indices in splits.items():
            mask = np.zeros(len(area), dtype=bool)
            mask[indices] = True
            add(f"{experiment}/{name}", mask)
        if experiment == "scene1_paper":
            train_val = np.zeros(len(area), dtype=bool)
            train_val[np.concatenate([splits["train"], splits["validation"]])] = True
            add("scene1_paper/train+validation", train_val)
    frame = pd.DataFrame(rows, columns=["step", "area", "samples", "locations", "glacier_fraction", "paper"])
    return frame.astype({"samples": "int64"})

