"""Token counts of many spans of one text, each character encoded about once.

Chunking counts the same text many times over: a record, then its paragraphs, lines
and sentences, then candidate chunks, then every chunk. `span_counters` encodes the
records of a document once (in blocks, with tiktoken's batch encoding) and keeps where
each token ends; `SpanCounter.count(a, b)` then equals `Tokenizer.count(text[a:b])`
exactly, encoding only the few characters at either end of the span.

Why a sum of counts is exact. tiktoken cuts a text into pieces with its pattern and
encodes each piece on its own, so a text's count is the sum of its pieces' counts. A
*safe cut* p is a position where every text T holding T[p-1] and T[p] has a piece
boundary, with the same pieces before p as T[:p] has and the same after p as T[p:]
has: then counts add up across p. For the cl100k pattern

    '(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+|
    \\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s

(no lookbehind: matching from p never sees what came before) two kinds of position
are safe cuts:

- T[p-1] a letter and T[p] not one. Only the contraction and the letter-run
  alternatives take letters, and both end in letters; a letter run stops at T[p]
  whether T[p] is there or the text ends (and `'ll`, `'ve`, `'re` cannot complete
  with a non-letter). Whitespace, digit and punctuation alternatives stop at the
  letter T[p-1], so nothing before it looks at T[p].
- T[p-1] = "\\n" and T[p] not whitespace. No alternative takes a newline and then
  more: newlines only end the punctuation alternative (`[\\r\\n]*+`, which stops at
  T[p] or at the end alike), and the letter alternative's optional first character
  excludes \\r\\n. A whitespace run ending in "\\n" is one piece whether p ends the
  text (`\\s++$`) or not (`\\s*[\\r\\n]`, which backtracks to that last "\\n").

The character classes below are narrower than "letter" and "whitespace" (ASCII, CJK
ideographs U+4E00-U+9FA5, common CJK and typographic punctuation), so no Unicode
version can disagree with them. Any other encoding's pattern gets no shortcut: its
spans are encoded whole, as `Tokenizer.count` does.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from operator import itemgetter

import tiktoken

from extract.stages.tokens import MAX_PIECE_CHARS, Tokenizer

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
# Regex classes (escapes, not characters): punctuation, CJK and typographic.
_PUNCT = r"\u00b7\u2014\u2018-\u201d\u2026\u3001-\u3003\u3008-\u3011\uff01-\uff0f\uff1a-\uff20"
_LETTER = r"A-Za-z\u4e00-\u9fa5"
_NOT_LETTER = r"\x00-\x40\x5b-\x60\x7b-\x7f\u3000" + _PUNCT
_NOT_SPACE = r"\x21-\x7e\u4e00-\u9fa5" + _PUNCT
_SAFE = rf"(?<=[{_LETTER}])(?=[{_NOT_LETTER}])|(?<=\n)(?=[{_NOT_SPACE}])"
# A text with surrogates is encoded with them replaced (`Encoding.encode_ordinary`): its
# tokens' lengths no longer map to its characters, so its spans are encoded whole.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_FIRST_SAFE = re.compile(_SAFE)
_LAST_SAFE = re.compile(rf"(?s:.*)(?:{_SAFE})")
# Spans this short are encoded directly.
_DIRECT_CHARS = 48
_CONTINUATION = bytes(range(0x80, 0xC0))


@functools.cache
def _char_starts(encoding: tiktoken.Encoding) -> list[int] | None:
    """For each token id, how many UTF-8 characters start in its bytes; None when the
    encoding's pattern is not one whose safe cuts are known."""
    if encoding._pat_str != CL100K_PATTERN:
        return None
    starts = [0] * encoding.n_vocab
    # encode_ordinary never yields a special token: the ordinary ones are all there is to map.
    for token_bytes, token in encoding._mergeable_ranks.items():
        starts[token] = len(token_bytes.translate(None, _CONTINUATION))
    return starts


class SpanCounter:
    """Token counts of spans of `text` within [lo, hi): `count(a, b)` is
    `tokenizer.count(text[a:b])` for lo <= a <= b <= hi.

    [lo, hi) is encoded in blocks (`span_counters`); a span is counted from the blocks'
    tokens between the first and the last safe cut in it, plus its two ends encoded
    on their own. Where a block's tokens end is worked out for the blocks a span
    starts or ends inside of, when one first does."""

    def __init__(
        self,
        text: str,
        tokenizer: Tokenizer,
        lo: int,
        hi: int,
        blocks: Sequence[tuple[int, list[int]]] = (),
        barriers: Sequence[int] = (),
        starts: list[int] | None = None,
    ) -> None:
        self.text = text
        self.lo = lo
        self.hi = hi
        self._encode = tokenizer.encoding.encode_ordinary
        self._starts = starts
        # Each block's start (then hi) and the tokens before it; its tokens, and where
        # they end (character offsets, a token ending inside a character counting it)
        # once needed. Barriers are block starts that are not safe cuts: no sum crosses one.
        self._bounds = [start for start, _ in blocks] + [hi]
        self._before = [0, *accumulate(len(tokens) for _, tokens in blocks)]
        self._tokens = [tokens for _, tokens in blocks]
        self._ends: list[list[int] | None] = [None] * len(self._tokens)
        self._barriers = list(barriers)

    def count(self, a: int, b: int) -> int:
        """`Tokenizer.count(text[a:b])`: texts over MAX_PIECE_CHARS are counted piecewise."""
        if b - a <= MAX_PIECE_CHARS:
            return self._count(a, b)
        return sum(self._count(i, min(i + MAX_PIECE_CHARS, b)) for i in range(a, b, MAX_PIECE_CHARS))

    def _direct(self, a: int, b: int) -> int:
        return len(self._encode(self.text[a:b])) if b > a else 0

    def _count(self, a: int, b: int) -> int:
        if not self._tokens or b - a <= _DIRECT_CHARS or a < self.lo or b > self.hi:
            return self._direct(a, b)
        text, bounds = self.text, self._bounds
        s = a
        if bounds[bisect_left(bounds, a)] != a:
            first = _FIRST_SAFE.search(text, a, b)
            if first is None:
                return self._direct(a, b)
            s = first.start()
        t = b
        if bounds[bisect_left(bounds, b)] != b:
            # The last safe cut in (s, b] (the one at b looks at text[b]).
            last = _LAST_SAFE.match(text, s + 1, min(b + 1, len(text)))
            if last is None:
                return self._direct(a, b)
            t = last.end()
        if self._barriers:
            i = bisect_right(self._barriers, s)
            if i < len(self._barriers) and self._barriers[i] < t:
                return self._direct(a, b)
        # s and t are safe cuts or block bounds: the blocks' tokens between them are
        # text[s:t]'s, and text[a:b]'s count is the sum of its three parts'.
        return self._direct(a, s) + self._index(t) - self._index(s) + self._direct(t, b)

    def _index(self, p: int) -> int:
        """How many of the blocks' tokens end at or before p (a token boundary)."""
        i = bisect_right(self._bounds, p) - 1
        if self._bounds[i] == p:
            return self._before[i]
        ends = self._ends[i]
        if ends is None:
            assert self._starts is not None
            tokens = self._tokens[i]
            chars = itemgetter(*tokens)(self._starts) if len(tokens) > 1 else [self._starts[t] for t in tokens]
            ends = list(accumulate(chars, initial=self._bounds[i]))
            self._ends[i] = ends
        return self._before[i] + bisect_right(ends, p) - 1


def _blocks(text: str, lo: int, hi: int) -> tuple[list[tuple[int, int]], list[int]]:
    """[lo, hi) cut into blocks of at most MAX_PIECE_CHARS, at the last safe cut that
    fits (else at the limit: a barrier)."""
    blocks: list[tuple[int, int]] = []
    barriers: list[int] = []
    start = lo
    while hi - start > MAX_PIECE_CHARS:
        found = _LAST_SAFE.match(text, start + 1, start + MAX_PIECE_CHARS + 1)
        cut = found.end() if found is not None else start + MAX_PIECE_CHARS
        if found is None:
            barriers.append(cut)
        blocks.append((start, cut))
        start = cut
    blocks.append((start, hi))
    return blocks, barriers


def span_counters(text: str, tokenizer: Tokenizer, spans: Sequence[tuple[int, int]]) -> list[SpanCounter]:
    """A counter for each span of `text` (the records of a document), their blocks
    encoded in one go, on one thread: encoding them on two (tiktoken's batch encoding,
    or two halves) cost 10-30 % more CPU and saved no time on the shared two-core
    development machine."""
    starts = _char_starts(tokenizer.encoding)
    if starts is None or _SURROGATE.search(text) is not None:
        return [SpanCounter(text, tokenizer, lo, hi) for lo, hi in spans]
    cut = [_blocks(text, lo, hi) for lo, hi in spans]
    encode = tokenizer.encoding.encode_ordinary
    tokens = iter([encode(text[a:b]) for blocks, _ in cut for a, b in blocks])
    return [
        SpanCounter(text, tokenizer, lo, hi, [(start, next(tokens)) for start, _ in blocks], barriers, starts)
        for (lo, hi), (blocks, barriers) in zip(spans, cut, strict=True)
    ]
