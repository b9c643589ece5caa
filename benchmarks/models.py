"""Speed of the seven networks: parameters, training samples/s and inference pixels/s.

Usage::

    .venv/bin/python benchmarks/models.py                       # quick widths, all models
    .venv/bin/python benchmarks/models.py --profiles quick paper --models unet m_landsnet
    .venv/bin/python benchmarks/models.py --steps 5 --batch 8

For each profile the networks are built at its width (``base_filters``) and tile size, trained for
a few steps on random tiles with the paper's recipe (Adam, sparse cross-entropy) and run in
inference on random tiles. The first step (graph tracing) is excluded from the timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from glacier_utils import config  # noqa: E402
from glacier_utils.models import build_model  # noqa: E402
from glacier_utils.training import compile_for_recipe  # noqa: E402


def _time_calls(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` after one untimed warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def benchmark_model(name: str, profile: config.Profile, steps: int, batch: int, seed: int = 0) -> dict:
    """Parameter count, training samples/s and inference pixels/s of one model at one profile."""
    keras.utils.set_random_seed(seed)
    tile = profile.tile_px
    model = compile_for_recipe(build_model(name, base_filters=profile.base_filters, tile_px=tile), profile)
    rng = np.random.default_rng(seed)
    x = rng.random((batch, tile, tile, config.N_BANDS), dtype=np.float32)
    y = rng.integers(0, 2, (batch, tile, tile), dtype=np.int32)
    train_s = _time_calls(lambda: model.train_on_batch(x, y), steps)
    predict_s = _time_calls(lambda: model.predict_on_batch(x), steps)
    row = {
        "profile": profile.name,
        "model": name,
        "base_filters": profile.base_filters,
        "tile_px": tile,
        "parameters": int(model.count_params()),
        "train_samples_per_s": batch / train_s,
        "infer_px_per_s": batch * tile * tile / predict_s,
    }
    keras.backend.clear_session(free_memory=True)
    return row


def main(argv: list[str] | None = None) -> None:
    """Print one line per model and profile (and a table at the end)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(config.MODEL_NAMES), choices=config.MODEL_NAMES)
    parser.add_argument("--profiles", nargs="+", default=["quick"], choices=list(config.PROFILES))
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement (after 1 warm-up)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the profile's)")
    args = parser.parse_args(argv)

    import pandas as pd
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    print(f"device: {'GPU ' + str([g.name for g in gpus]) if gpus else 'CPU'} ({os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}), TF {tf.__version__}, Keras {keras.__version__}")
    rows = []
    for profile_name in args.profiles:
        profile = config.get_profile(profile_name)
        batch = args.batch or profile.batch_size
        for name in args.models:
            row = benchmark_model(name, profile, args.steps, batch)
            rows.append(row)
            print(f"{row['profile']:>6} {name:<11} params={row['parameters']:>11,} "
                  f"train={row['train_samples_per_s']:8.2f} samples/s  infer={row['infer_px_per_s']:12,.0f} px/s",
                  flush=True)
    table = pd.DataFrame(rows).set_index(["profile", "model"])
    print()
    print(table.to_string(float_format=lambda v: f"{v:,.1f}"))


if __name__ == "__main__":
    main()
