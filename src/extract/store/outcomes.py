"""The `answer_outcomes` table: what validating each answer for each chunk yielded, so a
re-run replays it instead of parsing and validating the same answer again
(`extract.stages.replay`)."""

from __future__ import annotations

from extract.models import AnswerOutcome
from extract.store.db import Database, now

OUTCOME_COLUMNS = (
    "request_hash",
    "answer_no",
    "chunk_id",
    "validator",
    "answer_sha256",
    "obs_ids",
    "reject_ids",
    "reject_reasons",
    "created_at",
)

# An answer's outcome, by (request hash, answer number, chunk id, SHA-256 of the answer's text).
OutcomeKey = tuple[str, int, str, str]


def save_outcomes(db: Database, validator: str, outcomes: list[AnswerOutcome]) -> None:
    """Record outcomes (call once their observations and rejects are stored)."""
    if not outcomes:
        return
    created = now()
    db.insert_many(
        "answer_outcomes",
        OUTCOME_COLUMNS,
        [
            [
                o.request_hash,
                o.answer_no,
                o.chunk_id,
                validator,
                o.answer_sha256,
                list(o.obs_ids),
                list(o.reject_ids),
                list(o.reject_reasons),
                created,
            ]
            for o in outcomes
        ],
        " ON CONFLICT DO NOTHING",
    )


def stored_outcomes(db: Database, validator: str, chunk_ids: list[str]) -> dict[OutcomeKey, AnswerOutcome]:
    """The outcomes recorded under `validator` for answers to these chunks, leaving out any
    whose observations or rejects are not all stored."""
    if not chunk_ids:
        return {}
    rows = db.con.execute(
        """
        WITH mine AS (
            SELECT request_hash, answer_no, chunk_id, answer_sha256, obs_ids, reject_ids, reject_reasons
            FROM answer_outcomes SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS chunk_id) USING (chunk_id)
            WHERE validator = ?
        ), missing AS (
            SELECT request_hash, answer_no, chunk_id, answer_sha256
            FROM (SELECT request_hash, answer_no, chunk_id, answer_sha256, unnest(obs_ids) AS obs_id FROM mine)
            ANTI JOIN observations USING (obs_id)
            UNION
            SELECT request_hash, answer_no, chunk_id, answer_sha256
            FROM (SELECT request_hash, answer_no, chunk_id, answer_sha256, unnest(reject_ids) AS reject_id FROM mine)
            ANTI JOIN rejects USING (reject_id)
        )
        SELECT request_hash, answer_no, chunk_id, answer_sha256, obs_ids, reject_ids, reject_reasons
        FROM mine ANTI JOIN missing USING (request_hash, answer_no, chunk_id, answer_sha256)
        """,
        [chunk_ids, validator],
    ).fetchall()
    return {
        (h, n, chunk, sha): AnswerOutcome(h, n, chunk, sha, tuple(obs), tuple(rejects), tuple(reasons))
        for h, n, chunk, sha, obs, rejects, reasons in rows
    }
