"""The study: its vocabulary, its artefacts by name (runs), and the study as a value from a TOML file."""

from __future__ import annotations

import pandas as pd
import pytest

from glacier_utils import config, runs, study
from glacier_utils.errors import DataError


def test_every_artefact_lives_under_the_profiles_run_folder(data_dir):
    paths = runs.RunPaths("smoke")
    root = data_dir / "runs" / "thr" / "smoke"
    assert paths.root == root
    assert runs.RunPaths("smoke", "alps").root == data_dir / "runs" / "alps" / "smoke"
    assert paths.tiles == root / "tiles.zarr"
    assert paths.table_ii.parent == root and paths.changes.parent == root / "timeseries"
    assert paths.period_mask(0).name == "mask_1986_1988.tif"
    assert paths.period_mask(11).name == "mask_2019_2021.tif"
    assert paths.training_run("unet", "scene2", 3) == root / "models" / "scene2" / "unet_seed3"


def test_every_artefact_a_notebook_reads_names_its_writer():
    assert set(runs.RunPaths.WRITERS) <= {name for name in dir(runs.RunPaths) if not name.startswith("_")}


def test_a_missing_artefact_names_the_notebook_to_run(data_dir):
    with pytest.raises(FileNotFoundError, match="02_band_ratio_threshold_sweep.*04_scene_comparison"):
        runs.RunPaths("smoke").require("table_ii", "scores")


def test_an_unknown_profile_or_model_is_refused(data_dir):
    with pytest.raises(ValueError, match="unknown profile"):
        runs.RunPaths("huge")
    with pytest.raises(ValueError, match="m_landsnet"):
        runs.RunPaths("smoke").training_run("segformer", "scene2", 0)


def test_tables_and_records_round_trip(tmp_path):
    table = pd.DataFrame({"area": ["training", "total"], "km2": [1.5, 2.25]})
    for name in ("t.csv", "t.parquet"):
        runs.write_table(tmp_path / name, table)
        pd.testing.assert_frame_equal(runs.read_table(tmp_path / name), table)
    runs.write_json(tmp_path / "r.json", {"threshold": 3.1})
    assert runs.read_json(tmp_path / "r.json") == {"threshold": 3.1}
    with pytest.raises(ValueError, match="csv or .parquet"):
        runs.write_table(tmp_path / "t.xlsx", table)


def test_labels_cover_every_test_set_area():
    assert {study.area_label(a) for a in study.TEST_SET_AREAS.values()} == {
        "Scene 1", *(config.AREA_LABELS[a] for a in config.TESTING_AREAS)}
    assert set(study.SCENE_EXPERIMENTS.values()) <= set(study.EXPERIMENTS)


# --------------------------------------------------------------------------------------------
# The study as a value
# --------------------------------------------------------------------------------------------
def test_the_papers_study_file_owns_the_thr_constants():
    thr = study.load_study("thr")
    assert thr.subarea_frames == config.AREA_SCENES and thr.subarea_labels == config.AREA_LABELS
    assert thr.periods == config.PERIODS and thr.crs == config.STUDY_CRS
    assert thr.training_subarea == "training" and thr.testing_subareas == config.TESTING_AREAS
    assert thr.bands == config.BAND_NUMBERS and thr.has_band_ratio and thr.band_ratio_note() == ""
    assert study.load_study(thr) is thr


def _write_study(tmp_path, text: str):
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame({"region": ["west", "east"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
                     crs="EPSG:32632").to_file(tmp_path / "outlines.gpkg")
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir(exist_ok=True)
    path = tmp_path / "alps.toml"
    path.write_text(text)
    return path


ALPS = """
name = "alps"
source = "local"
crs = "EPSG:32632"
bands = [1, 2, 3, 4]
periods = [[1990, 1992], [2019, 2021]]
inventory = "outlines.gpkg"
[subareas]
file = "outlines.gpkg"
column = "region"
[roles]
training = "west"
[scenes]
training = ["a"]
"1990-1992" = ["b"]
"2019-2021" = ["c"]
"""


def test_a_users_study_file_reads_with_paths_relative_to_it(tmp_path):
    alps = study.load_study(_write_study(tmp_path, ALPS))
    assert alps.name == "alps" and alps.crs == "EPSG:32632" and alps.periods == ((1990, 1992), (2019, 2021))
    assert alps.subarea_polygons == (tmp_path / "outlines.gpkg", "region")
    assert alps.subareas == ("west", "east") and alps.testing_subareas == ("east",)
    assert alps.scenes["1990–1992"] == (study.SceneEntry(tmp_path / "b"),) and alps.inventory == tmp_path / "outlines.gpkg"
    assert not alps.has_band_ratio
    assert "TM band 5" in alps.band_ratio_note() and "skipped" in alps.band_ratio_note()


@pytest.mark.parametrize("change, message", [
    (("crs = \"EPSG:32632\"", "crs = \"EPSG:32632\"\ntile = 3"), r"unknown key\(s\) \['tile'\]"),
    (("name = \"alps\"", ""), "required key 'name'"),
    (("bands = [1, 2, 3, 4]", "bands = [1, 2, 9]"), r"bands \[1, 2, 9\]"),
    (("[[1990, 1992], [2019, 2021]]", "[[1990, 1992], [1991, 1993]]"), "overlaps or precedes"),
    (("training = \"west\"", "training = \"west\"\ntesting = \"east\""), r"\[roles\] must name the training"),
    (("\"2019-2021\" = [\"c\"]", ""), r"period\(s\) \['2019-2021'\] have no acquisition"),
    (("inventory = \"outlines.gpkg\"", ""), "needs inventory"),
    (("crs = \"EPSG:32632\"", "crs = \"EPSG:99999999\""), "is not a CRS pyproj knows"),
    (("training = [\"a\"]", "training = [\"missing_folder\"]"), "missing_folder does not exist"),
    (("source = \"local\"", "source = \"usb\""), "choose one of synthetic, local, stac"),
    (("column = \"region\"", "column = \"zone\""), "subareas.column = 'zone' is not a column of outlines.gpkg"),
    (("training = \"west\"", "training = \"north\""), "roles.training = 'north' is not a subarea"),
    (("periods = ", "periods = = "), "not valid TOML"),
])
def test_a_bad_study_file_names_the_file_and_what_to_change(tmp_path, change, message):
    path = _write_study(tmp_path, ALPS.replace(*change))
    with pytest.raises(DataError, match=message) as caught:
        study.load_study(path)
    assert str(path.name) in str(caught.value)


def test_wrs2_subareas_are_checked(tmp_path):
    text = ALPS.replace('[subareas]\nfile = "outlines.gpkg"\ncolumn = "region"',
                        '[subareas.west]\nwrs2 = ["195028"]\n[subareas.east]\nwrs2 = ["195028", "194028"]')
    with pytest.raises(DataError, match=r"\['195028'\] belong to more than one subarea"):
        study.load_study(_write_study(tmp_path, text))
    with pytest.raises(DataError, match="roles.training = 'north' is not a subarea"):
        study.load_study(_write_study(tmp_path, text.replace('"195028", "194028"', '"194028"').replace(
            'training = "west"', 'training = "north"')))


def test_an_unknown_study_name_lists_the_packaged_ones():
    with pytest.raises(DataError, match=r"one of \['thr'\]"):
        study.load_study("andes")


GEOTIFF_IMAGES = """
[images]
kind = "geotiff"
band_map = {1 = 1, 2 = 2, 3 = 3, 4 = 4}
unit = "dn"
sensor = "ETM"
"""


def test_plain_geotiff_studies_declare_the_band_map_unit_and_dates(tmp_path):
    text = (ALPS.replace('training = ["a"]', 'training = [{path = "a", date = "2005-08-10"}]')
            .replace('"1990-1992" = ["b"]', '"1990-1992" = [{path = "b", date = "1991-08-02"}]')
            .replace('"2019-2021" = ["c"]', '"2019-2021" = [{path = "c", date = "2020-09-01"}]') + GEOTIFF_IMAGES)
    alps = study.load_study(_write_study(tmp_path, text))
    assert alps.images == study.ImageFormat(kind="geotiff", band_map={1: 1, 2: 2, 3: 3, 4: 4}, unit="dn", sensor="ETM")
    assert alps.scenes["training"] == (study.SceneEntry(tmp_path / "a", "2005-08-10"),)


@pytest.mark.parametrize("change, message", [
    (("", ""), "is a plain GeoTIFF \\(no MTL\\): give its date"),
    (('unit = "dn"', 'unit = "radiance"'), "images.unit = 'radiance'"),
    (('band_map = {1 = 1, 2 = 2, 3 = 3, 4 = 4}', 'band_map = {1 = 1, 2 = 8}'), "distinct TM-equivalent bands"),
    (('band_map = {1 = 1, 2 = 2, 3 = 3, 4 = 4}\n', ''), "needs band_map"),
    (('kind = "geotiff"', 'kind = "level1"'), "reads bands and units from the MTL"),
    (('sensor = "ETM"', 'sensor = "ETM"\nband_files = ["*_B1.tif"]'), "band_files lists 1 files"),
])
def test_a_bad_images_table_names_the_key_to_change(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        study.load_study(_write_study(tmp_path, ALPS + GEOTIFF_IMAGES.replace(*change)))
