"""Table exports: which columns each exportable table has, and writing them out.

JSONL is written row by row; CSV and Parquet through DuckDB's own writers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from extract.errors import ConfigError
from extract.store.db import Database

# The observations export carries the SPEC's import fields, so it re-imports as is;
# `current` is false for what a newer run superseded (kept for audit, not re-imported).
_QUERIES: dict[str, str] = {
    "observations": """
        SELECT text, stance, job AS kind, topic, field_path, model, quote, domain, tags, citations, camp, lang,
               source, strftime(created_at, '%Y-%m-%d') AS extracted_at, coalesce(run_label, run_id) AS run_label,
               claim_id, obs_id, run_id, doc_sha256, record_id, chunk_id, prompt_name, prompt_hash,
               request_hash, char_start, char_end, alignment, flags, answer_no, parent_obs_id,
               c.obs_id IS NOT NULL AS current, created_at
        FROM observations LEFT JOIN (SELECT obs_id FROM current_observations) c USING (obs_id)
        ORDER BY created_at, obs_id""",
    "documents": "SELECT sha256, path, raw_sha256, encoding, fmt, text FROM documents ORDER BY path, sha256",
    "claims": """SELECT claim_id, text, stance, domain, tags, topics, citations, n_obs, first_seen, last_seen
                 FROM claims ORDER BY claim_id""",
    "records": """SELECT record_id, doc_sha256, idx, title, arxiv_ids, urls, citation_key, char_start, char_end
                  FROM records ORDER BY doc_sha256, idx""",
    "chunks": "SELECT * FROM chunks ORDER BY doc_sha256, idx",
    "citations": "SELECT * FROM citations ORDER BY claim_id, obs_id, raw",
    "runs": "SELECT * FROM runs ORDER BY started_at, run_id",
    "rejects": "SELECT * FROM rejects ORDER BY created_at, reject_id",
    "responses": "SELECT * FROM responses ORDER BY created_at, request_hash",
}
TABLES = tuple(_QUERIES)
FORMATS = ("jsonl", "csv", "parquet")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def iter_rows(db: Database, table: str) -> Iterator[dict[str, Any]]:
    cur = db.con.execute(_QUERIES[table])
    cols = [d[0] for d in cur.description]
    while batch := cur.fetchmany(1000):
        for row in batch:
            yield {c: _jsonable(v) for c, v in zip(cols, row, strict=True)}


def export_table(db: Database, table: str, fmt: str, out: Path | None, stream: IO[str]) -> int:
    """Write a table; return the number of rows."""
    if table not in _QUERIES:
        raise ConfigError(f"unknown table {table!r}: choose one of {', '.join(TABLES)}")
    if out is not None and not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: there is no directory {out.parent}")
    if fmt == "jsonl":
        n = 0
        with out.open("w", encoding="utf-8") if out else contextlib.nullcontext(stream) as fh:
            for row in iter_rows(db, table):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        return n
    if out is None:
        raise ConfigError(f"--out PATH is required for --format {fmt}")
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    # The path cannot be a bound parameter in COPY; quote it as a SQL string literal.
    target = "'" + str(out).replace("'", "''") + "'"
    db.con.execute(f"COPY ({_QUERIES[table]}) TO {target} ({options})")
    counted = db.con.execute(f"SELECT count(*) FROM ({_QUERIES[table]})").fetchone()
    return int(counted[0]) if counted else 0
