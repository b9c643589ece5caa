"""Tests of the simulated Landsat archive (`glacier_utils.synthetic.archive`) and its QA_PIXEL band."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from glacier_utils import config, paper
from glacier_utils import synthetic as syn
from glacier_utils.io import landsat


@pytest.fixture(scope="module")
def smoke_region():
    return syn.generate_region("smoke", seed=3)


@pytest.fixture(scope="module")
def archives(smoke_region):
    return {p: syn.period_acquisitions(smoke_region, p) for p in range(len(config.PERIODS))}


# ---- the WRS-2 cycle -----------------------------------------------------------------------
def test_adjacent_paths_are_seven_days_apart_on_the_cycle():
    paths = sorted(syn.CYCLE_ANCHORS)
    for p in paths[:-1]:
        assert (syn.cycle_phase(p + 1) - syn.cycle_phase(p)) % syn.WRS2_REPEAT_DAYS == syn.WRS2_PATH_STEP_DAYS


def test_paper_dates_fall_on_the_cycle_except_the_known_misprints():
    for image in paper.table_i_images().itertuples():
        assert syn.on_wrs2_cycle(image.wrs2, image.date), (image.wrs2, image.date)
    table_iv = paper.table_iv().dropna(subset=["date"])
    off = {(w, d) for _, w, d in paper.TABLE_IV_OFF_CYCLE_DATES}
    found = {(r.wrs2, r.date.date().isoformat()) for r in table_iv.itertuples()
             if not syn.on_wrs2_cycle(r.wrs2, r.date)}
    assert found == off
    # TM and OLI share the phase: the post-2013 Table IV images are on it too.
    assert (table_iv["date"].dt.year >= 2013).sum() > 20


# ---- the listing ---------------------------------------------------------------------------
def test_archive_dates_are_on_cycle_in_summer_windows_of_the_period(archives):
    for period, archive in archives.items():
        assert list(archive.columns) == list(syn.ARCHIVE_COLUMNS)
        first, last = config.PERIODS[period]
        assert archive["date"].dt.year.between(first, last).all()
        assert archive["date"].dt.month.isin(syn.ARCHIVE_MONTHS).all()
        assert (archive["period"] == period).all()
        for row in archive.itertuples():
            assert syn.on_wrs2_cycle(row.wrs2, row.date)
        gaps = archive.groupby(["wrs2", archive["date"].dt.year])["date"].diff().dropna().dt.days
        assert (gaps == syn.WRS2_REPEAT_DAYS).all()
        assert archive["id"].is_unique


def test_sensor_eras(archives):
    every = pd.concat(archives.values())
    years = every["date"].dt.year
    assert (years[every["sensor"] == "TM"] <= 2011).all()
    assert (years[every["sensor"] == "OLI"] >= 2013).all()
    assert not (years == 2012).any()
    assert set(every["sensor"]) == {"TM", "OLI"}
    assert every["id"].str[:4].map({"LT05": "TM", "LC08": "OLI"}).equals(every["sensor"])


def test_a_dozen_or_more_acquisitions_per_frame_and_period(archives):
    counts = pd.concat(archives.values()).groupby(["period", "wrs2"]).size()
    assert len(counts) == len(config.PERIODS) * len(config.WRS2_IDS)
    assert counts.mean() >= 12
    assert counts.min() >= 12  # even 2010-2012, with TM in 2010-2011 only


def test_same_seed_same_archive_other_seed_other_clouds(smoke_region, archives):
    again = syn.generate_region("smoke", seed=3)
    pd.testing.assert_frame_equal(syn.period_acquisitions(again, 4), archives[4])
    other = syn.generate_region("smoke", seed=4)
    b = syn.period_acquisitions(other, 4)
    pd.testing.assert_frame_equal(b.drop(columns="cloud_cover"), archives[4].drop(columns="cloud_cover"))
    assert (b["cloud_cover"] != archives[4]["cloud_cover"]).mean() > 0.9


def test_cloud_cover_is_mostly_clear_with_a_long_tail_and_area_3_cloudiest(archives):
    every = pd.concat(archives.values())
    cc = every["cloud_cover"]
    assert cc.between(0, 100).all()
    assert cc.median() < 25 and (cc < 10).mean() > 0.3
    assert 0.08 < (cc > 60).mean() < 0.35 and cc.max() > 90
    by_area = every.groupby("area")["cloud_cover"].mean()
    assert by_area.idxmax() == "testing_3"
    assert by_area["testing_3"] > by_area["training"] + 10


def test_table_i_images_keep_their_cloud_cover(smoke_region, archives):
    archive = archives[config.period_of_year(2007)]
    row = archive[(archive["wrs2"] == "137036") & (archive["date"] == "2007-09-19")]
    assert row["cloud_cover"].tolist() == [0.0]
    row = archive[(archive["wrs2"] == "134037") & (archive["date"] == "2007-09-30")]
    assert row["cloud_cover"].tolist() == [syn.AREA3_CLOUD_COVER["134037"]]


def test_simulate_scene_defaults_to_the_listed_cloud_cover(smoke_region, archives):
    row = archives[10].iloc[17]
    assert syn.archive_cloud_cover(smoke_region, row.wrs2, row.date) == row.cloud_cover
    a = syn.simulate_scene(smoke_region, row.wrs2, row.date)
    b = syn.simulate_scene(smoke_region, row.wrs2, row.date.date().isoformat(), row.sensor, row.cloud_cover)
    np.testing.assert_array_equal(a.dn.values, b.dn.values)
    assert a.attrs["sensor"] == row.sensor and a.attrs["date"] == row.date.date().isoformat()


def test_truth_depends_only_on_the_period(smoke_region, archives):
    archive = archives[9]
    rows = archive[archive["wrs2"] == "138037"].iloc[[0, -1]]
    labels = [syn.simulate_scene(smoke_region, r.wrs2, r.date, r.sensor, r.cloud_cover).label.values
              for r in rows.itertuples()]
    np.testing.assert_array_equal(labels[0], labels[1])


# ---- the pick for notebook 05 --------------------------------------------------------------
def test_select_acquisitions_picks_one_least_cloudy_per_frame(archives):
    archive = archives[5]
    chosen = syn.select_acquisitions(archive)
    assert list(chosen["wrs2"]) == list(config.WRS2_IDS)
    assert list(chosen.columns) == list(archive.columns)
    least = archive.groupby("wrs2")["cloud_cover"].min()
    assert (chosen.set_index("wrs2")["cloud_cover"] <= least + 2.0).all()
    strict = syn.select_acquisitions(archive, cloud_tolerance=0.0)
    assert (strict.set_index("wrs2")["cloud_cover"] == least).all()


def test_select_acquisitions_breaks_ties_towards_the_end_of_the_ablation_season():
    archive = pd.DataFrame({
        "wrs2": ["137036"] * 4, "date": pd.to_datetime(["2007-07-02", "2007-08-19", "2007-09-20", "2007-10-06"]),
        "cloud_cover": [0.0, 1.5, 1.0, 50.0], "period": [7] * 4,
    })
    assert syn.select_acquisitions(archive)["date"].tolist() == [pd.Timestamp("2007-08-19")]
    assert syn.select_acquisitions(archive, cloud_tolerance=0)["date"].tolist() == [pd.Timestamp("2007-07-02")]
    with pytest.raises(ValueError, match="cloud_tolerance"):
        syn.select_acquisitions(archive, cloud_tolerance=-1)
    with pytest.raises(ValueError, match="cloud_cover"):
        syn.select_acquisitions(archive.drop(columns="cloud_cover"))


# ---- QA_PIXEL ------------------------------------------------------------------------------
def _bits(qa, first, n=1):
    return (qa >> first) & ((1 << n) - 1)


@pytest.fixture(scope="module")
def cloudy_scenes(smoke_region):
    # A cloudy TM scene of the training area and a cloudy OLI scene of testing area 2.
    return [syn.simulate_scene(smoke_region, "137037", "2007-08-18", cloud_cover=45.0),
            syn.simulate_scene(smoke_region, "133036", "2016-08-20", cloud_cover=45.0)]


def test_qa_bits_agree_with_the_truth(cloudy_scenes):
    from glacier_utils.synthetic.level1 import _qa_pixel

    codes = config.CLOUD_CODES
    for scene in cloudy_scenes:
        qa = _qa_pixel(scene)
        cloud, surface = scene.cloud.values, scene.surface.values
        fill = scene.label.values == config.LABEL_NODATA
        thick, thin = cloud == codes["thick_cloud"], cloud == codes["thin_cloud"]
        shadow = cloud == codes["cloud_shadow"]
        assert thick.any() and thin.any() and shadow.any() and fill.any()
        assert (qa[fill] == 1).all()
        np.testing.assert_array_equal(_bits(qa, 0) == 1, fill)
        np.testing.assert_array_equal(_bits(qa, 3) == 1, thick)
        np.testing.assert_array_equal(_bits(qa, 4) == 1, shadow)
        np.testing.assert_array_equal(_bits(qa, 8, 2) == 3, thick)
        np.testing.assert_array_equal(_bits(qa, 8, 2) == 2, thin)
        np.testing.assert_array_equal(_bits(qa, 10, 2) == 3, shadow)
        snow = np.isin(surface, [config.SURFACE_CODES[n] for n in ("seasonal_snow", "clean_ice", "firn")]) & ~thick
        assert snow.any()
        np.testing.assert_array_equal(_bits(qa, 5) == 1, snow)
        np.testing.assert_array_equal(_bits(qa, 12, 2) == 3, snow)
        dilated = _bits(qa, 1) == 1
        assert dilated.any() and not (dilated & (thick | fill)).any()
        np.testing.assert_array_equal(_bits(qa, 6) == 1, ~fill & ~thick & ~dilated)
        cirrus_conf = _bits(qa, 14, 2)
        assert (cirrus_conf[~fill] == (1 if scene.attrs["sensor"] == "OLI" else 0)).all()
        assert not _bits(qa, 2).any()


def test_qa_pixel_reads_back_through_landsat_qa_masks(tmp_path, cloudy_scenes):
    for i, scene in enumerate(cloudy_scenes):
        folder = tmp_path / str(i)
        syn.write_level1(scene, folder)
        qa = landsat.read_qa(next(folder.glob("*_QA_PIXEL.TIF")))
        assert qa.attrs["qa_kind"] == "collection2"
        masks = landsat.qa_masks(qa).compute()
        cloud, fill = scene.cloud.values, scene.label.values == config.LABEL_NODATA
        np.testing.assert_array_equal(masks["fill"].values, fill)
        np.testing.assert_array_equal(masks["cloud"].values, cloud == config.CLOUD_CODES["thick_cloud"])
        np.testing.assert_array_equal(masks["cloud_shadow"].values, cloud == config.CLOUD_CODES["cloud_shadow"])
        snow = np.isin(scene.surface.values, [config.SURFACE_CODES[n] for n in ("seasonal_snow", "clean_ice", "firn")])
        np.testing.assert_array_equal(masks["snow"].values, snow & (cloud != config.CLOUD_CODES["thick_cloud"]))
        medium = landsat.qa_masks(qa, confidence="medium")
        assert medium["snow"].values.sum() == masks["snow"].values.sum()


def test_archive_rejects_bad_input(smoke_region):
    with pytest.raises(ValueError, match="period"):
        syn.period_acquisitions(smoke_region, 12)
    with pytest.raises(ValueError, match="wrs2"):
        syn.archive_dates("140036", 2007)
    assert syn.archive_dates("137036", 2012) == []
    assert syn.archive_sensor(2012) is None and syn.archive_sensor(2011) == "TM" and syn.archive_sensor(2013) == "OLI"
    assert all(d.month in syn.ARCHIVE_MONTHS for d in syn.archive_dates("137036", 2007))
    assert dt.date(2007, 9, 19) in syn.archive_dates("137036", 2007)
