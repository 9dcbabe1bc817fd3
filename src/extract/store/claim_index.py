"""The `claim_index` and `token_df` tables: the merge stage's memory of every claim's
signature, and of how many claims carry each token (for IDF weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extract.store.db import Database

INDEX_COLUMNS = ("claim_id", "scope", "topic", "camp", "tokens", "citations", "numbers", "n_obs")


def claim_ids(db: Database) -> set[str]:
    return {row[0] for row in db.con.execute("SELECT claim_id FROM claim_index").fetchall()}


def load_index(db: Database, blocks: list[tuple[str, str | None]]) -> list[tuple[Any, ...]]:
    """The signatures of the claims in these blocks: (scope, topic), with topic None
    for a block that spans topics."""
    db.con.execute(
        "CREATE OR REPLACE TEMP TABLE _blocks AS SELECT unnest(?::VARCHAR[]) AS scope, unnest(?::VARCHAR[]) AS topic",
        [[b[0] for b in blocks], [b[1] for b in blocks]],
    )
    return db.con.execute(
        f"SELECT {', '.join('i.' + c for c in INDEX_COLUMNS)} FROM claim_index i JOIN _blocks b"
        " ON i.scope = b.scope AND (b.topic IS NULL OR i.topic = b.topic) ORDER BY i.claim_id"
    ).fetchall()


def token_frequencies(db: Database, tokens: list[str]) -> dict[str, int]:
    if not tokens:
        return {}
    db.con.execute("CREATE OR REPLACE TEMP TABLE _tokens AS SELECT unnest(?::VARCHAR[]) AS token", [tokens])
    rows = db.con.execute("SELECT d.token, d.df FROM token_df d JOIN _tokens USING (token)").fetchall()
    return {token: df for token, df in rows}


def save_index(db: Database, rows: list[list[Any]], df_delta: Mapping[str, int]) -> None:
    """Insert or replace the signatures of the claims a merge touched, and add the
    merge's new token counts."""
    if not rows and not df_delta:
        return
    with db.transaction():
        db.con.execute("CREATE OR REPLACE TEMP TABLE _sig AS SELECT * FROM claim_index LIMIT 0")
        db.insert_many("_sig", INDEX_COLUMNS, rows)
        db.con.execute("DELETE FROM claim_index WHERE claim_id IN (SELECT claim_id FROM _sig)")
        db.con.execute("INSERT INTO claim_index SELECT * FROM _sig")
        db.con.execute("CREATE OR REPLACE TEMP TABLE _df (token VARCHAR, df INTEGER)")
        db.insert_many("_df", ("token", "df"), [[t, n] for t, n in df_delta.items()])
        db.con.execute(
            "INSERT INTO token_df SELECT token, df FROM _df"
            " ON CONFLICT (token) DO UPDATE SET df = token_df.df + excluded.df"
        )
