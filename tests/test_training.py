"""The paper's training recipe (glacier_utils.training): schedule, early stopping, records, resume."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from glacier_utils import config
from glacier_utils.models import build_model
from glacier_utils.training import (
    BEST_MODEL_FILE,
    LAST_MODEL_FILE,
    early_stopping_update,
    learning_rate_for_epoch,
    load_trained,
    predict_proba,
    train_model,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

MODEL = "m_landsnet"
TILE = 16
N_BANDS = 7


def _dataset(label: int | None, n: int = 8, seed: int = 0) -> tf.data.Dataset:
    """Unbatched random tiles; labels all ``label``, or learnable (band 0 > 0.5) when None."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, TILE, TILE, N_BANDS), dtype=np.float32)
    y = (x[..., 0] > 0.5).astype(np.int32) if label is None else np.full((n, TILE, TILE), label, np.int32)
    return tf.data.Dataset.from_tensor_slices((x, y))


def _profile(**changes) -> config.Profile:
    return dataclasses.replace(config.get_profile("smoke"), **changes)


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Simulates a crash (Ctrl-C) at the end of a given 1-based epoch."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt(f"simulated interruption after epoch {self.epoch}")


def test_learning_rate_is_divided_by_ten_every_lr_drop_every_epochs():
    paper = config.get_profile("paper")
    rates = [learning_rate_for_epoch(e, paper) for e in (0, 9, 10, 19, 20, 35)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-6], rtol=1e-12)


def test_early_stopping_update_counts_epochs_without_improvement():
    improved, best, wait, stop = early_stopping_update(-np.inf, 0, 0.5, patience=2)
    assert (improved, best, wait, stop) == (True, 0.5, 0, False)
    assert early_stopping_update(0.5, 0, 0.5, patience=2) == (False, 0.5, 1, False)  # equal is no gain
    assert early_stopping_update(0.5, 1, 0.4, patience=2) == (False, 0.5, 2, True)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run whose validation accuracy must fall: train on all-0 labels, validate on all-1 labels."""
    out = tmp_path_factory.mktemp("stopped")
    prof = _profile(max_epochs=8, patience=2, lr_drop_every=2, learning_rate=1e-2)
    result = train_model(MODEL, _dataset(0), _dataset(1, seed=1), out, prof, seed=3, verbose=0)
    return result, prof, out


def test_early_stopping_stops_patience_epochs_after_the_best(stopped_run):
    result, prof, _ = stopped_run
    val = result.history["val_accuracy"].to_numpy()
    # independent recomputation of where Keras-style early stopping must stop
    best, wait, stop_at = -np.inf, 0, len(val)
    for epoch, v in enumerate(val, start=1):
        if v > best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= prof.patience:
                stop_at = epoch
                break
    assert result.record["epochs_run"] == len(val) == stop_at < prof.max_epochs
    assert result.record["early_stopped"] is True


def test_history_learning_rate_follows_the_schedule(stopped_run):
    result, prof, _ = stopped_run
    expected = [learning_rate_for_epoch(e - 1, prof) for e in result.history["epoch"]]
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)
    assert list(result.history["epoch"]) == list(range(1, len(expected) + 1))


def test_best_model_kept_is_the_best_validation_accuracy_epoch(stopped_run):
    result, _, out = stopped_run
    val = result.history["val_accuracy"].to_numpy()
    assert result.record["best_epoch"] == int(np.argmax(val)) + 1
    assert result.record["best_val_accuracy"] == pytest.approx(val.max())
    x, y = next(iter(_dataset(1, seed=1).batch(8)))
    best = predict_proba(load_trained(out), x.numpy())
    last = predict_proba(keras.models.load_model(out / LAST_MODEL_FILE), x.numpy())
    acc = lambda p: float(np.mean(p.argmax(-1) == y.numpy()))  # noqa: E731
    assert acc(best) == pytest.approx(val.max(), abs=1e-6)
    assert acc(last) == pytest.approx(val[-1], abs=1e-6)


def test_run_record_holds_parameters_versions_device_and_progress(stopped_run):
    result, prof, out = stopped_run
    record = json.loads((out / "run.json").read_text())
    assert record == result.record
    assert record["status"] == "finished" and record["model"] == MODEL and record["seed"] == 3
    assert record["profile"] == json.loads(json.dumps(prof.as_dict()))
    assert record["parameters"]["n_bands"] == N_BANDS
    assert record["parameters"]["batch_size"] == prof.batch_size
    assert {"python", "tensorflow", "keras", "numpy"} <= set(record["versions"])
    assert record["device"]["type"] in ("CPU", "GPU")
    assert record["n_params"] > 0 and record["wall_time_s"] > 0
    for key in ("epochs_run", "best_epoch", "best_val_accuracy", "started", "finished"):
        assert record[key] is not None, key
    assert (out / BEST_MODEL_FILE).is_file() and (out / "history.csv").is_file()
    assert not list(out.glob(".*tmp*")), "temporary files left behind"


def test_a_finished_run_is_not_retrained(stopped_run):
    result, prof, out = stopped_run
    mtime = (out / BEST_MODEL_FILE).stat().st_mtime_ns
    again = train_model(MODEL, _dataset(0), _dataset(1, seed=1), out, prof, seed=3, verbose=0)
    assert again.trained is False
    assert again.record == result.record
    assert (out / BEST_MODEL_FILE).stat().st_mtime_ns == mtime


def test_a_run_folder_of_another_model_is_not_silently_reused(stopped_run):
    _, prof, out = stopped_run
    with pytest.raises(ValueError, match="force=True"):
        train_model("unet", _dataset(0), _dataset(1), out, prof, seed=3, verbose=0)


def test_an_interrupted_run_resumes_after_its_last_finished_epoch(tmp_path):
    prof = _profile(max_epochs=3, patience=10, lr_drop_every=2)
    train, val = _dataset(None, seed=4), _dataset(None, seed=5)
    with pytest.raises(KeyboardInterrupt):
        train_model(MODEL, train, val, tmp_path, prof, seed=0, verbose=0, callbacks=[InterruptAfterEpoch(1)])
    partial = json.loads((tmp_path / "run.json").read_text())
    assert partial["status"] == "running" and partial["epochs_run"] == 1
    first_rows = pd.read_csv(tmp_path / "history.csv")

    seen = []

    class RecordEpochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch + 1)

    result = train_model(MODEL, train, val, tmp_path, prof, seed=0, verbose=0, callbacks=[RecordEpochs()])
    assert seen == [2, 3]
    assert result.trained and result.record["status"] == "finished"
    assert result.record["epochs_run"] == 3 and result.record["resumed_at_epoch"] == [2]
    assert list(result.history["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(result.history.iloc[:1], first_rows)  # epoch 1 kept as written
    # the learning-rate schedule continues from the absolute epoch, not from 0
    np.testing.assert_allclose(result.history["learning_rate"], [1e-3, 1e-3, 1e-4], rtol=1e-6)


def test_predict_proba_accepts_one_tile_and_rejects_wrong_band_counts(stopped_run):
    _, _, out = stopped_run
    model = load_trained(out)
    tile = np.zeros((TILE, TILE, N_BANDS), np.float32)
    proba = predict_proba(model, tile)
    assert proba.shape == (TILE, TILE, 2)
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="bands"):
        predict_proba(model, np.zeros((1, TILE, TILE, 3), np.float32))


def test_missing_validation_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="val_ds"):
        train_model(MODEL, _dataset(0), None, tmp_path, "smoke")


def test_load_trained_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras"):
        load_trained(tmp_path)


@pytest.mark.parametrize("name", ["glaciernet", "saunet"])
def test_mixed_precision_keeps_a_float32_softmax_uses_loss_scaling_and_restores_the_policy(name):
    from glacier_utils.training import _precision_policy, compile_for_recipe

    with _precision_policy(True):
        model = compile_for_recipe(build_model(name, base_filters=4), "smoke")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert model.dtype_policy.name == "mixed_float16"
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    x = np.zeros((1, 32, 32, N_BANDS), np.float32)
    assert model(x).dtype == "float32"


def test_predicting_with_several_networks_drops_only_the_cross_model_retracing_warning():
    import logging

    from glacier_utils import training as tr

    x = np.zeros((3, 32, 32, 7), np.float32)
    for name in ("unet", "glaciernet"):
        tr.predict_proba(build_model(name, n_bands=7, base_filters=2), x, batch_size=2)
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, tr.CrossModelRetracingFilter) for f in logger.filters) == 1  # installed once
    message = "5 out of the last 5 calls to <function f> triggered tf.function retracing. Tracing is expensive"
    assert not logger.filter(logging.LogRecord("tensorflow", logging.WARNING, "", 0, message, None, None))
    assert logger.filter(logging.LogRecord("tensorflow", logging.WARNING, "", 0, "another warning", None, None))


@pytest.mark.parametrize(("gpus", "profile", "words"), [
    ([], "quick", "CPU with profile 'quick'"),
    (["/gpu:0"], "quick", 'set profile = "paper"'),
    ([], "paper", "no GPU found"),
    (["/gpu:0"], "paper", "GPU with profile 'paper'"),
])
def test_profile_advice_names_the_device_and_never_switches_profiles(monkeypatch, gpus, profile, words):
    from glacier_utils import training as tr

    monkeypatch.setattr(tr, "_gpus", lambda: gpus)
    assert words in tr.profile_advice(profile)
