"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, against a real ``roomchat serve``.

One Chromium process per test module (``browser``), a fresh context (its own
cookies and storage: a separate person) per page (``new_page``). The browser
is the system's ``/usr/bin/chromium``: Playwright never downloads one here.
Outside CI a missing browser or bundle skips these tests with the reason; in
CI (``CI`` set, as ``.ci/run`` does) it fails them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from roomchat.testing import RoomchatProcess

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BUNDLE = Path(__file__).resolve().parents[2] / "roomchat" / "web" / "static" / "index.html"
IN_CI = bool(os.environ.get("CI"))


def missing(reason: str) -> None:
    """Fail in CI (the browser tests must run there), skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs what they need)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Playwright gives it a fresh, temporary profile)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    if not BUNDLE.is_file():
        missing("the web client is not built: make web-client (cd web && npm ci && npm run build)")
    downloads = tempfile.mkdtemp(prefix="roomchat-browser-")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, downloads_path=downloads)
        yield chromium
        chromium.close()
    shutil.rmtree(downloads, ignore_errors=True)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(width=1100, height=800)``: a page in a context of its own; all closed after the test.

    Every page records its console errors and uncaught exceptions in ``page.problems``.
    """
    contexts: list[Any] = []

    def make(width: int = 1100, height: int = 800, **options: Any) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"uncaught: {error}"))
        page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
        return page

    yield make
    for context in contexts:
        context.close()


def start_web_server(config: dict[str, Any], directory: Path) -> RoomchatProcess:
    """``roomchat serve`` with ``config`` (written into ``directory``), started."""
    from roomchat.testing import write_config

    return RoomchatProcess(write_config(config, directory)).start()
