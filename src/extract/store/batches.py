"""The `batches` and `batch_requests` tables: Batch API jobs and what each one asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from extract.models import ModelReply, ModelRequest
from extract.store.db import Database, now
from extract.store.responses import RESPONSE_COLUMNS, response_row

OPEN_STATUSES = ("validating", "in_progress", "finalizing", "cancelling", "completed")


@dataclass(frozen=True)
class PendingRequest:
    request: ModelRequest
    chunk_id: str | None
    attempt: int


def save_batch(
    db: Database,
    batch_id: str,
    *,
    run_id: str,
    endpoint: str,
    input_file_id: str,
    status: str,
    requests: list[PendingRequest],
) -> None:
    with db.transaction():
        db.con.execute(
            "INSERT INTO batches (batch_id, run_id, endpoint, input_file_id, status, n_requests, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [batch_id, run_id, endpoint, input_file_id, status, len(requests), now(), now()],
        )
        db.insert_many(
            "batch_requests",
            (
                "request_hash",
                "batch_id",
                "job",
                "model",
                "prompt_name",
                "prompt_hash",
                "chunk_id",
                "attempt",
                "request_json",
            ),
            [
                [
                    p.request.request_hash(),
                    batch_id,
                    p.request.job,
                    p.request.model,
                    p.request.prompt_name,
                    p.request.prompt_hash,
                    p.chunk_id,
                    p.attempt,
                    json.dumps(p.request.body(), ensure_ascii=False),
                ]
                for p in requests
            ],
            " ON CONFLICT DO NOTHING",
        )


def open_batches(db: Database) -> list[dict[str, Any]]:
    """Batches whose answers have not been collected yet."""
    cur = db.con.execute(
        "SELECT batch_id, run_id, endpoint, input_file_id, status, n_requests FROM batches"
        f" WHERE status IN ({', '.join('?' for _ in OPEN_STATUSES)}) ORDER BY created_at",
        list(OPEN_STATUSES),
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def list_batches(db: Database) -> list[dict[str, Any]]:
    cur = db.con.execute("SELECT * FROM batches ORDER BY created_at")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def pending_request_hashes(db: Database) -> set[str]:
    """Requests waiting in an open batch: not to be sent again meanwhile."""
    rows = db.con.execute(
        "SELECT r.request_hash FROM batch_requests r JOIN batches b USING (batch_id)"
        f" WHERE b.status IN ({', '.join('?' for _ in OPEN_STATUSES)})",
        list(OPEN_STATUSES),
    ).fetchall()
    return {row[0] for row in rows}


def update_batch(
    db: Database, batch_id: str, *, status: str, completed: int = 0, failed: int = 0, error: str | None = None
) -> None:
    db.con.execute(
        "UPDATE batches SET status = ?, n_completed = ?, n_failed = ?, error = ?, updated_at = ? WHERE batch_id = ?",
        [status, completed, failed, error, now(), batch_id],
    )


def save_batch_replies(db: Database, batch_id: str, run_id: str, replies: dict[str, ModelReply]) -> int:
    """Store the answers of a batch in the response cache; return how many were new."""
    if not replies:
        return 0
    rows = db.con.execute(
        "SELECT request_hash, job, model, prompt_name, prompt_hash, chunk_id, attempt, request_json"
        " FROM batch_requests WHERE batch_id = ?",
        [batch_id],
    ).fetchall()
    known = {r[0] for r in db.con.execute("SELECT request_hash FROM responses").fetchall()}
    new = []
    for request_hash, job, model, prompt_name, prompt_hash, chunk_id, attempt, request_json in rows:
        reply = replies.get(request_hash)
        if reply is None or request_hash in known:
            continue
        new.append(
            response_row(
                request_hash, run_id, job, model, prompt_name, prompt_hash, chunk_id, attempt, request_json, reply
            )
        )
    with db.transaction():
        db.insert_many("responses", RESPONSE_COLUMNS, new)
    return len(new)
