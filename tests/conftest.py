"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest

# TensorFlow: quiet logs and no oneDNN non-determinism in unit tests.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from glacier_utils import config  # noqa: E402


@pytest.fixture(scope="session")
def real_data_dir():
    """``../shared/data/real`` next to the project root; tests using it skip where it is absent."""
    path = config.SHARED_REAL_DATA_DIR
    if not path.is_dir():
        pytest.skip(f"real sample data not available: {path} is absent (it lives in ../shared beside the project)")
    return path


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    """Point ``GLACIER_DATA_DIR`` at a per-test temporary folder so tests never touch ./data."""
    monkeypatch.setenv("GLACIER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
