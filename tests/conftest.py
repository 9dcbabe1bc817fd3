"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
