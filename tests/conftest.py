"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from chromium import Opened, chromium, open_recorded, require_chromium
from llama_server import llama_server  # noqa: F401  (the real-server tier's session fixture)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The shared seed dumps: $EXTRACT_SEEDS, else <project root>/../shared/seeds."""
    configured = os.environ.get("EXTRACT_SEEDS")
    path = Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "seeds"
    if not path.is_dir():
        pytest.skip(f"seed dumps not found at {path} (set EXTRACT_SEEDS)")
    return path


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory (so ./claims.duckdb is private) with no
    endpoint, key or model from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "EXTRACT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """Debian's chromium, headless, for the tests of one module (skipped without it)."""
    require_chromium()
    with chromium() as context:
        yield context


@pytest.fixture
def open_page(browser: BrowserContext) -> Iterator[Callable[[Path], Opened]]:
    """Open a file in a new tab that records requests, dialogs, errors and CSP violations."""
    opened: list[Opened] = []

    def open_(path: Path) -> Opened:
        opened.append(open_recorded(browser, path))
        return opened[-1]

    yield open_
    for o in opened:
        o.page.close()
