"""Benchmark: time and peak memory of mapping one period (`period_mapping.map_period`), quick and paper-size frames.

Each case runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own. A case builds
the simulated region and its reference inventory (2007–2009; timed apart), then maps period 0 of the
listed frames: scoring the candidates, predicting the chosen acquisitions (one dask task each,
threaded scheduler), fusing, mosaicking, outlining and bootstrapping. The network is the
profile's M-LandsNet with random (seeded) weights: a forward pass costs the same whatever the
weights. A full paper-size period (13 frames of 2048 px, each acquisition through a 64-filter
network) takes far too long on a CPU, so the paper case maps one frame and says so.

    .venv/bin/python benchmarks/map_period.py                      # quick (13 frames) and paper (1 frame)
    .venv/bin/python benchmarks/map_period.py --cases quick:all:3 paper:138037+137037:2
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


def run_one(profile: str, n_frames: str, k: int, seed: int) -> dict:
    """Map period 0 of ``n_frames`` frames ("all" or a count) of a ``profile`` region; return the figures."""
    import dask
    import keras

    from glacier_utils import config, period_mapping, acquisitions, synthetic
    from glacier_utils.models import build_model

    keras.utils.set_random_seed(0)
    prof = config.get_profile(profile)
    t0 = time.perf_counter()
    region = synthetic.generate_region(prof, seed=seed)
    region_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = synthetic.reference_inventory(region, 7)
    inventory_s = time.perf_counter() - t0
    archive = synthetic.period_acquisitions(region, 0)
    frames = sorted(archive["wrs2"].unique())
    if n_frames.isdigit() and len(n_frames) < 6:  # a count; six digits are a WRS-2 id
        frames = frames[:int(n_frames)]
    elif n_frames != "all":
        frames = n_frames.split("+")  # WRS-2 ids joined by "+"
    listing = archive[archive["wrs2"].isin(frames)]
    network = build_model("m_landsnet", base_filters=prof.base_filters)
    with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="threads"):
        t0 = time.perf_counter()
        result = period_mapping.map_period(
            listing, acquisitions.SyntheticLoader(region), network, None, period=0, reference=reference,
            folder=folder, subareas=config.AREAS, k=k, window_px=2 * prof.tile_px, overlap_px=prof.tile_px // 2,
            progress=False)
        map_s = time.perf_counter() - t0
        stores_mb = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs) / 2**20
    return {
        "profile": profile, "scene_px": prof.scene_px, "frames": len(frames), "k": k,
        "scored": int(result.scores["candidate"].sum()), "predicted": int(result.scores["chosen"].sum()),
        "mosaic_px": int(result.map["mask"].size), "region_s": round(region_s, 1), "inventory_s": round(inventory_s, 1),
        "map_period_s": round(map_s, 1), "s_per_prediction": round(map_s / max(1, int(result.scores["chosen"].sum())), 2),
        "stores_mb": round(stores_mb, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["quick:all:2", "quick:all:3", "paper:138037:2"],
                        help="profile:frames:k, frames 'all', a count or WRS-2 ids joined by '+' "
                             "(default: quick:all:2 quick:all:3 paper:138037:2)")
    parser.add_argument("--seed", type=int, default=42, help="the region's data seed")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        profile, frames, k = args.one.split(":")
        print(json.dumps(run_one(profile, frames, int(k), args.seed)))
        return
    print(f"{'profile':8} {'px':>5} {'frames':>6} {'k':>2} {'scored':>6} {'predicted':>9} {'region s':>8} "
          f"{'inventory s':>11} {'map_period s':>12} {'s/prediction':>12} {'stores MB':>9} {'peak RSS MB':>11}")
    for case in args.cases:
        out = subprocess.run([sys.executable, __file__, "--one", case, "--seed", str(args.seed)],
                             capture_output=True, text=True)
        if out.returncode:
            print(f"{case}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['profile']:8} {r['scene_px']:>5} {r['frames']:>6} {r['k']:>2} {r['scored']:>6} {r['predicted']:>9} "
              f"{r['region_s']:>8} {r['inventory_s']:>11} {r['map_period_s']:>12} {r['s_per_prediction']:>12} "
              f"{r['stores_mb']:>9} {r['peak_rss_mb']:>11.0f}")
        if r["profile"] == "paper" and r["frames"] < 13:
            print(f"         a full paper-size period (13 frames) on this CPU: about "
                  f"{r['map_period_s'] * 13 / r['frames'] / 60:.0f} min (one frame measured: too slow to run here)")


if __name__ == "__main__":
    main()
