"""Benchmark: the one-pass 12-threshold band-ratio sweep against 12 independent passes.

A synthetic 7-band uint8 scene (default 7,000 x 7,000, the size of a Landsat TM scene) is written
chunk by chunk to a zarr store, so neither the generation nor the runs ever hold it whole in memory.
Then, each in its own subprocess so that the peak memory figures are clean:

* ``one_pass``: ``glacier_utils.bandratio.sweep`` (ratio -> threshold levels -> one grey opening and
  closing -> per-chunk histograms), one ``dask.compute``;
* ``naive``: for each of the 12 thresholds, ``classify`` (ratio, threshold, binary opening and
  closing) and ``confusion_counts``: 12 full passes over the scene, each its own ``dask.compute``.

Both run on the dask threaded scheduler with ``--threads`` workers (default 2, the CI machine) over
the same chunks, ``--repeat`` times each, alternating; the best times are compared, as ``timeit``
does, because other processes on a shared machine only ever add time. The script prints wall
times, the speed-up, each method's peak resident memory (the subprocess's ``VmHWM``, interpreter
and libraries included) and whether the two methods' counts agree exactly. Targets (SPEC §8): at
least 5x faster, under 2 GB.

    .venv/bin/python benchmarks/bandratio_sweep.py            # full size (a few minutes)
    .venv/bin/python benchmarks/bandratio_sweep.py --size 1500
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr

from glacier_utils import bandratio, config
from glacier_utils.metrics import confusion_counts

NODATA = 0
METHODS = ("one_pass", "naive")


# --------------------------------------------------------------------------------------------
# The synthetic scene
# --------------------------------------------------------------------------------------------
def _smooth_field(y: np.ndarray, x: np.ndarray, rng: np.random.Generator, wavelengths_px: tuple[float, ...]) -> np.ndarray:
    """A spatially correlated field in about [-1, 1]: a sum of plane waves of the given wavelengths."""
    field = np.zeros(np.broadcast_shapes(y.shape, x.shape), dtype=np.float32)
    for wavelength in wavelengths_px:
        angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / wavelength
        field += np.cos(k * (np.cos(angle) * x + np.sin(angle) * y) + phase, dtype=np.float32)
    return field / len(wavelengths_px)


def _scene_block(block_info: dict | None = None, *, size: int, seed: int) -> np.ndarray:
    """One (7 + 1, h, w) block: the 7 DN bands and, last, the label (1 glacier, 0 not)."""
    (y0, y1), (x0, x1) = block_info[None]["array-location"][1:]
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    x = np.arange(x0, x1, dtype=np.float32)[None, :]
    # Large-scale fields use the global seed (continuous across chunks); the noise a per-block seed.
    ice = _smooth_field(y, x, np.random.default_rng(seed), (900.0, 370.0, 151.0, 63.0))
    snow = _smooth_field(y, x, np.random.default_rng(seed + 1), (510.0, 97.0, 41.0))
    block_seed = [seed, y0 // max(y1 - y0, 1), x0 // max(x1 - x0, 1)]
    noise = np.random.default_rng(block_seed).normal(size=(4, y1 - y0, x1 - x0)).astype(np.float32)
    glacier = ice > 0.35
    snow_patch = (snow > 0.55) & ~glacier  # bright, ratio-ambiguous: the band ratio's false positives
    # Ratio TM3/TM5 high on ice (~4), middling on seasonal snow (~2.5), low on rock (~1).
    tm5 = np.where(glacier, 22, np.where(snow_patch, 40, 80)) + 8 * noise[0]
    ratio = np.where(glacier, 4.0, np.where(snow_patch, 2.5, 1.0)) + 0.9 * noise[1] + 0.6 * ice
    tm3 = ratio * tm5
    base = 70 + 40 * ice + 6 * noise[2]
    bands = np.stack([base * 1.3, base * 1.15, tm3, base * 0.9, tm5, 120 + 10 * noise[3], tm5 * 0.7])
    dn = np.clip(np.rint(bands), 1, 255).astype(np.uint8)
    # Fill outside an oblique scene footprint, as at the corners of a Landsat scene.
    outside = np.abs((x - size / 2) + 0.2 * (y - size / 2)) > 0.47 * size
    dn[:, np.broadcast_to(outside, dn.shape[1:])] = NODATA
    label = (glacier & ~outside).astype(np.uint8)
    return np.concatenate([dn, label[None]])


def generate_scene(store: Path, size: int, chunk_px: int, seed: int) -> None:
    """Write the synthetic scene (``dn`` and ``label``) to a zarr store, chunk by chunk."""
    stacked = da.map_blocks(
        _scene_block, size=size, seed=seed, dtype=np.uint8,
        chunks=((config.N_BANDS + 1,), *(da.core.normalize_chunks(chunk_px, (size, size)))),
    )
    dn, label = stacked[: config.N_BANDS], stacked[config.N_BANDS]
    tmp = store.with_name(store.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dask.compute(
        da.to_zarr(dn, str(tmp), component="dn", overwrite=True, compute=False),
        da.to_zarr(label, str(tmp), component="label", overwrite=True, compute=False),
    )
    shutil.rmtree(store, ignore_errors=True)
    tmp.rename(store)


def open_scene(store: Path) -> xr.Dataset:
    """The stored scene as a lazily loaded Dataset in the project's scene contract."""
    dn = xr.DataArray(
        da.from_zarr(str(store), component="dn"), dims=("band", "y", "x"),
        coords={"band": list(config.BAND_NUMBERS), "band_name": ("band", list(config.BAND_NAMES))},
        attrs={"nodata": NODATA},
    )
    label = xr.DataArray(da.from_zarr(str(store), component="label"), dims=("y", "x"))
    return xr.Dataset({"dn": dn, "label": label}, attrs={"sensor": "TM"})


# --------------------------------------------------------------------------------------------
# The two methods (run inside a subprocess)
# --------------------------------------------------------------------------------------------
def run_one_pass(scene: xr.Dataset) -> list[list[int]]:
    """Counts per threshold from the one-pass sweep."""
    table = bandratio.sweep(scene, config.RATIO_THRESHOLDS, config.MORPHOLOGY_SIZE_PX)
    return table[["tp", "fp", "fn", "tn"]].to_numpy().tolist()


def run_naive(scene: xr.Dataset) -> list[list[int]]:
    """Counts per threshold from 12 independent threshold + binary morphology + counting passes."""
    counts = []
    for threshold in config.RATIO_THRESHOLDS:
        glacier = bandratio.classify(scene, threshold, config.MORPHOLOGY_SIZE_PX)
        c = confusion_counts(glacier, scene["label"], bandratio.valid_mask(scene))
        counts.append([c.tp, c.fp, c.fn, c.tn])
    return counts


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: ``VmHWM`` on Linux, else ``ru_maxrss``."""
    # ru_maxrss survives exec() on Linux and so starts at the *parent's* peak in a subprocess;
    # VmHWM belongs to the process's own address space.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / scale


def _child(method: str, store: Path, threads: int) -> None:
    """Run one method, print a JSON line with its wall time, peak RSS and counts."""
    rss_before_mb = _peak_rss_mb()
    scene = open_scene(store)
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=threads):
        counts = {"one_pass": run_one_pass, "naive": run_naive}[method](scene)
    wall_s = time.perf_counter() - start
    peak_mb = _peak_rss_mb()
    print(json.dumps({"method": method, "wall_s": wall_s, "peak_rss_mb": peak_mb, "startup_rss_mb": rss_before_mb, "counts": counts}))


def _run_child(method: str, store: Path, threads: int) -> dict:
    """Run one method in a fresh interpreter and return its JSON record."""
    command = [sys.executable, __file__, "--child", method, "--store", str(store), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{method} run failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Generate the scene, time both methods in subprocesses and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=7000, help="scene side in pixels (default 7000)")
    parser.add_argument("--chunk", type=int, default=1024, help="dask/zarr chunk side in pixels (default 1024)")
    parser.add_argument("--threads", type=int, default=2, help="dask threads per run (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic scene (default 0)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method; the best time is compared (default 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to keep the zarr scene (default: a temp dir, removed)")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.store, args.threads)
        return
    if args.size < 16 or args.chunk < 16:
        parser.error("--size and --chunk must be at least 16 pixels")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bandratio_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / f"scene_{args.size}_{args.chunk}_{args.seed}.zarr"
    try:
        print(f"scene: {args.size} x {args.size} x {config.N_BANDS} uint8, chunks {args.chunk} px, {args.threads} threads, "
              f"{len(config.RATIO_THRESHOLDS)} thresholds, {config.MORPHOLOGY_SIZE_PX}x{config.MORPHOLOGY_SIZE_PX} opening + closing")
        start = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=args.threads):
            generate_scene(store, args.size, args.chunk, args.seed)
        print(f"generated and stored in {time.perf_counter() - start:.1f} s")
        # Alternate the methods so that load from other processes falls on both alike.
        runs = {method: [] for method in METHODS}
        for _ in range(args.repeat):
            for method in METHODS:
                runs[method].append(_run_child(method, store, args.threads))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    best = {}
    for method, records in runs.items():
        walls = sorted(r["wall_s"] for r in records)
        best[method] = walls[0]
        print(f"{method:>9}: best {walls[0]:7.1f} s, median {walls[len(walls) // 2]:7.1f} s of {len(walls)}   "
              f"peak RSS {max(r['peak_rss_mb'] for r in records):6.0f} MB "
              f"(after imports {records[0]['startup_rss_mb']:.0f} MB)")
    one, naive = runs["one_pass"][0], runs["naive"][0]
    print(f" speed-up: {best['naive'] / best['one_pass']:.1f}x on best times (target >= 5x)")
    same = all(r["counts"] == one["counts"] for r in runs["one_pass"] + runs["naive"])
    print(f"identical counts for all thresholds: {same}")
    best = max(range(len(config.RATIO_THRESHOLDS)), key=lambda i: _f1(one["counts"][i]))
    print(f"best F1 threshold on this synthetic scene: {config.RATIO_THRESHOLDS[best]}")


def _f1(counts: list[int]) -> float:
    """F1 from [tp, fp, fn, tn] (0 when there is no true positive)."""
    tp, fp, fn, _ = counts
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


if __name__ == "__main__":
    main()
