"""The book on a study from files alone (issue 15, item 5): every page the run command runs for it.

The simulator writes the Alpine-like example study to disk, once as Collection-2 Level-1 folders (MTL +
QA_PIXEL, all seven bands) and once as 4-band GeoTIFFs without MTL; the run command then executes every
page it can run in the smoke profile, as `make book STUDY=<file> PROFILE=smoke` would, into a tree of its
own: notebooks 01 (02 where the study has TM3 and TM5), 03, 04, 05 (the study's four periods mapped from
the images its file lists, against its own inventory) and the results page. Notebook 04 compares M-LandsNet alone with the baseline (the band ratio, or the brightness threshold where
the study has no TM5), without the paper's-split experiment, to keep the run short; every other network
takes the same path.
"""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from glacier_utils import outlines, runs, synthetic
from glacier_utils.study import load_study
from tools import pipeline

pytestmark = pytest.mark.slow


def _run_book(kind: str, folder, monkeypatch):
    """Write the example study, run every page the study can run on it; returns (study, run paths, executed runs)."""
    monkeypatch.setenv("GLACIER_DATA_DIR", str(folder / "data"))
    study_file = synthetic.write_example_study(folder / f"alps-{kind}", kind=kind, profile="smoke")
    todo = pipeline.plan("smoke", pages_only=True, study=study_file, executed_dir=folder / "executed")
    todo = [dataclasses.replace(r, parameters={**r.parameters, "models": ["m_landsnet"], "leak_models": []})
            if r.source.stem.startswith("04_") else r for r in todo]
    pipeline.execute(todo)
    study = load_study(study_file)
    return study, runs.RunPaths("smoke", study.name), todo


def _printed(run) -> str:
    """Everything the executed notebook printed."""
    notebook = nbformat.read(run.output, as_version=4)
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("kind", ["level1", "geotiff"])
def test_every_page_runs_on_a_study_from_files(kind, tmp_path, monkeypatch):
    study, paths, done = _run_book(kind, tmp_path, monkeypatch)
    pages = [r.source.stem for r in done]
    assert ("02_band_ratio_threshold_sweep" in pages) == (kind == "level1")  # the GeoTIFFs have no TM5
    assert pages[-2:] == ["05_time_series_1986_2021", "results"]
    assert paths.root == tmp_path / "data" / "runs" / study.name / "smoke"
    assert paths.tiles.exists()
    assert f"study {study.name!r}" in _printed(done[0])

    scores = runs.read_table(paths.scores)
    assert set(scores.area) == {"scene_1", *study.testing_subareas}
    baseline = "band_ratio" if kind == "level1" else "brightness"
    assert set(scores.method) == {baseline, "m_landsnet"}
    assert paths.band_ratio_choice.exists() == (kind == "level1")
    assert runs.read_json(paths.preparation_record)["study"] == study.name
    assert f"results of study {study.name!r}" in _printed(done[-1])

    # notebook 05: every period of the study mapped from its files, per subarea, outlines carrying the RGI ids
    mapped = _printed(done[-2])
    assert "there is no truth to check against" in mapped and "4 periods mapped" in mapped
    assert "every outline carries a reference glacier id: True" in mapped
    areas = runs.read_table(paths.areas)
    assert sorted(areas.period.unique()) == [0, 1, 2, 3] and set(areas.area) == {*study.subareas, "total"}
    assert (areas.query("area == 'total'").area_km2 > 0).all()
    layers = outlines.read_outlines_gpkg(paths.outlines)
    assert set(layers.period_label) == set(study.period_labels) and layers.crs.to_epsg() == 32632
    assert layers.reference_id.str.startswith("RGI2000-v7.0-G-11-").all()
    changes = runs.read_table(paths.changes)
    assert set(changes.interval) == {"1986–2000", "2000–2021", "1986–2021"}
    summary = runs.read_json(paths.timeseries_summary)
    assert summary["study"] == study.name and "truth_within" not in summary
