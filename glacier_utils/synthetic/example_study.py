"""A second study, outside the THR, written to disk the way a user would hold it (issue 15, item 5).

`write_example_study` simulates a few frames of the synthetic region, moves them to an Alpine-like
place in WGS 84 / UTM zone 32N (EPSG:32632) and writes, into one folder:

* ``images/``: every acquisition, either as a Collection 2 Level-1 folder (band files, MTL and
  QA_PIXEL, `glacier_utils.synthetic.write_level1`; ``kind="level1"``) or as one 4-band uint8
  GeoTIFF (TM-equivalent blue, green, red, NIR DN, no MTL, Landsat 7 ETM+-like with SLC-off fill
  stripes on the periods' images after May 2003; ``kind="geotiff"``);
* ``subareas.gpkg``: three subarea polygons ("west", "central", "east"; column ``name``);
* ``rgi7_outlines.gpkg``: an RGI 7-like glacier inventory (``rgi_id``, ``glims_id``, ``src_date``,
  ``area_km2``, … in EPSG:4326): the true ice of `INVENTORY_PERIOD`, one outline per ice body;
* ``alps-<kind>.toml``: the study file (`glacier_utils.study.load_study` reads it), four periods.

Pixel values are the simulator's; only the georeference moves: every frame keeps its place relative
to the others, shifted by one constant offset so that the simulator's mosaic origin lands on
`ALPS_ORIGIN_XY`, and the WRS-2 ids are relabelled to Alpine-like path/rows (`ALPS_WRS2`). The
light is still that of the simulated region (its sun angles, about 35° N), which the MTL keeps.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
import xarray as xr
from affine import Affine
from scipy import ndimage
from shapely.geometry import shape

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.io import radiometry
from glacier_utils.synthetic.archive import period_acquisitions, select_acquisitions
from glacier_utils.synthetic.level1 import product_id, write_level1
from glacier_utils.synthetic.region import (
    FRAME_TILT_DEG,
    MOSAIC_ORIGIN_XY,
    SyntheticRegion,
    generate_region,
    training_acquisitions,
)
from glacier_utils.synthetic.scene import simulate_scene

#: The two ways a user holds images: Level-1 folders with MTL, or plain GeoTIFFs.
EXAMPLE_KINDS: tuple[str, ...] = ("level1", "geotiff")
#: The study's grid: WGS 84 / UTM zone 32N (the western and central Alps).
EXAMPLE_CRS = "EPSG:32632"
#: Where the simulator's mosaic origin (its upper-left corner) lands, UTM 32N metres (multiples of
#: 30 m, so pixel edges stay on the 30 m lattice): about 46.3° N, 8.0° E, the Valais Alps.
ALPS_ORIGIN_XY: tuple[float, float] = (420_000.0, 5_130_000.0)
#: The simulator's frames of each subarea, west to east (a strip of rows 036-037 of its Fig. 1 layout).
EXAMPLE_SUBAREAS: dict[str, tuple[str, ...]] = {
    "west": ("139036", "138037"), "central": ("137036", "137037"), "east": ("136037", "135037"),
}
#: The subarea Scene 2 trains on (the most glacierised, as the paper's training area).
EXAMPLE_TRAINING = "west"
#: Human labels of the subareas (``[subareas] labels`` of the study file).
EXAMPLE_LABELS: dict[str, str] = {"west": "West", "central": "Central", "east": "East"}
#: The four periods of the study (a subset of the paper's 12; OLI from 2013).
EXAMPLE_PERIODS: tuple[tuple[int, int], ...] = ((1986, 1988), (1998, 2000), (2010, 2012), (2019, 2021))
#: Alpine-like WRS-2 ids of the example's frames (labels only: path + 56, row - 8).
ALPS_WRS2: dict[str, str] = {w: f"{int(w[:3]) + 56:03d}{int(w[3:]) - 8:03d}"
                             for ws in EXAMPLE_SUBAREAS.values() for w in ws}
#: The period whose true ice the inventory outlines: that of the training images (2006-2010), as
#: the paper's SCGI was drawn from its training images (§II-A).
INVENTORY_PERIOD: tuple[int, int] = (2007, 2009)
#: The RGI's smallest glacier (km²); smaller ice bodies are left out of the inventory.
MIN_GLACIER_KM2 = 0.01
#: Landsat 7's scan-line corrector failed on 31 May 2003; later ETM+ images have fill stripes.
SLC_OFF_DATE = "2003-05-31"
#: SLC-off-like stripes: one every ``period`` lines along track, widening from 0 on the frame's
#: centre line to ``max_gap`` lines at its edges (about 12 % of a frame is fill).
SLC_OFF_PERIOD_PX, SLC_OFF_MAX_GAP_PX = 12, 3
#: The GeoTIFFs' bands: TM-equivalent blue, green, red, near infrared (TM 1-4, ETM+ 1-4).
GEOTIFF_BANDS: tuple[int, ...] = (1, 2, 3, 4)


# --------------------------------------------------------------------------------------------
# Relocation
# --------------------------------------------------------------------------------------------
def alps_offset() -> tuple[float, float]:
    """(dx, dy) in metres that moves the simulator's mosaic to `ALPS_ORIGIN_XY`."""
    return ALPS_ORIGIN_XY[0] - MOSAIC_ORIGIN_XY[0], ALPS_ORIGIN_XY[1] - MOSAIC_ORIGIN_XY[1]


def relocate_scene(scene: xr.Dataset, subarea: str | None = None) -> xr.Dataset:
    """A simulated scene moved to the Alps: same pixels, shifted coordinates, EPSG:32632, Alpine WRS-2 id."""
    dx, dy = alps_offset()
    t = scene.rio.transform()
    out = scene.assign_coords(x=scene["x"].values + dx, y=scene["y"].values + dy)
    out = out.rio.write_crs(EXAMPLE_CRS).rio.write_transform(Affine(t.a, t.b, t.c + dx, t.d, t.e, t.f + dy))
    wrs2 = str(scene.attrs["wrs2"])
    out.attrs.update(wrs2=ALPS_WRS2.get(wrs2, wrs2), simulated_wrs2=wrs2, source="synthetic (relocated to the Alps)")
    if subarea is not None:
        out.attrs["area"] = subarea
    return out


@functools.lru_cache(maxsize=1)
def _region(profile: str, seed: int | None) -> SyntheticRegion:
    """The simulated region (kept for the next call: the two kinds of one profile share it)."""
    return generate_region(profile, seed)


def _subarea_of(wrs2: str) -> str:
    return next(name for name, frames in EXAMPLE_SUBAREAS.items() if wrs2 in frames)


def example_acquisitions(region: SyntheticRegion) -> dict[str, list[tuple[str, str, str, float | None]]]:
    """(simulator WRS-2, ISO date, sensor, cloud cover) per study key: "training", then each period's label.

    Training: the paper's Table I acquisitions of the example's frames; each period: one acquisition
    per frame, picked from the archive listing as an analyst would (`select_acquisitions`).
    """
    frames = [w for ws in EXAMPLE_SUBAREAS.values() for w in ws]
    out: dict[str, list] = {"training": [(w, d, config.sensor_for_year(int(d[:4])), None)
                                         for w, d in training_acquisitions(region) if w in frames]}
    for first, last in EXAMPLE_PERIODS:
        archive = period_acquisitions(region, config.PERIODS.index((first, last)))
        chosen = select_acquisitions(archive[archive["wrs2"].isin(frames)])
        out[f"{first}-{last}"] = [(r.wrs2, r.date.date().isoformat(), r.sensor, float(r.cloud_cover))
                                  for r in chosen.itertuples()]
    return out


# --------------------------------------------------------------------------------------------
# Vector files: subareas and the RGI 7-like inventory
# --------------------------------------------------------------------------------------------
def _frame_box(region: SyntheticRegion, wrs2: str) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a frame in the Alps (UTM 32N metres)."""
    (dx, dy), px, s = alps_offset(), config.PIXEL_SIZE_M, region.scene_px
    r0, c0 = region.scene_origins[wrs2]
    left, top = MOSAIC_ORIGIN_XY[0] + dx + c0 * px, MOSAIC_ORIGIN_XY[1] + dy - r0 * px
    return left, top - s * px, left + s * px, top


def example_subareas(region: SyntheticRegion) -> gpd.GeoDataFrame:
    """The subareas as polygons (EPSG:32632): west-to-east strips split halfway between their frames' centres."""
    boxes = {w: _frame_box(region, w) for ws in EXAMPLE_SUBAREAS.values() for w in ws}
    margin = 2_000.0
    bottom = min(b[1] for b in boxes.values()) - margin
    top = max(b[3] for b in boxes.values()) + margin
    centres = {name: [(boxes[w][0] + boxes[w][2]) / 2 for w in frames] for name, frames in EXAMPLE_SUBAREAS.items()}
    names = list(EXAMPLE_SUBAREAS)
    edges = [min(b[0] for b in boxes.values()) - margin]
    edges += [(max(centres[a]) + min(centres[b])) / 2 for a, b in zip(names, names[1:])]
    edges += [max(b[2] for b in boxes.values()) + margin]
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"subarea frames {EXAMPLE_SUBAREAS} do not run west to east")
    return gpd.GeoDataFrame({"name": names}, geometry=[shapely.box(a, bottom, b, top) for a, b in zip(edges, edges[1:])],
                            crs=EXAMPLE_CRS)


def _glims_id(lon: float, lat: float) -> str:
    """A GLIMS-style id from a point: ``G`` + longitude east (x1000, 6 digits) + ``E`` + latitude (x1000) + ``N``."""
    return f"G{round((lon % 360) * 1000):06d}E{round(lat * 1000):05d}N"


def example_inventory(region: SyntheticRegion, period: tuple[int, int] = INVENTORY_PERIOD) -> gpd.GeoDataFrame:
    """An RGI 7-like inventory (EPSG:4326) of the true ice of ``period`` around the example's frames.

    One outline per 4-connected ice body touching the frames' extent (whole bodies, not clipped),
    bodies under `MIN_GLACIER_KM2` left out; ``src_date`` the period's middle year, 1 August.
    """
    ice = region.glacier_mask(config.PERIODS.index(tuple(period)))
    bodies, _ = ndimage.label(ice)
    frames = [w for ws in EXAMPLE_SUBAREAS.values() for w in ws]
    s = region.scene_px
    rows = [region.scene_origins[w][0] for w in frames]
    cols = [region.scene_origins[w][1] for w in frames]
    window = bodies[min(rows):max(rows) + s, min(cols):max(cols) + s]
    px_km2 = config.PIXEL_SIZE_M ** 2 / 1e6
    sizes = np.bincount(bodies.ravel())
    keep = [int(b) for b in np.unique(window) if b and sizes[b] * px_km2 >= MIN_GLACIER_KM2]
    mask = np.isin(bodies, keep)
    dx, dy = alps_offset()
    a, b, c, d, e, f = region.transform()
    transform = Affine(a, b, c + dx, d, e, f + dy)
    pieces = pd.DataFrame([(int(v), shape(g)) for g, v in rasterio.features.shapes(
        bodies.astype(np.int32), mask=mask, connectivity=4, transform=transform)], columns=["body", "geometry"])
    merged = pieces.groupby("body", sort=True)["geometry"].apply(lambda g: shapely.union_all(g.to_numpy()))
    outlines = gpd.GeoSeries(list(merged.to_numpy()), crs=EXAMPLE_CRS)
    centres = outlines.representative_point().to_crs("EPSG:4326")
    year = (period[0] + period[1]) // 2
    table = pd.DataFrame({
        "rgi_id": [f"RGI2000-v7.0-G-11-{i:05d}" for i in range(1, len(merged) + 1)],
        "o1region": "11", "o2region": "11-01",
        "glims_id": [_glims_id(p.x, p.y) for p in centres],
        "src_date": f"{year}-08-01T00:00:00",
        "cenlon": [p.x for p in centres], "cenlat": [p.y for p in centres],
        "area_km2": sizes[merged.index.to_numpy()] * px_km2,
        "glac_name": None,
    })
    return gpd.GeoDataFrame(table, geometry=outlines.to_crs("EPSG:4326").to_numpy(), crs="EPSG:4326")


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def slc_off_gaps(n: int, period_px: int = SLC_OFF_PERIOD_PX, max_gap_px: float = SLC_OFF_MAX_GAP_PX) -> np.ndarray:
    """SLC-off-like fill stripes (bool, True = gap) of an n x n frame: across track, widening to its edges."""
    c = np.arange(n) + 0.5 - n / 2.0
    t = np.radians(FRAME_TILT_DEG)
    across = c[None, :] * np.cos(t) - c[:, None] * np.sin(t)  # the frame's own axes, as `region._frame_mask`
    along = c[None, :] * np.sin(t) + c[:, None] * np.cos(t)
    width = max_gap_px * np.abs(across) / (n / 2.0)
    return np.mod(along, period_px) < width


def write_geotiff_image(scene: xr.Dataset, path: str | os.PathLike, *, slc_off: bool = False) -> Path:
    """One acquisition as a plain 4-band uint8 GeoTIFF (TM-equivalent B, G, R, NIR DN, fill 0, no MTL)."""
    if scene.attrs.get("sensor") == "OLI":
        scene = radiometry.tm_equivalent_dn(scene)  # OLI uint16 DN -> the uint8 DN TM would have recorded
    dn = np.asarray(scene["dn"].sel(band=list(GEOTIFF_BANDS)).values)
    fill = config.nodata_of(scene["dn"], config.LEVEL1_FILL_DN)
    dn = np.where(dn == fill, config.LEVEL1_FILL_DN, dn).astype(np.uint8)
    if slc_off:
        dn[:, slc_off_gaps(dn.shape[-1])] = config.LEVEL1_FILL_DN
    profile = {"driver": "GTiff", "height": dn.shape[1], "width": dn.shape[2], "count": dn.shape[0],
               "dtype": "uint8", "crs": scene.rio.crs, "transform": scene.rio.transform(),
               "nodata": config.LEVEL1_FILL_DN, "compress": "deflate"}
    path = Path(path)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(dn)
        dst.descriptions = ("blue (TM1)", "green (TM2)", "red (TM3)", "near infrared (TM4)")
        dst.update_tags(ACQUISITION_DATE=scene.attrs["date"], SENSOR="ETM+-like (simulated, TM-equivalent DN)")
    return path


# --------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------
def _toml_value(value) -> str:
    """A TOML literal of a string, number, list or {path, date} table."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def study_toml(name: str, kind: str, scenes: dict[str, list], *, stride_px: int | None,
               inventory: str = "rgi7_outlines.gpkg", subareas: str = "subareas.gpkg") -> str:
    """The text of the example's study file (paths relative to it)."""
    lines = [
        "# An Alpine-like study written by glacier_utils.synthetic.write_example_study: simulated scenes moved",
        "# to WGS 84 / UTM 32N, as a user would hold them. See book/real_data.md, section 6.",
        f"name = {_toml_value(name)}",
        f"title = {_toml_value('Alpine-like example study (' + kind + ' images)')}",
        'source = "local"',
        f"crs = {_toml_value(EXAMPLE_CRS if kind == 'level1' else 'auto')}",
        f"pixel_size_m = {config.PIXEL_SIZE_M}",
        f"bands = {_toml_value(list(config.BAND_NUMBERS) if kind == 'level1' else list(GEOTIFF_BANDS))}",
        f"periods = {_toml_value([list(p) for p in EXAMPLE_PERIODS])}",
        f"inventory = {_toml_value(inventory)}",
    ]
    if stride_px is not None:
        lines.append(f"stride_px = {int(stride_px)}")
    lines += ["", "[subareas]", f"file = {_toml_value(subareas)}", 'column = "name"',
              f"labels = {{{', '.join(f'{k} = {_toml_value(v)}' for k, v in EXAMPLE_LABELS.items())}}}",
              "", "[roles]", f"training = {_toml_value(EXAMPLE_TRAINING)}", "", "[images]"]
    if kind == "level1":
        lines.append('kind = "level1"')
    else:
        lines += ['kind = "geotiff"', "band_map = {" + ", ".join(f"{b} = {b}" for b in GEOTIFF_BANDS) + "}",
                  'unit = "dn"', 'sensor = "ETM"']
    lines += ["", "[scenes]"]
    for key, entries in scenes.items():
        lines.append(f"{_toml_value(key)} = [")
        lines += [f"  {_toml_value(entry)}," for entry in entries]
        lines.append("]")
    return "\n".join(lines) + "\n"


def write_example_study(folder: str | os.PathLike, kind: str = "level1", profile: str | config.Profile = "smoke",
                        seed: int | None = None, *, stride_px: int | None = None, slc_off: bool = True,
                        overwrite: bool = False) -> Path:
    """Write the Alpine-like example study into ``folder`` and return its study file (``alps-<kind>.toml``).

    ``kind``: "level1" (Collection 2 Level-1 folders, 7 bands, crs EPSG:32632) or "geotiff" (4-band
    uint8 GeoTIFFs, ``crs = "auto"``). ``profile`` sets the frame size (smoke: 128 px) and, with
    ``stride_px=None``, the study's ``stride_px`` (half the profile's tile); ``seed`` the region
    (default: the profile's data seed). ``slc_off`` stripes the GeoTIFFs of the periods after
    `SLC_OFF_DATE` (the training images stay whole). The folder is written under a temporary name
    and renamed into place; a non-empty ``folder`` is refused unless ``overwrite``.
    """
    if kind not in EXAMPLE_KINDS:
        raise ValueError(f"kind={kind!r}; choose one of {', '.join(EXAMPLE_KINDS)}")
    folder = Path(folder)
    if folder.exists() and not overwrite and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not empty; choose an empty folder or pass overwrite=True")
    prof = config.get_profile(profile)
    stride_px = prof.tile_px // 2 if stride_px is None else stride_px
    region = _region(prof.name, seed)
    name = f"alps-{kind}"
    with atomic_path(folder) as tmp:
        (tmp / "images").mkdir(parents=True)
        example_subareas(region).to_file(tmp / "subareas.gpkg", driver="GPKG")
        example_inventory(region).to_file(tmp / "rgi7_outlines.gpkg", driver="GPKG")
        entries: dict[str, list] = {}
        for key, acquisitions in example_acquisitions(region).items():
            entries[key] = []
            for wrs2, date, sensor, cloud in acquisitions:
                scene = relocate_scene(simulate_scene(region, wrs2, date, sensor, cloud), _subarea_of(wrs2))
                if kind == "level1":
                    relative = f"images/{product_id(scene)}"
                    if not (tmp / relative).exists():
                        write_level1(scene, tmp / relative)
                    entries[key].append(relative)
                else:
                    relative = f"images/etm_{scene.attrs['wrs2']}_{date.replace('-', '')}.tif"
                    striped = slc_off and key != "training" and date > SLC_OFF_DATE
                    write_geotiff_image(scene, tmp / relative, slc_off=striped)
                    entries[key].append({"path": relative, "date": date})
        (tmp / f"{name}.toml").write_text(study_toml(name, kind, entries, stride_px=stride_px), encoding="utf-8")
    return folder / f"{name}.toml"


def main(argv: Sequence[str] | None = None) -> Path:
    """``python -m glacier_utils.synthetic.example_study FOLDER [--kind geotiff] …``: write the example study."""
    parser = argparse.ArgumentParser(
        prog="python -m glacier_utils.synthetic.example_study",
        description="Write the Alpine-like example study (simulated Landsat images in UTM 32N, subarea polygons, "
                    "an RGI 7-like inventory and the study TOML) into FOLDER.")
    parser.add_argument("folder", type=Path, help="the folder to write (must be empty unless --overwrite)")
    parser.add_argument("--kind", choices=EXAMPLE_KINDS, default="level1",
                        help="Level-1 folders with MTL (default) or 4-band GeoTIFFs without MTL")
    parser.add_argument("--profile", choices=sorted(config.PROFILES), default="smoke", help="frame and tile size")
    parser.add_argument("--seed", type=int, default=None, help="region seed (default: the profile's)")
    parser.add_argument("--stride-px", type=int, default=None, help="the study's stride_px (default: half a tile)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty FOLDER")
    args = parser.parse_args(argv)
    path = write_example_study(args.folder, args.kind, args.profile, args.seed, stride_px=args.stride_px,
                               overwrite=args.overwrite)
    print(path)
    return path


__all__ = ["write_example_study", "example_acquisitions", "example_inventory", "example_subareas", "relocate_scene",
           "alps_offset", "slc_off_gaps", "write_geotiff_image", "study_toml", "EXAMPLE_KINDS", "EXAMPLE_CRS",
           "ALPS_ORIGIN_XY", "ALPS_WRS2", "EXAMPLE_SUBAREAS", "EXAMPLE_TRAINING", "EXAMPLE_LABELS", "EXAMPLE_PERIODS",
           "INVENTORY_PERIOD", "MIN_GLACIER_KM2", "SLC_OFF_DATE", "GEOTIFF_BANDS"]

if __name__ == "__main__":
    main()
