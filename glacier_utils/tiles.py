"""Training data: tiles on a global grid, multi-date expansion, augmentation, splits, ``tf.data``.

Implements the data preparation of paper §II-B (Steps 1-7, Fig. 2) and the two evaluation scenes of
§II-C ("Scene 1", "Scene 2") on scenes that follow the project's data contract (``dn`` + ``label``):

1. reproject to the study grid (WGS 84 / UTM 46N, 30 m) where a scene is not on it (Step 1);
2. the label is binary already (Step 2, done by the inventory module / simulator);
3. cut ``tile_px`` tiles on a grid anchored to the CRS and drop glacier-free tiles (Step 3);
4. the 7 bands are stacked (Step 4: ``dn`` already is a band stack);
5-6. every scene (overlapping neighbours, several dates) gives its own image tile at a location, each
   paired with its label tile: the paper's 692 label tiles -> 999 image tiles (Steps 5-6);
7. x4 augmentation: original, up-down flip, left-right mirror, 90-degree rotation (Step 7).

The tile grid is anchored to the CRS, not to a scene: tile edges lie at multiples of
``tile_px * 30 m`` (plus the scene's sub-pixel lattice offset, see :func:`cut_tiles`), so one ground
location has one id (``tile_row``/``tile_col``, string ``location``) in every scene and date that sees
it. That id is what makes the bookkeeping of Steps 5-6 and a leak-free grouped split possible.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.warp import transform_bounds

from glacier_utils import config
from glacier_utils.errors import DataError

#: The four copies of Step 7 (paper §II-B): the original, a flip (up-down), a mirror (left-right)
#: and a rotation by 90 degrees (counter-clockwise, ``numpy.rot90``): 999 tiles -> 3996 samples.
AUGMENTATIONS: tuple[str, ...] = ("original", "flipud", "fliplr", "rot90")
#: Scene 1 split policies: ``grouped`` keeps every copy and date of a location on one side (default);
#: ``paper`` splits the augmented samples at random as the paper did, which leaks locations.
SPLIT_POLICIES: tuple[str, ...] = ("grouped", "paper")
#: The split variables stored in a tile dataset, one per experiment.
EXPERIMENTS: tuple[str, ...] = ("scene1_grouped", "scene1_paper", "scene2")
#: Codes of the split variables (CF ``flag_values``/``flag_meanings``); 0 = sample not used.
SPLIT_CODES: dict[str, int] = {
    "unused": 0, "train": 1, "validation": 2, "test": 3, "test_1": 4, "test_2": 5, "test_3": 6,
}
#: Scene 2: how a location seen from both the training area and a testing area (overlapping
#: neighbour scenes) is kept out of one side.
OVERLAP_RULES: tuple[str, ...] = ("drop_from_training", "drop_from_testing")
#: Pixel-validity rules: a pixel is nodata where ``any`` band (default) or ``all`` bands hold nodata.
NODATA_RULES: tuple[str, ...] = ("any", "all")
#: Tiles must halve cleanly through the networks' four 2x2 poolings (U-Net, paper §II-E).
TILE_MULTIPLE = 16
#: Label value for unknown / outside the inventory (data contract).
LABEL_NODATA = 255
#: Fill value of class tiles (``surface``, ``cloud``) for scenes that lack them.
CLASS_FILL = 255
#: Optional per-pixel class layers carried into the tiles (synthetic scenes only).
CLASS_LAYERS: tuple[str, ...] = ("surface", "cloud")
#: The paper's counts (§II-B Steps 3, 5, 7; §II-C Scene 1), shown beside ours in the summary.
PAPER_COUNTS: dict[str, int] = {
    "label tiles (unique locations)": 692,
    "image tiles (multi-date / overlap expansion)": 999,
    "samples (after x4 augmentation)": 3996,
    "scene1_paper/train+validation": 2797,
    "scene1_paper/test": 1199,
}


# --------------------------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------------------------
def check_tile_px(tile_px: int) -> int:
    """Validate a tile side: a positive multiple of 16 (four 2x2 poolings), returned as int."""
    if isinstance(tile_px, bool) or not isinstance(tile_px, (int, np.integer)) or tile_px <= 0:
        raise ValueError(f"tile_px must be a positive integer, got {tile_px!r}")
    if tile_px % TILE_MULTIPLE:
        raise ValueError(
            f"tile_px={tile_px} is not a multiple of {TILE_MULTIPLE}: the networks halve a tile four "
            f"times (2x2 pooling), so use e.g. {max(TILE_MULTIPLE, tile_px // TILE_MULTIPLE * TILE_MULTIPLE)}"
        )
    return int(tile_px)


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def _scene_name(scene: xr.Dataset) -> str:
    return f"scene {scene.attrs.get('wrs2', '?')} {scene.attrs.get('date', '?')}"


def _check_scene(scene: xr.Dataset) -> xr.Dataset:
    """The scene with ``dn`` in the paper's band order; clear errors for contract breaches."""
    name = _scene_name(scene)
    for var in ("dn", "label"):
        if var not in scene:
            raise DataError(f"{name}: variable {var!r} is missing (data contract: dn and label)")
    for attr in ("wrs2", "date"):
        if attr not in scene.attrs:
            raise DataError(f"{name}: attribute {attr!r} is missing (data contract)")
    bands = [int(b) for b in scene["dn"]["band"].values]
    if sorted(bands) != sorted(config.BAND_NUMBERS):
        raise DataError(f"{name}: dn has bands {bands}, expected TM-equivalent bands {list(config.BAND_NUMBERS)}")
    if bands != list(config.BAND_NUMBERS):
        scene = scene.assign(dn=scene["dn"].sel(band=list(config.BAND_NUMBERS)))
    if scene.rio.crs is None:
        raise DataError(f"{name}: no CRS; write one with ds.rio.write_crs(...)")
    return scene


def _dn_nodata(dn: xr.DataArray) -> int:
    nodata = dn.rio.nodata
    if nodata is None:
        nodata = dn.attrs.get("nodata", dn.attrs.get("_FillValue", 0))
    return int(nodata)


# --------------------------------------------------------------------------------------------
# Step 1: the study grid
# --------------------------------------------------------------------------------------------
def _north_up(scene: xr.Dataset) -> xr.Dataset:
    """x ascending, y descending (row 0 is the northern edge)."""
    if scene["x"].size > 1 and scene["x"].values[1] < scene["x"].values[0]:
        scene = scene.isel(x=slice(None, None, -1))
    if scene["y"].size > 1 and scene["y"].values[1] > scene["y"].values[0]:
        scene = scene.isel(y=slice(None, None, -1))
    return scene


def _on_study_grid(scene: xr.Dataset, crs: CRS, pixel_size_m: float) -> bool:
    if CRS.from_user_input(scene.rio.crs) != crs:
        return False
    dx = np.diff(scene["x"].values)
    dy = np.diff(scene["y"].values)
    return bool(np.allclose(np.abs(dx), pixel_size_m, atol=1e-6) and np.allclose(np.abs(dy), pixel_size_m, atol=1e-6))


def to_study_grid(
    scene: xr.Dataset,
    *,
    crs: str = config.STUDY_CRS,
    pixel_size_m: float = config.PIXEL_SIZE_M,
    dn_resampling: Resampling = Resampling.nearest,
) -> xr.Dataset:
    """The scene on the study grid (paper §II-B Step 1: UTM 46N, 30 m), north up; reprojected only if needed.

    Nearest neighbour for DN by default (the band ratio, Eq. 1, works on the sensor's DN, which an
    interpolating kernel would alter), always nearest for the label and class layers. A reprojected
    scene lands on a lattice with pixel edges at multiples of ``pixel_size_m``.
    """
    scene = _check_scene(scene)
    target = CRS.from_user_input(crs)
    if _on_study_grid(scene, target, pixel_size_m):
        return _north_up(scene)
    src_crs = scene.rio.crs
    left, bottom, right, top = transform_bounds(src_crs, target, *scene.rio.bounds(), densify_pts=21)
    left = math.floor(left / pixel_size_m) * pixel_size_m
    top = math.ceil(top / pixel_size_m) * pixel_size_m
    width = math.ceil((right - left) / pixel_size_m)
    height = math.ceil((top - bottom) / pixel_size_m)
    transform = Affine(pixel_size_m, 0.0, left, 0.0, -pixel_size_m, top)
    out = {}
    for name, var in scene.data_vars.items():
        if not {"y", "x"} <= set(var.dims):
            continue
        if name == "dn":
            nodata, resampling = _dn_nodata(var), dn_resampling
        else:
            nodata, resampling = LABEL_NODATA if name == "label" else CLASS_FILL, Resampling.nearest
        var = var.rio.write_crs(src_crs).rio.write_nodata(nodata)
        reprojected = var.rio.reproject(
            target, shape=(height, width), transform=transform, resampling=resampling, nodata=nodata
        )
        reprojected.attrs.update({k: v for k, v in var.attrs.items() if k not in ("_FillValue",)})
        if name == "dn":
            reprojected.attrs["nodata"] = nodata
        out[name] = reprojected.astype(var.dtype)
    result = xr.Dataset(out, attrs=dict(scene.attrs))
    if "band_name" in scene["dn"].coords:
        result = result.assign_coords(band_name=("band", scene["dn"]["band_name"].values))
    return _north_up(result.rio.write_crs(target))


# --------------------------------------------------------------------------------------------
# Step 3: tiles on the global grid
# --------------------------------------------------------------------------------------------
def _lattice(scene: xr.Dataset, pixel_size_m: float) -> tuple[float, float, float, float]:
    """West edge, north edge of the scene and its lattice offsets (edge mod pixel size) in metres."""
    x_left = float(scene["x"].values[0]) - pixel_size_m / 2
    y_top = float(scene["y"].values[0]) + pixel_size_m / 2
    # Rounded to the millimetre so float noise does not move a tile to its neighbour.
    phase_x = round(x_left % pixel_size_m, 3) % pixel_size_m
    phase_y = round(y_top % pixel_size_m, 3) % pixel_size_m
    return x_left, y_top, phase_x, phase_y


def _blocks(array: np.ndarray, oy: int, ox: int, nty: int, ntx: int, tile_px: int) -> np.ndarray:
    """Cut the trailing (y, x) axes into (tile, tile_px, tile_px) blocks, leading axes moved last."""
    crop = array[..., oy:oy + nty * tile_px, ox:ox + ntx * tile_px]
    lead = crop.shape[:-2]
    blocks = crop.reshape(*lead, nty, tile_px, ntx, tile_px)
    n_lead = len(lead)
    order = (n_lead, n_lead + 2, n_lead + 1, n_lead + 3, *range(n_lead))
    return blocks.transpose(order).reshape(nty * ntx, tile_px, tile_px, *lead)


def location_id(tile_row: int, tile_col: int) -> str:
    """Readable id of a global-grid tile, e.g. ``"E57N127"`` (column east, row north)."""
    return f"E{int(tile_col)}N{int(tile_row)}"


def cut_tiles(
    scene: xr.Dataset,
    tile_px: int,
    *,
    pixel_size_m: float = config.PIXEL_SIZE_M,
    nodata_rule: str = "any",
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Complete, nodata-free tiles of a scene on the CRS-anchored grid, with per-tile metadata.

    Tile edges lie at ``k * tile_px * pixel_size_m + phase``, where ``phase`` is the scene's pixel-edge
    offset from the pixel lattice (0 for synthetic scenes, 15 m for USGS Landsat products, whose pixel
    centres sit on multiples of 30 m). ``tile_col = (west edge - phase) / T`` and ``tile_row =
    (north edge - phase) / T`` (rows count northwards). Scenes on the same lattice share tiles pixel
    for pixel; scenes on different lattices share ids of tiles less than a pixel apart. Tiles that are
    not wholly inside the scene are dropped (an overlapping neighbour usually covers them), and so are
    tiles with any nodata pixel (``nodata_rule`` decides whether a pixel is nodata when ``any`` band or
    ``all`` bands hold the nodata value) or any unknown label (255).
    Returns ``(arrays, counts)``; ``arrays`` holds ``image`` (n, y, x, band), ``label`` and the class
    layers (n, y, x), and 1-D metadata; nothing is filtered for glacier here (see :func:`drop_glacier_free`).
    """
    tile_px = check_tile_px(tile_px)
    _check_choice("nodata_rule", nodata_rule, NODATA_RULES)
    name = _scene_name(scene)
    height, width = scene.sizes["y"], scene.sizes["x"]
    if tile_px > height or tile_px > width:
        raise ValueError(f"tile_px={tile_px} is larger than {name} ({height} x {width} px)")
    step = tile_px * pixel_size_m
    x_left, y_top, phase_x, phase_y = _lattice(scene, pixel_size_m)
    col0 = math.ceil(round((x_left - phase_x) / step, 6))
    row0 = math.floor(round((y_top - phase_y) / step, 6))
    ox = int(round((col0 * step + phase_x - x_left) / pixel_size_m))
    oy = int(round((y_top - (row0 * step + phase_y)) / pixel_size_m))
    ntx = max(0, (width - ox) // tile_px)
    nty = max(0, (height - oy) // tile_px)

    dn = np.asarray(scene["dn"].values)
    label = np.asarray(scene["label"].values)
    nodata = _dn_nodata(scene["dn"])
    band_nodata = dn == nodata
    pixel_nodata = band_nodata.any(axis=0) if nodata_rule == "any" else band_nodata.all(axis=0)
    invalid = pixel_nodata | (label == LABEL_NODATA)

    rows = np.repeat(row0 - np.arange(nty), ntx)
    cols = np.tile(col0 + np.arange(ntx), nty)
    tile_invalid = _blocks(invalid, oy, ox, nty, ntx, tile_px).reshape(nty * ntx, -1).any(axis=1)
    keep = ~tile_invalid
    arrays: dict[str, np.ndarray] = {
        "image": _blocks(dn, oy, ox, nty, ntx, tile_px)[keep],
        "label": _blocks(label, oy, ox, nty, ntx, tile_px)[keep],
    }
    for layer in CLASS_LAYERS:
        if layer in scene:
            arrays[layer] = _blocks(np.asarray(scene[layer].values), oy, ox, nty, ntx, tile_px)[keep]
    n = int(keep.sum())
    rows, cols = rows[keep], cols[keep]
    wrs2 = str(scene.attrs["wrs2"]).replace(" ", "")
    date = str(scene.attrs["date"])
    area = str(scene.attrs.get("area") or config.area_of_scene(wrs2))
    period = scene.attrs.get("period")
    if period is None:
        try:
            period = config.period_of_year(int(date[:4]))
        except ValueError:
            period = -1
    locations = np.array([location_id(r, c) for r, c in zip(rows, cols)], dtype=object)
    arrays.update(
        tile_row=rows.astype(np.int64),
        tile_col=cols.astype(np.int64),
        location=locations,
        x0=cols * step + phase_x,
        y0=rows * step + phase_y,
        wrs2=np.full(n, wrs2, dtype=object),
        date=np.full(n, date, dtype=object),
        area=np.full(n, area, dtype=object),
        sensor=np.full(n, str(scene.attrs.get("sensor", "TM")), dtype=object),
        period=np.full(n, int(period), dtype=np.int64),
        glacier_fraction=(arrays["label"] == 1).reshape(n, -1).mean(axis=1) if n else np.zeros(0),
    )
    counts = {"complete": int(nty * ntx), "dropped_nodata": int(tile_invalid.sum()), "valid": n}
    return arrays, counts


def drop_glacier_free(tiles: xr.Dataset) -> xr.Dataset:
    """Tiles whose label holds at least one glacier pixel (paper §II-B Step 3)."""
    has_glacier = (tiles["label"] == 1).any(dim=("y", "x")).values
    return tiles.isel(sample=np.flatnonzero(has_glacier))


def _tiles_dataset(parts: list[dict[str, np.ndarray]], attrs: dict) -> xr.Dataset:
    """One Dataset (sample, y, x, band) from the per-scene tile arrays."""
    image_dtype = np.result_type(*[p["image"].dtype for p in parts])
    n_total = sum(len(p["label"]) for p in parts)
    data_vars = {
        "image": (("sample", "y", "x", "band"), np.concatenate([p["image"].astype(image_dtype) for p in parts])),
        "label": (("sample", "y", "x"), np.concatenate([p["label"].astype(np.uint8) for p in parts])),
    }
    for layer in CLASS_LAYERS:
        if any(layer in p for p in parts):
            filled = [
                p[layer].astype(np.uint8) if layer in p
                else np.full(p["label"].shape, CLASS_FILL, dtype=np.uint8)
                for p in parts
            ]
            data_vars[layer] = (("sample", "y", "x"), np.concatenate(filled))
    meta = {
        key: ("sample", np.concatenate([p[key] for p in parts]))
        for key in ("location", "tile_row", "tile_col", "x0", "y0", "wrs2", "date", "area", "sensor",
                    "period", "glacier_fraction")
    }
    ds = xr.Dataset(data_vars, coords={
        "band": list(config.BAND_NUMBERS),
        "band_name": ("band", list(config.BAND_NAMES)),
        **meta,
    }, attrs=attrs)
    names = np.array(
        [f"{loc}_{date}_{wrs2}"
         for loc, date, wrs2 in zip(ds["location"].values, ds["date"].values, ds["wrs2"].values)],
        dtype=object,
    )
    ds = ds.assign_coords(tile_name=("sample", names), source=("sample", np.arange(n_total, dtype=np.int64)))
    ds["image"].attrs.update(long_name="Landsat DN, TM-equivalent bands (paper Step 4)")
    ds["label"].attrs.update(long_name="glacier label", flag_values=[0, 1], flag_meanings="not_glacier glacier")
    ds["glacier_fraction"].attrs.update(long_name="fraction of glacier pixels in the tile label")
    ds["x0"].attrs.update(long_name="west edge of the tile", units="m")
    ds["y0"].attrs.update(long_name="north edge of the tile", units="m")
    ds["tile_row"].attrs.update(long_name="global tile grid row (north edge / tile size), increasing north")
    ds["tile_col"].attrs.update(long_name="global tile grid column (west edge / tile size)")
    return ds


def tile_scenes(
    scenes: Iterable[xr.Dataset],
    tile_px: int,
    *,
    nodata_rule: str = "any",
) -> xr.Dataset:
    """Steps 1-6 of paper §II-B: every scene on the study grid, cut, glacier-free tiles dropped.

    One image tile per scene and location, each with its own label tile (Step 6's "A2006-09" copies:
    ``tile_name`` = location, date and WRS-2 id, because two overlapping scenes of one path can share
    a date). Scenes are processed in (WRS-2, date) order so the result does not depend on input order.
    The counts of every step are kept in the attrs (``n_tiles_complete``, ``n_dropped_nodata``,
    ``n_dropped_glacier_free``).
    """
    tile_px = check_tile_px(tile_px)
    _check_choice("nodata_rule", nodata_rule, NODATA_RULES)
    prepared = [to_study_grid(s) for s in scenes]
    if not prepared:
        raise ValueError("scenes is empty: give at least one scene")
    prepared.sort(key=lambda s: (str(s.attrs["wrs2"]), str(s.attrs["date"]), str(s.attrs.get("sensor", ""))))
    parts, totals = [], {"complete": 0, "dropped_nodata": 0, "valid": 0, "glacier_free": 0}
    class_attrs: dict[str, dict] = {}
    for scene in prepared:
        arrays, counts = cut_tiles(scene, tile_px, nodata_rule=nodata_rule)
        for key in counts:
            totals[key] += counts[key]
        has_glacier = (arrays["label"] == 1).reshape(counts["valid"], -1).any(axis=1)
        totals["glacier_free"] += int((~has_glacier).sum())
        if has_glacier.any():
            parts.append({key: value[has_glacier] for key, value in arrays.items()})
        for layer in CLASS_LAYERS:
            if layer in scene and layer not in class_attrs:
                class_attrs[layer] = dict(scene[layer].attrs)
    if not totals["valid"]:
        raise ValueError(
            f"no complete, nodata-free tile of {tile_px} px in {len(prepared)} scene(s) "
            f"({totals['complete']} complete tiles, {totals['dropped_nodata']} with nodata)"
        )
    if not parts:
        raise ValueError(
            f"no tile contains glacier: all {totals['valid']} complete, nodata-free tiles of "
            f"{tile_px} px have label 0 everywhere (paper Step 3 drops glacier-free tiles)"
        )
    attrs = {
        "tile_px": tile_px,
        "pixel_size_m": config.PIXEL_SIZE_M,
        "crs": config.STUDY_CRS,
        "nodata_rule": nodata_rule,
        "n_scenes": len(prepared),
        "n_tiles_complete": totals["complete"],
        "n_dropped_nodata": totals["dropped_nodata"],
        "n_dropped_glacier_free": totals["glacier_free"],
    }
    tiles = _tiles_dataset(parts, attrs)
    for layer, layer_attrs in class_attrs.items():
        tiles[layer].attrs.update(layer_attrs)
    return tiles


# --------------------------------------------------------------------------------------------
# Step 7: augmentation
# --------------------------------------------------------------------------------------------
def augment_array(tile: np.ndarray, kind: str) -> np.ndarray:
    """One augmentation (paper Step 7) of a batch of tiles shaped (n, y, x) or (n, y, x, band).

    ``flipud`` reverses y, ``fliplr`` reverses x,
    ``rot90`` rotates the (y, x) plane by 90 degrees counter-clockwise (``numpy.rot90``).
    """
    _check_choice("augmentation", kind, AUGMENTATIONS)
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
        _check_choice("augmentation", kind, AUGMENTATIONS)
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


# --------------------------------------------------------------------------------------------
# Splits (paper §II-C)
# --------------------------------------------------------------------------------------------
def _is_original(tiles: xr.Dataset) -> np.ndarray:
    if "augmentation" not in tiles.coords:
        return np.ones(tiles.sizes["sample"], dtype=bool)
    return np.asarray(tiles["augmentation"].values).astype(str) == "original"


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

    ``policy="paper"`` draws samples at random after augmentation, as the paper did: rotated copies
    and other dates of one location fall on both sides (a leak). ``policy="grouped"`` (default) draws
    whole locations, so all copies and dates of a location sit in one set. In the grouped split the
    test set holds only the original (unaugmented) tiles unless ``augment_test``; the paper policy
    keeps augmented test samples by definition. Returns sorted sample indices per set.
    """
    _check_choice("policy", policy, SPLIT_POLICIES)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    validation_fraction = _check_fraction("validation_fraction", validation_fraction)
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
    locations = np.asarray(tiles["location"].values)
    test, rest = _grouped_holdout(locations, np.arange(n), test_fraction, rng)
    validation, train = _grouped_holdout(locations, rest, validation_fraction, rng)
    if not augment_test:
        test = test[_is_original(tiles)[test]]
    return {"train": train, "validation": validation, "test": test}


def split_scene2(
    tiles: xr.Dataset,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
    overlap: str = "drop_from_training",
    augment_test: bool = False,
) -> dict[str, np.ndarray]:
    """Scene 2 (paper §II-C): train on the training area's scenes, test on testing areas 1-3.

    Areas come from ``config.AREA_SCENES``. Validation (``validation_fraction``) is carved from the
    training area by whole locations. A location seen by both a training-area scene and a
    testing-area scene (neighbouring scenes overlap) would leak; ``overlap="drop_from_training"``
    (default) leaves such samples out of training and validation so the testing areas stay whole,
    ``"drop_from_testing"`` leaves them out of the test sets instead. Test sets hold only original
    tiles unless ``augment_test``. Returns sorted indices for train, validation, test_1..test_3.
    """
    _check_choice("overlap", overlap, OVERLAP_RULES)
    validation_fraction = _check_fraction("validation_fraction", validation_fraction)
    rng = np.random.default_rng(seed)
    area = np.asarray(tiles["area"].values).astype(str)
    locations = np.asarray(tiles["location"].values).astype(str)
    in_training_area = area == "training"
    if not in_training_area.any():
        raise ValueError(
            "Scene 2 needs tiles from the training area (WRS-2 "
            f"{', '.join(config.AREA_SCENES['training'])}), found none"
        )
    shared = np.intersect1d(locations[in_training_area], locations[~in_training_area])
    is_shared = np.isin(locations, shared)
    train_pool = in_training_area & ~is_shared if overlap == "drop_from_training" else in_training_area
    if not train_pool.any():
        raise ValueError("Scene 2: every training-area location is also seen from a testing area")
    validation, train = _grouped_holdout(locations, np.flatnonzero(train_pool), validation_fraction, rng)
    test_pool = ~in_training_area
    if overlap == "drop_from_testing":
        test_pool &= ~is_shared
    if not augment_test:
        test_pool &= _is_original(tiles)
    splits = {"train": train, "validation": validation}
    for i, name in enumerate(config.TESTING_AREAS, start=1):
        splits[f"test_{i}"] = np.flatnonzero(test_pool & (area == name))
    return splits


def _split_codes(n: int, splits: Mapping[str, np.ndarray]) -> np.ndarray:
    codes = np.zeros(n, dtype=np.uint8)
    for name, indices in splits.items():
        if np.any(codes[indices]):
            raise ValueError(f"split {name!r} overlaps another split")
        codes[indices] = SPLIT_CODES[name]
    return codes


def split_indices(tiles: xr.Dataset, experiment: str) -> dict[str, np.ndarray]:
    """Sample indices per set of a stored split (``scene1_grouped``, ``scene1_paper``, ``scene2``)."""
    _check_choice("experiment", experiment, EXPERIMENTS)
    var = f"split_{experiment}"
    if var not in tiles:
        raise ValueError(f"the tile dataset has no {var!r}; build it with prepare_tile_dataset")
    codes = np.asarray(tiles[var].values)
    names = ("train", "validation", "test") if experiment.startswith("scene1") else (
        "train", "validation", "test_1", "test_2", "test_3")
    return {name: np.flatnonzero(codes == SPLIT_CODES[name]) for name in names}


# --------------------------------------------------------------------------------------------
# Normalisation statistics (training samples only)
# --------------------------------------------------------------------------------------------
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
    _check_choice("experiment", experiment, EXPERIMENTS)
    if "norm_mean" not in tiles:
        raise ValueError("the tile dataset has no normalisation statistics; build it with prepare_tile_dataset")
    return (
        np.asarray(tiles["norm_mean"].sel(experiment=experiment).values, dtype=np.float64),
        np.asarray(tiles["norm_std"].sel(experiment=experiment).values, dtype=np.float64),
    )


# --------------------------------------------------------------------------------------------
# The whole preparation
# --------------------------------------------------------------------------------------------
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
) -> xr.Dataset:
    """Scenes -> the tile dataset of paper §II-B/§II-C: tiles, x4 augmentation, splits, train-only stats.

    ``tile_px`` and ``seed`` default to the profile's ``tile_px`` and ``data_seed``; the Scene 1
    fractions come from the profile. The result holds ``image`` (sample, y, x, band; DN dtype kept),
    ``label``, class tiles where the scenes have them, per-sample metadata coordinates, one split
    variable per experiment (codes in ``SPLIT_CODES``; read them with :func:`split_indices`), and
    ``norm_mean``/``norm_std`` (experiment, band) computed on each experiment's training samples.
    """
    prof = config.get_profile(profile)
    tile_px = prof.tile_px if tile_px is None else tile_px
    seed = prof.data_seed if seed is None else int(seed)
    for experiment in experiments:
        _check_choice("experiment", experiment, EXPERIMENTS)
    _check_choice("overlap", overlap, OVERLAP_RULES)
    tiles = tile_scenes(scenes, tile_px, nodata_rule=nodata_rule)
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
                                  overlap=overlap, augment_test=augment_test)
        else:
            splits = split_scene1(tiles, experiment.removeprefix("scene1_"), test_fraction=prof.test_fraction,
                                  validation_fraction=prof.validation_fraction, seed=seed,
                                  augment_test=augment_test)
        tiles[f"split_{experiment}"] = ("sample", _split_codes(n, splits), {
            "long_name": f"{experiment} split",
            "flag_values": list(SPLIT_CODES.values()),
            "flag_meanings": " ".join(SPLIT_CODES),
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
    return tiles.rio.write_crs(config.STUDY_CRS)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def summarize_tiles(tiles: xr.Dataset) -> pd.DataFrame:
    """Counts per preparation step and per split and area, with class balance, as a DataFrame.

    Columns: ``step``, ``area`` ("all" or an area of ``config.AREAS``), ``samples``, ``locations``
    (distinct global-grid tiles), ``glacier_fraction`` (share of glacier pixels), ``paper`` (the
    paper's count for that step where it gives one).
    """
    area = np.asarray(tiles["area"].values).astype(str)
    locations = np.asarray(tiles["location"].values).astype(str)
    fraction = np.asarray(tiles["glacier_fraction"].values, dtype=np.float64)
    original = _is_original(tiles)
    rows: list[dict] = []

    def add(step: str, mask: np.ndarray, *, count_locations: bool = False) -> None:
        for name in ("all", *[a for a in config.AREAS if (mask & (area == a)).any()]):
            sel = mask if name == "all" else mask & (area == name)
            n_loc = len(np.unique(locations[sel]))
            rows.append({
                "step": step, "area": name, "samples": n_loc if count_locations else int(sel.sum()),
                "locations": n_loc,
                "glacier_fraction": float(fraction[sel].mean()) if sel.any() else np.nan,
                "paper": PAPER_COUNTS.get(step, np.nan) if name == "all" else np.nan,
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


# --------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------
def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".zarr":
        return "zarr"
    if suffix in (".nc", ".nc4", ".netcdf"):
        return "netcdf"
    raise ValueError(f"{path}: unknown tile dataset format {suffix!r}; use a .zarr or .nc path")


def _for_disk(ds: xr.Dataset) -> xr.Dataset:
    """Strings as variable-length objects (zarr v3 has no fixed-width unicode) and dict attrs as JSON."""
    ds = ds.copy()
    for name, var in ds.variables.items():
        if var.dtype.kind in ("U", "T", "O"):
            ds[name] = var.copy(data=np.asarray(var.values).astype(str).astype(object))
        encoded = [k for k, v in var.attrs.items() if isinstance(v, (dict, list, tuple)) and not _flat(v)]
        for key in encoded:
            ds[name].attrs[key] = json.dumps(var.attrs[key])
        if encoded:
            ds[name].attrs["json_attrs"] = ",".join(encoded)
    encoded = [k for k, v in ds.attrs.items() if isinstance(v, (dict, list, tuple)) and not _flat(v)]
    for key in encoded:
        ds.attrs[key] = json.dumps(ds.attrs[key])
    if encoded:
        ds.attrs["json_attrs"] = ",".join(encoded)
    return ds


def _flat(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str)) for v in value) and (
        len({type(v) for v in value}) <= 1)


def _from_disk(ds: xr.Dataset) -> xr.Dataset:
    for name in list(ds.variables):
        var = ds[name]
        if var.dtype.kind in ("T", "O", "S"):
            ds[name] = var.copy(data=np.asarray(var.values).astype(object).astype(str).astype(object))
        for key in filter(None, str(var.attrs.pop("json_attrs", "")).split(",")):
            ds[name].attrs[key] = json.loads(var.attrs[key])
    for key in filter(None, str(ds.attrs.pop("json_attrs", "")).split(",")):
        ds.attrs[key] = json.loads(ds.attrs[key])
    return ds


def _chunking(ds: xr.Dataset, netcdf: bool = False, samples_per_chunk: int = 256) -> dict:
    """Store pixel variables in blocks of whole samples: a batch reads few chunks, writes stay bounded."""
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dims[:1] == ("sample",) and var.ndim >= 3:
            chunks = (min(samples_per_chunk, var.shape[0]), *var.shape[1:])
            encoding[name] = {"chunksizes": chunks, "zlib": True, "complevel": 1} if netcdf else {"chunks": chunks}
            # an explicit encoding replaces the variable's own: keep rioxarray's link to the CRS
            if "grid_mapping" in var.encoding:
                encoding[name]["grid_mapping"] = var.encoding["grid_mapping"]
    return encoding


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def save_tile_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write the tile dataset to zarr (``.zarr``) or NetCDF (``.nc``) atomically: temp name, then rename.

    An existing dataset at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    fmt = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        out = _for_disk(ds)
        if fmt == "zarr":
            out.to_zarr(tmp, mode="w", consolidated=False, encoding=_chunking(out))
        else:
            out.to_netcdf(tmp, encoding=_chunking(out, netcdf=True))
        if path.exists():
            # A folder (zarr) cannot be os.replace'd onto a non-empty folder: move the old one aside first.
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)
    return path


def load_tile_dataset(path: str | os.PathLike, *, load: bool = True) -> xr.Dataset:
    """Read a dataset written by :func:`save_tile_dataset` (into memory unless ``load=False``)."""
    path = Path(path)
    fmt = _format_of(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no tile dataset there")
    if fmt == "zarr":
        ds = xr.open_zarr(path, consolidated=False, decode_coords="all")
    else:
        ds = xr.open_dataset(path, decode_coords="all")
    if load:
        ds = ds.load()
    return _from_disk(ds)


# --------------------------------------------------------------------------------------------
# tf.data
# --------------------------------------------------------------------------------------------
def resolve_stats(tiles: xr.Dataset, stats) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) as float32 from an experiment name, a {"mean", "std"} mapping or a pair; std 0 -> 1."""
    if isinstance(stats, str):
        mean, std = normalisation_stats(tiles, stats)
    elif isinstance(stats, Mapping):
        mean, std = stats["mean"], stats["std"]
    else:
        mean, std = stats
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    std = np.asarray(std, dtype=np.float32).reshape(-1)
    n_bands = tiles.sizes["band"]
    if mean.size != n_bands or std.size != n_bands:
        raise ValueError(f"stats must have one mean and std per band ({n_bands}), got {mean.size} and {std.size}")
    # A constant band (std 0) is centred but not scaled.
    return mean, np.where(std > 0, std, 1.0).astype(np.float32)


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
    import tensorflow as tf  # lazily: the rest of the module works without TensorFlow

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


__all__ = [
    "AUGMENTATIONS", "EXPERIMENTS", "NODATA_RULES", "OVERLAP_RULES", "PAPER_COUNTS", "SPLIT_CODES",
    "SPLIT_POLICIES", "TILE_MULTIPLE", "augment_array", "augment_tiles", "band_stats", "check_tile_px",
    "cut_tiles", "drop_glacier_free", "load_tile_dataset", "location_id", "make_tf_dataset",
    "normalisation_stats", "prepare_tile_dataset", "save_tile_dataset", "split_indices", "split_scene1",
    "split_scene2", "summarize_tiles", "tile_scenes", "to_study_grid",
]
