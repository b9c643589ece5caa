"""Training data: tiles on a global grid, multi-date expansion, augmentation, splits, statistics, storage.

Implements the data preparation of paper §II-B (Steps 1-7, Fig. 2) and the two evaluation scenes of
§II-C ("Scene 1", "Scene 2") on scenes that follow the project's data contract (``dn`` + ``label``).
One module per question:

* :mod:`~glacier_utils.tiles.grid`: the study grid (Step 1) and the CRS-anchored tile grid (Steps 3-6);
* :mod:`~glacier_utils.tiles.augment`: the x4 augmentation (Step 7);
* :mod:`~glacier_utils.tiles.splits`: the Scene 1 / Scene 2 splits and their stored codes (§II-C);
* :mod:`~glacier_utils.tiles.stats`: per-band normalisation statistics of the training samples;
* :mod:`~glacier_utils.tiles.prepare`: the whole preparation and its summary against the paper's counts;
* :mod:`~glacier_utils.tiles.store`: the tile dataset on disk (zarr or NetCDF).

The experiments' names are the study's (:mod:`glacier_utils.study`); the ``tf.data`` pipeline that feeds a split to Keras is :func:`glacier_utils.training_data.make_tf_dataset`.
"""

from __future__ import annotations

from glacier_utils.tiles.augment import AUGMENTATIONS, augment_array, augment_tiles
from glacier_utils.tiles.grid import (
    CLASS_LAYERS,
    NODATA_RULES,
    check_tile_px,
    cut_tiles,
    location_id,
    tile_scenes,
    to_study_grid,
)
from glacier_utils.tiles.prepare import prepare_tile_dataset, summarize_tiles
from glacier_utils.tiles.splits import (
    OVERLAP_RULES,
    SPLIT_CODES,
    encode_splits,
    is_original,
    split_code,
    split_indices,
    split_scene1,
    split_scene2,
    held_out_areas,
    held_out_sets,
)
from glacier_utils.tiles.stats import band_stats, normalisation_arrays, normalisation_stats, resolve_stats
from glacier_utils.tiles.store import load_tile_dataset, save_tile_dataset

__all__ = [
    "AUGMENTATIONS", "CLASS_LAYERS", "NODATA_RULES", "OVERLAP_RULES",
    "SPLIT_CODES", "augment_array", "augment_tiles", "band_stats", "check_tile_px",
    "cut_tiles", "encode_splits", "is_original", "load_tile_dataset", "location_id", "normalisation_arrays",
    "normalisation_stats", "prepare_tile_dataset", "resolve_stats", "save_tile_dataset", "split_code", "split_indices",
    "split_scene1", "split_scene2", "summarize_tiles", "held_out_areas", "held_out_sets", "tile_scenes", "to_study_grid",
]

