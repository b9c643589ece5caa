"""Scenes from each source arrive in the shared contract, labelled on the study grid."""

from __future__ import annotations

import numpy as np
import pytest

from glacier_utils import config, outlines, synthetic
from glacier_utils.io import sources
from glacier_utils.errors import DataError


@pytest.fixture(scope="module")
def smoke_region():
    return synthetic.generate_region("smoke", seed=5)


def test_synthetic_source_gives_the_table_i_acquisitions_labelled():
    scenes = sources.training_scenes("synthetic", "smoke", seed=5)
    assert [(s.attrs["wrs2"], s.attrs["date"]) for s in scenes] == synthetic.training_acquisitions()
    assert all(s["label"].dtype == np.uint8 and s.attrs["area"] in config.AREAS for s in scenes)


def test_local_source_reads_level1_files_and_rasterises_the_inventory_back_to_the_truth(tmp_path, smoke_region):
    scene = synthetic.simulate_scene(smoke_region, "137037", "2007-09-19")
    folder = synthetic.write_level1(scene, tmp_path / "scene")
    truth = scene["label"].where(scene["label"] == 1, 0).astype("uint8").rio.write_crs(config.STUDY_CRS)
    glaciers = outlines.mask_to_polygons(truth, min_area_km2=0)
    inventory = tmp_path / "inventory.gpkg"
    glaciers.to_crs("EPSG:4326").to_file(inventory)  # a geographic inventory, as RGI ships
    (local,) = sources.local_scenes([folder], inventory)
    assert local.attrs["wrs2"] == "137037" and local.attrs["area"] == "training"
    np.testing.assert_array_equal(local["dn"].values, scene["dn"].values)
    known = scene["label"].values != 255
    agreement = (local["label"].values[known] == scene["label"].values[known]).mean()
    assert agreement > 0.99


def test_local_source_lets_the_user_regroup_scenes_into_areas(tmp_path, smoke_region):
    scene = synthetic.simulate_scene(smoke_region, "137037", "2007-09-19")
    folder = synthetic.write_level1(scene, tmp_path / "scene")
    truth = scene["label"].where(scene["label"] == 1, 0).astype("uint8").rio.write_crs(config.STUDY_CRS)
    inventory = tmp_path / "inventory.gpkg"
    outlines.mask_to_polygons(truth, min_area_km2=0).to_file(inventory)
    (local,) = sources.local_scenes([folder], inventory, areas={"137037": "testing_2"})
    assert local.attrs["area"] == "testing_2"


def test_bad_source_parameters_say_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="unknown source 'usgs'"):
        sources.training_scenes("usgs")
    with pytest.raises(ValueError, match="scene_paths"):
        sources.training_scenes("local", inventory_path=str(tmp_path / "x.gpkg"))
    with pytest.raises(DataError, match="inventory"):
        sources.local_scenes([tmp_path], tmp_path / "missing.gpkg")
    with pytest.raises(ValueError, match="stac_catalog"):
        sources.training_scenes("stac")
