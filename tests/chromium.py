"""Debian's chromium under Playwright, for the tests and bench scripts that open reports.

No browser is ever downloaded (`playwright install` is never run): Playwright drives
`/usr/bin/chromium` (or `$EXTRACT_CHROMIUM`), headless, with a fresh profile and the
background services that would reach the network switched off.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = Path(os.environ.get("EXTRACT_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip without chromium; fail instead when `EXTRACT_REQUIRE_BROWSER=1` (CI sets it)."""
    if CHROMIUM.is_file():
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install chromium, or set EXTRACT_CHROMIUM)"
    if os.environ.get("EXTRACT_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
