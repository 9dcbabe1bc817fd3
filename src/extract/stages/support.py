"""Number support: whether every number a report statement states is in its sources.

A topic report's statements are the model's own sentences; a number in one of them
(`12%`, `2x`, `0.85`, `3B tokens`, `128K`) is only kept when the same number appears
in what the statement rests on: the records it cites and the topic's claims. This
module owns what counts as a number and when two are the same:

- spelling is normalised: NFKC (`１２％` is `12%`), `12 %` = `12%`, `2×` = `2x` =
  `2-fold` = `2 times` = `2倍`, `1,000` = `1000`, `2.50` = `2.5`, magnitudes folded
  into the value (`128K` = `128k` = `128,000` = `128 thousand`, `3B` = `3b` =
  `3 billion`, `M`, `T`, `万` and `亿` too; a lowercase `m` or `t` is no magnitude:
  minutes, metres), `percent` = `%`;
- a percentage or a multiplier must be met as one (`12%` is not supported by a bare
  `12`); a bare number is met by the same value in any form;
- not numbers: a four-digit year from 1900 to 2099 standing alone (a year with `%`,
  `x` or a magnitude is a number); digits inside a name (`GPT-4`, `Qwen2.5-7B`,
  `FP8`, `Metis2025Home`); bracketed citation keys, reference markers and indexes
  (`[Key2024Name]`, `[2]`, `[2, 3]`, `positions[0]`) but not a bracketed quantity
  (`[47%]`, `[12x]`, `[0.85]` are numbers); arXiv ids, claim ids (`c-0123456789`) and
  URLs; list markers (`1.` or `2)` opening a line, `(3)`, `4、`, circled `①`);
- a range is two numbers, however it is joined (`2x-9x`, `2x–9x`, `2x to 9x`, `2x/9x`);
  `.47` is 0.47 and `3e-5` is 0.00003 (`1e400%` is that percentage, never a `1`);
- markdown emphasis is ignored (`**12**%` is `12%`);
- numbers written as words (`twelve`, `十二`) are not recognised.

Pure functions: no store, no model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

# Removed before numbers are looked for: each is an identifier, not a quantity.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# An arXiv id, and whatever follows an `arXiv:` prefix (an id cut short is no quantity either).
_ARXIV = re.compile(r"arxiv:\s*[^\s,;)\]]+|(?<!\d)(?<!\d\.)\d{4}\.\d{4,5}(?:v\d+)?(?!\d|\.\d)", re.IGNORECASE)
_CLAIM_ID = re.compile(r"\bc-[0-9a-f]{10}\b")
# A bracketed citation key (it opens with a letter or `@`: `[Key2024Name]`, `[@smith:12]`),
# a reference marker or an index (whole numbers only: `[2]`, `[2, 3]`, `[1-4]`,
# `positions[0]`). A bracketed quantity (`[47%]`, `[12x]`, `[0.85]`) is left to be read.
_BRACKETED = re.compile(r"\[@?[A-Za-z][^\[\]\s]*\]|\[\d{1,3}(?:\s*[,\-–]\s*\d{1,3})*\]")
_LIST_MARKER = re.compile(
    r"^[ \t]*\(?\d{1,2}[.)、](?=\s|[^\d\s.,])|(?<!\S)\(?\d{1,2}\)(?=\s)|(?<![\w.])\d{1,2}、", re.MULTILINE
)
# A name with digits in it: letters first, then digits (GPT-4o, Qwen2.5-7B, FP8, H100, v1.5).
_NAME = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*")
# Circled digits (`①`), which NFKC would turn into plain ones: list markers.
_CIRCLED = re.compile(r"[\u2460-\u2473\u24f5-\u24fe\u2776-\u2793]")

# A number: not inside a name (a letter or a letter-hyphen before it, but `2x-9x` is a
# range of multipliers) nor inside another number; `1,000` whole before `1`; `.47`;
# `3e-5`; then an optional unit.
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])(?<![A-Za-wyz]-)(?<![^0-9]x-)(?<!^x-)"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?!\d|,\d)|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"(?:"
    r"\s?(?P<percent>%|(?i:percent|per\s?cent)\b)"
    r"|\s?(?P<times>×|x(?![A-Za-z0-9])|(?i:-?fold|times)\b|倍)"
    r"|(?P<suffix>[kKMbBT])(?![A-Za-z])"
    r"|\s(?P<word>(?i:thousand|million|billion|trillion))\b"
    r"|\s?(?P<cjk>万|亿)"
    r")?"
)
_MAGNITUDE = {
    "k": Decimal(10**3),
    "m": Decimal(10**6),
    "b": Decimal(10**9),
    "t": Decimal(10**12),
    "thousand": Decimal(10**3),
    "million": Decimal(10**6),
    "billion": Decimal(10**9),
    "trillion": Decimal(10**12),
    "万": Decimal(10**4),
    "亿": Decimal(10**8),
}
_YEARS = (1900, 2099)
# Exact enough for any number a text states, and no overflow (`1e400`; past the
# largest exponent a value is infinite rather than an error).
_CONTEXT = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


@dataclass(frozen=True)
class Number:
    """A number as a statement or a source states it: its value and whether it is a
    percentage (`%`) or a multiplier (`x`), else `""`; `raw` is how it was written."""

    value: Decimal
    kind: str
    raw: str = field(compare=False)

    def __str__(self) -> str:
        return self.raw


def _bare(text: str) -> str:
    """The text without what only looks like numbers (identifiers, markers), NFKC-normalised."""
    # Markdown emphasis is no part of a number (`**12**%` is `12%`): a claim written
    # without it (as the heuristic model writes its quotes) states the same numbers.
    text = text.replace("**", "").replace("__", "")
    text = _CIRCLED.sub(" ", text)  # before NFKC, which makes `①` a `1`
    text = unicodedata.normalize("NFKC", text)
    for pattern in (_URL, _CLAIM_ID, _ARXIV, _BRACKETED, _LIST_MARKER):
        text = pattern.sub(" ", text)
    return _NAME.sub(lambda m: " " if any(c.isdigit() for c in m.group(0)) else m.group(0), text)


def numbers(text: str) -> list[Number]:
    """Every number the text states, in order (repeats kept)."""
    out: list[Number] = []
    for m in _NUMBER.finditer(_bare(text)):
        value = _CONTEXT.create_decimal(m.group("digits").replace(",", ""))
        unit = (m.group("suffix") or m.group("word") or m.group("cjk") or "").lower()
        kind = "%" if m.group("percent") else "x" if m.group("times") else ""
        if not kind and not unit and _YEARS[0] <= value <= _YEARS[1] and len(m.group("digits")) == 4:
            continue
        if unit:
            value = _CONTEXT.multiply(value, _MAGNITUDE[unit])
        out.append(Number(value.normalize(_CONTEXT), kind, m.group(0).strip()))
    return out


# What sources state: each value, and the kinds (`""`, `%`, `x`) it was stated as.
Found = dict[Decimal, set[str]]


def found_in(texts: Iterable[str]) -> Found:
    """The numbers these texts state, for `unsupported` to look up."""
    found: Found = {}
    for text in texts:
        for n in numbers(text):
            found.setdefault(n.value, set()).add(n.kind)
    return found


def unsupported(statement: str, *sources: Found) -> list[Number]:
    """The numbers of `statement` that no source states (each listed once): a
    percentage or a multiplier must be found as one; a bare number in any form."""
    out: list[Number] = []
    for n in dict.fromkeys(numbers(statement)):
        kinds = set().union(*(found.get(n.value, set()) for found in sources))
        if not kinds or (n.kind and n.kind not in kinds):
            out.append(n)
    return out
