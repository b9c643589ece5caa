"""The ``glacier-outlines`` command: the study's steps from a shell, with ``-h`` on every command.

``prepare``, ``sweep``, ``train`` and ``map`` work wherever the package is installed (they write below
``config.data_root()``, as the notebooks do); ``book``, ``references`` and ``test`` need a source
checkout and hand over to its tooling (``tools.pipeline``, pytest). The Makefile's targets call it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from glacier_utils import __version__, config

PROG = "glacier-outlines"
#: How ``test`` runs pytest by default: one worker runs the notebooks and then the browser tests of their book
#: (they depend on each other, in that order; the project's conftest.py keeps them together), while the other
#: takes the unit tests, on the cores the notebooks' TensorFlow leaves idle.
TEST_WORKERS = ("-n", "2", "--dist", "loadscope")
#: Commands that pass the arguments they do not know on (to tools.pipeline or pytest).
FORWARDING = ("book", "test")


def _checkout_tools(command: str):
    """``tools.pipeline`` of the source checkout the package runs from; a clear exit outside one."""
    if not config.IN_SOURCE_CHECKOUT or not (config.PROJECT_ROOT / "tools" / "pipeline.py").is_file():
        raise SystemExit(f"{PROG} {command}: needs a source checkout of the repository (its notebooks and book); "
                         f"this package is installed at {config.PACKAGE_DIR}. Clone the repository and run "
                         f"`pip install -e .[dev]` there, or use `make book`.")
    if str(config.PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(config.PROJECT_ROOT))
    from tools import pipeline

    return pipeline


def _run_paths(args: argparse.Namespace):
    """The run folder of the profile, study and data seed given on the command line."""
    from glacier_utils import runs

    return runs.RunPaths(args.profile, study=args.study, data_seed=args.data_seed)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
def cmd_book(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the notebooks with papermill and build the book (``tools.pipeline``)."""
    if args.help and not config.IN_SOURCE_CHECKOUT:
        print(args.parser.format_help().rstrip())
        print("\nIn a source checkout, `book -h` lists the build's options (--profile, --study, --data-seed, ...).")
        return 0
    return _checkout_tools("book").main(["--help", *extra] if args.help else extra, prog=f"{PROG} book")


def cmd_references(args: argparse.Namespace, extra: list[str]) -> int:
    """Store the pinned cells' outputs of the last quick book run as the tests' references."""
    return _checkout_tools("references").main(["--update-references"], prog=f"{PROG} references")


def pytest_arguments(extra: Sequence[str]) -> list[str]:
    """pytest's arguments: two xdist workers (the project's conftest.py groups the book's items) unless told otherwise."""
    chosen = any(a.startswith(("-n", "--numprocesses", "--dist")) or a in ("no:xdist", "-pno:xdist") for a in extra)
    return [*([] if chosen else TEST_WORKERS), *extra]


def cmd_test(args: argparse.Namespace, extra: list[str]) -> int:
    """Run pytest in the checkout with the extra arguments; its exit 5 (no test collected) is no failure."""
    _checkout_tools("test")
    code = subprocess.call([sys.executable, "-m", "pytest", *pytest_arguments(extra)], cwd=config.PROJECT_ROOT)
    if code == 5:
        print("pytest collected no tests")
        return 0
    return code


def cmd_prepare(args: argparse.Namespace, extra: list[str]) -> int:
    """Prepare (or reuse) the tile dataset as notebook 01 does with its defaults."""
    from glacier_utils import experiments

    paths = _run_paths(args)
    experiments.ensure_prerequisites(paths, need=["tiles"], force=args.force)
    print(paths.tiles)
    return 0


def cmd_sweep(args: argparse.Namespace, extra: list[str]) -> int:
    """Sweep the band-ratio thresholds on Scene 1's test tiles (Table II) and store the best one."""
    from glacier_utils import bandratio, experiments, runs

    paths = _run_paths(args)
    dataset = experiments.ensure_prerequisites(paths, need=["tiles"])
    sweep = experiments.threshold_sweep(dataset, morphology_px=args.morphology_px)
    best = bandratio.best_threshold(sweep, args.metric)
    runs.write_table(paths.table_ii, sweep)
    runs.write_json(paths.band_ratio_choice,
                    experiments.band_ratio_record(best, args.metric, args.morphology_px, paths.profile))
    print(sweep.round(4).to_string(index=False))
    print(f"optimal threshold by {args.metric}: {best} (written to {paths.band_ratio_choice})")
    return 0


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    """Train one network on one scene with the paper's recipe, or reuse the finished run."""
    from glacier_utils import experiments, study

    paths = _run_paths(args)
    experiment = study.experiment_name(args.scene, args.split_policy)
    dataset = experiments.ensure_prerequisites(paths, need=["tiles"])
    result = experiments.ensure_trained(args.model, experiment, paths, args.seed, dataset, force=args.force,
                                        verbose=2 if args.verbose else 0)
    record = result.record
    print(f"{args.model} on {experiment}, seed {args.seed}: {'trained' if result.trained else 'reused'}; "
          f"best validation accuracy {record['best_val_accuracy']:.4f} at epoch {record['best_epoch']}")
    print(result.out_dir)
    return 0


def cmd_map(args: argparse.Namespace, extra: list[str]) -> int:
    """Map the glaciers of one Landsat Level-1 scene with a trained network; write probability and mask COGs."""
    from dask.diagnostics import ProgressBar

    from glacier_utils import cog, experiments, inference
    from glacier_utils.io import landsat, radiometry

    paths = _run_paths(args)
    dataset = experiments.ensure_prerequisites(paths, need=["tiles", "networks"],
                                               networks=[(args.model, args.experiment, args.seed)])
    network = experiments.ensure_trained(args.model, args.experiment, paths, args.seed, dataset,
                                         verbose=0).load_model()
    stats = experiments.statistics(dataset, args.experiment)
    prof = config.get_profile(args.profile)
    scene = radiometry.tm_equivalent_dn(landsat.read_scene(args.scene))
    prediction = inference.predict_scene(scene, network, stats, window_px=args.window_px or 2 * prof.tile_px,
                                         overlap_px=args.overlap_px or prof.tile_px // 2)
    stem = args.stem or Path(args.scene).resolve().name.removesuffix("_MTL.txt")
    with ProgressBar():
        written = cog.write_prediction(prediction, args.out, stem)
    for path in written.values():
        print(path)
    return 0


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------
def _run_options(parser: argparse.ArgumentParser) -> None:
    """--profile, --study and --data-seed: which run folder a command reads and writes."""
    parser.add_argument("--profile", default="quick", choices=sorted(config.PROFILES), help="run profile (default: quick)")
    parser.add_argument("--study", default="thr", help="the study's name (default: thr, the paper's)")
    parser.add_argument("--data-seed", type=int, default=None, metavar="N",
                        help="seed of the simulated region and the splits (default: the profile's)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``glacier-outlines`` and its commands."""
    parser = argparse.ArgumentParser(prog=PROG, description="Glacier outlines from Landsat with deep learning: "
                                     "a reproduction of Chen et al. 2022 (JSTARS).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    book = commands.add_parser("book", add_help=False, help="run the notebooks and build the book (a checkout)",
                               description="Run the notebooks with papermill and build the Jupyter Book.")
    book.add_argument("-h", "--help", action="store_true", help="show the book build's options and exit")
    book.set_defaults(run=cmd_book, parser=book)

    references = commands.add_parser("references", help="store the pinned cells' outputs as the tests' references",
                                     description=cmd_references.__doc__)
    references.set_defaults(run=cmd_references)

    test = commands.add_parser("test", help="run the tests (a checkout); other arguments go to pytest",
                               description=cmd_test.__doc__ + " Arguments after `--` go to pytest as they are.")
    test.set_defaults(run=cmd_test)

    prepare = commands.add_parser("prepare", help="prepare the tile dataset (notebook 01's defaults)",
                                  description=cmd_prepare.__doc__)
    _run_options(prepare)
    prepare.add_argument("--force", action="store_true", help="prepare them again even if they exist")
    prepare.set_defaults(run=cmd_prepare)

    sweep = commands.add_parser("sweep", help="the band-ratio threshold sweep (Table II)", description=cmd_sweep.__doc__)
    _run_options(sweep)
    sweep.add_argument("--metric", default="f1", choices=("precision", "recall", "f1", "kappa", "oa"),
                       help="the metric that picks the threshold (default: f1)")
    sweep.add_argument("--morphology-px", type=int, default=config.MORPHOLOGY_SIZE_PX,
                       help=f"side of the morphological filter in pixels (default: {config.MORPHOLOGY_SIZE_PX})")
    sweep.set_defaults(run=cmd_sweep)

    train = commands.add_parser("train", help="train one network (or reuse a finished run)",
                                description=cmd_train.__doc__)
    _run_options(train)
    train.add_argument("--model", default="m_landsnet", choices=config.MODEL_NAMES, help="the network (default: m_landsnet)")
    train.add_argument("--scene", type=int, default=1, choices=(1, 2),
                       help="1: random split; 2: geographic split (default: 1)")
    train.add_argument("--split-policy", default="grouped", choices=("grouped", "paper"),
                       help="Scene 1's split: grouped (default) or the paper's")
    train.add_argument("--seed", type=int, default=0, help="weight initialisation and data order (default: 0)")
    train.add_argument("--force", action="store_true", help="train again even if a finished run exists")
    train.add_argument("--verbose", action="store_true", help="one line per epoch")
    train.set_defaults(run=cmd_train)

    mapping = commands.add_parser("map", help="map one Landsat scene with a trained network (COGs)",
                                  description=cmd_map.__doc__ + " The network is trained first if it is missing.")
    mapping.add_argument("scene", help="a Landsat Level-1 folder (*_B<n>.TIF + MTL) or its *_MTL.txt")
    _run_options(mapping)
    mapping.add_argument("--model", default="m_landsnet", choices=config.MODEL_NAMES, help="default: m_landsnet")
    mapping.add_argument("--experiment", default="scene1_grouped",
                         help="the training run whose network maps (default: scene1_grouped)")
    mapping.add_argument("--seed", type=int, default=0, help="the training run's seed (default: 0)")
    mapping.add_argument("--window-px", type=int, default=0, help="sliding window side (0: twice the tile size)")
    mapping.add_argument("--overlap-px", type=int, default=0, help="window overlap (0: half the tile size)")
    mapping.add_argument("--out", default=".", help="output folder (default: the working directory)")
    mapping.add_argument("--stem", default=None, help="file name stem (default: the scene's name)")
    mapping.set_defaults(run=cmd_map)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glacier-outlines`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in FORWARDING:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "test" and extra[:1] == ["--"]:
        extra = extra[1:]
    return args.run(args, extra)


if __name__ == "__main__":
    raise SystemExit(main())
