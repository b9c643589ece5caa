"""Where the study's scenes come from: the synthetic region, Landsat folders on disk, or a STAC catalogue.

Notebook 01's ``source`` parameter picks one of these. Every path returns scenes in the shared
contract (``dn`` + ``label`` on the study grid with WRS-2, area, date and sensor attributes), so the
tiling and everything after it never needs to know where the pixels came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import xarray as xr
from tqdm.auto import tqdm

from glacier_utils import config, synthetic
from glacier_utils.errors import DataError
from glacier_utils.io import inventory, landsat, stac

SOURCES: tuple[str, ...] = ("synthetic", "local", "stac")


def synthetic_training_scenes(profile: str | config.Profile = "quick", seed: int | None = None) -> list[xr.Dataset]:
    """The synthetic region's Table I acquisitions (the images the paper trained on)."""
    region = synthetic.generate_region(profile, seed=seed)  # seed None: the profile's data seed
    return [synthetic.simulate_scene(region, wrs2, date)
            for wrs2, date in tqdm(synthetic.training_acquisitions(region), desc="simulating scenes", leave=False)]


def _with_area(scene: xr.Dataset, areas: Mapping[str, str] | None, origin: str) -> xr.Dataset:
    """Set the scene's area group from ``areas`` (WRS-2 -> area) or the paper's grouping; error if neither knows it."""
    wrs2 = str(scene.attrs.get("wrs2", ""))
    if areas and wrs2 in areas:
        scene.attrs["area"] = areas[wrs2]
    if scene.attrs.get("area") not in config.AREAS:
        raise DataError(
            f"{origin}: WRS-2 {wrs2 or '(unknown)'} is not one of the paper's 13 tiles, so its area group "
            f"(training / testing_1..3) is unknown; pass areas={{'{wrs2 or 'PPPRRR'}': 'training', ...}}"
        )
    return scene


def read_glaciers(inventory_path: str | os.PathLike):
    """Read and validate a glacier inventory once, for labelling every scene of a source."""
    glaciers, _ = inventory.validate_inventory(inventory.read_inventory(inventory_path))
    return glaciers


def label_with_inventory(scene: xr.Dataset, glaciers, *, all_touched: bool = False) -> xr.Dataset:
    """Put ``scene`` on the study grid and rasterise the glacier outlines (a GeoDataFrame) onto it as ``label``."""
    if scene["dn"].rio.crs is None or scene["dn"].rio.crs.to_string() != config.STUDY_CRS:
        scene = landsat.reproject_scene(scene, config.STUDY_CRS)
    return inventory.label_scene(scene, glaciers, all_touched=all_touched)  # rasterising reprojects the outlines


def local_scenes(scene_paths: Iterable[str | os.PathLike], inventory_path: str | os.PathLike, *,
                 areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """Landsat Level-1 folders (``*_B<n>.TIF`` + MTL) on disk, labelled with a glacier inventory file."""
    paths = [Path(p) for p in scene_paths]
    if not paths:
        raise ValueError("source='local' needs scene_paths: one Landsat Level-1 folder per acquisition")
    if not inventory_path or not Path(inventory_path).exists():
        raise DataError(f"source='local' needs an existing glacier inventory file, got {inventory_path!r}")
    glaciers = read_glaciers(inventory_path)
    scenes = []
    for path in tqdm(paths, desc="reading scenes", leave=False):
        scene = landsat.read_scene(path, require_mtl=True, chunks=None)
        scenes.append(_with_area(label_with_inventory(scene, glaciers), areas, str(path)))
    return scenes


def stac_scenes(catalog: str, wrs2_ids: Sequence[str], inventory_path: str | os.PathLike, *,
                start: str = "2006-01-01", end: str = "2010-12-31", max_cloud: float = 30.0,
                areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """The least-cloudy acquisition per WRS-2 tile in a date window from a STAC catalogue (URL or local file)."""
    source = stac.open_catalog(catalog)
    glaciers = read_glaciers(inventory_path)
    scenes = []
    for wrs2 in tqdm(list(wrs2_ids), desc="searching STAC", leave=False):
        path, row = int(str(wrs2)[:3]), int(str(wrs2)[3:])
        items = stac.search(source, path, row, start, end, max_cloud=max_cloud)
        if not items:
            raise DataError(f"{catalog}: no item for WRS-2 {wrs2} between {start} and {end} under {max_cloud}% cloud")
        best = min(items, key=lambda item: item.properties.get("eo:cloud_cover", float("inf")))
        scene = stac.load_item(best, chunks=None)
        scenes.append(_with_area(label_with_inventory(scene, glaciers), areas, f"{catalog} item {best.id}"))
    return scenes


def training_scenes(source: str = "synthetic", profile: str | config.Profile = "quick", seed: int | None = None,
                    *, scene_paths: Sequence[str] = (), inventory_path: str | None = None,
                    stac_catalog: str | None = None, wrs2_ids: Sequence[str] = config.WRS2_IDS,
                    areas: Mapping[str, str] | None = None) -> list[xr.Dataset]:
    """The labelled training/testing scenes of notebook 01 from the chosen ``source``."""
    if source == "synthetic":
        return synthetic_training_scenes(profile, seed)
    if source == "local":
        return local_scenes(scene_paths, inventory_path, areas=areas)
    if source == "stac":
        if not stac_catalog:
            raise ValueError("source='stac' needs stac_catalog: a STAC API URL or a local catalog.json")
        return stac_scenes(stac_catalog, wrs2_ids, inventory_path, areas=areas)
    raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
