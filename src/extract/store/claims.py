"""The `claims` table: canonical claims, each an aggregate of its observations.

A claim's row is recomputed from its observations whenever a run or import adds to
or supersedes them: text from the first observation (by time, then id); from its
current observations, their count, stance by majority (a tie is `contested`: someone
disputes it), the most frequent domain (a tie to the first alphabetically), and the
union of tags, topics and citations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from extract.store.db import Database
from extract.store.observations import EVIDENCE_KEY
from extract.store.visibility import UNKNOWN_CITATION, VISIBLE_CLAIM_IDS, VISIBLE_PARAMS

CLAIM_COLUMNS = (
    "claim_id",
    "text",
    "stance",
    "domain",
    "tags",
    "topics",
    "citations",
    "n_obs",
    "first_seen",
    "last_seen",
    "spawned",
)


def refresh_claims(db: Database, claim_ids: Iterable[str], spawn_after: int = 3) -> int:
    """Recompute the claims of these ids; a contested claim with `spawn_after` or more
    observations proposes a topic slug `<first tag>-vs-<second tag>` (or `-vs-rest`).

    A claim counts its current observations (`current_observations`: a re-run supersedes
    what its older answers said), one for each piece of evidence (the same model quoting
    the same span from two overlapping chunks counts once), and its stance, domain,
    tags, topics and citations are theirs; a claim with none current keeps those of all
    its observations, with a count of 0. Its text and first and last seen come from
    every observation: the history."""
    ids = sorted(set(claim_ids))
    if not ids:
        return 0
    db.con.execute("CREATE OR REPLACE TEMP TABLE _touched AS SELECT unnest(?::VARCHAR[]) AS claim_id", [ids])
    # Only observations a run made (with a request) can be superseded: an imported one
    # is always current, and claims of imports alone need not work out the view.
    row = db.con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM observations JOIN _touched USING (claim_id)"
        " WHERE request_hash IS NOT NULL LIMIT 1)"
    ).fetchone()
    current = (
        "(SELECT obs_id FROM current_observations SEMI JOIN _touched USING (claim_id))"
        if row and row[0]
        else "(SELECT NULL::VARCHAR AS obs_id WHERE false)"
    )
    # Each touched observation, whether it is current, and whether it counts: a claim
    # counts its current observations, or all of them when none is current.
    db.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _obs AS
        WITH flagged AS (
            SELECT o.claim_id, o.obs_id, o.text, o.stance, o.domain, o.tags, o.topic, o.citations, o.created_at,
                   o.request_hash IS NULL OR c.obs_id IS NOT NULL AS is_current,
                   {EVIDENCE_KEY} AS evidence
            FROM observations o JOIN _touched USING (claim_id)
            LEFT JOIN {current} c USING (obs_id)
        )
        SELECT f.*, f.is_current OR NOT a.any_current AS counts
        FROM flagged f JOIN (SELECT claim_id, bool_or(is_current) AS any_current FROM flagged GROUP BY claim_id) a
        USING (claim_id)
        """
    )
    db.con.execute(
        """
        INSERT OR REPLACE INTO claims
        WITH domains AS (
            -- The most frequent domain, ties to the first in order (mode() picks any).
            SELECT claim_id, first(domain ORDER BY n DESC, domain) AS domain
            FROM (SELECT claim_id, domain, count(*) AS n FROM _obs WHERE counts AND domain IS NOT NULL
                  GROUP BY claim_id, domain)
            GROUP BY claim_id
        )
        SELECT o.claim_id,
               first(o.text ORDER BY o.created_at, o.obs_id),
               CASE WHEN count_if(o.counts AND o.stance = 'consensus') > count_if(o.counts AND o.stance = 'contested')
                    THEN 'consensus' ELSE 'contested' END,
               any_value(d.domain),
               list_sort(list_distinct(flatten(list(o.tags) FILTER (WHERE o.counts)))),
               coalesce(list_sort(list_distinct(list(o.topic) FILTER (WHERE o.counts AND o.topic IS NOT NULL))), []),
               list_sort(list_distinct(flatten(list(o.citations) FILTER (WHERE o.counts)))),
               count(DISTINCT o.evidence) FILTER (WHERE o.is_current),
               min(o.created_at),
               max(o.created_at),
               NULL
        FROM _obs o LEFT JOIN domains d ON d.claim_id = o.claim_id
        GROUP BY o.claim_id
        """
    )
    db.con.execute(
        """
        UPDATE claims SET spawned = CASE
            WHEN stance = 'contested' AND n_obs >= ? AND len(tags) > 0 THEN
                regexp_replace(lower(tags[1]), '[^a-z0-9]+', '-', 'g') || '-vs-' ||
                coalesce(regexp_replace(lower(tags[2]), '[^a-z0-9]+', '-', 'g'), 'rest')
            END
        WHERE claim_id IN (SELECT claim_id FROM _touched)
        """,
        [spawn_after],
    )
    return len(ids)


def claims_a_run_touched(db: Database, run_id: str, topic: str | None = None) -> set[str]:
    """The claims whose current observations this run may have changed: those of the
    observations it output (new or replayed), and those of the observations it may have
    superseded: older answers to its requests, its topics' earlier reports, and for a
    `run --topic` (`topic`) the topic's earlier triage observations."""
    rows = db.con.execute(
        """
        WITH mine AS (
            SELECT o.claim_id, o.request_hash, o.topic, o.job
            FROM run_observations l JOIN observations o USING (obs_id) WHERE l.run_id = ?
        )
        SELECT claim_id FROM mine
        UNION SELECT o.claim_id FROM observations o
            SEMI JOIN (SELECT DISTINCT request_hash FROM mine WHERE request_hash IS NOT NULL) m USING (request_hash)
        UNION SELECT o.claim_id FROM observations o
            WHERE o.job = 'topic_report' AND o.topic IN (SELECT topic FROM mine WHERE job = 'topic_report')
        UNION SELECT o.claim_id FROM observations o WHERE o.job = 'ref_triage' AND o.topic = ?
        """,
        [run_id, topic],
    ).fetchall()
    return {r[0] for r in rows}


@dataclass(frozen=True)
class ClaimFilter:
    stance: str | None = None
    domain: str | None = None
    topic: str | None = None
    tag: str | None = None
    search: str | None = None
    limit: int | None = None
    visible: bool = False
    superseded: bool = False  # include claims seen only in superseded runs
    run: str | None = None  # only claims observed in this run


def query_claims(db: Database, f: ClaimFilter) -> list[dict[str, Any]]:
    where: list[str] = []
    params: list[Any] = []
    if f.stance:
        where.append("stance = ?")
        params.append(f.stance)
    if f.domain:
        where.append("domain = ?")
        params.append(f.domain)
    if f.topic:
        where.append("list_contains(topics, ?)")
        params.append(f.topic)
    if f.tag:
        where.append("list_contains(list_transform(tags, lambda t: lower(t)), lower(?))")
        params.append(f.tag)
    if f.search:
        where.append("contains(lower(text), lower(?))")
        params.append(f.search)
    if not f.superseded:
        where.append("claim_id IN (SELECT claim_id FROM current_observations)")
    if f.run:
        where.append("claim_id IN (SELECT claim_id FROM observations WHERE run_id = ?)")
        params.append(f.run)
    if f.visible:
        # The dashboard's hide rule (`store.visibility`): no source a reader can follow, no camp: hidden.
        where.append(f"claim_id IN ({VISIBLE_CLAIM_IDS})")
        params.extend(VISIBLE_PARAMS)
    sql = f"SELECT {', '.join(CLAIM_COLUMNS)} FROM claims"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY n_obs DESC, first_seen, claim_id"
    if f.limit is not None:
        sql += " LIMIT ?"
        params.append(f.limit)
    cur = db.con.execute(sql, params)
    return [dict(zip(CLAIM_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def get_claim(db: Database, claim_id: str) -> dict[str, Any] | None:
    cur = db.con.execute(f"SELECT {', '.join(CLAIM_COLUMNS)} FROM claims WHERE claim_id = ?", [claim_id])
    row = cur.fetchone()
    return dict(zip(CLAIM_COLUMNS, row, strict=True)) if row else None


def claims_by_prefix(db: Database, prefix: str, limit: int = 3) -> list[str]:
    """Claim ids starting with `prefix` (at most `limit`), for a shortened id."""
    rows = db.con.execute(
        "SELECT claim_id FROM claims WHERE starts_with(claim_id, ?) ORDER BY claim_id LIMIT ?", [prefix, limit]
    ).fetchall()
    return [r[0] for r in rows]


def stored_claim_ids(db: Database, ids: Iterable[str]) -> set[str]:
    """Those of `ids` that are claims here."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = db.con.execute(
        "SELECT claim_id FROM claims SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS claim_id) USING (claim_id)", [wanted]
    ).fetchall()
    return {r[0] for r in rows}


def count_claims(db: Database) -> int:
    row = db.con.execute("SELECT count(*) FROM claims").fetchone()
    return int(row[0]) if row else 0


def topic_claims(db: Database, topic: str, limit: int) -> list[tuple[str, str, str, list[str]]]:
    """(claim id, text, stance, citations) of the topic's triage claims, most observed first.
    A citation one of the claim's observations flags `unknown_citation:` (it names
    nothing: `store.visibility`) is left out: no source for a report to repeat."""
    return db.con.execute(
        """
        WITH unknown AS (
            SELECT claim_id, list(DISTINCT substr(flag, length(?) + 1)) AS cited
            FROM (SELECT claim_id, unnest(flags) AS flag FROM observations) WHERE starts_with(flag, ?)
            GROUP BY claim_id
        )
        SELECT c.claim_id, c.text, c.stance,
               list_filter(c.citations, lambda x: NOT list_contains(coalesce(u.cited, []), x))
        FROM claims c JOIN claim_index i USING (claim_id) LEFT JOIN unknown u USING (claim_id)
        WHERE i.scope = 'triage' AND list_contains(c.topics, ?) ORDER BY c.n_obs DESC, c.claim_id LIMIT ?
        """,
        [UNKNOWN_CITATION, UNKNOWN_CITATION, topic, limit],
    ).fetchall()


def topics_overview(db: Database, slugs: list[str]) -> list[dict[str, Any]]:
    """Declared topics with their records, claims and report runs, then proposed (spawned) ones."""
    out = []
    for slug in slugs:
        row = db.con.execute(
            "SELECT (SELECT count(DISTINCT record_id) FROM observations WHERE topic = ? AND job = 'ref_triage'),"
            " (SELECT count(*) FROM claims WHERE list_contains(topics, ?)"
            "  AND claim_id IN (SELECT claim_id FROM current_observations)),"
            " (SELECT count(DISTINCT run_id) FROM observations WHERE topic = ? AND job = 'topic_report')",
            [slug, slug, slug],
        ).fetchone()
        records, claims, reports = row if row else (0, 0, 0)
        out.append({"slug": slug, "declared": True, "records": records, "claims": claims, "report_runs": reports})
    for spawned, n in db.con.execute(
        "SELECT spawned, count(*) FROM claims WHERE spawned IS NOT NULL GROUP BY spawned ORDER BY spawned"
    ).fetchall():
        if spawned not in slugs:
            out.append({"slug": spawned, "declared": False, "records": 0, "claims": n, "report_runs": 0})
    return out
