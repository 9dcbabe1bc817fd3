"""What kind of line a piece of dump text is: a formula, code, a table row, a URL, a heading, or prose.

Two layers ask this: the heuristic provider takes claims only from prose, and the
validate stage rejects a model's claim that is one of the other kinds (`not_a_claim`).
The answer depends on the text alone (no neighbouring lines). The rules are tried in
this order, and the first that holds wins:

1. formula: delimited LaTeX (`$$...$$`, `$...$`, `\\[...\\]`, `\\begin{..}`) on its own, or
   LaTeX spans making up more than 40 % of the text;
2. code: a line that starts like a Python, JavaScript or shell statement (`import x`,
   `def f(`, `if ...:`, `x.f(...)`, `const x =`, `$ pip install`, `git clone ...`, a
   code fence) or a `//`, `/*` or `<!--` comment, an assignment to a snake_case, dotted or CONSTANT name or of code (a
   call, an attribute, a literal), `self.`, a dunder name, or a line ending in `{` or
   `);` or made of closing brackets (a trailing `# comment` aside);
3. url: a link, a markdown link or image, or an HTML image/anchor tag, with fewer than
   four words beside it, or leading the line with fewer than eight (a CJK character
   counts half a word);
4. table: a markdown row (`| a | b |`, a `|---|` rule, a cell line ending in ` |`),
   two or more ` | ` separators, or three or more tab-separated cells;
5. heading: a markdown heading, `# Title` and the `#Title` blog digests write; a
   figure or table caption (`图 3:`, `表 1:`, `Figure 2.`, `Fig. 4:`, `Table 1:`: the
   label, a number and a `:` or `.`); a numbered section heading (`1.2 `, `第三章`,
   `二、`) whose title has no sentence punctuation and at most twelve words; a short
   label and a bar before a title (`Day 1|SpecEE: ...`, `专栏｜...`) on a line that does
   not end like a sentence;
6. formula: math symbols (`=`, `^`, `_`, `\\frac`, `∑`...) outside LaTeX spans with no
   ordinary word beside them, or with `=` or a command and three times more symbols
   than words;
7. code: two or more code tokens (calls, snake_case names, `==`) and no more words;
8. heading: a line that is all bold; a Latin line in Title Case (two capitalised words
   and no lowercase one, or three or more and at most a quarter as many lowercase ones:
   a sentence that names a title has words of its own; words of three letters or
   fewer, acronyms and prepositions say nothing); a Latin `Name: a subtitle` line
   (at most four words, a colon, then a/an/the or a title's opening word such as
   "towards", "on", "how"; sixteen words at most) with no other punctuation and no number; a short CJK line
   (24 characters at most) with no punctuation, no digit and no verb;
9. prose: everything else, including sentences that contain a number, an inline
   formula, a URL or a bit of code.
"""

from __future__ import annotations

import re
from typing import Literal

LineKind = Literal["formula", "code", "table", "url", "heading", "prose"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")

# --- url -----------------------------------------------------------------------------------
_LINK = re.compile(
    r"!?\[[^\[\]]*\]\([^()\s]*\)|<(?:img|a|source|video|iframe|picture)\b[^>]*>?|</a>|<?(?:https?://|www\.)[^\s<>]+>?",
    re.IGNORECASE,
)

# --- table ---------------------------------------------------------------------------------
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")

# --- formula -------------------------------------------------------------------------------
_MATH_DELIMITED = re.compile(
    r"^(?:\$\$(?:(?!\$\$).)+\$\$|\$[^$]+\$|\\\[(?:(?!\\\]).)+\\\]|\\\((?:(?!\\\)).)+\\\)|\\begin\{(\w+\*?)\}.*\\end\{\1\})$",
    re.DOTALL,
)
_MATH_SPAN = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\[.+?\\\]|\\\(.+?\\\)|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)
_MATH_SYMBOL = re.compile(r"[=<>+^_\\∑∏∫√∂∇≈≠≤≥≪≫∝∞±×÷·→←↔∈∉⊂⊆∪∩∀∃]")
# Script contents (x_{ij}, e^{-t}) and commands (\mathbb, \log) are notation, not words.
_MATH_NOTATION = re.compile(r"[_^](?:\{[^{}]*\}|\w+)|\\[A-Za-z]+")
# A word is two or more letters in a row (any script: a CJK run counts).
_WORD = re.compile(r"[^\W\d_]{2,}")
# Function names in a formula are no ordinary words.
_MATH_NAME = re.compile(
    r"(?:arg)?(?:log|ln|lg|exp|sin|cos|tanh?|sigmoid|softmax|relu|max|min|lim|sup|inf|det|tr|diag|var|cov|d?kl|mod|sgn|"
    r"sign|mse|nll)?",
    re.IGNORECASE,
)

# --- code ----------------------------------------------------------------------------------
_CODE_START = re.compile(
    r"^(?:import\s+[\w.]+|from\s+[\w.]+\s+import\s|(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[(:]|return\b|yield\b|"
    r"raise\s+\w|(?:el)?if\s.+:$|else\s*:|for\s+[\w, ()]+\s+in\s.+:$|while\s.+:$|with\s.+:$|try\s*:|except\b.*:$|"
    r"finally\s*:|@[\w.]+(?:\(.*\))?$|print\s*\(|#include\b|#!/|(?:const|let|var)\s+\w+\s*=|function\s*\w*\s*\(|"
    r"\"\"\"|'''|```|//|/\*|<!--|(?:\$|>>>)\s+\S|[A-Za-z_]\w*(?:\.\w+)+\(.*\)[,;]?$|[A-Za-z]\w*_\w*\(.*\)[,;]?$|"
    r"(?:pip3?|uv|npm|npx|yarn|git|curl|wget|docker|conda|apt-get|brew|cargo|sudo|python3?)\s+"
    r"(?:install|run|clone|add|-\S|\S*[/.=]\S*))"
)
_ASSIGNED = re.compile(r"^[A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:\s*,\s*[A-Za-z_][\w.]*)*\s*(?:[+\-*/%@]|//)?=(?!=)\s*(.+)$")
# What the right side of `x = ...` is when it is code rather than an equation.
_CODE_VALUE = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]|[A-Za-z_]\w{1,}\(|^[\[{'\"]|\b(?:None|True|False)\b|\w_\w")
_TRAILING_COMMENT = re.compile(r"(?<=\S)\s+#\s.*$")
# A name only code gives: snake_case or dotted with a real word in it, or a CONSTANT.
_CODE_NAME = re.compile(r"(?=.*[A-Za-z]{3})[A-Za-z]\w*[_.]\w|^[A-Z][A-Z0-9_]{2,}$")
_CODE_MARK = re.compile(r"\b(?:self|this)\.[A-Za-z_]|__\w+__|::|=>|\)\s*\{$|\)\s*;$|^[)\]}]+[,;]?$|^\}|\{$")
_CODE_TOKEN = re.compile(r"[A-Za-z_]\w*(?:\.\w+)*\(|\w+_\w+|[=!<>]=|->|\+=|-=")

# --- heading -------------------------------------------------------------------------------
_MARKDOWN_HEADING = re.compile(r"^#{1,6}(?:\s|$)|^#[^\s#\d]")
_BOLD_LINE = re.compile(r"^(?:\*\*|__)[^*_]+(?:\*\*|__)[:：]?$")
# Words a Title Case line leaves in lowercase (those of three letters or fewer say nothing anyway).
_MINOR_WORD = re.compile(
    r"with|from|into|onto|over|upon|than|that|this|when|where|what|about|above|across|after|among|around|before|"
    r"behind|below|beneath|beside|between|beyond|down|during|except|inside|like|near|since|through|towards?|under|"
    r"until|versus|within|without",
    re.IGNORECASE,
)
_SENTENCE_PUNCT = re.compile(r"[，。！？；,.!?;]")
_SENTENCE_END = (".", "!", "?", "。", "！", "？", "…")
# A figure or table caption: the label, its number, and a colon or a full stop.
_CAPTION = re.compile(r"^(?:图|表|Figure|Fig\.?|Table|Tab\.)\s*\d+(?:\.\d+)?[a-z]?\s*[:：.．]", re.IGNORECASE)
# A section number before a title: `1.2 `, `3.1.4 `, `第三章`, `二、`.
_SECTION_NUMBER = re.compile(
    r"^(?:\d+(?:\.\d+)+\.?\s+|第[一二三四五六七八九十百\d]+[章节部分篇]\s*|[一二三四五六七八九十]+[、.．]\s*)(?=\S)"
)
# A short label and a bar before a title: `Day 1|SpecEE: ...`, `专栏｜...`.
_LABEL_BAR = re.compile(r"^[^\W\d_][^|｜\s()\[\]{}（）]{0,11}(?:\s?\d{1,3})?\s*[|｜]\s*[^|｜\s][^|｜]*$")
# `Name: a subtitle`, the way a paper or a post is titled in sentence case.
_SUBTITLE = re.compile(
    r"^[^\s:：]+(?:\s+[^\s:：]+){0,3}\s*:\s+(?:a|an|the|towards?|on|how|why|what|when|beyond|from|rethinking|"
    r"revisiting|understanding|learning)\s",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\([^()]*\)|（[^（）]*）|\[[^\[\]]*\]|「[^「」]*」|“[^“”]*”|《[^《》]*》")
_STANDALONE_NUMBER = re.compile(r"(?<![\w.])\d")
# Verbs (and copulas) a short CJK line states something with; without one it names a section.
_CJK_VERB = re.compile(
    r"提出|提升|优于|降低|显著|表明|证明|发现|超过|超越|提高|减少|实现|达到|增加|加速|改善|支持|需要|导致|是|有|能|可以|会|使|让|将|被|把"
)


def _words(text: str) -> float:
    """Ordinary words: Latin words of two letters or more, and a CJK character as half a word."""
    return len(_LATIN_WORD.findall(text)) + len(_CJK.findall(text)) / 2


def _is_url(text: str) -> bool:
    """A link with fewer than four words beside it, or leading a line with fewer than eight."""
    link = _LINK.search(text)
    if not link:
        return False
    words = _words(_LINK.sub(" ", text))
    return words < 4 or (link.start() == 0 and words < 8)


def _is_table_row(text: str) -> bool:
    if text == "|" or _TABLE_RULE.match(text):
        return True
    if text.startswith("|") and text.count("|") >= 2 and (text.endswith("|") or " | " in text):
        return True
    if text.endswith(" |") or text.count(" | ") >= 2:
        return True
    return len([cell for cell in text.split("\t") if cell.strip()]) >= 3


def _is_latex(text: str) -> bool:
    """Delimited LaTeX on its own, or text that is mostly LaTeX spans."""
    if _MATH_DELIMITED.match(text):
        return True
    spans = sum(len(m.group(0)) for m in _MATH_SPAN.finditer(text))
    return spans > 0.4 * len("".join(text.split()))


def _is_symbolic(text: str) -> bool:
    """Math symbols (outside LaTeX spans) with no ordinary word beside them, or three times more than words."""
    rest = _MATH_SPAN.sub(" ", text)
    if not _MATH_SYMBOL.search(rest):
        return False
    words = [w for w in _WORD.findall(_MATH_NOTATION.sub(" ", rest)) if not _MATH_NAME.fullmatch(w)]
    if not words:
        return True
    symbols = len(_MATH_SYMBOL.findall(rest)) + len(_MATH_NOTATION.findall(rest))
    return ("=" in rest or "\\" in rest) and symbols >= 3 * len(words)


def _is_code_statement(line: str) -> bool:
    """A line that starts or ends the way code does, or assigns code to a name (a trailing `# comment` aside)."""
    text = _TRAILING_COMMENT.sub("", line)
    if _CODE_START.match(text) or _CODE_MARK.search(text):
        return True
    assigned = _ASSIGNED.match(text)
    if not assigned:
        return False
    name = text[: assigned.start(1)].rstrip(" =+-*/%@")
    return bool(_CODE_NAME.search(name) or _CODE_VALUE.search(assigned.group(1)))


def _is_code_dense(text: str) -> bool:
    """More code tokens (calls, snake_case names, `==`) than words."""
    tokens = len(_CODE_TOKEN.findall(text))
    return tokens >= 2 and tokens >= _words(_CODE_TOKEN.sub(" ", text))


def _capitalised(word: str) -> bool | None:
    """True for Capitalised, False for lowercase, None for what says nothing (short words, acronyms, CamelCase)."""
    head = word.split("-", maxsplit=1)[0]
    if len(head) <= 3 or any(c.isupper() for c in head[1:]):
        return None
    return head[0].isupper()


def _is_marked_heading(text: str) -> bool:
    """A markdown heading, a caption, a numbered section heading or a label-and-bar title (rule 5)."""
    if _MARKDOWN_HEADING.match(text) or _CAPTION.match(text):
        return True
    section = _SECTION_NUMBER.match(text)
    if section:
        title = text[section.end() :]
        return not _SENTENCE_PUNCT.search(_BRACKETED.sub("", title)) and _words(title) <= 12
    return bool(_LABEL_BAR.match(text)) and not text.rstrip("*_ ").endswith(_SENTENCE_END)


def _is_heading(text: str) -> bool:
    """An all-bold line, a Title Case line, a subtitle line, or a short CJK line that states nothing (rule 8)."""
    if _BOLD_LINE.match(text):
        return True
    if _SUBTITLE.match(text) and not _SENTENCE_PUNCT.search(text) and len(text.split()) <= 16:
        return not _STANDALONE_NUMBER.search(text) and not _CJK.search(text)
    cjk = len(_CJK.findall(text))
    latin = _LATIN_WORD.findall(_LINK.sub(" ", _MATH_SPAN.sub(" ", text)))
    if len(latin) > cjk:
        cases = [_capitalised(w) for w in latin if not _MINOR_WORD.fullmatch(w)]
        upper, lower = cases.count(True), cases.count(False)
        return len(cases) <= 20 and ((upper >= 2 and lower == 0) or (upper >= 3 and upper >= 4 * lower))
    if cjk < 2:
        return False
    short = len(text) <= 24 and not _SENTENCE_PUNCT.search(text) and not re.search(r"\d", text)
    return short and not _CJK_VERB.search(text)


def line_kind(text: str) -> LineKind:
    """The kind of one line (or one sentence) of text; see the module docstring for the rules."""
    line = text.strip()
    if not line:
        return "prose"
    if _is_latex(line):
        return "formula"
    if _is_code_statement(line):
        return "code"
    if _is_url(line):
        return "url"
    if _is_table_row(line):
        return "table"
    if _is_marked_heading(line):
        return "heading"
    if _is_symbolic(line):
        return "formula"
    if _is_code_dense(line):
        return "code"
    if _is_heading(line):
        return "heading"
    return "prose"
