"""What `extract diff` reads: runs named by id, prefix or shortcut, their metadata,
and the observations each run output (`run_observations`), within a topic or not.
"""

from __future__ import annotations

import json
from typing import Any

from extract.errors import ConfigError, NotFound
from extract.store.db import Database

# `latest` is the newest extraction run (`extract run`, imports aside), `previous` the
# one before it (by start time).
RUN_SHORTCUTS = {"latest": 1, "previous": 2}

# The topic of a run in a database from before migration 013 that no writing open has
# migrated yet (`extract diff` opens read-only), read as that migration fills it in.
_UNMIGRATED_TOPIC = "CASE WHEN starts_with(command, 'run --topic ') THEN substr(command, 13) END"

RUN_INFO_COLUMNS = ("run_id", "started_at", "status", "command", "pipeline_name", "pipeline_hash", "model", "prompts")

OUTPUT_COLUMNS = (
    "claim_id",
    "claim_text",
    "job",
    "field_path",
    "topic",
    "stance",
    "domain",
    "tags",
    "citations",
    "quote",
)


def resolve_run(db: Database, ref: str) -> str:
    """A run id from an id, a unique prefix of one (with or without `run-`), `latest` or
    `previous` (extraction runs: an import is named by its id)."""
    rows = db.con.execute("SELECT run_id, command FROM runs ORDER BY started_at, run_id").fetchall()
    ids = [r[0] for r in rows]
    if ref in ids:
        return ref
    if ref in RUN_SHORTCUTS:
        runs = [run_id for run_id, command in rows if command.startswith("run")]
        back = RUN_SHORTCUTS[ref]
        if len(runs) < back:
            raise NotFound(f"no {ref} run: the database has {len(runs)} extraction run(s)")
        return str(runs[-back])
    matches = [i for i in ids if ref and (i.startswith(ref) or i.startswith("run-" + ref))]
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise NotFound(f"no run {ref} (list them with `extract runs`)")
    shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
    raise ConfigError(f"run prefix {ref} is ambiguous: {len(matches)} runs match ({shown})")


def run_info(db: Database, run_id: str) -> dict[str, Any]:
    """The run's row as the diff header shows it: command, model, prompt hashes, start."""
    row = db.con.execute(f"SELECT {', '.join(RUN_INFO_COLUMNS)} FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"no run {run_id} (list them with `extract runs`)")
    info = dict(zip(RUN_INFO_COLUMNS, row, strict=True))
    info["started_at"] = info["started_at"].isoformat(timespec="seconds")
    info["prompts"] = json.loads(info["prompts"]) if info["prompts"] else {}
    return info


def run_topic(db: Database, run_id: str) -> str | None:
    """The topic a `run --topic` run re-extracted (`runs.topic`); None for any other run."""
    columns = db.con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'runs'").fetchall()
    topic = "topic" if ("topic",) in columns else _UNMIGRATED_TOPIC
    row = db.con.execute(f"SELECT {topic} FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return row[0] if row else None


def run_output(db: Database, run_id: str, topic: str | None) -> list[dict[str, Any]]:
    """The observations this run stored or replayed, with their claim's text; only the
    topic's when one is given."""
    sql = (
        "SELECT o.claim_id, c.text, o.job, o.field_path, o.topic, o.stance, o.domain, o.tags, o.citations, o.quote"
        " FROM run_observations l JOIN observations o USING (obs_id) LEFT JOIN claims c USING (claim_id)"
        " WHERE l.run_id = ?"
    )
    params: list[Any] = [run_id]
    if topic is not None:
        sql += " AND o.topic = ?"
        params.append(topic)
    rows = db.con.execute(sql + " ORDER BY o.claim_id, o.obs_id", params).fetchall()
    return [dict(zip(OUTPUT_COLUMNS, row, strict=True)) for row in rows]
