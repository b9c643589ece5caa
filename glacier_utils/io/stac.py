"""Find and load Landsat Level-1 scenes through STAC: a STAC API (pystac-client) or a local static catalogue (pystac).

The paper built its Table IV by taking, for every WRS-2 tile and three-year period, the least
cloudy acquisition, and a second (rarely a third) one when the first was too cloudy (paper §III-D,
Table IV). ``select_least_cloudy`` does that on search results; ``load_item`` turns a chosen item
into the same scene Dataset ``glacier_utils.io.landsat.read_scene`` returns.

Items are expected to carry the Landsat STAC extension properties ``landsat:wrs_path`` and
``landsat:wrs_row`` (strings such as "138", "037" in the USGS and Planetary Computer catalogues,
integers are accepted too), ``eo:cloud_cover`` and a datetime. Band assets are found by key
(``B4``), by the ``eo:bands`` entry of the asset (band name ``B4`` or common name ``red``), or by a
common-name key (``red``, ``nir08``, ``swir16``, ``lwir``/``lwir11``, ``swir22``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pystac
import xarray as xr

from glacier_utils import config
from glacier_utils.io import landsat
from glacier_utils.errors import DataError

__all__ = [
    "COMMON_NAMES",
    "open_catalog",
    "search",
    "items_table",
    "select_least_cloudy",
    "item_sensor",
    "band_assets",
    "load_item",
]

#: STAC ``eo:common_name`` values of each TM-equivalent band (the same for TM, ETM+ and OLI).
COMMON_NAMES: dict[int, tuple[str, ...]] = {
    1: ("blue",),
    2: ("green",),
    3: ("red",),
    4: ("nir08", "nir"),
    5: ("swir16", "swir1"),
    6: ("lwir11", "lwir", "lwir1"),
    7: ("swir22", "swir2"),
}
_MTL_KEYS = ("mtl.txt", "mtl", "MTL.txt", "MTL")


def open_catalog(source: str | os.PathLike | pystac.Catalog):
    """A pystac Catalog (local ``catalog.json``/``collection.json`` or object) or a pystac-client Client (``http(s)://`` API)."""
    if isinstance(source, pystac.Catalog):
        return source
    text = str(source)
    if text.startswith(("http://", "https://")):
        import pystac_client  # imported here: only API users need it

        return pystac_client.Client.open(text)
    path = Path(text)
    if path.is_dir():
        path = path / "catalog.json" if (path / "catalog.json").exists() else path / "collection.json"
    if not path.is_file():
        raise DataError(f"STAC catalogue {path} does not exist")
    try:
        return pystac.read_file(str(path))
    except Exception as err:  # pystac raises several types for bad JSON / STAC
        raise DataError(f"cannot read STAC catalogue {path}: {err}") from err


def _catalogue_items(catalog: pystac.Catalog) -> Iterator[pystac.Item]:
    """Every item of a local catalogue (as ``get_items(recursive=True)``), naming a listed file that is missing or malformed."""
    source = catalog.get_self_href() or f"catalogue {catalog.id!r}"
    for link in catalog.links[:]:
        if link.rel not in (pystac.RelType.ITEM, pystac.RelType.CHILD):
            continue
        kind = "item" if link.rel == pystac.RelType.ITEM else "child catalogue"
        href = None if link.is_resolved() else link.get_absolute_href()
        local = _local_path(href) if href else None
        if local is not None and not local.is_file():
            raise DataError(f"STAC {kind} file {local}, listed in {source}, does not exist: the catalogue is "
                            "incomplete; copy it again with all its files (or remove the link)")
        try:
            link.resolve_stac_object(root=catalog.get_root())
        except Exception as err:  # noqa: BLE001  (pystac raises JSON, type and key errors for a bad file)
            raise DataError(f"STAC {kind} file {href or link.href}, listed in {source}, is malformed (not a valid "
                            f"STAC {kind}): {type(err).__name__}: {err}; repair or re-export it") from err
        if isinstance(link.target, pystac.Item):
            yield link.target
        elif isinstance(link.target, pystac.Catalog):
            yield from _catalogue_items(link.target)


def _wrs(item: pystac.Item, key: str) -> int | None:
    """``landsat:wrs_path``/``landsat:wrs_row`` of an item as int (None when absent)."""
    value = item.properties.get(f"landsat:{key}")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _item_date(item: pystac.Item) -> dt.date:
    """Acquisition date of an item (its datetime, or start_datetime)."""
    stamp = item.datetime or pystac.utils.str_to_datetime(item.properties["start_datetime"])
    return stamp.date()


def _as_date(value: str | dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise DataError(f"date {value!r} is not YYYY-MM-DD") from None


def _matches(item, wrs_path, wrs_row, start, end, max_cloud, months) -> bool:
    """Whether one item passes the search filters."""
    if wrs_path is not None and _wrs(item, "wrs_path") != int(wrs_path):
        return False
    if wrs_row is not None and _wrs(item, "wrs_row") != int(wrs_row):
        return False
    date = _item_date(item)
    if not start <= date <= end:
        return False
    if months is not None and date.month not in months:
        return False
    cloud = item.properties.get("eo:cloud_cover")
    if max_cloud is not None and (cloud is None or float(cloud) > max_cloud):
        return False
    return True


def search(
    source,
    wrs_path: int | None = None,
    wrs_row: int | None = None,
    start: str | dt.date = "1986-01-01",
    end: str | dt.date = "2021-12-31",
    *,
    max_cloud: float | None = None,
    months: Sequence[int] | None = None,
    collections: Sequence[str] | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Items of one WRS-2 path/row acquired in [start, end] with cloud cover <= max_cloud (percent), sorted by date.

    ``source`` is a local catalogue (path or pystac object) or a STAC API URL; for an API the
    filters are sent as a CQL2 query (``collections`` e.g. ``["landsat-c2-l1"]``) and checked again
    here. ``months`` keeps only those calendar months (e.g. ``range(7, 11)`` for the ablation season).
    """
    start, end = _as_date(start), _as_date(end)
    if end < start:
        raise DataError(f"search window ends ({end}) before it starts ({start})")
    catalog = open_catalog(source)
    months = set(months) if months is not None else None
    if isinstance(catalog, pystac.Catalog):
        candidates: Iterable[pystac.Item] = _catalogue_items(catalog)
    else:
        query: dict[str, Any] = {}
        if wrs_path is not None:
            query["landsat:wrs_path"] = {"eq": f"{int(wrs_path):03d}"}
        if wrs_row is not None:
            query["landsat:wrs_row"] = {"eq": f"{int(wrs_row):03d}"}
        if max_cloud is not None:
            query["eo:cloud_cover"] = {"lte": max_cloud}
        candidates = catalog.search(
            collections=list(collections) if collections else None,
            datetime=f"{start.isoformat()}/{end.isoformat()}",
            query=query or None,
            max_items=max_items,
        ).items()
    found = [it for it in candidates if _matches(it, wrs_path, wrs_row, start, end, max_cloud, months)]
    found.sort(key=lambda it: (_item_date(it), it.id))
    return found[:max_items] if max_items else found


def item_sensor(item: pystac.Item) -> str:
    """``"TM"``, ``"ETM"`` or ``"OLI"`` of an item, from ``instruments``, ``platform`` or its id."""
    instruments = [str(i).upper() for i in item.properties.get("instruments") or []]
    for name in instruments:
        if name in ("TM", "ETM", "ETM+", "OLI", "OLI_TIRS"):
            return landsat.normalise_sensor(name)
    platform = str(item.properties.get("platform", "")).lower().replace("_", "-")
    by_platform = {"landsat-4": "TM", "landsat-5": "TM", "landsat-7": "ETM", "landsat-8": "OLI", "landsat-9": "OLI"}
    if platform in by_platform:
        return by_platform[platform]
    guess = landsat.sensor_from_product_id(item.id)
    if guess is None:
        raise DataError(
            f"unknown sensor for STAC item {item.id!r}: no instruments/platform property and no Landsat product id"
        )
    return guess


def items_table(items: Iterable[pystac.Item]) -> pd.DataFrame:
    """One row per item: id, date, WRS-2 id, cloud cover, sensor, period index (None outside 1986-2021), the item."""
    rows = []
    for item in items:
        date = _item_date(item)
        path, row = _wrs(item, "wrs_path"), _wrs(item, "wrs_row")
        try:
            period = config.period_of_year(date.year)
        except ValueError:
            period = None
        cloud = item.properties.get("eo:cloud_cover")
        rows.append({
            "id": item.id,
            "date": pd.Timestamp(date),
            "wrs2": f"{path:03d}{row:03d}" if path is not None and row is not None else None,
            "cloud_cover": float(cloud) if cloud is not None else float("nan"),
            "sensor": item_sensor(item),
            "period": period,
            "item": item,
        })
    columns = ["id", "date", "wrs2", "cloud_cover", "sensor", "period", "item"]
    return pd.DataFrame(rows, columns=columns)


def select_least_cloudy(
    items: Iterable[pystac.Item],
    *,
    cloud_threshold: float = 10.0,
    max_per_period: int = 2,
    periods: Sequence[tuple[int, int]] = config.PERIODS,
) -> pd.DataFrame:
    """Per WRS-2 tile and three-year period, the least cloudy item, plus the next ones while the last pick exceeds ``cloud_threshold`` %.

    This is how the paper chose Table IV's images (paper §III-D). Items without cloud cover rank
    last. The result has the columns of ``items_table`` plus ``period_label`` and ``rank`` (1 =
    least cloudy); ``attrs["missing"]`` lists (wrs2, period) pairs with no image at all.
    """
    if max_per_period < 1:
        raise ValueError(f"max_per_period={max_per_period}; need at least 1")
    table = items_table(items)
    chosen = []
    missing = []
    tiles = sorted(table["wrs2"].dropna().unique())
    for wrs2 in tiles:
        for index, (first, last) in enumerate(periods):
            in_period = table[(table["wrs2"] == wrs2) & table["date"].dt.year.between(first, last)]
            if in_period.empty:
                missing.append((wrs2, index))
                continue
            ranked = in_period.assign(_cloud=in_period["cloud_cover"].fillna(float("inf"))).sort_values(["_cloud", "date", "id"])
            picks = []
            for _, row in ranked.iterrows():
                picks.append(row)
                if len(picks) >= max_per_period or row["_cloud"] <= cloud_threshold:
                    break
            for rank, row in enumerate(picks, start=1):
                row = row.drop("_cloud")
                row["period"] = index
                row["period_label"] = f"{first}–{last}"
                row["rank"] = rank
                chosen.append(row)
    out = pd.DataFrame(chosen, columns=[*table.columns, "period_label", "rank"]).reset_index(drop=True)
    out.attrs["missing"] = missing
    return out


def _asset_band_names(asset: pystac.Asset) -> list[tuple[str | None, str | None]]:
    """(name, common_name) pairs of an asset's ``eo:bands`` (STAC 1.0) or ``bands`` (STAC 1.1)."""
    pairs = []
    for entry in asset.extra_fields.get("eo:bands") or []:
        pairs.append((entry.get("name"), entry.get("common_name")))
    for entry in asset.extra_fields.get("bands") or []:
        pairs.append((entry.get("name"), entry.get("eo:common_name")))
    return pairs


def band_assets(item: pystac.Item, sensor: str | None = None) -> dict[int, pystac.Asset]:
    """TM-equivalent band (1..7) -> asset of an item, by key ``B<n>``, by ``eo:bands``, or by common-name key."""
    sensor = landsat.normalise_sensor(sensor) if sensor else item_sensor(item)
    mapping = config.SENSOR_BAND_FILES[sensor]
    found: dict[int, pystac.Asset] = {}
    for band in config.BAND_NUMBERS:
        n = mapping[band]
        by_key = {k.upper(): a for k, a in item.assets.items()}
        asset = by_key.get(f"B{n}") or by_key.get(f"B{n}_VCID_1")
        if asset is None:
            for asset_candidate in item.assets.values():
                names = _asset_band_names(asset_candidate)
                if len(names) == 1 and (names[0][0] or "").upper() == f"B{n}":
                    asset = asset_candidate
                    break
                if len(names) == 1 and names[0][1] in COMMON_NAMES[band]:
                    asset = asset_candidate
                    break
        if asset is None:
            for name in COMMON_NAMES[band]:
                if name in item.assets:
                    asset = item.assets[name]
                    break
        if asset is None:
            raise DataError(
                f"STAC item {item.id!r} has no asset for {sensor} band B{n} (TM band {band}); "
                f"assets: {', '.join(item.assets)}"
            )
        found[band] = asset
    return found


def _local_path(href: str) -> Path | None:
    """A local filesystem path for an href (plain path or file:// URL), None for remote hrefs."""
    if href.startswith("file://"):
        return Path(href[len("file://"):])
    if "://" in href:
        return None
    return Path(href)


def load_item(
    item: pystac.Item,
    *,
    chunks: Mapping[str, int] | None = landsat.DEFAULT_CHUNKS,
    check_nodata: bool = True,
) -> xr.Dataset:
    """Load a STAC item's band assets into the scene Dataset of ``landsat.read_scene`` (lazy, TM-equivalent bands)."""
    sensor = item_sensor(item)
    assets = band_assets(item, sensor)
    paths = {}
    for band, asset in assets.items():
        href = asset.get_absolute_href() or asset.href
        local = _local_path(href)
        paths[band] = local if local is not None else href
    dn = landsat.stack_band_files(paths, chunks=chunks, check_nodata=check_nodata)
    dn.attrs["file_bands"] = [config.SENSOR_BAND_FILES[sensor][b] for b in config.BAND_NUMBERS]
    props = item.properties
    attrs: dict[str, Any] = {
        "source": item.get_self_href() or item.id,
        "product_id": item.id,
        "sensor": sensor,
        "date": _item_date(item).isoformat(),
        "metadata_source": "STAC item",
    }
    path, row = _wrs(item, "wrs_path"), _wrs(item, "wrs_row")
    if path is not None and row is not None:
        attrs.update(wrs_path=path, wrs_row=row, wrs2=f"{path:03d}{row:03d}")
    for key, prop in (("cloud_cover", "eo:cloud_cover"), ("sun_elevation", "view:sun_elevation"),
                      ("sun_azimuth", "view:sun_azimuth")):
        if props.get(prop) is not None:
            attrs[key] = float(props[prop])
    for key in _MTL_KEYS:
        if key in item.assets:
            local = _local_path(item.assets[key].get_absolute_href() or item.assets[key].href)
            if local is not None and local.is_file():
                attrs["mtl_path"] = str(local)
            break
    scene = xr.Dataset({"dn": dn})
    return landsat.add_study_attrs(scene, attrs)
