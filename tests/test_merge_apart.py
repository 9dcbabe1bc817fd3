"""Formulas and numbers that differ never merge: claims that say different things stay apart.

Observations go in through `extract import`; each case also imports its first claim
again from another model, which must join it, so "apart" is not just "never merges".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from pipelines import run_cli


def _triage(text: str, model: str = "gpt-x") -> dict[str, Any]:
    return {
        "text": text,
        "stance": "consensus",
        "kind": "ref_triage",
        "topic": "diffusion-lm",
        "field_path": None,
        "model": model,
        "quote": text,
        "citations": ["2511.19269"],
    }


def _headline(text: str, model: str = "gpt-x") -> dict[str, Any]:
    return {**_triage(text, model), "kind": "topic_report", "field_path": "report.headline_claims"}


def _claims_after_import(directory: Path, rows: list[dict[str, Any]]) -> list[list[str]]:
    """The imported texts grouped by the claim they were placed in (each group sorted, groups by size)."""
    path = directory / "obs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("import", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["observations"] == len(rows)
    with duckdb.connect(str(directory / "claims.duckdb"), read_only=True) as con:
        groups = con.execute("SELECT list(text ORDER BY text) FROM observations GROUP BY claim_id").fetchall()
    return sorted((list(g[0]) for g in groups), key=lambda g: (-len(g), g))


LOSSES = [
    r"CDLM trains the student with the loss $$L_{DLM} = -\mathbb{E}_{(x,\hat{y})}[\log q_\phi(\hat{y} | x)]$$",
    r"CDLM trains the student with the loss $$L_{Distillation} = \mathbb{E}_{(x,y)}[D_{KL}(p^{(T)} \| q_\phi)]$$",
    r"CDLM trains the student with the loss $$L_{Consistency} = \mathbb{E}_{(x,y)}[D_{KL}(q_\phi^- \| q_\phi)]$$",
]


def test_three_different_loss_formulas_stay_three_claims(isolated: Path) -> None:
    rows = [_triage(text) for text in LOSSES] + [_triage(LOSSES[0], model="gpt-y")]
    assert _claims_after_import(isolated, rows) == [[LOSSES[0], LOSSES[0]], [LOSSES[2]], [LOSSES[1]]]


ACCURACY = [
    "Consistency distillation improves accuracy by 12% on GSM8K.",
    "Consistency distillation improves accuracy by 30% on GSM8K.",
]


def test_claims_that_differ_in_a_number_stay_apart(isolated: Path) -> None:
    rows = [_triage(ACCURACY[0]), _triage(ACCURACY[1]), _triage(ACCURACY[0], model="gpt-y")]
    assert _claims_after_import(isolated, rows) == [[ACCURACY[0], ACCURACY[0]], [ACCURACY[1]]]


HEADLINES = [
    "Block-wise causal masking lets diffusion language models reuse the KV cache, cutting latency by 3.6x.",
    "Block-wise causal masking lets diffusion language models reuse the KV cache, cutting latency by 14.5x.",
]


def test_report_headlines_of_one_topic_that_differ_in_a_number_stay_apart(isolated: Path) -> None:
    rows = [_headline(HEADLINES[0]), _headline(HEADLINES[1]), _headline(HEADLINES[0], model="gpt-y")]
    assert _claims_after_import(isolated, rows) == [[HEADLINES[0], HEADLINES[0]], [HEADLINES[1]]]
