"""Named, append-only schema migrations; each runs in a transaction with its record row.

Never edit or reorder an applied migration: add a new one at the end.

Views are not migrated: each is defined once in `store/views.py` and recreated every
time a database is opened for writing (the migrations that once created them are no-ops).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_core_tables",
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            -- running | done | done_with_rejects | done_with_skips | batch_pending | failed | interrupted
            status VARCHAR NOT NULL,
            command VARCHAR NOT NULL,
            pipeline_name VARCHAR,
            pipeline_path VARCHAR,
            pipeline_hash VARCHAR,
            pipeline_json VARCHAR,
            model VARCHAR,
            prompts VARCHAR,                  -- JSON: {prompt name: content hash}
            counts VARCHAR,                   -- JSON: the run summary
            skipped VARCHAR,                  -- JSON: [{path, kind, detail}]
            error VARCHAR
        );
        CREATE TABLE documents (
            sha256 VARCHAR PRIMARY KEY,       -- of the normalised text, UTF-8
            path VARCHAR NOT NULL,
            raw_sha256 VARCHAR NOT NULL,
            encoding VARCHAR NOT NULL,
            fmt VARCHAR NOT NULL,
            text VARCHAR NOT NULL,            -- exactly what every offset indexes
            first_run_id VARCHAR NOT NULL
        );
        CREATE TABLE records (
            record_id VARCHAR PRIMARY KEY,
            doc_sha256 VARCHAR NOT NULL,
            idx INTEGER NOT NULL,
            title VARCHAR NOT NULL,
            arxiv_ids VARCHAR[] NOT NULL,
            urls VARCHAR[] NOT NULL,
            citation_key VARCHAR NOT NULL UNIQUE,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL
        );
        CREATE TABLE chunks (
            chunk_id VARCHAR PRIMARY KEY,
            doc_sha256 VARCHAR NOT NULL,
            record_id VARCHAR NOT NULL,
            idx INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            encoding VARCHAR NOT NULL
        );
        CREATE TABLE responses (
            request_hash VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            job VARCHAR NOT NULL,
            model VARCHAR NOT NULL,           -- as requested
            endpoint_model VARCHAR NOT NULL,  -- as the endpoint named it
            prompt_name VARCHAR NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            chunk_id VARCHAR,
            attempt INTEGER NOT NULL,
            request_json VARCHAR NOT NULL,
            raw_text VARCHAR NOT NULL,
            raw_json VARCHAR,
            finish_reason VARCHAR,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE observations (
            obs_id VARCHAR PRIMARY KEY,
            claim_id VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            job VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            stance VARCHAR NOT NULL,
            domain VARCHAR,
            tags VARCHAR[] NOT NULL,
            topic VARCHAR,
            field_path VARCHAR,
            camp VARCHAR,
            citations VARCHAR[] NOT NULL,
            quote VARCHAR NOT NULL,
            alignment VARCHAR NOT NULL,       -- exact | normalised | imported
            flags VARCHAR[] NOT NULL,
            lang VARCHAR,
            model VARCHAR NOT NULL,           -- as the endpoint named it
            prompt_name VARCHAR,
            prompt_hash VARCHAR,
            pipeline_hash VARCHAR,
            request_hash VARCHAR,
            doc_sha256 VARCHAR,
            source VARCHAR,                   -- document path or URL
            record_id VARCHAR,
            chunk_id VARCHAR,
            char_start INTEGER,
            char_end INTEGER,
            created_at TIMESTAMP NOT NULL
        );
        CREATE INDEX observations_claim ON observations (claim_id);
        CREATE TABLE citations (
            obs_id VARCHAR NOT NULL,
            claim_id VARCHAR NOT NULL,
            raw VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- arxiv | key | url | unknown
            value VARCHAR NOT NULL,
            record_id VARCHAR,
            PRIMARY KEY (obs_id, raw)
        );
        CREATE TABLE claims (
            claim_id VARCHAR PRIMARY KEY,
            text VARCHAR NOT NULL,
            stance VARCHAR NOT NULL,
            domain VARCHAR,
            tags VARCHAR[] NOT NULL,
            topics VARCHAR[] NOT NULL,
            citations VARCHAR[] NOT NULL,
            n_obs INTEGER NOT NULL,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL
        );
        CREATE TABLE rejects (
            reject_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            job VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            detail VARCHAR NOT NULL,
            raw_output VARCHAR NOT NULL,
            item_json VARCHAR,
            request_hash VARCHAR,
            chunk_id VARCHAR,
            doc_sha256 VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "002_batches",
        """
        CREATE TABLE batches (
            batch_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            endpoint VARCHAR NOT NULL,        -- the base URL it was sent to
            input_file_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- the endpoint's status, or 'collected'
            n_requests INTEGER NOT NULL,
            n_completed INTEGER NOT NULL DEFAULT 0,
            n_failed INTEGER NOT NULL DEFAULT 0,
            error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE batch_requests (
            request_hash VARCHAR NOT NULL,
            batch_id VARCHAR NOT NULL,
            job VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            prompt_name VARCHAR NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            chunk_id VARCHAR,
            attempt INTEGER NOT NULL,
            request_json VARCHAR NOT NULL,
            PRIMARY KEY (request_hash, batch_id)
        );
        """,
    ),
    (
        "003_claim_index",
        """
        -- What the merge stage needs to place a new observation without re-reading
        -- every observation: each claim's scope and a capped token signature.
        CREATE TABLE claim_index (
            claim_id VARCHAR PRIMARY KEY,
            scope VARCHAR NOT NULL,           -- triage | headline | stance | counter | other kinds
            topic VARCHAR,
            camp VARCHAR,
            tokens VARCHAR[] NOT NULL,
            citations VARCHAR[] NOT NULL,
            numbers VARCHAR[] NOT NULL,
            n_obs INTEGER NOT NULL
        );
        -- Imported observations keep the label of the run that made them elsewhere.
        ALTER TABLE observations ADD COLUMN run_label VARCHAR;
        -- A report position's counter points at its stance.
        ALTER TABLE observations ADD COLUMN parent_obs_id VARCHAR;
        -- The topic slug a much-observed contested claim proposes for the next report run.
        ALTER TABLE claims ADD COLUMN spawned VARCHAR;
        """,
    ),
    (
        "004_current_observations",
        """
        -- Created the `current_observations` view; views live in store/views.py now,
        -- recreated each time a database is opened for writing.
        SELECT 1;
        """,
    ),
    (
        "005_fresh_answers",
        """
        -- `run --fresh` asks a request again: a request may now have several answers,
        -- numbered from 0; the newest is the one the cache replays.
        CREATE TABLE responses_numbered (
            request_hash VARCHAR NOT NULL,
            answer_no INTEGER NOT NULL,
            run_id VARCHAR NOT NULL,
            job VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            endpoint_model VARCHAR NOT NULL,
            prompt_name VARCHAR NOT NULL,
            prompt_hash VARCHAR NOT NULL,
            chunk_id VARCHAR,
            attempt INTEGER NOT NULL,
            request_json VARCHAR NOT NULL,
            raw_text VARCHAR NOT NULL,
            raw_json VARCHAR,
            finish_reason VARCHAR,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (request_hash, answer_no)
        );
        INSERT INTO responses_numbered
        SELECT request_hash, 0, run_id, job, model, endpoint_model, prompt_name, prompt_hash, chunk_id, attempt,
               request_json, raw_text, raw_json, finish_reason, prompt_tokens, completion_tokens, latency_ms,
               created_at
        FROM responses;
        DROP TABLE responses;
        ALTER TABLE responses_numbered RENAME TO responses;
        -- Which answer an observation was read from: (request_hash, answer_no).
        ALTER TABLE observations ADD COLUMN answer_no INTEGER DEFAULT 0;
        """,
    ),
    (
        "006_token_df",
        """
        -- How many claims carry each signature token: the merge stage's IDF weights,
        -- kept so that an incremental merge reads only the blocks it touches.
        CREATE TABLE token_df (
            token VARCHAR PRIMARY KEY,
            df INTEGER NOT NULL
        );
        INSERT INTO token_df
        SELECT token, count(*) FROM (SELECT unnest(tokens) AS token FROM claim_index) GROUP BY token;
        """,
    ),
    (
        "007_run_observations",
        """
        -- Which observations each run produced or replayed: a re-run answered from the
        -- cache stores no observation twice, yet its output is the first run's output,
        -- and `extract diff` compares runs by what they output.
        CREATE TABLE run_observations (
            run_id VARCHAR NOT NULL,
            obs_id VARCHAR NOT NULL,
            PRIMARY KEY (run_id, obs_id)
        );
        INSERT INTO run_observations SELECT DISTINCT run_id, obs_id FROM observations;
        """,
    ),
    (
        "008_current_by_output",
        """
        -- Redefined `current_observations` by what runs output (see store/views.py).
        SELECT 1;
        """,
    ),
    (
        "009_merge_arbiters",
        """
        -- What decided borderline pairs in the merge, kept so that a re-run asks nothing.
        CREATE TABLE embeddings (
            model VARCHAR NOT NULL,
            text_sha256 VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (model, text_sha256)
        );
        CREATE TABLE merge_judgements (
            model VARCHAR NOT NULL,
            pair_sha256 VARCHAR NOT NULL,     -- of the two texts, in sorted order
            same BOOLEAN NOT NULL,
            reason VARCHAR,
            raw_output VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (model, pair_sha256)
        );
        """,
    ),
    (
        "010_claim_postings",
        """
        -- Which claims of a block carry each token (and "@" + citation): an incremental
        -- merge counts the claims of each token it meets and reads only the claims of
        -- the rarest ones, not every claim sharing a word with a new observation.
        -- Blocks and keys are numbered so that lookups join integers. Rows are only
        -- ever added (a claim's signature only grows); `gen` numbers the save that
        -- added them, so a merge can read the postings as they were when it began.
        CREATE TABLE claim_blocks (
            scope VARCHAR NOT NULL,
            topic VARCHAR,                    -- null for triage: its block spans topics
            id INTEGER NOT NULL
        );
        CREATE TABLE claim_keys (
            key VARCHAR PRIMARY KEY,
            id INTEGER NOT NULL
        );
        CREATE TABLE claim_postings (
            block INTEGER NOT NULL,
            key INTEGER NOT NULL,
            claim_id VARCHAR NOT NULL,
            gen INTEGER NOT NULL
        );
        CREATE TEMP TABLE _post AS
        SELECT claim_id, scope, CASE WHEN scope = 'triage' THEN NULL ELSE topic END AS topic,
               unnest(list_concat(tokens, list_transform(citations, lambda c: '@' || c))) AS key
        FROM claim_index;
        INSERT INTO claim_blocks
        SELECT scope, topic, row_number() OVER (ORDER BY scope, topic) FROM (SELECT DISTINCT scope, topic FROM _post);
        INSERT INTO claim_keys
        SELECT key, row_number() OVER (ORDER BY key) FROM (SELECT DISTINCT key FROM _post);
        INSERT INTO claim_postings
        SELECT b.id, k.id, p.claim_id, 0 FROM _post p
        JOIN claim_blocks b ON b.scope = p.scope AND b.topic IS NOT DISTINCT FROM p.topic
        JOIN claim_keys k ON k.key = p.key;
        DROP TABLE _post;
        """,
    ),
    (
        "011_newest_answer_current",
        """
        -- Redefined `current_observations`: of one request's answers in one topic, only
        -- the newest answer's are current (see store/views.py).
        SELECT 1;
        """,
    ),
    (
        "012_structured_output",
        """
        -- What an endpoint accepts for structured output, found out once per (base URL,
        -- model) by `response_format = "auto"` and remembered here; `refused` keeps each
        -- refused mode with the endpoint's own words (JSON: [{mode, status, message}]).
        CREATE TABLE endpoint_formats (
            base_url VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            mode VARCHAR NOT NULL,           -- json_schema | json_object_schema | json_object | text
            refused VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL,
            PRIMARY KEY (base_url, model)
        );
        -- The mode each answer was asked in (provenance); NULL for answers stored before.
        ALTER TABLE responses ADD COLUMN structured_output VARCHAR;
        """,
    ),
    (
        "013_runs_topic",
        """
        -- The topic a `run --topic SLUG` run re-extracted (NULL for every other run), so
        -- that nothing parses `command` (kept as typed, for display) to find it.
        ALTER TABLE runs ADD COLUMN topic VARCHAR;
        UPDATE runs SET topic = substr(command, length('run --topic ') + 1)
        WHERE starts_with(command, 'run --topic ');
        """,
    ),
    (
        "014_answer_outcomes",
        """
        -- What validating each answer for each chunk yielded (the ids of its observations
        -- and rejects), under the key of the code and settings that decided it, so that a
        -- re-run links them instead of parsing and validating the same answer again.
        CREATE TABLE answer_outcomes (
            request_hash VARCHAR NOT NULL,
            answer_no INTEGER NOT NULL,
            chunk_id VARCHAR NOT NULL,
            validator VARCHAR NOT NULL,       -- the key of the validating code and settings
            answer_sha256 VARCHAR NOT NULL,   -- of the raw answer text validated
            obs_ids VARCHAR[] NOT NULL,
            reject_ids VARCHAR[] NOT NULL,
            reject_reasons VARCHAR[] NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (request_hash, answer_no, chunk_id, answer_sha256, validator)
        );
        """,
    ),
]


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    done = {row[0] for row in con.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(UTC).replace(tzinfo=None)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
