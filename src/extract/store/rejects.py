"""The `rejects` table: what was not kept, why, and the raw output it came from."""

from __future__ import annotations

from extract.models import Reject
from extract.store.db import Database

REJECT_COLUMNS = (
    "reject_id",
    "run_id",
    "job",
    "reason",
    "detail",
    "raw_output",
    "item_json",
    "request_hash",
    "chunk_id",
    "doc_sha256",
    "created_at",
)


def save_rejects(db: Database, rejects: list[Reject]) -> int:
    """Insert rejects not already stored (re-runs replay the same answers); return how many are new."""
    if not rejects:
        return 0
    with db.transaction():
        ids = [r.reject_id for r in rejects]
        known = {
            row[0]
            for row in db.con.execute(
                "SELECT reject_id FROM rejects SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS reject_id) USING (reject_id)",
                [ids],
            ).fetchall()
        }
        new = [r for r in {r.reject_id: r for r in rejects}.values() if r.reject_id not in known]
        if new:
            db.insert_many(
                "rejects",
                REJECT_COLUMNS,
                [
                    [
                        r.reject_id,
                        r.run_id,
                        r.job,
                        r.reason,
                        r.detail,
                        r.raw_output,
                        r.item_json,
                        r.request_hash,
                        r.chunk_id,
                        r.doc_sha256,
                        r.created_at,
                    ]
                    for r in new
                ],
            )
    return len(new)
