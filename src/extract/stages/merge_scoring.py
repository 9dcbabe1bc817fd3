"""How alike an observation and a claim are: the merge's scoring policy.

A `MergePolicy` holds the few numbers the merge decides by (`bench/merge_quality.py`
chooses them by cross-validation over topics: see docs/merging.md). The facts a
statement asserts exactly, its numbers and its formulas, are not weighed but
compared: two statements that both state numbers and share none, both state
results (a share, a multiple, points) and share none, or both carry formulas and
share none, are different claims however alike their words are
("improves by 12%" and "improves by 30%"; three different loss functions).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# Digits that belong to a reference, not to what the statement says: citation keys
# (`[Ali2024TokenizerChoice]`, also cut short: `[Ye2025`), arXiv ids and URLs.
_REFERENCE = re.compile(
    r"\[[A-Za-z][\w-]*\d{4}[\w-]*\]?|\b\d{4}\.\d{4,5}(?:v\d+)?\b|\b(?:arxiv:)?[a-z-]+/\d{7}\b|https?://\S+|www\.\S+",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A number stated as a result: a share, a multiple, points.
_RESULT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|x\b|×|pp\b|points?\b|个百分点|倍)")
# Math as written in dumps and model answers: $$...$$, $...$, \[...\], \(...\).
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.DOTALL)
_SPACE = re.compile(r"\s+")
FORMULA_MARK = "$"
RESULT_MARK = "%"
MARKS = (FORMULA_MARK, RESULT_MARK)


@dataclass(frozen=True)
class MergePolicy:
    """What decides a join. The score of an observation against a claim is an
    IDF-weighted blend of containment (`containment` of it) and Jaccard overlap of
    their token sets, plus `citation_bonus` when they share a citation and
    `camp_weight` times the overlap of their camp labels; it joins the best claim
    scoring at least `threshold`. Camp labels overlapping less than `camps_apart`
    name different camps: never joined."""

    threshold: float = 0.65
    containment: float = 0.75
    citation_bonus: float = 0.1
    camp_weight: float = 0.3
    camps_apart: float = 0.3
    # Plain (unweighted) Jaccard overlap of the token sets at which a pair joins
    # whatever its weighted score; 1.0: only identical token sets on this ground alone.
    overlap: float = 0.4

    def blend(self, shared: float, mine: float, theirs: float) -> float:
        """The wording score from IDF weights: of the shared tokens, of each side."""
        if shared <= 0.0:
            return 0.0
        contained = shared / min(mine, theirs)
        jaccard = shared / (mine + theirs - shared)
        return self.containment * contained + (1.0 - self.containment) * jaccard


def facts(folded: str) -> set[str]:
    """The numbers a (casefolded) statement states, without the digits of its
    references, and a fingerprint (`$` + 12 hex) of each formula it writes."""
    found: set[str] = set()
    if "$" in folded or "\\" in folded:
        for match in _MATH.finditer(folded):
            body = _SPACE.sub("", next(g for g in match.groups() if g is not None))
            if body:
                found.add(FORMULA_MARK + hashlib.sha256(body.encode()).hexdigest()[:12])
        folded = _MATH.sub(" ", folded)
    plain = _THOUSANDS.sub("", _REFERENCE.sub(" ", folded))
    found.update(_NUMBER.findall(plain))
    found.update(RESULT_MARK + n for n in _RESULT.findall(plain))
    return found


def is_number(fact: str) -> bool:
    """A plain number (also a token of the signature), not a formula or result mark."""
    return not fact.startswith(MARKS)


def facts_agree(mine: set[str], theirs: set[str]) -> bool:
    """False when both state numbers and share none, both state results (12%, 2x,
    3 pp) and share none, or both write formulas and share none: then they are
    different claims ("by 12% over top-2" is not "by 30% over top-2")."""
    return not any(_kind_apart(mine, theirs, kind) for kind in ("", *MARKS))


def _kind_apart(mine: set[str], theirs: set[str], mark: str) -> bool:
    a = {f for f in mine if _mark(f) == mark}
    b = {f for f in theirs if _mark(f) == mark}
    return bool(a) and bool(b) and not a & b


def _mark(fact: str) -> str:
    return fact[0] if fact.startswith(MARKS) else ""


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()
