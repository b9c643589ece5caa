"""The ``glacier-outlines`` command: -h everywhere, the checkout commands, the package-level steps."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

import glacier_utils
from glacier_utils import cli, config, experiments, runs

COMMANDS = ("book", "references", "test", "prepare", "sweep", "train", "map")


def test_the_console_script_is_declared():
    pyproject = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"glacier-outlines": "glacier_utils.cli:main"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([command, "-h"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {cli.PROG} {command}")


def test_the_book_command_shows_the_book_builds_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["book", "--help"])
    out = capsys.readouterr().out
    for option in ("--profile", "--study", "--data-seed", "--force", "--build-only", "--pages-only"):
        assert option in out


def test_the_command_lists_its_commands_and_its_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["-h"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"{cli.PROG} {glacier_utils.__version__}"


def test_a_command_rejects_arguments_it_does_not_know(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["prepare", "--profile", "smoke", "--bogus"])
    assert done.value.code == 2 and "--bogus" in capsys.readouterr().err


def test_the_checkout_commands_say_what_they_need_outside_a_checkout(monkeypatch, capsys):
    monkeypatch.setattr(config, "IN_SOURCE_CHECKOUT", False)
    with pytest.raises(SystemExit, match="needs a source checkout"):
        cli.main(["book", "--profile", "quick"])
    with pytest.raises(SystemExit, match="needs a source checkout"):
        cli.main(["references"])
    assert cli.main(["book", "-h"]) == 0  # help still answers
    assert capsys.readouterr().out.startswith(f"usage: {cli.PROG} book")


def test_the_test_command_runs_pytest_in_the_checkout_and_forgives_no_tests(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda args, cwd: calls.append((args, cwd)) or 5)
    assert cli.main(["test", "--", "-x", "tests/test_config.py"]) == 0
    assert calls == [([sys.executable, "-m", "pytest", *cli.TEST_WORKERS, "-x", "tests/test_config.py"],
                      config.PROJECT_ROOT)]


@pytest.mark.parametrize("extra", [["-n", "0"], ["-n4"], ["--numprocesses=3"], ["--dist", "load"], ["-p", "no:xdist"]])
def test_the_test_command_leaves_the_workers_to_a_caller_who_chooses_them(extra):
    assert cli.pytest_arguments(extra) == extra
    assert cli.pytest_arguments(["-x"]) == [*cli.TEST_WORKERS, "-x"]


def test_the_installed_script_runs(tmp_path):
    script = tmp_path / "run.py"
    script.write_text("import sys\nfrom glacier_utils.cli import main\nsys.exit(main())\n")
    done = subprocess.run([sys.executable, str(script), "train", "-h"], capture_output=True, text=True, check=True)
    assert "--model" in done.stdout and "--scene" in done.stdout


# --------------------------------------------------------------------------------------------
# The package-level steps: what a fresh machine rebuilds on its own (experiments.ensure_prerequisites)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The smoke profile's tiles prepared by `glacier-outlines prepare` into an empty data folder."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLACIER_DATA_DIR", str(data))
        assert cli.main(["prepare", "--profile", "smoke"]) == 0
    return data


def test_prepare_writes_notebook_01s_tiles_and_record(prepared, monkeypatch):
    monkeypatch.setenv("GLACIER_DATA_DIR", str(prepared))
    paths = runs.RunPaths("smoke")
    record = runs.read_json(paths.preparation_record)
    assert paths.tiles.exists()
    assert (record["source"], record["seed"], record["profile"]) == ("synthetic", config.PROFILES["smoke"].data_seed,
                                                                     "smoke")
    assert record["code"]["version"] == glacier_utils.__version__ and "commit" in record["code"]


def test_ensure_prerequisites_reuses_what_is_there_and_says_so(prepared, monkeypatch, capsys):
    monkeypatch.setenv("GLACIER_DATA_DIR", str(prepared))
    dataset = experiments.ensure_prerequisites("smoke", need=["tiles"])
    assert capsys.readouterr().out.startswith("tiles: reusing notebook 01's")
    assert dataset.sizes["sample"] == runs.read_json(runs.RunPaths("smoke").preparation_record)["samples"]


def test_ensure_prerequisites_rejects_what_it_cannot_rebuild():
    with pytest.raises(ValueError, match="unknown"):
        experiments.ensure_prerequisites("smoke", need=["tiles", "outlines"])
    with pytest.raises(ValueError, match="add 'networks'"):
        experiments.ensure_prerequisites("smoke", need=["tiles"], networks=[("unet", "scene2", 0)])


def test_tiles_of_a_study_of_real_images_are_not_invented(data_dir):
    with pytest.raises(FileNotFoundError, match="01_data_preparation"):
        experiments.ensure_prerequisites(runs.RunPaths("smoke", study="alps"), need=["tiles"])


def test_the_band_ratio_threshold_is_rebuilt_as_notebook_02_chooses_it(prepared, monkeypatch, capsys):
    monkeypatch.setenv("GLACIER_DATA_DIR", str(prepared))
    paths = runs.RunPaths("smoke")
    dataset = experiments.ensure_prerequisites("smoke", need=["tiles", "band_ratio"])
    assert "sweeping Table II's thresholds" in capsys.readouterr().out
    choice = runs.read_json(paths.band_ratio_choice)
    assert choice["threshold"] == experiments.band_ratio_threshold(dataset, "smoke")
    assert choice["threshold"] in config.RATIO_THRESHOLDS and choice["code"]["version"] == glacier_utils.__version__
    assert cli.main(["sweep", "--profile", "smoke", "--metric", "kappa"]) == 0
    assert runs.read_json(paths.band_ratio_choice)["metric"] == "kappa"


@pytest.mark.slow
def test_map_turns_a_real_landsat_scene_into_probability_and_mask_cogs(prepared, monkeypatch, tmp_path, real_data_dir):
    import numpy as np
    import rioxarray

    monkeypatch.setenv("GLACIER_DATA_DIR", str(prepared))
    scene = real_data_dir / "landsat5_tm_p224r063_1988"
    assert cli.main(["map", str(scene), "--profile", "smoke", "--out", str(tmp_path)]) == 0  # trains the network first
    mask = rioxarray.open_rasterio(tmp_path / f"{scene.name}_mask.tif")
    probability = rioxarray.open_rasterio(tmp_path / f"{scene.name}_probability.tif")
    assert mask.rio.crs is not None and mask.shape == probability.shape
    assert set(np.unique(mask.values)) <= {0, 1, config.LABEL_NODATA}
    assert runs.read_json(runs.RunPaths("smoke").training_run("m_landsnet", "scene1_grouped", 0) / "run.json")[
        "code"]["version"] == glacier_utils.__version__


def test_a_study_without_the_ratios_bands_skips_the_band_ratio_and_says_so(prepared, tmp_path, monkeypatch, capsys):
    import shutil

    from glacier_utils import tiles

    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    monkeypatch.setenv("GLACIER_DATA_DIR", str(data))
    paths = runs.RunPaths("smoke")
    tiles.save_tile_dataset(tiles.load_tile_dataset(paths.tiles).sel(band=[1, 2, 3, 4]), paths.tiles)
    paths.band_ratio_choice.unlink(missing_ok=True)
    experiments.ensure_prerequisites("smoke", need=["tiles", "band_ratio"])
    assert "band ratio: skipped" in capsys.readouterr().out and not paths.band_ratio_choice.exists()
