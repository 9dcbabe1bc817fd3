"""The offline baseline over the real seed dumps: record counts, grounding, free re-runs, claims that read as claims."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from extract.linekind import line_kind

from pipelines import PROJECT_ROOT, run_cli

SEEDS = {
    "dump_awesome_papers_zh.md": 67,
    "dump_reading_list_en.txt": 55,
    "dump_digest_zh.txt": 24,
    "dump_thread_nl.txt": 1,
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> tuple[Path, dict[str, object], str]:
    """One heuristic run of pipelines/papers.toml over the four seed dumps."""
    db = tmp_path_factory.mktemp("seeds") / "claims.duckdb"
    args = ["run", str(PROJECT_ROOT / "pipelines" / "papers.toml"), "--model", "heuristic", "--db", str(db), "--json"]
    for name in SEEDS:
        args += ["--input", str(seeds_dir / name)]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return db, json.loads(result.stdout), " ".join(args)


def _export(db: Path, table: str) -> list[dict[str, object]]:
    result = run_cli("export", table, "--format", "jsonl", "--db", str(db))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_seed_dumps_split_into_the_right_records(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, summary, _ = seeded
    docs = {d["sha256"]: Path(str(d["path"])).name for d in _export(db, "documents")}
    counts: dict[str, int] = {}
    for record in _export(db, "records"):
        name = docs[str(record["doc_sha256"])]
        counts[name] = counts.get(name, 0) + 1
    assert counts == SEEDS
    assert summary["documents"] == 4 and summary["records"] == sum(SEEDS.values())


def test_every_observation_is_grounded_at_its_offsets(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, summary, _ = seeded
    texts = {d["sha256"]: str(d["text"]) for d in _export(db, "documents")}
    everything = _export(db, "observations")
    assert len(everything) == summary["observations"] > 100
    observations = [o for o in everything if o["kind"] == "ref_triage"]  # reports quote no document
    for o in observations:
        start, end = int(str(o["char_start"])), int(str(o["char_end"]))
        assert texts[str(o["doc_sha256"])][start:end] == o["quote"]
        assert o["model"] == "heuristic" and o["kind"] == "ref_triage"
        assert o["stance"] in ("consensus", "contested")
        assert 1 <= len(o["tags"]) <= 6  # type: ignore[arg-type]
        assert str(o["claim_id"]).startswith("c-") and len(str(o["claim_id"])) == 12
    assert summary["rejects"] == 0


@pytest.mark.slow
def test_rerun_is_free_and_keeps_claim_ids(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, summary, command = seeded
    before = sorted(str(c["claim_id"]) for c in _export(db, "claims"))
    result = run_cli(*command.split(" "))
    again = json.loads(result.stdout)
    assert again["calls"] == 0 and again["cached"] == summary["calls"] > summary["chunks"]  # chunks + reports
    assert again["observations"] == 0
    assert sorted(str(c["claim_id"]) for c in _export(db, "claims")) == before


def test_chunks_stay_within_the_token_budget(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, _, _ = seeded
    chunks = _export(db, "chunks")
    assert max(int(str(c["n_tokens"])) for c in chunks) <= 1500
    # The digest's 27k-token item is split across many chunks.
    per_record: dict[str, int] = {}
    for c in chunks:
        per_record[str(c["record_id"])] = per_record.get(str(c["record_id"]), 0) + 1
    assert max(per_record.values()) >= 18


def test_topics_get_reports_with_positions(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, _, _ = seeded
    rows = [o for o in _export(db, "observations") if o["kind"] == "topic_report"]
    topics = {o["topic"] for o in rows}
    assert len(topics) >= 5
    stances = [o for o in rows if str(o["field_path"]).endswith(".stance")]
    counters = [o for o in rows if str(o["field_path"]).endswith(".counter")]
    assert stances and len(stances) == len(counters)
    assert all(o["stance"] == "contested" and o["camp"] for o in stances + counters)
    assert all(o["stance"] == "consensus" for o in rows if o["field_path"] == "report.headline_claims")


def test_extractive_reports_are_supported_and_cited(seeded: tuple[Path, dict[str, object], str]) -> None:
    """The heuristic's report statements are the topic's own claims, citing them: none is
    rejected for a number and none is uncited."""
    db, summary, _ = seeded
    assert summary["reject_reasons"] == {} and summary["uncited"] == 0
    reports = [o for o in _export(db, "observations") if o["kind"] == "topic_report"]
    assert reports and all("uncited" not in o["flags"] for o in reports)  # type: ignore[operator]
    assert all(any(str(c).startswith("c-") for c in o["citations"]) for o in reports)  # type: ignore[union-attr]


def test_claims_read_only_from_records_without_a_link_are_hidden(
    seeded: tuple[Path, dict[str, object], str],
) -> None:
    """A claim is visible when one of its observations cites an arXiv id, a URL or a record
    that has one, or anchors a camp; the thread and the digest's unlinked items give none."""
    db, _, _ = seeded
    linked = {str(r["citation_key"]) for r in _export(db, "records") if r["arxiv_ids"] or r["urls"]}

    def sourced(o: dict[str, object]) -> bool:
        cites = [str(c) for c in o["citations"]]  # type: ignore[attr-defined]
        return bool(o["camp"]) or any(
            re.fullmatch(r"\d{4}\.\d{4,5}", c) or c.startswith(("http://", "https://")) or c in linked for c in cites
        )

    expected: dict[str, bool] = {}
    for o in _export(db, "observations"):
        claim = str(o["claim_id"])
        expected[claim] = expected.get(claim, False) or sourced(o)
    result = run_cli("claims", "--visible", "--json", "--db", str(db))
    visible = {c["claim_id"] for c in json.loads(result.stdout)}
    assert visible == {claim for claim, shown in expected.items() if shown}
    assert len(visible) < len(expected)  # the rule bites on real dumps


def _fold(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


# Checks of this test's own, blunter than extract.linekind, on the dump line a quote stands on.
_CODE_LINE = re.compile(
    r"\s*(?:import \w|from \S+ import |def |class |return\b|if .*:$|for .* in .*:$|//|/\*)|.*\bself\.\w"
)
_ASSIGNMENT = re.compile(r"\s*[A-Za-z_]\w*(?:[_.]\w+)+(?:\[[^\]]*\])?\s*=[^=]")
_LATEX = re.compile(r"\$[^$\n]*\$|\\[A-Za-z]{2,}")
# Headings a CJK or sentence-case dump writes: a section number, a `Day N|` label, a short line with no
# sentence punctuation at all; figure and table captions.
_SECTION = re.compile(r"^\d+(?:\.\d+)*\s|^[A-Za-z]+\s*\d+\s*[|｜]")
_PUNCTUATION = re.compile(r"[,;!?，。；！？]|\.(?=\s|$)")
_CAPTION = re.compile(r"^(?:图|表|Figure|Fig\.|Table)\s*\d+[a-z]?\s*[:：.]")


def _title_like(line: str) -> bool:
    """A line with no sentence punctuation: a CJK one of 40 characters at most, or a Latin `X: y` of 12 words."""
    bare = re.sub(r"^(?:[-*+>•●]\s*|\d{1,2}[.)]\s+)", "", line).strip("*_ ")
    if _PUNCTUATION.search(bare):
        return False
    cjk = re.search(r"[\u4e00-\u9fff]", bare)
    return bool(cjk and len(bare) <= 40) or (not cjk and ":" in bare and len(bare.split()) <= 12)


@pytest.mark.slow
def test_no_claim_is_a_formula_code_table_row_url_or_heading(seeded: tuple[Path, dict[str, object], str]) -> None:
    db, _, _ = seeded
    texts = {d["sha256"]: str(d["text"]) for d in _export(db, "documents")}
    titles = {_fold(str(r["title"])) for r in _export(db, "records") if r["title"]}
    claims = {c["claim_id"]: str(c["text"]) for c in _export(db, "claims")}
    found: dict[str, list[str]] = {}
    observations = [o for o in _export(db, "observations") if o["kind"] == "ref_triage"]
    for o in observations:
        text, start = texts[str(o["doc_sha256"])], int(str(o["char_start"]))
        line = text[text.rfind("\n", 0, start) + 1 :].split("\n", 1)[0].strip()
        claim = claims[o["claim_id"]]
        fenced = len(re.findall(r"^\s*```", text[:start], re.MULTILINE)) % 2 == 1
        ended = line.endswith((".", "!", "?", "。", "！", "？"))
        kinds = {
            "heading": line.startswith("#") or _fold(line) in titles or _fold(claim) in titles or _title_like(line),
            "section heading": bool(_SECTION.match(line)) and not ended,
            "caption": bool(_CAPTION.match(line) or _CAPTION.match(claim)),
            "fragment of a quotation": claim.startswith(tuple("」』”’)）]】》")),
            "table row": line.startswith("|") or line.endswith("|"),
            "code": fenced or bool(_CODE_LINE.match(line) or _ASSIGNMENT.match(line)),
            "formula": bool(_LATEX.search(claim)),
            "url": "http://" in claim or "https://" in claim or "<img" in claim,
            f"line kind {line_kind(claim)}": line_kind(claim) != "prose",
        }
        for kind in (k for k, hit in kinds.items() if hit):
            found.setdefault(kind, []).append(claim)
    assert len(observations) > 500
    assert not found, {kind: claims[:3] for kind, claims in found.items()}
