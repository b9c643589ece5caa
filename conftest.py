"""Hooks for the whole test run: the unit tests, the notebooks under nbval and the browser tests."""

from __future__ import annotations

import nbformat

from tools import pipeline


def pytest_collection_modifyitems(session, config, items):
    """Give nbval the pinned cells' reference outputs, and run the browser tests last."""
    references = pipeline.read_pinned_results()
    for item in items:
        cell = getattr(item, "cell", None)  # an nbval cell item
        if cell is not None and pipeline.PINNED_TAG in cell.get("metadata", {}).get("tags", []):
            # The committed notebooks carry no outputs; the references live in notebooks/pinned_results.json.
            # A pinned cell without a reference gets none, and nbval's comparison then fails on its output.
            stored = references.get(item.path.relative_to(config.rootpath).as_posix(), {}).get(cell.source, [])
            cell.outputs = [nbformat.from_dict(output) for output in stored]
            cell.execution_count = 1  # nbval compares only cells whose stored run has a count
    # The book the browser tests build then reuses the networks the notebook runs trained.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
