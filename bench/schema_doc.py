"""Write docs/schema.md from a fresh database: every table and view with its columns.

    uv run python bench/schema_doc.py            # rewrite docs/schema.md
    uv run python bench/schema_doc.py --check    # exit 1 if docs/schema.md is out of date

The database is made by the project's own `open_database` (every migration applied) in
a temporary directory; tables, columns, types, keys and views are read from DuckDB's
catalog. The one-line descriptions are kept here (`DESCRIPTIONS`), or come from a
`COMMENT ON` a migration sets, which wins. The output depends only on the schema, so
`tests/test_docs_schema.py` can compare it with the committed page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from extract.store import open_database

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "schema.md"
COMMAND = "uv run python bench/schema_doc.py"

DESCRIPTIONS: dict[str, str] = {
    "_migrations": "The migrations applied to this database (`src/extract/store/migrations.py`), by name.",
    "runs": "One row per `extract run` or `extract import`: status, command, pipeline, model, "
    "prompt hashes, counts (the summary, JSON) and skipped files.",
    "documents": "Each input file once, by the SHA-256 of its normalised text, which every offset indexes.",
    "records": "The records a dump splits into (a heading, a list item, a thread): title, arXiv ids, "
    "URLs, citation key and character span.",
    "chunks": "What one model call reads: a span of one record, with its token count and encoding.",
    "responses": "Every raw model answer, stored before it is parsed, keyed by request hash and answer "
    "number (`--fresh` adds answers): the response cache and its provenance.",
    "observations": "One claim as one source stated it (a triage claim, a report statement, an imported "
    "line), with its quote's offsets, flags and provenance.",
    "citations": "What each observation cites, resolved: an arXiv id, a record's citation key, a URL, or unknown.",
    "claims": "Canonical claims: observations merged, with stance, domain, tags, topics, citations and "
    "counts of the current observations.",
    "rejects": "What validation refused (ungrounded quotes, unsupported numbers, invalid answers, bad "
    "import lines), with the reason and the raw output.",
    "batches": "Batch API jobs started by `run --batch`.",
    "batch_requests": "The requests waiting in each batch, so none is sent twice.",
    "claim_index": "The merge stage's signature of each claim: scope, topic, camp, tokens, citations, numbers.",
    "token_df": "How many claims carry each signature token (the merge's IDF weights).",
    "claim_blocks": "The merge's blocks (scope and topic), numbered.",
    "claim_keys": "The merge's keys (tokens, and `@` + citation), numbered.",
    "claim_postings": "Which claims of a block carry each key; `gen` numbers the save that added a row.",
    "run_observations": "Which observations each run stored or replayed from the cache: what `extract diff` compares.",
    "answer_outcomes": "What validating each answer for each chunk yielded (the ids of its observations and "
    "rejects), under the key of the validating code and settings: a re-run links these instead of validating "
    "the same answer again.",
    "embeddings": "Vectors from the `[merge]` embedder, by model and text hash.",
    "merge_judgements": "The model's verdicts on borderline pairs, with reason and raw answer.",
    "endpoint_formats": "The structured-output mode found for each endpoint and model "
    '(`response_format = "auto"`), with the modes it refused.',
    "current_observations": "The observations the claims view shows: a topic's newest report run, "
    "its triage since its last `run --topic`, the newest answer of each request; imports add to them.",
}


# Notes on columns whose values need saying (a migration's COMMENT ON COLUMN wins).
COLUMN_NOTES: dict[tuple[str, str], str] = {
    ("runs", "status"): "running, done, done_with_rejects, done_with_skips, batch_pending, interrupted, failed",
    ("runs", "command"): "run, run --topic SLUG, import",
    ("runs", "prompts"): "JSON: {prompt name: content hash}",
    ("runs", "counts"): "JSON: the run summary",
    ("runs", "skipped"): "JSON: [{path, kind, detail}]",
    ("documents", "sha256"): "of the normalised text, UTF-8",
    ("documents", "text"): "exactly what every offset indexes",
    ("responses", "answer_no"): "0, then 1, 2... for each `--fresh` answer; the newest is replayed",
    ("responses", "model"): "as requested",
    ("responses", "endpoint_model"): "as the endpoint named it",
    ("responses", "structured_output"): "the mode the answer was asked in",
    ("answer_outcomes", "validator"): "the key of the validating code and settings (`stages/replay.py`)",
    ("answer_outcomes", "answer_sha256"): "of the raw answer text validated",
    ("answer_outcomes", "reject_reasons"): "one per reject id",
    ("observations", "job"): "ref_triage, topic_report, or an imported line's kind",
    ("observations", "alignment"): "exact, normalised, imported",
    ("observations", "model"): "as the endpoint named it",
    ("observations", "source"): "document path or URL",
    ("observations", "parent_obs_id"): "a report counter's stance",
    ("observations", "run_label"): "the label of the run that made an imported line elsewhere",
    ("citations", "kind"): "arxiv, key, url, unknown",
    ("claim_index", "scope"): "triage, or the report field path (position included)",
    ("claim_blocks", "topic"): "null for triage: its block spans topics",
    ("batches", "endpoint"): "the base URL it was sent to",
    ("batches", "status"): "the endpoint's status, or collected",
    ("merge_judgements", "pair_sha256"): "of the two texts, in sorted order",
    ("endpoint_formats", "mode"): "json_schema, json_object_schema, json_object, text",
    ("endpoint_formats", "refused"): "JSON: [{mode, status, message}]",
}


def _description(name: str, comment: str | None) -> str:
    return comment or DESCRIPTIONS.get(name) or "(no description yet: add one to `bench/schema_doc.py`)"


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def render() -> str:
    """The schema page, from a fresh database."""
    with tempfile.TemporaryDirectory() as work:
        db = open_database(Path(work) / "schema.duckdb")
        try:
            con = db.con
            tables = con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
            ).fetchall()
            views = con.execute(
                "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND NOT temporary ORDER BY view_name"
            ).fetchall()
            keys: dict[str, set[str]] = {}
            for table, columns in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints()"
                " WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY table_name"
            ).fetchall():
                keys.setdefault(table, set()).update(columns)
            primary = {
                table: list(columns)
                for table, columns in con.execute(
                    "SELECT table_name, constraint_column_names FROM duckdb_constraints()"
                    " WHERE constraint_type = 'PRIMARY KEY'"
                ).fetchall()
            }
            lines = [
                "# The database schema",
                "",
                f"Generated from a fresh database by `{COMMAND}`; do not edit by hand.",
                "One DuckDB file, made by named, append-only migrations",
                "(`src/extract/store/migrations.py`); only one process writes at a time.",
                "",
            ]
            lines += [f"- [`{name}`](#{name})" for name, _ in [*tables, *views]]
            for kind, rows in (("table", tables), ("view", views)):
                for name, comment in rows:
                    columns = con.execute(
                        "SELECT i.column_name, i.data_type, i.is_nullable, i.column_default, c.comment"
                        " FROM information_schema.columns i"
                        " LEFT JOIN duckdb_columns() c ON c.table_name = i.table_name AND c.column_name = i.column_name"
                        " WHERE i.table_name = ? ORDER BY i.ordinal_position",
                        [name],
                    ).fetchall()
                    lines += ["", f"## {name}", "", f"{kind.capitalize()}. {_description(name, comment)}"]
                    if name in primary:
                        lines[-1] += f" Key: ({', '.join(primary[name])})."
                    lines += ["", "| column | type | null | default | note |", "|---|---|---|---|---|"]
                    for column, data_type, nullable, default, comment_on in columns:
                        null = "" if kind == "view" else ("yes" if nullable == "YES" else "no")
                        unique = "unique" if column in keys.get(name, set()) and name not in primary else ""
                        note = comment_on or COLUMN_NOTES.get((name, column)) or unique
                        cells = (f"`{column}`", data_type, null, default, note)
                        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        finally:
            db.con.close()
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="Exit 1 if docs/schema.md is out of date.")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            sys.exit(f"docs/schema.md is out of date: run `{COMMAND}`")
        return
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
