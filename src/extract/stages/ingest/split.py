"""Record splitting: find the papers/items in a document by the dump's own delimiters.

This module owns the choice of delimiter style and the record boundaries. It is
driven by the text's shape, never by file names:

- txt: `....` separator lines (>= 2) -> title+URL blocks (>= 2) -> markdown
  headings (>= 2 at one level) -> a single body record with page chrome trimmed;
- md/html: markdown headings, falling back to the body rule.

Whatever the style, a non-blank document yields at least one record, and every
span is trimmed of surrounding whitespace, non-empty, ordered and disjoint.
Lines are found with multiline regexes and `str.find` rather than a Python loop
over every line, so files with millions of lines stay fast.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from extract.models import RecordSpan

TITLE_CHARS = 120

# One regex for both fence markers and ATX headings, so fences are seen in order.
# The heading text is taken greedily and its closing `#`s are removed in Python:
# a lazy `.*?` before optional trailing groups backtracks quadratically on
# lines with long runs of spaces.
_MD_LINE = re.compile(
    r"^ {0,3}(?:(?P<fence>`{3,}|~{3,})(?P<info>.*)"
    r"|(?P<hashes>#{1,6})(?:[ \t]+|(?=[^\s#]))(?P<title>.*))$",
    re.MULTILINE,
)
_SEPARATOR = re.compile(r"^[ \t]*\.{4,}[ \t]*$", re.MULTILINE)
# A digest item starts with `#Title`; `# comment` (with a space) is code, not an item.
_ITEM = re.compile(r"^#([^\s#].*)$", re.MULTILINE)
_URL_LINE = re.compile(r"^[ \t]*https?://\S", re.MULTILINE)
_MAX_TITLE_LINE = 300
# Chrome: navigation labels, counters, trending lists after a lone `#`. It is
# short by nature, so trimming looks at a bounded number of lines at each end.
_CHROME_MAX_CHARS = 30
_CHROME_MAX_LINES = 40
_SENTENCE_PUNCT = re.compile(r"[.!?;:。！？；：…]")
_SYMBOLIC = re.compile(r"[\W_]*|[\d\W_]+[KkMmBb]?")


def split_records(text: str, fmt: str) -> list[RecordSpan]:
    """Split normalised `text` of format `fmt` into record spans (see module docstring).

    `jsonl` documents get their spans from rendering; given here, they are split
    like plain text.
    """
    if fmt in ("md", "html"):
        spans = _by_headings(text, min_count=1) or _body(text)
    else:
        spans = _by_separators(text) or _by_title_url(text) or _by_headings(text) or _body(text)
    if spans:
        return spans
    whole = _span(text, 0, len(text), "")
    return [whole] if whole else []


def _span(text: str, start: int, end: int, title: str) -> RecordSpan | None:
    """A span trimmed of surrounding whitespace, or None if it is blank."""
    segment = text[start:end]
    stripped = segment.strip()
    if not stripped:
        return None
    first = start + len(segment) - len(segment.lstrip())
    if not title:
        title = stripped.split("\n", 1)[0].strip().lstrip("#").strip()
    return RecordSpan(first, first + len(stripped), title[:TITLE_CHARS])


def _collect(spans: list[RecordSpan | None]) -> list[RecordSpan]:
    return [s for s in spans if s is not None]


# ---------------------------------------------------------------- headings


def _headings(text: str) -> list[tuple[int, int, int, str]]:
    """(line start, line end, level, title) of markdown headings outside fences."""
    found: list[tuple[int, int, int, str]] = []
    fence: str | None = None
    for m in _MD_LINE.finditer(text):
        marker = m.group("fence")
        if marker is not None:
            if fence is None:
                fence = marker
            elif _closes(fence, marker, m.group("info")):
                fence = None
            continue
        if fence is not None:
            continue
        title = _heading_title(m.group("title"))
        if title:
            found.append((m.start(), m.end(), len(m.group("hashes")), title))
    return found


def _heading_title(raw: str) -> str:
    """Heading text without the optional closing sequence (`## Title ##`)."""
    title = raw.strip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):
        title = bare.strip()
    return title


def _closes(fence: str, marker: str, info: str) -> bool:
    """A closing fence: same character, at least as long, nothing after it."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and not info.strip()


def _by_headings(text: str, min_count: int = 2) -> list[RecordSpan]:
    """One record per heading at the most frequent level (>= 2 of them; in
    markdown, where a heading is surely a heading, a lone one is enough and the
    deepest level wins among single headings).

    Deeper headings stay inside their record; text before the first record is
    preamble. A shallower heading later on closes the current record and, if it
    has text of its own, becomes a record too (so no section text is lost).
    """
    heads = _headings(text)
    counts = Counter(level for _, _, level, _ in heads)
    eligible = [(n, -level) for level, n in counts.items() if n >= 2]
    if eligible:
        level = -max(eligible)[1]  # most frequent; ties go to the shallower level
    elif heads and min_count == 1:
        level = max(counts)
    else:
        return []
    bounds = [h for h in heads if h[2] <= level]
    first = next(k for k, h in enumerate(bounds) if h[2] == level)
    spans: list[RecordSpan | None] = []
    for k in range(first, len(bounds)):
        start, line_end, lvl, title = bounds[k]
        end = bounds[k + 1][0] if k + 1 < len(bounds) else len(text)
        if lvl < level and not text[line_end:end].strip():
            continue  # a bare section heading, not a record
        spans.append(_span(text, start, end, title))
    return _collect(spans)


# ---------------------------------------------------------------- separators


def _by_separators(text: str) -> list[RecordSpan]:
    """Items between `....` lines, each starting at its `#Title` line (>= 2 separators).

    Text before the first item is preamble and chrome after the last separator
    is dropped; an untitled block between separators is still a record.
    """
    seps = [(m.start(), m.end()) for m in _SEPARATOR.finditer(text)]
    if len(seps) < 2:
        return []
    blocks: list[tuple[int, int]] = []
    lo = 0
    for start, end in seps:
        blocks.append((lo, start))
        lo = end
    blocks.append((lo, len(text)))
    items = [_ITEM.search(text, lo, hi) for lo, hi in blocks]
    any_titled = any(item is not None for item in items)
    spans: list[RecordSpan | None] = []
    for b, ((lo, hi), item) in enumerate(zip(blocks, items, strict=True)):
        if item is not None:
            spans.append(_span(text, item.start(), hi, item.group(1).strip()))
        elif not (b == 0 and any_titled):  # else: preamble before the first item
            body = _trim_chrome(text, lo, hi)
            if body is not None:
                spans.append(_span(text, body[0], body[1], ""))
    return _collect(spans)


# ---------------------------------------------------------------- title + URL


def _by_title_url(text: str) -> list[RecordSpan]:
    """One record per title line followed (after blank lines) by a URL line (>= 2).

    A record runs up to the next title line, so trailing notes without a
    title/URL of their own stay with the paper before them.
    """
    titles: list[tuple[int, int]] = []
    for m in _URL_LINE.finditer(text):
        prev = _previous_nonblank_line(text, m.start())
        if prev is None or not _is_title_line(text[prev[0] : prev[1]]):
            continue
        if not titles or titles[-1] != prev:
            titles.append(prev)
    if len(titles) < 2:
        return []
    spans: list[RecordSpan | None] = []
    for k, (start, line_end) in enumerate(titles):
        end = titles[k + 1][0] if k + 1 < len(titles) else len(text)
        title = text[start:line_end].strip()
        spans.append(_span(text, start, end, title.lstrip("#").strip() or title))
    return _collect(spans)


def _previous_nonblank_line(text: str, line_start: int) -> tuple[int, int] | None:
    end = line_start - 1  # the newline ending the line above
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            return start, end
        end = start - 1
    return None


def _is_title_line(line: str) -> bool:
    s = line.strip()
    # A line ending in ":" introduces the link ("Code:") rather than naming a paper.
    return len(s) <= _MAX_TITLE_LINE and _URL_LINE.match(s) is None and not s.endswith((":", "："))


# ---------------------------------------------------------------- body


def _body(text: str) -> list[RecordSpan]:
    """The whole document as one record, with page chrome trimmed at both ends."""
    body = _trim_chrome(text, 0, len(text))
    if body is None:
        return []
    span = _span(text, body[0], body[1], "")
    return [span] if span else []


def _trim_chrome(text: str, lo: int, hi: int) -> tuple[int, int] | None:
    """[start, end) of `text[lo:hi]` without chrome lines at either end.

    None if every line is chrome. Only the first/last `_CHROME_MAX_LINES` lines
    are examined: a longer run of chrome-like lines is content (a list), kept.
    """
    start: int | None = None
    above: str | None = None
    for n, (s, e) in enumerate(_lines_forward(text, lo, hi)):
        line = text[s:e]
        if not _is_chrome(line, above):
            start = s
            break
        if n + 1 >= _CHROME_MAX_LINES:
            start = lo
            break
        above = line
    if start is None:
        return None
    end = hi
    for n, (s, e) in enumerate(_lines_backward(text, start, hi)):
        above_start = text.rfind("\n", lo, s - 1) + 1 if s > lo else -1
        above = text[max(lo, above_start) : s - 1] if s > lo else None
        if not _is_chrome(text[s:e], above) or n + 1 >= _CHROME_MAX_LINES:
            end = e
            break
    return start, end


def _lines_forward(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    pos = lo
    while pos <= hi:
        end = text.find("\n", pos, hi)
        if end < 0:
            yield pos, hi
            return
        yield pos, end
        pos = end + 1


def _lines_backward(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    end = hi
    while end >= lo:
        start = text.rfind("\n", lo, end) + 1
        start = max(start, lo)
        yield start, end
        end = start - 1


def _is_chrome(line: str, above: str | None) -> bool:
    s = line.strip()
    if not s or _SYMBOLIC.fullmatch(s):
        return True
    if above is not None and above.strip() == "#":
        return True  # a trending/hashtag item under a lone `#`
    return len(s) <= _CHROME_MAX_CHARS and not _SENTENCE_PUNCT.search(s)
