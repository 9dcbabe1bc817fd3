"""Structured output that works with whatever endpoint the user has: `response_format =
"auto"` finds out what an endpoint accepts (and remembers it), explicit modes are
obeyed, refusals and faults say what happened, a small context window or a rambling
model does not fail the run. The refusals are the real servers' own words."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fake_openai import FakeOpenAI, Reply, response_format
from pipelines import grounded_answer, paper_list, run_cli, write_pipeline

# llama-cpp-python's server (0.3.x) on a json_schema request: HTTP 500, a pydantic error.
LLAMA_CPP_PYTHON_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input"
    " should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}"
    '\n\n  File "llama_cpp/server/app.py", line 376, in create_chat_completion\n    POST /v1/chat/completions'
)
LM_STUDIO_REFUSAL = "'response_format.type' must be 'json_schema' or 'text'"
LLAMA_CPP_CONTEXT = (
    "This model's maximum context length is 512 tokens. However, you requested 1800 tokens (264 in the messages,"
    " 1536 in the completion). Please reduce the length of the messages or completion."
)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def like_llama_cpp_python(request: dict[str, Any]) -> Reply | str:
    """Refuses json_schema as llama-cpp-python does; answers a json_object request that carries a schema."""
    fmt = response_format(request) or {}
    if fmt.get("type") == "json_schema":
        return Reply(status=500, content=LLAMA_CPP_PYTHON_REFUSAL)
    assert fmt.get("type") == "json_object" and "properties" in fmt["schema"]
    return grounded_answer(request)


def test_auto_steps_down_once_remembers_the_mode_and_replays_from_the_cache(isolated: Path) -> None:
    dumps = paper_list(isolated, 6)
    with FakeOpenAI(like_llama_cpp_python) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        first = run_cli("run", str(pipeline), "--json")
        kinds = [(response_format(r) or {}).get("type") for r in server.requests]
        again = run_cli("run", str(pipeline), "--json")
        calls_after = server.count()
    summary = json.loads(first.stdout)
    assert first.exit_code == 0, first.output
    # One refused call for the whole endpoint, not one per chunk (4 were allowed in flight).
    assert kinds.count("json_schema") == 1 and kinds.count("json_object") == 6
    assert summary["format_refusals"] == 1 and summary["retries"] == 0
    assert summary["structured_output"].startswith("json_object_schema (auto: json_schema refused (HTTP 500)")
    assert summary["observations"] == 6
    # Every request after the refusal constrained the answer with the schema in `schema`.
    assert all("schema" in (response_format(r) or {}) for r in server.requests[1:])
    db = isolated / "claims.duckdb"
    [(mode, refused)] = query(db, "SELECT mode, refused FROM endpoint_formats")
    assert mode == "json_object_schema" and "Input should be 'text' or 'json_object'" in refused
    assert {m for (m,) in query(db, "SELECT structured_output FROM responses")} == {"json_object_schema"}
    [(claim_id,)] = query(db, "SELECT claim_id FROM claims LIMIT 1")
    assert "structured output json_object_schema" in run_cli("show", claim_id).output  # provenance
    # The second run asks in the remembered mode, so every answer comes from the cache.
    rerun = json.loads(again.stdout)
    assert calls_after == 7 and rerun["calls"] == 0 and rerun["cached"] == 6
    runs = run_cli("runs")
    assert "structured output: json_object_schema" in runs.output
    # The plan builds the same requests: all answered, none to pay for.
    plan = json.loads(run_cli("plan", str(pipeline), "--json").stdout)
    assert plan["structured_output"] == "json_object_schema" and plan["cached"] == 6 and plan["calls"] == 0


def test_an_endpoint_without_json_schema_or_schema_field_gets_plain_text_read_leniently(isolated: Path) -> None:
    """LM Studio refuses json_object; a server that ignores formats gets the schema in the
    instructions and may wrap its JSON in prose and a code fence."""
    dumps = paper_list(isolated, 2)

    def lm_studio(request: dict[str, Any]) -> Reply | str:
        fmt = response_format(request)
        if fmt is not None and fmt.get("type") != "text":
            return Reply(status=400, content=LM_STUDIO_REFUSAL)
        assert "The JSON schema of the answer" in request["messages"][0]["content"]
        return "Sure! Here are the claims:\n```json\n" + grounded_answer(request) + "\n```\nHope this helps."

    with FakeOpenAI(lm_studio) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        result = run_cli("run", str(pipeline), "--json")
        refused = [r for r in server.requests if response_format(r) is not None]
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert [(response_format(r) or {}).get("type") for r in refused] == ["json_schema", "json_object", "json_object"]
    assert summary["structured_output"].startswith("text (auto: ")
    assert summary["observations"] == 2 and summary["rejects"] == 0


def test_a_forced_format_the_endpoint_refuses_is_one_line_naming_the_setting(isolated: Path) -> None:
    dumps = paper_list(isolated, 3)
    with FakeOpenAI(like_llama_cpp_python) as server:
        pipeline = write_pipeline(
            isolated,
            base_url=server.base_url,
            inputs=[dumps],
            model_extra='response_format = "json_schema"\nmax_retries = 4',
        )
        started = time.monotonic()
        result = run_cli("run", str(pipeline))
        elapsed = time.monotonic() - started
        calls = server.count()
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: the endpoint answered HTTP 500: 1 validation error:")
    assert "model.response_format = 'json_schema'; set it to \"auto\"" in lines[-1]
    assert "Traceback" not in result.output and "cannot reach" not in result.output
    assert calls == 1 and elapsed < 10, server.requests  # no retry storm: a refusal is not a transport fault
    [(status, error)] = query(isolated / "claims.duckdb", "SELECT status, error FROM runs")
    assert status == "failed" and "json_schema" in error


def test_a_server_error_is_retried_and_reported_as_an_answer_not_as_unreachable(isolated: Path) -> None:
    dumps = paper_list(isolated, 1)
    with FakeOpenAI(lambda r: Reply(status=503, content="model is loading", headers={"retry-after-ms": "5"})) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], model_extra="max_retries = 2")
        result = run_cli("run", str(pipeline))
        calls = server.count()
    assert result.exit_code == 2 and calls == 3
    last = result.output.strip().splitlines()[-1]
    assert last == "error: the endpoint answered HTTP 503: model is loading (after 2 retries)"


def test_a_small_context_window_halves_the_budget_and_a_rerun_makes_no_call(isolated: Path) -> None:
    dumps = paper_list(isolated, 3)

    def small_window(request: dict[str, Any]) -> Reply | str:
        if request["max_tokens"] > 512:
            return Reply(status=400, content=LLAMA_CPP_CONTEXT)
        return grounded_answer(request)

    with FakeOpenAI(small_window) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        first = json.loads(run_cli("run", str(pipeline), "--json").stdout)
        budgets = [r["max_tokens"] for r in server.requests]
        second = json.loads(run_cli("run", str(pipeline), "--json").stdout)
    assert first["observations"] == 3 and first["rejects"] == 0 and first["failed"] == 0
    # 1536 -> 768 -> 384 for the first chunk; the others start at the budget that fitted.
    assert budgets[:3] == [1536, 768, 384] and budgets[3:] == [384, 384]
    assert first["budget_cuts"] == 2
    assert second["calls"] == 0 and second["cached"] == 3


def test_a_model_that_always_rambles_splits_a_chunk_at_most_to_the_floor(isolated: Path) -> None:
    dumps = isolated / "dumps"
    dumps.mkdir()
    paragraphs = [
        f"Method {i} improves accuracy by {i}% over the baseline on benchmark {i} in our tests." for i in range(40)
    ]
    (dumps / "long.md").write_text("## Paper\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    with FakeOpenAI(lambda r: Reply(content='{"claims": [{"text": "and so on and so on', finish_reason="length")) as s:
        pipeline = write_pipeline(isolated, base_url=s.base_url, inputs=[dumps])
        result = run_cli("run", str(pipeline), "--json")
        calls = s.count()
    summary = json.loads(result.stdout)
    assert result.exit_code == 1
    # One chunk, halved once: 1 + 2 calls, then the two halves are rejects.
    assert calls == 3 and summary["splits"] == 1
    reasons = query(isolated / "claims.duckdb", "SELECT reason, count(*) FROM rejects GROUP BY reason")
    assert reasons == [("truncated", 2)]


@pytest.mark.slow
def test_sigterm_marks_the_run_interrupted_prints_its_summary_and_the_next_run_resumes(isolated: Path) -> None:
    dumps = paper_list(isolated, 8)
    answered: list[str] = []
    stalling = [True]  # after two answers the server stalls, until the resumed run

    def slow(request: dict[str, Any]) -> Reply:
        answered.append("x")
        stall = stalling[0] and len(answered) > 2
        return Reply(content=grounded_answer(request), delay=30.0 if stall else 0.0)

    with FakeOpenAI(slow) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], model_extra="concurrency = 1")
        env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "extract", "run", str(pipeline), "--json"],
            cwd=isolated,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(answered) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        summary = json.loads(out)
        assert summary["status"] == "interrupted" and summary["calls"] == 2, summary
        assert err.strip().splitlines()[-1].startswith("error: interrupted; what was answered is stored"), err
        db = isolated / "claims.duckdb"
        assert query(db, "SELECT status FROM runs") == [("interrupted",)]
        assert query(db, "SELECT count(*) FROM responses") == [(2,)]
        stalling[0] = False
        resumed = run_cli("run", str(pipeline), "--json")
    again = json.loads(resumed.stdout)
    assert resumed.exit_code == 0 and again["cached"] == 2 and again["calls"] == 6


def test_classify_reads_the_servers_own_words() -> None:
    """The refusals named in the issue, as real servers send them, each recognised by status and message."""
    import openai

    from extract.errors import ContextExceeded, EndpointBusy, FormatRefused, RequestRefused, TransientModelError
    from extract.providers.openai_chat import classify

    openai_refusal = "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."
    vllm = "The provided JSON schema contains features not supported by xgrammar."
    cases = [
        (500, LLAMA_CPP_PYTHON_REFUSAL, FormatRefused),
        (400, LM_STUDIO_REFUSAL, FormatRefused),
        (400, openai_refusal, FormatRefused),
        (400, vllm, FormatRefused),
        (400, LLAMA_CPP_CONTEXT, ContextExceeded),
        (500, "Context size has been exceeded.", EndpointBusy),
        (404, "model 'qwen' not found", RequestRefused),
        (500, "CUDA out of memory", TransientModelError),
    ]
    with FakeOpenAI(script=[Reply(status=status, content=message) for status, message, _ in cases]) as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        for status, message, kind in cases:
            try:
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            except openai.APIStatusError as exc:
                error = classify(exc, server.base_url)
            assert type(error) is kind, message
            assert str(error).startswith(f"the endpoint answered HTTP {status}: {message.splitlines()[0]}")
        client.close()


@pytest.mark.slow
def test_a_slow_endpoint_gets_no_more_calls_in_flight_than_finish_within_the_timeout(isolated: Path) -> None:
    """A local server answers one call at a time: calls queued behind it would time out."""
    dumps = paper_list(isolated, 8)
    active = [0]
    most = [0]

    def slow(request: dict[str, Any]) -> Reply:
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(1.0)
        active[0] -= 1
        return Reply(content=grounded_answer(request))

    with FakeOpenAI(slow) as server:
        # 1 s a call against a 5 s timeout: at most 5 s / (2 x 1 s), so 2 in flight, not 8.
        pipeline = write_pipeline(
            isolated, base_url=server.base_url, inputs=[dumps], model_extra="concurrency = 8\ntimeout = 5"
        )
        result = run_cli("run", str(pipeline), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["observations"] == 8 and summary["retries"] == 0
    assert most[0] <= 2


@pytest.mark.slow
def test_a_call_that_times_out_leaves_one_call_in_flight(isolated: Path) -> None:
    dumps = paper_list(isolated, 6)
    seen = [0]
    active = [0]
    most = [0]

    def answer(request: dict[str, Any]) -> Reply:
        seen[0] += 1
        if seen[0] == 1:
            time.sleep(3.0)  # past the 2 s timeout: the client gives up and asks again
            return Reply(content=grounded_answer(request))
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.3)
        active[0] -= 1
        return Reply(content=grounded_answer(request))

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(
            isolated,
            base_url=server.base_url,
            inputs=[dumps],
            model_extra="concurrency = 6\ntimeout = 2\nmax_retries = 1",
        )
        result = run_cli("run", str(pipeline), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["retries"] == 1 and summary["observations"] == 6
    # Answers of 0.3 s alone would allow 2 s / (2 x 0.3 s) = 3 in flight; after a timeout, one.
    assert most[0] == 1


def test_llama_servers_full_context_pool_means_fewer_calls_at_once_not_a_smaller_budget(isolated: Path) -> None:
    """llama-server's slots share one context: calls at once can overflow it, and then every
    call in flight is answered HTTP 500 'Context size has been exceeded.'"""
    dumps = paper_list(isolated, 5)
    active = [0]

    def shared_pool(request: dict[str, Any]) -> Reply:
        active[0] += 1
        try:
            time.sleep(0.2)
            if active[0] > 1:
                return Reply(status=500, content="Context size has been exceeded.")
            return Reply(content=grounded_answer(request))
        finally:
            active[0] -= 1

    with FakeOpenAI(shared_pool) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], model_extra="max_retries = 3")
        result = run_cli("run", str(pipeline), "--json")
        budgets = {r["max_tokens"] for r in server.requests}
    summary = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert summary["observations"] == 5 and summary["rejects"] == 0 and summary["retries"] >= 1
    assert summary["budget_cuts"] == 0 and budgets == {1536}
