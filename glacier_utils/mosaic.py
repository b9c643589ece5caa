"""One period's frames mosaicked onto their common grid, each pixel from one frame (§III-D).

Each pixel takes its value from the frame whose centre is nearest among the frames that have a
value there: a glacier seen by overlapping frames is counted once, and a frame's distorted,
haze-prone edge loses to its neighbour's centre. The subarea that owns a pixel is a fact of
geography, not of the weather: it comes from the nearest frame centre among the frames that
*image* the pixel (their footprint), so a cloud never moves a pixel from one subarea to another.
Subareas are a ``uint8`` raster indexing the study's subarea keys (``attrs["subareas"]``; 255
none), never an array of strings, and the mosaic is built frame by frame in compact dtypes
(6 bytes per mosaic pixel), with each frame's window processed on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from scipy import ndimage

from glacier_utils import config
from glacier_utils.errors import DataError

#: Subarea index of a pixel no subarea owns (and frame index -1: no frame).
NO_SUBAREA = 255


def spanning_grid(frames: Sequence[xr.Dataset], pixel_size_m: float):
    """(x0, y0, height, width) of the grid spanning every frame (or period map; pixel centres, y decreasing)."""
    xs = [f["x"].values for f in frames]
    ys = [f["y"].values for f in frames]
    x0, x1 = min(x.min() for x in xs), max(x.max() for x in xs)
    y0, y1 = max(y.max() for y in ys), min(y.min() for y in ys)
    return x0, y0, int(round((y0 - y1) / pixel_size_m)) + 1, int(round((x1 - x0) / pixel_size_m)) + 1


def window_on_grid(frame: xr.Dataset, x0: float, y0: float, pixel_size_m: float) -> tuple[int, int, int, int]:
    """(row, col, height, width) of a frame (or period map) on the grid whose first pixel centre is (x0, y0)."""
    c0 = int(round((float(frame["x"].values[0]) - x0) / pixel_size_m))
    r0 = int(round((y0 - float(frame["y"].values[0])) / pixel_size_m))
    return r0, c0, frame.sizes["y"], frame.sizes["x"]


def _centre_distance(index: np.ndarray, windows: Sequence[tuple[int, int, int, int]], r0: int, c0: int) -> np.ndarray:
    """Squared distance (px²) of each pixel of a window at (r0, c0) to the centre of frame ``index`` (inf for -1)."""
    centres = np.array([(r + (h - 1) / 2, c + (w - 1) / 2) for r, c, h, w in windows] + [(np.nan, np.nan)])
    rows = np.arange(index.shape[0])[:, None] + r0
    cols = np.arange(index.shape[1])[None, :] + c0
    cy, cx = centres[index, 0], centres[index, 1]
    return np.where(index >= 0, (rows - cy) ** 2 + (cols - cx) ** 2, np.inf)


def mosaic_frames(frames: Sequence[xr.Dataset], subareas: Sequence[str],
                  pixel_size_m: float = config.PIXEL_SIZE_M, threshold: float = 0.5) -> xr.Dataset:
    """Mosaic the fused frames of one period: ``mask``, ``n_clear``, ``frame`` and ``subarea`` on one grid (§III-D).

    Each frame is a Dataset on a grid aligned to ``pixel_size_m`` with ``glacier`` (0/1; else
    ``probability`` >= ``threshold``), ``n_clear`` (clear views; 0 = unmapped), ``footprint`` (the
    frame images the pixel) and ``attrs["area"]`` (its subarea key, one of ``subareas``). ``mask``: 1 glacier, 0 not, 255
    unmapped or outside every frame; ``frame``: index of the frame that supplied the value (-1
    none); ``subarea``: index into ``subareas`` of the pixel's owner (255 none). ``attrs`` keep
    ``subareas``, ``pixel_size_m`` and each frame's ``frame_windows`` (row, col, height, width) on the grid.
    """
    if not frames:
        raise DataError("mosaic_frames needs at least one frame")
    subareas = list(subareas)
    unknown = sorted({str(f.attrs.get("area")) for f in frames} - set(subareas))
    if unknown:
        raise DataError(f"mosaic_frames: frame subarea(s) {unknown} are not among the study's {subareas}")
    crs = frames[0].rio.crs
    x0, y0, height, width = spanning_grid(frames, pixel_size_m)
    mask = np.full((height, width), config.LABEL_NODATA, np.uint8)
    count = np.zeros((height, width), np.uint8)
    supplier = np.full((height, width), -1, np.int16)
    owner = np.full((height, width), -1, np.int16)
    windows = [window_on_grid(f, x0, y0, pixel_size_m) for f in frames]
    for i, (frame, (r0, c0, h, w)) in enumerate(zip(frames, windows)):
        if frame.rio.crs != crs:
            raise DataError(f"frame {i} ({frame.attrs.get('wrs2', '?')}) has CRS {frame.rio.crs}, expected {crs}")
        sl = (slice(r0, r0 + h), slice(c0, c0 + w))
        mine = _centre_distance(np.full((h, w), i, np.int16), windows, r0, c0)
        seen = np.asarray(frame["n_clear"].values) > 0
        takes = seen & (mine < _centre_distance(supplier[sl], windows, r0, c0))
        values = (np.asarray(frame["glacier"].values, np.uint8) if "glacier" in frame else
                  (np.nan_to_num(np.asarray(frame["probability"].values), nan=0.0) >= threshold).astype(np.uint8))
        mask[sl] = np.where(takes, values, mask[sl])
        count[sl] = np.where(takes, np.asarray(frame["n_clear"].values), count[sl])
        supplier[sl] = np.where(takes, i, supplier[sl])
        owns = np.asarray(frame["footprint"].values, bool) & (mine < _centre_distance(owner[sl], windows, r0, c0))
        owner[sl] = np.where(owns, i, owner[sl])
    frame_subarea = np.array([subareas.index(str(f.attrs["area"])) for f in frames] + [NO_SUBAREA], np.uint8)
    coords = {"y": y0 - pixel_size_m * np.arange(height), "x": x0 + pixel_size_m * np.arange(width)}
    out = xr.Dataset({"mask": (("y", "x"), mask), "n_clear": (("y", "x"), count),
                      "frame": (("y", "x"), supplier), "subarea": (("y", "x"), frame_subarea[owner])},
                     coords=coords, attrs={"subareas": subareas, "frame_windows": windows, "pixel_size_m": pixel_size_m})
    out["mask"].attrs.update(nodata=config.LABEL_NODATA, flag_meanings="not_glacier glacier unmapped")
    out["subarea"].attrs.update(nodata=NO_SUBAREA, subareas=",".join(subareas))
    transform = Affine(pixel_size_m, 0.0, x0 - pixel_size_m / 2, 0.0, -pixel_size_m, y0 + pixel_size_m / 2)
    return out.rio.write_crs(crs).rio.write_transform(transform)


def mosaic_predictions(predictions: Sequence[xr.Dataset], pixel_size_m: float = config.PIXEL_SIZE_M,
                       subareas: Sequence[str] = config.AREAS) -> xr.Dataset:
    """Mosaic single-acquisition predictions of one period (``mask``, ``probability``, ``attrs["area"]``).

    The one-view case of :func:`mosaic_frames`: a pixel is seen where its mask is not
    ``config.LABEL_NODATA``. Returns ``mask``, ``n_clear``, ``frame`` (which input supplied the
    pixel; -1 none) and ``subarea`` (uint8 index into ``subareas``; 255 none).
    """
    frames = []
    for pred in predictions:
        seen = np.asarray(pred["mask"].values) != config.LABEL_NODATA
        probability = np.where(seen, np.asarray(pred["mask"].values, np.float32), np.nan)
        frames.append(xr.Dataset({"probability": (("y", "x"), probability), "n_clear": (("y", "x"), seen.astype(np.uint8)),
                                  "footprint": (("y", "x"), seen)}, coords={"y": pred["y"], "x": pred["x"]},
                                 attrs=dict(pred.attrs)).rio.write_crs(pred.rio.crs))
    return mosaic_frames(frames, subareas, pixel_size_m)


def subarea_names(period_map: xr.Dataset) -> np.ndarray:
    """The subarea key of each pixel as strings ('' none), for display only: compute with the uint8 index."""
    names = np.array(list(period_map.attrs["subareas"]) + [""] * (256 - len(period_map.attrs["subareas"])), dtype=object)
    return names[np.asarray(period_map["subarea"].values)]


def majority_of_seen(glacier: np.ndarray, seen: np.ndarray, size: int = 3) -> np.ndarray:
    """Each pixel takes the majority of the seen pixels in its ``size`` x ``size`` window (a tie keeps its own).

    A plain median filter would vote unseen (cloud-masked) neighbours as ice-free: it eats the
    ice along every cloud edge and turns the clear pixels scattered through a broken cloud into
    pinholes, which the gap filling then keeps as observed ice-free pixels (ragged outlines, a
    longer perimeter and so a wider 15 m buffer). Counting only seen pixels is the same 3 x 3
    majority where the sky is clear. Integer window sums keep ties exact.
    """
    ones = np.ones((size, size), np.int32)
    seen = np.asarray(seen, bool)
    ice = np.asarray(glacier, bool) & seen
    votes = ndimage.correlate(ice.astype(np.int32), ones, mode="nearest")
    voters = ndimage.correlate(seen.astype(np.int32), ones, mode="nearest")
    return np.where(2 * votes == voters, ice, 2 * votes > voters)


__all__ = ["NO_SUBAREA", "majority_of_seen", "spanning_grid", "window_on_grid", "mosaic_frames", "mosaic_predictions", "subarea_names"]
