"""Figures shared by the notebooks: false-colour composites, truth contours, error maps like Figs. 5-8.

Static panels use matplotlib (they must render in any notebook and in the HTML book without
JavaScript); interactive figures use hvplot/holoviews with BokehJS embedded (see ``interactive``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from glacier_utils import config

#: Colours of the error maps (paper Figs. 5-8: false positives red, false negatives yellow).
ERROR_COLOURS: dict[str, tuple[float, float, float]] = {
    "true positive": (0.25, 0.55, 1.0),
    "false positive": (0.9, 0.1, 0.1),
    "false negative": (1.0, 0.9, 0.0),
}


def _as_band_first(dn) -> np.ndarray:
    """DN as a (band, y, x) numpy array in TM band order (accepts a DataArray or an array)."""
    if isinstance(dn, xr.DataArray):
        return np.asarray(dn.transpose("band", ...).values)
    return np.asarray(dn)


#: Composites in order of preference when a study lacks some bands: Fig. 5a's 7-4-3, colour infrared, true colour.
COMPOSITES: tuple[tuple[int, int, int], ...] = (config.FALSE_COLOUR_BANDS, (4, 3, 2), (3, 2, 1))


def composite_bands(available: Sequence[int]) -> tuple[int, ...]:
    """The first of ``COMPOSITES`` whose bands are all ``available`` (else the first three available bands)."""
    available = [int(b) for b in available]
    for bands in COMPOSITES:
        if set(bands) <= set(available):
            return bands
    return tuple(available[:3]) if len(available) >= 3 else tuple(available[:1] * 3)


def false_colour(dn, bands: Sequence[int] | None = None, percentiles=(2.0, 98.0),
                 nodata: float | None = None) -> np.ndarray:
    """A (y, x, 3) RGB image in 0..1 from TM bands, percentile-stretched.

    ``bands`` defaults to 7-4-3 as in Fig. 5a, or for a study without those bands the best composite it
    has (:func:`composite_bands`); that needs a DataArray with a ``band`` coordinate, a plain array being
    read in the order of ``config.BAND_NUMBERS``.
    """
    if isinstance(dn, xr.DataArray):
        nodata = config.nodata_of(dn) if nodata is None else nodata
        bands = composite_bands(dn["band"].values) if bands is None else bands
        stack = np.stack([np.asarray(dn.sel(band=b).values, dtype="float32") for b in bands])
    else:
        arr = _as_band_first(dn).astype("float32")
        bands = config.FALSE_COLOUR_BANDS if bands is None else bands
        stack = np.stack([arr[config.BAND_NUMBERS.index(b)] for b in bands])
    invalid = config.nodata_pixels(stack, nodata, rule="all")  # every band at nodata, or any NaN
    rgb = np.empty(stack.shape[1:] + (3,), "float32")
    for i, channel in enumerate(stack):
        values = channel[~invalid]
        lo, hi = np.percentile(values, percentiles) if values.size else (0.0, 1.0)
        rgb[..., i] = np.clip((channel - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb[invalid] = 0
    return rgb


def error_classes(pred, truth, valid=None) -> np.ndarray:
    """Per pixel: 0 true negative/invalid, 1 true positive, 2 false positive, 3 false negative."""
    pred = np.asarray(pred).astype(bool)
    truth_arr = np.asarray(truth)
    known = truth_arr != config.LABEL_NODATA
    ok = known if valid is None else np.asarray(valid) & known
    truth_b = truth_arr == 1
    out = np.zeros(pred.shape, "uint8")
    out[ok & pred & truth_b] = 1
    out[ok & pred & ~truth_b] = 2
    out[ok & ~pred & truth_b] = 3
    return out


def error_overlay(base_rgb: np.ndarray, pred, truth, valid=None, alpha: float = 0.75) -> np.ndarray:
    """The composite with TP blue, FP red and FN yellow blended on top (the layout of Figs. 5-8)."""
    classes = error_classes(pred, truth, valid)
    out = base_rgb.copy() * 0.8
    for code, name in enumerate(ERROR_COLOURS, start=1):
        sel = classes == code
        out[sel] = (1 - alpha) * out[sel] + alpha * np.asarray(ERROR_COLOURS[name])
    return out


def tile_composite(tiles_ds: xr.Dataset, sample: int) -> np.ndarray:
    """The false-colour RGB of one sample of a tile dataset, from the bands the tiles hold."""
    return false_colour(tiles_ds["image"].isel(sample=int(sample)).transpose("band", "y", "x"))


def plot_scene(scene: xr.Dataset, ax=None, title: str | None = None, contour: bool = True):
    """Show a scene's 7-4-3 composite (or the best its bands allow) with the glacier truth outlined in magenta; returns the axes."""
    import matplotlib.pyplot as plt  # deferred: pyplot picks a backend on import; the array helpers need none

    ax = ax or plt.subplots(figsize=(5, 5))[1]
    rgb = false_colour(scene["dn"])
    x, y = scene["x"].values, scene["y"].values
    extent = (x[0] / 1e3, x[-1] / 1e3, y[-1] / 1e3, y[0] / 1e3)
    ax.imshow(rgb, extent=extent, interpolation="nearest")
    if contour and "label" in scene:
        label = np.where(scene["label"].values == 1, 1.0, 0.0)
        ax.contour(x / 1e3, y / 1e3, label, levels=[0.5], colors="magenta", linewidths=0.7)
    ax.set_title(title or f"{scene.attrs.get('wrs2', '')} {scene.attrs.get('date', '')}", fontsize=9)
    ax.set_xlabel("easting (km)", fontsize=8)
    ax.set_ylabel("northing (km)", fontsize=8)
    ax.tick_params(labelsize=7)
    return ax


def plot_error_maps(base_rgb: np.ndarray, truth, predictions: Mapping[str, np.ndarray], valid=None,
                    ncols: int = 3, panel_in: float = 3.0, title: str | None = None):
    """A grid like Figs. 5-8: the composite, then one TP/FP/FN panel per method; returns the figure."""
    import matplotlib.pyplot as plt  # deferred: pyplot picks a backend on import; the array helpers need none
    from matplotlib.patches import Patch

    n = len(predictions) + 1
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_in * ncols, panel_in * nrows), squeeze=False)
    panels = [("False colour (7-4-3)", base_rgb)] + [
        (name, error_overlay(base_rgb, pred, truth, valid)) for name, pred in predictions.items()]
    for ax, (name, image) in zip(axes.flat, panels):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Patch(color=c, label=k) for k, c in ERROR_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97 if title else 1))
    return fig


def interactive():
    """Load hvplot/holoviews with BokehJS embedded in the page (no CDN: the book must render offline)."""
    import holoviews as hv  # deferred: the interactive stack loads bokeh and panel (seconds)

    # Order matters: importing hvplot first loads BokehJS from its CDN, and a later inline call
    # does not reload it, so the page would still need the network.
    hv.extension("bokeh", inline=True, logo=False)
    import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
    import hvplot.xarray  # noqa: F401

    return hv
