"""Topic reports: headline claims and camps with stance and counter, as observations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extract.cli.run import BarProgress
from extract.config import load_pipeline
from extract.pipeline import RunOptions, run_pipeline

from fake_openai import FakeOpenAI
from pipelines import PROJECT_ROOT, grounded_answer, run_cli, write_pipeline

TOPICS = """
[[topics]]
slug = "attention-kernels"
title = "Attention kernels"
keywords = ["paper"]
"""


ORDINALS = ("zero", "one", "two", "three", "four")


def _report(request: dict[str, Any]) -> str:
    return json.dumps(
        {
            "headline_claims": [{"text": "Kernels matter.", "evidence": "Both papers agree [Flash].", "citations": []}],
            "positions": [
                {
                    "camp": "fused kernels are enough",
                    "stance": {
                        "text": "Fusion suffices.",
                        "evidence": "See the paper.",
                        "citations": ["KEY", "Bogus2099Key"],
                    },
                    "counter": {"text": "Fusion is not enough.", "evidence": "Hardware changes.", "citations": []},
                }
            ],
        }
    )


def _run_with_a_report(isolated: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A run over one paper with a topic report (a headline, one camp's stance and
    counter) from a fake endpoint: the citation keys the triage request listed, and
    the report requests."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "a.md").write_text("## Flash\nhttps://arxiv.org/abs/2307.08691\nThe paper shows a 2x speedup.\n")
    keys: list[str] = []

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            return _report(request).replace("KEY", keys[0])
        keys.extend(
            line.split(" | ")[0][2:]
            for line in request["messages"][1]["content"].splitlines()
            if line.startswith("- ") and " | " in line
        )
        return grounded_answer(request)

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=TOPICS)
        result = run_cli("run", str(pipeline), "--json")
        report_requests = [r for r in server.requests if r["response_format"]["json_schema"]["name"] == "topic_report"]
    assert result.exit_code == 0, result.output
    assert len(report_requests) == 1
    return keys, report_requests


def test_reports_become_linked_observations(isolated: Path) -> None:
    keys, report_requests = _run_with_a_report(isolated)
    schema = report_requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["positions"]["maxItems"] == 4
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT field_path, stance, camp, tags, citations, flags, obs_id, parent_obs_id FROM observations"
            " WHERE job = 'topic_report' ORDER BY field_path"
        ).fetchall()
    assert [r[:3] for r in rows] == [
        ("report.headline_claims", "consensus", None),
        ("report.positions[0].counter", "contested", "fused kernels are enough"),
        ("report.positions[0].stance", "contested", "fused kernels are enough"),
    ]
    _headline, counter, stance = rows
    assert all(r[3] == ["Attention kernels"] for r in rows)
    assert stance[4] == [keys[0], "2307.08691"]  # the key, resolved to its record's arXiv id
    assert stance[5] == ["unknown_citation:Bogus2099Key"]  # flagged and dropped
    assert counter[7] == stance[6]


def _claims_and_links(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        claims = con.execute(
            "SELECT claim_id, text, stance, domain, tags, topics, citations, n_obs FROM claims ORDER BY claim_id"
        ).fetchall()
        links = con.execute(
            "SELECT o.field_path, o.claim_id, p.field_path, p.claim_id FROM observations o"
            " JOIN observations p ON p.obs_id = o.parent_obs_id ORDER BY o.obs_id"
        ).fetchall()
    return claims, links


def test_an_export_imported_elsewhere_keeps_its_claims_and_links(isolated: Path) -> None:
    _run_with_a_report(isolated)
    exported = isolated / "observations.jsonl"
    assert run_cli("export", "observations", "--out", str(exported)).exit_code == 0
    original = _claims_and_links(isolated / "claims.duckdb")
    assert original[1] == [
        ("report.positions[0].counter", original[1][0][1], "report.positions[0].stance", original[1][0][3])
    ]

    other = isolated / "other.duckdb"
    imported = json.loads(run_cli("import", str(exported), "--db", str(other), "--json").stdout)
    assert imported["observations"] == len(exported.read_text(encoding="utf-8").splitlines())
    # The same claims under the same ids, with the same counts, text and citations, and
    # the counter still answers its stance.
    assert _claims_and_links(other) == original

    shown = run_cli("show", original[1][0][1], "--db", str(other)).output
    assert "imported: no request or raw answer here" in shown and "None" not in shown

    # Into its own database, an export adds nothing: each line is an observation it holds.
    again = json.loads(run_cli("import", str(exported), "--json").stdout)
    assert again["observations"] == 0 and again["duplicates"] == imported["observations"]
    assert _claims_and_links(isolated / "claims.duckdb") == original


def test_heuristic_demo_writes_extractive_reports(isolated: Path) -> None:
    assert run_cli("run", str(PROJECT_ROOT / "pipelines" / "demo.toml")).exit_code == 0
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        reports = con.execute("SELECT topic, text FROM observations WHERE job = 'topic_report'").fetchall()
        triage = {r[0] for r in con.execute("SELECT text FROM observations WHERE job = 'ref_triage'").fetchall()}
    assert {t for t, _ in reports} == {"attention-kernels", "web-vs-curated-data"}
    assert all(text in triage for _, text in reports)  # chosen from the topic's claims, never invented


def _two_topics(isolated: Path) -> tuple[Path, str]:
    """A dump with one record on kernels and one on data, and those two topics."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "a.md").write_text(
        "## Kernels\nThe fused kernel gives a 2x speedup on GPUs.\n\n"
        "## Data\nFiltered web data beats curated corpora by 3 points.\n",
        encoding="utf-8",
    )
    topics = (
        '[[topics]]\nslug = "kernels"\nkeywords = ["kernel"]\n\n[[topics]]\nslug = "data"\nkeywords = ["web data"]\n'
    )
    return dumps, topics


@pytest.mark.slow
def test_rerun_of_one_topic_leaves_the_others_untouched(isolated: Path) -> None:
    dumps, topics = _two_topics(isolated)

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            return json.dumps(
                {
                    "headline_claims": [{"text": f"Headline by {request['model']}.", "evidence": "e", "citations": []}],
                    "positions": [],
                }
            )
        return grounded_answer(request)

    def rows(topic: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
            return con.execute("SELECT * FROM observations WHERE topic = ? ORDER BY obs_id", [topic]).fetchall()

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=topics)
        assert run_cli("run", str(pipeline)).exit_code == 0
        before_data, before_kernels = rows("data"), rows("kernels")
        n = server.count()
        result = run_cli("run", str(pipeline), "--topic", "kernels", "--model", "model-b", "--json")
        assert result.exit_code == 0, result.output
        assert server.count() == n + 2  # the topic's one chunk and its report, nothing else
        assert {r["model"] for r in server.requests[n:]} == {"model-b"}
    assert rows("data") == before_data
    assert len(rows("kernels")) == len(before_kernels) + 2  # old rows kept for audit, new ones added

    def texts(*args: str) -> set[str]:
        return {c["text"] for c in json.loads(run_cli("claims", "--topic", "kernels", "--json", *args).stdout)}

    current, everything = texts(), texts("--superseded")
    assert "Headline by model-b." in current and "Headline by gpt-test." not in current  # the latest runs
    assert "Headline by gpt-test." in everything and current < everything
    old = next(
        c
        for c in json.loads(run_cli("claims", "--superseded", "--json").stdout)
        if c["text"] == "Headline by gpt-test."
    )
    assert json.loads(run_cli("show", old["claim_id"], "--json").stdout)["observations"]  # history stays
    overview = {t["slug"]: t for t in json.loads(run_cli("topics", str(pipeline), "--json").stdout)}
    assert overview["kernels"]["claims"] == len(current)  # the claims view's count, superseded ones aside
    assert run_cli("run", str(pipeline), "--topic", "nope").exit_code == 2


@pytest.mark.slow
def test_fresh_asks_again_and_the_newest_answer_wins(isolated: Path) -> None:
    dumps, topics = _two_topics(isolated)
    reports = 0

    def answer(request: dict[str, Any]) -> str:
        nonlocal reports
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            reports += 1
            # Told apart by a word: a number no record states would be an unsupported_number reject.
            headline = {"text": f"Headline {ORDINALS[reports]}.", "evidence": "e", "citations": []}
            return json.dumps({"headline_claims": [headline], "positions": []})
        return grounded_answer(request)

    def query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=topics)
        assert run_cli("run", str(pipeline)).exit_code == 0
        data_before = query("SELECT * FROM observations WHERE topic = 'data' ORDER BY obs_id")
        planned = json.loads(run_cli("plan", str(pipeline), "--fresh", "--json").stdout)
        assert (planned["calls"], planned["cached"]) == (2, 0)  # both chunks, cache ignored
        n = server.count()
        result = run_cli("run", str(pipeline), "--topic", "kernels", "--fresh", "--json")
        assert result.exit_code == 0, result.output
        assert server.count() == n + 2  # the same requests, asked again: the chunk and the report
        n = server.count()
        assert run_cli("run", str(pipeline), "--topic", "kernels", "--json").exit_code == 0
        assert server.count() == n  # without --fresh the cache answers, with the newest answers
        assert run_cli("run", str(pipeline), "--fresh", "--batch").exit_code == 2

    assert query("SELECT * FROM observations WHERE topic = 'data' ORDER BY obs_id") == data_before
    answers = query("SELECT job, answer_no FROM responses ORDER BY job, answer_no")
    assert answers == [
        ("ref_triage", 0),
        ("ref_triage", 0),
        ("ref_triage", 1),
        ("topic_report", 0),
        ("topic_report", 0),
        ("topic_report", 1),
    ]
    # The fresh triage answer is the same claim again: a new observation, read from answer 1, on the same claim.
    triage = query(
        "SELECT claim_id, answer_no FROM observations WHERE topic = 'kernels' AND job = 'ref_triage' ORDER BY answer_no"
    )
    assert [a for _, a in triage] == [0, 1] and triage[0][0] == triage[1][0]
    current = {c["text"] for c in json.loads(run_cli("claims", "--topic", "kernels", "--json").stdout)}
    assert "Headline three." in current and "Headline one." not in current
    # The replaced report's headline is recomputed too: no current observation is left to count.
    ((replaced,),) = query(
        "SELECT claim_id FROM observations WHERE topic = 'kernels' AND job = 'topic_report' AND answer_no = 0"
    )
    assert json.loads(run_cli("show", replaced, "--json").stdout)["n_obs"] == 0
    # `show` ties each observation to the answer it was read from.
    shown = json.loads(run_cli("show", triage[0][0], "--json").stdout)["observations"]
    assert sorted(o["answer_no"] for o in shown) == [0, 1]


@pytest.mark.slow
def test_a_cached_topic_rerun_brings_back_the_answers_it_replays(isolated: Path) -> None:
    dumps, topics = _two_topics(isolated)

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            return json.dumps({"headline_claims": [], "positions": []})
        claims = json.loads(grounded_answer(request))
        if request["model"] == "model-b":  # a claim of its own, which cannot merge with the first model's
            claims["claims"][0]["text"] = "Zebras and narwhals (said by model-b)"
        else:
            claims["claims"][0]["text"] += f" (said by {request['model']})"
        return json.dumps(claims)

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=topics)
        assert run_cli("run", str(pipeline)).exit_code == 0
        assert run_cli("run", str(pipeline), "--topic", "kernels", "--model", "model-b").exit_code == 0
        n = server.count()
        assert run_cli("run", str(pipeline), "--topic", "kernels").exit_code == 0  # back to the first model
        asked = [r["response_format"]["json_schema"]["name"] for r in server.requests[n:]]
        assert "ref_triage" not in asked  # the triage answers came from the cache

    def current(topic: str) -> list[str]:
        return [
            c["text"].split("(said by ")[1] for c in json.loads(run_cli("claims", "--topic", topic, "--json").stdout)
        ]

    assert current("kernels") == ["gpt-test)"]  # the replayed answers are current again, not model-b's
    assert current("data") == ["gpt-test)"]


@pytest.mark.slow
def test_a_topic_run_counts_what_it_reruns(isolated: Path) -> None:
    """The summary of `run --topic` counts the topic's documents, records and chunks, not the input's."""
    dumps, topics = _two_topics(isolated)
    more = "## More data\nDeduplicated web data adds 2 points over raw crawls.\n"
    (dumps / "b.md").write_text(more, encoding="utf-8")
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic", extra=topics)

    def counts(*args: str) -> tuple[int, int, int]:
        result = run_cli("run", str(pipeline), "--json", *args)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        return summary["documents"], summary["records"], summary["chunks"]

    assert counts() == (2, 3, 3)
    assert counts("--topic", "kernels") == (1, 1, 1)  # a.md's kernel record
    assert counts("--topic", "data", "--fresh") == (2, 2, 2)  # a.md's and b.md's data records
    text = run_cli("run", str(pipeline), "--topic", "kernels").stdout
    assert "  documents 1  records 1  chunks 1" in text.splitlines()


def test_plan_with_a_topic_counts_what_run_with_it_would_do(isolated: Path) -> None:
    """`plan --topic` narrows to the topic's records as `run --topic` does, before and after a run."""
    dumps, topics = _two_topics(isolated)
    (dumps / "b.md").write_text(
        "## More data\nDeduplicated web data adds 2 points over raw crawls.\n", encoding="utf-8"
    )
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic", extra=topics)

    def summary(command: str, *args: str) -> dict[str, Any]:
        result = run_cli(command, str(pipeline), "--json", *args)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    def counted(s: dict[str, Any]) -> tuple[int, int, int]:
        return s["documents"], s["records"], s["chunks"]

    planned = summary("plan", "--topic", "data")  # no database yet: the filters alone
    assert counted(planned) == (2, 2, 2) and planned["calls"] == 2
    assert counted(summary("plan", "--topic", "data")) == counted(summary("run", "--topic", "data"))
    again = summary("plan", "--topic", "data")
    assert (again["calls"], again["cached"]) == (0, 2)
    assert summary("plan", "--topic", "data", "--fresh")["calls"] == 2
    unknown = run_cli("plan", str(pipeline), "--topic", "nope")
    assert unknown.exit_code == 2 and "unknown topic 'nope'" in unknown.output


def test_plan_with_a_topic_and_a_limit_predicts_the_runs_work(isolated: Path) -> None:
    """`plan --topic --limit` counts and asks for the chunks `run --topic --limit` works on:
    the limit cuts the topic's chunks (not the input's), before and after a run."""
    dumps, topics = _two_topics(isolated)
    (dumps / "b.md").write_text(
        "## More data\nDeduplicated web data adds 2 points over raw crawls.\n", encoding="utf-8"
    )
    # No topic reports: a run's calls are then its chunks' (a plan counts no offline report).
    extra = topics + "\n[report]\nenabled = false\n"
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic", extra=extra)

    def summary(command: str, *args: str) -> dict[str, Any]:
        result = run_cli(command, str(pipeline), "--json", "--topic", "data", *args)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    def planned(*args: str) -> tuple[int, ...]:
        s = summary("plan", *args)
        return s["documents"], s["records"], s["chunks"], s["calls"], s["cached"]

    def ran(*args: str) -> tuple[int, ...]:
        s = summary("run", *args)
        return s["documents"], s["records"], s["chunks"], s["calls"], s["cached"]

    first = planned("--limit", "1")
    assert first == (2, 2, 1, 1, 0)  # the topic's inputs; one chunk asked for
    assert ran("--limit", "1") == first
    second = planned("--limit", "2")
    assert second[:3] == (2, 2, 2) and second[4] == 1  # the first chunk is answered, the second is not
    assert ran("--limit", "2") == second
    assert ran("--limit", "5") == planned("--limit", "5") == (2, 2, 2, 0, 2)


@pytest.mark.slow
def test_the_progress_bar_ends_at_its_total_with_the_runs_calls(isolated: Path) -> None:
    """The bar counts each chunk, then each topic report, and its last counters are the summary's."""
    pipeline = load_pipeline(PROJECT_ROOT / "pipelines" / "demo.toml")
    topics = len(pipeline.topics)
    for options, reports in ((RunOptions(), topics), (RunOptions(topic="attention-kernels", fresh=True), 1)):
        bar = BarProgress(quiet=False)
        try:
            summary = run_pipeline(pipeline, replace(options, db=isolated / "claims.duckdb"), bar)
        finally:
            bar.stop()
        assert bar.bar is not None and bar.task is not None
        task = bar.bar.tasks[bar.task]
        assert summary.report_statements > 0 and summary.calls > summary.chunks  # the reports made calls
        assert (task.completed, task.total) == (summary.chunks + reports, summary.chunks + reports)
        assert task.fields["info"].startswith(f"calls {summary.calls} cached {summary.cached} ")


@pytest.mark.slow
def test_a_plain_run_after_a_fresh_topic_rerun_counts_each_claim_once(isolated: Path) -> None:
    """One chunk states a claim of each topic. `run --topic kernels --fresh` asks it again
    and keeps only the kernels claim; the next plain run replays that newer answer, and
    its data claim then replaces the older answer's rather than standing beside it."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "a.md").write_text(
        "## Both\nThe fused kernel gives a 2x speedup on GPUs. Filtered web data beats curated corpora.\n",
        encoding="utf-8",
    )
    topics = '[[topics]]\nslug = "kernels"\nkeywords = ["kernel"]\n\n[[topics]]\nslug = "data"\nkeywords = ["zzz"]\n'

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            return json.dumps({"headline_claims": [], "positions": []})
        said = {"stance": "consensus", "domain": "data", "tags": ["T"], "citations": []}
        kernel = "The fused kernel gives a 2x speedup on GPUs."
        data = "Filtered web data beats curated corpora."
        claims = [
            {**said, "text": kernel, "quote": kernel, "topic": "kernels"},
            {**said, "text": data, "quote": data, "topic": "data"},
        ]
        return json.dumps({"claims": claims})

    def current(topic: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
            return con.execute(
                "SELECT text, answer_no FROM current_observations WHERE topic = ? AND job = 'ref_triage'", [topic]
            ).fetchall()

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=topics)
        assert run_cli("run", str(pipeline)).exit_code == 0
        assert current("data") == [("Filtered web data beats curated corpora.", 0)]
        assert run_cli("run", str(pipeline), "--topic", "kernels", "--fresh").exit_code == 0
        assert current("data") == [("Filtered web data beats curated corpora.", 0)]  # untouched
        assert current("kernels") == [("The fused kernel gives a 2x speedup on GPUs.", 1)]
        # A claim counts what the newest answers say: asked again, it is still one observation.
        assert counted() == {
            "The fused kernel gives a 2x speedup on GPUs.": 1,
            "Filtered web data beats curated corpora.": 1,
        }
        assert run_cli("run", str(pipeline)).exit_code == 0
    assert current("data") == [("Filtered web data beats curated corpora.", 1)]
    assert current("kernels") == [("The fused kernel gives a 2x speedup on GPUs.", 1)]
    assert counted() == {
        "The fused kernel gives a 2x speedup on GPUs.": 1,
        "Filtered web data beats curated corpora.": 1,
    }
    # `show` keeps the history, the older answer's observation marked superseded.
    (kernel_claim,) = [c for c in _claims() if c["text"].startswith("The fused kernel")]
    shown = json.loads(run_cli("show", kernel_claim["claim_id"], "--json").stdout)
    assert shown["n_obs"] == 1
    assert [(o["answer_no"], o["current"]) for o in shown["observations"]] == [(0, False), (1, True)]
    text = run_cli("show", kernel_claim["claim_id"]).stdout
    assert "1 observation(s), and 1 superseded by newer runs" in text and text.count("(superseded)") == 1
    # Exported, the older answers are marked; imported elsewhere, they are left out.
    exported = isolated / "observations.jsonl"
    assert run_cli("export", "observations", "--format", "jsonl", "--out", str(exported)).exit_code == 0
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["answer_no"], r["current"]) for r in rows) == [(0, False), (0, False), (1, True), (1, True)]
    other = isolated / "other.duckdb"
    imported = run_cli("import", str(exported), "--db", str(other), "--json")
    assert json.loads(imported.stdout)["superseded"] == 2 and json.loads(imported.stdout)["observations"] == 2
    again = json.loads(run_cli("claims", "--db", str(other), "--json").stdout)
    assert sorted(c["n_obs"] for c in again) == [1, 1]


def _claims() -> list[dict[str, Any]]:
    return list(json.loads(run_cli("claims", "--json").stdout))


def counted() -> dict[str, int]:
    return {c["text"]: c["n_obs"] for c in _claims()}
