"""The ``tf.data`` pipeline that feeds a tile dataset's split to Keras (paper §II-G: batches of tiles).

Training (:func:`glacier_utils.training.train_model`) is its only user; it lives beside it so that
``glacier_utils.tiles`` needs no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from glacier_utils.tiles.stats import resolve_stats


def make_tf_dataset(
    tiles: xr.Dataset,
    indices: Sequence[int] | np.ndarray,
    stats,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
):
    """A ``tf.data.Dataset`` of ``(x float32 (b, h, w, bands) normalised, y int32 (b, h, w))`` batches.

    ``stats`` is an experiment name (stored stats), a ``{"mean", "std"}`` mapping or a ``(mean, std)``
    pair. Samples are shuffled with ``seed`` (reshuffled each epoch, same sequence on every run),
    batched, normalised on the fly (DN stays uint8/uint16 in memory) and prefetched.
    """
    import tensorflow as tf  # deferred: importing the package should not load TensorFlow

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError("indices is empty: nothing to feed")
    mean, std = resolve_stats(tiles, stats)
    images = np.ascontiguousarray(tiles["image"].isel(sample=indices).values)
    labels = np.ascontiguousarray(tiles["label"].isel(sample=indices).values.astype(np.int32))
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size)
    mean_t, std_t = tf.constant(mean), tf.constant(std)

    def normalise(x, y):
        return (tf.cast(x, tf.float32) - mean_t) / std_t, y

    dataset = dataset.map(normalise, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


__all__ = ["make_tf_dataset"]
