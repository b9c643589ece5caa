"""The paper's training recipe (§II-G), with run records, resume and no retraining of finished runs.

Recipe: glorot-normal initialisation (in the model builders), sparse categorical cross-entropy,
Adam with the profile's learning rate divided by 10 every ``profile.lr_drop_every`` epochs, batch
``profile.batch_size``, early stopping after ``profile.patience`` epochs without a better
validation accuracy, and the model with the best validation accuracy kept.

One training run owns one folder ``out_dir``::

    model.keras   the best model so far (by validation accuracy)
    last.keras    the model and optimizer after the last finished epoch (for resuming)
    history.csv   one row per epoch: epoch (1-based), loss, accuracy, val_loss, val_accuracy, learning_rate
    run.json      the run record: parameters, profile, seed, versions, code (version, commit), device, progress, status

Every file is written through :func:`glacier_utils._atomic.atomic_path` (a temporary name in the same
folder, renamed into place), so an interruption never leaves a half-written file. Rerunning an interrupted
run continues after its last finished epoch; rerunning a finished run returns its record without
training (``force=True`` starts again).

Early stopping and best-model checkpointing are one callback (:class:`RecipeCheckpoint`) rather
than Keras's ``EarlyStopping`` and ``ModelCheckpoint`` because those forget their state (best
value, epochs waited) between ``fit`` calls, which a resumed run needs.

The module is a little over the ~500-line guide: the recipe, the run folder it writes and the
loader that reads it back answer one question together (what a run did and how to resume it), and
splitting them would put the file names of one run folder in two places.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import json
import logging
import math
import os
import platform
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from glacier_utils import config, provenance
from glacier_utils._atomic import atomic_path, write_text
from glacier_utils.errors import DataError, MissingModelError
from glacier_utils.models import build_model  # also registers the custom layers for load_keras

BEST_MODEL_FILE = "model.keras"
LAST_MODEL_FILE = "last.keras"
HISTORY_FILE = "history.csv"
RECORD_FILE = "run.json"
RUN_FILES = (BEST_MODEL_FILE, LAST_MODEL_FILE, HISTORY_FILE, RECORD_FILE)
#: Name under which validation accuracy appears in the logs (Keras prefixes "val_").
MONITOR = "val_accuracy"


@dataclasses.dataclass
class TrainingResult:
    """What a training run left in ``out_dir``; ``trained`` is False when a finished run was reused."""

    out_dir: Path
    model_path: Path
    last_model_path: Path
    history_path: Path
    record_path: Path
    history: pd.DataFrame
    record: dict[str, Any]
    trained: bool

    def load_model(self) -> keras.Model:
        """The best model of the run (by validation accuracy)."""
        return load_trained(self.out_dir)


# ------------------------------------------------------------------------------------------------
# Recipe pieces
# ------------------------------------------------------------------------------------------------
def learning_rate_for_epoch(epoch: int, profile: str | config.Profile) -> float:
    """Learning rate of 0-based ``epoch``: initial rate / 10 per ``lr_drop_every`` epochs (§II-G)."""
    prof = config.get_profile(profile)
    return float(prof.learning_rate * 0.1 ** (epoch // prof.lr_drop_every))


def early_stopping_update(best: float, wait: int, value: float, patience: int) -> tuple[bool, float, int, bool]:
    """One epoch of early stopping: returns (improved, new best, new wait, stop now)."""
    if value > best:
        return True, value, 0, False
    wait += 1
    return False, best, wait, wait >= patience


def compile_for_recipe(model: keras.Model, profile: str | config.Profile, jit_compile: bool = False) -> keras.Model:
    """Compile ``model`` with Adam, sparse cross-entropy and an ``accuracy`` metric (§II-G).

    XLA is off by default: on CPU its compile time outweighs the gain for short runs, and the
    max-pooling-with-indices op of GlacierNet has no XLA kernel.
    """
    prof = config.get_profile(profile)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=prof.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return model


# ------------------------------------------------------------------------------------------------
# Run files
# ------------------------------------------------------------------------------------------------
def _write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to a run record")


def _save_model(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as tmp:  # the temporary keeps the .keras suffix Keras insists on
        model.save(tmp)


def _write_history(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)


def read_record(out_dir: str | Path) -> dict | None:
    """The run record of ``out_dir``, or None when there is none."""
    path = Path(out_dir) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: run record is not valid JSON ({err}); delete it or use force=True") from err


#: Floats read back exactly as written: pandas 3 always parses CSV that way (and deprecates the
#: argument); pandas 2 needs ``float_precision="round_trip"``.
_ROUND_TRIP = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def read_history(out_dir: str | Path) -> pd.DataFrame:
    """The per-epoch history of ``out_dir`` (empty DataFrame when no epoch has finished)."""
    path = Path(out_dir) / HISTORY_FILE
    return pd.read_csv(path, **_ROUND_TRIP) if path.is_file() else pd.DataFrame()


# ------------------------------------------------------------------------------------------------
# The callback that keeps the run's state on disk
# ------------------------------------------------------------------------------------------------
class RecipeCheckpoint(keras.callbacks.Callback):
    """Early stopping on validation accuracy, best/last checkpoints, history and record per epoch."""

    def __init__(self, out_dir: Path, record: dict, history_rows: list[dict], patience: int, session_start: float):
        super().__init__()
        self.out_dir = out_dir
        self.record = record
        self.history_rows = history_rows
        self.patience = patience
        self.session_start = session_start
        self.wall_before = float(record.get("wall_time_s", 0.0))

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if MONITOR not in logs:
            raise ValueError(f"no {MONITOR!r} in the epoch logs ({sorted(logs)}): pass a validation dataset")
        value = float(logs[MONITOR])
        rec = self.record
        best = rec["best_val_accuracy"] if rec["best_val_accuracy"] is not None else -math.inf
        improved, best, wait, stop = early_stopping_update(best, rec["epochs_without_improvement"], value, self.patience)
        if improved:
            _save_model(self.model, self.out_dir / BEST_MODEL_FILE)
            rec["best_epoch"] = epoch + 1
            rec["best_val_accuracy"] = best
        _save_model(self.model, self.out_dir / LAST_MODEL_FILE)
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items() if k != "learning_rate"}}
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.history_rows.append(row)
        _write_history(self.out_dir / HISTORY_FILE, self.history_rows)
        rec["epochs_without_improvement"] = wait
        rec["epochs_run"] = epoch + 1
        rec["early_stopped"] = stop
        rec["wall_time_s"] = self.wall_before + (time.perf_counter() - self.session_start)
        _write_json(self.out_dir / RECORD_FILE, rec)
        if stop:
            self.model.stop_training = True


# ------------------------------------------------------------------------------------------------
# Environment: device, strategy, versions
# ------------------------------------------------------------------------------------------------
def _gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def profile_advice(profile: str | config.Profile) -> str:
    """One line on the device and the profile: the notebooks print it, and never switch profiles on their own."""
    gpus = _gpus()
    name = config.get_profile(profile).name
    if gpus and name != "paper":
        return (f"{len(gpus)} GPU(s) found; profile {name!r} keeps the small sizes: set profile = \"paper\" in the "
                "parameters cell for the published sizes and recipe")
    if not gpus and name == "paper":
        return "no GPU found: the 'paper' profile will train on the CPU, which takes days; 'quick' is sized for a CPU"
    return f"{'GPU' if gpus else 'CPU'} with profile {name!r}"


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a training result depends on."""
    versions = {"python": sys.version.split()[0]}
    for package in ("glacier-utils", "tensorflow", "keras", "numpy", "pandas"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def device_info(mixed_precision: bool, replicas: int) -> dict[str, Any]:
    """Where the training ran: CPU or the GPUs, replicas of the strategy, precision policy."""
    gpus = _gpus()
    return {
        "type": "GPU" if gpus else "CPU",
        "gpus": [g.name for g in gpus],
        "replicas": replicas,
        "mixed_precision": mixed_precision,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


@contextlib.contextmanager
def _precision_policy(mixed: bool):
    """Use ``mixed_float16`` inside the block when asked; always restore the previous policy."""
    previous = keras.mixed_precision.dtype_policy()
    if mixed:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def _strategy(use_gpu: bool):
    """MirroredStrategy over all GPUs when there are any (SPEC §7); the default strategy on CPU."""
    return tf.distribute.MirroredStrategy() if use_gpu else tf.distribute.get_strategy()


# ------------------------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------------------------
def _prepare_dataset(ds, batch_size: int, n_bands: int | None, role: str):
    """Check a (x, y) tf.data.Dataset, batch it if it yields single tiles, and prefetch."""
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"{role}: expected a tf.data.Dataset of (x, y) pairs, got element_spec {spec}")
    x_spec, y_spec = spec
    if x_spec.shape.rank not in (3, 4) or y_spec.shape.rank != x_spec.shape.rank - 1:
        raise ValueError(
            f"{role}: x must be (h, w, bands) or (b, h, w, bands) and y one rank less; "
            f"got x {x_spec.shape}, y {y_spec.shape}"
        )
    bands = x_spec.shape[-1]
    if n_bands is not None and bands is not None and bands != n_bands:
        raise ValueError(f"{role}: tiles have {bands} bands but n_bands={n_bands}")
    if x_spec.shape.rank == 3:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE), bands


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
def _check_same_run(record: dict, name: str, seed: int, profile: config.Profile, out_dir: Path) -> None:
    theirs = (record.get("model"), record.get("seed"), record.get("profile", {}).get("name"))
    ours = (name, seed, profile.name)
    if theirs != ours:
        raise ValueError(
            f"{out_dir} holds a run of model/seed/profile {theirs}, not {ours}: "
            "use another out_dir, or force=True to replace it"
        )


def _result(out_dir: Path, record: dict, trained: bool) -> TrainingResult:
    return TrainingResult(
        out_dir=out_dir,
        model_path=out_dir / BEST_MODEL_FILE,
        last_model_path=out_dir / LAST_MODEL_FILE,
        history_path=out_dir / HISTORY_FILE,
        record_path=out_dir / RECORD_FILE,
        history=read_history(out_dir),
        record=record,
        trained=trained,
    )


def _new_record(name, profile, seed, n_bands, model_kwargs, batch_size, steps, val_steps, device, n_params):
    return {
        "model": name,
        "label": config.METHOD_LABELS.get(name, name),
        "status": "running",
        "seed": seed,
        "profile": json.loads(json.dumps(profile.as_dict(), default=_json_default)),
        "parameters": {
            "n_bands": n_bands,
            "base_filters": profile.base_filters,
            "model_kwargs": model_kwargs,
            "batch_size": batch_size,
            "steps_per_epoch": steps,
            "validation_steps": val_steps,
            "loss": "sparse_categorical_crossentropy",
            "optimizer": "adam",
            "monitor": MONITOR,
        },
        "n_params": n_params,
        "versions": package_versions(),
        "code": provenance.record(),  # the package's version and the git commit that trained
        "device": device,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "epochs_run": 0,
        "best_epoch": None,
        "best_val_accuracy": None,
        "epochs_without_improvement": 0,
        "early_stopped": False,
        "resumed_at_epoch": [],
        "wall_time_s": 0.0,
    }


def train_model(
    name: str,
    train_ds,
    val_ds,
    out_dir: str | Path,
    profile: str | config.Profile,
    seed: int = 0,
    n_bands: int | None = None,
    force: bool = False,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    model_kwargs: dict | None = None,
    mixed_precision: bool | None = None,
    callbacks: list | None = None,
    verbose: int = 2,
    jit_compile: bool = False,
) -> TrainingResult:
    """Train network ``name`` with the paper's recipe into ``out_dir``; resume or reuse earlier work.

    ``train_ds`` / ``val_ds`` yield (x float32 (b, h, w, bands), y int32 (b, h, w)); unbatched
    datasets are batched with ``profile.batch_size``. ``n_bands`` defaults to the datasets' band
    count. ``mixed_precision`` defaults to True when a GPU is present. ``callbacks`` run after the
    recipe's own. ``verbose=2`` prints one line per epoch. ``jit_compile`` turns XLA on (not for
    GlacierNet, whose max-pooling indices have no XLA kernel).
    """
    prof = config.get_profile(profile)
    out_dir = Path(out_dir)
    model_kwargs = dict(model_kwargs or {})
    if val_ds is None:
        raise ValueError("val_ds: the recipe needs a validation dataset (early stopping on validation accuracy)")

    if force:
        for file in RUN_FILES:
            (out_dir / file).unlink(missing_ok=True)
    record = read_record(out_dir)
    if record is not None:
        _check_same_run(record, name, seed, prof, out_dir)
        if record.get("status") == "finished":
            return _result(out_dir, record, trained=False)
    out_dir.mkdir(parents=True, exist_ok=True)

    train_ds, bands = _prepare_dataset(train_ds, prof.batch_size, n_bands, "train_ds")
    val_ds, _ = _prepare_dataset(val_ds, prof.batch_size, n_bands or bands, "val_ds")
    n_bands = n_bands or bands or config.N_BANDS

    use_gpu = bool(_gpus())
    mixed = use_gpu if mixed_precision is None else bool(mixed_precision)
    strategy = _strategy(use_gpu)
    keras.utils.set_random_seed(seed)

    resume = record is not None and record.get("epochs_run", 0) > 0 and (out_dir / LAST_MODEL_FILE).is_file()
    with _precision_policy(mixed), strategy.scope():
        if resume:
            model = load_keras(out_dir / LAST_MODEL_FILE)  # weights + optimizer state
            model.jit_compile = jit_compile
        else:
            model = build_model(name, n_bands=n_bands, base_filters=prof.base_filters, **model_kwargs)
            model = compile_for_recipe(model, prof, jit_compile=jit_compile)
    if resume:
        record["resumed_at_epoch"] = [*record.get("resumed_at_epoch", []), record["epochs_run"] + 1]
        history_rows = read_history(out_dir).to_dict("records")[: record["epochs_run"]]
    else:
        record = _new_record(
            name, prof, seed, n_bands, model_kwargs, prof.batch_size, steps_per_epoch, validation_steps,
            device_info(mixed, strategy.num_replicas_in_sync), int(model.count_params()),
        )
        history_rows = []
    _write_json(out_dir / RECORD_FILE, record)

    session_start = time.perf_counter()
    initial_epoch = record["epochs_run"]
    done = record.get("early_stopped") or initial_epoch >= prof.max_epochs
    if not done:
        recipe = RecipeCheckpoint(out_dir, record, history_rows, prof.patience, session_start)
        schedule = keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_for_epoch(epoch, prof))
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=prof.max_epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            callbacks=[schedule, recipe, *(callbacks or [])],
            verbose=verbose,
            shuffle=False,  # tf.data datasets are shuffled by the tile pipeline
        )
    record["status"] = "finished"
    record["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    _write_json(out_dir / RECORD_FILE, record)
    return _result(out_dir, read_record(out_dir), trained=True)


# ------------------------------------------------------------------------------------------------
# Using a trained model
# ------------------------------------------------------------------------------------------------
def _check_keras_archive(path: Path) -> None:
    """DataError unless ``path`` is a complete ``.keras`` zip archive (Keras calls a damaged one "File not found")."""
    problem = None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                problem = f"its member {bad} is corrupt"
            elif "config.json" not in archive.namelist():
                problem = "it holds no config.json (not a Keras v3 model)"
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        problem = f"it is not a complete zip archive ({err})"
    if problem:
        raise DataError(f"model file {path} ({path.stat().st_size} bytes) exists but is not a readable .keras "
                        f"archive: {problem}; it was probably cut short (an interrupted copy or save): copy it "
                        "again or retrain")


def load_keras(path: str | Path, *, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` network (custom layers registered); a DataError names a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise MissingModelError(f"model file {path} does not exist (run train_model first?)")
    _check_keras_archive(path)
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as err:  # noqa: BLE001  (Keras raises many types for a damaged file)
        raise DataError(f"model file {path} is not a readable Keras model: {type(err).__name__}: {err}") from err


def load_trained(out_dir: str | Path) -> keras.Model:
    """The best model (by validation accuracy) saved in a run folder."""
    return load_keras(Path(out_dir) / BEST_MODEL_FILE)


class CrossModelRetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning.

    TensorFlow counts traces per code object, and every Keras model's predict step is the same closure:
    predicting with several networks in one process (notebook 04 scores fifteen) reads to it as one
    function retraced again and again, although each network traces its own function once or twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_cross_model_retracing() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, CrossModelRetracingFilter) for f in logger.filters):
        logger.addFilter(CrossModelRetracingFilter())


def predict_proba(model: keras.Model, x: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Class probabilities (..., h, w, 2) of tiles ``x`` (n, h, w, bands) or one tile (h, w, bands)."""
    _quiet_cross_model_retracing()
    x = np.asarray(x, dtype=np.float32)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"x: expected (n, h, w, bands) or (h, w, bands), got shape {x.shape}")
    expected = model.input_shape[-1]
    if expected is not None and x.shape[-1] != expected:
        raise ValueError(f"x has {x.shape[-1]} bands but the model expects {expected}")
    proba = model.predict(x, batch_size=batch_size, verbose=0).astype(np.float32, copy=False)
    return proba[0] if single else proba


def clear_run(out_dir: str | Path) -> None:
    """Delete a run folder's files (model, checkpoints, history, record) and the folder if empty."""
    out_dir = Path(out_dir)
    for file in RUN_FILES:
        (out_dir / file).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out_dir.rmdir()


__all__ = [
    "TrainingResult", "RecipeCheckpoint", "learning_rate_for_epoch", "early_stopping_update",
    "compile_for_recipe", "train_model", "load_keras", "load_trained", "predict_proba", "read_record",
    "read_history", "package_versions", "device_info", "clear_run",
]
