"""The dashboard-excerpt parser (bench/excerpt.py) against the real excerpt, plus the
pairwise clustering metric of bench/merge_quality.py that scores merges against it."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from pipelines import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from excerpt import DashboardClaim, parse_dashboard, parse_evidence_header, split_camp, split_tags
from merge_quality import pairwise_scores

EXCERPT = "000_claims_dashboard_excerpt.txt"

# Claims whose "证据 (1)" shows no evidence item at all: the 33 claims that carry a domain
# (all of them but c-62d72a94e7) and one Camp D stance of packing-masking-length.
NO_EVIDENCE_SHOWN = 34


@pytest.fixture(scope="module")
def claims(seeds_dir: Path) -> list[DashboardClaim]:
    return parse_dashboard((seeds_dir / EXCERPT).read_text(encoding="utf-8"))


def by_id(claims: list[DashboardClaim], claim_id: str) -> DashboardClaim:
    return next(c for c in claims if c.claim_id == claim_id)


def test_all_claims_parse(claims: list[DashboardClaim]) -> None:
    assert len(claims) == 640
    assert len({c.claim_id for c in claims}) == 640
    assert sum(len(c.evidence) for c in claims) == 670
    assert Counter(c.stance for c in claims) == {"contested": 422, "consensus": 218}


def test_shown_evidence_is_min_of_observations_and_six(claims: list[DashboardClaim]) -> None:
    exceptions = [c for c in claims if len(c.evidence) != min(c.n_obs, 6)]
    assert len(exceptions) == NO_EVIDENCE_SHOWN
    assert all(c.n_obs == 1 and not c.evidence for c in exceptions)
    assert sum(bool(c.domain) for c in exceptions) == 33
    assert [c.claim_id for c in exceptions if not c.domain] == ["c-7d3e946a7f"]
    # Where items are missing they are counted by "+ N more".
    assert all(len(c.evidence) + c.more == c.n_obs for c in claims if c not in exceptions)


def test_spawned_claim_with_more(claims: list[DashboardClaim]) -> None:
    claim = by_id(claims, "c-62d72a94e7")
    assert (claim.stance, claim.domain, claim.n_obs, claim.more) == ("contested", "data", 7, 1)
    assert claim.spawned == "web-only-filtering-vs-curated-mixtures"
    assert claim.tags == ["Curation", "Filtering", "Mixture", "Pretraining", "Quality", "Scaling"]
    assert len(claim.evidence) == 6
    first = claim.evidence[0]
    assert (first.kind, first.topic, first.field_path, first.model, first.date) == (
        "ref_triage",
        "scaling-laws-llm",
        None,
        "gpt-5.4",
        "2026-03-05",
    )
    assert [e.topic for e in claim.evidence].count("data-mixture") == 3
    assert by_id(claims, "c-2b8f288a97").spawned == "tokenizer-free-vs-bpe-migration"
    assert sum(c.more for c in claims) == 3


def test_sources_line_and_camp_stance(claims: list[DashboardClaim]) -> None:
    claim = by_id(claims, "c-b6fd752a5d")
    assert (claim.stance, claim.domain) == ("contested", "")
    assert claim.citation_keys == ["CodeScalingLaws2023"]
    assert claim.arxiv_ids == ["2308.08998"]
    assert claim.tags == ["Code Density Pretrain"]
    (item,) = claim.evidence
    assert item.kind == "topic_report"
    assert item.topic == "code-density-pretrain"
    assert item.arxiv_id == "2308.08998"
    assert item.field_path == "report.positions[0].stance"
    assert item.model == "claude-opus-4.7"
    assert item.date is None
    assert item.camp == "more code is always better, generalists should push"
    assert item.excerpt.startswith("Since code helps reasoning")
    assert by_id(claims, "c-d7a29d1c2d").citation_keys == []  # no sources line


def test_camp_labels(claims: list[DashboardClaim]) -> None:
    items = [e for c in claims for e in c.evidence]
    with_camp = [e for e in items if e.camp is not None]
    assert len(with_camp) == 439
    # Exactly the position statements carry a camp, and no excerpt keeps its prefix.
    assert all((e.camp is not None) == ("positions[" in (e.field_path or "")) for e in items)
    assert not any(e.excerpt.startswith("[") and "Camp" in e.excerpt[:20] for e in items)
    counter = next(e for e in items if e.field_path and e.field_path.endswith(".counter"))
    assert counter.camp
    assert "counter to" not in counter.camp


def test_kinds_models_topics(claims: list[DashboardClaim]) -> None:
    items = [e for c in claims for e in c.evidence]
    assert Counter(e.kind for e in items) == {"topic_report": 664, "ref_triage": 6}
    assert {e.model for e in items} == {
        "gpt-5.2",
        "gpt-5.4",
        "claude-opus-4.7",
        "gemini-3.1-pro",
        "unknown",
        "ep-20260214160829-csjmc",
    }
    assert len({e.topic for e in items}) == 18
    assert all(e.date == "2026-03-05" for e in items if e.kind == "ref_triage")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "ref_triagedata-mixturegpt-5.4-2026-03-05",
            ("ref_triage", "data-mixture", None, None, "gpt-5.4", "2026-03-05"),
        ),
        (
            "topic_reporttokenizer-scalingarXiv 2402.01035· report.positions[0].counterep-20260214160829-csjmc",
            (
                "topic_report",
                "tokenizer-scaling",
                "2402.01035",
                "report.positions[0].counter",
                "ep-20260214160829-csjmc",
                None,
            ),
        ),
        (
            "topic_reportmoe-landscape· report.headline_claimsunknown",
            ("topic_report", "moe-landscape", None, "report.headline_claims", "unknown", None),
        ),
        ("ref_triagegpt-scalinggpt-5.4", ("ref_triage", "gpt-scaling", None, None, "gpt-5.4", None)),
    ],
)
def test_evidence_header_rules(header: str, expected: tuple[object, ...]) -> None:
    assert parse_evidence_header(header) == expected


def test_small_helpers() -> None:
    assert split_tags("RL AblationBase ModelReasoning") == ["RL Ablation", "Base Model", "Reasoning"]
    assert split_tags("AttentionKV CacheGQA") == ["Attention", "KV Cache", "GQA"]
    assert split_tags("Scaling LawsTest-TimeCompute") == ["Scaling Laws", "Test-Time", "Compute"]
    assert split_camp("[counter to Camp B: x y ] rest") == ("x y", "rest")
    assert split_camp("[Kaplan2020] rest") == (None, "[Kaplan2020] rest")


def test_pairwise_scores() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]  # 3 + 1 = 4 gold pairs
    assert pairwise_scores(gold, gold) == (1.0, 1.0, 1.0)
    pred = ["x", "x", "y", "y", "y", "z"]  # pairs: (0,1) TP, (2,3) (2,4) FP, (3,4) TP
    precision, recall, f1 = pairwise_scores(gold, pred)
    assert (precision, recall) == (0.5, 0.5)
    assert f1 == pytest.approx(0.5)
    assert pairwise_scores(gold, list(range(6))) == (0.0, 0.0, 0.0)
