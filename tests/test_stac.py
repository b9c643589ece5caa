"""Tests of glacier_utils.io.stac on a local static STAC catalogue built over fixture GeoTIFFs (no network)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
import pytest

from _level1_fixtures import band_values, write_scene
from glacier_utils import config
from glacier_utils.io import stac
from glacier_utils.errors import DataError

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

BBOX = [95.0, 35.0, 95.1, 35.1]
GEOMETRY = {"type": "Polygon", "coordinates": [[[95.0, 35.0], [95.1, 35.0], [95.1, 35.1], [95.0, 35.1], [95.0, 35.0]]]}

# (date, path, row, cloud %): tile 137/037 has several images in the first two periods
ACQUISITIONS = [
    ("1986-07-30", 137, 37, 22.0),
    ("1987-08-20", 137, 37, 14.0),
    ("1988-10-16", 137, 37, 2.0),    # period 0: least cloudy, under the threshold -> alone
    ("1989-08-02", 137, 37, 46.0),
    ("1990-08-28", 137, 37, 27.0),   # period 1: least cloudy is 27 % -> a second image joins
    ("1991-10-09", 137, 37, 33.0),
    ("1989-09-21", 138, 37, 0.0),    # another tile
    ("2016-08-01", 137, 37, 5.0),    # an OLI image (period 10)
]


def _tm_item(date: str, path: int, row: int, cloud: float, folder: Path, keys: str) -> pystac.Item:
    """An item whose band assets point at a fixture scene; keys: 'B' (B1..B7) or 'common' (blue, ... with eo:bands)."""
    sensor = "OLI" if date >= "2013" else "TM"
    prefix = "LC08" if sensor == "OLI" else "LT05"
    stamp = date.replace("-", "")
    item = pystac.Item(
        id=f"{prefix}_L1TP_{path:03d}{row:03d}_{stamp}_20200830_02_T1",
        geometry=GEOMETRY, bbox=BBOX,
        datetime=dt.datetime.fromisoformat(date + "T04:10:00+00:00"),
        properties={
            "landsat:wrs_path": f"{path:03d}", "landsat:wrs_row": f"{row:03d}", "eo:cloud_cover": cloud,
            "platform": "landsat-8" if sensor == "OLI" else "landsat-5",
            "instruments": ["oli", "tirs"] if sensor == "OLI" else ["tm"],
            "view:sun_elevation": 55.5, "view:sun_azimuth": 130.25,
        },
    )
    common = {1: "coastal", 2: "blue", 3: "green", 4: "red", 5: "nir08", 6: "swir16", 7: "swir22", 10: "lwir11"}
    if sensor == "TM":
        common = {1: "blue", 2: "green", 3: "red", 4: "nir08", 5: "swir16", 6: "lwir", 7: "swir22"}
    for tif in sorted(folder.glob("*_B*.TIF")):
        n = int(tif.stem.rsplit("_B", 1)[1])
        if n not in common:
            continue
        key = f"B{n}" if keys == "B" else common[n]
        asset = pystac.Asset(href=str(tif.resolve()), media_type=pystac.MediaType.GEOTIFF, roles=["data"])
        asset.extra_fields["eo:bands"] = [{"name": f"B{n}", "common_name": common[n]}]
        item.add_asset(key, asset)
    mtl = next(folder.glob("*_MTL.txt"))
    item.add_asset("mtl.txt", pystac.Asset(href=str(mtl.resolve()), media_type="text/plain", roles=["metadata"]))
    return item


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory) -> Path:
    """A self-contained static catalogue: one collection, the ACQUISITIONS as items over two fixture scenes."""
    root = tmp_path_factory.mktemp("stac")
    tm_folder = write_scene(root / "data" / "tm", sensor="TM", date="1988-10-16", path=137, row=37)
    oli_folder = write_scene(root / "data" / "oli", sensor="OLI", date="2016-08-01", path=137, row=37)
    catalog = pystac.Catalog(id="test-landsat", description="fixture catalogue")
    collection = pystac.Collection(
        id="landsat-c2-l1", description="fixture Level-1 scenes",
        extent=pystac.Extent(pystac.SpatialExtent([BBOX]), pystac.TemporalExtent([[None, None]])),
    )
    catalog.add_child(collection)
    for i, (date, path, row, cloud) in enumerate(ACQUISITIONS):
        folder = oli_folder if date >= "2013" else tm_folder
        collection.add_item(_tm_item(date, path, row, cloud, folder, keys="B" if i % 2 else "common"))
    catalog.normalize_hrefs(str(root / "catalog"))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog" / "catalog.json"


def test_search_filters_by_path_row_window_and_cloud(catalog_path):
    items = stac.search(catalog_path, 137, 37, "1986-01-01", "1991-12-31", max_cloud=30)
    dates = [it.datetime.date().isoformat() for it in items]
    assert dates == ["1986-07-30", "1987-08-20", "1988-10-16", "1990-08-28"]
    assert stac.search(catalog_path, 138, 37, "1986-01-01", "2021-12-31")[0].id.startswith("LT05_L1TP_138037")
    assert stac.search(catalog_path, 137, 37, "1986-01-01", "2021-12-31", months=[10]) != []
    assert all(it.datetime.month == 10 for it in stac.search(catalog_path, 137, 37, months=[10]))


def test_least_cloudy_per_period_adds_a_second_image_only_when_the_first_is_cloudy(catalog_path):
    items = stac.search(catalog_path, 137, 37)
    chosen = stac.select_least_cloudy(items, cloud_threshold=10.0, max_per_period=2)
    by_period = {p: rows["date"].dt.strftime("%Y-%m-%d").tolist() for p, rows in chosen.groupby("period")}
    assert by_period[0] == ["1988-10-16"]
    assert by_period[1] == ["1990-08-28", "1991-10-09"]  # 27 % > 10 %: next least cloudy joins
    assert by_period[10] == ["2016-08-01"]
    assert chosen.loc[chosen["period"] == 1, "rank"].tolist() == [1, 2]
    assert chosen.loc[chosen["period"] == 0, "period_label"].item() == config.PERIOD_LABELS[0]
    assert ("137037", 2) in chosen.attrs["missing"]
    # an independent check: each period's first pick is the minimum cloud cover of that period
    table = stac.items_table(items)
    for period, rows in chosen.groupby("period"):
        assert rows["cloud_cover"].iloc[0] == table.loc[table["period"] == period, "cloud_cover"].min()
    single = stac.select_least_cloudy(items, cloud_threshold=10.0, max_per_period=1)
    assert single.groupby("period").size().max() == 1


def test_loaded_item_matches_the_folder_reader(catalog_path):
    from glacier_utils.io import landsat, radiometry

    for date, keys in (("1988-10-16", "common"), ("1987-08-20", "B")):
        item = next(it for it in stac.search(catalog_path, 137, 37) if it.datetime.date().isoformat() == date)
        scene = stac.load_item(item)
        assert scene.attrs["wrs2"] == "137037" and scene.attrs["area"] == "training"
        assert scene.attrs["cloud_cover"] == pytest.approx(dict((d, c) for d, _, _, c in ACQUISITIONS)[date])
        assert scene.attrs["sun_elevation"] == pytest.approx(55.5)
        assert list(scene["dn"]["band"].values) == list(config.BAND_NUMBERS)
        np.testing.assert_array_equal(scene["dn"].sel(band=3).values, band_values(3, (40, 50)))
        assert scene["dn"].rio.crs.to_epsg() == 32646
        # the MTL asset makes TOA available, with the same numbers as the folder reader
        folder_scene = landsat.read_scene(Path(scene.attrs["mtl_path"]).parent)
        np.testing.assert_allclose(radiometry.toa(scene).values, radiometry.toa(folder_scene).values)


def test_oli_item_assets_map_to_tm_equivalent_bands(catalog_path):
    item = stac.search(catalog_path, 137, 37, "2013-01-01", "2021-12-31")[0]
    assert stac.item_sensor(item) == "OLI"
    scene = stac.load_item(item)
    for tm_band, file_band in config.SENSOR_BAND_FILES["OLI"].items():
        np.testing.assert_array_equal(scene["dn"].sel(band=tm_band).values, band_values(file_band, (40, 50), "uint16"))


def test_item_without_a_band_asset_is_named(catalog_path):
    item = stac.search(catalog_path, 137, 37)[0].clone()
    for key in [k for k in item.assets if k in ("swir16", "B5")]:
        del item.assets[key]
    for asset in item.assets.values():
        asset.extra_fields.pop("eo:bands", None)
    with pytest.raises(DataError, match=f"{item.id}.*no asset for TM band B5"):
        stac.load_item(item)


def test_bad_catalogue_and_window_are_reported(tmp_path, catalog_path):
    with pytest.raises(DataError, match="does not exist"):
        stac.search(tmp_path / "nowhere" / "catalog.json", 137, 37)
    broken = tmp_path / "catalog.json"
    broken.write_text("{ not json")
    with pytest.raises(DataError, match="cannot read STAC catalogue"):
        stac.search(broken, 137, 37)
    with pytest.raises(DataError, match="ends .* before it starts"):
        stac.search(catalog_path, 137, 37, "2000-01-01", "1999-01-01")
