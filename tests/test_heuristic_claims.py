"""The offline baseline takes findings as claims, never formulas, code, tables, links or headings.

Over a small dump written here (not from the seeds) through `extract run`, and its
selection asked directly."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from extract.config import Domain
from extract.providers.heuristic import Heuristic
from extract.schemas import TriageClaim
from extract.stages.validate import claim_problem

from pipelines import run_cli, write_pipeline

FINDING_EN = (
    "We show that the sparse router outperforms dense routing by 4.2 points on MMLU while using 30% less compute."
)
FINDING_ZH = "实验表明，该方法将推理延迟降低了 35%，显著优于此前的基线方法。"

# Every line that is not one of the two findings carries a finding cue (a number, a
# comparison, "improves", "显著"...), so only its kind can keep it out.
DUMP = f"""# Sparse Routing Notes

## Router Results Improve Throughput by 3x
https://arxiv.org/abs/2403.12345

{FINDING_EN}

$$L_{{aux}} = \\alpha \\sum_{{i=1}}^{{N}} f_i P_i \\quad \\text{{improves balance by }} 12\\%$$

This note collects what we tried with the router last week.

| Model | MMLU | Speed-up |
|---|---|---|
| Dense baseline outperformed by ours | 61.0 | 1.0x |
| Sparse router (ours) improves on dense | 65.2 | 3.1x faster |

```python
# Speeds up inference by 2x compared to the dense baseline
router = TopKRouter(k=2, capacity_factor=1.25)
loss = router.aux_loss(logits) * 0.01  # reduces expert collapse by 15%
```

## 推理加速
{FINDING_ZH}

import torch
# 2. 计算注意力分数，速度显著提升 30%，优于稠密注意力
scores = torch.softmax(q @ k.T / 8.0, dim=-1)

https://github.com/example/sparse-router improves 3x

Sparse Routing Improves Throughput Over Dense Baselines

[Benchmark results: 3x faster than dense](https://example.com/results)
"""


def _heuristic_triage(isolated: Path, dump: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A heuristic run over `dump` (one markdown file): its summary and its triage observations."""
    dumps = isolated / "dumps"
    dumps.mkdir()
    (dumps / "notes.md").write_text(dump, encoding="utf-8")
    pipeline = write_pipeline(isolated, inputs=[dumps], model="heuristic")
    result = run_cli("run", str(pipeline), "--json")
    assert result.exit_code == 0, result.output
    exported = run_cli("export", "observations", "--format", "jsonl")
    triage = [json.loads(line) for line in exported.stdout.splitlines() if '"ref_triage"' in line]
    return json.loads(result.stdout), triage


def test_only_the_finding_sentences_of_a_dump_become_claims(isolated: Path) -> None:
    summary, triage = _heuristic_triage(isolated, DUMP)
    assert summary["rejects"] == 0
    # Ingest normalises the text (NFKC: the full-width commas become ASCII ones).
    assert sorted(o["text"] for o in triage) == sorted([FINDING_EN, unicodedata.normalize("NFKC", FINDING_ZH)])
    assert all(o["quote"] == o["text"] for o in triage)


def _request(data: str, records: str = "- Doe2025Router | 2403.12345 | Sparse Routing Notes") -> str:
    """A triage request as the pipeline writes it (records, then the data between boundary lines)."""
    marker = "<<<DATA-0123abcd>>>"
    header = f"Records in this data (citation key, arXiv ids, title):\n{records}\n\n"
    return f"{header}{marker} BEGIN DATA\n{data}\n{marker} END DATA"


def _claim_texts(data: str, max_claims: int = 8, records: str | None = None) -> list[str]:
    heuristic = Heuristic(domains=[Domain(slug="other")], topics=[], max_claims=max_claims)
    answer = heuristic.answer(_request(data) if records is None else _request(data, records))
    return [c["text"] for c in answer["claims"]]


def test_findings_are_preferred_to_mere_statements() -> None:
    data = (
        "The router sends each token to two experts chosen by a learned gate.\n"
        "The authors release their training code and the evaluation harness online for everyone.\n"
        "Compared with dense routing, the sparse router is 2.3x faster and improves accuracy by 1.5 points.\n"
        "We propose a load-balancing loss that keeps every expert in use during training.\n"
    )
    assert _claim_texts(data, max_claims=1) == [
        "Compared with dense routing, the sparse router is 2.3x faster and improves accuracy by 1.5 points."
    ]
    # Without a cue a sentence is no claim; a proposal is, though it ranks below a result.
    assert _claim_texts(data) == [
        "Compared with dense routing, the sparse router is 2.3x faster and improves accuracy by 1.5 points.",
        "We propose a load-balancing loss that keeps every expert in use during training.",
    ]


def test_unfenced_code_between_code_lines_is_skipped_whatever_it_says() -> None:
    data = (
        "def train(model, steps=100):\n"
        "    # 训练速度显著提升 30%，优于基线方法的实现\n"
        "    Note: this loop improves throughput by 25% over the naive version on 8 GPUs\n"
        "    return model.fit(steps)\n"
        "The fused kernel reduces memory traffic by 40% compared to the unfused baseline.\n"
    )
    assert _claim_texts(data) == ["The fused kernel reduces memory traffic by 40% compared to the unfused baseline."]


def test_questions_colons_titles_and_markup_are_no_claims() -> None:
    data = (
        "Does sparse routing really beat dense routing by 10% on long inputs?\n"
        "The improved loss is defined as follows, with 3 terms that reduce variance:\n"
        "Sparse routing beats dense routing by 10 points on long inputs\n"
        "With $k=2$ experts the router improves accuracy by 3% over $k=1$.\n"
        "Two experts per token cut the loss by 3% relative to one expert per token.\n"
    )
    records = "- Doe2025Router | - | Sparse routing beats dense routing by 10 points on long inputs"
    assert _claim_texts(data, records=records) == [
        "Two experts per token cut the loss by 3% relative to one expert per token."
    ]


def test_list_markers_and_emoji_are_not_part_of_the_claim() -> None:
    data = (
        "1. 🚀 实验证明，该方法将吞吐量提高了 74%，并将长尾延迟减少了 75%。\n"
        "- Sparse attention is 3x faster than dense attention at 128K tokens.\n"
    )
    assert _claim_texts(data) == [
        "实验证明，该方法将吞吐量提高了 74%，并将长尾延迟减少了 75%。",
        "Sparse attention is 3x faster than dense attention at 128K tokens.",
    ]


def test_the_same_request_gets_the_same_answer() -> None:
    heuristic = Heuristic(domains=[Domain(slug="other")], topics=[], max_claims=3)
    request = _request(DUMP)
    assert heuristic.answer(request) == heuristic.answer(request)


# A dump of headings, captions, comments and asides that each carry a finding cue, between the
# findings a reader would take (Chinese and English; written here, not from the seeds).
FINDINGS_2 = [
    "实验表明,稀疏路由将推理延迟降低了 35%,显著优于稠密路由基线。",
    "结果:稀疏路由在长文本任务上的准确率提升了 12%。",
    "稀疏路由在长上下文推理时比稠密路由快 3 倍",
    "注意力黑洞现象: 研究者发现,很多注意力头会把超过 30% 的权重分配给第一个符号",
    "Sparse attention is 3x faster than dense attention at 128K tokens",
    "I measured a 2.5x speed-up over the dense baseline on my own cluster.",
]
DUMP_2 = """#稀疏路由
稀疏路由让推理成本直降 40%，精度不降反升

1.2 稀疏路由带来的推理加速与成本下降
实验表明，稀疏路由将推理延迟降低了 35%，显著优于稠密路由基线。

图 3：稀疏路由器的结构示意图，推理速度提升 2 倍
表 1 概述了实验中用到的全部基线模型及其设置。

Day 2|稀疏路由：基于门控的专家选择，让推理速度起飞
//这里用的是 7B 模型，规模太小，推理加速效果不够典型
结果：稀疏路由在长文本任务上的准确率提升了 12%。

平台已经上线了 22 个不同规模的稀疏路由模型

稀疏路由以全局优化重塑大模型推理加速

- 稀疏路由在长上下文推理时比稠密路由快 3 倍
- 注意力黑洞现象: 研究者发现，很多注意力头会把超过 30% 的权重分配给第一个符号

但让我问你刚才提出的问题。
我认为稀疏路由会显著降低训练成本，这一点已被证明。
他在发布会上说：「稀疏路由显著提升了吞吐量。我们还在 8 张卡上验证了 3 倍加速。」

# Sparse routing in practice
Per-example gradients: a new frontier for understanding and improving optimizers

Figure 2: Sparse routing is 3x faster than dense routing at 128K tokens.
// the fused router kernel is 2x faster than the naive loop
3.1 Sparse routers improve throughput on long inputs

- Sparse attention is 3x faster than dense attention at 128K tokens

I think sparse routing improves robustness, and I recommend it to everyone.
I measured a 2.5x speed-up over the dense baseline on my own cluster.
"""


def test_headings_captions_comments_and_asides_of_a_dump_are_no_claims(isolated: Path) -> None:
    _, triage = _heuristic_triage(isolated, DUMP_2)
    assert sorted(o["text"] for o in triage) == sorted(FINDINGS_2)


@pytest.mark.parametrize(
    "data",
    [
        # A headline under a heading, a numbered section, a caption, a figure's number as the only number.
        "#稀疏路由\n稀疏路由让推理成本直降 40%，精度不降反升",
        "1.2 稀疏路由带来的推理加速与成本下降",
        "图 3：稀疏路由器的结构示意图，推理速度提升 2 倍",
        "Figure 2: Sparse routing is 3x faster than dense routing at 128K tokens.",
        "表 1 概述了实验中用到的全部基线模型及其设置。",
        "In Figure 4 the authors explain how the router picks experts for each token.",
        # A label and a bar, a comment.
        "Day 2|稀疏路由：基于门控的专家选择，让推理速度起飞",
        "//这里用的是 7B 模型，规模太小，推理加速效果不够典型",
        # Title-like phrases (no end, no clause) that state no measured result.
        "平台已经上线了 22 个不同规模的稀疏路由模型",
        "稀疏路由以全局优化重塑大模型推理加速",
        "Per-example gradients: a new frontier for understanding and improving optimizers",
        "The models fine-tuned with the new router have been released online up to 128k context",
        # The speaker's own asides, and sentences cut out of a quotation.
        "但让我问你刚才提出的问题。",
        "我认为稀疏路由会显著降低训练成本，这一点已被证明。",
        "I think sparse routing improves robustness, and I recommend it to everyone.",
        "他在发布会上说：「稀疏路由显著提升了吞吐量。我们还在 8 张卡上验证了 3 倍加速。」",
    ],
)
def test_lines_that_only_look_like_findings_are_no_claims(data: str) -> None:
    assert _claim_texts(data) == []


def test_a_quotation_is_taken_whole_with_its_closing_mark() -> None:
    """Its closing mark belongs to it (and a question stays a question inside one)."""
    data = "“稀疏路由将推理延迟降低了 35%，显著优于稠密路由基线。”\n他问：「稀疏路由真的能把推理延迟降低 35% 吗？」\n"
    assert _claim_texts(data) == ["“稀疏路由将推理延迟降低了 35%，显著优于稠密路由基线。”"]


def test_short_notes_and_colons_keep_their_findings() -> None:
    """What the rules above must not take away: a measured note with no full stop, a finding after
    a colon, a speaker's own measurement, a sentence that names a figure beside its finding."""
    data = (
        "- 稀疏路由在长上下文推理时比稠密路由快 3 倍\n"
        "结果：稀疏路由在长文本任务上的准确率提升了 12%。\n"
        "I measured a 2.5x speed-up over the dense baseline on my own cluster.\n"
        "As Figure 3 shows, sparse routing is 2x faster than dense routing at 32K tokens.\n"
    )
    assert _claim_texts(data) == [
        "稀疏路由在长上下文推理时比稠密路由快 3 倍",
        "结果：稀疏路由在长文本任务上的准确率提升了 12%。",
        "I measured a 2.5x speed-up over the dense baseline on my own cluster.",
        "As Figure 3 shows, sparse routing is 2x faster than dense routing at 32K tokens.",
    ]


def test_its_claims_state_only_the_numbers_of_their_quotes() -> None:
    """A claim is its quote without markdown emphasis, so the validate stage's number check
    (every number of the claim in its quote) passes by construction."""
    emphasis = "The **sparse** router is **2.5**x faster and uses **40**% less memory than dense routing."
    data = f"{emphasis}\n\n{DUMP}"
    heuristic = Heuristic(domains=[Domain(slug="other")], topics=[], max_claims=20)
    claims = heuristic.answer(_request(data))["claims"]
    assert emphasis in [c["quote"] for c in claims]
    for claim in claims:
        assert claim_problem(TriageClaim.model_validate(claim), data, ["other"]) is None, claim
