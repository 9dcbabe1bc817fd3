"""The `runs` table: one row per command that wrote to the database."""

from __future__ import annotations

import json
import secrets
from typing import Any

from extract.store.db import Database, now


def new_run_id() -> str:
    return "run-" + now().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


def start_run(db: Database, run_id: str, *, command: str, pipeline: dict[str, Any], topic: str | None = None) -> None:
    """A new run row, `running`; `topic` is the one a `run --topic` run re-extracts."""
    db.con.execute(
        "INSERT INTO runs (run_id, started_at, status, command, topic, pipeline_name, pipeline_path, pipeline_hash,"
        " pipeline_json, model, prompts) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            now(),
            command,
            topic,
            pipeline.get("name"),
            pipeline.get("path"),
            pipeline.get("hash"),
            json.dumps(pipeline.get("config"), ensure_ascii=False),
            pipeline.get("model"),
            json.dumps(pipeline.get("prompts", {})),
        ],
    )


def finish_run(
    db: Database,
    run_id: str,
    *,
    status: str,
    counts: dict[str, Any],
    skipped: list[dict[str, str]],
    error: str | None = None,
) -> None:
    db.con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, counts = ?, skipped = ?, error = ? WHERE run_id = ?",
        [now(), status, json.dumps(counts), json.dumps(skipped, ensure_ascii=False), error, run_id],
    )


def mark_interrupted(db: Database) -> int:
    """Runs left 'running' by a process that died are marked as interrupted."""
    rows = db.con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running' RETURNING run_id").fetchall()
    return len(rows)


def list_runs(db: Database) -> list[dict[str, Any]]:
    cur = db.con.execute(
        "SELECT run_id, started_at, finished_at, status, command, pipeline_name, pipeline_hash, model,"
        " prompts, counts, skipped, error FROM runs ORDER BY started_at, run_id"
    )
    out = []
    for row in cur.fetchall():
        item = dict(zip([d[0] for d in cur.description], row, strict=True))
        for key in ("prompts", "counts", "skipped"):
            item[key] = json.loads(item[key]) if item[key] else ({} if key != "skipped" else [])
        for key in ("started_at", "finished_at"):
            item[key] = item[key].isoformat(timespec="seconds") if item[key] else None
        out.append(item)
    return out
