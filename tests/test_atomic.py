"""The one atomic-write helper: nothing half-written under a final name, no temporaries left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glacier_utils import _atomic


def test_a_write_replaces_the_target_only_when_complete(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with _atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    _atomic.write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_the_temporary_keeps_the_suffix_and_a_recognisable_name(tmp_path):
    target = tmp_path / "outlines.gpkg"
    with _atomic.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".gpkg"
        assert tmp.name == f"outlines.partial-{os.getpid()}.gpkg"
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_a_folder_target_is_replaced_whole(tmp_path):
    target = tmp_path / "tiles.zarr"
    (target / "old").mkdir(parents=True)
    with _atomic.atomic_path(target) as tmp:
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in target.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.zarr"]


def test_a_writer_that_writes_nothing_is_an_error_and_keeps_the_target(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("{}")
    with pytest.raises(FileNotFoundError, match="record.json"):
        with _atomic.atomic_path(target):
            pass
    assert target.read_text() == "{}"


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    # A process that exits without cleaning up stands in for a killed run: its pid is then free.
    script = ("import os, sys; from pathlib import Path; from glacier_utils import _atomic; "
              "p = _atomic.partial_path(Path(sys.argv[1])); p.write_text('left behind'); os._exit(9)")
    target = tmp_path / "mask_1986_1988.tif"
    subprocess.run([sys.executable, "-c", script, str(target)], check=False)
    leftovers = list(tmp_path.glob("mask_1986_1988.partial-*.tif"))
    assert len(leftovers) == 1
    assert _atomic.stale_partials(target) == leftovers
    _atomic.write_bytes(target, b"tif")
    assert [p.name for p in tmp_path.iterdir()] == ["mask_1986_1988.tif"]


def test_a_live_writers_temporary_is_not_touched(tmp_path):
    target = tmp_path / "areas.csv"
    live = _atomic.partial_path(target, pid=os.getppid())  # the parent process is alive
    live.write_text("in progress")
    _atomic.write_text(target, "a,b\n")
    assert live.exists()
