"""Claims' evidence as the claims browser shows it: each observation, and whether it is current.

An observation is current when the `current_observations` view keeps it (a topic's newest
report run, its triage since its last `run --topic`, imports); the others are superseded,
kept for audit. A `run --topic --fresh` re-run observes the same quotes again, so a claim
can hold the same quote twice, once from each run: only one of them is current.
"""

from __future__ import annotations

from typing import Any

from extract.store.db import Database

EVIDENCE_COLUMNS = ("claim_id", "job", "topic", "field_path", "camp", "model", "created_at", "quote", "citations")
COLUMNS = (*EVIDENCE_COLUMNS, "current")


def claims_evidence(db: Database, claim_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The observations of these claims (what each said, where, by which model, and whether
    it is current), oldest first, grouped by claim."""
    cur = db.con.execute(
        f"SELECT {', '.join('o.' + c for c in EVIDENCE_COLUMNS)}, c.obs_id IS NOT NULL AS current"
        " FROM observations o"
        " JOIN (SELECT unnest(?::VARCHAR[]) AS claim_id) wanted USING (claim_id)"
        " LEFT JOIN (SELECT obs_id FROM current_observations) c USING (obs_id)"
        " ORDER BY o.claim_id, o.created_at, o.obs_id",
        [claim_ids],
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    while batch := cur.fetchmany(5000):
        for row in batch:
            item = dict(zip(COLUMNS, row, strict=True))
            grouped.setdefault(item["claim_id"], []).append(item)
    return grouped
