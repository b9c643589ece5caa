"""Per-band normalisation statistics of the training samples, and the one rule for applying them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from glacier_utils.tiles._checks import check_choice
from glacier_utils.study import EXPERIMENTS


def band_stats(
    images: xr.DataArray | np.ndarray, indices: np.ndarray, chunk: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and (population) standard deviation of ``images[indices]`` (sample, y, x, band).

    Integer DN (uint8/uint16) are counted into per-band histograms, which gives exact moments in one
    pass and in bounded memory; float images use Chan et al.'s pairwise update of (mean, M2).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError("band_stats needs at least one training sample; the index set is empty")
    n_bands = images.shape[-1]
    blocks = (np.asarray(images[indices[i:i + chunk]]) for i in range(0, indices.size, chunk))
    if np.issubdtype(images.dtype, np.integer) and images.dtype.itemsize <= 2:
        n_values = 1 << (8 * images.dtype.itemsize)
        histogram = np.zeros((n_bands, n_values), dtype=np.int64)
        for block in blocks:
            for b in range(n_bands):
                histogram[b] += np.bincount(block[..., b].ravel(), minlength=n_values)
        values = np.arange(n_values, dtype=np.float64)
        count = histogram.sum(axis=1)
        mean = histogram @ values / count
        # centred second moment: no cancellation as in E[x^2] - E[x]^2
        var = (histogram * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / count
        return mean, np.sqrt(var)
    count, mean, m2 = 0, np.zeros(n_bands), np.zeros(n_bands)
    for block in blocks:
        block = block.reshape(-1, n_bands).astype(np.float64)
        n_b, mean_b = block.shape[0], block.mean(axis=0)
        m2_b = ((block - mean_b) ** 2).sum(axis=0)
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + m2_b + delta**2 * count * n_b / total
        count = total
    return mean, np.sqrt(m2 / count)


def normalisation_stats(tiles: xr.Dataset, experiment: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored per-band (mean, std) of an experiment's training samples."""
    check_choice("experiment", experiment, EXPERIMENTS)
    if "norm_mean" not in tiles:
        raise ValueError("the tile dataset has no normalisation statistics; build it with prepare_tile_dataset")
    return (
        np.asarray(tiles["norm_mean"].sel(experiment=experiment).values, dtype=np.float64),
        np.asarray(tiles["norm_std"].sel(experiment=experiment).values, dtype=np.float64),
    )


def normalisation_arrays(stats, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) float32 from a ``{"mean", "std"}`` mapping or a pair; a zero std becomes 1.

    The one rule of the project: a constant band (std 0) is centred but not scaled, in training
    (``make_tf_dataset``) and in whole-scene inference alike. A negative or non-finite std is an error.
    """
    if isinstance(stats, Mapping):
        try:
            mean, std = stats["mean"], stats["std"]
        except KeyError as exc:
            raise ValueError(f"stats: mapping needs 'mean' and 'std' keys, missing {exc}") from None
    else:
        mean, std = stats
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    std = np.asarray(std, dtype=np.float32).reshape(-1)
    if mean.size != n_bands or std.size != n_bands:
        raise ValueError(f"stats must have one mean and std per band ({n_bands}), got {mean.size} and {std.size}")
    if np.any(~np.isfinite(std)) or np.any(std < 0):
        raise ValueError(f"stats: every std must be finite and not negative, got {std.tolist()}")
    return mean, np.where(std > 0, std, 1.0).astype(np.float32)


def resolve_stats(tiles: xr.Dataset, stats) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) as float32 from an experiment name, a {"mean", "std"} mapping or a pair; std 0 -> 1."""
    if isinstance(stats, str):
        stats = normalisation_stats(tiles, stats)
    return normalisation_arrays(stats, tiles.sizes["band"])
