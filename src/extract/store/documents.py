"""The `documents`, `records` and `chunks` tables: what was read and how it was cut."""

from __future__ import annotations

from extract.models import Chunk, Document, Record
from extract.store.db import Database


def save_document(db: Database, doc: Document, run_id: str) -> None:
    db.con.execute(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [doc.sha256, doc.path, doc.raw_sha256, doc.encoding, doc.fmt, doc.text, run_id],
    )


def save_records(db: Database, records: list[Record]) -> None:
    if not records:
        return
    db.insert_new(
        "records",
        ("record_id", "doc_sha256", "idx", "title", "arxiv_ids", "urls", "citation_key", "char_start", "char_end"),
        [
            [
                r.record_id,
                r.doc_sha256,
                r.idx,
                r.title,
                list(r.arxiv_ids),
                list(r.urls),
                r.citation_key,
                r.char_start,
                r.char_end,
            ]
            for r in records
        ],
    )


def save_chunks(db: Database, chunks: list[Chunk], encoding: str) -> None:
    if not chunks:
        return
    db.insert_new(
        "chunks",
        ("chunk_id", "doc_sha256", "record_id", "idx", "char_start", "char_end", "n_tokens", "encoding"),
        [
            [c.chunk_id, c.doc_sha256, c.record_id, c.idx, c.char_start, c.char_end, c.n_tokens, encoding]
            for c in chunks
        ],
    )


def citation_keys(db: Database) -> dict[str, str]:
    """record_id -> citation key, for keys that must stay stable across runs."""
    return dict(db.con.execute("SELECT record_id, citation_key FROM records").fetchall())


def record_lookup(db: Database) -> tuple[dict[str, str], dict[str, str]]:
    """(citation key -> record_id, arXiv id -> record_id) over every stored record."""
    keys: dict[str, str] = {}
    arxiv: dict[str, str] = {}
    for record_id, key, ids in db.con.execute("SELECT record_id, citation_key, arxiv_ids FROM records").fetchall():
        keys[key] = record_id
        for arxiv_id in ids:
            arxiv.setdefault(arxiv_id, record_id)
    return keys, arxiv


def record_urls(db: Database) -> dict[str, str]:
    """URL (without a trailing slash) -> record_id over every stored record's URLs."""
    found: dict[str, str] = {}
    for record_id, urls in db.con.execute("SELECT record_id, urls FROM records ORDER BY record_id").fetchall():
        for url in urls:
            found.setdefault(url.rstrip("/"), record_id)
    return found


def topic_records(db: Database, topic: str) -> list[tuple[str, str, list[str], str]]:
    """(record id, citation key, arXiv ids, title) of records the topic's triage claims come from."""
    return db.con.execute(
        "SELECT DISTINCT r.record_id, r.citation_key, r.arxiv_ids, r.title FROM observations o"
        " JOIN records r USING (record_id) WHERE o.topic = ? AND o.job = 'ref_triage' ORDER BY r.citation_key",
        [topic],
    ).fetchall()


def record_texts(db: Database, record_ids: list[str]) -> dict[str, str]:
    """record_id -> the record's text as stored (its span of the normalised document)."""
    if not record_ids:
        return {}
    spans = db.con.execute(
        "SELECT record_id, doc_sha256, char_start, char_end FROM records"
        " SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS record_id) wanted USING (record_id)",
        [sorted(set(record_ids))],
    ).fetchall()
    texts = dict(
        db.con.execute(
            "SELECT sha256, text FROM documents"
            " SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS sha256) wanted USING (sha256)",
            [sorted({doc for _, doc, _, _ in spans})],
        ).fetchall()
    )
    # Offsets index the Python string (code points): the slicing is done here, once per document read.
    return {record_id: texts[doc][start:end] for record_id, doc, start, end in spans if doc in texts}
