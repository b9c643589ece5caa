"""The Alpine-like example study written to disk (issue 15, item 5): Level-1 folders and 4-band GeoTIFFs.

The worked example of book/real_data.md §6 is run from the page itself (`_book_block`), once for the
module; the other tests look at what it wrote and read.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from glacier_utils import study, study_periods, synthetic, tiles
from glacier_utils.io import inventory, landsat, sources
from glacier_utils.synthetic import example_study

BOOK_PAGE = Path(__file__).resolve().parents[1] / "book" / "real_data.md"
MARKER = "# worked example (tests/test_example_study.py runs this block)"
KINDS = ("level1", "geotiff")
#: The tests that read the written studies share one run of the book's block (about 20 s on 2 cores).
slow = pytest.mark.slow


def _book_block() -> str:
    """The python block of book/real_data.md §6 that starts with `MARKER`."""
    blocks = re.findall(r"```python\n(.*?)```", BOOK_PAGE.read_text(encoding="utf-8"), re.DOTALL)
    chosen = [b for b in blocks if b.startswith(MARKER)]
    assert len(chosen) == 1, f"{BOOK_PAGE.name}: expected one python block starting with {MARKER!r}"
    return chosen[0]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """``{kind: (study, training scenes, tile dataset)}`` from running the book's block in a fresh folder."""
    folder = tmp_path_factory.mktemp("book_example")
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        exec(compile(_book_block(), str(BOOK_PAGE), "exec"), namespace)  # noqa: S102 (the page's own code)
    return namespace["examples"]


@slow
def test_both_kinds_write_the_files_a_user_holds(examples):
    for kind in KINDS:
        alps = examples[kind][0]
        root = alps.path.parent
        assert alps.path.name == f"alps-{kind}.toml"
        assert {p.name for p in root.iterdir()} == {alps.path.name, "subareas.gpkg", "rgi7_outlines.gpkg", "images"}
        entries = [e for key in ("training", *alps.period_labels) for e in alps.scenes[key]]
        assert len(entries) == 6 * 5  # six frames: the training images and one image per period
        for entry in entries:
            assert entry.path.parent == root / "images"
            if kind == "level1":
                names = {p.name.split("_02_T1_")[-1] for p in entry.path.iterdir()}
                assert {"MTL.txt", "QA_PIXEL.TIF", "B1.TIF", "B7.TIF"} <= names
            else:
                with rasterio.open(entry.path) as src:
                    assert (src.count, src.dtypes[0], src.crs.to_epsg(), src.nodata) == (4, "uint8", 32632, 0)
    assert not list(Path(examples["geotiff"][0].path.parent).rglob("*MTL*"))


@slow
def test_the_study_files_load_and_pass_the_checks(examples):
    for kind in KINDS:
        alps = study.load_study(examples[kind][0].path)
        assert alps.source == "local" and alps.crs == ("EPSG:32632" if kind == "level1" else "auto")
        assert alps.bands == ((1, 2, 3, 4, 5, 6, 7) if kind == "level1" else (1, 2, 3, 4))
        assert alps.periods == example_study.EXAMPLE_PERIODS
        assert alps.subareas == ("west", "central", "east") and alps.training_subarea == "west"
        assert alps.testing_subareas == ("central", "east")
        assert alps.stride_px == 16
        assert (alps.images.kind, alps.has_band_ratio) == ((kind, True) if kind == "level1" else (kind, False))
        study_files = pytest.importorskip("glacier_utils.io.study_files")
        study_files.check_study_files(alps)


@slow
def test_training_scenes_lie_in_utm_32n_with_their_subareas_and_labels(examples):
    for kind in KINDS:
        alps, scenes, _ = examples[kind]
        areas = sorted(s.attrs["area"] for s in scenes)
        assert areas == ["central", "central", "east", "east", "west", "west"]
        for scene in scenes:
            assert scene["dn"].rio.crs.to_epsg() == 32632
            assert list(scene["dn"]["band"].values) == list(alps.bands)
            assert scene["dn"].dtype == np.uint8
            share = float((scene["label"] == 1).sum() / (scene["label"] != 255).sum())
            assert 0.02 < share < 0.9, (scene.attrs["wrs2"], share)


@slow
def test_inventory_labels_agree_with_the_simulated_truth(examples):
    alps, scenes, _ = examples["level1"]
    for entry, scene in zip(alps.scenes["training"], scenes):
        with rasterio.open(next(entry.path.glob("*_LABEL.TIF"))) as src:  # the simulator's truth, beside the bands
            truth = src.read(1)
        label = scene["label"].values
        both = (truth != 255) & (label != 255)
        assert (truth[both] == label[both]).mean() > 0.95


@slow
def test_the_inventory_is_rgi7_like(examples):
    path = examples["geotiff"][0].inventory
    raw = gpd.read_file(path)
    assert raw.crs.to_epsg() == 4326
    assert {"rgi_id", "glims_id", "src_date", "area_km2"} <= set(raw.columns)
    outlines = inventory.read_inventory(path)
    assert set(outlines["inventory"]) == {"RGI7"}
    assert outlines["source_date"].dt.year.eq(2008).all()
    assert (outlines["area_km2"] >= example_study.MIN_GLACIER_KM2).all()
    projected = raw.to_crs("EPSG:32632")
    assert np.allclose(projected.area / 1e6, raw["area_km2"], rtol=1e-3)


@slow
def test_tiles_prepare_with_every_split_filled(examples):
    for kind in KINDS:
        alps, _, dataset = examples[kind]
        assert dataset.rio.crs.to_epsg() == 32632 and list(dataset["band"].values) == list(alps.bands)
        scene1 = tiles.split_indices(dataset, "scene1_grouped")
        scene2 = tiles.split_indices(dataset, "scene2")
        assert set(scene2) == {"train", "validation", "test_1", "test_2"}
        assert all(len(index) for index in (*scene1.values(), *scene2.values())), (scene1, scene2)
        assert tiles.held_out_areas(dataset) == {"test": "scene_1", "test_1": "central", "test_2": "east"}
        assert set(dataset["area"].values[scene2["train"]]) == {"west"}


@slow
def test_a_period_reads_on_the_same_grid(examples):
    for kind in KINDS:
        alps = examples[kind][0]
        scenes = sources.study_scenes(alps, "2019-2021")
        assert sorted(s.attrs["area"] for s in scenes) == ["central", "central", "east", "east", "west", "west"]
        assert all(s["dn"].rio.crs.to_epsg() == 32632 and (s["label"] == 1).any() for s in scenes)
        # Level-1 OLI comes back as the TM-equivalent DN the networks learned (uint8 range), like the earlier periods
        if kind == "level1":
            assert all(s["dn"].dtype == np.uint8 and s.attrs.get("harmonised_from") == "OLI" for s in scenes)
        if kind == "geotiff":  # OLI turned into TM-equivalent uint8 DN, SLC-off fill as no data
            for entry, scene in zip(alps.scenes["2019–2021"], scenes):
                with rasterio.open(entry.path) as src:
                    dn = src.read()
                assert dn.dtype == np.uint8 and 0 < dn.max() <= 255
                fill = (scene["dn"].values == 0).any(axis=0)
                assert (scene["label"].values[fill] == 255).all()


@slow
def test_slc_off_stripes_only_on_the_periods_after_may_2003(examples):
    alps = examples["geotiff"][0]

    def fill_share(entry):
        with rasterio.open(entry.path) as src:
            return float((src.read(1) == 0).mean())

    frame_only = max(fill_share(e) for e in alps.scenes["1986–1988"])  # the tilted frame's corners
    assert all(fill_share(e) <= frame_only + 0.01 for e in alps.scenes["training"])
    assert all(fill_share(e) > frame_only + 0.05 for e in alps.scenes["2019–2021"])


@slow
def test_the_mtl_follows_the_relocated_grid(examples):
    alps = examples["level1"][0]
    folder = alps.scenes["training"][0].path
    mtl = landsat.flatten_mtl(landsat.read_mtl(next(folder.glob("*_MTL.txt"))))
    scene = landsat.read_scene(folder, chunks=None)
    transform = scene["dn"].rio.transform()
    assert scene["dn"].rio.crs.to_epsg() == 32632 and int(mtl["UTM_ZONE"]) == 32
    assert (float(mtl["CORNER_UL_PROJECTION_X_PRODUCT"]), float(mtl["CORNER_UL_PROJECTION_Y_PRODUCT"])) == \
        (transform.c, transform.f)
    assert scene.attrs["wrs2"] in example_study.ALPS_WRS2.values()
    assert 400_000 < transform.c < 500_000 and 5_000_000 < transform.f < 5_200_000


def test_a_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not empty.*overwrite=True"):
        synthetic.write_example_study(tmp_path, kind="geotiff")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="kind='jpeg'"):
        synthetic.write_example_study(tmp_path / "new", kind="jpeg")


def test_the_command_line_has_help(capsys):
    with pytest.raises(SystemExit) as stop:
        example_study.main(["-h"])
    assert stop.value.code == 0 and "--kind" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# A period of the study as notebook 05 maps it (glacier_utils.study_periods)
# --------------------------------------------------------------------------------------------
@slow
def test_a_period_of_files_is_listed_from_headers_with_frames_and_subareas(examples):
    for kind in KINDS:
        alps = examples[kind][0]
        table = study_periods.study_acquisitions(alps, 0, example_study.EXAMPLE_CRS)
        assert len(table) == 6 and table["wrs2"].nunique() == 6
        assert sorted(table["area"]) == ["central", "central", "east", "east", "west", "west"]
        assert table["date"].dt.year.between(1986, 1988).all()
        if kind == "level1":  # the MTL names the frame and its cloud cover
            assert set(table["wrs2"]) <= set(example_study.ALPS_WRS2.values())
            assert table["cloud_cover"].notna().all() and set(table["sensor"]) == {"TM"}
        else:  # a plain GeoTIFF: its footprint's centre names the frame; no cloud cover without an MTL
            assert table["wrs2"].str.fullmatch(r"E\d+N\d+").all() and table["cloud_cover"].isna().all()
        boxes = study_periods.footprints(table, example_study.EXAMPLE_CRS)
        assert len(boxes) == 6 and boxes.crs.to_epsg() == 32632
        later = study_periods.study_acquisitions(alps, 3, example_study.EXAMPLE_CRS)
        assert set(later["wrs2"]) == set(table["wrs2"])  # the same frames through time: one mosaic grid


@slow
def test_the_study_loader_reads_an_acquisition_as_the_networks_saw_the_training_images(examples):
    from glacier_utils import acquisitions

    for kind in KINDS:
        alps = examples[kind][0]
        row = study_periods.study_acquisitions(alps, 3, "EPSG:32632").iloc[0].to_dict()
        loader = study_periods.StudyLoader(alps, "EPSG:32632")
        scene = pickle.loads(pickle.dumps(loader))(row)  # a dask.distributed worker gets a copy
        assert list(scene["dn"]["band"].values) == list(alps.bands) and scene["dn"].dtype == np.uint8
        assert scene["dn"].rio.crs.to_epsg() == 32632
        clear = acquisitions.clear_pixels(scene)
        reference = study_periods.reference_inventory(alps, "EPSG:32632", study_periods.footprints(
            pd.DataFrame([row]), "EPSG:32632"))
        scores = acquisitions.score_scene(scene, reference)
        if kind == "level1":  # QA_PIXEL masks cloud and fill; TM2 and TM5 give the ring's snow
            assert "qa" in scene and 0 < clear.mean() < 1 and np.isfinite(scores["snow_fraction"])
        else:  # no QA band: fill (the SLC-off stripes) is all that is masked; no SWIR1, so no snow score
            assert "qa" not in scene and np.isnan(scores["snow_fraction"])
            assert (~clear).any() and not (~clear & (scene["dn"] != 0).all("band").values).any()
        assert 0 <= scores["cloud_fraction"] <= 1


@slow
def test_the_reference_inventory_of_a_study_is_on_its_grid_with_subareas(examples):
    alps = examples["geotiff"][0]
    tables = [study_periods.study_acquisitions(alps, p, "EPSG:32632") for p in range(len(alps.periods))]
    reference = study_periods.reference_inventory(alps, "EPSG:32632",
                                                  study_periods.footprints(pd.concat(tables), "EPSG:32632"))
    assert reference.crs.to_epsg() == 32632 and len(reference) > 10
    assert reference["glacier_id"].str.startswith("RGI2000-v7.0-G-11-").all() and reference["glacier_id"].is_unique
    assert set(reference["subarea"]) == set(alps.subareas)
    np.testing.assert_allclose(reference["area_km2"], reference.area / 1e6)
    assert study_periods.inventory_period(reference, alps.periods) == (2, 2008)  # 2010-2012 is nearest to 2008
