"""The `claim_index` table: the merge stage's memory of every claim's signature."""

from __future__ import annotations

from typing import Any

from extract.store.db import Database

INDEX_COLUMNS = ("claim_id", "scope", "topic", "camp", "tokens", "citations", "numbers", "n_obs")


def load_index(db: Database) -> list[tuple[Any, ...]]:
    return db.con.execute(f"SELECT {', '.join(INDEX_COLUMNS)} FROM claim_index ORDER BY claim_id").fetchall()


def save_index(db: Database, rows: list[list[Any]]) -> None:
    """Insert or replace the signatures of the claims a merge touched."""
    if not rows:
        return
    with db.transaction():
        db.con.execute("CREATE OR REPLACE TEMP TABLE _sig AS SELECT * FROM claim_index LIMIT 0")
        db.insert_many("_sig", INDEX_COLUMNS, rows)
        db.con.execute("DELETE FROM claim_index WHERE claim_id IN (SELECT claim_id FROM _sig)")
        db.con.execute("INSERT INTO claim_index SELECT * FROM _sig")
