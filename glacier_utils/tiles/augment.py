"""The x4 augmentation of paper §II-B Step 7: original, up-down flip, left-right mirror, 90-degree rotation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from glacier_utils.tiles._checks import check_choice

#: The four copies of Step 7 (paper §II-B): the original, a flip (up-down), a mirror (left-right)
#: and a rotation by 90 degrees (counter-clockwise, ``numpy.rot90``): 999 tiles -> 3996 samples.
AUGMENTATIONS: tuple[str, ...] = ("original", "flipud", "fliplr", "rot90")


def augment_array(tile: np.ndarray, kind: str) -> np.ndarray:
    """One augmentation (paper Step 7) of a batch of tiles shaped (n, y, x) or (n, y, x, band).

    ``flipud`` reverses y, ``fliplr`` reverses x,
    ``rot90`` rotates the (y, x) plane by 90 degrees counter-clockwise (``numpy.rot90``).
    """
    check_choice("augmentation", kind, AUGMENTATIONS)
    if kind == "original":
        return tile
    if kind == "flipud":
        return tile[:, ::-1, :, ...]
    if kind == "fliplr":
        return tile[:, :, ::-1, ...]
    return np.rot90(tile, k=1, axes=(1, 2))


def augment_tiles(tiles: xr.Dataset, kinds: Sequence[str] = AUGMENTATIONS) -> xr.Dataset:
    """Each tile in every augmentation of ``kinds`` (paper §II-B Step 7: x4), copies of a tile adjacent.

    The same transform is applied to image, label and class tiles. New coordinates: ``augmentation``
    (the kind) and ``source`` (index of the tile before augmentation; shared by its copies).
    """
    kinds = list(kinds)
    for kind in kinds:
        check_choice("augmentation", kind, AUGMENTATIONS)
    if len(set(kinds)) != len(kinds) or not kinds:
        raise ValueError(f"kinds must be distinct and not empty, got {kinds}")
    n, k = tiles.sizes["sample"], len(kinds)
    if tiles.sizes["y"] != tiles.sizes["x"]:
        raise ValueError("tiles must be square to be rotated")
    order = np.repeat(np.arange(n), k)  # sample i*k + j is copy j of tile i
    pixel_vars = [name for name, var in tiles.data_vars.items() if var.dims[:3] == ("sample", "y", "x")]
    out = tiles.drop_vars(pixel_vars).isel(sample=order)  # pixels are copied once, below
    for name in pixel_vars:
        var = tiles[name]
        values = np.asarray(var.values)
        stacked = np.empty((n, k, *values.shape[1:]), dtype=values.dtype)
        for j, kind in enumerate(kinds):
            stacked[:, j] = augment_array(values, kind)
        out[name] = (var.dims, stacked.reshape(n * k, *values.shape[1:]), var.attrs)
    out = out.assign_coords(
        augmentation=("sample", np.array(kinds * n, dtype=object)),
        source=("sample", np.asarray(tiles["source"].values)[order] if "source" in tiles.coords else order),
    )
    out.attrs["augmentations"] = ",".join(kinds)
    return out

