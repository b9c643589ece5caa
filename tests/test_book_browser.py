"""The published book in a real browser: every page renders, the interactive figures draw, nothing needs the network.

The book is the quick profile's, built by ``tools.pipeline`` from the pages the notebook tests executed
earlier in the run (the project's ``conftest.py`` writes them to ``_build/executed``), or, where some page was
not executed since its sources changed, after executing every page (``--pages-only``: the notebooks reuse the
networks trained earlier); nothing is rebuilt when the book is newer than its pages and their sources.
Chromium is Debian's package (``.ci/run`` installs it); where it is missing these tests skip, unless
``GLACIER_REQUIRE_BROWSER=1``.
Screenshots of every notebook page go to ``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from glacier_utils import config
from tools import pipeline

pytestmark = pytest.mark.browser

ROOT = config.PROJECT_ROOT
HTML = pipeline.BOOK_BUILD_DIR / "html"
SCREENSHOTS = pipeline.BOOK_BUILD_DIR / "screenshots"
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book", "notebooks", "glacier_utils")
NOTEBOOK_PAGES = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
#: Interactive (holoviews/bokeh) figures and matplotlib images each notebook page shows at least.
INTERACTIVE = {"01_data_preparation": 0, "02_band_ratio_threshold_sweep": 1, "03_train_networks": 1,
               "04_scene_comparison": 1, "05_time_series_1986_2021": 1}
IMAGES = {"01_data_preparation": 3, "02_band_ratio_threshold_sweep": 1, "03_train_networks": 1,
          "04_scene_comparison": 3, "05_time_series_1986_2021": 1}
#: sphinx-thebe 0.3.1 adds its configuration script twice under jupyter-book 1.0 (init_thebe_core runs on
#: each env-before-read-docs); the second `const` declaration throws. Thebe is not used by this book.
KNOWN_PAGE_ERRORS = re.compile(r"Identifier 'THEBE_JS_URL' has already been declared")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
COUNT_FIGURES_JS = """() => {
  const all = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) { all.push(el); if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document);
  return {
    bokeh_loaded: typeof window.Bokeh !== 'undefined',
    bokeh_roots: document.querySelectorAll('.cell_output [data-root-id]').length,
    canvases: all.filter(e => e.tagName === 'CANVAS' && e.width > 0 && e.height > 0).length,
    tables: document.querySelectorAll('.cell_output table').length,
    images: Array.from(document.querySelectorAll('.cell_output img')).filter(i => i.complete && i.naturalWidth > 0).length,
    broken_images: Array.from(document.querySelectorAll('img')).filter(i => !(i.complete && i.naturalWidth > 0)).length,
    text: document.body.innerText,
  };
}"""


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure where GLACIER_REQUIRE_BROWSER=1, as in CI)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    reason = "no Chromium on PATH (Debian: apt-get install chromium); .ci/run installs it"
    if os.environ.get("GLACIER_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def newest_source_mtime() -> float:
    """Modification time of the newest file the quick book is built from."""
    files = [p for name in BOOK_SOURCES for p in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    return max(p.stat().st_mtime for p in files)


@pytest.fixture(scope="session")
def book_url():
    """Base URL of the built quick-profile book, served from _build/html on a loopback port."""
    chromium_path()
    newest = newest_source_mtime()
    pages = [pipeline.executed_copy(p) for p in pipeline.executed_pages()]
    if not all(p.exists() and p.stat().st_mtime >= newest for p in pages):
        subprocess.run([sys.executable, "-m", "tools.pipeline", "--profile", "quick", "--pages-only"],
                       cwd=ROOT, check=True)
    elif not (pipeline.BUILD_STAMP.exists()
              and pipeline.BUILD_STAMP.stat().st_mtime >= max(p.stat().st_mtime for p in pages)):
        # The pages as the notebook tests just executed them (the project's conftest.py writes them).
        subprocess.run([sys.executable, "-m", "tools.pipeline", "--profile", "quick", "--build-only"],
                       cwd=ROOT, check=True)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(book_url):
    """Headless Debian Chromium driven by Playwright (no Playwright browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def visit(browser, url: str, screenshot: Path | None = None) -> dict:
    """Open a page, wait until the network is idle; its figures, and everything that went wrong on it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    offsite, failed, errors = [], [], []
    local = url.split("/", 3)[:3]
    page.on("request", lambda r: offsite.append(r.url) if r.url.split("/", 3)[:3] != local
            and not r.url.startswith(("data:", "blob:")) else None)
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(str(e)) if not KNOWN_PAGE_ERRORS.search(str(e)) else None)
    response = page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(500)  # BokehJS lays out its figures after the load event
    found = page.evaluate(COUNT_FIGURES_JS)
    found.update(status=response.status, title=page.title(), offsite=offsite, failed=failed, errors=errors)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return found


def book_pages() -> list[str]:
    """Every page of the table of contents, as a path below the HTML root."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    stack = list(toc.get("parts", []))
    while stack:
        entry = stack.pop(0)
        files += [e["file"] for e in entry.get("chapters", []) + entry.get("sections", []) if "file" in e]
        stack += entry.get("chapters", []) + entry.get("sections", [])
    return [f"{f}.html" for f in dict.fromkeys(files)]


@pytest.mark.parametrize("path", book_pages())
def test_every_page_renders_offline_without_script_errors(browser, book_url, path):
    found = visit(browser, f"{book_url}/{path}")
    assert found["status"] == 200, f"{path}: HTTP {found['status']}"
    assert found["title"].strip(), f"{path} has no title"
    assert not found["offsite"], f"{path} reaches beyond the book (offline it would break): {found['offsite']}"
    assert not found["failed"], f"{path}: resources failed to load: {found['failed']}"
    assert not found["errors"], f"{path}: JavaScript errors: {found['errors']}"
    assert found["broken_images"] == 0, f"{path}: {found['broken_images']} images did not load"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_notebook_page_shows_its_tables_and_figures(browser, book_url, name):
    found = visit(browser, f"{book_url}/notebooks/{name}.html", SCREENSHOTS / f"{name}.png")
    assert "BokehJS library is missing" not in found["text"] and "BokehJS is loading" not in found["text"]
    assert "Traceback (most recent call last)" not in found["text"], f"{name} shows an error output"
    assert found["tables"] >= 1, f"{name} shows no table"
    assert found["images"] >= IMAGES[name], f"{name} shows {found['images']} matplotlib figures, not {IMAGES[name]}"
    if INTERACTIVE[name]:
        assert found["bokeh_loaded"], f"{name}: BokehJS did not load"
        assert found["bokeh_roots"] >= INTERACTIVE[name], f"{name}: {found['bokeh_roots']} interactive figures"
        assert found["canvases"] >= INTERACTIVE[name], f"{name}: the interactive figures drew no canvas"


def test_results_chapter_compares_ours_with_the_paper(browser, book_url):
    found = visit(browser, f"{book_url}/book/results.html", SCREENSHOTS / "results.png")
    assert found["tables"] >= 3, "the results chapter lost its tables"
    for words in ("optimal TM3/TM5 threshold", "paper (real THR scenes)", "total glacier change 1986–2021"):
        assert words in found["text"], f"the results chapter does not say {words!r}"
    assert not re.search(r"\bnan\b", found["text"].lower()), "the results chapter shows missing values"
