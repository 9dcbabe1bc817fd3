"""Batch API jobs: collecting finished batches into the cache, and their status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extract.config import Pipeline
from extract.pipeline.common import (
    Progress,
    SilentProgress,
)
from extract.providers.openai_batch import OpenAIBatches
from extract.stages.batch import Collected
from extract.stages.batch import collect as collect_batches
from extract.store import Database, open_database
from extract.store.batches import list_batches, open_batches, update_batch


def collect_into_cache(db: Database, pipeline: Pipeline, progress: Progress) -> Collected:
    collected = collect_batches(db, OpenAIBatches(pipeline.model))
    for message in collected.messages:
        progress.notice(f"warning: {message}")
    if collected.answers or collected.still_running:
        progress.notice(
            f"batches: {collected.answers} answer(s) collected, {collected.still_running} batch(es) still running"
        )
    return collected


def collect_pipeline_batches(pipeline: Pipeline, db_path: Path, progress: Progress | None = None) -> Collected:
    """`extract batch collect`: bring finished batches' answers into the cache."""
    with open_database(db_path) as db:
        return collect_into_cache(db, pipeline, progress or SilentProgress())


def batch_overview(pipeline: Pipeline, db_path: Path) -> list[dict[str, Any]]:
    """`extract batch status`: every batch, open ones refreshed from the endpoint."""
    with open_database(db_path) as db:
        if open_batches(db):
            client = OpenAIBatches(pipeline.model)
            for batch in open_batches(db):
                state = client.state(batch["batch_id"])
                if state.status != "completed":
                    update_batch(
                        db,
                        state.batch_id,
                        status=state.status,
                        completed=state.completed,
                        failed=state.failed,
                        error=state.errors,
                    )
        return list_batches(db)
