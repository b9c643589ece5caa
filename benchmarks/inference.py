"""Benchmark: whole-scene sliding-window inference through M-LandsNet (SPEC §8).

Each scene size runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own. The
scene is a lazily generated, dask-chunked 7-band uint8 array (no nodata, so no window is skipped:
a real WRS-2 frame, with its nodata collar, is faster), predicted with the chunked path and written
as two COGs (probability, mask) into a temporary folder, i.e. the whole pipeline. The network has
random (seeded) weights: the cost of a forward pass does not depend on them.

    .venv/bin/python benchmarks/inference.py --sizes 1000 2000 4000 7000 --base-filters 64 --window 256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_one(args: argparse.Namespace) -> dict:
    """Predict one synthetic scene of side ``args.one`` and return the measured figures."""
    import dask
    import dask.array as da
    import keras
    import numpy as np
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr
    from affine import Affine

    from glacier_utils import cog, config, inference
    from glacier_utils.models import build_model

    keras.utils.set_random_seed(0)
    n = args.one
    t0 = time.perf_counter()
    model = build_model(args.model, base_filters=args.base_filters)
    build_s = time.perf_counter() - t0
    rng = da.random.default_rng(0)
    dn = rng.integers(1, 256, size=(config.N_BANDS, n, n), chunks=(config.N_BANDS, args.chunk, args.chunk),
                      dtype=np.uint8)
    scene = xr.DataArray(dn, dims=("band", "y", "x"),
                         coords={"band": list(config.BAND_NUMBERS), "y": 4e6 - 15 - 30.0 * np.arange(n),
                                 "x": 4e5 + 15 + 30.0 * np.arange(n)}, attrs={"nodata": 0})
    scene = scene.rio.write_crs(config.STUDY_CRS).rio.write_transform(Affine(30, 0, 4e5, 0, -30, 4e6))
    stats = {"mean": np.full(config.N_BANDS, 128.0), "std": np.full(config.N_BANDS, 64.0)}
    with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="threads"):
        t0 = time.perf_counter()
        prediction = inference.predict_scene(scene, model, stats, window_px=args.window,
                                             overlap_px=args.overlap, batch_size=args.batch, chunk_px=args.chunk)
        paths = cog.write_prediction(prediction, folder, "bench")
        wall_s = time.perf_counter() - t0
        cog_mb = sum(p.stat().st_size for p in paths.values()) / 2**20
    grid, predicted = inference.window_count((n, n), args.window, args.overlap, args.chunk)
    return {
        "size_px": n, "wall_s": round(wall_s, 1), "model_build_s": round(build_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "windows_grid": grid, "windows_predicted": predicted,
        "mpx_per_s": round(n * n / wall_s / 1e6, 3), "cog_mib": round(cog_mb, 1),
        "params": int(model.count_params()),
    }


def main(argv: list[str] | None = None) -> None:
    """Run every size in its own process and print a table plus the wall-time scaling."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 7000],
                        help="scene sides in pixels (default: 1000 2000 4000 7000)")
    parser.add_argument("--base-filters", type=int, default=64, help="network width (paper: 64)")
    parser.add_argument("--window", type=int, default=256, help="sliding-window side in px (multiple of 16)")
    parser.add_argument("--overlap", type=int, default=64, help="overlap of neighbouring windows in px")
    parser.add_argument("--chunk", type=int, default=2048, help="dask chunk side in px")
    parser.add_argument("--batch", type=int, default=4, help="windows per network call")
    parser.add_argument("--model", default="m_landsnet", help="network name (config.MODEL_NAMES)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args)), flush=True)
        return

    print(f"model={args.model} base_filters={args.base_filters} window={args.window} overlap={args.overlap} "
          f"chunk={args.chunk} batch={args.batch} cpus={os.cpu_count()}")
    print(f"{'side':>6} {'wall s':>8} {'Mpx/s':>7} {'peak MiB':>9} {'windows':>9} {'predicted':>10}")
    results = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(size), "--base-filters", str(args.base_filters),
               "--window", str(args.window), "--overlap", str(args.overlap), "--chunk", str(args.chunk),
               "--batch", str(args.batch), "--model", args.model]
        done = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"{size:>6} failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1])
        results.append(r)
        print(f"{r['size_px']:>6} {r['wall_s']:>8.1f} {r['mpx_per_s']:>7.3f} {r['peak_rss_mib']:>9} "
              f"{r['windows_grid']:>9} {r['windows_predicted']:>10}", flush=True)
    if len(results) >= 2:
        # Wall time should grow with the number of windows predicted, i.e. with the area.
        per_window = [r["wall_s"] / r["windows_predicted"] for r in results]
        pairs = ", ".join(f"{r['size_px']}: {s:.3f}" for r, s in zip(results, per_window))
        print(f"seconds per predicted window: {pairs}")
        if all(r["size_px"] != 7000 for r in results):
            from glacier_utils import inference
            _, n7 = inference.window_count((7000, 7000), args.window, args.overlap, args.chunk)
            print(f"EXTRAPOLATED (not measured) 7000 x 7000: {n7} windows x {per_window[-1]:.3f} s "
                  f"= {n7 * per_window[-1] / 60:.1f} min")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
