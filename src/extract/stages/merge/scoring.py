"""How alike an observation and a claim are: the merge's scoring policy and its token
weights.

A `MergePolicy` holds the few numbers the merge decides by (`bench/merge_quality.py`
chooses them by cross-validation over topics: see docs/merging.md). The facts a
statement asserts exactly (`signatures.Facts`) are not weighed but compared: two
statements that both state numbers and share none, both state results and share
none, or both carry formulas and share none, are different claims however alike
their words are ("improves by 12%" and "improves by 30%"; three different losses).

A token carried by df of N claims weighs log(2 (N + 1) / (1 + df)) (`TokenWeights`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from extract.stages.merge.signatures import Facts, Signature


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


def _apart(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    return bool(mine) and bool(theirs) and mine.isdisjoint(theirs)


def facts_agree(mine: Facts, theirs: Facts) -> bool:
    """False when both state numbers and share none, both state results (12%, 2x,
    3 pp) and share none, or both write formulas and share none: then they are
    different claims ("by 12% over top-2" is not "by 30% over top-2")."""
    return not (
        _apart(mine.numbers, theirs.numbers)
        or _apart(mine.results, theirs.results)
        or _apart(mine.formulas, theirs.formulas)
    )


def camps_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Containment of camp label tokens: labels are often cut at different lengths."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


@dataclass
class TokenWeights:
    """How many claims carry each token (those it was told of: the merge's index reads
    stored counts as it needs them), over how many claims: the IDF of each token."""

    n_claims: int = 0
    df: Counter[str] = field(default_factory=Counter)
    # log(1 + k) for k up to the largest count met: an IDF is a lookup, not a logarithm.
    _log1p: list[float] = field(default_factory=lambda: [math.log1p(k) for k in range(1024)])

    def known(self, stored: Mapping[str, int]) -> None:
        """Stored counts, read for tokens met for the first time."""
        self.df.update(stored)

    def count(self, tokens: Iterable[str]) -> None:
        """One more claim carries each of these tokens."""
        self.df.update(tokens)

    def logdf(self, tokens: Collection[str]) -> float:
        """Σ log(1 + df) over tokens: lookups mapped in C, no Python loop (this runs for
        every observation, every candidate's shared tokens and every claim re-weighed).
        `fsum`: correctly rounded, so it does not depend on the set's iteration order."""
        logs = self._log1p
        try:
            return math.fsum(map(logs.__getitem__, map(self.df.__getitem__, tokens)))
        except IndexError:
            # Grown (doubling) to the largest count met, which is far under the claim count.
            most = max(map(self.df.__getitem__, tokens))
            logs.extend(map(math.log1p, range(len(logs), 2 * most + 2)))
            return self.logdf(tokens)

    def scale(self) -> float:
        """log(2 (N + 1)): a token's IDF is this minus log(1 + df), so a set's weight
        is |set| times this minus `logdf`."""
        return math.log(2.0 * (self.n_claims + 1))

    def weight(self, sig: Signature, scale: float) -> float:
        return len(sig.tokens) * scale - self.logdf(sig.tokens)
