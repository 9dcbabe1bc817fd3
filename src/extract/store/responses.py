"""The `responses` table: every raw model answer, stored before it is parsed.

It doubles as the response cache: a request whose hash is here is never sent again.
"""

from __future__ import annotations

import json

from extract.models import ModelReply, ModelRequest
from extract.store.db import Database, now


def cached_reply(db: Database, request_hash: str) -> ModelReply | None:
    row = db.con.execute(
        "SELECT raw_text, endpoint_model, finish_reason, prompt_tokens, completion_tokens, latency_ms, raw_json"
        " FROM responses WHERE request_hash = ?",
        [request_hash],
    ).fetchone()
    if row is None:
        return None
    return ModelReply(
        raw_text=row[0],
        endpoint_model=row[1],
        finish_reason=row[2] or "",
        prompt_tokens=row[3],
        completion_tokens=row[4],
        latency_ms=row[5],
        raw_json=row[6],
    )


def save_reply(
    db: Database, request: ModelRequest, reply: ModelReply, *, run_id: str, chunk_id: str | None, attempt: int
) -> str:
    request_hash = request.request_hash()
    db.con.execute(
        "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            request_hash,
            run_id,
            request.job,
            request.model,
            reply.endpoint_model,
            request.prompt_name,
            request.prompt_hash,
            chunk_id,
            attempt,
            json.dumps(request.body(), ensure_ascii=False),
            reply.raw_text,
            reply.raw_json,
            reply.finish_reason,
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.latency_ms,
            now(),
        ],
    )
    return request_hash


def completion_history(db: Database, model: str) -> float | None:
    """Mean completion tokens of this model's stored answers, once there are enough to trust."""
    row = db.con.execute(
        "SELECT count(*), avg(completion_tokens) FROM responses WHERE model = ? AND job = 'ref_triage'", [model]
    ).fetchone()
    if row is None or row[0] < 5:
        return None
    return float(row[1])
