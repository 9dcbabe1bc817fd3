"""The chunk stage cuts exactly as its plain definition does: the same chunks (offsets,
texts, token counts, ids) as the straightforward cutter below, which encodes every span
it asks about on its own. Chunk ids key the response cache, so a faster cutter that
moved one boundary would cost every user their cached answers.

`reference_chunks` is the cutter as it was before spans were counted from one encoding
of the record (`stages.token_spans`): kept here, unoptimised, as the definition."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken

from extract.hashing import short_id
from extract.models import Record
from extract.stages.chunk import chunk_document, chunk_record
from extract.stages.ingest import ingest_file
from extract.stages.tokens import OFFLINE_ENCODING, Tokenizer

from adversarial_text import adversarial_text

TOKENIZER = Tokenizer(OFFLINE_ENCODING, tiktoken.get_encoding(OFFLINE_ENCODING))
Span = tuple[int, int, int]
_LEVELS = (re.compile(r"\n[ \t]*\n\s*"), re.compile(r"\n"), re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*"))


def _pieces(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]
    return [(a, b) for a, b in itertools.pairwise([start, *cuts, end]) if b > a]


def _units(text: str, a: int, b: int, budget: int, overlap: int, level: int = -1) -> Iterator[Span]:
    def tokens(x: int, y: int) -> int:
        return TOKENIZER.count(text[x:y])

    if level == -1:
        n = tokens(a, b) if b - a <= budget * 16 else budget + 1
        if n <= budget:
            yield a, b, n
        else:
            yield from _units(text, a, b, budget, overlap, 0)
        return
    if level == len(_LEVELS):  # cut by tokens
        target = max(16, min(budget // 4, overlap or budget // 4))
        pos, width = a, target * 4
        while pos < b:
            end = min(b, pos + width)
            n = tokens(pos, end)
            for _ in range(8):
                if n > target and end - pos > 1:
                    end = pos + max(1, int((end - pos) * target / n * 0.9))
                elif n < target * 0.8 and end < b:
                    end = min(b, pos + int((end - pos) * target / max(n, 1) * 0.95) + 1)
                else:
                    break
                n = tokens(pos, end)
            while n > target and end - pos > 1:
                end = pos + (end - pos) // 2
                n = tokens(pos, end)
            width = end - pos
            yield pos, end, n
            pos = end
        return
    pieces = _pieces(text, a, b, _LEVELS[level])
    if len(pieces) == 1:
        yield from _units(text, a, b, budget, overlap, level + 1)
        return
    for x, y in pieces:
        n = tokens(x, y) if y - x <= budget * 16 else budget + 1
        if n <= budget:
            yield x, y, n
        else:
            yield from _units(text, x, y, budget, overlap, level + 1)


def reference_chunks(text: str, record: Record, max_tokens: int, overlap: int) -> list[tuple[str, int, int, int]]:
    """(chunk id, start, end, tokens) of each chunk of `record`, by the plain definition."""
    exact: dict[tuple[int, int], int] = {}

    def fits(candidate: list[Span]) -> bool:
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
        exact[(first, candidate[-1][1])] = n = TOKENIZER.count(text[first : candidate[-1][1]])
        return n <= max_tokens

    groups: list[list[Span]] = []
    current: list[Span] = []
    for unit in _units(text, record.char_start, record.char_end, max_tokens, overlap):
        candidate = [*current, unit]
        if current and not fits(candidate):
            groups.append(current)
            tail: list[Span] = []
            for old in reversed(current):
                if sum(u[2] for u in tail) + old[2] > min(overlap, max_tokens - unit[2]):
                    break
                tail.insert(0, old)
            current, candidate = tail, [*tail, unit]
            while current and not fits(candidate):
                current = current[1:]
                candidate = [*current, unit]
        current = candidate
    if current:
        groups.append(current)
    out: list[tuple[str, int, int, int]] = []
    pending = list(reversed(groups))
    while pending:
        group = pending.pop()
        start, end = group[0][0], group[-1][1]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            continue
        n = TOKENIZER.count(text[start:end])
        if n > max_tokens and len(group) > 1:
            half = len(group) // 2
            pending += [group[half:], group[:half]]
            continue
        out.append((short_id("k-", [record.doc_sha256, start, end]), start, end, n))
    return out


def _same_as_reference(text: str, records: list[Record], max_tokens: int, overlap: int) -> int:
    cut = chunk_document(text, records, TOKENIZER, max_tokens, overlap)
    idx = 0
    for record, chunks in zip(records, cut, strict=True):
        expected = reference_chunks(text, record, max_tokens, overlap)
        assert [(c.chunk_id, c.char_start, c.char_end, c.n_tokens) for c in chunks] == expected, record.record_id
        assert [c.idx for c in chunks] == list(range(idx, idx + len(chunks)))
        assert all(c.text == text[c.char_start : c.char_end] for c in chunks)
        assert chunks == chunk_record(text, record, TOKENIZER, max_tokens, overlap, idx)
        idx += len(chunks)
    return idx


def _records(text: str, bounds: list[int]) -> list[Record]:
    doc = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return [Record(f"r-{i}", doc, i, "", (), (), f"K{i}", a, b) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(1500, 150), (300, 50), (100, 0), (40, 200), (64, 30)])
@pytest.mark.parametrize("seed", range(3))
def test_adversarial_text_is_cut_as_the_definition_cuts_it(seed: int, max_tokens: int, overlap: int) -> None:
    rng = random.Random(100 + seed)
    text = adversarial_text(rng, 12_000)
    bounds = sorted({0, len(text), *rng.sample(range(1, len(text)), 3)})
    assert _same_as_reference(text, _records(text, bounds), max_tokens, overlap) > 0


@pytest.mark.parametrize(
    ("max_tokens", "overlap"),
    [(1500, 150), pytest.param(300, 50, marks=pytest.mark.slow), pytest.param(64, 30, marks=pytest.mark.slow)],
)
def test_seed_dumps_are_cut_as_the_definition_cuts_them(seeds_dir: Path, max_tokens: int, overlap: int) -> None:
    for path in sorted(seeds_dir.glob("*.*")):
        if path.suffix in (".md", ".txt"):
            ingested = ingest_file(path)
            _same_as_reference(ingested.document.text, ingested.records, max_tokens, overlap)
