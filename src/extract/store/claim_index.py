"""The `claim_index` and `token_df` tables: the merge stage's memory of every claim's
signature, and of how many claims carry each token (for IDF weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extract.store.db import Database

INDEX_COLUMNS = ("claim_id", "scope", "topic", "camp", "tokens", "citations", "numbers", "n_obs")


def claim_ids(db: Database) -> set[str]:
    return {row[0] for row in db.con.execute("SELECT claim_id FROM claim_index").fetchall()}


Key = tuple[str, str | None, str]


def _want(db: Database, keys: list[Key], obs: list[int] | None = None) -> None:
    """`keys` as the temporary table `_want` (obs, scope, topic, key, block id, key id):
    (scope, topic, key) where a key is a token or "@" and a citation, and the topic is
    null for triage, whose block spans topics; `obs`, if given, numbers the observation
    each key is wanted for."""
    db.con.execute(
        "CREATE OR REPLACE TEMP TABLE _want AS"
        " SELECT w.obs, w.scope, w.topic, w.key, b.id AS block, k.id AS key_id FROM"
        " (SELECT unnest(?::INTEGER[]) AS obs, unnest(?::VARCHAR[]) AS scope, unnest(?::VARCHAR[]) AS topic,"
        "  unnest(?::VARCHAR[]) AS key) w"
        " JOIN claim_blocks b ON b.scope = w.scope AND b.topic IS NOT DISTINCT FROM w.topic"
        " JOIN claim_keys k ON k.key = w.key",
        [obs or [None] * len(keys), [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
    )


def postings_generation(db: Database) -> int:
    """The newest save's number in `claim_postings`: postings up to it are what is stored now."""
    row = db.con.execute("SELECT coalesce(max(gen), -1) FROM claim_postings").fetchone()
    return int(row[0]) if row else -1


def count_claims(db: Database, keys: list[Key], gen: int) -> dict[Key, int]:
    """How many stored claims carried each key in its block as of save `gen` (keys no
    claim carried are left out)."""
    if not keys:
        return {}
    _want(db, keys)
    # Counted before joining back to the keys' names: joined first, DuckDB groups
    # every posting before the join.
    rows = db.con.execute(
        "SELECT w.scope, w.topic, w.key, c.n FROM ("
        "  SELECT p.block, p.key, count(*) AS n FROM claim_postings p"
        "  SEMI JOIN _want w ON p.block = w.block AND p.key = w.key_id WHERE p.gen <= ? GROUP BY p.block, p.key"
        ") c JOIN _want w ON w.block = c.block AND w.key_id = c.key",
        [gen],
    ).fetchall()
    return {(scope, topic, key): n for scope, topic, key, n in rows}


def load_candidates(db: Database, keys: list[Key], gen: int) -> list[tuple[Any, ...]]:
    """The signatures (as stored now) of the claims that carried one of these keys in
    their block as of save `gen`."""
    if not keys:
        return []
    _want(db, keys)
    return _signatures(
        db,
        "SELECT p.claim_id FROM claim_postings p"
        " SEMI JOIN _want w ON p.block = w.block AND p.key = w.key_id WHERE p.gen <= ?",
        [gen],
    )


def load_claims(db: Database, ids: list[str]) -> list[tuple[Any, ...]]:
    """The signatures (as stored now) of these claims, those stored."""
    if not ids:
        return []
    db.con.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT unnest(?::VARCHAR[]) AS claim_id", [ids])
    return _signatures(db, "SELECT claim_id FROM _ids", [])


def _signatures(db: Database, chosen: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The `claim_index` rows of the claims the query `chosen` (with `params`) selects."""
    # Tokens and numbers (no spaces in either) come as one string each: DuckDB
    # hands over lists of strings much more slowly.
    rows = db.con.execute(
        f"""
        SELECT i.claim_id, i.scope, i.topic, i.camp, array_to_string(i.tokens, ' '), i.citations,
               array_to_string(i.numbers, ' '), i.n_obs
        FROM claim_index i SEMI JOIN ({chosen}) f ON i.claim_id = f.claim_id ORDER BY i.claim_id
        """,
        params,
    ).fetchall()
    return [
        (c, s, t, camp, tokens.split(), cites, numbers.split(), n) for c, s, t, camp, tokens, cites, numbers, n in rows
    ]


def load_paired_candidates(
    db: Database, pairs: list[tuple[int, str, str | None, str]], gen: int
) -> list[tuple[Any, ...]]:
    """The signatures (as stored now) of the claims that carried, as of save `gen`, two
    of the keys given for one observation: `pairs` holds (observation number, scope,
    topic, key)."""
    if not pairs:
        return []
    _want(db, [(scope, topic, key) for _, scope, topic, key in pairs], [p[0] for p in pairs])
    return _signatures(
        db,
        "SELECT p.claim_id FROM claim_postings p JOIN _want w ON p.block = w.block AND p.key = w.key_id"
        " WHERE p.gen <= ? GROUP BY w.obs, p.claim_id HAVING count(*) >= 2",
        [gen],
    )


def token_frequencies(db: Database, tokens: list[str]) -> dict[str, int]:
    if not tokens:
        return {}
    db.con.execute("CREATE OR REPLACE TEMP TABLE _tokens AS SELECT unnest(?::VARCHAR[]) AS token", [tokens])
    rows = db.con.execute("SELECT d.token, d.df FROM token_df d JOIN _tokens USING (token)").fetchall()
    return {token: df for token, df in rows}


def save_index(db: Database, rows: list[list[Any]], df_delta: Mapping[str, int]) -> None:
    """Insert or replace the signatures of the claims a merge touched, add their new
    keys to `claim_postings` and the merge's new token counts to `token_df`. A row is
    `INDEX_COLUMNS` and then the keys the claim gained since it was last saved (tokens
    and "@" + citations), or None for a claim never saved: all of its keys."""
    if not rows and not df_delta:
        return
    with db.transaction():
        db.con.execute(
            "CREATE OR REPLACE TEMP TABLE _sig AS SELECT *, NULL::VARCHAR[] AS new_keys FROM claim_index LIMIT 0"
        )
        db.insert_many("_sig", (*INDEX_COLUMNS, "new_keys"), rows)
        db.con.execute("DELETE FROM claim_index WHERE claim_id IN (SELECT claim_id FROM _sig)")
        db.con.execute(f"INSERT INTO claim_index SELECT {', '.join(INDEX_COLUMNS)} FROM _sig")
        _add_postings(db)
        db.con.execute("CREATE OR REPLACE TEMP TABLE _df (token VARCHAR, df INTEGER)")
        db.insert_many("_df", ("token", "df"), [[t, n] for t, n in df_delta.items()])
        db.con.execute(
            "INSERT INTO token_df SELECT token, df FROM _df"
            " ON CONFLICT (token) DO UPDATE SET df = token_df.df + excluded.df"
        )


def _add_postings(db: Database) -> None:
    """The new keys of the claims in `_sig`, numbering blocks and keys not seen before,
    as one new generation of `claim_postings`."""
    db.con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _post AS
        SELECT claim_id, scope, CASE WHEN scope = 'triage' THEN NULL ELSE topic END AS topic,
               unnest(coalesce(new_keys, list_concat(tokens, list_transform(citations, lambda c: '@' || c)))) AS key
        FROM _sig
        """
    )
    db.con.execute(
        """
        INSERT INTO claim_blocks
        SELECT scope, topic, (SELECT coalesce(max(id), 0) FROM claim_blocks) + row_number() OVER (ORDER BY scope, topic)
        FROM (SELECT DISTINCT scope, topic FROM _post) p
        WHERE NOT EXISTS (
            SELECT 1 FROM claim_blocks b WHERE b.scope = p.scope AND b.topic IS NOT DISTINCT FROM p.topic
        )
        """
    )
    db.con.execute(
        """
        INSERT INTO claim_keys
        SELECT key, (SELECT coalesce(max(id), 0) FROM claim_keys) + row_number() OVER (ORDER BY key)
        FROM (SELECT DISTINCT key FROM _post) p ANTI JOIN claim_keys k USING (key)
        """
    )
    db.con.execute(
        """
        INSERT INTO claim_postings
        SELECT b.id, k.id, p.claim_id, (SELECT coalesce(max(gen), -1) + 1 FROM claim_postings) FROM _post p
        JOIN claim_blocks b ON b.scope = p.scope AND b.topic IS NOT DISTINCT FROM p.topic
        JOIN claim_keys k ON k.key = p.key
        """
    )
