"""The real-server tier: llama-cpp-python's OpenAI-compatible server (which nobody here
wrote) serving a real model, SmolLM2-135M-Instruct, through the real `openai` SDK.

It refuses `json_schema` with an HTTP 500 validation error and enforces a schema sent as
`{"type": "json_object", "schema": ...}`; a 135M model on two cores writes slowly and
often nonsense. What a user checks: the run finishes and says which mode it used, every
answer is stored, every accepted quote is grounded, the rest are rejects with reasons,
and a second run makes no call. Installed by `uv sync --group real-server`; skipped
without it, unless EXTRACT_REQUIRE_REAL_SERVER=1 (CI) makes a missing server a failure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llama_server import LlamaServer
from pipelines import run_cli, write_pipeline

pytestmark = pytest.mark.real_server

DUMP = """# Reading list

## Switch Transformers: Scaling to Trillion Parameter Models
https://arxiv.org/abs/2101.03961
Abstract: We simplify the MoE routing algorithm and design intuitive improved models with reduced
communication and computational costs. Switch Transformers achieve up to 7x increases in pre-training
speed with the same computational resources.

## FlashAttention-2: Faster Attention with Better Parallelism
https://arxiv.org/abs/2307.08691
Abstract: FlashAttention-2 yields around 2x speedup compared to FlashAttention, reaching 50-73% of the
theoretical maximum FLOPs/s on A100 GPUs.
"""
# Known reasons a small model's answers end up as (anything else is a bug to see).
REASONS = {
    "invalid_json",
    "schema_violation",
    "quote_not_found",
    "quote_too_short",
    "empty_text",
    "unknown_domain",
    "not_a_claim",
    "truncated",
    "context_exceeded",
}


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def pipeline_for(directory: Path, server: LlamaServer, model_extra: str = "") -> Path:
    dumps = directory / "dumps"
    dumps.mkdir(exist_ok=True)
    (dumps / "reading.md").write_text(DUMP, encoding="utf-8")
    # A small completion budget keeps a rambling 135M model to seconds a call.
    extra = "max_completion_tokens = 384\nmax_retries = 1\n" + model_extra
    return write_pipeline(directory, base_url=server.base_url, model=server.model, inputs=[dumps], model_extra=extra)


def test_a_run_with_auto_negotiates_stores_every_answer_grounds_every_quote_and_replays(
    isolated: Path, llama_server: LlamaServer
) -> None:
    pipeline = pipeline_for(isolated, llama_server)
    first = run_cli("run", str(pipeline), "--json")
    assert first.exit_code in (0, 1), first.output  # 1: finished, with rejects
    summary = json.loads(first.stdout)
    assert summary["status"] in ("done", "done_with_rejects")
    # llama-cpp-python refuses json_schema (HTTP 500, a validation error); one refused call.
    assert summary["structured_output"] == "json_object_schema (auto: json_schema refused (HTTP 500))"
    assert summary["format_refusals"] == 1 and summary["retries"] == 0 and summary["failed"] == 0
    db = isolated / "claims.duckdb"
    [(mode, refused)] = query(db, "SELECT mode, refused FROM endpoint_formats")
    assert mode == "json_object_schema" and "Input should be 'text' or 'json_object'" in refused

    # Every answer paid for is stored, raw, in the mode it was asked in.
    responses = query(db, "SELECT raw_text, structured_output, finish_reason FROM responses")
    assert len(responses) == summary["calls"] >= summary["chunks"] > 0
    assert all(raw and mode == "json_object_schema" for raw, mode, _ in responses)

    # Every accepted observation is grounded at its offsets in the document.
    grounded = query(
        db,
        "SELECT o.quote, substr(d.text, o.char_start + 1, o.char_end - o.char_start) FROM observations o"
        " JOIN documents d ON d.sha256 = o.doc_sha256",
    )
    assert len(grounded) == summary["observations"]
    assert all(quote == span for quote, span in grounded)

    # Everything else is a reject with a reason and the raw answer it came from.
    rejects = query(db, "SELECT reason, raw_output FROM rejects")
    assert len(rejects) == summary["rejects"]
    assert {reason for reason, _ in rejects} <= REASONS
    assert all(raw for reason, raw in rejects if reason != "context_exceeded")

    again = json.loads(run_cli("run", str(pipeline), "--json").stdout)
    assert again["calls"] == 0 and again["cached"] == summary["calls"]
    assert again["observations"] == 0 and again["rejects"] == summary["rejects"]


def test_forcing_json_schema_on_this_server_is_one_line_and_exit_2_within_seconds(
    isolated: Path, llama_server: LlamaServer
) -> None:
    pipeline = pipeline_for(isolated, llama_server, 'response_format = "json_schema"\n')
    started = time.monotonic()
    result = run_cli("run", str(pipeline))
    elapsed = time.monotonic() - started
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: the endpoint answered HTTP 500: 1 validation error:")
    assert "model.response_format = 'json_schema'" in last and "Traceback" not in result.output
    assert elapsed < 30
    assert query(isolated / "claims.duckdb", "SELECT count(*) FROM responses") == [(0,)]


def test_the_merge_judge_gets_a_schema_valid_verdict(isolated: Path, llama_server: LlamaServer) -> None:
    from extract.config import ModelSettings
    from extract.providers.openai_sync import OpenAISync
    from extract.stages.arbiter import ModelJudge
    from extract.stages.gateway import SyncGateway
    from extract.store import open_database

    settings = ModelSettings(name=llama_server.model, base_url=llama_server.base_url, max_retries=1)
    with open_database(isolated / "judge.duckdb") as db:
        gateway = SyncGateway(db, OpenAISync(settings), settings, llama_server.model)
        judge = ModelJudge(db, gateway, llama_server.model)
        try:
            judge.same(
                "Switch Transformers reach up to 7x faster pre-training with the same compute.",
                "With equal compute, Switch Transformers pre-train up to seven times faster.",
            )
        finally:
            gateway.close()
        verdicts = db.con.execute("SELECT same, raw_output FROM merge_judgements").fetchall()
        modes = db.con.execute("SELECT structured_output FROM responses").fetchall()
    assert judge.stats.unanswered == 0, judge.stats.last_problem
    [(same, raw)] = verdicts
    answer = json.loads(raw)
    assert isinstance(same, bool) and answer["same"] is same and isinstance(answer["reason"], str)
    assert modes == [("json_object_schema",)]
