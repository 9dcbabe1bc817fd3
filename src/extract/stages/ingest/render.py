"""Structured inputs to plain text: HTML pages and JSONL exports.

This module owns turning markup into the text that offsets index. HTML becomes
markdown-like text (headings as `#` lines) so the markdown splitter applies;
JSONL becomes one record per line, with spans known here rather than re-split.
Markdown and plain text pass through unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

from extract.models import RecordSpan

from .decode import normalise_text

TITLE_CHARS = 120


@dataclass(frozen=True)
class Rendered:
    """Rendered, normalised text; `spans` is set when rendering already knows the records."""

    text: str
    spans: list[RecordSpan] | None = None
    warnings: list[str] = field(default_factory=list)


def render(text: str, fmt: str, *, text_field: str = "text", title_field: str = "title") -> Rendered:
    """Render decoded `text` of format `fmt` (md | txt | html | jsonl) and normalise it."""
    # NFKC runs after parsing: it folds fullwidth `＂` and `＜` into `"` and `<`,
    # which would corrupt JSON strings and invent HTML tags if applied first.
    if fmt == "html":
        return Rendered(normalise_text(html_to_text(_newlines(text))))
    if fmt == "jsonl":
        return render_jsonl(_newlines(text), text_field=text_field, title_field=title_field)
    return Rendered(normalise_text(text))


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- JSONL


def render_jsonl(text: str, *, text_field: str, title_field: str) -> Rendered:
    """One record per usable line: `title\\nbody` (or `body`), joined by blank lines.

    Unusable lines (invalid JSON, not an object, missing/empty text field) are
    skipped with a warning naming the line, never silently.
    """
    pieces: list[tuple[str, str]] = []  # (record text, record title)
    warnings: list[str] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            warnings.append(f"line {lineno}: invalid JSON ({reason}); skipped")
            continue
        if not isinstance(obj, dict):
            warnings.append(f"line {lineno}: not a JSON object; skipped")
            continue
        body = obj.get(text_field)
        if not isinstance(body, str):
            warnings.append(f"line {lineno}: no string field {text_field!r}; skipped")
            continue
        body = _clean(body).strip()
        if not body:
            warnings.append(f"line {lineno}: field {text_field!r} is empty; skipped")
            continue
        raw_title = obj.get(title_field)
        title = ""
        if isinstance(raw_title, str):
            title = " ".join(_clean(raw_title).split())
        elif raw_title is not None:
            warnings.append(f"line {lineno}: field {title_field!r} is not a string; ignored")
        if title:
            pieces.append((f"{title}\n{body}", title[:TITLE_CHARS]))
        else:
            pieces.append((body, body.split("\n", 1)[0].strip()[:TITLE_CHARS]))
    spans: list[RecordSpan] = []
    parts: list[str] = []
    pos = 0
    for piece, title in pieces:
        if parts:
            parts.append("\n\n")
            pos += 2
        spans.append(RecordSpan(pos, pos + len(piece), title))
        parts.append(piece)
        pos += len(piece)
    return Rendered("".join(parts), spans, warnings)


def _clean(value: str) -> str:
    # JSON escapes can smuggle in what no decoded file contains: lone surrogates
    # (unencodable as UTF-8) and NUL. Make both visible replacement characters.
    return normalise_text(_UNSAFE.sub("\ufffd", value))


_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")


# ---------------------------------------------------------------- HTML

# Content that is page furniture or code, never prose.
_SKIP = frozenset({"script", "style", "head", "nav", "footer", "noscript", "template"})
_VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr",
    }
)  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "details",
        "dialog", "div", "dl", "fieldset", "figcaption", "figure", "form", "header",
        "hr", "html", "main", "ol", "p", "pre", "section", "summary", "table", "ul",
    }
)  # fmt: skip
_LINE = frozenset({"br", "dd", "dt", "li", "tr", "thead", "tbody", "tfoot"})
_CELL = frozenset({"td", "th"})
_INLINE = frozenset(
    {
        "a", "abbr", "audio", "b", "bdi", "bdo", "big", "button", "canvas", "center",
        "cite", "code", "colgroup", "data", "del", "dfn", "em", "font", "i", "iframe",
        "ins", "kbd", "label", "legend", "map", "mark", "math", "menu", "meter", "nobr",
        "object", "optgroup", "option", "output", "picture", "progress", "q", "rp",
        "rt", "ruby", "s", "samp", "select", "small", "span", "strike", "strong",
        "sub", "sup", "svg", "textarea", "time", "title", "tt", "u", "var", "video",
    }
)  # fmt: skip
_KNOWN = _SKIP | _VOID | _PARAGRAPH | _LINE | _CELL | _INLINE | frozenset(_HEADINGS)
_SPACES = re.compile(r"\s+")
_LABEL_PIECES = 64
_EXTRA_BREAKS = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Render an HTML page to markdown-like text (see the module docstring)."""
    parser = _TextRenderer()
    try:
        parser.feed(_defuse(html))
        parser.close()
    except AssertionError:
        # Python 3.11's parser still asserts on some malformed declarations.
        return _strip_tags(html)
    return parser.result()


# html.parser rescans to the end of the input for every construct it cannot
# close, which is quadratic on junk like "<a<a<a..." or "<!--<!--...". Escape
# such openers first so each one is read once, as text. A "<" with no ">"
# before the next "<" is such an opener, except inside a quoted attribute
# value (`alt="a<b"`): stray ones are only escaped when there are many, where
# the few tags this could break matter less than an input that never finishes.
_STRAY_LT = re.compile(r"<(?!!--)(?![^<>]*>)")
_MAX_STRAY_LT = 64
_CONDITIONAL = re.compile(r"<!\[(?!CDATA\[)[^<>]*>")  # IE `<![if ...]>` markers
_TAG = re.compile(r"<[^<>]*>")


def _defuse(html: str) -> str:
    html = _CONDITIONAL.sub("", html)
    if len(_STRAY_LT.findall(html)) > _MAX_STRAY_LT:
        html = _STRAY_LT.sub("&lt;", html)
    html = _escape_unclosed(html, "<!--", "-->")
    return _escape_unclosed(html, "<![CDATA[", "]]>")


def _escape_unclosed(html: str, opener: str, closer: str) -> str:
    """Escape every `opener` after the last `closer`: none of them can close."""
    last = html.rfind(closer)
    cut = last + len(closer) if last >= 0 else 0
    if opener not in html[cut:]:
        return html
    return html[:cut] + html[cut:].replace(opener, "&lt;" + opener[1:])


def _strip_tags(html: str) -> str:
    """Last-resort rendering (tags dropped, entities unescaped; scripts kept)."""
    text = _TAG.sub(" ", html)
    lines = (_SPACES.sub(" ", line).strip() for line in unescape(text).split("\n"))
    return _EXTRA_BREAKS.sub("\n\n", "\n".join(lines)).strip("\n")


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._pending = 0  # newlines owed before the next text
        self._line_start = True
        self._skip = 0
        self._pre = 0
        self._heading: str | None = None  # `## ` prefix owed by an open heading
        self._in_heading = False
        self._links: list[tuple[str | None, int]] = []  # (href, index into _out)

    def result(self) -> str:
        text = "\n".join(line.rstrip() for line in "".join(self._out).split("\n"))
        return _EXTRA_BREAKS.sub("\n\n", text).strip("\n")

    # -- events

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip = 0  # an unclosed <head> must not swallow the page
        if tag in _SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag not in _KNOWN:
            # Not HTML: keep it as text (special tokens such as <eos> in prose).
            self._text(self.get_starttag_text() or f"<{tag}>")
        elif tag in _HEADINGS:
            self._break(2)
            self._heading = "#" * _HEADINGS[tag] + " "
            self._in_heading = True
        elif tag in _PARAGRAPH:
            self._break(2)
            if tag == "pre":
                self._pre += 1
        elif tag in _LINE:
            self._break(1)
            if tag == "li":
                self._text("- ")
        elif tag in _CELL:
            self._space()
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self._out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _KNOWN and tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        if tag not in _KNOWN:
            self._text(f"</{tag}>")
        elif tag in _HEADINGS:
            self._in_heading = False
            self._heading = None
            self._break(2)
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self._break(2)
        elif tag in _LINE and tag != "br":
            self._break(1)
        elif tag == "a" and self._links:
            self._close_link()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            self._text(data, verbatim=True)
        else:
            self._text(_SPACES.sub(" ", data))

    # -- output helpers

    def _close_link(self) -> None:
        href, start = self._links.pop()
        if not href or not href.lower().startswith(("http://", "https://")):
            return
        # Bounded look-back: unclosed nested links must not make this quadratic.
        label = "".join(self._out[max(start, len(self._out) - _LABEL_PIECES) :])
        # Keep the target so URLs and arXiv ids in hrefs survive rendering.
        if href not in label:
            self._text(f" ({href})")

    def _break(self, n: int) -> None:
        if self._in_heading:
            self._space()  # a heading stays on one line
        elif self._out:
            self._pending = max(self._pending, n)

    def _space(self) -> None:
        if self._out and not self._line_start and not self._pending:
            self._text(" ")

    def _text(self, data: str, *, verbatim: bool = False) -> None:
        if self._pending:
            self._out.append("\n" * self._pending)
            self._pending = 0
            self._line_start = True
        if self._line_start and not verbatim:
            data = data.lstrip(" ")
        elif not verbatim and data.startswith(" ") and self._out and self._out[-1].endswith(" "):
            data = data[1:]
        if not data:
            return
        if self._heading is not None:
            self._out.append(self._heading)
            self._heading = None
        self._out.append(data)
        self._line_start = data.endswith("\n")
