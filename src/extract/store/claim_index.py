"""The `claim_index` and `token_df` tables: the merge stage's memory of every claim's
signature, and of how many claims carry each token (for IDF weights)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from extract.store.db import Database, split_list

INDEX_COLUMNS = ("claim_id", "scope", "topic", "camp", "tokens", "citations", "numbers", "n_obs")


def _split(column: str) -> str:
    return f"list_sort({split_list(column)})"


def count_stored_claims(db: Database) -> int:
    row = db.con.execute("SELECT count(*) FROM claim_index").fetchone()
    return int(row[0]) if row else 0


def stored_claim_ids(db: Database, ids: list[str]) -> set[str]:
    """Those of `ids` that stored claims have."""
    if not ids:
        return set()
    rows = db.con.execute(
        "SELECT claim_id FROM claim_index SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS claim_id) USING (claim_id)", [ids]
    ).fetchall()
    return {r[0] for r in rows}


Key = tuple[str, str | None, str]


@dataclass
class PostingNumbers:
    """The numbers `claim_postings` gives blocks (scope, topic) and keys, looked up as
    needed and kept: they never change once given. Keys and blocks go into queries as
    these numbers, not as strings (handing DuckDB lists of strings is what costs)."""

    db: Database
    blocks: dict[tuple[str, str | None], int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)

    def numbered(self, keys: list[Key]) -> list[tuple[int, int, int]]:
        """(position in `keys`, block number, key number) of the keys that have both
        numbers: the others no stored claim has carried."""
        if any(block not in self.blocks for block in {(k[0], k[1]) for k in keys}):
            rows = self.db.con.execute("SELECT scope, topic, id FROM claim_blocks").fetchall()
            self.blocks.update(((scope, topic), n) for scope, topic, n in rows)
        unknown = sorted({k[2] for k in keys} - self.keys.keys())
        if unknown:
            rows = self.db.con.execute(
                "SELECT key, id FROM claim_keys SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS key) USING (key)", [unknown]
            ).fetchall()
            self.keys.update(rows)
        found = []
        for at, (scope, topic, key) in enumerate(keys):
            block, number = self.blocks.get((scope, topic)), self.keys.get(key)
            if block is not None and number is not None:
                found.append((at, block, number))
        return found


def _want(numbers: PostingNumbers, keys: list[Key], obs: list[int] | None = None) -> list[tuple[int, int, int]]:
    """`keys` as the temporary table `_want` (block, key_id), or (obs, block, key_id)
    when `obs` numbers the observation each key is wanted for: (scope, topic, key)
    where a key is a token or "@" and a citation, and the topic is null for triage,
    whose block spans topics. Returns (position in `keys`, block, key_id) of those
    stored claims may carry."""
    found = numbers.numbered(keys)
    columns = [[f[1] for f in found], [f[2] for f in found]]
    select = "unnest(?::INTEGER[]) AS block, unnest(?::INTEGER[]) AS key_id"
    if obs is not None:
        columns.insert(0, [obs[f[0]] for f in found])
        select = "unnest(?::INTEGER[]) AS obs, " + select
    numbers.db.con.execute(f"CREATE OR REPLACE TEMP TABLE _want AS SELECT {select}", columns)
    return found


def postings_generation(db: Database) -> int:
    """The newest save's number in `claim_postings`: postings up to it are what is stored now."""
    row = db.con.execute("SELECT coalesce(max(gen), -1) FROM claim_postings").fetchone()
    return int(row[0]) if row else -1


def count_claims(numbers: PostingNumbers, keys: list[Key], gen: int) -> dict[Key, int]:
    """How many stored claims carried each key in its block as of save `gen` (keys no
    claim carried are left out)."""
    if not keys:
        return {}
    found = _want(numbers, keys)
    if not found:
        return {}
    at = {(block, key): keys[i] for i, block, key in found}
    rows = numbers.db.con.execute(
        "SELECT p.block, p.key, count(*) FROM claim_postings p"
        " SEMI JOIN _want w ON p.block = w.block AND p.key = w.key_id WHERE p.gen <= ? GROUP BY p.block, p.key",
        [gen],
    ).fetchall()
    return {at[(block, key)]: n for block, key, n in rows}


def load_signatures(
    numbers: PostingNumbers,
    keys: list[Key],
    pairs: list[tuple[int, str, str | None, str]],
    named: list[str],
    gen: int,
) -> list[tuple[Any, ...]]:
    """The signatures (as stored now) of the claims that carried, as of save `gen`, one
    of `keys` in its block, or two of the keys given for one observation in `pairs`
    (observation number, scope, topic, key), and of the claims `named`: the postings of
    all these keys are read once, and the claims once."""
    chosen = []
    db = numbers.db
    if keys or pairs:
        _want(
            numbers,
            [*keys, *((scope, topic, key) for _, scope, topic, key in pairs)],
            [-1] * len(keys) + [p[0] for p in pairs],
        )
        db.con.execute(
            "CREATE OR REPLACE TEMP TABLE _hits AS SELECT p.block, p.key, p.claim_id FROM claim_postings p"
            " SEMI JOIN _want w ON p.block = w.block AND p.key = w.key_id WHERE p.gen <= ?",
            [gen],
        )
    if keys:
        chosen.append(
            "SELECT h.claim_id FROM _hits h"
            " SEMI JOIN (SELECT block, key_id FROM _want WHERE obs < 0) w ON h.block = w.block AND h.key = w.key_id"
        )
    if pairs:
        chosen.append(
            "SELECT h.claim_id FROM _hits h JOIN (SELECT obs, block, key_id FROM _want WHERE obs >= 0) w"
            " ON h.block = w.block AND h.key = w.key_id GROUP BY w.obs, h.claim_id HAVING count(*) >= 2"
        )
    if named:
        db.con.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT unnest(?::VARCHAR[]) AS claim_id", [named])
        chosen.append("SELECT claim_id FROM _ids")
    if not chosen:
        return []
    return _signatures(db, " UNION ALL ".join(chosen))


def _signatures(db: Database, chosen: str) -> list[tuple[Any, ...]]:
    """The `claim_index` rows of the claims the query `chosen` selects, their numbers
    by kind: (claim_id, scope, topic, camp, tokens, citations, (plain numbers,
    results, formulas), n_obs); results and formulas are the numbers marked `%` and `$`."""
    # Tokens and numbers (no spaces in either) come as one string each: DuckDB
    # hands over lists of strings much more slowly.
    rows = db.con.execute(
        f"""
        SELECT i.claim_id, i.scope, i.topic, i.camp, array_to_string(i.tokens, ' '), i.citations,
               array_to_string(list_filter(i.numbers, lambda n: n[1] NOT IN ('%', '$')), ' '),
               array_to_string(list_filter(i.numbers, lambda n: n[1] = '%'), ' '),
               array_to_string(list_filter(i.numbers, lambda n: n[1] = '$'), ' '), i.n_obs
        FROM claim_index i SEMI JOIN ({chosen}) f ON i.claim_id = f.claim_id ORDER BY i.claim_id
        """
    ).fetchall()
    return [
        (c, s, t, camp, tokens.split(), cites, (plain.split(), results.split(), formulas.split()), n)
        for c, s, t, camp, tokens, cites, plain, results, formulas, n in rows
    ]


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
    and "@" + citations), or None for a claim never saved: all of its keys; each list
    `store.db.joined`."""
    if not rows and not df_delta:
        return
    with db.transaction():
        db.con.execute(
            "CREATE OR REPLACE TEMP TABLE _sig_text (claim_id VARCHAR, scope VARCHAR, topic VARCHAR, camp VARCHAR,"
            " tokens VARCHAR, citations VARCHAR, numbers VARCHAR, n_obs INTEGER, new_keys VARCHAR)"
        )
        db.insert_many("_sig_text", (*INDEX_COLUMNS, "new_keys"), rows)
        db.con.execute(
            "CREATE OR REPLACE TEMP TABLE _sig AS SELECT claim_id, scope, topic, camp,"
            f" {_split('tokens')} AS tokens, {_split('citations')} AS citations, {_split('numbers')} AS numbers,"
            f" n_obs, {_split('new_keys')} AS new_keys FROM _sig_text"
        )
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
