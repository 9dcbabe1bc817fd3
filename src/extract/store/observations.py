"""The `observations` and `citations` tables: every statement of a claim, with provenance."""

from __future__ import annotations

from typing import Any

from extract.models import Observation
from extract.store.db import Database

OBSERVATION_COLUMNS = (
    "obs_id", "claim_id", "run_id", "job", "text", "stance", "domain", "tags", "topic", "field_path", "camp",
    "citations", "quote", "alignment", "flags", "lang", "model", "prompt_name", "prompt_hash", "pipeline_hash",
    "request_hash", "doc_sha256", "source", "record_id", "chunk_id", "char_start", "char_end", "created_at",
)


def _row(o: Observation) -> list[Any]:
    values = {
        **{c: getattr(o, c, None) for c in OBSERVATION_COLUMNS},
        "tags": list(o.tags),
        "flags": list(o.flags),
        "citations": [c.value for c in o.citations],
    }
    return [values[c] for c in OBSERVATION_COLUMNS]


def save_observations(db: Database, observations: list[Observation]) -> list[Observation]:
    """Insert observations not stored yet (ids are content-derived); return the new ones."""
    placeholders = ", ".join("?" for _ in OBSERVATION_COLUMNS)
    new: list[Observation] = []
    for o in observations:
        inserted = db.con.execute(
            f"INSERT INTO observations ({', '.join(OBSERVATION_COLUMNS)}) VALUES ({placeholders})"
            " ON CONFLICT DO NOTHING RETURNING obs_id",
            _row(o),
        ).fetchall()
        if not inserted:
            continue
        new.append(o)
        for c in o.citations:
            db.con.execute(
                "INSERT INTO citations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [o.obs_id, o.claim_id, c.raw, c.kind, c.value, c.record_id],
            )
    return new


def observations_of_claim(db: Database, claim_id: str) -> list[dict[str, Any]]:
    cur = db.con.execute(
        f"SELECT {', '.join(OBSERVATION_COLUMNS)} FROM observations WHERE claim_id = ? ORDER BY created_at, obs_id",
        [claim_id],
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
