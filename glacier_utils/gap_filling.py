"""Each period's cloud gaps filled from the same pixel's views in the other periods (issue 17).

A pixel that no clear acquisition of a period saw is unmapped (`glacier_utils.period_mapping`).
Across twelve periods it is usually seen in others, and glaciers in the THR retreat from one
period to the next (paper Table V): a pixel that is ice in a later period was ice before, and a
pixel free of ice in an earlier period stays free. `fill_from_other_periods` fills each gap by
that rule where the pixel's other views bracket it (``BRACKETED``), and otherwise (its views
disagree with the rule, or lie only on one side and could have changed since) from the view of
the nearest period (``NEAREST``). Pixels no period saw stay unmapped (``UNSEEN``).

What a ``NEAREST`` fill may get wrong is measured, not assumed: among the pixels seen in both
periods, with the same state in the source period, in the same subarea and of the same kind
(ever seen as ice or not), the share whose state differs (`AgreementCounts`). Summed over the
filled pixels it is the expected area filled wrongly, which enters the stated uncertainty in
place of the whole unmapped ice (`glacier_utils.timeseries.stated_uncertainty`).

The periods' maps are read and written in blocks of rows (`fill_period_stores`), so a region
larger than memory fills from its stores on disk. Why not a library: gap filling across dates
exists in raster time-series tools for reflectance (e.g. harmonic fits), not for binary glacier
masks under a monotone-retreat rule; the rule is a few array operations.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
import zarr

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.errors import DataError
from glacier_utils.mosaic import NO_SUBAREA, spanning_grid, window_on_grid

#: How a pixel's value was obtained: seen in its period, bracketed by monotone retreat, taken from
#: the nearest period's view, or seen in no period (still unmapped).
OBSERVED, BRACKETED, NEAREST, UNSEEN = 0, 1, 2, 3
#: Rows of the mosaic read and filled at a time.
BLOCK_ROWS = 256


def fill_from_other_periods(masks: np.ndarray, nodata: int = config.LABEL_NODATA
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fill each period's unmapped pixels from the other periods: (filled, how, source, doubt).

    ``masks``: (periods, ...) uint8, 1 glacier, 0 not, ``nodata`` unmapped, periods in time order.
    For an unmapped pixel of period p: ice if a later period saw ice and no earlier one saw it
    free; free if an earlier period saw it free and no later one saw ice (``BRACKETED``); else the
    view of the nearest period that saw it, the earlier on a tie (``NEAREST``); ``nodata`` if no
    period saw it (``UNSEEN``). ``source``: the period whose view filled a ``NEAREST`` pixel (-1
    elsewhere). Seen pixels keep their value (``OBSERVED``). ``doubt``: for a ``NEAREST`` pixel
    seen on both sides, the chance that its fill is wrong: the views differ, so it changed between
    them, at a time taken as uniform (distance to the nearer view / distance between the views;
    0.5 where the views contradict retreat); NaN for a pixel seen on one side only (measured
    instead, `AgreementCounts`); 0 elsewhere.
    """
    masks = np.asarray(masks)
    n = masks.shape[0]
    seen = masks != nodata
    ice, free = seen & (masks == 1), seen & (masks == 0)
    later_ice = np.zeros_like(ice)
    earlier_free = np.zeros_like(free)
    if n > 1:
        later_ice[:-1] = np.flip(np.logical_or.accumulate(np.flip(ice[1:], 0), axis=0), 0)
        earlier_free[1:] = np.logical_or.accumulate(free[:-1], axis=0)
    index = np.arange(n).reshape((n,) + (1,) * (masks.ndim - 1))
    big = np.int16(10 * n + 10)
    last_seen = np.maximum.accumulate(np.where(seen, index, -big).astype(np.int16), axis=0)
    next_seen = np.flip(np.minimum.accumulate(np.flip(np.where(seen, index, big).astype(np.int16), 0), axis=0), 0)
    before = np.full_like(last_seen, -big)
    after = np.full_like(next_seen, big)
    before[1:], after[:-1] = last_seen[:-1], next_seen[1:]
    nearest = np.where(index - before <= after - index, before, after)
    any_seen = seen.any(axis=0)[None]
    gap = ~seen
    bracketed_ice = gap & later_ice & ~earlier_free
    bracketed_free = gap & earlier_free & ~later_ice
    near = gap & ~bracketed_ice & ~bracketed_free & any_seen
    source = np.where(near, nearest, -1).astype(np.int16)
    taken = np.take_along_axis(masks, np.clip(source, 0, n - 1).astype(np.intp), axis=0)
    filled = masks.copy()
    filled[bracketed_ice] = 1
    filled[bracketed_free] = 0
    filled[near] = taken[near]
    how = np.full(masks.shape, OBSERVED, np.uint8)
    how[bracketed_ice | bracketed_free] = BRACKETED
    how[near] = NEAREST
    how[gap & ~any_seen] = UNSEEN
    two_sided = near & (before >= 0) & (after < n)
    span = np.maximum(after - before, 1).astype(np.float32)
    share = np.minimum(index - before, after - index).astype(np.float32) / span
    contradicts = earlier_free & later_ice
    doubt = np.where(near, np.nan, 0.0).astype(np.float32)
    doubt[two_sided] = np.where(contradicts, 0.5, share)[two_sided]
    return filled, how, source, doubt


@dataclasses.dataclass
class AgreementCounts:
    """Counts behind the expected error of ``NEAREST`` fills, additive over blocks of the mosaic.

    ``pairs[p, q, s, e, a]``: pixels of subarea a seen in periods p and q, with state s in q and
    seen as ice in some period other than p (e = 1) or not (e = 0); ``agree[...]``: those with the same state in p;
    ``filled[...]``: the ``NEAREST`` pixels of period p filled from period q's state s.
    """

    pairs: np.ndarray
    agree: np.ndarray
    filled: np.ndarray
    #: (periods, subareas): summed ``doubt`` of the ``NEAREST`` pixels seen on both sides.
    two_sided: np.ndarray

    @classmethod
    def zeros(cls, n_periods: int, n_subareas: int) -> "AgreementCounts":
        """Empty counts for ``n_periods`` periods and ``n_subareas`` subareas."""
        shape = (n_periods, n_periods, 2, 2, n_subareas)
        return cls(np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64),
                   np.zeros((n_periods, n_subareas)))

    def add(self, masks: np.ndarray, how: np.ndarray, source: np.ndarray, doubt: np.ndarray, owner: np.ndarray,
            nodata: int = config.LABEL_NODATA) -> None:
        """Add one block: its masks before filling, `fill_from_other_periods`'s how, source and doubt.

        ``owner``: each period's subarea index per pixel, (periods, ...) like ``masks``: a period's
        pixels are counted in the subarea its own mosaic gives them.
        """
        n, n_sub = self.pairs.shape[0], self.pairs.shape[-1]
        seen = masks != nodata
        ice_views = (seen & (masks == 1)).sum(axis=0)
        for p in range(n):
            subarea = owner[p]
            owned = subarea < n_sub
            near = (how[p] == NEAREST) & owned
            if not near.any():
                continue
            # seen as ice in another period than p: what a pixel unseen in p can be grouped by
            ever = ice_views - (seen[p] & (masks[p] == 1)) > 0
            both_sides = near & np.isfinite(doubt[p])
            self.two_sided[p] += np.bincount(subarea[both_sides].astype(np.intp), weights=doubt[p][both_sides],
                                             minlength=n_sub)[:n_sub]
            one_side = near & ~np.isfinite(doubt[p])  # measured from the pixels seen in both periods
            if not one_side.any():
                continue
            src = np.clip(source[p], 0, n - 1).astype(np.intp)
            state_there = np.take_along_axis(masks, src[None], axis=0)[0]
            self.filled[p] += self._groups(src[one_side], state_there[one_side], ever[one_side], subarea[one_side],
                                           n, n_sub)
            # every pixel seen in p, against its view in each other period (one gather, one count)
            here = seen[p] & owned
            views = masks[:, here]
            q_index = np.broadcast_to(np.arange(n)[:, None], views.shape)
            in_q = views != nodata
            ever_here, sub_here = np.broadcast_to(ever[here], views.shape), np.broadcast_to(subarea[here], views.shape)
            same = in_q & (views == masks[p][here][None])
            self.pairs[p] += self._groups(q_index[in_q], views[in_q], ever_here[in_q], sub_here[in_q], n, n_sub)
            self.agree[p] += self._groups(q_index[same], views[same], ever_here[same], sub_here[same], n, n_sub)

    @staticmethod
    def _groups(q, state, ever, subarea, n: int, n_sub: int) -> np.ndarray:
        """(n, 2, 2, n_sub) counts of pixels by source period, state, seen-as-ice-elsewhere and subarea."""
        flat = ((np.asarray(q, np.intp) * 2 + np.asarray(state, np.intp)) * 2 + np.asarray(ever, np.intp)) * n_sub \
            + np.asarray(subarea, np.intp)
        return np.bincount(flat, minlength=n * 4 * n_sub).reshape(n, 2, 2, n_sub)

    def expected_wrong(self) -> np.ndarray:
        """(periods, subareas) expected number of ``NEAREST`` pixels filled with the wrong state.

        Seen on both sides: their summed ``doubt``. Seen on one side: each group's disagreement
        share among the pixels seen in both periods, times its filled pixels; a group with no such
        pixels counts its filled pixels in full (nothing measured).
        """
        wrong = np.where(self.pairs > 0, 1.0 - self.agree / np.maximum(self.pairs, 1), 1.0)
        return (wrong * self.filled).sum(axis=(1, 2, 3)) + self.two_sided


def fill_masks(masks: np.ndarray, owner: np.ndarray, n_subareas: int, counts: AgreementCounts | None = None
               ) -> tuple[np.ndarray, np.ndarray, AgreementCounts]:
    """Fill a stack of period masks on one grid, in memory: (filled, how, counts).

    ``owner``: the subarea index per pixel, one raster for every period or one per period
    (periods, ...); pixels no subarea owns are left as they are. The error counts are added to
    ``counts`` (new ones by default), which sum over the blocks of a mosaic (`fill_period_stores`).
    """
    masks = np.asarray(masks)
    owner = np.broadcast_to(np.asarray(owner), masks.shape)
    filled, how, source, doubt = fill_from_other_periods(masks)
    owned = owner < n_subareas
    filled = np.where(owned, filled, masks)
    how = np.where(owned, how, OBSERVED).astype(np.uint8)
    counts = AgreementCounts.zeros(masks.shape[0], n_subareas) if counts is None else counts
    counts.add(masks, how, source, doubt, owner)
    return filled, how, counts


# ----------------------------------------------------------------------------------------------
# The periods' maps on disk
# ----------------------------------------------------------------------------------------------
def write_period_store(period_map: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a period's mosaic (mask, n_clear, frame, subarea, CRS, transform and attrs) to a zarr store, atomically."""
    path = Path(path)
    data = period_map[["mask", "n_clear", "frame", "subarea"]]
    data.attrs = {"subareas": list(period_map.attrs["subareas"]), "pixel_size_m": float(period_map.attrs["pixel_size_m"]),
                  "frame_windows": [list(map(int, w)) for w in period_map.attrs["frame_windows"]],
                  "frames": list(period_map.attrs.get("frames", []))}
    with atomic_path(path) as tmp:
        data.to_zarr(tmp, mode="w", consolidated=False)
    return path


def read_period_store(path: str | os.PathLike, mask: str = "mask") -> xr.Dataset:
    """A period's mosaic from its store, in memory, with ``mask`` taken from the named variable."""
    data = xr.open_zarr(path, consolidated=False, decode_coords="all").load()
    if mask != "mask":
        data["mask"] = data[mask].assign_attrs(data["mask"].attrs)
    out = data[["mask", "n_clear", "frame", "subarea"] + [v for v in ("how",) if v in data]]
    out.attrs = {**data.attrs, "frame_windows": [tuple(w) for w in data.attrs["frame_windows"]]}
    return out


def _offsets_on_one_grid(stores: Sequence[xr.Dataset], px: float) -> tuple[int, int, list[tuple[int, int]]]:
    """(height, width, each store's (row, col) offset) of the grid spanning every period's mosaic."""
    x0, y0, height, width = spanning_grid(stores, px)
    offsets = []
    for s in stores:
        r, c = (y0 - float(s["y"].values[0])) / px, (float(s["x"].values[0]) - x0) / px
        if abs(r - round(r)) > 1e-3 or abs(c - round(c)) > 1e-3:
            raise DataError("period maps are not on one pixel grid (their origins differ by a fraction of a pixel); "
                            "map every period on the study's grid")
        offsets.append(window_on_grid(s, x0, y0, px)[:2])
    return height, width, offsets


def fill_period_stores(paths: Sequence[str | os.PathLike], *, block_rows: int = BLOCK_ROWS) -> pd.DataFrame:
    """Fill every period's gaps from the others (`fill_from_other_periods`), block by block, in the stores.

    ``paths``: the periods' stores (`write_period_store`), in time order, on one pixel grid (their
    extents may differ). Each store gains ``mask_filled`` (uint8) and ``how`` (``OBSERVED`` ...
    ``UNSEEN``). Returns per period and subarea: filled_km2 (pixels filled, all ways),
    bracketed_km2, nearest_km2, unseen_km2 and gap_error_km2 (the expected area filled wrongly).
    """
    stores = [xr.open_zarr(p, consolidated=False) for p in paths]
    if not stores:
        raise DataError("fill_period_stores needs at least one period's store")
    subareas = list(stores[0].attrs["subareas"])
    px = float(stores[0].attrs["pixel_size_m"])
    n, n_sub = len(stores), len(subareas)
    height, width, offsets = _offsets_on_one_grid(stores, px)
    groups = [zarr.open_group(str(p), mode="r+") for p in paths]
    outs = []
    for group, store in zip(groups, stores):
        shape = (store.sizes["y"], store.sizes["x"])
        chunks = (min(block_rows, shape[0]), shape[1])
        outs.append({name: group.create_array(name, shape=shape, dtype="uint8", chunks=chunks, overwrite=True,
                                              dimension_names=("y", "x"))
                     for name in ("mask_filled", "how")})
    counts = AgreementCounts.zeros(n, n_sub)
    tallies = np.zeros((n, 4, n_sub), np.int64)
    for r0 in range(0, height, block_rows):
        r1 = min(r0 + block_rows, height)
        masks = np.full((n, r1 - r0, width), config.LABEL_NODATA, np.uint8)
        owner = np.full((n, r1 - r0, width), NO_SUBAREA, np.uint8)
        for i, (store, (dr, dc)) in enumerate(zip(stores, offsets)):
            a, b = max(r0, dr), min(r1, dr + store.sizes["y"])
            if a >= b:
                continue
            rows = slice(a - dr, b - dr)
            cols = slice(dc, dc + store.sizes["x"])
            masks[i, a - r0:b - r0, cols] = store["mask"][rows].values
            owner[i, a - r0:b - r0, cols] = store["subarea"][rows].values
        filled, how, _ = fill_masks(masks, owner, n_sub, counts)
        owned = owner < n_sub
        for i in range(n):
            flat = how[i].astype(np.intp) * n_sub + np.where(owned[i], owner[i], 0)
            tallies[i] += np.bincount(flat[owned[i]], minlength=4 * n_sub).reshape(4, n_sub)
        for i, (store, (dr, dc)) in enumerate(zip(stores, offsets)):
            a, b = max(r0, dr), min(r1, dr + store.sizes["y"])
            if a >= b:
                continue
            cols = slice(dc, dc + store.sizes["x"])
            outs[i]["mask_filled"][a - dr:b - dr] = filled[i, a - r0:b - r0, cols]
            outs[i]["how"][a - dr:b - dr] = how[i, a - r0:b - r0, cols]
    pixel_km2 = px * px / 1e6
    wrong = counts.expected_wrong()
    rows = []
    for p in range(n):
        for a, area in enumerate([*subareas, "total"]):
            pick = (lambda v: v[a]) if area != "total" else (lambda v: v.sum())
            rows.append({"period": p, "area": area,
                         "bracketed_km2": float(pick(tallies[p, BRACKETED])) * pixel_km2,
                         "nearest_km2": float(pick(tallies[p, NEAREST])) * pixel_km2,
                         "unseen_km2": float(pick(tallies[p, UNSEEN])) * pixel_km2,
                         "gap_error_km2": float(pick(wrong[p])) * pixel_km2})
    table = pd.DataFrame(rows)
    table["filled_km2"] = table["bracketed_km2"] + table["nearest_km2"]
    return table


__all__ = ["OBSERVED", "BRACKETED", "NEAREST", "UNSEEN", "BLOCK_ROWS", "fill_from_other_periods", "AgreementCounts",
           "fill_masks", "write_period_store", "read_period_store", "fill_period_stores"]
