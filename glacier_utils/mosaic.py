"""One period's per-scene predictions mosaicked onto their common grid, each pixel from one scene (§III-D)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from glacier_utils import config


def mosaic_predictions(predictions: Sequence[xr.Dataset], pixel_size_m: float = config.PIXEL_SIZE_M) -> xr.Dataset:
    """Mosaic per-scene predictions of one period onto their common grid, one scene per pixel.

    Each pixel takes the valid prediction (mask != ``config.LABEL_NODATA``) of the scene whose centre
    is nearest: a glacier seen by overlapping frames is counted once, and a frame's distorted,
    haze-prone edge loses to its neighbour's centre. The result holds ``mask``, ``probability`` and ``scene_index`` (which input
    supplied the pixel; -1 none) and ``area`` (the chosen scene's ``attrs["area"]``, "" none) on a
    grid spanning all inputs; the inputs must share the CRS and a grid aligned to ``pixel_size_m``.
    """
    if not predictions:
        raise ValueError("mosaic_predictions needs at least one prediction")
    crs = predictions[0].rio.crs
    xs = [p["x"].values for p in predictions]
    ys = [p["y"].values for p in predictions]
    x0, x1 = min(x.min() for x in xs), max(x.max() for x in xs)
    y0, y1 = max(y.max() for y in ys), min(y.min() for y in ys)  # y decreases downwards
    width = int(round((x1 - x0) / pixel_size_m)) + 1
    height = int(round((y0 - y1) / pixel_size_m)) + 1
    mask = np.full((height, width), config.LABEL_NODATA, np.uint8)
    probability = np.full((height, width), np.nan, np.float32)
    scene_index = np.full((height, width), -1, np.int16)
    best = np.full((height, width), np.inf, np.float32)
    for i, (pred, x, y) in enumerate(zip(predictions, xs, ys)):
        if pred.rio.crs != crs:
            raise ValueError(f"prediction {i} ({pred.attrs.get('wrs2', '?')}) has CRS {pred.rio.crs}, expected {crs}")
        c0 = int(round((x[0] - x0) / pixel_size_m))
        r0 = int(round((y0 - y[0]) / pixel_size_m))
        sl = (slice(r0, r0 + len(y)), slice(c0, c0 + len(x)))
        rr = (np.arange(len(y), dtype=np.float32) - (len(y) - 1) / 2) ** 2
        cc = (np.arange(len(x), dtype=np.float32) - (len(x) - 1) / 2) ** 2
        m = np.asarray(pred["mask"].values)
        distance = np.where(m != config.LABEL_NODATA, rr[:, None] + cc[None, :], np.inf)
        closer = distance < best[sl]
        best[sl] = np.where(closer, distance, best[sl])
        mask[sl] = np.where(closer, m, mask[sl])
        probability[sl] = np.where(closer, np.asarray(pred["probability"].values), probability[sl])
        scene_index[sl] = np.where(closer, i, scene_index[sl])
    areas = np.array([str(p.attrs.get("area", "")) for p in predictions] + [""], dtype=object)
    coords = {"y": y0 - pixel_size_m * np.arange(height), "x": x0 + pixel_size_m * np.arange(width)}
    out = xr.Dataset({
        "mask": (("y", "x"), mask), "probability": (("y", "x"), probability),
        "scene_index": (("y", "x"), scene_index), "area": (("y", "x"), areas[scene_index]),
    }, coords=coords)
    out["mask"].attrs["nodata"] = config.LABEL_NODATA
    return out.rio.write_crs(crs).rio.write_transform(out.rio.transform(recalc=True))


__all__: Sequence[str] = ("mosaic_predictions",)
