"""The validate stage's pure helpers, called directly: what is a claim, where a quote stands, what parses."""

from __future__ import annotations

import pytest

from extract.schemas import TriageClaim
from extract.stages.validate import (
    AnswerError,
    align_quote,
    claim_problem,
    names_nothing,
    not_a_claim,
    parse_json,
    parse_triage,
    resolve_citation,
)

CHUNK = (
    "Mixture-of-experts routing with top-2 experts improves perplexity by 3.1% at equal compute. "
    "See https://arxiv.org/abs/2402.01035 for details."
)
QUOTE = "routing with top-2 experts improves perplexity by 3.1%"
DOMAINS = ["architecture", "other"]


def _claim(text: str, quote: str = QUOTE, domain: str = "architecture") -> TriageClaim:
    return TriageClaim(
        text=text,
        stance="consensus",
        domain=domain,
        tags=["MoE"],
        topic=None,
        citations=["Shazeer2017Outrageous"],
        quote=quote,
    )


# --- not_a_claim / claim_problem -------------------------------------------------------------

NOT_CLAIMS = [
    ("https://arxiv.org/abs/2402.01035", "a URL"),
    ("http://example.com/paper.pdf", "a URL"),
    ("<https://example.com/paper>", "a URL"),
    ("[Switch Transformers](https://arxiv.org/abs/2101.03961)", "a URL"),
    ("2402.01035", "an arXiv id"),
    ("arXiv:2402.01035v2", "an arXiv id"),
    ("(arXiv:2402.01035)", "an arXiv id"),
    ("Vaswani2017Attention", "a citation key"),
    ("smith2020", "a citation key"),
    ("[@smith2020]", "a citation key"),
    ("Shazeer2017Outrageous; Vaswani2017Attention.", "a citation key"),
    (r"\cite{smith2020, Vaswani2017Attention}", "a citation key"),
    ("L = -E[log p(x)]", "a formula"),
    (r"$$L_{DLM} = -\mathbb{E}_{(x,\hat{y})\sim\mathcal{D}} \mathbb{E}_t\left[\log p_\theta(x)\right]$$", "a formula"),
    (r"$x^2 + y^2$", "a formula"),
    (r"\[ r_{i,t}(\theta) = \frac{\pi_\theta}{\pi_{old}} \]", "a formula"),
    ("p(y|x) ∝ exp(β r(x, y))", "a formula"),
    ("attn_weights = F.softmax(attn_scores, dim=-1)", "a code line"),
    ("import torch.nn.functional as F", "a code line"),
    ("`for layer in self.layers:`", "a code line"),
    ("$ pip install flash-attn", "a code line"),
    ("| GRPO | 73.5% | 41.2% |", "a table row"),
    ("|---|---|", "a table row"),
    ("Model\tGSM8K\tMATH", "a table row"),
    ("## Results", "a heading"),
    ("#PHYBench", "a heading"),
    ("**核心方法论**", "a heading"),
    ("Predicting the Order of Upcoming Tokens Improves Language Modeling", "a heading"),
    ("实验结果", "a heading"),
    ("<img src=x onerror=alert(9)>", "HTML markup"),
    ("<img src=x onerror=alert(9)> Agents need 3 samples.", "HTML markup and a few words"),
    ("https://example.org/agents Agents need samples.", "a link and a few words"),
]

CLAIMS = [
    "MoE routing with top-2 experts improves perplexity by 3.1% (Shazeer2017Outrageous)",
    "Loss scales as L = C^-0.05 with compute, per Kaplan et al.",
    "该方法在数学推理上提升了12%",
    "Scaling helps.",
    "The released code at https://github.com/example/repo reproduces the 2x speed-up.",
    "Results on arXiv:2402.01035 show that $x$ tokens suffice.",
    "Accuracy > 90% on GSM8K after distillation.",
    "BERT 2019 outperforms ELMo on GLUE.",
    "Using torch.compile() speeds up training by 2x on A100s.",
    "Accuracy = 90% on GSM8K, up from 71% with the base model.",
    "GRPO scores 73.5 on GSM8K | PPO scores 70.1, so GRPO wins by 3.4 points.",
    "混合专家模型提升推理效率",
    "This results in an immediate 2$\\times$ memory savings compared to KV caching.",
]


@pytest.mark.parametrize(("text", "why"), NOT_CLAIMS)
def test_text_that_is_only_a_reference_formula_code_table_row_or_heading_is_not_a_claim(text: str, why: str) -> None:
    assert not_a_claim(text) == why


@pytest.mark.parametrize("text", CLAIMS)
def test_sentences_with_references_or_math_in_them_are_claims(text: str) -> None:
    assert not_a_claim(text) is None


@pytest.mark.parametrize(("text", "why"), NOT_CLAIMS)
def test_claim_problem_rejects_non_claims_even_with_a_grounded_quote(text: str, why: str) -> None:
    assert align_quote(QUOTE, CHUNK) is not None  # the evidence itself is fine
    problem = claim_problem(_claim(text), CHUNK, DOMAINS)
    assert problem is not None
    reason, detail = problem
    assert reason == "not_a_claim"
    assert why in detail


@pytest.mark.parametrize("text", CLAIMS)
def test_claim_problem_keeps_real_claims_with_a_grounded_quote(text: str) -> None:
    # Each quotes itself: a chunk holding the sentence (its numbers are its quote's).
    assert claim_problem(_claim(text, quote=text), f"{CHUNK} {text}", DOMAINS) is None


def test_a_markup_claim_is_not_called_a_url() -> None:
    problem = claim_problem(_claim("<img src=x onerror=alert(9)> Agents need 3 samples."), CHUNK, DOMAINS)
    assert problem is not None and problem[0] == "not_a_claim"
    assert problem[1].startswith("the claim text is only HTML markup and a few words: ")
    assert "URL" not in problem[1]


# --- numbers a claim states must be in its quote ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Top-2 MoE routing improves perplexity by 3.1%.",
        "Perplexity improves by 3.1 % with top-2 routing.",  # another spelling of the quote's number
        "Top-2 routing helps perplexity (about 3.1 points).",  # a bare number is met by 3.1% too
        "Top-2 routing helps perplexity, per Shazeer2017Outrageous [1].",  # names and markers are no numbers
    ],
)
def test_a_claim_whose_numbers_its_quote_states_is_kept(text: str) -> None:
    assert claim_problem(_claim(text), CHUNK, DOMAINS) is None


@pytest.mark.parametrize(
    ("text", "quote", "missing"),
    [
        ("Top-2 MoE routing improves perplexity by 4.7%.", QUOTE, "4.7%"),  # invented, the quote says 3.1%
        ("Top-2 MoE routing improves perplexity by [47%].", QUOTE, "47%"),
        ("Top-2 routing is 2x-9x better on perplexity.", QUOTE, "2x, 9x"),
        # The quote's `top-2` is a name, not the number 2.
        ("Top-2 routing improves perplexity by 3.1% over 2 baselines.", QUOTE, "2"),
        # Half a number: the quote cuts 3.1% to 1%, and 1% is not what the chunk says.
        ("Top-2 routing improves perplexity by 1% at equal compute.", "1% at equal compute", "1%"),
        # The loose alignment ignores punctuation: a quote `31` stands for the chunk's `3.1%`.
        ("Top-2 routing improves perplexity by 31.", "improves perplexity by 31 at equal compute", "31"),
    ],
)
def test_a_number_its_quote_does_not_state_rejects_the_claim(text: str, quote: str, missing: str) -> None:
    problem = claim_problem(_claim(text, quote=quote), CHUNK, DOMAINS)
    assert problem is not None and problem[0] == "unsupported_number"
    assert problem[1].startswith(f"{missing} in the claim text, not stated by its quote: ")


def test_a_number_the_chunk_states_outside_the_quote_does_not_support_a_claim() -> None:
    chunk = f"{CHUNK} A dense baseline needs 2x the compute."
    assert claim_problem(_claim("Top-2 routing needs 2x less compute."), chunk, DOMAINS) == (
        "unsupported_number",
        f"2x in the claim text, not stated by its quote: {QUOTE!r}",
    )
    wider = f"{QUOTE} at equal compute. See https://arxiv.org/abs/2402.01035 for details. A dense baseline needs 2x"
    assert claim_problem(_claim("Top-2 routing needs 2x less compute.", quote=wider), chunk, DOMAINS) is None


# --- citations: what a triage claim's citation names -------------------------------------------

KEYS = {"Shazeer2017Outrageous": "r-1", "Thread2025Post": "r-2"}
ARXIV = {"1701.06538": "r-1"}
URLS = {"https://github.com/example/moe": "r-1"}


@pytest.mark.parametrize(
    "raw",
    [
        "Shazeer2017Outrageous",  # a record's key
        "1701.06538",  # a record's arXiv id
        "arXiv:1701.06538v2",
        "https://arxiv.org/abs/1701.06538",
        "https://github.com/example/moe/",  # a record's URL, a trailing slash aside
        "2402.01035",  # no record's, but the chunk states it
        "https://arxiv.org/abs/2402.01035v1",
        "hep-th/9901001",  # an old-style id, a record's
        "arXiv:math.ag/0601001v2",  # an old-style id the chunk states
    ],
)
def test_a_citation_naming_a_record_or_stated_by_the_chunk_counts(raw: str) -> None:
    chunk = f"{CHUNK} It extends math.AG/0601001."
    assert not names_nothing(resolve_citation(raw, KEYS, {**ARXIV, "hep-th/9901001": "r-3"}, URLS), chunk)


def test_an_old_style_arxiv_id_is_an_arxiv_id() -> None:
    found = resolve_citation("arXiv:math.ag/0601001v2", KEYS, ARXIV, URLS)
    assert (found.kind, found.value, found.record_id) == ("arxiv", "math.AG/0601001", None)
    assert names_nothing(found, CHUNK)  # neither a record's nor in the chunk


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Bogus2099Key", "Bogus2099Key"),  # a key no record has
        ("2401.99999", "2401.99999"),  # an arXiv id made up
        ("arXiv:2402.0103", "2402.0103"),  # a prefix of the chunk's id is not its id
        ("https://arxiv.org/abs/2401.99999", "2401.99999"),
        ("https://example.org/made-up", "https://example.org/made-up"),  # a URL made up
    ],
)
def test_a_made_up_citation_names_nothing(raw: str, value: str) -> None:
    found = resolve_citation(raw, KEYS, ARXIV, URLS)
    assert found.value == value and found.record_id is None
    assert names_nothing(found, CHUNK)


def _reason(claim: TriageClaim) -> str | None:
    problem = claim_problem(claim, CHUNK, DOMAINS)
    return problem[0] if problem else None


def test_claim_problem_still_reports_its_other_reasons() -> None:
    assert claim_problem(_claim("   "), CHUNK, DOMAINS) == ("empty_text", "the claim text is empty")
    assert _reason(_claim("Scaling helps.", domain="biology")) == "unknown_domain"
    assert _reason(_claim("Scaling helps.", quote="3.1%")) == "quote_too_short"
    assert _reason(_claim("Scaling helps.", quote="dense models always win")) == "quote_not_found"


# --- align_quote ------------------------------------------------------------------------------


def test_align_quote_exact_match_gives_chunk_offsets() -> None:
    alignment = align_quote(QUOTE, CHUNK)
    assert alignment is not None
    assert alignment.status == "exact"
    assert CHUNK[alignment.start : alignment.end] == QUOTE


def test_align_quote_ignores_whitespace_punctuation_and_case() -> None:
    chunk = "Intro. The model, trained  on\n2T tokens — beats LLaMA-2 on MMLU! Then more."
    alignment = align_quote("the model trained on 2T tokens beats llama 2 on mmlu", chunk)
    assert alignment is not None
    assert alignment.status == "normalised"
    # From the first to the last matched character of the chunk, not the quote's length.
    assert chunk[alignment.start : alignment.end] == "The model, trained  on\n2T tokens — beats LLaMA-2 on MMLU"


def test_align_quote_finds_cjk_text() -> None:
    chunk = "摘要：该方法在数学推理上提升了12%，并降低了成本。"
    exact = align_quote("该方法在数学推理上提升了12%", chunk)
    assert exact is not None and exact.status == "exact"
    assert chunk[exact.start : exact.end] == "该方法在数学推理上提升了12%"
    loose = align_quote("该方法 在数学推理上 提升了 12", chunk)
    assert loose is not None and loose.status == "normalised"
    assert chunk[loose.start : loose.end] == "该方法在数学推理上提升了12"


def test_align_quote_returns_none_when_the_quote_is_absent() -> None:
    assert align_quote("dense models always win", CHUNK) is None
    assert align_quote("...", CHUNK) is None  # nothing left to look for after folding


# --- parse_json / parse_triage ----------------------------------------------------------------

ANSWER = (
    '{"claims": [{"text": "Scaling helps.", "stance": "consensus", "domain": "other", "tags": ["scaling"], '
    '"topic": null, "citations": [], "quote": "scaling helps a lot"}]}'
)


def test_parse_json_accepts_a_json_fence() -> None:
    assert parse_json('```json\n{"claims": []}\n```') == {"claims": []}
    assert parse_json("  ```\n[1, 2]\n```  ") == [1, 2]


def test_parse_triage_reads_a_fenced_answer() -> None:
    answer = parse_triage(f"```json\n{ANSWER}\n```")
    assert [c.text for c in answer.claims] == ["Scaling helps."]
    assert answer.claims[0].topic is None and answer.claims[0].quote == "scaling helps a lot"


def test_invalid_json_is_reported_with_its_position() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_json('{"claims": [}')
    assert caught.value.reason == "invalid_json"
    assert "line 1 column 13" in caught.value.detail
    with pytest.raises(AnswerError) as prose:
        parse_triage("Here are the claims: none.")
    assert prose.value.reason == "invalid_json"


def test_schema_violation_names_the_offending_field() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_triage(ANSWER.replace('"consensus"', '"maybe"'))
    assert caught.value.reason == "schema_violation"
    assert "claims.0.stance" in caught.value.detail
    with pytest.raises(AnswerError) as extra:
        parse_triage('{"claims": [], "notes": "none"}')
    assert extra.value.reason == "schema_violation"
    assert "notes" in extra.value.detail
