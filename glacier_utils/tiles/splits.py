"""The evaluation scenes of paper §II-C: Scene 1 (random) and Scene 2 (geographic) splits, stored as codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from glacier_utils import config
from glacier_utils.study import EXPERIMENTS, SPLIT_POLICIES
from glacier_utils.tiles._checks import check_choice, check_fraction

#: Codes of the split variables (CF ``flag_values``/``flag_meanings``); 0 = sample not used.
SPLIT_CODES: dict[str, int] = {
    "unused": 0, "train": 1, "validation": 2, "test": 3, "test_1": 4, "test_2": 5, "test_3": 6,
}
#: Scene 2: how a location seen from both the training area and a testing area (overlapping
#: neighbour scenes) is kept out of one side.
OVERLAP_RULES: tuple[str, ...] = ("drop_from_training", "drop_from_testing")


def is_original(tiles: xr.Dataset) -> np.ndarray:
    """Per sample: True where it is an original tile, False where it is an augmented copy (Step 7)."""
    if "augmentation" not in tiles.coords:
        return np.ones(tiles.sizes["sample"], dtype=bool)
    return np.asarray(tiles["augmentation"].values).astype(str) == "original"


def window_span(tiles: xr.Dataset) -> int:
    """How many grid steps one window spans: ``tile_px / stride_px`` (1 for the paper's non-overlapping tiles)."""
    tile_px = int(tiles.attrs.get("tile_px", 0) or 0)
    stride_px = int(tiles.attrs.get("stride_px", tile_px) or tile_px)
    return tile_px // stride_px if tile_px and stride_px else 1


def block_ids(tiles: xr.Dataset) -> np.ndarray:
    """Per sample: the tile-sized grid cell its window starts in, the unit the grouped splits draw.

    With non-overlapping tiles this is the window's own location; with overlapping windows
    (``stride_px`` < ``tile_px``) the windows starting in one cell are held out together.
    """
    span = window_span(tiles)
    if span == 1:
        return np.asarray(tiles["location"].values).astype(str)
    rows = np.floor_divide(np.asarray(tiles["tile_row"].values), span)
    cols = np.floor_divide(np.asarray(tiles["tile_col"].values), span)
    return np.array([f"E{c}N{r}" for r, c in zip(rows, cols)])


def overlapping(tiles: xr.Dataset, candidates: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Per candidate sample: True where its window shares a pixel with the window of any of ``others``."""
    span = window_span(tiles)
    rows = np.asarray(tiles["tile_row"].values, dtype=np.int64)
    cols = np.asarray(tiles["tile_col"].values, dtype=np.int64)
    if len(candidates) == 0 or len(others) == 0:
        return np.zeros(len(candidates), dtype=bool)
    # Windows lie on one grid of stride steps: two overlap when both offsets are under one span.
    width = int(cols.max() - cols.min()) + 2 * span + 1

    def key(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (r - rows.min() + span) * width + (c - cols.min() + span)

    taken = np.unique(key(rows[others], cols[others]))
    hit = np.zeros(len(candidates), dtype=bool)
    for dr in range(-(span - 1), span):
        for dc in range(-(span - 1), span):
            hit |= np.isin(key(rows[candidates] + dr, cols[candidates] + dc), taken)
    return hit


def _grouped_holdout(
    groups: np.ndarray, candidates: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``candidates`` (sample indices) into (held out, rest) by whole groups, held ~= fraction.

    Groups are drawn in random order and the cut is put where the held-out sample count comes
    closest to ``fraction`` of the candidates, keeping at least one group on each side.
    """
    unique, inverse, counts = np.unique(groups[candidates].astype(str), return_inverse=True, return_counts=True)
    if len(unique) < 2:
        raise ValueError(f"a grouped split needs at least 2 locations, got {len(unique)}")
    order = rng.permutation(len(unique))
    cumulative = np.cumsum(counts[order])
    n_groups = int(np.argmin(np.abs(cumulative - fraction * len(candidates)))) + 1
    n_groups = min(max(n_groups, 1), len(unique) - 1)
    held = np.isin(inverse, order[:n_groups])
    return np.sort(candidates[held]), np.sort(candidates[~held])


def split_scene1(
    tiles: xr.Dataset,
    policy: str = "grouped",
    *,
    test_fraction: float = 0.3,
    validation_fraction: float = 0.2,
    seed: int = 0,
    augment_test: bool = False,
) -> dict[str, np.ndarray]:
    """Scene 1 (paper §II-C): 70/30 train/test, then 80/20 train/validation inside train; seeded.

    With overlapping windows (``stride_px`` < ``tile_px``), whole tile-sized cells are drawn and any
    training window that shares a pixel with a validation or test window is left out (and any
    validation window that shares one with a test window), so no evaluated pixel was trained on.

    ``policy="paper"`` draws samples at random after augmentation, as the paper did: rotated copies
    and other dates of one location fall on both sides (a leak). ``policy="grouped"`` (default) draws
    whole locations, so all copies and dates of a location sit in one set. In the grouped split the
    test set holds only the original (unaugmented) tiles unless ``augment_test``; the paper policy
    keeps augmented test samples by definition. Returns sorted sample indices per set.
    """
    check_choice("policy", policy, SPLIT_POLICIES)
    test_fraction = check_fraction("test_fraction", test_fraction)
    validation_fraction = check_fraction("validation_fraction", validation_fraction)
    rng = np.random.default_rng(seed)
    n = tiles.sizes["sample"]
    if policy == "paper":
        permutation = rng.permutation(n)
        n_test = int(round(test_fraction * n))
        rest = permutation[n_test:]
        n_val = int(round(validation_fraction * len(rest)))
        return {
            "train": np.sort(rest[n_val:]),
            "validation": np.sort(rest[:n_val]),
            "test": np.sort(permutation[:n_test]),
        }
    groups = block_ids(tiles)
    test, rest = _grouped_holdout(groups, np.arange(n), test_fraction, rng)
    validation, train = _grouped_holdout(groups, rest, validation_fraction, rng)
    train = train[~overlapping(tiles, train, np.concatenate([validation, test]))]
    validation = validation[~overlapping(tiles, validation, test)]
    if not augment_test:
        test = test[is_original(tiles)[test]]
    return {"train": train, "validation": validation, "test": test}


def split_scene2(
    tiles: xr.Dataset,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
    overlap: str = "drop_from_training",
    augment_test: bool = False,
    training_area: str = "training",
    testing_areas: Sequence[str] = config.TESTING_AREAS,
) -> dict[str, np.ndarray]:
    """Scene 2 (paper §II-C): train on the training area's scenes, test on testing areas 1-3.

    Areas are the tiles' ``area`` (the paper's by default; a study passes its own training subarea
    and testing subareas, which become ``test_1``, ``test_2``, … in order). Validation (``validation_fraction``) is carved from the
    training area by whole locations. A location seen by both a training-area scene and a
    testing-area scene (neighbouring scenes overlap) would leak; ``overlap="drop_from_training"``
    (default) leaves such samples out of training and validation so the testing areas stay whole,
    ``"drop_from_testing"`` leaves them out of the test sets instead. Test sets hold only original
    tiles unless ``augment_test``. Returns sorted indices for train, validation, test_1..test_3.
    """
    check_choice("overlap", overlap, OVERLAP_RULES)
    validation_fraction = check_fraction("validation_fraction", validation_fraction)
    rng = np.random.default_rng(seed)
    area = np.asarray(tiles["area"].values).astype(str)
    groups = block_ids(tiles)
    in_training_area = area == training_area
    if not in_training_area.any():
        raise ValueError(f"Scene 2 needs tiles from the training area {training_area!r}, found none "
                         f"(the tiles' areas: {sorted(set(area))})")
    training_idx, testing_idx = np.flatnonzero(in_training_area), np.flatnonzero(~in_training_area)
    is_shared = np.zeros(len(area), dtype=bool)  # windows that share pixels with the other side
    is_shared[training_idx] = overlapping(tiles, training_idx, testing_idx)
    is_shared[testing_idx] = overlapping(tiles, testing_idx, training_idx)
    train_pool = in_training_area & ~is_shared if overlap == "drop_from_training" else in_training_area
    if not train_pool.any():
        raise ValueError("Scene 2: every training-area location is also seen from a testing area")
    validation, train = _grouped_holdout(groups, np.flatnonzero(train_pool), validation_fraction, rng)
    train = train[~overlapping(tiles, train, validation)]
    test_pool = ~in_training_area
    if overlap == "drop_from_testing":
        test_pool &= ~is_shared
    if not augment_test:
        test_pool &= is_original(tiles)
    splits = {"train": train, "validation": validation}
    for i, name in enumerate(testing_areas, start=1):
        splits[f"test_{i}"] = np.flatnonzero(test_pool & (area == name))
    return splits


def encode_splits(n: int, splits: Mapping[str, np.ndarray]) -> np.ndarray:
    """The split variable of ``n`` samples: ``SPLIT_CODES`` per sample from per-set indices (0 = unused)."""
    codes = np.zeros(n, dtype=np.uint8)
    for name, indices in splits.items():
        if np.any(codes[indices]):
            raise ValueError(f"split {name!r} overlaps another split")
        codes[indices] = split_code(name)
    return codes


def split_code(name: str) -> int:
    """The stored code of a set: ``SPLIT_CODES``, and ``test_<k>`` = 3 + k for a study's k-th testing subarea."""
    if name in SPLIT_CODES:
        return SPLIT_CODES[name]
    if name.startswith("test_") and name[5:].isdigit() and int(name[5:]) >= 1:
        return SPLIT_CODES["test"] + int(name[5:])
    raise ValueError(f"unknown split set {name!r}")


def split_indices(tiles: xr.Dataset, experiment: str) -> dict[str, np.ndarray]:
    """Sample indices per set of a stored split (``scene1_grouped``, ``scene1_paper``, ``scene2``)."""
    check_choice("experiment", experiment, EXPERIMENTS)
    var = f"split_{experiment}"
    if var not in tiles:
        raise ValueError(f"the tile dataset has no {var!r}; build it with prepare_tile_dataset")
    codes = np.asarray(tiles[var].values)
    if experiment.startswith("scene1"):
        names = ("train", "validation", "test")
    else:
        n_tests = len(str(tiles[var].attrs.get("testing_areas", " ".join(config.TESTING_AREAS))).split())
        names = ("train", "validation", *(f"test_{k}" for k in range(1, n_tests + 1)))
    return {name: np.flatnonzero(codes == split_code(name)) for name in names}


def held_out_areas(tiles: xr.Dataset) -> dict[str, str]:
    """Each test set's area name: ``test`` is ``scene_1``; ``test_<k>`` the k-th testing subarea of the tiles' study.

    For the THR these are ``study.TEST_SET_AREAS`` (``testing_1``..``testing_3``); a user's study
    names its own subareas, recorded on the Scene 2 split when the tiles were prepared.
    """
    var = "split_scene2"
    testing = str(tiles[var].attrs.get("testing_areas", " ".join(config.TESTING_AREAS))).split() if var in tiles \
        else list(config.TESTING_AREAS)
    return {"test": "scene_1", **{f"test_{k}": area for k, area in enumerate(testing, start=1)}}


def held_out_sets(tiles: xr.Dataset, experiment: str) -> dict[str, np.ndarray]:
    """Sample indices of an experiment's test sets only (Scene 1's ``test``, or Scene 2's ``test_<k>``)."""
    return {name: index for name, index in split_indices(tiles, experiment).items() if name.startswith("test")}

