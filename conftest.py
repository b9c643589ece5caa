"""Hooks for the whole test run: the unit tests, the notebooks under nbval and the browser tests.

``make test`` runs pytest on two xdist workers (``--dist loadscope``, with the scheduler below): the
notebooks and the browser tests form one unit of work that a single worker runs in order (each notebook
builds on the one before, and the browser tests view the book of their outputs), while the other worker
takes the unit tests, module by module. Each notebook nbval executes is also written, with its outputs,
where the book build expects it (``_build/executed``), so the browser tests build the book from those runs
instead of executing every page a second time.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell
from xdist.scheduler import LoadScopeScheduling

from tools import pipeline

#: Where the book's items are collected from: the notebooks, the results chapter and the browser tests.
BOOK_ITEMS = ("notebooks/", "book/", "tests/test_book_browser.py")


class BookFirstScheduling(LoadScopeScheduling):
    """xdist's ``loadscope`` with all of the book's items as one scope, handed out first, in collection order.

    Our own scheduler because xdist's ``loadgroup`` marks groups by rewriting ``item._nodeid``, which pytest 9
    no longer reads (its node ids derive from ``item._id``), so marked items still scatter over the workers.
    """

    def _split_scope(self, nodeid: str) -> str:
        return "book" if nodeid.startswith(BOOK_ITEMS) else super()._split_scope(nodeid)

    def __init__(self, config, log=None):
        super().__init__(config, log)
        # Scopes in collection order, where the book comes first (not the largest first, xdist's default).
        config.option.loadscopereorder = False


@pytest.hookimpl(optionalhook=True)  # a hook of xdist, absent under -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` keeps the book's items together on one worker, first (see BookFirstScheduling)."""
    return BookFirstScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


#: Outputs of the cells nbval ran so far, per notebook, in the order of its code cells.
_ran_cells: dict[Path, list] = {}


def pytest_collection_modifyitems(session, config, items):
    """Give nbval the pinned cells' reference outputs; the notebooks run first, then the browser tests, then the rest."""
    references = pipeline.read_pinned_results()
    for item in items:
        cell = getattr(item, "cell", None)  # an nbval cell item
        if cell is not None and pipeline.PINNED_TAG in cell.get("metadata", {}).get("tags", []):
            # The committed notebooks carry no outputs; the references live in notebooks/pinned_results.json.
            # A pinned cell without a reference gets none, and nbval's comparison then fails on its output.
            stored = references.get(item.path.relative_to(config.rootpath).as_posix(), {}).get(cell.source, [])
            cell.outputs = [nbformat.from_dict(output) for output in stored]
            cell.execution_count = 1  # nbval compares only cells whose stored run has a count
    # The book the browser tests build reuses the networks the notebook runs trained; under xdist the book's
    # items go first so that its long chain starts at once, beside the unit tests.
    items.sort(key=lambda item: (not isinstance(item, IPyNbCell), item.get_closest_marker("browser") is None))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel in its first cell's set-up: in the environment the book's kernels get.

    That is, figures drawn inline (CI sets MPLBACKEND=Agg, which would keep them out of the outputs) and
    TensorFlow's C++ notices off, as ``tools.pipeline`` runs the notebooks for the book.
    """
    if isinstance(item, IPyNbCell):
        with pipeline.kernel_environment():
            return (yield)
    return (yield)


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell, write the notebook as nbval executed it to the book's executed copies."""
    if not isinstance(item, IPyNbCell):
        return
    ran = _ran_cells.setdefault(item.path, [])
    ran.append(item.test_outputs)  # None for a cell that did not run
    if nextitem is None or nextitem.parent is not item.parent:
        pipeline.write_executed_copy(item.path, item.parent.nb, _ran_cells.pop(item.path))
