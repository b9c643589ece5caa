"""Every period of a study mapped, its cloud gaps filled from the other periods, outlined and measured (§III-D).

`map_periods` maps each period with `glacier_utils.period_mapping.map_period` (choose, mask, predict,
fuse, mosaic) and writes its mosaic to a store, so one period at a time is in memory; then
`glacier_utils.gap_filling` fills what clouds hid in every acquisition of a period from the same
pixel's views in the other periods, block by block; then every period is outlined and measured
again from its filled mask (`period_mapping.outline_period`), keeping its bootstrap spread, and its
mask is written as a COG. Notebook 05 calls it for any study.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from glacier_utils import cog, gap_filling, outlines, period_mapping
from glacier_utils.acquisitions import Loader


@dataclasses.dataclass
class TimeSeriesMap:
    """Every period mapped (`map_periods`): scores, areas, outlines, the gap fill, the first and last mosaics."""

    #: Every listed acquisition of every period (column ``period``), chosen or not and why.
    scores: pd.DataFrame
    #: Per period and subarea (and total): `period_mapping.period_areas` of the gap-filled map, with the gap columns.
    areas: pd.DataFrame
    #: Outlines per period (`outlines.OUTLINE_SCHEMA`).
    outlines: dict[int, gpd.GeoDataFrame]
    #: Per period and subarea: the area filled from other periods, how, and its expected error.
    gaps: pd.DataFrame
    #: The gap-filled mosaics of the periods named in ``keep_maps`` (with ``how``).
    maps: dict[int, xr.Dataset]
    #: Seconds spent mapping (choose to mosaic), filling the gaps, and outlining and measuring.
    seconds: dict[str, float]


def map_periods(listings: Mapping[int, pd.DataFrame], loader: Loader, model, stats, *, paths, periods,
                reference: gpd.GeoDataFrame, subareas: Sequence[str], fill_gaps: bool = True,
                keep_maps: Sequence[int] = (), bootstrap_seed: int = 0, progress: bool = True,
                min_area_km2: float = outlines.MIN_AREA_KM2, **options) -> TimeSeriesMap:
    """Map every period (`period_mapping.map_period`), fill each period's cloud gaps from the others, outline and measure.

    ``listings``: each period's acquisitions, keyed by index into ``periods`` (the study's
    ``(first, last)`` years); ``paths``: a `glacier_utils.runs.RunPaths` (where the acquisition
    stores, the periods' mosaics and their mask COGs go). Each period is mapped and its mosaic
    written to a store (`gap_filling.write_period_store`), so only one period is in memory at a
    time; then `gap_filling.fill_period_stores` fills the gaps block by block (``fill_gaps``), and
    every period is outlined and measured again from its filled mask, its bootstrap spread kept.
    ``options`` go to `period_mapping.map_period` (k, extra, rule, window_px, overlap_px, n_bootstrap, ...);
    period p's bootstrap is seeded ``bootstrap_seed + p``.
    """
    order = sorted(listings)
    kept, scores, started = {}, [], time.perf_counter()
    for period in tqdm(order, desc="periods", disable=not progress):
        result = period_mapping.map_period(
            listings[period], loader, model, stats, period=period, reference=reference,
            folder=paths.acquisition_stores(periods[period]), subareas=subareas, seed=bootstrap_seed + period,
            periods=periods, min_area_km2=min_area_km2, outline=False, progress=False, **options)
        gap_filling.write_period_store(result.map, paths.period_store(periods[period]))
        kept[period] = (result.replicates, result.source_images)
        scores.append(result.scores.assign(period=period))
    mapped_s = time.perf_counter() - started
    stores = [paths.period_store(periods[p]) for p in order]
    if fill_gaps:
        gaps = gap_filling.fill_period_stores(stores)
        gaps["period"] = [order[i] for i in gaps["period"]]
    else:
        gaps = pd.DataFrame([{"period": p, "area": area} for p in order for area in [*subareas, "total"]]).assign(
            bracketed_km2=0.0, nearest_km2=0.0, unseen_km2=np.nan, gap_error_km2=0.0, filled_km2=0.0)
    filled_s = time.perf_counter() - started - mapped_s
    layers, areas, maps = {}, [], {}
    for period, store in zip(order, stores):
        period_map = gap_filling.read_period_store(store, mask="mask_filled" if fill_gaps else "mask")
        replicates, source_images = kept[period]
        layer, table = period_mapping.outline_period(
            period_map, period=period, reference=reference, subareas=subareas, replicates=replicates,
            source_images=source_images, min_area_km2=min_area_km2, periods=periods)
        cog.write_cog(period_map["mask"], paths.period_mask(periods[period]))
        layers[period] = layer
        areas.append(table.merge(gaps[gaps.period == period].drop(columns="period"), on="area", how="left"))
        if period in keep_maps:
            maps[period] = period_map
    outlined_s = time.perf_counter() - started - mapped_s - filled_s
    seconds = {"mapping": mapped_s, "gap_filling": filled_s, "outlining": outlined_s}
    return TimeSeriesMap(pd.concat(scores, ignore_index=True), pd.concat(areas, ignore_index=True), layers, gaps,
                         maps, seconds)


__all__ = ["TimeSeriesMap", "map_periods"]
