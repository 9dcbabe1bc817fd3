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
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, sync_playwright

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


# Before any script of the page: every Content-Security-Policy violation is recorded.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective));
"""


@dataclass
class Opened:
    """A page with what it did: requests, dialogs, errors, and (`violations()`) CSP violations."""

    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__violations"))


def open_recorded(context: BrowserContext, path: Path) -> Opened:
    """Open a file in a new tab that records requests, dialogs (dismissed), errors and CSP violations."""
    page = context.new_page()
    opened = Opened(page)
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("pageerror", lambda e: opened.errors.append(str(e)))

    def dismiss(dialog: Dialog) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(path.as_uri())
    return opened
