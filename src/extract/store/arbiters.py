"""The `embeddings` and `merge_judgements` tables: what decided borderline pairs in the
merge (an embedding per text, a model's verdict per pair), so a re-run asks nothing."""

from __future__ import annotations

from extract.store.db import Database, now


def stored_vectors(db: Database, model: str, text_hashes: list[str]) -> dict[str, list[float]]:
    if not text_hashes:
        return {}
    rows = db.con.execute(
        "SELECT text_sha256, vector FROM embeddings WHERE model = ? AND text_sha256 IN (SELECT unnest(?::VARCHAR[]))",
        [model, text_hashes],
    ).fetchall()
    return {h: list(v) for h, v in rows}


def save_vectors(db: Database, model: str, vectors: dict[str, list[float]]) -> None:
    if not vectors:
        return
    created = now()
    db.insert_many(
        "embeddings",
        ("model", "text_sha256", "vector", "created_at"),
        [[model, h, v, created] for h, v in vectors.items()],
        suffix=" ON CONFLICT DO NOTHING",
    )


def stored_verdict(db: Database, model: str, pair_hash: str) -> bool | None:
    row = db.con.execute(
        "SELECT same FROM merge_judgements WHERE model = ? AND pair_sha256 = ?", [model, pair_hash]
    ).fetchone()
    return None if row is None else bool(row[0])


def save_verdict(db: Database, model: str, pair_hash: str, same: bool, reason: str, raw: str) -> None:
    db.con.execute(
        "INSERT INTO merge_judgements VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [model, pair_hash, same, reason, raw, now()],
    )


def claim_text(db: Database, claim_id: str) -> str | None:
    """The text a claim was created with: its first observation's."""
    row = db.con.execute(
        "SELECT text FROM observations WHERE claim_id = ? ORDER BY created_at, obs_id LIMIT 1", [claim_id]
    ).fetchone()
    return None if row is None else str(row[0])
