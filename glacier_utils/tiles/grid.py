"""The study grid and the CRS-anchored tile grid: paper §II-B Steps 1-6 on contract scenes.

1. reproject to the study grid (WGS 84 / UTM 46N, 30 m) where a scene is not on it (Step 1);
2. the label is binary already (Step 2, done by the inventory module / simulator);
3. cut ``tile_px`` tiles on a grid anchored to the CRS and drop glacier-free tiles (Step 3);
4. the 7 bands are stacked (Step 4: ``dn`` already is a band stack);
5-6. every scene (overlapping neighbours, several dates) gives its own image tile at a location, each
   paired with its label tile: the paper's 692 label tiles -> 999 image tiles (Steps 5-6).

The tile grid is anchored to the CRS, not to a scene: tile edges lie at multiples of
``tile_px * 30 m`` (plus the scene's sub-pixel lattice offset, see :func:`cut_tiles`), so one ground
location has one id (``tile_row``/``tile_col``, string ``location``) in every scene and date that sees
it. That id is what makes the bookkeeping of Steps 5-6 and a leak-free grouped split possible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.warp import transform_bounds

from glacier_utils import config
from glacier_utils.errors import DataError
from glacier_utils.tiles._checks import check_choice

#: Pixel-validity rules: a pixel is nodata where ``any`` band (default) or ``all`` bands hold nodata.
NODATA_RULES: tuple[str, ...] = ("any", "all")
#: Optional per-pixel class layers carried into the tiles (synthetic scenes only).
CLASS_LAYERS: tuple[str, ...] = ("surface", "cloud")


# --------------------------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------------------------
def check_tile_px(tile_px: int) -> int:
    """Validate a tile side: a positive multiple of 16 (four 2x2 poolings), returned as int."""
    if isinstance(tile_px, bool) or not isinstance(tile_px, (int, np.integer)) or tile_px <= 0:
        raise ValueError(f"tile_px must be a positive integer, got {tile_px!r}")
    side = config.SIDE_MULTIPLE
    if tile_px % side:
        raise ValueError(
            f"tile_px={tile_px} is not a multiple of {side}: the networks halve a tile four "
            f"times (2x2 pooling), so use e.g. {max(side, tile_px // side * side)}"
        )
    return int(tile_px)


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
    if not bands or len(set(bands)) != len(bands) or not set(bands) <= set(config.BAND_NUMBERS):
        raise DataError(f"{name}: dn has bands {bands}, expected distinct TM-equivalent bands from "
                        f"{list(config.BAND_NUMBERS)} (all seven, as the paper, or any subset such as [1, 2, 3, 4])")
    in_tm_order = sorted(bands)
    if bands != in_tm_order:
        scene = scene.assign(dn=scene["dn"].sel(band=in_tm_order))
    if scene.rio.crs is None:
        raise DataError(f"{name}: no CRS; write one with ds.rio.write_crs(...)")
    return scene


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
            nodata, resampling = config.nodata_of(var, default=0), dn_resampling
            nodata = nodata if np.dtype(var.dtype).kind == "f" else int(nodata)  # a float scene may use NaN
        else:
            nodata, resampling = config.LABEL_NODATA, Resampling.nearest
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


def _windows(array: np.ndarray, oy: int, ox: int, nty: int, ntx: int, tile_px: int, stride_px: int) -> np.ndarray:
    """Cut the trailing (y, x) axes into (window, tile_px, tile_px) windows every ``stride_px``, leading axes moved last."""
    if stride_px == tile_px:  # non-overlapping: a reshape, no copy until indexed
        crop = array[..., oy:oy + nty * tile_px, ox:ox + ntx * tile_px]
        lead = crop.shape[:-2]
        blocks = crop.reshape(*lead, nty, tile_px, ntx, tile_px)
        n_lead = len(lead)
        order = (n_lead, n_lead + 2, n_lead + 1, n_lead + 3, *range(n_lead))
        return blocks.transpose(order).reshape(nty * ntx, tile_px, tile_px, *lead)
    view = np.lib.stride_tricks.sliding_window_view(array, (tile_px, tile_px), axis=(-2, -1))
    view = view[..., oy::stride_px, ox::stride_px, :, :][..., :nty, :ntx, :, :]
    n_lead = view.ndim - 4
    order = (n_lead, n_lead + 1, n_lead + 2, n_lead + 3, *range(n_lead))
    return view.transpose(order).reshape(nty * ntx, tile_px, tile_px, *view.shape[:n_lead])


def check_stride_px(stride_px: int | None, tile_px: int) -> int:
    """The window stride: ``tile_px`` when None (the paper's non-overlapping tiles), else a divisor of it."""
    if stride_px is None:
        return tile_px
    if isinstance(stride_px, bool) or not isinstance(stride_px, (int, np.integer)) or stride_px <= 0:
        raise ValueError(f"stride_px={stride_px!r}: must be a positive whole number of pixels")
    if stride_px > tile_px or tile_px % stride_px:
        raise ValueError(f"stride_px={stride_px} must divide tile_px={tile_px} (e.g. {tile_px} or {tile_px // 2}): "
                         "windows then fall on one grid whose overlaps the splits can see")
    return int(stride_px)


def location_id(tile_row: int, tile_col: int) -> str:
    """Readable id of a global-grid tile, e.g. ``"E57N127"`` (column east, row north)."""
    return f"E{int(tile_col)}N{int(tile_row)}"


def cut_tiles(
    scene: xr.Dataset,
    tile_px: int,
    *,
    pixel_size_m: float = config.PIXEL_SIZE_M,
    nodata_rule: str = "any",
    stride_px: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Complete, nodata-free tiles of a scene on the CRS-anchored grid, with per-tile metadata.

    ``stride_px`` (default ``tile_px``, the paper's non-overlapping tiles) places a window every
    ``stride_px`` pixels, so a small region can train on overlapping windows; ``tile_row``/``tile_col``
    then count strides, and the splits keep overlapping windows on one side (:mod:`~glacier_utils.tiles.splits`).

    Tile edges lie at ``k * tile_px * pixel_size_m + phase``, where ``phase`` is the scene's pixel-edge
    offset from the pixel lattice (0 for synthetic scenes, 15 m for USGS Landsat products, whose pixel
    centres sit on multiples of 30 m). ``tile_col = (west edge - phase) / T`` and ``tile_row =
    (north edge - phase) / T`` (rows count northwards). Scenes on the same lattice share tiles pixel
    for pixel; scenes on different lattices share ids of tiles less than a pixel apart. Tiles that are
    not wholly inside the scene are dropped (an overlapping neighbour usually covers them), and so are
    tiles with any nodata pixel (``nodata_rule`` decides whether a pixel is nodata when ``any`` band or
    ``all`` bands hold the nodata value) or any unknown label (``config.LABEL_NODATA``).
    Returns ``(arrays, counts)``; ``arrays`` holds ``image`` (n, y, x, band), ``label`` and the class
    layers (n, y, x), and 1-D metadata; nothing is filtered for glacier here (:func:`tile_scenes` does).
    """
    tile_px = check_tile_px(tile_px)
    stride_px = check_stride_px(stride_px, tile_px)
    check_choice("nodata_rule", nodata_rule, NODATA_RULES)
    name = _scene_name(scene)
    height, width = scene.sizes["y"], scene.sizes["x"]
    if tile_px > height or tile_px > width:
        raise ValueError(f"tile_px={tile_px} is larger than {name} ({height} x {width} px)")
    step = stride_px * pixel_size_m
    x_left, y_top, phase_x, phase_y = _lattice(scene, pixel_size_m)
    col0 = math.ceil(round((x_left - phase_x) / step, 6))
    row0 = math.floor(round((y_top - phase_y) / step, 6))
    ox = int(round((col0 * step + phase_x - x_left) / pixel_size_m))
    oy = int(round((y_top - (row0 * step + phase_y)) / pixel_size_m))
    ntx = max(0, (width - ox - tile_px) // stride_px + 1)
    nty = max(0, (height - oy - tile_px) // stride_px + 1)

    dn = np.asarray(scene["dn"].values)
    label = np.asarray(scene["label"].values)
    pixel_nodata = config.nodata_pixels(dn, config.nodata_of(scene["dn"], default=0), rule=nodata_rule)  # NaN: nodata
    invalid = pixel_nodata | (label == config.LABEL_NODATA)

    rows = np.repeat(row0 - np.arange(nty), ntx)
    cols = np.tile(col0 + np.arange(ntx), nty)
    tile_invalid = _windows(invalid, oy, ox, nty, ntx, tile_px, stride_px).reshape(nty * ntx, -1).any(axis=1)
    keep = ~tile_invalid
    arrays: dict[str, np.ndarray] = {
        "image": _windows(dn, oy, ox, nty, ntx, tile_px, stride_px)[keep],
        "label": _windows(label, oy, ox, nty, ntx, tile_px, stride_px)[keep],
    }
    for layer in CLASS_LAYERS:
        if layer in scene:
            arrays[layer] = _windows(np.asarray(scene[layer].values), oy, ox, nty, ntx, tile_px, stride_px)[keep]
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
                else np.full(p["label"].shape, config.LABEL_NODATA, dtype=np.uint8)
                for p in parts
            ]
            data_vars[layer] = (("sample", "y", "x"), np.concatenate(filled))
    meta = {
        key: ("sample", np.concatenate([p[key] for p in parts]))
        for key in ("location", "tile_row", "tile_col", "x0", "y0", "wrs2", "date", "area", "sensor",
                    "period", "glacier_fraction")
    }
    bands = [int(b) for b in attrs["bands"]]
    ds = xr.Dataset(data_vars, coords={
        "band": bands,
        "band_name": ("band", [config.BAND_NAMES[config.BAND_NUMBERS.index(b)] for b in bands]),
        **meta,
    }, attrs={k: v for k, v in attrs.items() if k != "bands"})
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
    stride_px: int | None = None,
    crs: str = config.STUDY_CRS,
    pixel_size_m: float = config.PIXEL_SIZE_M,
) -> xr.Dataset:
    """Steps 1-6 of paper §II-B: every scene on the study grid, cut, glacier-free tiles dropped.

    The study grid is ``crs`` at ``pixel_size_m`` (the paper's UTM 46N at 30 m by default; a study of
    another region passes its own).

    One image tile per scene and location, each with its own label tile (Step 6's "A2006-09" copies:
    ``tile_name`` = location, date and WRS-2 id, because two overlapping scenes of one path can share
    a date). Scenes are processed in (WRS-2, date) order so the result does not depend on input order.
    The counts of every step are kept in the attrs (``n_tiles_complete``, ``n_dropped_nodata``,
    ``n_dropped_glacier_free``).
    """
    tile_px = check_tile_px(tile_px)
    stride_px = check_stride_px(stride_px, tile_px)
    check_choice("nodata_rule", nodata_rule, NODATA_RULES)
    prepared = [to_study_grid(s, crs=crs, pixel_size_m=pixel_size_m) for s in scenes]
    if not prepared:
        raise ValueError("scenes is empty: give at least one scene")
    prepared.sort(key=lambda s: (str(s.attrs["wrs2"]), str(s.attrs["date"]), str(s.attrs.get("sensor", ""))))
    band_sets = {tuple(int(b) for b in s["dn"]["band"].values) for s in prepared}
    if len(band_sets) > 1:
        raise DataError(f"the scenes carry different band sets {sorted(band_sets)}: give every scene the study's bands")
    parts, totals = [], {"complete": 0, "dropped_nodata": 0, "valid": 0, "glacier_free": 0}
    class_attrs: dict[str, dict] = {}
    for scene in prepared:
        arrays, counts = cut_tiles(scene, tile_px, nodata_rule=nodata_rule, stride_px=stride_px,
                                   pixel_size_m=pixel_size_m)
        for key in counts:
            totals[key] += counts[key]
        has_glacier = (arrays["label"] == 1).any(axis=(1, 2))
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
        "stride_px": stride_px,
        "pixel_size_m": float(pixel_size_m),
        "crs": CRS.from_user_input(crs).to_string(),
        "nodata_rule": nodata_rule,
        "n_scenes": len(prepared),
        "n_tiles_complete": totals["complete"],
        "n_dropped_nodata": totals["dropped_nodata"],
        "n_dropped_glacier_free": totals["glacier_free"],
    }
    tiles = _tiles_dataset(parts, {**attrs, "bands": band_sets.pop()})
    for layer, layer_attrs in class_attrs.items():
        tiles[layer].attrs.update(layer_attrs)
    return tiles

