"""The band-ratio baseline (paper §II-C, §II-D, Table II) and its one-pass threshold sweep.

Ratio = TM3 / TM5 on DN (Eq. 1); a pixel is glacier where Ratio > threshold; the binary map is then
cleaned with a 5 x 5 flat square (Fig. 3b): an *opening* (erosion, then dilation) removes specks
smaller than the square, then a *closing* (dilation, then erosion) fills holes smaller than it. The
paper names the 5 x 5 filter and shows erosion and dilation but not their order; opening first means
isolated false positives (bright rock, snow patches) cannot be grown into blobs by the closing.

Pixels
    *valid* pixels are those where the ratio is defined: no band equals the scene's nodata value
    (``config.nodata_of``: ``dn.attrs["nodata"]``, else the rio nodata or ``_FillValue``) or is NaN
    (``config.nodata_pixels``), the optional ``valid`` mask is True, and not TM3 == TM5 == 0 (0/0).
    TM5 == 0 with TM3 > 0 is a ratio of +inf (glacier at every threshold). Invalid pixels have a NaN
    ratio, are never glacier and are left out of every count.

Border
    The morphology sees the scene extended beyond its edges by repeating the edge pixels ("nearest").
    The extension is made once, as deep as the whole opening + closing reaches (``2 * (size - 1)``
    pixels), so a numpy array, a dask array split into any chunks (``map_overlap`` with
    ``boundary="nearest"``) and the per-threshold binary path give identical masks.

One-pass sweep (threshold decomposition)
    Erosion and dilation with a flat structuring element are a moving minimum and maximum, and both
    commute with any non-decreasing map q: min(q(r)) = q(min(r)). Thresholding, r -> (r > t), is such
    a map, and so is the *level* map q(r) = number of thresholds below r (0..K for K thresholds).
    So the sweep quantises the ratio to levels once, cleans the small uint8 level image once, and
    reads every threshold from it: the cleaned mask at threshold t_j is exactly (level > j). Per-chunk
    histograms of the level, split by the true class, give TP/FP/FN/TN for all thresholds at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from glacier_utils import config
from glacier_utils.metrics import METRIC_NAMES, Confusion

#: Ratio values and thresholds are compared in this dtype; see ``_thresholds_as_ratio_dtype``.
RATIO_DTYPE = np.float32


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def _as_dn(dn: Any) -> xr.DataArray:
    """``dn`` as a DataArray ``(band, y, x)`` whose ``band`` coordinate holds TM band numbers."""
    if isinstance(dn, xr.Dataset):
        if "dn" not in dn:
            raise ValueError("band ratio: the Dataset has no 'dn' variable (see the scene contract)")
        dn = dn["dn"]
    if not isinstance(dn, xr.DataArray):
        array = dn if isinstance(dn, (np.ndarray, da.Array)) else np.asarray(dn)
        if array.ndim != 3 or array.shape[0] != config.N_BANDS:
            raise ValueError(
                f"band ratio: a plain dn array must have shape (band={config.N_BANDS}, y, x) in the order of "
                f"config.BAND_NUMBERS, got shape {array.shape}"
            )
        dn = xr.DataArray(array, dims=("band", "y", "x"), coords={"band": list(config.BAND_NUMBERS)})
    if set(dn.dims) != {"band", "y", "x"}:
        raise ValueError(f"band ratio: dn must have dims ('band', 'y', 'x'), got {dn.dims}")
    dn = dn.transpose("band", "y", "x")
    if "band" not in dn.coords:
        if dn.sizes["band"] != config.N_BANDS:
            raise ValueError(f"band ratio: dn has {dn.sizes['band']} bands and no 'band' coordinate")
        dn = dn.assign_coords(band=list(config.BAND_NUMBERS))
    missing = {config.RATIO_NUMERATOR_BAND, config.RATIO_DENOMINATOR_BAND} - set(dn["band"].values.tolist())
    if missing:
        raise ValueError(f"band ratio: dn lacks TM band(s) {sorted(missing)} (band coordinate {dn['band'].values})")
    return dn


def _as_yx(array: Any, like: xr.DataArray, name: str) -> Any:
    """A (y, x) numpy or dask array with the shape of ``like``, or a clear error naming ``name``."""
    if isinstance(array, xr.DataArray):
        array = array.data
    if not isinstance(array, (np.ndarray, da.Array)):
        array = np.asarray(array)
    shape = (like.sizes["y"], like.sizes["x"])
    if array.shape != shape:
        raise ValueError(f"band ratio: {name} has shape {array.shape}, the scene is {shape} (y, x)")
    return array


def _same_chunks(array: Any, like: Any) -> Any:
    """``array`` chunked like the dask array ``like`` (numpy arrays pass through when ``like`` is numpy)."""
    if isinstance(like, da.Array):
        if isinstance(array, da.Array):
            return array.rechunk(like.chunks)
        return da.from_array(array, chunks=like.chunks)
    if isinstance(array, da.Array):
        return array.compute()
    return array


# --------------------------------------------------------------------------------------------
# Ratio (Eq. 1)
# --------------------------------------------------------------------------------------------
def _divide(tm3: np.ndarray, tm5: np.ndarray) -> np.ndarray:
    """TM3 / TM5 in RATIO_DTYPE: x/0 = +inf and 0/0 = NaN, without floating-point warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(tm3, tm5, dtype=RATIO_DTYPE)


def _ratio_and_valid(dn: Any, valid: Any = None) -> tuple[xr.DataArray, xr.DataArray]:
    """(ratio with NaN where invalid, valid mask) of one scene, lazily where dn is dask."""
    dn = _as_dn(dn)
    tm3 = dn.sel(band=config.RATIO_NUMERATOR_BAND, drop=True)
    tm5 = dn.sel(band=config.RATIO_DENOMINATOR_BAND, drop=True)
    ratio = xr.apply_ufunc(_divide, tm3, tm5, dask="parallelized", output_dtypes=[RATIO_DTYPE])
    ok = ~np.isnan(ratio)
    ok = ok & ~config.nodata_pixels(dn)
    if valid is not None:
        mask = _same_chunks(_as_yx(valid, ratio, "valid").astype(bool), ratio.data)
        ok = ok & ok.copy(data=mask)
    ratio = ratio.where(ok).astype(RATIO_DTYPE)
    ratio.name = "ratio"
    ratio.attrs = {"long_name": "band ratio TM3 / TM5 (DN)", "units": "1", "source": "Chen et al. 2022, Eq. 1"}
    ok.name = "valid"
    return ratio, ok


def band_ratio(dn: Any, *, valid: Any = None) -> xr.DataArray:
    """Ratio = TM3 / TM5 on DN (paper Eq. 1) as float32 ``(y, x)``: NaN where invalid, +inf where TM5 = 0 < TM3."""
    return _ratio_and_valid(dn, valid)[0]


def valid_mask(dn: Any, *, valid: Any = None) -> xr.DataArray:
    """Pixels where the band ratio is defined: no band at nodata, ``valid`` True, not 0/0."""
    return _ratio_and_valid(dn, valid)[1]


# --------------------------------------------------------------------------------------------
# Morphology
# --------------------------------------------------------------------------------------------
def _check_morphology_px(morphology_px: int) -> int:
    """The side of the square structuring element, validated (an odd positive integer; 1 = none)."""
    if isinstance(morphology_px, bool) or int(morphology_px) != morphology_px or morphology_px < 1 or morphology_px % 2 == 0:
        raise ValueError(f"morphology_px must be an odd positive integer (1 disables the cleanup), got {morphology_px!r}")
    return int(morphology_px)


def morphology_depth(morphology_px: int) -> int:
    """How far (pixels) an opening + closing with a square of side ``morphology_px`` reaches: 2 * (size - 1)."""
    return 2 * (_check_morphology_px(morphology_px) - 1)


def _open_close(image: np.ndarray, size: int) -> np.ndarray:
    """Opening then closing with a flat ``size`` x ``size`` square, on a bool or integer image."""
    # Moving min/max (scipy's separable filters) are erosion/dilation with a flat square, for binary
    # images and grey levels alike; this one function serves both the sweep and ``classify``.
    footprint_size = (size, size)
    opened = ndimage.maximum_filter(ndimage.minimum_filter(image, footprint_size), footprint_size)
    return ndimage.minimum_filter(ndimage.maximum_filter(opened, footprint_size), footprint_size)


def _with_edge_extension(function: Any, array: Any, depth: int) -> Any:
    """Apply ``function`` to ``array`` extended by ``depth`` repeated edge pixels, cropped back (numpy or dask)."""
    if depth == 0:
        return array.map_blocks(function, dtype=array.dtype) if isinstance(array, da.Array) else function(array)
    if isinstance(array, da.Array):
        return da.map_overlap(function, array, depth=depth, boundary="nearest", dtype=array.dtype, trim=True)
    padded = np.pad(array, depth, mode="edge")
    return function(padded)[depth:-depth, depth:-depth]


def clean_mask(mask: Any, morphology_px: int = config.MORPHOLOGY_SIZE_PX) -> Any:
    """Opening then closing of a binary (or level) image with a flat square, nearest-edge border."""
    size = _check_morphology_px(morphology_px)
    if size == 1:
        return mask
    data = mask.data if isinstance(mask, xr.DataArray) else mask
    cleaned = _with_edge_extension(lambda block: _open_close(block, size), data, morphology_depth(size))
    return mask.copy(data=cleaned) if isinstance(mask, xr.DataArray) else cleaned


# --------------------------------------------------------------------------------------------
# One threshold
# --------------------------------------------------------------------------------------------
def _thresholds_as_ratio_dtype(thresholds: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique thresholds as given, the same in RATIO_DTYPE), validated.

    Both sides of ``ratio > threshold`` are RATIO_DTYPE, so a DN ratio exactly equal to a threshold
    (62/20 at 3.1: common with integer DN) compares equal and is not glacier, as Eq. 1's rule asks.
    """
    values = np.asarray(list(thresholds) if not np.isscalar(thresholds) else [thresholds], dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"thresholds must be a non-empty list of finite numbers, got {values.tolist()}")
    if np.any(values <= 0):
        raise ValueError(f"thresholds {values.tolist()}: a TM3/TM5 ratio threshold must be positive (the paper's "
                         "lie in 1.5..3.7); at or below 0 every pixel with TM3 > 0 is glacier")
    values = np.unique(values)
    as_ratio = values.astype(RATIO_DTYPE)
    if np.any(np.diff(as_ratio) <= 0):
        raise ValueError(f"thresholds {values.tolist()} are closer than {np.dtype(RATIO_DTYPE).name} can tell apart")
    if values.size > 254:
        raise ValueError(f"at most 254 thresholds per sweep (uint8 levels), got {values.size}")
    return values, as_ratio


def classify(dn: Any, threshold: float, morphology_px: int = config.MORPHOLOGY_SIZE_PX, *, valid: Any = None) -> xr.DataArray:
    """Glacier mask ``(y, x)`` bool: ratio > ``threshold``, then a 5 x 5 opening and closing; False where invalid."""
    _, (threshold_as_ratio,) = _thresholds_as_ratio_dtype([threshold])
    ratio, ok = _ratio_and_valid(dn, valid)
    glacier = clean_mask(ratio > threshold_as_ratio, morphology_px) & ok
    glacier.name = "glacier"
    glacier.attrs = {
        "long_name": "glacier (band ratio)",
        "threshold": float(threshold),
        "morphology_px": int(morphology_px),
    }
    return glacier


# --------------------------------------------------------------------------------------------
# All thresholds in one pass
# --------------------------------------------------------------------------------------------
def _levels(ratio: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Number of ``thresholds`` strictly below each ratio (uint8; NaN -> 0, +inf -> all)."""
    # A loop of K cheap comparisons is faster than np.searchsorted on large blocks and reads plainly.
    levels = np.zeros(ratio.shape, dtype=np.uint8)
    for threshold in thresholds:
        levels += ratio > threshold
    return levels


def _level_histogram(levels: np.ndarray, ratio: np.ndarray, truth: np.ndarray, n_levels: int) -> np.ndarray:
    """Pixel counts per (true class, level), int64 of length 2 * n_levels: non-glacier levels, then glacier."""
    is_glacier = truth == 1
    counted = ~np.isnan(ratio) & (is_glacier | (truth == 0))
    code = levels.astype(np.int64) + n_levels * is_glacier
    return np.bincount(code[counted], minlength=2 * n_levels)


def _histogram_block(levels: np.ndarray, ratio: np.ndarray, truth: np.ndarray, n_levels: int) -> np.ndarray:
    """``_level_histogram`` of one dask block, shaped (1, 1, 2 * n_levels) for the per-block grid."""
    return _level_histogram(levels, ratio, truth, n_levels)[None, None, :]


def _scene_histogram(dn: Any, truth: Any, valid: Any, thresholds: np.ndarray, morphology_px: int) -> Any:
    """Lazy (dask) or eager (numpy) per-class level histogram of one scene."""
    ratio, _ = _ratio_and_valid(dn, valid)
    ratio = ratio.data
    truth = _same_chunks(_as_yx(truth, _as_dn(dn), "truth"), ratio)
    n_levels = len(thresholds) + 1
    if isinstance(ratio, da.Array):
        levels = ratio.map_blocks(_levels, thresholds=thresholds, dtype=np.uint8)
        levels = clean_mask(levels, morphology_px)
        # map_overlap merges chunks thinner than its depth; the counting needs all three aligned.
        ratio, truth = ratio.rechunk(levels.chunks), truth.rechunk(levels.chunks)
        per_block = da.map_blocks(
            _histogram_block, levels, ratio, truth, n_levels=n_levels,
            new_axis=2, chunks=(1, 1, 2 * n_levels), dtype=np.int64,
        )
        return per_block.sum(axis=(0, 1))
    levels = clean_mask(_levels(ratio, thresholds), morphology_px)
    return _level_histogram(levels, ratio, truth, n_levels)


def _scene_items(scenes_or_pairs: Any) -> list[tuple[Any, Any, Any]]:
    """(dn, truth, valid) for each scene: Datasets with ``dn``/``label``, or (dn, truth[, valid]) tuples."""
    single = isinstance(scenes_or_pairs, xr.Dataset) or (
        isinstance(scenes_or_pairs, tuple)
        and len(scenes_or_pairs) > 0
        and not isinstance(scenes_or_pairs[0], (xr.Dataset, tuple, list))
    )
    items = [scenes_or_pairs] if single else list(scenes_or_pairs)
    if not items:
        raise ValueError("sweep: no scenes given")
    normalised = []
    for i, item in enumerate(items):
        if isinstance(item, xr.Dataset):
            if "dn" not in item or "label" not in item:
                raise ValueError(f"sweep: scene {i} lacks a 'dn' or 'label' variable (see the scene contract)")
            normalised.append((item["dn"], item["label"], None))
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            normalised.append((item[0], item[1], item[2] if len(item) == 3 else None))
        else:
            raise TypeError(f"sweep: scene {i} must be an xarray Dataset or a (dn, truth[, valid]) tuple, got {type(item).__name__}")
    return normalised


def _table_from_histogram(histogram: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """One row of counts and metrics per threshold from the pooled per-class level histogram."""
    n_levels = len(thresholds) + 1
    negatives, positives = histogram[:n_levels], histogram[n_levels:]
    # Pixels at level > j are glacier at threshold j: suffix sums from level j + 1.
    positives_above = np.cumsum(positives[::-1])[::-1][1:]
    negatives_above = np.cumsum(negatives[::-1])[::-1][1:]
    rows = []
    for threshold, tp, fp in zip(thresholds, positives_above, negatives_above):
        confusion = Confusion(tp=int(tp), fp=int(fp), fn=int(positives.sum() - tp), tn=int(negatives.sum() - fp))
        rows.append({"threshold": float(threshold), **confusion.as_dict()})
    return pd.DataFrame(rows, columns=["threshold", "tp", "fp", "fn", "tn", *METRIC_NAMES])


def sweep(
    scenes_or_pairs: Any,
    thresholds: Sequence[float] = config.RATIO_THRESHOLDS,
    morphology_px: int = config.MORPHOLOGY_SIZE_PX,
) -> pd.DataFrame:
    """Counts and metrics of the band ratio at every threshold (Table II), pooled over scenes, in one pass.

    ``scenes_or_pairs``: a Dataset (``dn``, ``label`` with ``config.LABEL_NODATA`` = excluded), a (dn, truth[, valid]) tuple,
    or a list of either. Dask-backed scenes are computed together in one ``dask.compute``.
    """
    values, as_ratio = _thresholds_as_ratio_dtype(thresholds)
    _check_morphology_px(morphology_px)
    histograms = [
        _scene_histogram(dn, truth, valid, as_ratio, morphology_px) for dn, truth, valid in _scene_items(scenes_or_pairs)
    ]
    histograms = dask.compute(*histograms)  # numpy entries pass through untouched
    return _table_from_histogram(np.sum(histograms, axis=0), values)


def best_threshold(table: pd.DataFrame, metric: str = "f1") -> float:
    """The threshold with the highest ``metric`` in a ``sweep`` table (the lowest one on a tie)."""
    if metric not in METRIC_NAMES:
        raise ValueError(f"best_threshold: metric must be one of {', '.join(METRIC_NAMES)}, got {metric!r}")
    if table.empty or table[metric].isna().all():
        raise ValueError(f"best_threshold: the table has no finite {metric} values")
    ordered = table.sort_values("threshold", kind="stable")
    return float(ordered.loc[ordered[metric].idxmax(), "threshold"])
