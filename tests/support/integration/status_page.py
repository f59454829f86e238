"""What tests/integration/console/test_status_page.py shares with the other tests:
CHROMIUM, browser, chromiumOrSkip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromiumOrSkip() -> Any:
    """Playwright's sync API, or skip saying what is missing."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            "no Chromium: scripts/install-test-backends installs Debian's package when run as root"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    return sync_playwright


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_playwright = chromiumOrSkip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
