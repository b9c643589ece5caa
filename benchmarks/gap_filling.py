"""Benchmark: time and peak memory of filling twelve periods' cloud gaps (`gap_filling.fill_period_stores`).

Each case runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own. A case writes
twelve period stores on the mosaic grid of a profile (`synthetic.region.scene_layout`): a glacier
field that shrinks every period, 30 % of its pixels hidden by cloud at random, then fills them
block by block and reports the time, the fill's peak traced memory and the mosaic's size. The memory should grow
with the block (12 periods x block rows x width), not with the mosaic.

    .venv/bin/python benchmarks/gap_filling.py                            # the quick mosaic, 256-row blocks
    .venv/bin/python benchmarks/gap_filling.py --cases quick:1024 paper:256  # the paper mosaic: tens of minutes

Random cloud in every pixel of every period is a worst case: far more pixels need the nearest-view
count than the clustered clouds of a real period.
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
import tracemalloc


def run_one(profile: str, block_rows: int) -> dict:
    """Write twelve stores on ``profile``'s mosaic grid and fill them with ``block_rows``; return the figures."""
    import numpy as np
    import xarray as xr
    from affine import Affine

    from glacier_utils import config, gap_filling
    from glacier_utils.synthetic.region import scene_layout

    _, (height, width) = scene_layout(config.get_profile(profile).scene_px)
    rng = np.random.default_rng(0)
    margin = rng.random((height // 16 + 1, width // 16 + 1)).repeat(16, 0).repeat(16, 1)[:height, :width]
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        t0 = time.perf_counter()
        for p in range(12):
            mask = (margin > 0.6 + 0.01 * p).astype(np.uint8)
            mask[rng.random((height, width)) < 0.3] = config.LABEL_NODATA
            ds = xr.Dataset({"mask": (("y", "x"), mask), "n_clear": (("y", "x"), (mask != 255).astype(np.uint8)),
                             "frame": (("y", "x"), np.zeros((height, width), np.int16)),
                             "subarea": (("y", "x"), np.zeros((height, width), np.uint8))},
                            coords={"y": 4e6 - 30.0 * np.arange(height), "x": 3e5 + 30.0 * np.arange(width)},
                            attrs={"subareas": list(config.AREAS), "pixel_size_m": 30.0, "frame_windows": [],
                                   "frames": []})
            ds = ds.rio.write_crs("EPSG:32646").rio.write_transform(Affine(30.0, 0, 3e5 - 15, 0, -30.0, 4e6 + 15))
            paths.append(gap_filling.write_period_store(ds, os.path.join(folder, f"map_{p}.zarr")))
            del ds, mask
        written_s = time.perf_counter() - t0
        tracemalloc.start()  # numpy reports its buffers to tracemalloc: the fill's own peak, not the writing's
        t0 = time.perf_counter()
        table = gap_filling.fill_period_stores(paths, block_rows=block_rows)
        fill_s = time.perf_counter() - t0
        fill_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"profile": profile, "mosaic": f"{height}x{width}", "block_rows": block_rows,
            "write_s": round(written_s, 1), "fill_s": round(fill_s, 1),
            "filled_km2": round(float(table[table.area == "total"].filled_km2.sum()), 1),
            "fill_peak_mb": round(fill_peak_mb), "process_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["quick:256"], help="profile:block_rows")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        profile, rows = args.one.split(":")
        print(json.dumps(run_one(profile, int(rows))))
        return
    print(f"{'profile':8} {'mosaic':>12} {'block':>6} {'write s':>8} {'fill s':>7} {'fill peak MB':>13} "
          f"{'process peak MB (with writing)':>31}")
    for case in args.cases:
        out = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True, text=True)
        if out.returncode:
            print(f"{case}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['profile']:8} {r['mosaic']:>12} {r['block_rows']:>6} {r['write_s']:>8} {r['fill_s']:>7} "
              f"{r['fill_peak_mb']:>13} {r['process_peak_mb']:>31}")


if __name__ == "__main__":
    main()
