"""Batch mode end to end against the local server's Files and Batches endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from extract.models import ModelRequest
from extract.stages.batch import batch_files
from extract.store.batches import PendingRequest

from fake_openai import FakeOpenAI, Reply
from pipelines import chunk_data, grounded_answer, paper_list, run_cli, write_pipeline


def test_batch_run_then_collect_by_rerun(isolated: Path) -> None:
    dumps = paper_list(isolated, 6)
    failing = {"n": 0}

    def answer(request: dict[str, Any]) -> Reply | str:
        if "Paper 5 " in chunk_data(request) and failing["n"] == 0:
            failing["n"] += 1
            return Reply(status=500, content="line failed")
        return grounded_answer(request)

    with FakeOpenAI(answer, batch_polls=1) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        first = run_cli("run", str(pipeline), "--batch", "--json")
        s1 = json.loads(first.stdout)
        assert first.exit_code == 0, first.output
        assert s1["deferred"] == 6 and s1["batches_submitted"] == 1 and s1["calls"] == 0
        assert s1["status"] == "batch_pending"
        assert server.count() == 0 and len(server.batch_requests) == 6
        assert {r["_custom_id"] for r in server.batch_requests} == {
            row[0]
            for row in duckdb.connect(str(isolated / "claims.duckdb"), read_only=True)
            .execute("SELECT request_hash FROM batch_requests")
            .fetchall()
        }

        status = json.loads(run_cli("batch", "status", str(pipeline), "--json").stdout)
        assert [b["status"] for b in status] == ["in_progress"]  # batch_polls=1: first poll is in progress

        collected = json.loads(run_cli("batch", "collect", str(pipeline), "--json").stdout)
        assert collected["answers"] == 5 and collected["failed_lines"] == 1

        # The re-run validates the 5 collected answers without calls and batches the failed one again.
        second = run_cli("run", str(pipeline), "--batch", "--json")
        s2 = json.loads(second.stdout)
        assert s2["cached"] == 5 and s2["calls"] == 0 and s2["deferred"] == 1 and s2["observations"] == 5
        assert len(server.batch_requests) == 7
        # While a batch runs, a realtime run does not pay for its requests again.
        waiting = json.loads(run_cli("run", str(pipeline), "--json").stdout)
        assert waiting["calls"] == 0 and waiting["deferred"] == 1 and waiting["batch_answers"] == 0
        # Once it is done, a realtime run collects it and needs no call at all.
        third = json.loads(run_cli("run", str(pipeline), "--json").stdout)
        assert third["batch_answers"] == 1 and third["calls"] == 0 and third["observations"] == 1
        assert server.count() == 0
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM observations").fetchone() == (6,)
        assert con.execute("SELECT DISTINCT status FROM batches").fetchall() == [("collected",)]


def test_batch_files_respect_the_limits() -> None:
    pending = [
        PendingRequest(
            ModelRequest(
                job="j",
                model="m",
                prompt_name="p",
                prompt_hash="h",
                messages=({"role": "user", "content": f"request {i} " + "x" * 100},),
                response_format=None,
                params={},
            ),
            chunk_id=None,
            attempt=0,
        )
        for i in range(25)
    ]
    by_count = batch_files(pending, max_requests=10)
    assert [len(held) for _, held in by_count] == [10, 10, 5]
    by_size = batch_files(pending, max_bytes=1000)
    assert all(len(content) <= 1000 for content, _ in by_size) and sum(len(h) for _, h in by_size) == 25
    for content, held in by_count:
        lines = [json.loads(line) for line in content.decode().splitlines()]
        assert [line["custom_id"] for line in lines] == [p.request.request_hash() for p in held]
        assert all(line["url"] == "/v1/chat/completions" and line["method"] == "POST" for line in lines)


def test_batch_with_heuristic_is_a_usage_error(isolated: Path) -> None:
    pipeline = write_pipeline(isolated, model="heuristic")
    result = run_cli("run", str(pipeline), "--batch")
    assert result.exit_code == 2 and "--batch needs a real endpoint" in result.output
