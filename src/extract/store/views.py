"""Every view of the database, defined once here.

Views hold no data, so they are not migrated: `create_views` replaces each one with
its definition below every time a database is opened for writing (after the
migrations), and a read-only open sees the definition the last writing open stored.
Change a view here, never in a migration (migrations 004, 008 and 011 once created
`current_observations`; they are no-ops now).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# What the claims view shows, by what runs output (`run_observations`), not by which
# run stored a row first:
# - a topic's newest report run replaces its older ones;
# - a `run --topic T` (`runs.topic` = T) replaces T's earlier triage; one answered from the
#   cache replays older observations, and those are then T's current ones;
# - of the triage observations one request's answers made in one topic, only the newest
#   answer's are current: a plain run after `run --topic T --fresh` replays the fresh
#   answers, whose claims of other topics would otherwise count beside the older
#   answer's. A topic the newest answer has not reached yet (the `--topic` run keeps
#   other topics out) keeps its older answer's;
# - imports add to what is current and supersede nothing.
# Older observations stay in `observations` for audit and `extract show`.
CURRENT_OBSERVATIONS = """
WITH outputs AS (
    SELECT l.run_id, r.started_at, r.command, r.topic AS run_topic, o.obs_id, o.job, o.topic, o.request_hash,
           o.answer_no
    FROM run_observations l JOIN observations o USING (obs_id) JOIN runs r ON r.run_id = l.run_id
), report_latest AS (
    SELECT topic, arg_max(run_id, started_at) AS run_id
    FROM outputs WHERE job = 'topic_report' AND command <> 'import' GROUP BY topic
), topic_reruns AS (
    SELECT topic, max(started_at) AS started_at
    FROM outputs WHERE job = 'ref_triage' AND run_topic = topic GROUP BY topic
), newest_answers AS (
    SELECT request_hash, topic, max(answer_no) AS answer_no
    FROM outputs WHERE job = 'ref_triage' AND request_hash IS NOT NULL GROUP BY request_hash, topic
), current_ids AS (
    SELECT DISTINCT x.obs_id FROM outputs x
    LEFT JOIN report_latest l ON x.job = 'topic_report' AND l.topic = x.topic
    LEFT JOIN topic_reruns t ON x.job = 'ref_triage' AND t.topic = x.topic
    LEFT JOIN newest_answers n ON x.job = 'ref_triage' AND n.request_hash = x.request_hash
         AND n.topic IS NOT DISTINCT FROM x.topic
    WHERE (x.job <> 'topic_report' OR x.command = 'import' OR l.run_id = x.run_id)
      AND (t.started_at IS NULL OR x.started_at >= t.started_at OR x.command = 'import')
      AND (n.answer_no IS NULL OR x.answer_no = n.answer_no)
)
SELECT o.* FROM observations o SEMI JOIN current_ids c ON o.obs_id = c.obs_id
"""

# Name -> query, in creation order (a view may read the ones before it).
VIEWS: dict[str, str] = {
    "current_observations": CURRENT_OBSERVATIONS,
}


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view with its definition here, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        for name, query in VIEWS.items():
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
