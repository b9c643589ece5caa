"""Measure how fast the synthetic region simulator runs and how much memory it needs.

    python benchmarks/synthetic_region.py --profile quick
    python benchmarks/synthetic_region.py --profile paper --periods 1

Prints wall times for generating the region, simulating the Table I acquisitions and the 13
frames of each requested period, the process's peak resident memory, and the band-ratio F1
(TM3/TM5 with 5x5 opening and closing, best of the 12 thresholds) per area on the Table I images.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from glacier_utils import bandratio, config
from glacier_utils import synthetic as syn


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def _best_ratio_f1(scenes) -> tuple[float, float]:
    """Best threshold and its F1 of the band ratio (the project's one-pass sweep) over some scenes."""
    table = bandratio.sweep(list(scenes))
    best = bandratio.best_threshold(table)
    return best, float(table.set_index("threshold").loc[best, "f1"])


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark for one profile and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=list(config.PROFILES))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--periods", type=int, default=12, help="how many periods of 13 frames to simulate")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    region = syn.generate_region(args.profile, seed=args.seed)
    t_region = time.perf_counter() - t0
    print(f"profile={args.profile} scene_px={region.scene_px} mosaic={region.shape[0]}x{region.shape[1]} px")
    print(f"generate_region: {t_region:.1f} s (peak RSS {_peak_rss_mib():.0f} MiB)")

    t0 = time.perf_counter()
    scenes = [syn.simulate_scene(region, w, d) for w, d in syn.training_acquisitions(region)]
    t_train = time.perf_counter() - t0
    print(f"Table I acquisitions ({len(scenes)} scenes): {t_train:.1f} s, {t_train / len(scenes):.2f} s/scene")

    t_periods = []
    for period in range(min(args.periods, len(config.PERIODS))):
        t0 = time.perf_counter()
        for acq in syn.select_acquisitions(syn.period_acquisitions(region, period)).itertuples(index=False):
            syn.simulate_scene(region, acq.wrs2, acq.date, acq.sensor, acq.cloud_cover)
        t_periods.append(time.perf_counter() - t0)
    if t_periods:
        print(f"one period of 13 frames: {np.mean(t_periods):.1f} s (mean of {len(t_periods)}); "
              f"{len(t_periods)} periods: {sum(t_periods):.1f} s")
        print(f"region + Table I + one period: {t_region + t_train + t_periods[0]:.1f} s")
    print(f"peak RSS: {_peak_rss_mib():.0f} MiB")

    print("band ratio on the Table I images (best threshold, F1):")
    for area in config.AREAS:
        best, f1 = _best_ratio_f1([s for s in scenes if s.attrs["area"] == area])
        print(f"  {area:10s} threshold {best:.1f}  F1 {f1:.3f}")
    change = syn.true_relative_change(region, 0, 11)
    print("true area change 1986-2021 (%): " + ", ".join(f"{k} {v:.2f}" for k, v in change.items()))


if __name__ == "__main__":
    main()
