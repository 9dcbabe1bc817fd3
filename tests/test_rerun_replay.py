"""A re-run replays what validating each cached answer yielded (`stages/replay.py`)
instead of parsing and validating it again, and stores exactly what validating again
stores; a changed answer, validator or prompt is validated again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import extract.stages.extract as extract_stage
from extract.models import ModelReply, ModelRequest
from extract.schemas import TriageAnswer
from extract.store.db import open_database
from extract.store.outcomes import stored_outcomes
from extract.store.responses import ReplyReader, save_reply

from fake_openai import FakeOpenAI, Reply
from pipelines import FIXTURE_DUMPS, PROJECT_ROOT, PROMPTS, chunk_data, paper_list, run_cli, write_pipeline

NOT_JSON = "this is not json {"


def _lines(data: str) -> list[str]:
    return [s for s in (line.strip() for line in data.splitlines()) if len(s) >= 20 and not s.startswith("http")]


def _claim(text: str, quote: str, citations: list[str] | None = None, domain: str = "training") -> dict[str, Any]:
    return {
        "text": text,
        "stance": "consensus",
        "domain": domain,
        "tags": ["T", "Bench"],
        "topic": None,
        "citations": citations or [],
        "quote": quote,
    }


def responder() -> Callable[[dict[str, Any]], Reply | str]:
    """Answers of every kind, fixed by the chunk's text: observations (one or two, with
    known and unknown citations), per-claim rejects of several reasons, an answer that is
    not JSON until re-asked, and one answer cut off at the token limit."""
    cut = [False]

    def answer(request: dict[str, Any]) -> Reply | str:
        data = chunk_data(request)
        reask = any(m["role"] == "assistant" for m in request["messages"])
        if len(data) > 600 and not cut[0]:
            cut[0] = True
            return Reply(content='{"claims": [{"text": "cut of', finish_reason="length")
        kind = int(hashlib.sha256(data.encode()).hexdigest(), 16) % 4
        if kind == 1 and not reask:
            return NOT_JSON
        lines = _lines(data) or [data.strip()[:120]]
        claims = [_claim(f"The dump reports that {lines[0][:60]}", lines[0][:120], ["2307.08691", "Nobody1999Made"])]
        if kind in (0, 2):
            claims.append(_claim("A claim no quote grounds.", "Transformers were invented in 1850 by engineers."))
        if kind == 2 and len(lines) > 1:
            claims.append(_claim(f"Also: {lines[1][:60]}", lines[1][:120]))
        if kind == 3:
            claims.append(_claim("https://example.org/a", lines[0][:120]))
            claims.append(_claim("A claim in no domain at all.", lines[0][:120], domain="astrology"))
        return json.dumps({"claims": claims})

    return answer


def inputs(home: Path) -> Path:
    dumps = paper_list(home, 12)
    for path in FIXTURE_DUMPS.iterdir():
        shutil.copy(path, dumps / path.name)
    paragraphs = [
        f"Finding {i}: method {i} improves accuracy by {i}% over the baseline on task {i}." for i in range(12)
    ]
    (dumps / "long.md").write_text("## Long paper\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return dumps


@pytest.fixture
def endpoint(isolated: Path) -> Iterator[tuple[Path, FakeOpenAI]]:
    """A pipeline over every kind of answer, and its endpoint."""
    with FakeOpenAI(responder()) as server:
        yield write_pipeline(isolated, base_url=server.base_url, inputs=[inputs(isolated)]), server


def run(pipeline: Path, db: Path, *args: str) -> dict[str, Any]:
    result = run_cli("run", str(pipeline), "--json", "--quiet", "--db", str(db), *args)
    assert result.exit_code in (0, 1), result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    """What a run's summary says, but for which run and database it was."""
    return {k: v for k, v in summary.items() if k not in ("run_id", "db")}


def state(db: Path, run_id: str) -> dict[str, Any]:
    """Everything a run stores that a user sees: the run's output and every table it writes."""
    with duckdb.connect(str(db), read_only=True) as con:

        def rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
            return con.execute(sql, list(params)).fetchall()

        return {
            "observations": rows("SELECT * FROM observations ORDER BY obs_id"),
            "citations": rows("SELECT * FROM citations ORDER BY obs_id, raw"),
            "claims": rows("SELECT * FROM claims ORDER BY claim_id"),
            "rejects": rows("SELECT * FROM rejects ORDER BY reject_id"),
            "output": rows("SELECT obs_id FROM run_observations WHERE run_id = ? ORDER BY obs_id", run_id),
            "links": rows("SELECT count(*) FROM run_observations"),
            "runs": rows("SELECT count(*), count(DISTINCT status) FROM runs"),
            "responses": rows("SELECT count(*) FROM responses"),
        }


def outcome_count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM answer_outcomes").fetchone()
    return int(row[0]) if row else 0


class Parses:
    """Counts the answers parsed into the schema (what a replay skips)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = extract_stage.parse_triage

        def counted(raw: str) -> TriageAnswer:
            answer = real(raw)
            self.count += 1
            return answer

        monkeypatch.setattr(extract_stage, "parse_triage", counted)

    def since(self) -> int:
        n, self.count = self.count, 0
        return n


def no_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs as before replays existed: every answer validated, no outcome recorded."""
    monkeypatch.setattr("extract.pipeline.run.validator_key", lambda pipeline: None)


def test_a_replayed_rerun_stores_what_validating_again_stores(
    isolated: Path, endpoint: tuple[Path, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, server = endpoint
    parses = Parses(monkeypatch)
    first_db = isolated / "first.duckdb"
    first = run(pipeline, first_db)
    calls = server.count()
    answers = parses.since()
    assert first["calls"] == calls > first["chunks"] > 12
    assert first["reasks"] > 0 and first["splits"] == 1 and first["observations"] > first["chunks"]
    assert set(first["reject_reasons"]) == {"quote_not_found", "not_a_claim", "unknown_domain"}
    assert outcome_count(first_db) == answers  # one per answer parsed

    replayed_db, validated_db = isolated / "replayed.duckdb", isolated / "validated.duckdb"
    shutil.copy(first_db, replayed_db)
    shutil.copy(first_db, validated_db)
    replayed = run(pipeline, replayed_db)
    # Only the split halves (not among the run's chunks) are parsed again.
    assert parses.since() == 2
    with monkeypatch.context() as m:
        no_replays(m)
        validated = run(pipeline, validated_db)
    assert parses.since() == answers
    assert server.count() == calls  # neither asked anything

    assert replayed["calls"] == 0 and replayed["cached"] == calls and replayed["observations"] == 0
    assert counts(replayed) == counts(validated)
    for key in ("chunks", "reasks", "splits", "rejects", "reject_reasons"):
        assert replayed[key] == first[key], key
    assert state(replayed_db, replayed["run_id"]) == state(validated_db, validated["run_id"])
    assert state(replayed_db, replayed["run_id"])["output"] == state(first_db, first["run_id"])["output"]
    assert outcome_count(replayed_db) == answers  # nothing new to record


def test_a_database_without_outcomes_is_validated_once_then_replayed(
    isolated: Path, endpoint: tuple[Path, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = endpoint
    parses = Parses(monkeypatch)
    db = isolated / "old.duckdb"
    with monkeypatch.context() as m:
        no_replays(m)
        first = run(pipeline, db)
    answers = parses.since()
    assert outcome_count(db) == 0
    second = run(pipeline, db)
    assert parses.since() == answers and outcome_count(db) == answers
    before = state(db, second["run_id"])
    third = run(pipeline, db)
    assert parses.since() == 2
    assert counts(third) == counts(second)
    after = state(db, third["run_id"])
    assert after["output"] == before["output"] == state(db, first["run_id"])["output"]
    assert {k: v for k, v in after.items() if k not in ("links", "runs")} == {
        k: v for k, v in before.items() if k not in ("links", "runs")
    }


def test_a_changed_validator_answer_or_prompt_is_validated_again(
    isolated: Path, endpoint: tuple[Path, FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, server = endpoint
    parses = Parses(monkeypatch)
    db = isolated / "claims.duckdb"
    first = run(pipeline, db)
    answers = parses.since()

    # A stored answer whose text differs from the one validated is validated again.
    with duckdb.connect(str(db)) as con:
        request_hash, obs_ids = con.execute(
            "SELECT request_hash, list(obs_id ORDER BY obs_id) FROM observations"
            " WHERE quote LIKE 'Paper %'"  # a chunk of the run, not a split half
            " AND request_hash NOT IN (SELECT request_hash FROM rejects WHERE request_hash IS NOT NULL)"
            " GROUP BY request_hash ORDER BY request_hash LIMIT 1"
        ).fetchone() or ("", [])
        con.execute("UPDATE responses SET raw_text = '{\"claims\": []}' WHERE request_hash = ?", [request_hash])
    edited = run(pipeline, db)
    assert parses.since() == 2 + 1
    assert edited["rejects"] == first["rejects"]
    output = {row[0] for row in state(db, edited["run_id"])["output"]}
    assert output == {row[0] for row in state(db, first["run_id"])["output"]} - set(obs_ids)

    # Validation that rejects every claim: under the same key the stored outcomes are
    # replayed (only the split halves, not among the run's chunks, are validated); under
    # another key (the code changed) every answer is.
    monkeypatch.setattr(extract_stage, "claim_problem", lambda claim, text, domains: ("patched", "every claim"))
    same_key = run(pipeline, db)
    assert parses.since() == 2
    assert set(same_key["reject_reasons"]) == {*first["reject_reasons"], "patched"}
    monkeypatch.setattr("extract.stages.replay.code_version", lambda: "another validator")
    changed = run(pipeline, db)
    assert parses.since() == answers
    assert set(changed["reject_reasons"]) == {"patched"}
    assert changed["rejects"] > same_key["rejects"] > first["rejects"]
    monkeypatch.undo()
    parses = Parses(monkeypatch)

    # A changed prompt asks again (new requests), and its answers are validated.
    prompts = isolated / "prompts"
    shutil.copytree(PROMPTS, prompts)
    template = prompts / "ref_triage.md"
    template.write_text(template.read_text(encoding="utf-8").replace("=== user ===", "Be brief.\n=== user ==="))
    pipeline.write_text(pipeline.read_text().replace(json.dumps(str(PROMPTS)), json.dumps(str(prompts))))
    calls = server.count()
    reprompted = run(pipeline, db)
    assert reprompted["calls"] == server.count() - calls > 0 and reprompted["cached"] == 0
    assert parses.since() == reprompted["chunks"]  # the endpoint cuts off no answer any more: no halves


def test_topic_reports_and_a_topic_run_store_what_validating_again_stores(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline demo (heuristic model, topic reports) and a `run --topic`, which
    neither replays nor records outcomes."""
    pipeline = PROJECT_ROOT / "pipelines" / "demo.toml"
    first_db = isolated / "first.duckdb"
    run(pipeline, first_db)
    recorded = outcome_count(first_db)
    assert recorded > 0
    for args in ((), ("--topic", "attention-kernels")):
        replayed_db, validated_db = isolated / "replayed.duckdb", isolated / "validated.duckdb"
        shutil.copy(first_db, replayed_db)
        shutil.copy(first_db, validated_db)
        replayed = run(pipeline, replayed_db, *args)
        with monkeypatch.context() as m:
            no_replays(m)
            validated = run(pipeline, validated_db, *args)
        assert replayed["report_statements"] > 0
        assert counts(replayed) == counts(validated)
        assert state(replayed_db, replayed["run_id"]) == state(validated_db, validated["run_id"])
        assert outcome_count(replayed_db) == recorded


def test_outcomes_whose_rows_are_not_all_stored_are_not_replayed(isolated: Path) -> None:
    with open_database(isolated / "o.duckdb") as db:
        db.con.execute(
            "INSERT INTO rejects (reject_id, run_id, job, reason, detail, raw_output, created_at)"
            " VALUES ('x-1', 'r', 'ref_triage', 'quote_not_found', '', '', now())"
        )
        rows = [
            ("h1", "k-1", [], ["x-1"]),  # its reject is stored
            ("h2", "k-1", ["o-missing"], []),  # its observation is not
            ("h3", "k-2", [], ["x-missing"]),  # its reject is not
            ("h4", "k-3", [], []),  # not one of the chunks asked for
        ]
        for request_hash, chunk_id, obs, rejects in rows:
            db.con.execute(
                "INSERT INTO answer_outcomes VALUES (?, 0, ?, 'v', 'sha', ?, ?, ?, now())",
                [request_hash, chunk_id, obs, rejects, ["quote_not_found"] * len(rejects)],
            )
        found = stored_outcomes(db, "v", ["k-1", "k-2"])
        assert set(found) == {("h1", 0, "k-1", "sha")}
        assert found["h1", 0, "k-1", "sha"].reject_reasons == ("quote_not_found",)
        assert stored_outcomes(db, "another", ["k-1"]) == {}


def test_cache_lookups_made_together_share_one_query(isolated: Path) -> None:
    def request(i: int) -> ModelRequest:
        return ModelRequest("ref_triage", "m", "p", "h", ({"role": "user", "content": str(i)},), None, {})

    def reply(text: str, answer_no: int = 0) -> ModelReply:
        return ModelReply(text, "m-1", "stop", 1, 1, 1, answer_no=answer_no)

    with open_database(isolated / "r.duckdb") as db:
        for i in range(40):
            save_reply(db, request(i), reply(f"a{i}"), run_id="r", chunk_id=f"k-{i}", attempt=0)
        save_reply(db, request(3), reply("newer", 1), run_id="r", chunk_id="k-3", attempt=0)
        hashes = [request(i).request_hash() for i in range(41)]

        async def look_up(reader: ReplyReader) -> list[ModelReply | None]:
            return await asyncio.gather(*(reader.get(h) for h in hashes))

        reader = ReplyReader(db)
        found = asyncio.run(look_up(reader))
        assert reader.queries == 1
        assert [r.raw_text if r else None for r in found] == ["newer" if i == 3 else f"a{i}" for i in range(40)] + [
            None
        ]
        reader.close()

        preloaded = ReplyReader(db)
        preloaded.preload([f"k-{i}" for i in range(20)], "m", "h")
        found = asyncio.run(look_up(preloaded))
        assert preloaded.queries == 2  # the preload, then one for the other 21
        assert found[3] is not None and found[3].raw_text == "newer" and found[3].answer_no == 1
        assert found[39] is not None and found[39].raw_text == "a39" and found[40] is None
        preloaded.close()
