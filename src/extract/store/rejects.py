"""The `rejects` table: what was not kept, why, and the raw output it came from."""

from __future__ import annotations

from extract.models import Reject
from extract.store.db import Database


def save_rejects(db: Database, rejects: list[Reject]) -> int:
    """Insert rejects not already stored (re-runs replay the same answers); return how many are new."""
    new = 0
    for r in rejects:
        inserted = db.con.execute(
            "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING reject_id",
            [r.reject_id, r.run_id, r.job, r.reason, r.detail, r.raw_output, r.item_json, r.request_hash,
             r.chunk_id, r.doc_sha256, r.created_at],
        ).fetchall()
        new += len(inserted)
    return new
