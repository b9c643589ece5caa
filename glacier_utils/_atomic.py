"""One way to write a file or folder: to a temporary name beside it, then rename it into place.

Every writer of the package goes through :func:`atomic_path`, so an interrupted run never leaves a
half-written artefact under its final name, and what was there before survives a failed write. The
temporary is ``<stem>.partial-<pid><suffix>`` in the target's folder (same file system, so the rename
is atomic; the suffix is kept because GDAL, Keras and the GeoPackage driver choose a format by it).
A temporary whose process is gone (a killed run) is removed by the next write of the same target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from glacier_utils.errors import DataError

PARTIAL = ".partial-"


def partial_path(path: Path, pid: int | None = None) -> Path:
    """The temporary name a write of ``path`` uses in this process (or in process ``pid``)."""
    return path.with_name(f"{path.stem}{PARTIAL}{os.getpid() if pid is None else pid}{path.suffix}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def stale_partials(path: Path) -> list[Path]:
    """Temporaries of earlier writes of ``path`` whose process no longer runs (left by a kill)."""
    stale = []
    for candidate in path.parent.glob(f"{path.stem}{PARTIAL}*{path.suffix}"):
        token = candidate.name[len(path.stem) + len(PARTIAL):len(candidate.name) - len(path.suffix) or None]
        if token.isdigit() and int(token) != os.getpid() and not _pid_alive(int(token)):
            stale.append(candidate)
    return stale


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` to; on success it replaces ``path``, on error it is removed.

    Works for files and for folders (a zarr store): an existing folder is moved aside, replaced, then
    deleted, and restored if the rename fails.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(path, err) from err
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise _unwritable(path, None)
    for stale in stale_partials(path):
        _quietly_remove(stale)
    tmp = partial_path(path)
    _quietly_remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writing {path}: the writer produced nothing at {tmp}")
        _fsync(tmp)
        if tmp.is_dir() and path.is_dir():
            old = path.with_name(f"{path.stem}{PARTIAL}{os.getpid()}-old{path.suffix}")
            _remove(old)
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException as err:
        _quietly_remove(tmp)  # never lets a failing cleanup replace the error that stopped the write
        if _refused_here(err, path):
            raise _unwritable(path, err) from err
        raise
    return None


#: errno of a folder that refuses writes: read-only file system, no permission.
_UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def _refused_here(err: BaseException, path: Path) -> bool:
    """Whether ``err`` is the target's folder refusing a write (not, say, an unreadable input)."""
    if not isinstance(err, OSError) or err.errno not in _UNWRITABLE:
        return False
    name = err.filename
    return name is None or (isinstance(name, (str, bytes, os.PathLike)) and Path(os.fsdecode(name)).parent == path.parent)


def _unwritable(path: Path, err: OSError | None) -> DataError:
    why = f" ({err.strerror or err})" if err is not None else ""
    return DataError(f"cannot write {path.name}: its folder {path.parent} is read-only or not writable{why}; "
                     "choose a writable output folder (or fix its permissions) and run again")


def _quietly_remove(path: Path) -> None:
    """Remove a temporary; a failure (a read-only folder) is left for the caller's error to report."""
    with contextlib.suppress(OSError):
        _remove(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
