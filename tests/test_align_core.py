"""Aligning a quote, called directly: `align_quote` finds a model's quote in a chunk
(exactly, or with whitespace, punctuation, case and width folded away), and the
chunk's offsets plus the alignment's give the quote's place in the document.

The basic exact, normalised, CJK and absent cases are in test_validate_core.py; these
add what they leave open."""

from __future__ import annotations

import hashlib

import pytest
import tiktoken

from extract.models import Record
from extract.stages.chunk import OFFLINE_ENCODING, Tokenizer, chunk_record
from extract.stages.validate import align_quote

TOKENIZER = Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING))


def test_the_first_of_two_exact_occurrences_is_taken() -> None:
    chunk = "Batch size 4096 helps. Later: Batch size 4096 helps."
    alignment = align_quote("Batch size 4096 helps", chunk)
    assert alignment is not None
    assert (alignment.status, alignment.start, alignment.end) == ("exact", 0, 21)


def test_an_exact_match_wins_over_an_earlier_normalised_one() -> None:
    chunk = "batch-size 4096 helps; then: Batch size 4096 helps."
    alignment = align_quote("Batch size 4096 helps", chunk)
    assert alignment is not None and alignment.status == "exact"
    assert alignment.start == chunk.index("Batch size")


@pytest.mark.parametrize(
    ("quote", "chunk", "span"),
    [
        # Full-width letters, digits and signs (NFKC) against the chunk's ASCII.
        ("ＧＰＴ－４ scores ８６％ on MMLU", "Result: GPT-4 scores 86% on MMLU.", "GPT-4 scores 86% on MMLU"),
        # Casefold, not lower(): ß folds to ss.
        ("die STRASSE ist breit", "Er sagt: Die Straße ist breit!", "Die Straße ist breit"),
        # Curly against straight quotes, a dash against a hyphen, a line break inside the quote.
        ("the “best” model—by far", 'Overall the "best"\nmodel - by far, they say.', 'the "best"\nmodel - by far'),
        # A quote with Markdown emphasis the chunk does not have.
        ("**Scaling** _helps_ a lot", "We find scaling helps a lot.", "scaling helps a lot"),
        # CJK with full-width punctuation and spaces the chunk does not have.
        ("该方法，在 数学推理上　提升了１２％", "摘要：该方法在数学推理上提升了12%。", "该方法在数学推理上提升了12"),
    ],
)
def test_a_normalised_quote_spans_the_chunk_text_it_stands_for(quote: str, chunk: str, span: str) -> None:
    alignment = align_quote(quote, chunk)
    assert alignment is not None
    assert alignment.status == "normalised"
    # From the first to the last letter or digit matched: no punctuation at either edge.
    assert chunk[alignment.start : alignment.end] == span


@pytest.mark.parametrize(
    "quote",
    [
        "Batch size 8192 helps",  # one digit differs
        "Batch size 4096 helps a lot",  # more than the chunk says
        "size 4096 helps Batch",  # the same words in another order
        "批量大小4096有帮助",  # a translation
        "—— … !!",  # nothing to look for once folded
    ],
)
def test_a_quote_the_chunk_does_not_hold_is_not_aligned(quote: str) -> None:
    assert align_quote(quote, "Batch size 4096 helps. The rest is noise.") is None


def test_a_quote_across_two_chunks_is_in_neither() -> None:
    text = "First sentence ends here. " * 20 + "Second part starts here. " * 20
    doc_sha = hashlib.sha256(text.encode()).hexdigest()
    record = Record("r-x", doc_sha, 0, "X", (), (), "X", 0, len(text))
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=100, overlap_tokens=0, first_idx=0)
    seam = next(c for c in chunks if "First" in c.text and c.char_end < len(text))
    after = text[seam.char_end :].lstrip()
    quote = seam.text[-30:] + " " + after[:30]
    assert quote in text  # the document holds it ...
    assert all(align_quote(quote, c.text) is None for c in chunks)  # ... no chunk does


def test_chunk_offsets_plus_alignment_offsets_are_document_offsets() -> None:
    """What the extract stage stores: the quote's place in the document, not in the chunk."""
    preamble = "# Digest 😀\n\n摘要：前言。\n\n"
    body = " ".join(f"Claim {i}: method {i} improves accuracy by {i}.{i}% on task {i}." for i in range(40))
    text = preamble + body + "\n"
    doc_sha = hashlib.sha256(text.encode()).hexdigest()
    record = Record("r-x", doc_sha, 0, "X", (), (), "X", len(preamble), len(preamble) + len(body))
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=60, overlap_tokens=0, first_idx=0)
    assert len(chunks) > 3
    cases = [
        (
            "method 21 improves accuracy by 21.21% on task 21",
            "exact",
            "method 21 improves accuracy by 21.21% on task 21",
        ),
        (
            "METHOD 39 IMPROVES ACCURACY BY 39 39 ON TASK 39",
            "normalised",
            "method 39 improves accuracy by 39.39% on task 39",
        ),
    ]
    for quote, status, want in cases:
        [chunk] = [c for c in chunks if align_quote(quote, c.text) is not None]
        alignment = align_quote(quote, chunk.text)
        assert alignment is not None and alignment.status == status
        start, end = chunk.char_start + alignment.start, chunk.char_start + alignment.end
        assert text[start:end] == chunk.text[alignment.start : alignment.end] == want
        assert text.index(want) == start  # the one place in the document it stands
