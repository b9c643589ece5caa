"""Hooks for the whole test run: the unit tests, the notebooks under nbval and the browser tests."""

from __future__ import annotations

PINNED_TAG = "nbval-check-output"  # glacier_utils.pipeline.PINNED_TAG; not imported so that collection stays light


def pytest_collection_modifyitems(session, config, items):
    """Let nbval compare the pinned cells, and run the browser tests last."""
    for item in items:
        cell = getattr(item, "cell", None)  # an nbval cell item
        if cell is not None and PINNED_TAG in cell.get("metadata", {}).get("tags", []) and cell.get("outputs"):
            # nbval only compares cells whose stored run has an execution count, and the nbstripout git filter
            # removes every count on commit (it has no per-cell option). The stored outputs are the reference.
            cell.execution_count = cell.execution_count or 1
    # The book the browser tests build then reuses the networks the notebook runs trained.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
