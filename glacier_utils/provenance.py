"""Which code made a result: the package's version and the git commit, for every run record.

The version comes from the git tags at build time (setuptools-scm). The commit is read where it is
known: from git itself in a source checkout (``git rev-parse HEAD``, and whether tracked files were
changed since), else from what pip recorded for a ``pip install git+<url>@<commit>`` (PEP 610's
``direct_url.json``), else from the ``+g<hash>`` a development version carries.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import glacier_utils
from glacier_utils import config

#: The distribution name of the package (pyproject.toml's ``[project] name``).
DISTRIBUTION = "glacier-utils"


def version() -> str:
    """The installed package's version (``0+unknown`` when it runs from a folder that was never installed)."""
    return glacier_utils.__version__


def _git(*args: str, cwd: Path) -> str | None:
    """The stripped output of a git command in ``cwd``; None when git is missing or the command fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_commit(root: Path | None = None) -> tuple[str, bool] | None:
    """``(HEAD's hash, tracked files changed since)`` of the git checkout at ``root``; None outside one.

    ``root`` defaults to the package's source checkout; an installed package has none.
    """
    if root is None:
        if not config.IN_SOURCE_CHECKOUT:
            return None
        root = config.PROJECT_ROOT
    if not (Path(root) / ".git").exists():
        return None
    head = _git("rev-parse", "HEAD", cwd=Path(root))
    if not head:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=Path(root))
    return head, bool(status)


def installed_commit() -> str | None:
    """The commit an installed package was built from: pip's record of a git install, else its version's ``+g<hash>``."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    direct = dist.read_text("direct_url.json")
    if direct:
        try:
            commit = json.loads(direct).get("vcs_info", {}).get("commit_id")
        except (ValueError, AttributeError):
            commit = None
        if commit:
            return str(commit)
    found = re.search(r"\+g([0-9a-f]{7,40})", dist.version or "")
    return found.group(1) if found else None


def commit() -> str | None:
    """The commit of the code that runs (with ``+dirty`` when a checkout's tracked files changed); None if unknown."""
    checkout = checkout_commit()
    if checkout is not None:
        head, dirty = checkout
        return f"{head}+dirty" if dirty else head
    return installed_commit()


def record() -> dict[str, Any]:
    """The provenance fields of a run record: ``{"version": ..., "commit": ...}``."""
    return {"version": version(), "commit": commit()}
