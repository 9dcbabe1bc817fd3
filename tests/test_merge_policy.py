"""What the merge decides, pinned by behaviour rather than by its tuned constants:
paraphrases that state the same numbers and cite the same work join; statements with
different numbers, different formulas, different camps or different field paths stay
apart whatever their wording. Each case is placed by the project's `Merger` with its
default policy (and, where the rule is meant to hold for any weighting, a few others)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extract.stages.importing import import_batches
from extract.stages.merge import Facts, MergePolicy, Merger, facts, facts_agree
from extract.stages.merge.signatures import stated
from extract.store import open_database

# Policies far apart in every weight: the "apart" rules must not depend on them.
POLICIES = [
    MergePolicy(),
    MergePolicy(threshold=0.5, containment=1.0, citation_bonus=0.3, camp_weight=0.6, overlap=0.3),
    MergePolicy(threshold=0.8, containment=0.0, citation_bonus=0.0, camp_weight=0.0, overlap=1.0),
]


def _row(text: str, n: int, **extra: Any) -> dict[str, Any]:
    row = {
        "text": text,
        "stance": "consensus",
        "kind": "topic_report",
        "topic": "tokenizer-scaling",
        "field_path": "report.headline_claims",
        "model": "gpt-x",
        "quote": text,
        "source": f"s{n}",
    }
    return {**row, **extra}


def _placed(tmp_path: Path, rows: list[dict[str, Any]], policy: MergePolicy | None = None) -> list[str]:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with open_database(tmp_path / f"claims-{len(list(tmp_path.iterdir()))}.duckdb") as db:
        observations = [o for batch in import_batches(source, "r-test", {}, {}, db=db) for o in batch.observations]
        placed = Merger(db, policy=policy or MergePolicy()).assign(observations)
    by_source = {o.source: o.claim_id for o in placed}
    return [by_source[r["source"]] for r in rows]


PARAPHRASES = [
    "Scaling vocab from 32K to 128K yields 0.02–0.04 nats lower training loss, with gains concentrated in better"
    " bytes per token for non-English text and code [Dubey2024Llama3].",
    "Moving from a 32K to a 128K vocab gives 0.02–0.04 nats lower training loss, mostly from better bytes per"
    " token for non-English text and code [Dubey2024Llama3].",
]


def test_paraphrases_with_the_same_numbers_and_citation_join(tmp_path: Path) -> None:
    rows = [_row(text, n, citations=["2407.21783"]) for n, text in enumerate(PARAPHRASES)]
    first, second = _placed(tmp_path, rows)
    assert first == second


def test_chinese_paraphrases_with_the_same_numbers_join(tmp_path: Path) -> None:
    rows = [
        _row("在相同算力下，仅更换分词器会带来0.6–5.1个百分点的下游差异 [Ali2024TokenizerChoice]。", 0),
        _row("相同算力下，只更换分词器就会带来0.6–5.1个百分点的下游差异 [Ali2024TokenizerChoice]。", 1),
    ]
    first, second = _placed(tmp_path, rows)
    assert first == second


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "loose", "strict"])
def test_different_numbers_stay_apart(tmp_path: Path, policy: MergePolicy) -> None:
    rows = [
        _row("Expert-choice routing improves downstream accuracy by 12% over top-2 routing at equal compute.", 0),
        _row("Expert-choice routing improves downstream accuracy by 30% over top-2 routing at equal compute.", 1),
    ]
    first, second = _placed(tmp_path, rows, policy)
    assert first != second


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "loose", "strict"])
def test_different_formulas_stay_apart(tmp_path: Path, policy: MergePolicy) -> None:
    rows = [
        _row(r"The diffusion LM objective is $L = -\mathbb{E}_{t}[\log p_\theta(x_0 | x_t)]$ over masked tokens.", 0),
        _row(
            r"The diffusion LM objective is $L = -\mathbb{E}_{t}[w(t) \log p_\theta(x_0 | x_t)]$ over masked tokens.", 1
        ),
        _row(
            r"The diffusion LM objective is $L = \mathbb{E}_{t}[\|x_0 - \hat{x}_\theta(x_t)\|^2]$ over masked tokens.",
            2,
        ),
    ]
    assert len(set(_placed(tmp_path, rows, policy))) == 3


def test_the_same_formula_written_with_other_spacing_still_joins(tmp_path: Path) -> None:
    rows = [
        _row(r"The diffusion LM objective is $L = -\mathbb{E}_{t}[\log p(x_0|x_t)]$ over masked tokens.", 0),
        _row(r"The diffusion LM objective is $L=-\mathbb{E}_{t}[\log p(x_0 | x_t)]$ over the masked tokens.", 1),
    ]
    first, second = _placed(tmp_path, rows)
    assert first == second


CAMP_TEXT = (
    "Tokenizer choice is a first-order variable: swapping only the tokenizer moves downstream scores at fixed compute."
)


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "loose", "strict"])
def test_different_camps_stay_apart(tmp_path: Path, policy: MergePolicy) -> None:
    path = "report.positions[0].stance"
    rows = [
        _row(CAMP_TEXT, 0, stance="contested", field_path=path, camp="tokenizer-free is the endgame"),
        _row(CAMP_TEXT + " ", 1, stance="contested", field_path=path, camp="frozen preprocessing is enough"),
    ]
    first, second = _placed(tmp_path, rows, policy)
    assert first != second


def test_one_camps_paraphrases_join(tmp_path: Path) -> None:
    path = "report.positions[0].stance"
    camp = "tokenizer-free is the endgame; abandon BPE"
    rows = [
        _row(
            "BPE's sampling bias, OOV and cross-lingual unfairness are structural; byte-level modeling removes them at"
            " the root, so we should migrate to tokenizer-free models.",
            0,
            stance="contested",
            field_path=path,
            camp=camp,
        ),
        _row(
            "BPE has structural issues (boundary bias, cross-lingual unfairness, OOV); byte-level modeling removes"
            " these at the root, and tokenizer-free models are where to migrate.",
            1,
            stance="contested",
            field_path=path,
            camp=camp + " ASAP",
        ),
    ]
    first, second = _placed(tmp_path, rows)
    assert first == second


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "loose", "strict"])
def test_different_field_paths_stay_apart(tmp_path: Path, policy: MergePolicy) -> None:
    rows = [
        _row(CAMP_TEXT, 0, field_path="report.positions[0].stance", stance="contested", camp="first-order"),
        _row(CAMP_TEXT, 1, field_path="report.positions[0].counter", stance="contested", camp="first-order"),
        _row(CAMP_TEXT, 2),
    ]
    assert len(set(_placed(tmp_path, rows, policy))) == 3


def test_a_number_in_a_citation_key_or_arxiv_id_is_not_a_stated_number() -> None:
    assert facts("gains of 12% [ali2024tokenizerchoice] (arxiv 2402.01035, https://x.org/a/2023)") == {"12", "%12"}
    assert facts("cut short at the end [ye2025") == set()
    assert facts("1,000 steps and 1000 steps") == {"1000"}
    assert facts("up 12% and 2x, 3 pp") == {"12", "2", "3", "%12", "%2", "%3"}


def _facts(text: str) -> Facts:
    return stated(text)


def test_facts_compare_numbers_with_numbers_and_formulas_with_formulas() -> None:
    twelve, thirty = _facts("by 12% on 7b"), _facts("by 30% on 13b")
    assert not facts_agree(twelve, thirty)
    assert facts_agree(twelve, _facts("by 12% on 13b"))  # the result shared: may be one claim
    assert not facts_agree(_facts("by 12% over top-2"), _facts("by 30% over top-2"))  # results differ
    assert facts_agree(twelve, _facts("a claim with no number"))
    one, other = _facts(r"$a + b$ holds at 12%"), _facts(r"$a - b$ holds at 12%")
    assert not facts_agree(one, other)
    assert facts_agree(one, _facts(r"$a+b$ holds at 12%"))
