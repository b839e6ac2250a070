"""The real servers the tests start (`chroma run`, the LLM server, the app under uvicorn): evaluation/servers.py,
shared with the benchmarks in bench/; and the headless Chromium the browser tests drive (Debian's, through
Playwright, which cannot download browsers here)."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from evaluation.servers import chroma_executable, chroma_server, free_port, running, serve_app

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chroma_executable", "chroma_server", "chromium", "free_port", "running", "serve_app"]

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (the test is skipped when Debian's chromium is not installed)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (make test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
