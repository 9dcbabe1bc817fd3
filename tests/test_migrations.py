"""Migrations: append-only, each applied once, and a database made by an older version keeps its data."""

from __future__ import annotations

from pathlib import Path

import duckdb

from extract.store.db import open_database
from extract.store.migrations import MIGRATIONS, apply_migrations


def test_a_database_from_before_fresh_answers_keeps_its_answers(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
        for name, sql in MIGRATIONS[:4]:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, now())", [name])
        con.execute(
            "INSERT INTO responses VALUES ('h1', 'r1', 'ref_triage', 'm', 'm', 'p', 'ph', 'k1', 0, '{}', 'raw',"
            " NULL, 'stop', 10, 5, 7, now())"
        )
        con.execute(
            "INSERT INTO observations (obs_id, claim_id, run_id, job, text, stance, tags, citations, quote, alignment,"
            " flags, model, request_hash, created_at) VALUES ('o1', 'c1', 'r1', 'ref_triage', 't', 'consensus', [],"
            " [], 'q', 'exact', [], 'm', 'h1', now())"
        )
    with open_database(path) as db:
        assert db.con.execute("SELECT request_hash, answer_no, raw_text FROM responses").fetchall() == [
            ("h1", 0, "raw")
        ]
        joined = db.con.execute(
            "SELECT o.obs_id, r.raw_text FROM observations o JOIN responses r USING (request_hash, answer_no)"
        ).fetchall()
        assert joined == [("o1", "raw")]
        assert apply_migrations(db.con) == []  # nothing is applied twice
    names = [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names)) and names == sorted(names)
