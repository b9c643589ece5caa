"""Tests of glacier_utils.io.download against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile

import pooch
import pytest

from glacier_utils.io import download
from glacier_utils.errors import DataError

CONTENT = b"glacier outlines 1986-2021\n" * 100


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and counts GET requests per path."""

    counts: dict[str, int] = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.counts[self.path] = self.counts.get(self.path, 0) + 1
        super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture()
def server(tmp_path):
    """(base URL, served folder, request counts) of a threaded HTTP server on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "outlines.gpkg").write_bytes(CONTENT)
    with zipfile.ZipFile(served / "rgi.zip", "w") as archive:
        archive.writestr("13_rgi60_CentralAsia.shp", b"not really a shapefile")
        archive.writestr("13_rgi60_CentralAsia.dbf", b"attributes")
    counts: dict[str, int] = {}
    handler = functools.partial(type("Handler", (_CountingHandler,), {"counts": counts}), directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, counts
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_fetch_downloads_once_into_the_cache_and_verifies(server, data_dir):
    url, _, counts = server
    path = download.fetch(f"{url}/outlines.gpkg", _sha256(CONTENT))
    assert path.read_bytes() == CONTENT
    assert path.parent == data_dir / "cache"
    again = download.fetch(f"{url}/outlines.gpkg", _sha256(CONTENT))
    assert again == path
    assert counts["/outlines.gpkg"] == 1  # the second call used the cache


def test_checksum_mismatch_is_an_error_and_leaves_nothing_in_the_cache(server, data_dir):
    url, _, _ = server
    wrong = _sha256(b"something else")
    with pytest.raises(DataError, match="outlines.gpkg.*failed verification"):
        download.fetch(f"{url}/outlines.gpkg", wrong, subdir="strict")
    assert list((data_dir / "cache" / "strict").iterdir()) == []


def test_changed_file_on_server_is_detected_against_the_pinned_hash(server, data_dir):
    url, served, _ = server
    pinned = _sha256(CONTENT)
    download.fetch(f"{url}/outlines.gpkg", pinned, subdir="pinned")
    cached = data_dir / "cache" / "pinned"
    (served / "outlines.gpkg").write_bytes(b"tampered")
    # the cached copy is still valid: no download, same content
    assert download.fetch(f"{url}/outlines.gpkg", pinned, subdir="pinned").read_bytes() == CONTENT
    # a corrupted cached copy is re-downloaded, and the tampered file fails verification
    next(cached.iterdir()).write_bytes(b"corrupt")
    with pytest.raises(DataError, match="failed verification"):
        download.fetch(f"{url}/outlines.gpkg", pinned, subdir="pinned")


def test_missing_checksum_downloads_with_a_warning(server, data_dir):
    url, _, _ = server
    with pytest.warns(UserWarning, match="without a checksum"):
        path = download.fetch(f"{url}/outlines.gpkg", None, fname="unpinned.gpkg")
    assert path.name == "unpinned.gpkg" and path.read_bytes() == CONTENT


def test_malformed_checksum_is_rejected_before_downloading(server, data_dir):
    url, _, counts = server
    with pytest.raises(DataError, match="known_hash='sha256:xyz' is not"):
        download.fetch(f"{url}/outlines.gpkg", "sha256:xyz")
    assert counts == {}


def test_rgi_helper_unzips_into_the_cache(server, data_dir):
    url, served, _ = server
    digest = _sha256((served / "rgi.zip").read_bytes())
    files = download.fetch_rgi6_region13(digest, url=f"{url}/rgi.zip", progressbar=False)
    assert sorted(p.name for p in files) == ["13_rgi60_CentralAsia.dbf", "13_rgi60_CentralAsia.shp"]
    assert all(str(p).startswith(str(data_dir / "cache" / "rgi60")) for p in files)


def test_paper_outlines_registry_points_at_the_zenodo_doi(data_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(pooch.Pooch, "load_registry_from_doi", lambda self: calls.append(self.base_url))
    registry = download.paper_outlines_registry()
    assert calls == ["doi:10.5281/zenodo.5512064/"]  # the registry (names, Zenodo MD5s) comes from the DOI
    assert registry.abspath == data_dir / "cache" / "chen2022_outlines"


def test_paper_outlines_fetch_every_registered_file_and_reject_unknown_names(server, data_dir, monkeypatch):
    url, _, counts = server
    local = pooch.create(
        path=download.cache_dir("chen2022_outlines"), base_url=f"{url}/",
        registry={"outlines.gpkg": _sha256(CONTENT)},
    )
    monkeypatch.setattr(download, "paper_outlines_registry", lambda **_: local)
    paths = download.fetch_paper_outlines(progressbar=False)
    assert [p.name for p in paths] == ["outlines.gpkg"] and paths[0].read_bytes() == CONTENT
    with pytest.raises(DataError, match="not in Zenodo record 10.5281/zenodo.5512064: missing.zip"):
        download.fetch_paper_outlines(["missing.zip"])
    assert counts == {"/outlines.gpkg": 1}
