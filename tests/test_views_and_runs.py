"""Views defined once and recreated by every writing open; the runs table's topic column;
the run counters a run summary carries."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import duckdb
import pytest

from extract.errors import ConfigError
from extract.pipeline.diff import diff_runs
from extract.pipeline.run import NOT_SUMMARISED, RunSummary, summary_counts
from extract.stages.extract import ExtractStats
from extract.stages.gateway import GatewayStats
from extract.store.db import open_database
from extract.store.migrations import MIGRATIONS
from extract.store.runs import start_run
from extract.store.views import VIEWS

# `current_observations` as migration 011 created it, before views moved to store/views.py:
# what a database made by that version holds.
LEGACY_CURRENT_OBSERVATIONS = """
CREATE OR REPLACE VIEW current_observations AS
WITH outputs AS (
    SELECT l.run_id, r.started_at, r.command, o.obs_id, o.job, o.topic, o.request_hash, o.answer_no
    FROM run_observations l JOIN observations o USING (obs_id) JOIN runs r ON r.run_id = l.run_id
), report_latest AS (
    SELECT topic, arg_max(run_id, started_at) AS run_id
    FROM outputs WHERE job = 'topic_report' AND command <> 'import' GROUP BY topic
), topic_reruns AS (
    SELECT topic, max(started_at) AS started_at
    FROM outputs WHERE job = 'ref_triage' AND command = 'run --topic ' || topic GROUP BY topic
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


def view_sql(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every view's definition as DuckDB stores it."""
    return dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())


def code_views(tmp_path: Path) -> dict[str, str]:
    """The views as a new database gets them from the code."""
    with open_database(tmp_path / "fresh.duckdb") as db:
        return view_sql(db.con)


def old_database(path: Path, upto: str) -> None:
    """A database as an earlier version left it: the migrations up to `upto` applied,
    with the view they created then."""
    names = [name for name, _ in MIGRATIONS]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
        for name, sql in MIGRATIONS[: names.index(upto) + 1]:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, now())", [name])
        con.execute(LEGACY_CURRENT_OBSERVATIONS)


def add_run(con: duckdb.DuckDBPyConnection, run_id: str, minute: int, command: str) -> None:
    con.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, status, command) VALUES"
        " (?, TIMESTAMP '2024-01-01 00:00' + to_minutes(?), NULL, 'done', ?)",
        [run_id, minute, command],
    )


def add_triage(con: duckdb.DuckDBPyConnection, obs_id: str, run_id: str, topic: str) -> None:
    """A triage observation `run_id` stored and output."""
    con.execute(
        "INSERT INTO observations (obs_id, claim_id, run_id, job, text, stance, tags, topic, citations, quote,"
        " alignment, flags, model, created_at) VALUES (?, ?, ?, 'ref_triage', 't', 'consensus', [], ?, [], 'q',"
        " 'exact', [], 'm', now())",
        [obs_id, "c-" + obs_id, run_id, topic],
    )
    con.execute("INSERT INTO run_observations VALUES (?, ?)", [run_id, obs_id])


def current(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT obs_id FROM current_observations ORDER BY obs_id").fetchall()]


def test_every_view_is_defined_in_views_py_and_none_in_a_migration() -> None:
    assert set(VIEWS) == {"current_observations"}
    for name, sql in MIGRATIONS:
        statements = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
        assert not re.search(r"\bVIEW\b", statements, re.IGNORECASE), name


def test_a_writing_open_puts_back_a_view_changed_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "claims.duckdb"
    expected = code_views(tmp_path)
    with open_database(path) as db:
        add_run(db.con, "r1", 1, "run")
        add_triage(db.con, "o1", "r1", "x")
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE OR REPLACE VIEW current_observations AS SELECT * FROM observations WHERE false")
        assert current(con) == []
    with open_database(path, read_only=True) as db:
        assert current(db.con) == []  # a reader sees what the last writer stored
    with open_database(path) as db:
        assert view_sql(db.con) == expected
        assert current(db.con) == ["o1"]
    with open_database(path, read_only=True) as db:
        assert view_sql(db.con) == expected


def test_a_database_from_before_views_py_opens_with_the_current_views(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old_database(path, "012_structured_output")
    with duckdb.connect(str(path)) as con:
        add_run(con, "r1", 1, "run")
        add_run(con, "r2", 2, "run --topic x")
        add_triage(con, "o1", "r1", "x")  # superseded by r2's triage of x
        add_triage(con, "o2", "r2", "x")
        add_triage(con, "o3", "r1", "y")
        assert current(con) == ["o2", "o3"]
    with open_database(path) as db:
        assert view_sql(db.con) == code_views(tmp_path)
        assert current(db.con) == ["o2", "o3"]


def test_runs_topic_is_migrated_from_the_command_and_read_by_the_view_and_diff(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old_database(path, "012_structured_output")
    with duckdb.connect(str(path)) as con:
        add_run(con, "r1", 1, "run")
        add_run(con, "r2", 2, "run --topic x")
        add_run(con, "r3", 3, "import")
        add_triage(con, "o1", "r1", "x")
        add_triage(con, "o2", "r2", "x")
        add_triage(con, "o3", "r1", "y")
    # Read-only before any writing open migrated it: the old view, and diff still scopes.
    assert diff_runs(path, "r1", "r2")["topic"] == "x"
    with open_database(path) as db:
        assert "013_runs_topic" in {r[0] for r in db.con.execute("SELECT name FROM _migrations").fetchall()}
        topics = db.con.execute("SELECT run_id, topic, command FROM runs ORDER BY run_id").fetchall()
        assert topics == [("r1", None, "run"), ("r2", "x", "run --topic x"), ("r3", None, "import")]
        assert current(db.con) == ["o2", "o3"]
        # The column, not the command, is what supersedes: a run whose command names no
        # topic but whose topic is y replaces y's earlier triage.
        db.con.execute("UPDATE runs SET topic = 'y' WHERE run_id = 'r1'")
        add_run(db.con, "r4", 4, "run")
        db.con.execute("UPDATE runs SET topic = 'y' WHERE run_id = 'r4'")
        add_triage(db.con, "o4", "r4", "y")
        assert current(db.con) == ["o2", "o4"]
    assert diff_runs(path, "r3", "r2")["topic"] == "x"
    with pytest.raises(ConfigError, match=r"different topics \(x, y\)"):
        diff_runs(path, "r1", "r2")


def test_a_topic_run_writes_its_topic_and_its_command(tmp_path: Path) -> None:
    path = tmp_path / "claims.duckdb"
    with open_database(path) as db:
        start_run(db, "r1", command="run --topic x", pipeline={}, topic="x")
        start_run(db, "r2", command="run", pipeline={})
        assert db.con.execute("SELECT run_id, command, topic FROM runs ORDER BY run_id").fetchall() == [
            ("r1", "run --topic x", "x"),
            ("r2", "run", None),
        ]


def test_every_run_counter_reaches_the_summary_or_is_named_as_not() -> None:
    """Each counter of the extract job and its gateway is either copied into a RunSummary
    field by `summary_counts` or listed in NOT_SUMMARISED: a counter added or renamed on
    one side only fails here instead of vanishing from the summary."""
    # Every int counter gets a value of its own, so the summary's values say which it read.
    job, gateway = ExtractStats(), GatewayStats()
    source: dict[int, str] = {}
    for stats in (job, gateway):
        for f in fields(stats):
            if type(getattr(stats, f.name)) is int:
                value = 1000 + len(source)
                setattr(stats, f.name, value)
                source[value] = f"{type(stats).__name__}.{f.name}"
    counts = summary_counts(job, gateway, rejects=-1)
    copied = {source[v] for v in counts.values() if v in source}
    every = {f"{type(s).__name__}.{f.name}" for s in (job, gateway) for f in fields(s)}
    assert copied | set(NOT_SUMMARISED) == every
    assert not copied & set(NOT_SUMMARISED)
    assert len(copied) == len(counts) - 1  # each counter once, and `rejects` (the job's so far)
    assert counts["rejects"] == -1
    summary_fields = {f.name: f.type for f in fields(RunSummary)}
    assert {name: summary_fields.get(name) for name in counts} == dict.fromkeys(counts, "int")
