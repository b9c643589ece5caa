"""Download helpers for users with internet: the paper's outline dataset and RGI 6.0 region 13.

Nothing here runs in tests or CI: it is called only when a user asks for the real data. Files are
cached under ``config.data_root()/cache`` by pooch, which downloads to a temporary file and moves
it into place only after the checksum matched, so an interrupted or corrupt download never leaves
a half-written file in the cache.

Checksums. The paper's dataset (Chen & Zhang 2021, Zenodo DOI 10.5281/zenodo.5512064) is fetched
with pooch's ``doi:`` scheme, whose registry comes from the Zenodo API together with Zenodo's own
MD5 checksums. For RGI 6.0 we do not ship a checksum we could not verify ourselves: pass the
``sha256:…`` you trust as ``known_hash``; without one the file is used unchecked, with a warning
that prints the hash pooch computed so it can be pinned.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import pooch

from glacier_utils import config
from glacier_utils.errors import DataError

__all__ = [
    "PAPER_OUTLINES_DOI",
    "RGI6_REGION13_URL",
    "cache_dir",
    "fetch",
    "paper_outlines_registry",
    "fetch_paper_outlines",
    "fetch_rgi6_region13",
]

#: Zenodo record of the paper's outlines 1986-2021 (Chen & Zhang 2021; paper "Data availability").
PAPER_OUTLINES_DOI = "10.5281/zenodo.5512064"
#: RGI 6.0 region 13 (Central Asia) as distributed by GLIMS; NSIDC (nsidc0770) hosts the same
#: files behind an Earthdata login.
RGI6_REGION13_URL = "https://www.glims.org/RGI/rgi60_files/13_rgi60_CentralAsia.zip"

_HASH_RE = re.compile(r"^(?:(sha256|sha1|md5|sha512):)?([0-9a-fA-F]+)$")


def cache_dir(subdir: str | None = None) -> Path:
    """The download cache, ``config.data_root()/cache`` (or a sub-folder of it), created on demand."""
    path = config.data_root() / "cache"
    if subdir:
        path = path / subdir
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_hash(known_hash: str | None, url: str) -> None:
    """Warn when there is no checksum; DataError when the checksum is malformed."""
    if known_hash is None:
        warnings.warn(
            f"downloading {url} without a checksum: the file cannot be verified. pooch logs the "
            "SHA256 it computed; pass it as known_hash='sha256:…' to pin the file.",
            UserWarning,
            stacklevel=3,
        )
        return
    if not _HASH_RE.match(known_hash.strip()):
        raise DataError(f"known_hash={known_hash!r} is not '<algorithm>:<hex digest>' (e.g. 'sha256:3f2a…')")


def fetch(
    url: str,
    known_hash: str | None = None,
    *,
    fname: str | None = None,
    subdir: str | None = None,
    processor=None,
    progressbar: bool = False,
) -> Path | list[Path]:
    """Download ``url`` into the cache once (later calls reuse the file) and check it against ``known_hash``.

    Returns the cached file, or the list a pooch ``processor`` (e.g. ``pooch.Unzip()``) returns.
    A checksum mismatch raises DataError and leaves nothing in the cache.
    """
    _check_hash(known_hash, url)
    folder = cache_dir(subdir)
    try:
        result = pooch.retrieve(
            url, known_hash=known_hash, fname=fname, path=folder, processor=processor, progressbar=progressbar
        )
    except ValueError as err:  # pooch's checksum mismatch
        raise DataError(f"download of {url} into {folder} failed verification: {err}") from err
    if isinstance(result, (list, tuple)):
        return [Path(p) for p in result]
    return Path(result)


def paper_outlines_registry(*, subdir: str = "chen2022_outlines") -> pooch.Pooch:
    """A pooch for the paper's Zenodo record, with file names and Zenodo's MD5 checksums loaded from the DOI (needs internet)."""
    dataset = pooch.create(path=cache_dir(subdir), base_url=f"doi:{PAPER_OUTLINES_DOI}/", registry=None)
    dataset.load_registry_from_doi()
    return dataset


def fetch_paper_outlines(files: Sequence[str] | None = None, *, progressbar: bool = True) -> list[Path]:
    """Download (once) the paper's outline files from Zenodo, all of them or the names given; returns cached paths."""
    dataset = paper_outlines_registry()
    names = list(files) if files is not None else sorted(dataset.registry)
    unknown = [n for n in names if n not in dataset.registry]
    if unknown:
        raise DataError(
            f"not in Zenodo record {PAPER_OUTLINES_DOI}: {', '.join(unknown)}; it holds {', '.join(sorted(dataset.registry))}"
        )
    paths = []
    for name in names:
        processor = pooch.Unzip() if name.lower().endswith(".zip") else None
        result = dataset.fetch(name, processor=processor, progressbar=progressbar)
        if isinstance(result, list):
            paths.extend(Path(p) for p in result)
        else:
            paths.append(Path(result))
    return paths


def fetch_rgi6_region13(
    known_hash: str | None = None, *, url: str = RGI6_REGION13_URL, progressbar: bool = True
) -> list[Path]:
    """Download (once) and unzip RGI 6.0 region 13 (Central Asia); returns the extracted files."""
    result = fetch(url, known_hash, subdir="rgi60", processor=pooch.Unzip(), progressbar=progressbar)
    return result if isinstance(result, list) else [result]
