"""`extract diff` on runs made against the local fake endpoint with scripted differences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from fake_openai import FakeOpenAI
from pipelines import chunk_data, run_cli, write_pipeline

TOPICS = """
[[topics]]
slug = "kernels"

[[topics]]
slug = "data"

[report]
enabled = false
"""

# One record per paper, two sentences each; the claim texts share no words, so the
# merge stage keeps them apart, and each keeps its id across models.
PAPERS = {
    "Alpha": "Alpha kernels fuse attention into one pass. Alpha also trims launch overhead.",
    "Bravo": "Bravo quantisation keeps quality intact. Bravo needs calibration data.",
    "Charlie": "Charlie routing balances expert load. Charlie drops fewer tokens.",
    "Delta": "Delta caching reuses prefix states. Delta saves memory on long prompts.",
    "Echo": "Echo filtering removes duplicate pages. Echo keeps rare languages.",
    "Foxtrot": "Foxtrot mixtures weight sources by quality. Foxtrot upsamples code.",
    "Golf": "Golf curation prefers textbooks over forums. Golf lists are small.",
    "Hotel": "Hotel synthetic corpora rival crawled text. Hotel prompts vary widely.",
}


@dataclass(frozen=True)
class Scripted:
    stance: str = "consensus"
    domain: str = "training"
    tags: tuple[str, ...] = ("Shared",)
    citations: tuple[str, ...] = ()
    sentence: int = 0  # which sentence of the paper is quoted


TOPIC = {"Alpha": "kernels", "Bravo": "kernels", "Charlie": "kernels", "Delta": "kernels"}

# Run A's answers; run B's differ on purpose, one change kind per paper (Alpha: none).
ANSWERS_A: dict[str, Scripted | None] = {
    "Alpha": Scripted(),
    "Bravo": Scripted(),
    "Charlie": Scripted(),
    "Delta": Scripted(tags=("Shared", "Speed")),
    "Echo": Scripted(citations=("2307.08691",)),
    "Foxtrot": Scripted(),
    "Golf": Scripted(),
    "Hotel": None,
}
ANSWERS_B: dict[str, Scripted | None] = {
    **ANSWERS_A,
    "Bravo": Scripted(stance="contested"),
    "Charlie": Scripted(domain="arch"),
    "Delta": Scripted(tags=("Shared", "Memory")),
    "Echo": Scripted(citations=("2205.14135",)),
    "Foxtrot": Scripted(sentence=1),
    "Golf": None,
    "Hotel": Scripted(),
}
EXPECTED_KINDS = {
    "Bravo": ["stance-flip"],
    "Charlie": ["domain"],
    "Delta": ["tags"],
    "Echo": ["citations"],
    "Foxtrot": ["evidence"],
    "Golf": ["dropped"],
    "Hotel": ["new"],
}


def sentence(paper: str, n: int) -> str:
    return PAPERS[paper].split(". ")[n].rstrip(".") + "."


def answer(request: dict[str, Any]) -> str:
    """Model `model-b` answers with ANSWERS_B, every other model with ANSWERS_A."""
    data = chunk_data(request)
    paper = next(p for p in PAPERS if PAPERS[p] in data)
    scripted = (ANSWERS_B if request["model"] == "model-b" else ANSWERS_A)[paper]
    if scripted is None:
        return json.dumps({"claims": []})
    claim = {
        "text": f"{paper} claim: {PAPERS[paper].split('.')[0]}",
        "stance": scripted.stance,
        "domain": scripted.domain,
        "tags": list(scripted.tags),
        "topic": TOPIC.get(paper, "data"),
        "citations": list(scripted.citations),
        "quote": sentence(paper, scripted.sentence),
    }
    return json.dumps({"claims": [claim]})


@dataclass(frozen=True)
class Runs:
    db: Path
    a: str  # model-a
    b: str  # model-b: every change kind
    a_again: str  # model-a2, the same answers as A through new requests
    a_cached: str  # model-a re-run: every answer replayed from the cache
    b_topic: str  # run --topic kernels with model-b (replayed)


def _run(pipeline: Path, db: Path, *args: str) -> str:
    result = run_cli("run", str(pipeline), "--quiet", "--json", "--db", str(db), *args)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["run_id"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Five runs in one database, made once for the module (the tests only read it)."""
    home = tmp_path_factory.mktemp("diff")
    dumps = home / "dumps"
    dumps.mkdir()
    (dumps / "papers.md").write_text(
        "# Papers\n\n" + "\n".join(f"## {title}\n{text}\n" for title, text in PAPERS.items()), encoding="utf-8"
    )
    db = home / "claims.duckdb"
    with pytest.MonkeyPatch.context() as env, FakeOpenAI(answer) as server:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACT_MODEL"):
            env.delenv(name, raising=False)
        pipeline = write_pipeline(home, base_url=server.base_url, inputs=[dumps], model="model-a", extra=TOPICS)
        a = _run(pipeline, db)
        b = _run(pipeline, db, "--model", "model-b")
        a_again = _run(pipeline, db, "--model", "model-a2")
        calls = server.count()
        a_cached = _run(pipeline, db)
        b_topic = _run(pipeline, db, "--model", "model-b", "--topic", "kernels")
        assert server.count() == calls == 3 * len(PAPERS)  # the last two runs only replayed answers
    return Runs(db, a, b, a_again, a_cached, b_topic)


def diff_cli(runs: Runs, *args: str) -> Result:
    return run_cli("diff", *args, "--db", str(runs.db))


def diff_json(runs: Runs, *args: str) -> dict[str, Any]:
    result = diff_cli(runs, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def paper_of(change: dict[str, Any]) -> str:
    return str(change["text"]).split(" ")[0]


def test_every_change_kind_is_detected_exactly(runs: Runs) -> None:
    diff = diff_json(runs, runs.a, runs.b)
    assert diff["schema"] == "extract.diff/1" and diff["topic"] is None
    assert {paper_of(c): c["kinds"] for c in diff["changes"]} == EXPECTED_KINDS
    assert diff["summary"] == {
        "claims_a": 7,
        "claims_b": 7,
        "unchanged": 1,
        "changed": 5,
        "new": 1,
        "dropped": 1,
        "by_kind": {k: 1 for k in ("new", "dropped", "stance-flip", "domain", "tags", "citations", "evidence")},
    }
    details = {paper_of(c): c["details"] for c in diff["changes"]}
    assert details["Bravo"] == {"stance-flip": {"a": "consensus", "b": "contested"}}
    assert details["Charlie"] == {"domain": {"a": "training", "b": "arch"}}
    assert details["Delta"] == {"tags": {"added": ["Memory"], "removed": ["Speed"]}}
    assert details["Echo"] == {"citations": {"added": ["2205.14135"], "removed": ["2307.08691"]}}
    assert details["Foxtrot"] == {"evidence": {"added": [sentence("Foxtrot", 1)], "removed": [sentence("Foxtrot", 0)]}}
    golf, hotel = (next(c for c in diff["changes"] if paper_of(c) == p) for p in ("Golf", "Hotel"))
    assert golf["b"] is None and golf["details"] == {} and golf["a"]["evidence"] == [sentence("Golf", 0)]
    assert hotel["a"] is None and hotel["b"] == {
        "stance": "consensus",
        "domain": "training",
        "tags": ["Shared"],
        "citations": [],
        "evidence": [sentence("Hotel", 0)],
        "n_obs": 1,
    }
    by_topic = {t["topic"]: (t["new"], t["dropped"], t["changed"], t["unchanged"]) for t in diff["by_topic"]}
    assert by_topic == {"data": (1, 1, 2, 0), "kernels": (0, 0, 3, 1)}
    assert [c["topic"] for c in diff["changes"]] == ["data"] * 4 + ["kernels"] * 3
    assert diff["run_a"]["model"] == "model-a" and diff["run_b"]["model"] == "model-b"
    assert diff["run_a"]["command"] == "run" and set(diff["run_a"]["prompts"]) == {"ref_triage"}
    assert (diff["run_a"]["observations"], diff["run_b"]["claims"]) == (7, 7)


@pytest.mark.parametrize("other", ["a", "a_again", "a_cached"])
def test_identical_runs_report_nothing(runs: Runs, other: str) -> None:
    diff = diff_json(runs, runs.a, getattr(runs, other))
    assert diff["changes"] == []
    assert diff["summary"]["unchanged"] == 7 and not any(diff["summary"]["by_kind"].values())
    text = diff_cli(runs, runs.a, getattr(runs, other), "--fail-on", "any")
    assert text.exit_code == 0
    assert "no changes: 7 claim(s) compared" in text.stdout


def test_a_topic_run_is_compared_within_its_topic(runs: Runs) -> None:
    diff = diff_json(runs, runs.a, runs.b_topic)
    assert diff["topic"] == "kernels" and diff["run_b"]["command"] == "run --topic kernels"
    assert {paper_of(c): c["kinds"] for c in diff["changes"]} == {
        p: k for p, k in EXPECTED_KINDS.items() if TOPIC.get(p) == "kernels"
    }
    narrowed = diff_json(runs, runs.a, runs.b, "--topic", "data")
    assert {paper_of(c) for c in narrowed["changes"]} == {"Echo", "Foxtrot", "Golf", "Hotel"}
    assert diff_cli(runs, runs.a, runs.b_topic, "--fail-on", "new,dropped,citations,evidence").exit_code == 0
    assert diff_cli(runs, runs.a, runs.b_topic, "--fail-on", "domain").exit_code == 1


def test_fail_on_exits_1_and_still_prints(runs: Runs) -> None:
    result = diff_cli(runs, runs.a, runs.b, "--fail-on", "stance-flip")
    assert result.exit_code == 1
    assert "stance-flip  consensus → contested" in result.stdout
    assert "fail-on: stance-flip 1" in result.stderr
    both = diff_cli(runs, runs.a, runs.b, "--fail-on", "dropped", "--fail-on", "tags,new")
    assert both.exit_code == 1 and "fail-on: new 1, dropped 1, tags 1" in both.stderr
    assert diff_cli(runs, runs.a, runs.b).exit_code == 0
    bad = diff_cli(runs, runs.a, runs.b, "--fail-on", "stance")
    assert bad.exit_code == 2 and "unknown kind 'stance'" in bad.stderr


def test_text_reads_like_git_diff_stat(runs: Runs) -> None:
    out = diff_cli(runs, runs.a, runs.b).stdout
    lines = out.splitlines()
    assert lines[0] == f"diff {runs.a} → {runs.b}  (all topics)"
    assert lines[1].startswith(f"  a  {runs.a}") and "model model-a" in lines[1]
    assert " data    | 4 +-~~" in lines and " kernels | 3 ~~~" in lines
    assert " 7 claim(s) in 2 topic(s): 1 new (+), 1 dropped (-), 5 changed (~), 1 unchanged" in lines
    assert "    tags         +Memory -Speed" in lines
    assert "    citations    +2205.14135 -2307.08691" in lines
    assert f'    evidence     + "{sentence("Foxtrot", 1)}"' in lines
    marks = [line[0] for line in lines if line.startswith(("+ c-", "- c-", "~ c-"))]
    assert sorted(marks) == ["+", "-", "~", "~", "~", "~", "~"]


def test_markdown(runs: Runs) -> None:
    out = diff_cli(runs, runs.a, runs.b, "--format", "md").stdout
    assert out.startswith(f"# Diff {runs.a} → {runs.b}\n")
    assert "| **total** | 7 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1 |" in out
    assert "- **stance-flip**: consensus → contested" in out
    assert "## Changes" in out


def test_json_is_stable_and_sorted(runs: Runs) -> None:
    first = diff_cli(runs, runs.a, runs.b, "--json")
    again = diff_cli(runs, runs.a, runs.b, "--format", "json")
    assert first.stdout == again.stdout
    data = json.loads(first.stdout)
    assert first.stdout == json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert set(data) == {"schema", "topic", "run_a", "run_b", "summary", "by_topic", "changes"}
    assert set(data["run_a"]) == {
        "run_id",
        "started_at",
        "status",
        "command",
        "pipeline_name",
        "pipeline_hash",
        "model",
        "prompts",
        "observations",
        "claims",
    }
    for change in data["changes"]:
        assert set(change) == {"claim_id", "text", "topic", "job", "field_path", "kinds", "a", "b", "details"}
        assert change["job"] == "ref_triage" and change["claim_id"].startswith("c-")


def test_runs_by_prefix_and_shortcut_and_unknown_runs(runs: Runs) -> None:
    ids = [runs.a, runs.b, runs.a_again, runs.a_cached, runs.b_topic]
    prefix = next(runs.a[:n] for n in range(5, len(runs.a)) if sum(i.startswith(runs.a[:n]) for i in ids) == 1)
    by_prefix = diff_json(runs, prefix, "previous")
    assert by_prefix["run_a"]["run_id"] == runs.a and by_prefix["run_b"]["run_id"] == runs.a_cached
    assert diff_json(runs, "previous", "latest")["run_b"]["run_id"] == runs.b_topic
    missing = diff_cli(runs, runs.a, "run-19990101T000000-0000")
    assert missing.exit_code == 2
    assert missing.stderr == "error: no run run-19990101T000000-0000 (list them with `extract runs`)\n"
    ambiguous = diff_cli(runs, "run-", "latest")
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.stderr
