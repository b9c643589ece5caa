"""A brightness threshold: the baseline without learned parameters for studies the band ratio cannot run on.

The paper's baseline is the TM3/TM5 ratio (Eq. 1), which needs the shortwave-infrared band 5. A study
whose images hold only blue, green, red and near-infrared (a 4-band ETM+ or aerial stack) has no such
band; ice and snow are still the brightest surfaces in the visible, so the mean visible DN above a
threshold, cleaned with the same 5 x 5 opening and closing (§II-C, Fig. 3b), is the natural stand-in.
Its threshold is chosen as the band ratio's is (Table II): the best F1 on Scene 1's test tiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import xarray as xr

from glacier_utils import bandratio, config, metrics, tiles

#: The method's key and label beside ``config.METHOD_LABELS`` (it is not one of the paper's eight).
LABELS: dict[str, str] = {"brightness": "Brightness threshold"}
#: TM-equivalent visible bands averaged (blue, green, red); those a study has are used.
VISIBLE_BANDS: tuple[int, ...] = (1, 2, 3)
#: Candidate thresholds: DN quantiles of the tiles' valid pixels (a DN scale differs between sensors).
QUANTILES: tuple[float, ...] = tuple(np.round(np.arange(0.40, 0.96, 0.05), 2))


def visible_brightness(dn: np.ndarray, bands: Sequence[int]) -> np.ndarray:
    """Mean DN of the visible bands present, ``(n, y, x)`` float32, from tiles ``(n, band, y, x)``; NaN where any is 0."""
    bands = [int(b) for b in bands]
    visible = [bands.index(b) for b in VISIBLE_BANDS if b in bands]
    if not visible:
        raise ValueError(f"brightness threshold: the tiles hold none of the visible TM bands {VISIBLE_BANDS} "
                         f"(they have {bands})")
    chosen = np.asarray(dn)[:, visible].astype(np.float32)
    mean = chosen.mean(axis=1)
    mean[(chosen == 0).any(axis=1)] = np.nan  # fill (0 DN) is no data, as everywhere (config.LABEL_NODATA rule)
    return mean


def masks(brightness: np.ndarray, threshold: float, morphology_px: int = config.MORPHOLOGY_SIZE_PX) -> np.ndarray:
    """Glacier masks ``(n, y, x)``: brightness > threshold, then the 5 x 5 opening and closing; False where no data."""
    above = np.nan_to_num(brightness, nan=-np.inf) > float(threshold)
    cleaned = np.stack([bandratio.clean_mask(tile, morphology_px) for tile in above]) if len(above) else above
    return cleaned & ~np.isnan(brightness)


def candidate_thresholds(brightness: np.ndarray) -> np.ndarray:
    """The thresholds a sweep tries: ``QUANTILES`` of the valid brightness values, rounded to whole DN."""
    values = brightness[~np.isnan(brightness)]
    if values.size == 0:
        raise ValueError("brightness threshold: no valid pixel to choose a threshold from")
    return np.unique(np.round(np.quantile(values, QUANTILES)))


def sweep(brightness: np.ndarray, labels: np.ndarray, thresholds: Sequence[float],
          morphology_px: int = config.MORPHOLOGY_SIZE_PX) -> pd.DataFrame:
    """Counts and metrics (in 0..1) of the brightness threshold at each threshold, pooled over the tiles."""
    rows = []
    for threshold in thresholds:
        confusion = metrics.confusion_counts(masks(brightness, threshold, morphology_px), labels)
        rows.append({"threshold": float(threshold), **confusion.as_dict()})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# On a tile dataset (notebook 04), as the band ratio is
# --------------------------------------------------------------------------------------------
def tile_brightness(tiles_ds: xr.Dataset, indices) -> np.ndarray:
    """Visible brightness ``(n, y, x)`` of the given samples of a tile dataset."""
    dn = tiles_ds["image"].isel(sample=np.asarray(indices)).transpose("sample", "band", "y", "x").values
    return visible_brightness(dn, tiles_ds["band"].values)


def choose_threshold(tiles_ds: xr.Dataset, metric: str = "f1") -> tuple[float, pd.DataFrame]:
    """The threshold with the best ``metric`` on Scene 1's test tiles (the band ratio's rule, Table II), and the sweep."""
    index = tiles.split_indices(tiles_ds, "scene1_grouped")["test"]
    values = tile_brightness(tiles_ds, index)
    table = sweep(values, tiles_ds["label"].values[index], candidate_thresholds(values))
    return bandratio.best_threshold(table, metric), table


def tile_masks(tiles_ds: xr.Dataset, indices, threshold: float) -> np.ndarray:
    """Brightness-threshold glacier masks ``(n, y, x)`` of the given samples."""
    return masks(tile_brightness(tiles_ds, indices), threshold)


__all__ = ["LABELS", "QUANTILES", "VISIBLE_BANDS", "candidate_thresholds", "choose_threshold", "masks", "sweep",
           "tile_brightness", "tile_masks", "visible_brightness"]
