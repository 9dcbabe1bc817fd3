"""Counting spans of a text from one encoding of it (`stages.token_spans`) gives exactly
what encoding each span on its own gives (`Tokenizer.count`), on text built to break it:
CJK without spaces, full-width punctuation, contractions, digits, combining marks,
runs of spaces and newlines, and runs far longer than a block without a safe cut."""

from __future__ import annotations

import random

import pytest
import tiktoken

from extract.stages import token_spans
from extract.stages.token_spans import CL100K_PATTERN, span_counters
from extract.stages.tokens import OFFLINE_ENCODING, Tokenizer

from adversarial_text import adversarial_text

TOKENIZER = Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING))


def _spans(rng: random.Random, lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    spans = [(lo, hi)]
    for _ in range(n):
        a = rng.randint(lo, hi)
        b = min(hi, a + rng.choice([0, 1, 5, 40, 60, 300, 2000, 5000, 12000]) + rng.randint(0, 50))
        spans.append((a, b))
        spans.append((lo, b))
        spans.append((a, hi))
    return spans


@pytest.mark.parametrize("seed", range(6))
def test_span_counts_are_those_of_the_span_encoded_alone(seed: int) -> None:
    rng = random.Random(seed)
    before, record, after = (adversarial_text(rng, n) for n in (300, rng.choice([100, 3000, 20000]), 300))
    text = before + record + after
    lo, hi = len(before), len(before) + len(record)
    [counter] = span_counters(text, TOKENIZER, [(lo, hi)])
    for a, b in _spans(rng, lo, hi, 150):
        assert counter.count(a, b) == TOKENIZER.count(text[a:b]), (a, b, text[a:b][:80])


def test_several_records_of_one_document_each_count_their_own_spans() -> None:
    rng = random.Random(7)
    text = adversarial_text(rng, 30000)
    cuts = sorted(rng.sample(range(1, len(text)), 9))
    records = [(a, b) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True) if b - a > 10][::2]
    for (lo, hi), counter in zip(records, span_counters(text, TOKENIZER, records), strict=True):
        for a, b in _spans(rng, lo, hi, 40):
            assert counter.count(a, b) == TOKENIZER.count(text[a:b])


def test_safe_cuts_split_a_count_exactly() -> None:
    # The claim the shortcut rests on, checked directly: across a safe cut p, the count
    # of text[x:y] is the count of text[x:p] plus that of text[p:y].
    rng = random.Random(11)
    encode = TOKENIZER.encoding.encode_ordinary
    checked = 0
    for _ in range(30):
        text = adversarial_text(rng, 2000)
        for match in token_spans._FIRST_SAFE.finditer(text, 1):
            p = match.start()
            x, y = rng.randint(max(0, p - 60), p - 1), rng.randint(p + 1, min(len(text), p + 60))
            assert len(encode(text[x:y])) == len(encode(text[x:p])) + len(encode(text[p:y])), repr(text[x:y])
            checked += 1
    assert checked > 3000


def test_other_patterns_and_surrogates_are_counted_span_by_span() -> None:
    rng = random.Random(3)
    text = adversarial_text(rng, 5000)
    cl100k = TOKENIZER.encoding
    assert cl100k._pat_str == CL100K_PATTERN
    other = tiktoken.Encoding(
        name="words", pat_str=r"\S+|\s+", mergeable_ranks=cl100k._mergeable_ranks, special_tokens={}
    )
    surrogates = text[:2500] + "\ud83d\ude00 \udc80" + text[2500:]
    for tokenizer, doc in ((Tokenizer("words", other), text), (TOKENIZER, surrogates)):
        [counter] = span_counters(doc, tokenizer, [(0, len(doc))])
        assert not counter._tokens  # no shortcut
        for a, b in _spans(rng, 0, len(doc), 20):
            assert counter.count(a, b) == tokenizer.count(doc[a:b])
