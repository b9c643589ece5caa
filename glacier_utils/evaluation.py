"""Scoring predictions on the tile dataset: pooled metrics per split/area and errors by surface class.

The paper judges the methods by eye on snow, water, cloud and debris (§III-B). On the synthetic
region every pixel's surface and cloud class is known, so those judgements become rates: how often
seasonal snow or a lake is called glacier, how often ice under cloud or debris is missed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from glacier_utils import metrics, study
from glacier_utils.config import CLOUD_CODES as _CLOUD
from glacier_utils.config import SURFACE_CODES as _SURFACE

#: (name, kind, truth class, surface codes or None, cloud codes or None) of each error condition.
ERROR_CONDITIONS: tuple[tuple[str, str, int, tuple[int, ...] | None, tuple[int, ...] | None], ...] = (
    ("seasonal snow called glacier", "false-positive rate", 0, (_SURFACE["seasonal_snow"],), None),
    ("lake water called glacier", "false-positive rate", 0, (_SURFACE["water"],), None),
    ("rock, soil, meadow called glacier", "false-positive rate", 0,
     (_SURFACE["rock"], _SURFACE["soil"], _SURFACE["meadow"]), (_CLOUD["clear"],)),
    ("clean ice and firn missed (clear sky)", "miss rate", 1,
     (_SURFACE["clean_ice"], _SURFACE["firn"]), (_CLOUD["clear"],)),
    ("debris-covered ice missed", "miss rate", 1, (_SURFACE["debris_ice"],), None),
    ("ice under thin cloud missed", "miss rate", 1, None, (_CLOUD["thin_cloud"],)),
    ("ice under thick cloud missed", "miss rate", 1, None, (_CLOUD["thick_cloud"],)),
    ("ice in cloud shadow missed", "miss rate", 1, None, (_CLOUD["cloud_shadow"],)),
    ("thin cloud over land called glacier", "false-positive rate", 0, None, (_CLOUD["thin_cloud"],)),
    ("thick cloud over land called glacier", "false-positive rate", 0, None, (_CLOUD["thick_cloud"],)),
)


def error_by_class(pred, truth, surface, cloud) -> pd.DataFrame:
    """False-positive rates on snow/water/land and miss rates on ice under cloud, debris, shadow.

    ``pred`` is a boolean glacier mask, ``truth`` the label (255 = unknown, excluded), ``surface``
    and ``cloud`` the simulator's class codes, all the same shape. A rate is the share of that
    condition's pixels the method gets wrong; NaN where the condition has no pixel.
    """
    pred = np.asarray(pred).astype(bool)
    truth = np.asarray(truth)
    surface, cloud = np.asarray(surface), np.asarray(cloud)
    rows = []
    for name, kind, truth_class, surfaces, clouds in ERROR_CONDITIONS:
        sel = truth == truth_class
        if surfaces is not None:
            sel &= np.isin(surface, surfaces)
        if clouds is not None:
            sel &= np.isin(cloud, clouds)
        n = int(sel.sum())
        wrong = int((pred[sel] != bool(truth_class)).sum())
        rows.append({"condition": name, "kind": kind, "pixels": n, "errors": wrong,
                     "rate": wrong / n if n else np.nan})
    return pd.DataFrame(rows)


#: Columns of the tidy results table notebook 04 writes (scene_comparison.csv / .parquet).
RESULT_COLUMNS: tuple[str, ...] = ("method", "experiment", "area", "metric", "value", "profile", "seed", "pixels")


def tidy_scores(predictions: Mapping[tuple[str, str, str, int], np.ndarray], labels: Mapping[tuple[str, str], np.ndarray],
                profile: str, areas: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per (method, experiment, test set, seed, metric) with the value in %, pooled over all pixels.

    ``predictions`` maps (method, experiment, test set, seed) to boolean masks; ``labels`` maps
    (experiment, test set) to the matching truth (255 = unknown). Test set names follow
    ``study.TEST_SET_AREAS`` ("test" is Scene 1, "test_1".."test_3" the testing areas) unless
    ``areas`` (``tiles.held_out_areas``) names a study's own.
    """
    areas = study.TEST_SET_AREAS if areas is None else areas
    rows = []
    for (method, experiment, test_set, seed), masks in predictions.items():
        confusion = metrics.confusion_counts(masks, labels[(experiment, test_set)])
        for metric, value in confusion.as_percent().items():
            rows.append({"method": method, "experiment": experiment, "area": areas[test_set],
                         "metric": metric, "value": value, "profile": profile, "seed": int(seed),
                         "pixels": confusion.n})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
