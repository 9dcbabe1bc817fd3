"""The merge stage: observations from every run, job and model become canonical claims.

Incremental and blocked: a new observation is compared only with the claims that
share one of its rarest tokens or one of its citations (an inverted index over
claim signatures kept in `claim_index`), never with every claim. It joins the
best-scoring compatible claim above a threshold, else starts a new claim.

Compatible means: the same scope (triage claims, report headlines, and each
position's stance and counter never mix), the same topic for report statements,
and no two clearly different camp labels. The score is an IDF-weighted blend of containment and
Jaccard overlap of the two token sets (words, numbers, CJK bigrams), plus a bonus
for a shared citation and a penalty for numbers that disagree.

Claim ids are fixed when a claim is created and never change: `c-` + the first
10 hex digits of sha256(canonical JSON [normalised text of its first observation,
scope, topic for report statements else null, n]), where n is 0 unless that id is
already taken by another claim (then 1, 2, ...). See `extract.hashing`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from extract.hashing import normalise_claim_text, sha256_json
from extract.models import Observation
from extract.store import Database
from extract.store.claim_index import load_index, save_index

THRESHOLD = 0.65
CAMP_WEIGHT = 0.3
CAMP_APART = 0.3
SIGNATURE_CAP = 96
RARE_TOKENS = 8
COMMON_POSTINGS = 5000

_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_ARXIV = re.compile(r"\b(\d{4}\.\d{4,5})\b")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "for",
        "and",
        "or",
        "on",
        "in",
        "with",
        "to",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "as",
        "at",
        "from",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "can",
        "may",
        "might",
        "will",
        "would",
        "should",
        "could",
        "not",
        "no",
        "than",
        "then",
        "into",
        "over",
        "under",
        "via",
        "we",
        "our",
        "their",
        "they",
        "which",
        "who",
        "whose",
        "while",
        "when",
        "where",
        "what",
        "how",
        "more",
        "most",
        "less",
        "such",
        "also",
        "only",
        "but",
        "both",
        "each",
        "other",
    }
)


def _camp_tokens(camp: str) -> set[str]:
    return set(_WORD.findall(unicodedata.normalize("NFKC", camp).casefold())) - _STOP


def _overlap(a: set[str], b: set[str]) -> float:
    """Containment: labels are often cut at different lengths."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def scope_of(kind: str, field_path: str | None) -> str:
    """Triage claims share one scope; a report statement's scope is its field path,
    position included (`report.positions[2].stance`): in the dashboard every
    merged pair of report statements shares it."""
    if not field_path:
        return "triage" if kind == "ref_triage" else kind
    return field_path


@dataclass
class Signature:
    tokens: set[str]
    numbers: set[str]
    citations: set[str]


def signature(text: str, citations: tuple[str, ...] | list[str] = ()) -> Signature:
    folded = unicodedata.normalize("NFKC", text).casefold()
    tokens = {w for w in _WORD.findall(folded) if w not in _STOP and len(w) > 1}
    for run in _CJK_RUN.findall(folded):
        tokens.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    numbers = set(_NUMBER.findall(folded))
    cites = {c.casefold() for c in citations} | set(_ARXIV.findall(folded))
    return Signature(tokens | numbers, numbers, cites)


@dataclass
class _Claim:
    claim_id: str
    scope: str
    topic: str | None
    camp: str | None
    sig: Signature
    n_obs: int
    dirty: bool = False

    def row(self) -> list[Any]:
        return [
            self.claim_id,
            self.scope,
            self.topic,
            self.camp,
            sorted(self.sig.tokens),
            sorted(self.sig.citations),
            sorted(self.sig.numbers),
            self.n_obs,
        ]


@dataclass
class Merger:
    """Assigns claim ids to new observations against every claim stored so far."""

    db: Database
    threshold: float = THRESHOLD
    claims: list[_Claim] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id: dict[str, int] = {}
        # Postings are keyed by block (scope, and topic for report statements) and
        # token, so candidates are compatible by construction.
        self._postings: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._df: Counter[str] = Counter()
        for claim_id, scope, topic, camp, tokens, citations, numbers, n_obs in load_index(self.db):
            self._add(_Claim(claim_id, scope, topic, camp, Signature(set(tokens), set(numbers), set(citations)), n_obs))

    @staticmethod
    def _block(scope: str, topic: str | None) -> str:
        return scope if scope == "triage" else f"{scope}\x1f{topic}"

    def _index(self, at: int, tokens: set[str], citations: set[str]) -> None:
        claim = self.claims[at]
        block = self._block(claim.scope, claim.topic)
        for key in tokens | {"@" + c for c in citations}:
            self._postings[(block, key)].append(at)
        self._df.update(tokens)

    def _add(self, claim: _Claim) -> int:
        at = len(self.claims)
        self.claims.append(claim)
        self._by_id[claim.claim_id] = at
        self._index(at, claim.sig.tokens, claim.sig.citations)
        return at

    def _idf(self, token: str) -> float:
        return math.log(1.0 + (len(self.claims) + 1) / (1.0 + self._df.get(token, 0)))

    def _weight(self, at: int) -> float:
        return sum(self._idf(t) for t in self.claims[at].sig.tokens)

    def _candidates(self, sig: Signature, block: str) -> set[int]:
        postings = self._postings
        # The rarest tokens that some claim of this block has (a token no claim has
        # finds nothing and would waste a slot).
        present = [t for t in sig.tokens if (block, t) in postings]
        rare = sorted(present, key=lambda t: len(postings[(block, t)]))[:RARE_TOKENS]
        found: set[int] = set()
        for key in [*rare, *("@" + c for c in sig.citations)]:
            posting = postings.get((block, key), [])
            if len(posting) <= COMMON_POSTINGS:
                found.update(posting)
        return found

    def _score(self, sig: Signature, idf: dict[str, float], weight: float, at: int, camp: set[str]) -> float:
        claim = self.claims[at]
        score = 0.0
        shared = sum(idf[t] for t in sig.tokens & claim.sig.tokens)
        if shared:
            other = self._weight(at)
            score = 0.5 * shared / min(weight, other) + 0.5 * shared / (weight + other - shared)
        if sig.citations & claim.sig.citations:
            score += 0.15
        if camp and claim.camp:
            # Within one topic a camp label names the position; paraphrased
            # statements of one camp share it almost word for word.
            score += CAMP_WEIGHT * _overlap(camp, _camp_tokens(claim.camp))
        if sig.numbers and claim.sig.numbers and claim.scope == "triage":
            # "improves by 12%" and "improves by 30%" are different claims.
            score += 0.05 if sig.numbers & claim.sig.numbers else -0.35
        return score

    def _new_id(self, o: Observation, scope: str) -> str:
        n = 0
        while True:
            key = [normalise_claim_text(o.text), scope, o.topic if scope != "triage" else None, n]
            candidate = "c-" + sha256_json(key)[:10]
            if candidate not in self._by_id:
                return candidate
            n += 1

    def place(self, o: Observation) -> str:
        """The claim id for one observation (joining or creating a claim)."""
        scope = scope_of(o.job, o.field_path)
        block = self._block(scope, o.topic)
        sig = signature(o.text, [c.value for c in o.citations])
        idf = {t: self._idf(t) for t in sig.tokens}
        weight = sum(idf.values())
        camp = _camp_tokens(o.camp) if o.camp else set()
        best, best_score = None, self.threshold
        for at in self._candidates(sig, block):
            other_camp = self.claims[at].camp
            # Different camps of one debate stay apart even when they use the same words.
            if camp and other_camp and _overlap(camp, _camp_tokens(other_camp)) < CAMP_APART:
                continue
            score = self._score(sig, idf, weight, at, camp)
            if score >= best_score:
                best, best_score = at, score
        if best is None:
            claim = _Claim(self._new_id(o, scope), scope, o.topic, o.camp, sig, 1, dirty=True)
            self._add(claim)
            return claim.claim_id
        claim = self.claims[best]
        claim.n_obs += 1
        claim.dirty = True
        room = SIGNATURE_CAP - len(claim.sig.tokens)
        added = set(sorted(sig.tokens - claim.sig.tokens)[: max(room, 0)])
        new_cites = sig.citations - claim.sig.citations
        claim.sig.tokens |= added
        claim.sig.citations |= new_cites
        claim.sig.numbers |= sig.numbers & added
        claim.camp = claim.camp or o.camp
        self._index(best, added, new_cites)
        return claim.claim_id

    def assign(self, observations: list[Observation]) -> list[Observation]:
        """Claim ids for observations, placed in document order so that the result
        does not depend on the order in which answers happened to arrive."""
        ordered = sorted(observations, key=lambda o: (o.doc_sha256 or "", o.char_start or 0, o.obs_id))
        return [replace(o, claim_id=self.place(o)) for o in ordered]

    def persist(self) -> None:
        dirty = [c for c in self.claims if c.dirty]
        save_index(self.db, [c.row() for c in dirty])
        for c in dirty:
            c.dirty = False
