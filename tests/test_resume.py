"""A run killed with SIGKILL resumes: nothing answered is asked again, nothing is stored twice."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extract.errors import Terminated
from extract.pipeline import run as pipeline_run

from fake_openai import FakeOpenAI, Reply
from pipelines import chunk_data, grounded_answer, paper_list, run_cli, write_pipeline


def _answer(request: dict[str, Any]) -> Reply:
    return Reply(content=grounded_answer(request), delay=0.05)


def _start_run(
    pipeline: Path, cwd: Path, server: FakeOpenAI, *, after_calls: int, output: int = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """`extract run` in a child process; returns once the server has seen `after_calls`
    requests (or the run ended), so the caller can interrupt it mid-run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "extract", "run", str(pipeline), "--quiet"],
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=output,
        text=True,
    )
    deadline = time.monotonic() + 30
    while server.count() < after_calls and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc


def _fault_free_observations(isolated: Path, dumps: Path) -> list[tuple[Any, ...]]:
    """The observations of the same inputs run once, with no fault and no kill."""
    clean = isolated / "clean"
    clean.mkdir()
    with FakeOpenAI(_answer) as server:
        pipeline = write_pipeline(clean, base_url=server.base_url, inputs=[dumps])
        assert run_cli("run", str(pipeline), "--db", str(clean / "c.duckdb")).exit_code == 0
    return _observations(clean / "c.duckdb")


def _observations(db: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT obs_id, claim_id, char_start, char_end FROM observations ORDER BY obs_id").fetchall()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(isolated: Path) -> None:
    dumps = paper_list(isolated, 40)
    with FakeOpenAI(_answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        proc = _start_run(pipeline, isolated, server, after_calls=12)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first_run = [chunk_data(r) for r in server.requests]
        assert 12 <= len(first_run) < 40, "the kill must land mid-run"

        db = isolated / "claims.duckdb"
        with duckdb.connect(str(db), read_only=True) as con:
            stored = {row[0] for row in con.execute("SELECT request_json FROM responses").fetchall()}
        stored_chunks = {chunk_data(json.loads(r)) for r in stored}
        assert stored_chunks, "some answers were committed before the kill"

        result = run_cli("run", str(pipeline), "--json")
        assert result.exit_code == 0, result.output
        resumed = [chunk_data(r) for r in server.requests[len(first_run) :]]
    # No chunk whose answer was stored is requested again.
    assert not stored_chunks & set(resumed)
    assert len(resumed) == 40 - len(stored_chunks)

    with duckdb.connect(str(db), read_only=True) as con:
        statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]
        dupes = con.execute("SELECT count(*) - count(DISTINCT obs_id) FROM observations").fetchone()
    assert statuses == ["interrupted", "done"]
    assert dupes == (0,)

    # The same observations as a run that was never interrupted.
    assert _observations(db) == _fault_free_observations(isolated, dumps)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(isolated: Path) -> None:
    dumps = paper_list(isolated, 30)
    with FakeOpenAI(_answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps])
        proc = _start_run(pipeline, isolated, server, after_calls=8, output=subprocess.PIPE)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        asked = server.count()
        assert proc.returncode == 130
        assert "Traceback" not in err and "run the same command again to resume" in err
        db = isolated / "claims.duckdb"
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
            stored = con.execute("SELECT count(*) FROM responses").fetchone()
        assert stored is not None and 0 < stored[0] <= asked

        resumed = json.loads(run_cli("run", str(pipeline), "--json").stdout)
    # Every answer stored before Ctrl-C is used without asking again.
    assert resumed["calls"] == 30 - stored[0] and resumed["cached"] == stored[0]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM observations").fetchone() == (30,)


@pytest.mark.slow
def test_chaos_with_kills_ends_like_a_fault_free_run(isolated: Path) -> None:
    """Random 429/5xx/slow/dropped answers and SIGKILLs: the final database holds one
    answer per chunk and the same observations as a run without faults."""
    rng = random.Random(7)
    dumps = paper_list(isolated, 30)

    def chaos(request: dict[str, Any]) -> Reply:
        roll = rng.random()
        if roll < 0.10:
            return Reply(status=429, content="slow down", headers={"retry-after-ms": "10"})
        if roll < 0.20:
            return Reply(status=rng.choice([500, 502, 503]), content="boom")
        if roll < 0.25:
            return Reply(drop=True)
        if roll < 0.30:
            return Reply(content="{}", delay=5.0)  # past the client's timeout
        return _answer(request)

    with FakeOpenAI(chaos) as server:
        pipeline = write_pipeline(
            isolated, base_url=server.base_url, inputs=[dumps], model_extra="timeout = 1.0\nmax_retries = 8"
        )
        pipeline.write_text(pipeline.read_text().replace("max_retries = 0\n", ""))
        db = isolated / "claims.duckdb"
        for kill_after in (5, 12, 20):
            proc = _start_run(pipeline, isolated, server, after_calls=kill_after)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for _ in range(5):  # resume until done
            result = run_cli("run", str(pipeline), "--json")
            if result.exit_code == 0:
                break
        assert result.exit_code == 0, result.output

    with duckdb.connect(str(db), read_only=True) as con:
        per_chunk = con.execute("SELECT chunk_id, count(*) FROM responses GROUP BY chunk_id").fetchall()
        dupes = con.execute("SELECT count(*) - count(DISTINCT obs_id) FROM observations").fetchone()
    assert len(per_chunk) == 30 and all(n == 1 for _, n in per_chunk)
    assert dupes == (0,)

    assert _observations(db) == _fault_free_observations(isolated, dumps)


def test_an_interrupt_inside_a_chunks_task_is_not_reported_again_at_exit(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM (or Ctrl-C) lands in whatever task is running: it ends the run, which the
    command reports once; the task keeps it as its exception, which asyncio would print
    as a traceback "never retrieved" when the task is collected, after that report."""

    tasks: list[asyncio.Future[None]] = []

    async def run() -> None:
        asyncio.get_running_loop().set_exception_handler(pipeline_run._quiet_interrupts)

        async def chunk() -> None:
            raise Terminated(signal.SIGTERM)

        tasks.append(asyncio.ensure_future(chunk()))
        await asyncio.sleep(1)

    with pytest.raises(Terminated):
        asyncio.run(run())
    tasks.clear()
    gc.collect()
    assert "Terminated" not in capsys.readouterr().err + caplog.text
