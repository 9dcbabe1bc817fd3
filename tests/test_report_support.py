"""Report statements must rest on their topic's data: uncited ones are flagged and hidden,
ones with a number no cited record and no topic claim states are rejected with the raw
answer, supported paraphrases are kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fake_openai import FakeOpenAI
from pipelines import chunk_data, grounded_answer, run_cli, write_pipeline

DUMP = (
    "## Flash kernels\nhttps://arxiv.org/abs/2307.08691\n"
    "The fused kernel gives a 2x speedup on long sequences.\n"
    "It also reaches 73% of peak utilisation on the newest GPUs.\n"
)
TOPICS = '[[topics]]\nslug = "kernels"\ntitle = "Kernels"\nkeywords = ["kernel"]\n'
_RECORD_LINE = re.compile(r"^- (\S+) \| 2307\.08691 \| ", re.MULTILINE)
_CLAIM_LINE = re.compile(r"^- consensus \| .* \| (c-[0-9a-f]{10})\b", re.MULTILINE)


def _report(key: str, claim: str) -> dict[str, Any]:
    """A debate map mixing invented statements with supported ones, citing the record
    by `key` (or its arXiv id) and the triage claim by its id `claim`."""

    def said(text: str, *citations: str) -> dict[str, Any]:
        return {"text": text, "evidence": "As the data says.", "citations": list(citations)}

    return {
        "headline_claims": [
            said("Kernel fusion is the future of attention."),  # invented, cites nothing
            said("Fused kernels cut energy use by 37%.", key),  # a number nowhere in the data
            said("Fusion gives a 2× speedup on long inputs.", "2307.08691"),  # the record's 2x, by its arXiv id
        ],
        "positions": [
            {
                "camp": "utilisation first",
                "stance": said("Fused kernels reach 73 % of peak.", key),  # in the cited record only
                "counter": said("Only a 2-fold speedup is shown.", claim),  # the claim's 2x
            },
            {
                "camp": "utilisation from the claim",
                "stance": said("The kernel reaches 73% utilisation.", claim),  # 73% is in no cited record or claim
                "counter": said("Utilisation is not comparable across GPUs.", key),
            },
            {
                "camp": "an invented camp",
                "stance": said("Fusion will replace every attention variant.", "Bogus2099Key"),
                "counter": said("Fusion is hard to maintain.", key),
            },
        ],
    }


@pytest.fixture
def reported(isolated: Path) -> tuple[Path, str, list[str], dict[str, Any]]:
    """A run whose topic report is `_report`: (pipeline, the report's raw answer, the
    record key and the claim id it cites, the run summary)."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "a.md").write_text(DUMP, encoding="utf-8")
    answers: list[str] = []
    cited: list[str] = []

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] != "topic_report":
            listed = _RECORD_LINE.search(request["messages"][1]["content"])
            assert listed
            return grounded_answer(request, citations=[listed.group(1)])  # the triage claim cites its paper
        data = chunk_data(request)
        record, claim = _RECORD_LINE.search(data), _CLAIM_LINE.search(data)
        assert record and claim, data  # the prompt lists the record's key and the claim's id
        cited.extend([record.group(1), claim.group(1)])
        answers.append(json.dumps(_report(record.group(1), claim.group(1)), ensure_ascii=False))
        return answers[-1]

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=TOPICS)
        result = run_cli("run", str(pipeline), "--json")
    assert result.exit_code == 1, result.output  # the run finished with rejects
    assert len(answers) == 1
    return pipeline, answers[0], cited, json.loads(result.stdout)


def _observations(isolated: Path) -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(isolated / "claims.duckdb"), read_only=True) as con:
        cur = con.execute(
            "SELECT field_path, text, citations, flags, obs_id, parent_obs_id, claim_id FROM observations"
            " WHERE job = 'topic_report'"
        )
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    return {r["text"]: r for r in rows}


def test_invented_numbers_are_rejected_with_the_raw_answer(
    isolated: Path, reported: tuple[Path, str, list[str], dict[str, Any]]
) -> None:
    pipeline, raw, _, summary = reported
    assert summary["rejects"] == 2 and summary["reject_reasons"] == {"unsupported_number": 2}
    rejects = [json.loads(line) for line in run_cli("export", "rejects", "--format", "jsonl").stdout.splitlines()]
    assert {(r["job"], r["reason"]) for r in rejects} == {("topic_report", "unsupported_number")}
    assert all(r["raw_output"] == raw for r in rejects)  # the paid answer, whole
    items = {json.loads(r["item_json"])["text"]: (json.loads(r["item_json"]), r["detail"]) for r in rejects}
    assert set(items) == {"Fused kernels cut energy use by 37%.", "The kernel reaches 73% utilisation."}
    item, detail = items["The kernel reaches 73% utilisation."]
    assert item["field_path"] == "report.positions[1].stance" and item["camp"] == "utilisation from the claim"
    assert "73%" in detail and "report.positions[1].stance" in detail
    assert not {"Fused kernels cut energy use by 37%.", "The kernel reaches 73% utilisation."} & set(
        _observations(isolated)
    )
    # A re-run replays the answer and says why it still rejects.
    text = run_cli("run", str(pipeline)).stdout
    assert "rejects 2 (unsupported_number 2)" in text
    assert "report statements 7, 2 of them uncited" in text
    runs = run_cli("runs").stdout
    assert runs.count("rejects 2 (unsupported_number 2)") == 2


def test_supported_paraphrases_are_kept_with_their_citations(
    isolated: Path, reported: tuple[Path, str, list[str], dict[str, Any]]
) -> None:
    _, _, (key, claim), summary = reported
    kept = _observations(isolated)
    assert summary["report_statements"] == len(kept) == 7  # 9 statements, 2 rejected
    by_arxiv = kept["Fusion gives a 2× speedup on long inputs."]
    assert by_arxiv["citations"] == ["2307.08691"] and by_arxiv["flags"] == []
    stance = kept["Fused kernels reach 73 % of peak."]
    assert stance["citations"] == [key, "2307.08691"] and stance["flags"] == []
    counter = kept["Only a 2-fold speedup is shown."]
    assert counter["citations"] == [claim] and counter["flags"] == []
    assert counter["parent_obs_id"] == stance["obs_id"]
    # The rejected stance's counter stands alone.
    alone = kept["Utilisation is not comparable across GPUs."]
    assert alone["parent_obs_id"] is None and alone["flags"] == ["stance_rejected"]


def test_uncited_statements_are_flagged_and_hidden(
    isolated: Path, reported: tuple[Path, str, list[str], dict[str, Any]]
) -> None:
    kept = _observations(isolated)
    headline = kept["Kernel fusion is the future of attention."]
    camp = kept["Fusion will replace every attention variant."]
    assert headline["flags"] == ["uncited"] and headline["citations"] == []
    assert camp["flags"] == ["unknown_citation:Bogus2099Key", "uncited"]
    assert reported[3]["uncited"] == 2

    visible = {c["claim_id"] for c in json.loads(run_cli("claims", "--visible", "--json").stdout)}
    everything = {c["claim_id"] for c in json.loads(run_cli("claims", "--json").stdout)}
    hidden = everything - visible
    # An uncited camp stance is no anchor: hidden like the uncited headline.
    assert hidden == {headline["claim_id"], camp["claim_id"]}
    assert kept["Fusion is hard to maintain."]["claim_id"] in visible  # its cited counter anchors the camp

    shown = run_cli("show", headline["claim_id"]).stdout
    assert "field: report.headline_claims (topic kernels)" in shown and "flags: uncited" in shown


def test_an_export_imported_elsewhere_keeps_uncited_statements_hidden(
    isolated: Path, reported: tuple[Path, str, list[str], dict[str, Any]]
) -> None:
    kept = _observations(isolated)
    exported = isolated / "observations.jsonl"
    assert run_cli("export", "observations", "--out", str(exported)).exit_code == 0
    other = isolated / "other.duckdb"
    assert run_cli("import", str(exported), "--db", str(other)).exit_code == 0
    visible = {c["text"] for c in json.loads(run_cli("claims", "--visible", "--db", str(other), "--json").stdout)}
    assert "Kernel fusion is the future of attention." not in visible
    assert "Fusion will replace every attention variant." not in visible  # a camp's stance, still no anchor
    assert "Fused kernels reach 73 % of peak." in visible
    with duckdb.connect(str(other), read_only=True) as con:
        (flags,) = con.execute(
            "SELECT flags FROM observations WHERE obs_id = ?", [kept["Only a 2-fold speedup is shown."]["obs_id"]]
        ).fetchone() or (None,)
    assert flags == []  # the claim it cites is no unknown citation


def test_a_triage_claim_with_an_invented_number_is_rejected_and_vouches_for_nothing(isolated: Path) -> None:
    """A triage claim stating a number its verbatim quote does not is a per-claim reject,
    so it cannot support a report statement that repeats the number."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "a.md").write_text(DUMP, encoding="utf-8")
    quote = "The fused kernel gives a 2x speedup on long sequences."
    invented = "Fused kernels give a 9x speedup on long sequences."
    triage: list[str] = []

    def answer(request: dict[str, Any]) -> str:
        reporting = request["response_format"]["json_schema"]["name"] == "topic_report"
        # The report prompt lists the record in its data; a triage prompt before it.
        listed = _RECORD_LINE.search(chunk_data(request) if reporting else request["messages"][1]["content"])
        assert listed
        if reporting:
            cited = {"evidence": "The paper.", "citations": [listed.group(1)]}
            statements = [
                {"text": "Fusion gives a 9x speedup.", **cited},
                {"text": "Fusion gives a 2x speedup.", **cited},
            ]
            return json.dumps({"headline_claims": statements, "positions": []})
        base = {"stance": "consensus", "domain": "training", "tags": ["Kernels"], "topic": "kernels", "quote": quote}
        claims = [
            {**base, "text": "The fused kernel doubles speed (2x) on long sequences.", "citations": [listed.group(1)]},
            {**base, "text": invented, "citations": [listed.group(1)]},
        ]
        triage.append(json.dumps({"claims": claims}))
        return triage[-1]

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(isolated, base_url=server.base_url, inputs=[dumps], extra=TOPICS)
        result = run_cli("run", str(pipeline), "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 1, result.output
    assert summary["reject_reasons"] == {"unsupported_number": 2}
    rejects = {
        r["job"]: r for r in map(json.loads, run_cli("export", "rejects", "--format", "jsonl").stdout.splitlines())
    }
    assert set(rejects) == {"ref_triage", "topic_report"}
    claim = rejects["ref_triage"]
    assert claim["raw_output"] == triage[0] and json.loads(claim["item_json"])["text"] == invented
    assert claim["detail"] == f"9x in the claim text, not stated by its quote: {quote!r}"
    assert "9x" in rejects["topic_report"]["detail"]  # no claim of the topic states it now
    assert set(_observations(isolated)) == {"Fusion gives a 2x speedup."}
    # The summary counts report statements even when none is uncited.
    assert summary["report_statements"] == 1 and summary["uncited"] == 0
    assert "report statements 1, 0 of them uncited" in run_cli("run", str(pipeline)).stdout
