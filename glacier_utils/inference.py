"""Whole-scene prediction with a trained network: overlapping windows, blending, dask.

The networks are trained on small tiles (paper §II-B step 3: 128 x 128) but the time series of
§III-D needs whole Landsat scenes (about 7,000 x 7,000 pixels). :func:`predict_scene` slides a
window over the scene on one global grid (stride = window - overlap), predicts every window, and
blends overlapping windows with a separable sin² (Hann) weight, so pixels near a window's edge,
where the network saw zero padding instead of context, count for little and no tile seams show.

Scale: the scene is cut into dask chunks (``chunk_px``); each chunk is read together with a halo
of one window on every side (``dask.array.overlap``), so every chunk can predict all the windows
that touch it. The window grid is global, so the result does not depend on the chunking (a
chunked run equals an in-memory run). Memory per task is bounded by the chunk, not the scene.
Any dask scheduler works: the local threaded one by default, or a ``dask.distributed`` client.
Workers load the network once each from a ``.keras`` file (a cached loader keyed by path); an
in-memory model is saved to a temporary file first, because sending a Keras model inside every
task would serialise all its weights each time.

Nodata (DN equal to the scene's nodata value, or NaN, in any band: ``config.nodata_pixels``) and pixels the caller masks out
(``valid``, e.g. cloud) are carried through as NaN probability and ``config.LABEL_NODATA`` (255) in
the mask, never guessed. Predictions are written as COGs by :mod:`glacier_utils.cog` and mosaicked
by :mod:`glacier_utils.mosaic`.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.errors import DataError
from glacier_utils.tiles.stats import normalisation_arrays

#: Mask values of the prediction (the label convention of the data contract; nodata is
#: ``config.LABEL_NODATA``).
GLACIER, NOT_GLACIER = 1, 0
#: Default sliding-window geometry: a 256 px window with a quarter overlap on each side.
DEFAULT_WINDOW_PX = 256
DEFAULT_OVERLAP_PX = 64
#: Default dask chunk side: large against the window so few windows are predicted twice.
DEFAULT_CHUNK_PX = 2048

# One lock for every model call: Keras does not promise thread-safe calls on one model, and
# TensorFlow already spreads each convolution over all cores, so running calls side by side
# would not be faster. Reading, normalising and blending still run in parallel.
_MODEL_LOCK = threading.Lock()
_TEMP_DIRS: list[str] = []


# ----------------------------------------------------------------------------------------------
# The model: in memory for the local scheduler, a .keras path for dask.distributed workers
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _load_model_cached(path: str, mtime_ns: int):
    """Load a ``.keras`` model once per process (cache keyed by path and modification time)."""
    from glacier_utils import training  # deferred: training imports Keras

    return training.load_keras(path, compile=False)


def load_model(path: str | os.PathLike):
    """Load a ``.keras`` network for inference, cached per process (one copy per dask worker)."""
    path = Path(path).resolve()
    mtime_ns = path.stat().st_mtime_ns if path.is_file() else -1  # a missing file: load_keras names it
    return _load_model_cached(str(path), mtime_ns)


class ModelHandle:
    """A network that can travel in a dask graph: the object itself locally, its path to workers."""

    def __init__(self, model=None, path: str | os.PathLike | None = None):
        if model is None and path is None:
            raise ValueError("ModelHandle needs a model or a path")
        self._model = model
        self.path = None if path is None else str(Path(path).resolve())

    def get(self):
        """The Keras model (loaded from ``path`` on first use in a worker process)."""
        return self._model if self._model is not None else load_model(self.path)

    def on_disk(self) -> ModelHandle:
        """A handle that pickles as a path: saves an in-memory model to a temporary .keras file."""
        if self.path is not None:
            return ModelHandle(path=self.path)
        folder = tempfile.mkdtemp(prefix="glacier-model-")
        _TEMP_DIRS.append(folder)
        path = Path(folder) / "model.keras"
        with atomic_path(path) as tmp:
            self._model.save(tmp)
        return ModelHandle(path=path)

    def __reduce__(self):
        if self.path is None:
            raise TypeError(
                "an in-memory Keras model cannot be sent to dask workers; save it with "
                "model.save('name.keras') and pass the path, or pass client= to predict_scene"
            )
        return (ModelHandle, (None, self.path))

    def __dask_tokenize__(self):
        return ("glacier-model", self.path or id(self._model))

    def n_bands(self) -> int | None:
        """Number of input bands the network expects (None when unknown)."""
        shape = self.get().input_shape
        return shape[-1] if isinstance(shape, tuple) else None


@atexit.register
def _remove_temporary_models() -> None:
    for folder in _TEMP_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def _as_handle(model) -> ModelHandle:
    if isinstance(model, ModelHandle):
        return model
    if isinstance(model, (str, os.PathLike)):
        if Path(model).suffix != ".keras":
            raise DataError(f"model={model!s}: expected a Keras 3 '.keras' file")
        return ModelHandle(path=model)
    if not hasattr(model, "predict_on_batch"):
        raise TypeError(f"model: expected a keras.Model or a '.keras' path, got {type(model).__name__}")
    return ModelHandle(model)


# ----------------------------------------------------------------------------------------------
# Window geometry and blending weights
# ----------------------------------------------------------------------------------------------
def window_starts(size_px: int, window_px: int, overlap_px: int) -> np.ndarray:
    """Start offsets of the windows along one axis: stride window-overlap, last one flush with the edge."""
    if size_px <= window_px:
        return np.array([0])
    stride = window_px - overlap_px
    starts = list(range(0, size_px - window_px + 1, stride))
    if starts[-1] != size_px - window_px:
        starts.append(size_px - window_px)
    return np.array(starts)


def window_count(
    shape: tuple[int, int],
    window_px: int = DEFAULT_WINDOW_PX,
    overlap_px: int = DEFAULT_OVERLAP_PX,
    chunk_px: int | None = DEFAULT_CHUNK_PX,
) -> tuple[int, int]:
    """(windows on the scene's grid, windows predicted): a window straddling chunks is predicted once per chunk."""
    per_axis = []
    for size in shape:
        win = _effective_window(size, window_px)
        starts = window_starts(size, win, overlap_px)
        sizes = (size,) if chunk_px is None else _chunk_sizes(size, chunk_px, win)
        edges = np.cumsum((0,) + sizes)
        touching = sum(int(np.count_nonzero((starts < hi) & (starts + win > lo)))
                       for lo, hi in zip(edges[:-1], edges[1:]))
        per_axis.append((len(starts), touching))
    (ny, ty), (nx, tx) = per_axis
    return ny * nx, ty * tx


def blend_weights(window_px: int) -> np.ndarray:
    """1-D sin² (Hann) weight sampled at pixel centres: positive everywhere, ~0 at the edges, 1 mid-window.

    With 50 % overlap the weights of neighbouring windows sum to one; for any other overlap the
    weighted average is normalised by the summed weights, so the choice only shapes the blend.
    """
    i = np.arange(window_px)
    return np.sin(np.pi * (i + 0.5) / window_px) ** 2


def _effective_window(size_px: int, window_px: int) -> int:
    """A scene side smaller than the window gets the smallest window the network accepts."""
    if size_px >= window_px:
        return window_px
    return int(np.ceil(size_px / config.SIDE_MULTIPLE) * config.SIDE_MULTIPLE)


def _check_geometry(window_px: int, overlap_px: int, batch_size: int) -> None:
    if window_px < config.SIDE_MULTIPLE or window_px % config.SIDE_MULTIPLE:
        raise ValueError(f"window_px={window_px}: must be a positive multiple of {config.SIDE_MULTIPLE}")
    if not 0 <= overlap_px < window_px:
        raise ValueError(f"overlap_px={overlap_px}: must lie in [0, window_px={window_px})")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be at least 1")


# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------
def _stats_arrays(stats, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (mean, std) float32 arrays: ``tiles.normalisation_arrays`` of ``stats``, or identity for None."""
    if stats is None:
        return np.zeros(n_bands, np.float32), np.ones(n_bands, np.float32)
    return normalisation_arrays(stats, n_bands)


# ----------------------------------------------------------------------------------------------
# One block: all the windows that touch its core, blended
# ----------------------------------------------------------------------------------------------
def _predict_region(
    block: np.ndarray,
    valid: np.ndarray,
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    scene_shape: tuple[int, int],
    *,
    model: ModelHandle,
    mean: np.ndarray,
    std: np.ndarray,
    window_px: int,
    overlap_px: int,
    batch_size: int,
) -> np.ndarray:
    """Blended glacier probability over ``core`` (global y0, y1, x0, x1) from a block starting at ``origin``.

    ``block`` (bands, h, w) must hold every scene pixel of every window touching the core. Windows
    lie on the scene's global grid, so the answer is the same for any block that satisfies this.
    """
    height, width = scene_shape
    oy, ox = origin
    cy0, cy1, cx0, cx1 = core
    win_y, win_x = _effective_window(height, window_px), _effective_window(width, window_px)
    starts_y = [s for s in window_starts(height, win_y, overlap_px) if s < cy1 and s + win_y > cy0]
    starts_x = [s for s in window_starts(width, win_x, overlap_px) if s < cx1 and s + win_x > cx0]
    weight_2d = (blend_weights(win_y)[:, None] * blend_weights(win_x)[None, :]).astype(np.float64)

    numerator = np.zeros((cy1 - cy0, cx1 - cx0), np.float64)
    denominator = np.zeros_like(numerator)
    pending: list[tuple[int, int, np.ndarray]] = []

    def flush() -> None:
        batch = np.stack([w for _, _, w in pending])
        with _MODEL_LOCK:
            out = np.asarray(model.get().predict_on_batch(batch))
        for (sy, sx, _), probs in zip(pending, out[..., 1]):
            # Overlap of this window with the core, in window and in core coordinates.
            y0, y1 = max(sy, cy0), min(sy + win_y, cy1)
            x0, x1 = max(sx, cx0), min(sx + win_x, cx1)
            w = weight_2d[y0 - sy:y1 - sy, x0 - sx:x1 - sx]
            numerator[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] += w * probs[y0 - sy:y1 - sy, x0 - sx:x1 - sx]
            denominator[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] += w
        pending.clear()

    for sy in starts_y:
        for sx in starts_x:
            ly, lx = sy - oy, sx - ox
            window_valid = valid[ly:ly + win_y, lx:lx + win_x]
            if not window_valid.any():
                continue  # nothing to predict: a nodata collar or a fully masked window
            dn = block[:, ly:ly + win_y, lx:lx + win_x].astype(np.float32)
            x = (dn - mean[:, None, None]) / std[:, None, None]
            x[:, ~window_valid] = 0.0  # invalid pixels enter the network as the band mean
            x = np.moveaxis(x, 0, -1)
            pad_y, pad_x = win_y - x.shape[0], win_x - x.shape[1]
            if pad_y or pad_x:  # only when the scene is smaller than a window
                x = np.pad(x, ((0, pad_y), (0, pad_x), (0, 0)), mode="symmetric")
            pending.append((sy, sx, x))
            if len(pending) == batch_size:
                flush()
    if pending:
        flush()

    with np.errstate(invalid="ignore", divide="ignore"):
        probability = (numerator / denominator).astype(np.float32)
    core_valid = valid[cy0 - oy:cy1 - oy, cx0 - ox:cx1 - ox]
    probability[~core_valid | (denominator == 0)] = np.nan
    return probability


def _predict_chunk(block, valid_block, *, chunk_starts, depth, scene_shape, block_info=None, **kw):
    """dask block function: locate the overlapped block in the scene and predict its core."""
    _, iy, ix = block_info[0]["chunk-location"]
    (y_starts, y_sizes), (x_starts, x_sizes) = chunk_starts
    cy0, cx0 = int(y_starts[iy]), int(x_starts[ix])
    core = (cy0, cy0 + int(y_sizes[iy]), cx0, cx0 + int(x_sizes[ix]))
    # boundary="none": the halo exists only towards neighbouring chunks, not past the scene edge.
    origin = (cy0 - (depth[0] if iy > 0 else 0), cx0 - (depth[1] if ix > 0 else 0))
    return _predict_region(block, valid_block, origin, core, scene_shape, **kw)


def _chunk_sizes(size_px: int, chunk_px: int, min_px: int) -> tuple[int, ...]:
    """Chunk sides along one axis; a last chunk shorter than the halo is merged into its neighbour."""
    sizes = [chunk_px] * (size_px // chunk_px)
    if size_px % chunk_px:
        sizes.append(size_px % chunk_px)
    if len(sizes) > 1 and sizes[-1] < min_px:
        sizes[-2] += sizes.pop()
    return tuple(sizes)


def _valid_pixels(dn: xr.DataArray, nodata, valid) -> xr.DataArray:
    """True where every band has data and the optional caller mask allows the pixel."""
    ok = ~config.nodata_pixels(dn, nodata)  # a NaN DN is no data whatever the nodata value
    if valid is not None:
        if isinstance(valid, xr.DataArray):
            if valid.shape != ok.shape:
                raise ValueError(f"valid: shape {valid.shape} differs from the scene's {ok.shape}")
            valid = valid.data
        valid = da.asarray(valid) if isinstance(valid, da.Array) else np.asarray(valid)
        if valid.shape != ok.shape:
            raise ValueError(f"valid: shape {valid.shape} differs from the scene's {ok.shape}")
        ok = ok & xr.DataArray(valid.astype(bool), dims=("y", "x"), coords=ok.coords)
    return ok


def _scene_dn(scene) -> tuple[xr.DataArray, dict]:
    if isinstance(scene, xr.Dataset):
        if "dn" not in scene:
            raise DataError("scene: the Dataset has no 'dn' variable (see the data contract)")
        return scene["dn"], dict(scene.attrs)
    if isinstance(scene, xr.DataArray):
        return scene, {}
    raise TypeError(f"scene: expected an xarray Dataset or DataArray, got {type(scene).__name__}")


def predict_scene(
    scene: xr.Dataset | xr.DataArray,
    model,
    stats=None,
    *,
    window_px: int = DEFAULT_WINDOW_PX,
    overlap_px: int = DEFAULT_OVERLAP_PX,
    batch_size: int = 4,
    chunk_px: int | None = DEFAULT_CHUNK_PX,
    valid=None,
    nodata=None,
    threshold: float = 0.5,
    client=None,
) -> xr.Dataset:
    """Glacier probability and mask of a whole scene by blended sliding windows (lazy when chunked).

    ``scene``: a contract scene (Dataset with ``dn``) or its ``dn`` DataArray (band, y, x);
    ``model``: a keras.Model or a ``.keras`` path; ``stats``: per-band ``{"mean", "std"}`` (or a
    pair) applied to DN before the network; ``valid``: optional (y, x) bool mask of usable pixels;
    ``nodata``: overrides the scene's (``config.nodata_of``); ``chunk_px=None`` predicts in
    memory in one piece. Chunked results are lazy dask arrays: ``.compute()`` them or write them
    with :func:`glacier_utils.cog.write_prediction`, on whichever scheduler is active. With
    ``client`` (or any default dask.distributed client) the model travels to the workers as a
    ``.keras`` file. Returns a Dataset with ``probability`` (float32, NaN = no data) and ``mask``
    (uint8: 1 glacier, 0 not, ``config.LABEL_NODATA`` no data) on the scene's coords and CRS, with
    the scene's attrs.
    """
    _check_geometry(window_px, overlap_px, batch_size)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not 0 < threshold < 1:
        raise ValueError(f"threshold={threshold!r}: must be a probability strictly between 0 and 1 (default 0.5); "
                         "at or outside the bounds the mask is all glacier or all not glacier")
    dn, attrs = _scene_dn(scene)
    if dn.dims != ("band", "y", "x"):
        raise DataError(f"scene: dn must have dims ('band', 'y', 'x'), got {dn.dims}")
    handle = _as_handle(model)
    n_bands = dn.sizes["band"]
    expected = handle.n_bands()
    if expected is not None and expected != n_bands:
        raise DataError(f"model expects {expected} bands but the scene has {n_bands}")
    mean, std = _stats_arrays(stats, n_bands)
    if nodata is None:
        nodata = config.nodata_of(dn)
    ok = _valid_pixels(dn, nodata, valid)
    height, width = dn.sizes["y"], dn.sizes["x"]
    kw: dict[str, Any] = dict(mean=mean, std=std, window_px=window_px, overlap_px=overlap_px,
                              batch_size=batch_size)

    if chunk_px is None and not isinstance(dn.data, da.Array):
        probability = _predict_region(np.asarray(dn.values), np.asarray(ok.values), (0, 0),
                                      (0, height, 0, width), (height, width), model=handle, **kw)
    else:
        if client is not None or distributed_client_active():
            handle = handle.on_disk()
        windows = (_effective_window(height, window_px), _effective_window(width, window_px))
        chunk_px = chunk_px or max(max(dn.data.chunks[1]), max(dn.data.chunks[2]))
        if chunk_px < window_px:
            raise ValueError(f"chunk_px={chunk_px}: must be at least window_px={window_px}")
        chunks = (n_bands, _chunk_sizes(height, chunk_px, windows[0]), _chunk_sizes(width, chunk_px, windows[1]))
        # Halo of one window towards each neighbouring chunk (none along an axis with one chunk).
        depth = tuple(w if len(c) > 1 else 0 for w, c in zip(windows, chunks[1:]))
        data = da.asarray(dn.data).rechunk(chunks)
        ok_data = da.asarray(ok.data).rechunk(chunks[1:])
        data = da.overlap.overlap(data, depth={0: 0, 1: depth[0], 2: depth[1]}, boundary="none")
        ok_data = da.overlap.overlap(ok_data, depth={0: depth[0], 1: depth[1]}, boundary="none")
        chunk_starts = tuple((np.cumsum((0,) + c[:-1]), np.array(c)) for c in chunks[1:])
        probability = da.map_blocks(
            _predict_chunk, data, ok_data, chunks=chunks[1:], drop_axis=0, dtype=np.float32,
            meta=np.empty((0, 0), np.float32), chunk_starts=chunk_starts, depth=depth,
            scene_shape=(height, width), model=handle, **kw,
        )
    return _prediction_dataset(probability, dn, attrs, threshold)


def distributed_client_active() -> bool:
    """Whether a dask.distributed client is the default scheduler (tasks then get pickled)."""
    try:
        from distributed import default_client  # deferred and optional: dask.distributed is heavy
        default_client()
    except (ImportError, ValueError):
        return False
    return True


def _prediction_dataset(probability, dn: xr.DataArray, attrs: dict, threshold: float) -> xr.Dataset:
    """Wrap a (y, x) probability array with the scene's coords and CRS, and derive the mask."""
    coords = {name: coord for name, coord in dn.coords.items() if "band" not in coord.dims}
    prob = xr.DataArray(probability, dims=("y", "x"), coords=coords, name="probability")
    prob.attrs = {"long_name": "glacier probability", "units": "1", "nodata": np.nan}
    mask = xr.where(prob.isnull(), config.LABEL_NODATA, (prob >= threshold).astype(np.uint8)).astype(np.uint8)
    mask.attrs = {"long_name": "glacier mask", "flag_values": f"0 1 {config.LABEL_NODATA}",
                  "flag_meanings": "not_glacier glacier nodata", "nodata": config.LABEL_NODATA,
                  "threshold": float(threshold)}
    out = xr.Dataset({"probability": prob, "mask": mask.rename("mask")}, attrs=attrs)
    crs = dn.rio.crs
    if crs is not None:
        out = out.rio.write_crs(crs)
        out = out.rio.write_transform(dn.rio.transform())
    out["probability"] = out["probability"].rio.write_nodata(np.nan, encoded=False)
    out["mask"] = out["mask"].rio.write_nodata(config.LABEL_NODATA, encoded=False)
    return out


__all__: Sequence[str] = (
    "predict_scene", "load_model", "ModelHandle", "window_starts", "window_count", "blend_weights",
    "GLACIER", "NOT_GLACIER",
)
