"""The chunk stage: token-bounded pieces of records, cut at natural boundaries.

A chunk never spans two records. A record that fits the budget is one chunk;
a longer one is cut at paragraph, then line, then sentence boundaries
(`. ! ? 。！？`), and only a sentence longer than the budget is cut by tokens.
Consecutive pieces of one record overlap by whole units up to `overlap_tokens`.
Every chunk's text is re-counted exactly, so none exceeds `max_tokens`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

from extract.hashing import short_id
from extract.models import Chunk, Record
from extract.stages.token_spans import SpanCounter, span_counters
from extract.stages.tokens import OFFLINE_ENCODING, Tokenizer, load_tokenizer

__all__ = ["OFFLINE_ENCODING", "Tokenizer", "chunk_document", "chunk_record", "load_tokenizer", "split_chunk"]

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Cut [start, end) after each separator match; pieces keep their separators."""
    cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
    bounds = [start, *cuts, end]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


class _Cutter:
    def __init__(self, text: str, counter: SpanCounter, budget: int, overlap: int) -> None:
        self.text = text
        self.tokens = counter.count
        self.budget = budget
        self.overlap = overlap

    def units(self, a: int, b: int) -> Iterator[tuple[int, int, int]]:
        """(start, end, tokens) units, each within the budget, covering [a, b)."""
        n = self.tokens(a, b) if b - a <= self.budget * 16 else self.budget + 1
        if n <= self.budget:
            yield a, b, n
            return
        yield from self._split(a, b, 0)

    def _split(self, a: int, b: int, level: int) -> Iterator[tuple[int, int, int]]:
        patterns = (_PARAGRAPH, _LINE, _SENTENCE)
        if level == len(patterns):
            yield from self.hard_split(a, b)
            return
        pieces = _spans(self.text, a, b, patterns[level])
        if len(pieces) == 1:
            yield from self._split(a, b, level + 1)
            return
        for piece in pieces:
            n = self.tokens(*piece) if piece[1] - piece[0] <= self.budget * 16 else self.budget + 1
            if n <= self.budget:
                yield piece[0], piece[1], n
            else:
                yield from self._split(piece[0], piece[1], level + 1)

    def hard_split(self, a: int, b: int) -> Iterator[tuple[int, int, int]]:
        """Cut by characters where no boundary helps, into pieces small enough to
        pack and overlap; each piece's tokens are counted, never estimated."""
        target = max(16, min(self.budget // 4, self.overlap or self.budget // 4))
        pos = a
        width = target * 4
        while pos < b:
            end = min(b, pos + width)
            n = self.tokens(pos, end)
            for _ in range(8):
                if n > target and end - pos > 1:
                    end = pos + max(1, int((end - pos) * target / n * 0.9))
                elif n < target * 0.8 and end < b:
                    end = min(b, pos + int((end - pos) * target / max(n, 1) * 0.95) + 1)
                else:
                    break
                n = self.tokens(pos, end)
            while n > target and end - pos > 1:
                end = pos + (end - pos) // 2
                n = self.tokens(pos, end)
            width = end - pos
            yield pos, end, n
            pos = end


def chunk_document(
    doc_text: str,
    records: Sequence[Record],
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap_tokens: int,
) -> list[list[Chunk]]:
    """The chunks of each record of a document, numbered from 0 through the document;
    the records' text is encoded once, in one go."""
    counters = span_counters(doc_text, tokenizer, [(r.char_start, r.char_end) for r in records])
    chunks: list[list[Chunk]] = []
    next_idx = 0
    for record, counter in zip(records, counters, strict=True):
        chunks.append(chunk_record(doc_text, record, tokenizer, max_tokens, overlap_tokens, next_idx, counter))
        next_idx += len(chunks[-1])
    return chunks


def chunk_record(
    doc_text: str,
    record: Record,
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap_tokens: int,
    first_idx: int,
    counter: SpanCounter | None = None,
) -> list[Chunk]:
    """Chunks of one record, numbered from `first_idx` within the document. `counter`
    counts spans of the record (`chunk_document` makes one per record)."""
    if counter is None:
        [counter] = span_counters(doc_text, tokenizer, [(record.char_start, record.char_end)])
    cutter = _Cutter(doc_text, counter, max_tokens, overlap_tokens)
    units = list(cutter.units(record.char_start, record.char_end))
    sums = [0, *itertools.accumulate(u[2] for u in units)]
    # Per first unit of a group, the last unit up to which its text was counted, and the count.
    known: dict[int, tuple[int, int]] = {}

    def fits(i: int, j: int) -> bool:
        # Whether units i..j fit one chunk. An upper estimate (the last exact count
        # of a prefix plus the units added since, one spare token per join) avoids
        # re-encoding the group for every unit; only when it passes the budget is the
        # text counted.
        k, base = known.get(i, (i - 1, 0))
        if base + sums[j + 1] - sums[k + 1] + (j - k) <= max_tokens:
            return True
        n = cutter.tokens(units[i][0], units[j][1])
        known[i] = (j, n)
        return n <= max_tokens

    groups: list[tuple[int, int]] = []  # units first..last of each chunk
    first = 0
    for j, unit in enumerate(units):
        if first < j and not fits(first, j):
            groups.append((first, j - 1))
            first = _overlap_start(units, first, j - 1, overlap_tokens, max_tokens - unit[2])
            while first < j and not fits(first, j):
                first += 1
    if units:
        groups.append((first, len(units) - 1))
    chunks: list[Chunk] = []
    pending = list(reversed(groups))
    while pending:
        i, j = pending.pop()
        start, end = _trim(doc_text, units[i][0], units[j][1])
        if end <= start:
            continue
        n_tokens = counter.count(start, end)
        if n_tokens > max_tokens and j > i:
            # The estimate was off at a join: split the group, never the budget.
            half = (j - i + 1) // 2
            pending += [(i + half, j), (i, i + half - 1)]
            continue
        chunks.append(
            Chunk(
                chunk_id=short_id("k-", [record.doc_sha256, start, end]),
                doc_sha256=record.doc_sha256,
                record_id=record.record_id,
                idx=first_idx + len(chunks),
                char_start=start,
                char_end=end,
                n_tokens=n_tokens,
                text=doc_text[start:end],
            )
        )
    return chunks


def _overlap_start(units: list[tuple[int, int, int]], first: int, last: int, overlap_tokens: int, room: int) -> int:
    """Where the overlap carried into the next chunk starts: the last units of first..last
    whose tokens stay within the overlap and the room left (last + 1 for none)."""
    start = last + 1
    total = 0
    for k in range(last, first - 1, -1):
        if total + units[k][2] > min(overlap_tokens, room):
            break
        start = k
        total += units[k][2]
    return start


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_SPLIT_AT = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?])\s+|(?<=[。！？])"))


def split_chunk(doc_text: str, chunk: Chunk, tokenizer: Tokenizer) -> tuple[Chunk, Chunk] | None:
    """Two halves of a chunk cut at the boundary nearest its middle (for answers cut
    off at the token limit); None when the chunk is too small to cut."""
    if chunk.char_end - chunk.char_start < 2 or chunk.n_tokens < 32:
        return None
    middle = (chunk.char_start + chunk.char_end) // 2
    cut = middle
    for pattern in _SPLIT_AT:
        found = [
            m.end()
            for m in pattern.finditer(doc_text, chunk.char_start, chunk.char_end)
            if chunk.char_start < m.end() < chunk.char_end
        ]
        if found:
            cut = min(found, key=lambda at: abs(at - middle))
            break
    halves = []
    for i, (a, b) in enumerate(((chunk.char_start, cut), (cut, chunk.char_end))):
        start, end = _trim(doc_text, a, b)
        if end <= start:
            return None
        text = doc_text[start:end]
        halves.append(
            Chunk(
                chunk_id=short_id("k-", [chunk.doc_sha256, start, end]),
                doc_sha256=chunk.doc_sha256,
                record_id=chunk.record_id,
                idx=chunk.idx * 2 + i,
                char_start=start,
                char_end=end,
                n_tokens=tokenizer.count(text),
                text=text,
            )
        )
    return halves[0], halves[1]
