"""Map one period of any study the way the paper did (§III-D): choose, mask, predict, fuse, mosaic, outline.

The paper mapped each three-year period from the less cloudy and less snowy Landsat scenes of its
summers, combined where clouds hid ice (§III-D, Table IV). `map_period` does this automatically
for a table of acquisitions and a loader (`glacier_utils.acquisitions`):

1. **choose** (`acquisitions.prescreen`, `score_tasks`, `acquisitions.choose`): every acquisition
   is ranked by its metadata; the best ``k + extra`` per frame are loaded and scored on their
   pixels (cloud over the reference glaciers, snow in a ring outside them, season); the ``k``
   best per frame are chosen, and every row says why it was or was not.
2. **mask** (`acquisitions.clear_pixels`): fill, cloud, dilated cloud, cloud shadow, cirrus and
   medium-confidence (thin) cloud from the QA band, or the source's own ``clear`` mask.
3. **predict** (`prediction_tasks`): each chosen acquisition is **one dask task** (load, mask,
   harmonise OLI to TM, `inference.predict_scene`, write its probability to a zarr store), so a
   `dask.distributed` client maps a region on its workers; a progress bar counts acquisitions.
4. **fuse** (`fuse`, `fuse_frame`): per pixel over its clear observations, the **median**
   probability (the rule chosen on region seeds the book does not report; see the book's
   time-series methods). Pixels with no clear observation are **unmapped** (255), never counted
   as ice-free. Ice farther than `acquisitions.SEARCH_M` from every reference glacier is dropped.
5. **mosaic** (`glacier_utils.mosaic.mosaic_frames`), **outlines** split at the reference
   inventory's glacier divides (`glacier_utils.outlines`), and per-subarea areas
   (`period_areas`) with the paper's 15 m buffer, a seeded bootstrap over the chosen acquisitions
   (`bootstrap_areas`) and the unmapped area (the part near the reference glaciers can be ice).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
import zarr
from scipy import ndimage, spatial
from tqdm.auto import tqdm

from glacier_utils import config, inference, mosaic, outlines
from glacier_utils._atomic import atomic_path
from glacier_utils.acquisitions import (
    CURRENT_SETTING, DEFAULT_K, EXTRA_CANDIDATES, MAX_CLOUD_COVER, MIN_GAP_KM2, RING_PX, SEARCH_M, Loader, choose,
    clear_pixels, cloud_confidence_in_force, gap_fillers, prescreen, reference_zones, score_scene, search_area,
)
from glacier_utils.errors import DataError
from glacier_utils.io import radiometry

#: The fusion rules `fuse` knows; "median" is the default (chosen in the book's methods).
FUSION_RULES: tuple[str, ...] = ("median", "mean", "min", "persistence")
#: Side (px) of the majority filter that cleans each fused frame (Paul et al. 2002: 3 x 3; 1 = off).
CLEAN_PX = 3
#: Further acquisitions a frame may take, one per round, while clouds leave its glaciers unseen.
MAX_FILL = 2
#: Bootstrap replicates of the acquisitions per frame (the empirical uncertainty).
N_BOOTSTRAP = 200
#: Windows per network call in the whole-scene inference (a quick frame's 16 windows in one call).
PREDICT_BATCH = 16
#: Stored probability: round(p x PROBABILITY_SCALE) in 0..200 (steps of 0.005; 0.5 is exactly 100).
PROBABILITY_SCALE = 200
#: Stored codes for a pixel masked by cloud or shadow, and for a pixel without data (fill).
MASKED_CODE, FILL_CODE = 254, 255


# ----------------------------------------------------------------------------------------------
# 2-3. mask and predict: one dask task per acquisition, its probability on disk
# ----------------------------------------------------------------------------------------------
def encode_probability(probability: np.ndarray, clear: np.ndarray, has_data: np.ndarray) -> np.ndarray:
    """uint8 codes of a probability map: round(p x 200), `MASKED_CODE` where not clear, `FILL_CODE` without data."""
    p = np.nan_to_num(np.asarray(probability, np.float32), nan=0.0)
    codes = np.rint(np.clip(p, 0.0, 1.0) * PROBABILITY_SCALE).astype(np.uint8)
    codes[~np.isfinite(probability) | ~clear] = MASKED_CODE
    codes[~has_data] = FILL_CODE
    return codes


def decode_probability(codes: np.ndarray) -> np.ndarray:
    """float32 probability from stored codes: NaN where masked or without data."""
    codes = np.asarray(codes)
    return np.where(codes <= PROBABILITY_SCALE, codes.astype(np.float32) / PROBABILITY_SCALE, np.float32(np.nan))


def _tm_scene(scene: xr.Dataset) -> xr.Dataset:
    """OLI DN harmonised to TM (the networks learned TM, §III-D); other sensors pass unchanged."""
    return radiometry.tm_equivalent_dn(scene) if scene.attrs.get("sensor") == "OLI" else scene


def predict_acquisition(row: Mapping[str, Any], loader: Loader, model, stats, folder: str | os.PathLike, *,
                        window_px: int, overlap_px: int, cloud_confidence: str | None | object = CURRENT_SETTING
                        ) -> dict[str, Any]:
    """Load, mask, harmonise and predict one acquisition; write its probability codes to ``<folder>/<id>.zarr``."""
    scene = loader(row)
    clear = clear_pixels(scene, cloud_confidence)
    has_data = ~np.asarray(config.nodata_pixels(scene["dn"]))
    prediction = inference.predict_scene(_tm_scene(scene), model, stats, window_px=window_px,
                                         overlap_px=overlap_px, chunk_px=None, batch_size=PREDICT_BATCH)
    codes = encode_probability(prediction["probability"].values, clear, has_data)
    transform = tuple(scene["dn"].rio.transform())[:6]
    path = Path(folder) / f"{row['id']}.zarr"
    with atomic_path(path) as tmp:
        array = zarr.create_array(str(tmp), shape=codes.shape, dtype="uint8", chunks=(512, 512), fill_value=FILL_CODE)
        array[:] = codes
        array.attrs.update({"transform": list(transform), "crs": str(scene["dn"].rio.crs), "id": str(row["id"]),
                            "wrs2": str(row["wrs2"]), "scale": PROBABILITY_SCALE, "masked": MASKED_CODE,
                            "fill": FILL_CODE})
    return {"id": str(row["id"]), "path": str(path), "clear_pixels": int(clear.sum()), "data_pixels": int(has_data.sum())}


def _score_acquisition(row: Mapping[str, Any], loader: Loader, reference: gpd.GeoDataFrame,
                       cloud_confidence: str | None) -> dict[str, Any]:
    return {"id": str(row["id"]), **score_scene(loader(row), reference, cloud_confidence=cloud_confidence)}


def score_tasks(candidates: pd.DataFrame, loader: Loader, reference: gpd.GeoDataFrame, *,
                cloud_confidence: str | None | object = CURRENT_SETTING) -> list:
    """One dask task per candidate: load it and return its `score_scene` figures."""
    confidence = cloud_confidence_in_force(cloud_confidence)
    return [dask.delayed(_score_acquisition, pure=False)(row, loader, reference, confidence,
                                                         dask_key_name=f"score-{row['id']}")
            for row in _rows(candidates)]


def prediction_tasks(chosen: pd.DataFrame, loader: Loader, model, stats, folder: str | os.PathLike, *,
                     window_px: int, overlap_px: int, cloud_confidence: str | None | object = CURRENT_SETTING) -> list:
    """One dask task per chosen acquisition (`predict_acquisition`), keyed ``predict-<id>``; runs on any scheduler.

    Under a `dask.distributed` client the network travels as a ``.keras`` file (`inference.ModelHandle`).
    """
    handle = model if isinstance(model, (str, os.PathLike)) else inference.ModelHandle(model)
    if inference.distributed_client_active() and isinstance(handle, inference.ModelHandle):
        handle = handle.on_disk()
    confidence = cloud_confidence_in_force(cloud_confidence)
    return [dask.delayed(predict_acquisition, pure=False)(row, loader, handle, stats, str(folder), window_px=window_px,
                                                         overlap_px=overlap_px, cloud_confidence=confidence,
                                                         dask_key_name=f"predict-{row['id']}")
            for row in _rows(chosen)]


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(row) for _, row in table.iterrows()]


def run_tasks(tasks: Sequence, desc: str, progress: bool = True) -> list:
    """Compute tasks on the current dask scheduler with a progress bar over them (futures when distributed)."""
    if not tasks:
        return []
    if inference.distributed_client_active():
        from distributed import as_completed, default_client  # deferred: distributed is heavy

        futures = default_client().compute(list(tasks))
        for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, disable=not progress):
            pass
        return [f.result() for f in futures]
    from dask.callbacks import Callback

    bar = tqdm(total=len(tasks), desc=desc, disable=not progress)
    with Callback(posttask=lambda key, result, dsk, state, worker_id: bar.update(1)):
        results = dask.compute(*tasks)
    bar.close()
    return list(results)


# ----------------------------------------------------------------------------------------------
# 4. fuse
# ----------------------------------------------------------------------------------------------
def fuse(stack: np.ndarray, rule: str = "median", *, threshold: float = 0.5,
         persistence: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(fused probability, clear count) over the first axis of (n, y, x) probabilities with NaN where not clear.

    Rules: "median" (default), "mean", "min" (ice only where every clear view sees ice), and
    "persistence" (1 where more than ``persistence`` of the clear views are at or above
    ``threshold``, else 0). A pixel with no clear view gets NaN and count 0: unmapped.
    """
    if rule not in FUSION_RULES:
        raise ValueError(f"rule={rule!r}: choose one of {', '.join(FUSION_RULES)}")
    stack = np.asarray(stack, np.float32)
    if stack.ndim != 3:
        raise DataError(f"fuse: expected an (n, y, x) stack, got shape {stack.shape}")
    count = np.sum(np.isfinite(stack), axis=0).astype(np.uint8)
    seen = count > 0
    fused = np.full(stack.shape[1:], np.nan, np.float32)
    views = stack[:, seen]
    if rule == "median":
        fused[seen] = _median_of_views(views, count[seen])
    elif rule == "mean":
        fused[seen] = np.nanmean(views, axis=0)
    elif rule == "min":
        fused[seen] = np.nanmin(views, axis=0)
    else:
        share = np.sum(views >= threshold, axis=0) / count[seen]
        fused[seen] = (share > persistence).astype(np.float32)
    return fused, count


def _median_of_views(views: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``np.nanmedian`` over the first axis for a few views per pixel (NaN sort last), without its per-pixel loop."""
    ordered = np.sort(views, axis=0)
    low = np.take_along_axis(ordered, ((count.astype(np.intp) - 1) // 2)[None], axis=0)[0]
    high = np.take_along_axis(ordered, (count.astype(np.intp) // 2)[None], axis=0)[0]
    return 0.5 * (low + high)


def fused_mask(probability: np.ndarray, count: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The glacier mask of a fused map: 1 glacier, 0 not, ``config.LABEL_NODATA`` unmapped (no clear view)."""
    mask = (np.nan_to_num(probability, nan=0.0) >= threshold).astype(np.uint8)
    mask[np.asarray(count) == 0] = config.LABEL_NODATA
    return mask


def read_codes(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """The stored probability codes of one acquisition and their attrs (transform, crs, id, wrs2)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"acquisition probability store {path} does not exist; run its prediction task again")
    array = zarr.open_array(str(path), mode="r")
    return np.asarray(array[:]), dict(array.attrs)


def classify_frame(stack: np.ndarray, rule: str = "median", *, outside: np.ndarray | None = None,
                   clean_px: int = CLEAN_PX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fused probability, glacier 0/1, clear count) of one frame's (n, y, x) stack (NaN: not clear).

    Ice outside the search area (``outside``) is not glacier; then a ``clean_px`` x ``clean_px``
    majority filter over the *seen* pixels (`mosaic.majority_of_seen`) removes isolated pixels and
    pinholes from the decision, as Paul et al. (2002) cleaned their ratio-image glacier maps
    (1: off). Unseen pixels stay unmapped (count 0).
    """
    probability, count = fuse(stack, rule)
    glacier = fused_mask(probability, count) == 1
    if outside is not None:
        glacier &= ~outside
    seen = count > 0
    if clean_px > 1:
        glacier = mosaic.majority_of_seen(glacier, seen, clean_px)
    return probability, (glacier & seen).astype(np.uint8), count


def _outside(reference: gpd.GeoDataFrame | None, attrs: Mapping[str, Any], shape: tuple[int, int],
             search_m: float | None) -> np.ndarray | None:
    """Pixels of a frame grid outside the search area around the reference glaciers (None: no search area)."""
    if reference is None or search_m is None:
        return None
    grid = _frame_dataset(np.zeros(shape, np.float32), np.zeros(shape, np.uint8), np.ones(shape, bool),
                          np.zeros(shape, np.uint8), attrs)
    return ~search_area(reference, grid, search_m)


def fuse_frame(paths: Sequence[str | os.PathLike], rule: str = "median", *,
               reference: gpd.GeoDataFrame | None = None, search_m: float | None = SEARCH_M,
               clean_px: int = CLEAN_PX) -> xr.Dataset:
    """One frame's fused map from its acquisitions' stores (`classify_frame`), on the frame grid.

    Variables: ``probability`` (fused, NaN unseen), ``glacier`` (0/1), ``n_clear`` and
    ``footprint`` (the frame images the pixel: `frame_outline` of the pixels with data). With a ``reference`` inventory and ``search_m``,
    ice outside the search area (`acquisitions.search_area`) is dropped: a snowfield on an
    ice-free summit is not a glacier.
    """
    if not paths:
        raise DataError("fuse_frame: no acquisition stores given")
    codes, attrs = zip(*(read_codes(p) for p in paths))
    stack = np.stack([decode_probability(c) for c in codes])
    outside = _outside(reference, attrs[0], stack.shape[1:], search_m)
    probability, glacier, count = classify_frame(stack, rule, outside=outside, clean_px=clean_px)
    footprint = frame_outline(np.any(np.stack(codes) != FILL_CODE, axis=0))
    return _frame_dataset(probability, count, footprint, glacier, attrs[0])


def frame_outline(has_data: np.ndarray) -> np.ndarray:
    """The pixels of a frame's footprint: the convex hull of its data pixels (a Landsat frame is a parallelogram).

    Fill inside the frame (Landsat 7's SLC-off stripes, a missing line) is then a pixel the frame
    images but no acquisition saw, so it counts as unmapped, never silently as ice-free or as outside
    every frame; only the corners outside the tilted frame stay outside. Exact on the lattice: the
    hull of a convex frame's pixel centres holds no other pixel centre.
    """
    has_data = np.asarray(has_data, bool)
    rows = np.flatnonzero(has_data.any(axis=1))
    if len(rows) < 2:
        return has_data.copy()
    first = has_data[rows].argmax(axis=1)
    last = has_data.shape[1] - 1 - has_data[rows, ::-1].argmax(axis=1)
    ends = np.unique(np.concatenate([np.column_stack([first, rows]), np.column_stack([last, rows])]), axis=0)
    try:  # the row ends hold every vertex of the hull of all data pixels, at a fraction of the points
        equations = spatial.ConvexHull(ends.astype(float)).equations  # a x + b y + c <= 0 inside
    except spatial.QhullError:  # all ends on one line: nothing to fill
        return has_data.copy()
    y = np.arange(has_data.shape[0], dtype=float)[:, None]
    a, b, c = equations[:, 0][None, :], equations[:, 1][None, :], equations[:, 2][None, :]
    tol = 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (-c - b * y) / a
    low = np.where(a < -tol, bound, -np.inf).max(axis=1)
    high = np.where(a > tol, bound, np.inf).min(axis=1)
    rows_ok = np.all(np.where(np.abs(a) <= tol, b * y + c <= tol, True), axis=1)
    x = np.arange(has_data.shape[1], dtype=float)[None, :]
    inside = (x >= low[:, None] - tol) & (x <= high[:, None] + tol) & rows_ok[:, None]
    return inside | has_data


def _frame_dataset(probability, count, footprint, glacier, attrs: Mapping[str, Any]) -> xr.Dataset:
    a, b, c, d, e, f = attrs["transform"]
    h, w = probability.shape
    coords = {"y": f + e * (np.arange(h) + 0.5), "x": c + a * (np.arange(w) + 0.5)}
    ds = xr.Dataset({"probability": (("y", "x"), probability), "glacier": (("y", "x"), glacier),
                     "n_clear": (("y", "x"), count), "footprint": (("y", "x"), footprint)},
                    coords=coords, attrs={"wrs2": attrs["wrs2"]})
    return ds.rio.write_crs(attrs["crs"])


# ----------------------------------------------------------------------------------------------
# Areas and their empirical uncertainty
# ----------------------------------------------------------------------------------------------
def bootstrap_areas(period_map: xr.Dataset, frame_stores: Sequence[Sequence[str]], *, rule: str = "median",
                    n_bootstrap: int = N_BOOTSTRAP, seed: int = 0, reference: gpd.GeoDataFrame | None = None,
                    search_m: float | None = SEARCH_M, clean_px: int = CLEAN_PX) -> np.ndarray:
    """(n_bootstrap, n_subareas) glacier areas (km²): each frame's acquisitions resampled with replacement.

    Each replicate draws, per frame, as many acquisitions as were fused (seeded by ``seed``),
    classifies the frame as `fuse_frame` does, and counts the glacier pixels the frame supplied
    to the mosaic, per subarea. A pixel the draw never saw clearly keeps the full set's decision:
    the spread measures how much the acquisitions disagree, while what clouds hid from all of
    them is the unmapped area, counted apart. A draw only matters as a multiset, so each distinct
    one is classified once per frame. ``frame_stores``: each frame's stores, in the mosaic's frame order.
    """
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap={n_bootstrap}: a spread needs at least 2 replicates")
    rng = np.random.default_rng(seed)
    n_sub = len(period_map.attrs["subareas"])
    pixel_km2 = period_map.attrs["pixel_size_m"] ** 2 / 1e6
    counts = np.zeros((n_bootstrap, n_sub))
    supplier = np.asarray(period_map["frame"].values)
    index = np.asarray(period_map["subarea"].values)
    for f, (paths, (r0, c0, h, w)) in enumerate(zip(frame_stores, period_map.attrs["frame_windows"])):
        sl = (slice(r0, r0 + h), slice(c0, c0 + w))
        codes, attrs = zip(*(read_codes(p) for p in paths))
        outside = _outside(reference, attrs[0], (h, w), search_m)
        supplied = (supplier[sl] == f) & (True if outside is None else ~outside)
        box = _grown_box(supplied, clean_px)  # only where this frame can add ice: a smaller window
        if box is None:
            continue
        sub = np.where(supplied[box], index[sl][box], n_sub).astype(np.intp)
        stack = np.stack([decode_probability(c[box]) for c in codes])
        outside = None if outside is None else outside[box]
        full = classify_frame(stack, rule, outside=outside, clean_px=clean_px)[1] == 1
        draws = np.sort(rng.integers(0, len(paths), size=(n_bootstrap, len(paths))), axis=1)
        unique, which = np.unique(draws, axis=0, return_inverse=True)
        per_draw = np.zeros((len(unique), n_sub))
        for u, draw in enumerate(unique):
            _, glacier, count = classify_frame(stack[draw], rule, outside=outside, clean_px=clean_px)
            glacier = np.where(count > 0, glacier == 1, full)  # a view a draw lacks is a gap, counted apart
            per_draw[u] = np.bincount(sub[glacier], minlength=n_sub + 1)[:n_sub]
        counts += per_draw[np.asarray(which).ravel()]
    return counts * pixel_km2


def _grown_box(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """The bounding box of ``mask``, grown by ``margin`` pixels (within the array); None when empty."""
    found = ndimage.find_objects(mask.astype(np.uint8))
    if not found:
        return None
    return tuple(slice(max(0, s.start - margin), min(n, s.stop + margin)) for s, n in zip(found[0], mask.shape))


def period_areas(layer: gpd.GeoDataFrame, period_map: xr.Dataset, replicates: np.ndarray,
                 reference: gpd.GeoDataFrame, *, period: int, ring_px: tuple[int, int] = RING_PX) -> pd.DataFrame:
    """Per subarea and total: area ± the 15 m buffer (§II-H), the bootstrap spread and the unmapped area.

    Columns: period, area, area_km2, error_km2 (buffer), spread_km2 (standard deviation of the
    bootstrap replicates), unmapped_km2 (no clear view), unmapped_ice_km2 (the unmapped part within
    ``ring_px[1]`` pixels of a reference glacier: what could be uncounted ice), n_glaciers.
    """
    subareas = list(period_map.attrs["subareas"])
    summary = outlines.area_summary(layer, total=True).set_index("area") if len(layer) else pd.DataFrame()
    zone, _ = reference_zones(reference, period_map.assign(dn=period_map["mask"].expand_dims(band=[1])), ring_px)
    index = np.asarray(period_map["subarea"].values)
    unmapped = np.asarray(period_map["mask"].values) == config.LABEL_NODATA
    pixel_km2 = period_map.attrs["pixel_size_m"] ** 2 / 1e6
    rows = []
    for a, area in enumerate([*subareas, "total"]):
        inside = index == a if area != "total" else index < len(subareas)
        spread = replicates[:, a] if area != "total" else replicates.sum(axis=1)
        found = summary.loc[area] if area in summary.index else None
        rows.append({"period": int(period), "area": area,
                     "area_km2": float(found["area_km2"]) if found is not None else 0.0,
                     "error_km2": float(found["error_km2"]) if found is not None else 0.0,
                     "spread_km2": float(np.std(spread, ddof=1)),
                     "unmapped_km2": float(np.sum(unmapped & inside)) * pixel_km2,
                     "unmapped_ice_km2": float(np.sum(unmapped & inside & zone)) * pixel_km2,
                     "n_glaciers": int(found["n_glaciers"]) if found is not None else 0})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# The whole period
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class PeriodMap:
    """One mapped period: the scored acquisitions, the mosaic, its outlines and per-subarea areas."""

    #: Every acquisition with its metadata and pixel scores, ``chosen`` and the ``reason``.
    scores: pd.DataFrame
    #: The mosaic (`glacier_utils.mosaic.mosaic_frames`): mask, n_clear, frame, subarea.
    map: xr.Dataset
    #: Outlines per subarea (`outlines.OUTLINE_SCHEMA`), each with its reference glacier's id (None: not outlined).
    outlines: gpd.GeoDataFrame | None
    #: Per subarea (and total): area, buffer error, bootstrap spread, unmapped area (None: not outlined).
    areas: pd.DataFrame | None
    #: Where each chosen acquisition's probability codes were written.
    stores: dict[str, str]
    #: The bootstrap's (replicates, subareas) areas (km²), kept to measure a gap-filled map again.
    replicates: np.ndarray
    #: The acquisitions fused per frame (ids), which the outlines name.
    source_images: dict[str, list[str]]


def map_period(acquisitions: pd.DataFrame, loader: Loader, model, stats, *, period: int,
               reference: gpd.GeoDataFrame, folder: str | os.PathLike, subareas: Sequence[str],
               k: int = DEFAULT_K, extra: int = EXTRA_CANDIDATES, rule: str = "median",
               window_px: int = inference.DEFAULT_WINDOW_PX, overlap_px: int = inference.DEFAULT_OVERLAP_PX,
               min_area_km2: float = outlines.MIN_AREA_KM2, n_bootstrap: int = N_BOOTSTRAP,
               seed: int = 0, max_cloud: float = MAX_CLOUD_COVER, search_m: float | None = SEARCH_M,
               max_fill: int = MAX_FILL, periods: Sequence[tuple[int, int]] | None = None,
               cloud_confidence: str | None | object = CURRENT_SETTING,
               outline: bool = True, progress: bool = True) -> PeriodMap:
    """Map one period from its acquisitions (§III-D): choose, mask, predict (dask), fuse, mosaic, outline, areas.

    ``acquisitions``: the period's table (`acquisitions.ACQUISITION_COLUMNS`); ``loader``: a
    row -> scene callable; ``model``/``stats``: the network (or its ``.keras`` path) and its
    normalisation; ``reference``: the reference inventory (``glacier_id``, polygons) whose rings
    score snow, whose divides split the outlines and whose glaciers bound the unmapped ice;
    ``folder``: where the per-acquisition probability stores go; ``subareas``: the study's subarea
    keys in order (the mosaic's uint8 subarea index points into it); ``seed``: the bootstrap's;
    ``search_m``: mapped ice farther than this from every reference glacier is dropped (None: keep
    all); ``max_fill``: further acquisitions a frame may take, one per round, while clouds leave its
    glaciers unseen (`gap_fillers`); ``periods``: the study's periods, which ``period`` indexes
    (default the THR's), for the outlines' period labels; ``cloud_confidence``: the QA cloud
    confidence from which a pixel is masked (`acquisitions.clear_pixels`; default
    `acquisitions.CLOUD_CONFIDENCE`); ``outline=False`` stops before the outlines
    and areas (`glacier_utils.period_series` outlines the gap-filled map instead).
    """
    if "glacier_id" not in reference.columns or len(reference) == 0:
        raise DataError("reference inventory: needs rows and a glacier_id column (see glacier_utils.io.inventory)")
    cloud_confidence = cloud_confidence_in_force(cloud_confidence)
    table = prescreen(acquisitions, k, extra, max_cloud=max_cloud)
    candidates = table[table["candidate"]]
    found = pd.DataFrame(run_tasks(score_tasks(candidates, loader, reference, cloud_confidence=cloud_confidence),
                                   "scoring", progress),
                         columns=["id", "cloud_fraction", "snow_fraction", "zone_pixels"])
    scores = choose(table.merge(found, on="id", how="left"), k)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    predict = dict(loader=loader, model=model, stats=stats, folder=folder, window_px=window_px, overlap_px=overlap_px,
                   cloud_confidence=cloud_confidence)
    stores = _predict(scores[scores["chosen"]], progress=progress, **predict)

    def fused(wrs2: str) -> xr.Dataset:
        paths = [stores[i] for i in scores.loc[scores["chosen"] & (scores["wrs2"] == wrs2), "id"]]
        return fuse_frame(paths, rule, reference=reference, search_m=search_m).assign_attrs(area=frame_area[wrs2])

    frame_area = scores[scores["chosen"]].groupby("wrs2")["area"].first().to_dict()
    if not frame_area:
        raise DataError(f"period {period}: no acquisition of any frame could be used ("
                        f"{scores['reason'].str.split(':').str[0].value_counts().to_dict()}); list more acquisitions")
    frames = {wrs2: fused(wrs2) for wrs2 in sorted(frame_area)}
    for _ in range(max_fill):  # the paper filled cloud gaps with further images (§III-D)
        fillers = gap_fillers(scores, frames, reference)
        if fillers.empty:
            break
        scores.loc[fillers.index, "chosen"] = True
        scores.loc[fillers.index, "reason"] = fillers["reason"]
        stores.update(_predict(scores.loc[fillers.index], progress=progress, **predict))
        frames.update({wrs2: fused(wrs2) for wrs2 in fillers["wrs2"]})
    chosen = scores[scores["chosen"]]
    by_frame = {wrs2: [stores[i] for i in chosen.loc[chosen["wrs2"] == wrs2, "id"]] for wrs2 in frames}
    frames = list(frames.values())
    period_map = mosaic.mosaic_frames(frames, subareas)
    period_map.attrs["frames"] = list(by_frame)
    source_images = {w: list(chosen[chosen.wrs2 == w]["id"]) for w in by_frame}
    replicates = bootstrap_areas(period_map, list(by_frame.values()), rule=rule, n_bootstrap=n_bootstrap, seed=seed,
                                 reference=reference, search_m=search_m)
    layer = areas = None
    if outline:
        layer, areas = outline_period(period_map, period=period, reference=reference, subareas=subareas,
                                      replicates=replicates, source_images=source_images, min_area_km2=min_area_km2,
                                      periods=periods)
    return PeriodMap(scores, period_map, layer, areas, stores, replicates, source_images)


def outline_period(period_map: xr.Dataset, *, period: int, reference: gpd.GeoDataFrame, subareas: Sequence[str],
                   replicates: np.ndarray, source_images: Mapping[str, Sequence[str]],
                   min_area_km2: float = outlines.MIN_AREA_KM2, periods: Sequence[tuple[int, int]] | None = None
                   ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A period's mosaic to outlines split at the reference divides, and its per-subarea areas (`period_areas`)."""
    zones, ids = outlines.nearest_reference(reference, period_map, where=period_map["mask"].values == 1)
    layer = outlines.subarea_outlines(period_map, period, subareas, zones=zones, zone_ids=ids,
                                      source_images=dict(source_images), min_area_km2=min_area_km2, periods=periods)
    return layer, period_areas(layer, period_map, replicates, reference, period=period)


def _predict(rows: pd.DataFrame, *, loader, model, stats, folder, window_px, overlap_px, cloud_confidence,
             progress) -> dict[str, str]:
    """Predict the given acquisitions (one task each); {id: store path}."""
    written = run_tasks(prediction_tasks(rows, loader, model, stats, folder, window_px=window_px,
                                         overlap_px=overlap_px, cloud_confidence=cloud_confidence),
                        "predicting", progress)
    return {w["id"]: w["path"] for w in written}


__all__ = [
    "FUSION_RULES", "N_BOOTSTRAP", "PROBABILITY_SCALE", "MASKED_CODE", "FILL_CODE",
    "encode_probability", "decode_probability", "predict_acquisition", "score_tasks", "prediction_tasks", "run_tasks",
    "fuse", "fused_mask", "read_codes", "classify_frame", "frame_outline", "fuse_frame", "CLEAN_PX", "MIN_GAP_KM2", "MAX_FILL", "gap_fillers",
    "bootstrap_areas", "period_areas", "PeriodMap", "map_period", "outline_period",
]
