"""The `claim_index` and `token_df` tables: the merge stage's memory of every claim's
signature, and of how many claims carry each token (for IDF weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extract.store.db import Database

INDEX_COLUMNS = ("claim_id", "scope", "topic", "camp", "tokens", "citations", "numbers", "n_obs")


def claim_ids(db: Database) -> set[str]:
    return {row[0] for row in db.con.execute("SELECT claim_id FROM claim_index").fetchall()}


def load_candidates(db: Database, wanted: list[tuple[str, str | None, str]]) -> list[tuple[Any, ...]]:
    """The signatures of the stored claims that carry one of these keys in their block:
    (scope, topic, key), where a key is a token or "@" and a citation, and the triage
    scope's block spans topics."""
    db.con.execute(
        "CREATE OR REPLACE TEMP TABLE _wanted AS"
        " SELECT unnest(?::VARCHAR[]) AS scope, unnest(?::VARCHAR[]) AS topic, unnest(?::VARCHAR[]) AS key",
        [[w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted]],
    )
    return db.con.execute(
        f"""
        WITH keyed AS (
            SELECT claim_id, scope, topic, unnest(tokens) AS key FROM claim_index
            UNION ALL
            SELECT claim_id, scope, topic, '@' || unnest(citations) AS key FROM claim_index
        ), found AS (
            SELECT DISTINCT k.claim_id FROM keyed k JOIN _wanted w
            ON k.key = w.key AND k.scope = w.scope AND (w.scope = 'triage' OR k.topic IS NOT DISTINCT FROM w.topic)
        )
        SELECT {", ".join("i." + c for c in INDEX_COLUMNS)} FROM claim_index i SEMI JOIN found f
        ON i.claim_id = f.claim_id ORDER BY i.claim_id
        """
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
