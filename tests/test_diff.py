"""`extract diff` on runs made against the local fake endpoint with scripted differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from pipelines import PROJECT_ROOT, run_cli
from scripted_runs import EXPECTED_KINDS, TOPIC, Runs, make_runs, sentence


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Five runs in one database, made once for the module (the tests only read it)."""
    return make_runs(tmp_path_factory.mktemp("diff"))


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
    assert bad.exit_code == 2 and bad.stderr == (
        "error: --fail-on: unknown kind 'stance'"
        " (choose from new, dropped, stance-flip, domain, tags, citations, evidence, any)\n"
    )


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


def test_imports_are_no_shortcut_and_supersede_no_report(isolated: Path) -> None:
    """`latest`/`previous` name extraction runs; an import adds to a topic's report
    claims instead of replacing them; an unknown --topic is an error."""
    demo = str(PROJECT_ROOT / "pipelines" / "demo.toml")
    assert run_cli("run", demo).exit_code == 0
    assert run_cli("run", demo, "--topic", "attention-kernels").exit_code == 0

    def report_claims() -> set[str]:
        rows = json.loads(run_cli("claims", "--topic", "attention-kernels", "--json").stdout)
        return {c["claim_id"] for c in rows}

    before = report_claims()
    row = {
        "text": "Imported & <b>bold</b> claim about fused kernels.",
        "stance": "consensus",
        "kind": "topic_report",
        "topic": "attention-kernels",
        "field_path": "report.headline_claims",
        "model": "elsewhere",
        "quote": "q",
    }
    (isolated / "one.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert run_cli("import", str(isolated / "one.jsonl")).exit_code == 0
    after = report_claims()
    assert before < after and len(after - before) == 1

    listed = sorted(json.loads(run_cli("runs", "--json").stdout), key=lambda r: str(r["started_at"]))
    extraction = [r["run_id"] for r in listed if r["command"] != "import"]
    assert len(extraction) == 2 and listed[-1]["command"] == "import"
    named = json.loads(run_cli("diff", "previous", "latest", "--json").stdout)
    assert [named["run_a"]["run_id"], named["run_b"]["run_id"]] == extraction
    assert run_cli("report", "--run", "latest", "--out", str(isolated / "r.html")).exit_code == 0
    unknown = run_cli("diff", "previous", "latest", "--topic", "no-such-topic")
    assert unknown.exit_code == 2 and "no-such-topic" in unknown.stderr


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_json_with_another_format_is_a_one_line_usage_error(runs: Runs, fmt: str) -> None:
    result = diff_cli(runs, runs.a, runs.b, "--format", fmt, "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"error: --json and --format {fmt} conflict: pass one of them (--json is --format json)\n"
    # The same flag said twice is no conflict.
    agreeing = diff_cli(runs, runs.a, runs.b, "--format", "json", "--json")
    assert agreeing.exit_code == 0 and json.loads(agreeing.stdout)["schema"] == "extract.diff/1"


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_fail_on_naming_no_kind_is_a_one_line_usage_error(runs: Runs, value: str) -> None:
    result = diff_cli(runs, runs.a, runs.b, "--fail-on", value)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: --fail-on {value!r} names no kind"
        " (choose from new, dropped, stance-flip, domain, tags, citations, evidence, any)\n"
    )
    also = diff_cli(runs, runs.a, runs.b, "--fail-on", "new", "--fail-on", value)
    assert also.exit_code == 2 and also.stderr.count("\n") == 1


def test_fail_on_followed_by_an_option_says_a_kind_is_missing(runs: Runs) -> None:
    result = diff_cli(runs, runs.a, runs.b, "--fail-on", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --fail-on needs a kind before '--json' (choose from new, dropped,")
