"""The `observations`, `citations` and `run_observations` tables: every statement of a
claim, with provenance, and which runs produced or replayed it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from extract.models import Observation
from extract.store.db import Database

OBSERVATION_COLUMNS = (
    "obs_id",
    "claim_id",
    "run_id",
    "job",
    "text",
    "stance",
    "domain",
    "tags",
    "topic",
    "field_path",
    "camp",
    "citations",
    "quote",
    "alignment",
    "flags",
    "lang",
    "model",
    "prompt_name",
    "prompt_hash",
    "pipeline_hash",
    "request_hash",
    "doc_sha256",
    "source",
    "record_id",
    "chunk_id",
    "char_start",
    "char_end",
    "created_at",
    "run_label",
    "parent_obs_id",
    "answer_no",
)

# One piece of evidence per observation, except that the same model quoting the same
# span for the same field (overlapping chunks both hold it) is one piece: SQL over the
# observation aliased `o`.
EVIDENCE_KEY = (
    "CASE WHEN o.doc_sha256 IS NOT NULL AND o.char_start IS NOT NULL"
    " THEN concat_ws('|', o.job, o.model, o.field_path, o.doc_sha256, o.char_start, o.char_end)"
    " ELSE o.obs_id END"
)

CITATION_COLUMNS = ("obs_id", "claim_id", "raw", "kind", "value", "record_id")


_TAGS, _FLAGS, _CITATIONS = (OBSERVATION_COLUMNS.index(c) for c in ("tags", "flags", "citations"))


def _row(o: Observation) -> list[Any]:
    # Straight from the instance's fields: this runs once per stored observation.
    fields = o.__dict__
    row = [fields[c] for c in OBSERVATION_COLUMNS]
    row[_TAGS] = list(o.tags)
    row[_FLAGS] = list(o.flags)
    row[_CITATIONS] = [c.value for c in o.citations]
    return row


def unsaved_observations(db: Database, observations: list[Observation]) -> list[Observation]:
    """Those not stored yet (a re-run replays answers whose observations exist)."""
    if not observations:
        return []
    ids = [o.obs_id for o in observations]
    known = stored_ids(db, ids)
    return list({o.obs_id: o for o in observations if o.obs_id not in known}.values())


def stored_ids(db: Database, ids: list[str]) -> set[str]:
    """Those of `ids` already in `observations` (a join: the table and the list both grow)."""
    rows = db.con.execute(
        "SELECT obs_id FROM observations SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS obs_id) USING (obs_id)", [ids]
    ).fetchall()
    return {r[0] for r in rows}


CONTENT_COLUMNS = ("text", "quote", "stance", "job", "topic", "field_path", "model", "camp")


def stored_contents(db: Database, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """What the stored observations of these ids say (`CONTENT_COLUMNS`), by id."""
    if not ids:
        return {}
    rows = db.con.execute(
        f"SELECT obs_id, {', '.join(CONTENT_COLUMNS)} FROM observations"
        " SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS obs_id) USING (obs_id)",
        [ids],
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def save_observations(db: Database, observations: list[Observation]) -> list[Observation]:
    """Insert observations not stored yet (ids are content-derived), in one
    transaction; return the new ones."""
    if not observations:
        return []
    with db.transaction():
        ids = [o.obs_id for o in observations]
        known = stored_ids(db, ids)
        new = [o for o in dict((o.obs_id, o) for o in observations).values() if o.obs_id not in known]
        if not new:
            return []
        db.insert_many("observations", OBSERVATION_COLUMNS, [_row(o) for o in new])
        _insert_links(db, [(o.run_id, o.obs_id) for o in new])
        cites = {
            (o.obs_id, c.raw): [o.obs_id, o.claim_id, c.raw, c.kind, c.value, c.record_id]
            for o in new
            for c in o.citations
        }
        if cites:
            db.insert_many("citations", CITATION_COLUMNS, list(cites.values()))
    return new


def link_to_run(db: Database, run_id: str, observations: list[Observation]) -> None:
    """Record that this run output these observations, stored now or by an earlier run
    whose answers it replayed (their ids are content-derived, so a replay has the same)."""
    link_ids_to_run(db, run_id, [o.obs_id for o in observations])


def link_ids_to_run(db: Database, run_id: str, obs_ids: Sequence[str]) -> None:
    """`link_to_run` by id, in one statement."""
    if obs_ids:
        db.con.execute(
            "INSERT INTO run_observations SELECT DISTINCT ?, obs_id FROM (SELECT unnest(?::VARCHAR[]) AS obs_id)"
            " ON CONFLICT DO NOTHING",
            [run_id, list(obs_ids)],
        )


def _insert_links(db: Database, links: list[tuple[str, str]]) -> None:
    unique = sorted(set(links))
    if unique:
        db.insert_many(
            "run_observations", ("run_id", "obs_id"), [list(link) for link in unique], " ON CONFLICT DO NOTHING"
        )


def observations_of_claim(db: Database, claim_id: str) -> list[dict[str, Any]]:
    """Every observation of a claim with the answer it came from (usage, finish, raw text),
    and whether it is current (False: a newer run superseded it; kept for audit)."""
    cur = db.con.execute(
        f"SELECT {', '.join('o.' + c for c in OBSERVATION_COLUMNS)}, r.prompt_tokens, r.completion_tokens,"
        " r.finish_reason, r.latency_ms, r.endpoint_model, r.raw_text AS raw_response, r.structured_output,"
        f" c.obs_id IS NOT NULL AS current, {EVIDENCE_KEY} AS evidence_key"
        " FROM observations o LEFT JOIN responses r USING (request_hash, answer_no)"
        " LEFT JOIN (SELECT obs_id FROM current_observations WHERE claim_id = ?) c USING (obs_id)"
        " WHERE o.claim_id = ? ORDER BY o.created_at, o.obs_id",
        [claim_id, claim_id],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
