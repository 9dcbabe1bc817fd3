"""What the merge compares a statement by: its signature, the tokens of its words
(and numbers, and CJK bigrams), the facts it states exactly, and its citations.

Facts are the numbers a statement states (without the digits of its references:
citation keys, arXiv ids, URLs), its results (a share, a multiple, points: `%` + the
number) and its formulas (`$` + 12 hex of the formula without spaces). See
`scoring.facts_agree` for what they decide.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_ARXIV = re.compile(r"\b(\d{4}\.\d{4,5})\b")
_CITE_KEY = re.compile(r"\[([a-z][a-z-]*\d{4}[a-z0-9-]*)\]")
# Words that say nothing about which claim a statement makes.
_STOP_TEXT = """
a an the of for and or on in with to is are was were be been by as at from that this
these those it its can may might will would should could not no than then into over
under via we our their they which who whose while when where what how more most less
such also only but both each other
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# Digits that belong to a reference, not to what the statement says: citation keys
# (`[Ali2024TokenizerChoice]`, also cut short: `[Ye2025`), arXiv ids and URLs.
_REFERENCE = re.compile(
    r"\[[A-Za-z][\w-]*\d{4}[\w-]*\]?|\b\d{4}\.\d{4,5}(?:v\d+)?\b|\b(?:arxiv:)?[a-z-]+/\d{7}\b|https?://\S+|www\.\S+",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGIT = re.compile(r"\d")
# A number stated as a result: a share, a multiple, points.
_RESULT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|x\b|×|pp\b|points?\b|个百分点|倍)")
# Math as written in dumps and model answers: $$...$$, $...$, \[...\], \(...\).
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.DOTALL)
_SPACE = re.compile(r"\s+")
# The empty set every signature without citations, results or formulas shares: a
# merge of a million holds hundreds of thousands of signatures.
NONE: frozenset[str] = frozenset()
FORMULA_MARK = "$"
RESULT_MARK = "%"
MARKS = (FORMULA_MARK, RESULT_MARK)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def stated(folded: str) -> Facts:
    """The facts a (casefolded) statement states, by kind: its numbers without the
    digits of its references, each result as `%` + its number, and a fingerprint
    (`$` + 12 hex) of each formula it writes."""
    formulas: frozenset[str] = NONE
    if "$" in folded or "\\" in folded:
        for match in _MATH.finditer(folded):
            body = _SPACE.sub("", next(g for g in match.groups() if g is not None))
            if body:
                formulas |= {FORMULA_MARK + hashlib.sha256(body.encode()).hexdigest()[:12]}
        folded = _MATH.sub(" ", folded)
    if not _DIGIT.search(folded):
        return Facts(NONE, NONE, formulas)
    # A reference needs one of these characters; thousands a comma.
    plain = _REFERENCE.sub(" ", folded) if "[" in folded or "." in folded or "/" in folded else folded
    plain = _THOUSANDS.sub("", plain) if "," in plain else plain
    numbers = frozenset(map(sys.intern, _NUMBER.findall(plain))) or NONE
    results = frozenset([sys.intern(RESULT_MARK + n) for n in _RESULT.findall(plain)]) or NONE
    return Facts(numbers, results, formulas)


def facts(folded: str) -> frozenset[str]:
    """`stated`, all kinds in one set (as `claim_index.numbers` stores them)."""
    return stated(folded).all()


@dataclass(slots=True)
class Facts:
    """A statement's facts by kind: plain numbers, results (`%`...), formulas (`$`...)."""

    numbers: frozenset[str]
    results: frozenset[str]
    formulas: frozenset[str]

    @classmethod
    def of(cls, found: Iterable[str]) -> Facts:
        numbers: list[str] = []
        results: list[str] = []
        formulas: list[str] = []
        for fact in map(sys.intern, found):
            (
                results if fact.startswith(RESULT_MARK) else formulas if fact.startswith(FORMULA_MARK) else numbers
            ).append(fact)
        return cls(frozenset(numbers) or NONE, frozenset(results) or NONE, frozenset(formulas) or NONE)

    def __reduce__(self) -> tuple[type[Facts], tuple[frozenset[str], ...]]:
        # Pickled (from an import's reading process) as its fields alone, not by name.
        return Facts, (self.numbers, self.results, self.formulas)

    def all(self) -> frozenset[str]:
        return self.numbers | self.results | self.formulas


@dataclass(slots=True)
class Signature:
    tokens: set[str]
    facts: Facts
    citations: frozenset[str]
    # Set by a stored index's `prepare` when the stored claims sharing two of these
    # tokens were read for it (the tokens that may be among its rarest, not read
    # whole): its candidates need nothing more read.
    paired: frozenset[str] | None = None

    def __reduce__(self) -> tuple[type[Signature], tuple[Any, ...]]:
        return Signature, (self.tokens, self.facts, self.citations, self.paired)


def signature(text: str, citations: Iterable[str] = ()) -> Signature:
    folded = fold(text)
    tokens = set(_WORD.findall(folded)) - _NOT_TOKENS
    # A pattern that needs a character the text lacks finds nothing: skip its search.
    for run in () if folded.isascii() else _CJK_RUN.findall(folded):
        tokens.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    said = stated(folded)
    arxiv = set(_ARXIV.findall(folded)) if "." in folded else set()
    keys = set(_CITE_KEY.findall(folded)) if "[" in folded else set()
    # The store joins lists with the unit separator (`store.db.joined`).
    cites = frozenset({c.casefold().replace("\x1f", " ") for c in citations} | arxiv | keys) or NONE
    # Claims repeat a small vocabulary: one string object per distinct token, not per
    # use. Plain numbers are tokens too.
    return Signature(set(map(sys.intern, tokens)) | said.numbers, said, cites)


# Stop words and single letters (a word of one character) are no tokens.
_NOT_TOKENS = STOP_WORDS | frozenset("abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=1 << 16)
def camp_tokens(camp: str) -> frozenset[str]:
    # A debate has a handful of camps, compared with each other again and again.
    return frozenset(_WORD.findall(fold(camp))) - STOP_WORDS
