"""The chunk stage's core, called directly: `chunk_record` cuts one record of a document
into token-bounded pieces whose offsets index the document's text exactly."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import tiktoken

from extract.models import Chunk, Record
from extract.stages.chunk import OFFLINE_ENCODING, Tokenizer, chunk_record, split_chunk

TOKENIZER = Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING))
# Counted independently of the stage (which counts long texts piecewise).
ENCODING = tiktoken.get_encoding(OFFLINE_ENCODING)

# Text before the record, with astral and CJK characters: offsets count code points of the
# whole document, not bytes and not positions within the record.
PREAMBLE = "# Dump 😀 摘要\n\nNot part of the record.\n\n"
EPILOGUE = "\n\n## Next record\nNever in a chunk of the first record.\n"


def _doc(body: str) -> tuple[str, Record]:
    text = PREAMBLE + body + EPILOGUE
    start = len(PREAMBLE)
    doc_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    record = Record("r-test", doc_sha, 0, "Test", (), (), "Test2024", start, start + len(body))
    return text, record


def _prose(n: int) -> str:
    """`n` paragraphs of three short, distinct sentences each."""
    return "\n\n".join(
        " ".join(f"Sentence {p}.{s} says that method {p} changes metric {s} by {p + s}%." for s in range(3))
        for p in range(n)
    )


def _check_exact(text: str, record: Record, chunks: list[Chunk], max_tokens: int, first_idx: int = 0) -> None:
    """What every chunk of a record must hold, whatever the record's text."""
    assert chunks, "a record with text gives at least one chunk"
    for i, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.char_start : chunk.char_end]  # offsets map back exactly
        assert record.char_start <= chunk.char_start < chunk.char_end <= record.char_end  # never past the record
        assert chunk.text == chunk.text.strip()  # no whitespace at either edge
        assert chunk.n_tokens == len(ENCODING.encode_ordinary(chunk.text)) <= max_tokens
        assert chunk.idx == first_idx + i
        assert (chunk.doc_sha256, chunk.record_id) == (record.doc_sha256, record.record_id)
    # In document order, and together they cover every non-space character of the record.
    assert [c.char_start for c in chunks] == sorted(c.char_start for c in chunks)
    covered = set().union(*(range(c.char_start, c.char_end) for c in chunks))
    missing = [i for i in range(record.char_start, record.char_end) if not text[i].isspace() and i not in covered]
    assert missing == []


def test_a_record_within_the_budget_is_one_chunk_of_its_text() -> None:
    text, record = _doc("  Paper A shows that larger batches speed up training by 30%.\n")
    [chunk] = chunk_record(text, record, TOKENIZER, max_tokens=100, overlap_tokens=10, first_idx=7)
    assert chunk.text == "Paper A shows that larger batches speed up training by 30%."
    assert text.index(chunk.text) == chunk.char_start  # a document offset, after the preamble
    assert chunk.idx == 7


@pytest.mark.parametrize("max_tokens", [40, 64, 200])
def test_a_long_record_is_cut_within_the_token_limit_at_sentence_boundaries(max_tokens: int) -> None:
    text, record = _doc(_prose(12))
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=max_tokens, overlap_tokens=0, first_idx=0)
    assert len(chunks) >= len(ENCODING.encode_ordinary(text[record.char_start : record.char_end])) // max_tokens
    _check_exact(text, record, chunks, max_tokens)
    for chunk in chunks:
        # Every piece is whole sentences: it starts a sentence and ends one.
        assert chunk.text.startswith("Sentence ") and chunk.text.endswith("%.")
    # Without overlap, no character is in two chunks.
    assert all(a.char_end <= b.char_start for a, b in itertools.pairwise(chunks))


def test_consecutive_chunks_overlap_by_whole_sentences_up_to_the_overlap_budget() -> None:
    # One paragraph of 36 sentences: the units cut and overlapped are its sentences.
    text, record = _doc(_prose(12).replace("\n\n", " "))
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=80, overlap_tokens=30, first_idx=0)
    _check_exact(text, record, chunks, 80)
    assert len(chunks) >= 3
    for a, b in itertools.pairwise(chunks):
        assert b.char_start < a.char_end, "consecutive chunks share text"
        shared = text[b.char_start : a.char_end]
        assert shared.startswith("Sentence ") and shared.endswith("%.")  # whole sentences
        assert len(ENCODING.encode_ordinary(shared)) <= 30 + 2  # the budget, give or take a join
    without = chunk_record(text, record, TOKENIZER, max_tokens=80, overlap_tokens=0, first_idx=0)
    assert len(without) < len(chunks)


def test_a_huge_single_line_without_boundaries_is_cut_by_tokens() -> None:
    # No newline, no sentence end, no whitespace: only a cut by tokens helps.
    body = "".join(f"tok{i:05d}_" for i in range(12_000))  # 120,000 characters
    text, record = _doc(body)
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=500, overlap_tokens=50, first_idx=0)
    _check_exact(text, record, chunks, 500)
    assert len(chunks) > len(ENCODING.encode_ordinary(body)) // 500
    assert chunks[0].char_start == record.char_start and chunks[-1].char_end == record.char_end


def test_cjk_text_is_cut_after_full_width_sentence_ends() -> None:
    sentences = [f"第{i}项研究表明该方法在数学推理上提升了{i}个百分点。" for i in range(60)]
    text, record = _doc("".join(sentences))  # no spaces, no newlines
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=60, overlap_tokens=0, first_idx=0)
    _check_exact(text, record, chunks, 60)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("第") and chunk.text.endswith("。")
    assert "".join(c.text for c in chunks) == "".join(sentences)


def test_paragraphs_are_preferred_to_sentences_as_cut_points() -> None:
    paragraphs = [f"Para {p} first. Para {p} second. Para {p} third." for p in range(8)]
    text, record = _doc("\n\n".join(paragraphs))
    per_paragraph = len(ENCODING.encode_ordinary(paragraphs[0]))
    # Room for two paragraphs but not three: every chunk is whole paragraphs.
    chunks = chunk_record(text, record, TOKENIZER, max_tokens=2 * per_paragraph + 4, overlap_tokens=0, first_idx=0)
    _check_exact(text, record, chunks, 2 * per_paragraph + 4)
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 2]) for i in range(0, 8, 2)]


def test_chunk_ids_differ_per_span_and_are_stable() -> None:
    text, record = _doc(_prose(6))
    first = chunk_record(text, record, TOKENIZER, max_tokens=60, overlap_tokens=10, first_idx=0)
    again = chunk_record(text, record, TOKENIZER, max_tokens=60, overlap_tokens=10, first_idx=0)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)


def test_split_chunk_halves_a_chunk_at_the_boundary_nearest_its_middle() -> None:
    text, record = _doc(_prose(4))
    [whole] = chunk_record(text, record, TOKENIZER, max_tokens=10_000, overlap_tokens=0, first_idx=3)
    halves = split_chunk(text, whole, TOKENIZER)
    assert halves is not None
    left, right = halves
    assert (left.idx, right.idx) == (6, 7)
    for half in halves:
        assert half.text == text[half.char_start : half.char_end]
        assert half.n_tokens == len(ENCODING.encode_ordinary(half.text)) < whole.n_tokens
    assert left.char_start == whole.char_start and right.char_end == whole.char_end
    assert text[left.char_end : right.char_start].strip() == ""  # nothing lost between the halves
    assert left.text.endswith("%.") and right.text.startswith("Sentence 2.0")  # the paragraph break mid-chunk
    small_text, small_record = _doc("Too small to cut.")
    [small] = chunk_record(small_text, small_record, TOKENIZER, max_tokens=100, overlap_tokens=0, first_idx=0)
    assert split_chunk(small_text, small, TOKENIZER) is None
