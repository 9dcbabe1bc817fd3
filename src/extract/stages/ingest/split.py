"""Record splitting: find the papers/items in a document by the dump's own delimiters.

This module owns the choice of delimiter style and the record boundaries. It is
driven by the text's shape, never by file names:

- txt: `....` separator lines (>= 2) -> title+URL blocks (>= 2) -> markdown
  headings (>= 2 at one level) -> a single body record with page chrome trimmed;
- md/html: markdown headings, falling back to the body rule.

Whatever the style, a non-blank document yields at least one record, and every
span is trimmed of surrounding whitespace, non-empty, ordered and disjoint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from extract.models import RecordSpan

TITLE_CHARS = 120

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?)|([^\s#].*?))(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SEPARATOR = re.compile(r"[ \t]*\.{4,}[ \t]*")
# A digest item starts with `#Title`; `# comment` (with a space) is code, not an item.
_ITEM = re.compile(r"#([^\s#].*)")
_URL_LINE = re.compile(r"[ \t]*https?://\S")
_MAX_TITLE_LINE = 300
# Chrome: navigation labels, counters, trending lists after a lone `#`.
_CHROME_MAX_CHARS = 30
_SENTENCE_PUNCT = re.compile(r"[.!?;:。！？；：…]")
_SYMBOLIC = re.compile(r"[\W_]*|[\d\W_]+[KkMmBb]?")


class _Line(NamedTuple):
    start: int
    end: int  # exclusive, before the newline
    text: str


def split_records(text: str, fmt: str) -> list[RecordSpan]:
    """Split normalised `text` of format `fmt` into record spans (see module docstring).

    `jsonl` documents get their spans from rendering; given here, they are split
    like plain text.
    """
    lines = _lines(text)
    if fmt in ("md", "html"):
        spans = _by_headings(text, lines) or _body(text, lines)
    else:
        spans = (
            _by_separators(text, lines) or _by_title_url(text, lines) or _by_headings(text, lines) or _body(text, lines)
        )
    if spans:
        return spans
    whole = _span(text, 0, len(text), "")
    return [whole] if whole else []


def _lines(text: str) -> list[_Line]:
    # Split on "\n" only: str.splitlines() also breaks on \x0b, \x1c, \u2028...,
    # which would desynchronise offsets from what readers of the text see.
    out: list[_Line] = []
    pos = 0
    for line in text.split("\n"):
        out.append(_Line(pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def _span(text: str, start: int, end: int, title: str) -> RecordSpan | None:
    """A span trimmed of surrounding whitespace, or None if it is blank."""
    segment = text[start:end]
    stripped = segment.strip()
    if not stripped:
        return None
    first = start + len(segment) - len(segment.lstrip())
    if not title:
        title = _first_line_title(stripped)
    return RecordSpan(first, first + len(stripped), title)


def _first_line_title(text: str) -> str:
    line = text.split("\n", 1)[0].strip().lstrip("#").strip()
    return line[:TITLE_CHARS]


def _collect(spans: Sequence[RecordSpan | None]) -> list[RecordSpan]:
    return [s for s in spans if s is not None]


# ---------------------------------------------------------------- headings


def _headings(lines: Sequence[_Line]) -> list[tuple[int, int, str]]:
    """(line index, level, title) of markdown headings outside code fences."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        marker = _FENCE.match(line.text)
        if fence is not None:
            closes = (
                marker is not None
                and marker.group(1)[0] == fence[0]
                and len(marker.group(1)) >= len(fence)
                and not line.text[marker.end() :].strip()
            )
            if closes:
                fence = None
            continue
        if marker:
            fence = marker.group(1)
            continue
        m = _HEADING.fullmatch(line.text)
        if m:
            title = (m.group(2) if m.group(2) is not None else m.group(3)).strip()
            if title:
                found.append((i, len(m.group(1)), title))
    return found


def _by_headings(text: str, lines: Sequence[_Line]) -> list[RecordSpan]:
    """One record per heading at the most frequent level (>= 2 of them).

    Deeper headings stay inside their record; text before the first record is
    preamble. A shallower heading later on closes the current record and, if it
    has text of its own, becomes a record too (so no section text is lost).
    """
    heads = _headings(lines)
    counts = Counter(level for _, level, _ in heads)
    eligible = [(n, -level) for level, n in counts.items() if n >= 2]
    if not eligible:
        return []
    level = -max(eligible)[1]  # most frequent; ties go to the shallower level
    bounds = [(i, lvl, title) for i, lvl, title in heads if lvl <= level]
    first = next(k for k, (_, lvl, _) in enumerate(bounds) if lvl == level)
    spans: list[RecordSpan | None] = []
    for k in range(first, len(bounds)):
        i, lvl, title = bounds[k]
        end = lines[bounds[k + 1][0]].start if k + 1 < len(bounds) else len(text)
        if lvl < level and not text[lines[i].end : end].strip():
            continue  # a bare section heading, not a record
        spans.append(_span(text, lines[i].start, end, title[:TITLE_CHARS]))
    return _collect(spans)


# ---------------------------------------------------------------- separators


def _by_separators(text: str, lines: Sequence[_Line]) -> list[RecordSpan]:
    """Items between `....` lines, each starting at its `#Title` line (>= 2 separators).

    Text before the first item is preamble and chrome after the last separator
    is dropped; an untitled block between separators is still a record.
    """
    seps = [i for i, line in enumerate(lines) if _SEPARATOR.fullmatch(line.text)]
    if len(seps) < 2:
        return []
    blocks = list(zip([-1, *seps], [*seps, len(lines)], strict=True))
    titled = [_first_item(lines, lo + 1, hi) for lo, hi in blocks]
    any_titled = any(t is not None for t in titled)
    spans: list[RecordSpan | None] = []
    for b, (lo, hi) in enumerate(blocks):
        end = lines[hi].start if hi < len(lines) else len(text)
        item = titled[b]
        if item is not None:
            i, title = item
            spans.append(_span(text, lines[i].start, end, title[:TITLE_CHARS]))
        elif b == 0 and any_titled:
            continue  # preamble before the first item
        else:
            body = _trim_chrome(lines, lo + 1, hi)
            if body is not None:
                spans.append(_span(text, lines[body[0]].start, lines[body[1]].end, ""))
    return _collect(spans)


def _first_item(lines: Sequence[_Line], lo: int, hi: int) -> tuple[int, str] | None:
    for i in range(lo, hi):
        m = _ITEM.fullmatch(lines[i].text.rstrip())
        if m:
            return i, m.group(1).strip()
    return None


# ---------------------------------------------------------------- title + URL


def _by_title_url(text: str, lines: Sequence[_Line]) -> list[RecordSpan]:
    """One record per title line followed (after blank lines) by a URL line (>= 2).

    A record runs up to the next title line, so trailing notes without a
    title/URL of their own stay with the paper before them.
    """
    titles: list[int] = []
    prev = -1  # last non-blank line
    for i, line in enumerate(lines):
        if not line.text.strip():
            continue
        is_block = _URL_LINE.match(line.text) is not None and prev >= 0 and _is_title_line(lines[prev].text)
        if is_block and (not titles or titles[-1] != prev):
            titles.append(prev)
        prev = i
    if len(titles) < 2:
        return []
    spans: list[RecordSpan | None] = []
    for k, i in enumerate(titles):
        end = lines[titles[k + 1]].start if k + 1 < len(titles) else len(text)
        spans.append(_span(text, lines[i].start, end, lines[i].text.strip()[:TITLE_CHARS]))
    return _collect(spans)


def _is_title_line(line: str) -> bool:
    s = line.strip()
    # A line ending in ":" introduces the link ("Code:") rather than naming a paper.
    return len(s) <= _MAX_TITLE_LINE and not _URL_LINE.match(s) and not s.endswith((":", "："))


# ---------------------------------------------------------------- body


def _body(text: str, lines: Sequence[_Line]) -> list[RecordSpan]:
    """The whole document as one record, with page chrome trimmed at both ends."""
    body = _trim_chrome(lines, 0, len(lines))
    if body is None:
        return []
    span = _span(text, lines[body[0]].start, lines[body[1]].end, "")
    return [span] if span else []


def _trim_chrome(lines: Sequence[_Line], lo: int, hi: int) -> tuple[int, int] | None:
    """First and last non-chrome line indices in [lo, hi), or None if all chrome."""
    first = lo
    while first < hi and _is_chrome(lines, first):
        first += 1
    last = hi - 1
    while last >= first and _is_chrome(lines, last):
        last -= 1
    return (first, last) if first <= last else None


def _is_chrome(lines: Sequence[_Line], i: int) -> bool:
    s = lines[i].text.strip()
    if not s or _SYMBOLIC.fullmatch(s):
        return True
    if i > 0 and lines[i - 1].text.strip() == "#":
        return True  # a trending/hashtag item under a lone `#`
    return len(s) <= _CHROME_MAX_CHARS and not _SENTENCE_PUNCT.search(s)
