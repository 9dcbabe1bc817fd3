"""`extract topics`: the pipeline's topics and the ones claims propose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extract.config import Pipeline
from extract.store import open_database
from extract.store.claims import topics_overview


def topics_overview_of(pipeline: Pipeline, db_path: Path) -> list[dict[str, Any]]:
    """`extract topics`: the pipeline's topics, and the ones claims propose."""
    with open_database(db_path, read_only=True) as db:
        return topics_overview(db, pipeline.topic_slugs())
