"""Figure helpers: composites, error classes and overlays."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import xarray as xr

from glacier_utils import config, plots


def _dn(values_by_band: dict[int, np.ndarray]) -> xr.DataArray:
    shape = next(iter(values_by_band.values())).shape
    data = np.stack([values_by_band.get(b, np.zeros(shape)) for b in config.BAND_NUMBERS]).astype("uint8")
    return xr.DataArray(data, dims=("band", "y", "x"), coords={"band": list(config.BAND_NUMBERS)},
                        attrs={"nodata": 0})


def test_false_colour_puts_band_7_in_red_4_in_green_3_in_blue():
    ramp = np.tile(np.arange(1, 101, dtype=float), (4, 1))
    rgb = plots.false_colour(_dn({7: ramp, 4: 101 - ramp, 3: np.full_like(ramp, 50) + (ramp > 50)}))
    assert rgb.shape == (4, 100, 3)
    assert rgb[0, -1, 0] == 1.0 and rgb[0, 0, 0] == 0.0  # red rises with band 7
    assert rgb[0, 0, 1] == 1.0 and rgb[0, -1, 1] == 0.0  # green falls with band 4


def test_false_colour_blacks_out_nodata_and_ignores_it_in_the_stretch():
    ramp = np.tile(np.arange(1, 101, dtype=float), (2, 1))
    ramp[:, :10] = 0  # nodata in every band
    rgb = plots.false_colour(_dn({b: ramp for b in config.BAND_NUMBERS}))
    assert np.all(rgb[:, :10] == 0)
    assert rgb[:, 10:, 0].min() == pytest.approx(0.0, abs=0.03)  # stretch starts at the valid minimum


def test_error_classes_mark_tp_fp_fn_and_skip_unknown_truth():
    pred = np.array([[1, 1, 0, 0, 1]])
    truth = np.array([[1, 0, 1, 0, 255]])
    assert plots.error_classes(pred, truth).tolist() == [[1, 2, 3, 0, 0]]


def test_error_overlay_paints_false_positives_red_and_false_negatives_yellow():
    base = np.zeros((1, 3, 3), "float32")
    out = plots.error_overlay(base, np.array([[1, 0, 0]]), np.array([[0, 1, 0]]), alpha=1.0)
    assert tuple(out[0, 0]) == pytest.approx(plots.ERROR_COLOURS["false positive"])
    assert tuple(out[0, 1]) == pytest.approx(plots.ERROR_COLOURS["false negative"])
    assert tuple(out[0, 2]) == (0, 0, 0)


def test_error_map_figure_has_one_panel_per_method_plus_the_composite():
    base = np.random.default_rng(0).random((16, 16, 3)).astype("float32")
    truth = np.zeros((16, 16), "uint8")
    truth[4:10, 4:10] = 1
    fig = plots.plot_error_maps(base, truth, {"a": truth, "b": 1 - truth}, ncols=2)
    assert sum(ax.get_visible() for ax in fig.axes) == 3


def test_a_study_without_swir_gets_the_best_composite_its_bands_allow():
    import xarray as xr

    assert plots.composite_bands([1, 2, 3, 4, 5, 6, 7]) == (7, 4, 3)
    assert plots.composite_bands([1, 2, 3, 4]) == (4, 3, 2)
    assert plots.composite_bands([1, 2, 3]) == (3, 2, 1)
    dn = xr.DataArray(np.arange(4 * 6 * 6, dtype="uint8").reshape(4, 6, 6), dims=("band", "y", "x"),
                      coords={"band": [1, 2, 3, 4]})
    rgb = plots.false_colour(dn)
    assert rgb.shape == (6, 6, 3) and 0 <= rgb.min() and rgb.max() <= 1
    np.testing.assert_array_equal(rgb, plots.false_colour(dn, bands=(4, 3, 2)))
