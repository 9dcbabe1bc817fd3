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
