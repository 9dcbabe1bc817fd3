"""The merge stage: observations from every run, job and model become canonical claims.

Incremental and blocked: a new observation is compared only with the claims that
share two of its rarest tokens (one, if it has fewer than four) or one of its
citations (an inverted index over claim signatures kept in `claim_index`), never
with every claim. It joins the best-scoring compatible claim above a threshold,
else starts a new claim.

Compatible means: the same scope (triage claims, report headlines, and each
position's stance and counter never mix), the same topic for report statements, no
two clearly different camp labels, and no numbers, results or formulas that
disagree (`stages/merge_scoring.facts_agree`). The score (`MergePolicy`) is an
IDF-weighted blend of containment and Jaccard overlap of the two token sets (words,
numbers, CJK bigrams; a token on df of N claims weighs log(2 (N + 1) / (1 + df))),
plus a bonus for a shared citation (given, an arXiv id, or a `[Key2024Name]` key in
the text) and for overlapping camp labels; a plain token overlap at the policy's
`overlap` joins on its own. A candidate scoring just under the threshold
("borderline") can be put to an arbiter (an embedder, the model: `stages/arbiter.py`).

Claim ids are fixed when a claim is created and never change: `c-` + the first
10 hex digits of sha256(canonical JSON [normalised text of its first observation,
scope, topic for report statements else null, n]), where n is 0 unless that id is
already taken by another claim (then 1, 2, ...). See `extract.hashing`. An
observation that names its claim (an exported line, re-imported) keeps that id.
"""

from __future__ import annotations

import gc
import math
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain
from typing import Any

from extract.hashing import normalise_claim_text, sha256_json
from extract.models import Observation
from extract.stages.arbiter import Arbiter
from extract.stages.merge_scoring import MergePolicy, facts, facts_agree, is_number
from extract.store import Database
from extract.store.arbiters import claim_text
from extract.store.claim_index import (
    PostingNumbers,
    count_claims,
    count_stored_claims,
    load_signatures,
    postings_generation,
    stored_claim_ids,
    token_frequencies,
)

SIGNATURE_CAP = 96
RARE_TOKENS = 8
COMMON_POSTINGS = 5000
TWO_HITS_FROM = 4

_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_ARXIV = re.compile(r"\b(\d{4}\.\d{4,5})\b")
_CITE_KEY = re.compile(r"\[([a-z][a-z-]*\d{4}[a-z0-9-]*)\]")
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


@lru_cache(maxsize=1 << 16)
def _camp_tokens(camp: str) -> frozenset[str]:
    # A debate has a handful of camps, compared with each other again and again.
    return frozenset(_WORD.findall(unicodedata.normalize("NFKC", camp).casefold())) - _STOP


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Containment: labels are often cut at different lengths."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def scope_of(kind: str, field_path: str | None) -> str:
    """Triage claims share one scope; a report statement's scope is its field path,
    position included (`report.positions[2].stance`): in the dashboard every
    merged pair of report statements shares it."""
    if not field_path:
        return "triage" if kind == "ref_triage" else kind
    return field_path


@dataclass(slots=True)
class Signature:
    tokens: set[str]
    numbers: set[str]
    citations: set[str]
    # Set by an incremental merge's `Merger._load` when the stored claims sharing two of
    # these tokens were read for it (the tokens that may be among its rarest, not read
    # whole): its candidates need nothing more read.
    paired: frozenset[str] | None = None


def signature(text: str, citations: tuple[str, ...] | list[str] = ()) -> Signature:
    folded = unicodedata.normalize("NFKC", text).casefold()
    tokens = {w for w in _WORD.findall(folded) if w not in _STOP and len(w) > 1}
    # A pattern that needs a character the text lacks finds nothing: skip its search.
    for run in () if folded.isascii() else _CJK_RUN.findall(folded):
        tokens.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    numbers = set(map(sys.intern, facts(folded)))
    arxiv = set(_ARXIV.findall(folded)) if "." in folded else set()
    keys = set(_CITE_KEY.findall(folded)) if "[" in folded else set()
    cites = {c.casefold() for c in citations} | arxiv | keys
    # Claims repeat a small vocabulary: one string object per distinct token, not per use.
    plain = set(filter(is_number, numbers))
    return Signature(set(map(sys.intern, tokens)) | plain, numbers, cites)


@dataclass(slots=True)
class _Claim:
    claim_id: str
    scope: str
    topic: str | None
    camp: str | None
    sig: Signature
    n_obs: int
    dirty: bool = False
    # Σ log(1 + df) over `sig.tokens` (see `Merger._weight`), and the claim count it
    # was computed at.
    logdf: float = 0.0
    weighed_at: int = -1
    at: int = -1  # position in Merger.claims, which postings refer to
    text: str | None = None  # kept only where an arbiter may need it
    # Never saved yet (every key is new to `claim_postings`), else the keys (tokens,
    # "@" + citations) it gained since it was last saved.
    fresh: bool = False
    gained: list[str] | None = None

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
            None if self.fresh else (self.gained or []),
        ]


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Placing observations allocates millions of small sets and lists and frees
    almost none: the cyclic collector's passes over them cost more than the merge
    itself, and there are no cycles to find. An import holds it over every batch: with
    the merge's claims in memory, each pass of the collector over them (set off by
    any allocation, e.g. building rows to store) costs more the more claims there are."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _keys(sig: Signature) -> list[str]:
    """A signature's keys in the postings: its tokens, and "@" + each citation."""
    return [*sig.tokens, *("@" + c for c in sig.citations)]


def _gathered(tokens: list[list[int]], citations: list[list[int]]) -> set[int]:
    """The candidates in the postings of an observation's rarest tokens and of its
    citations: with `TWO_HITS_FROM` or more rare tokens, only the claims on two of them
    (or on a citation). A claim sharing only one of them almost never reaches the
    threshold (236 of 444,236 joins in 1M synthetic observations), and at scale almost
    half the candidates are such chance meetings."""
    if len(tokens) < TWO_HITS_FROM:
        found = set(chain.from_iterable(tokens))
    else:
        found = {at for at, n in Counter(chain.from_iterable(tokens)).items() if n > 1}
    found.update(chain.from_iterable(citations))
    return found


def _not_kept(o: Observation, named: str) -> Observation:
    """An observation that named a claim of another block, placed by its wording instead."""
    return replace(o, flags=(*o.flags, f"claim_id_not_kept:{named}"))


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _key_order(key: tuple[str, str | None, str]) -> tuple[str, str, str]:
    return key[0], key[1] or "", key[2]


def block_of(scope: str, topic: str | None) -> tuple[str, str | None]:
    """Claims are only ever compared within a block: triage claims across topics,
    report statements within their topic and field path."""
    return (scope, None) if scope == "triage" else (scope, topic)


@dataclass
class Merger:
    """Assigns claim ids to new observations against every claim stored so far.

    Only the stored claims an observation could be compared with are read from
    `claim_index`: those carrying one of its rarest tokens or one of its citations in
    its block, rarity counted over every claim (`claim_postings` as of the merger's
    start, plus what the merger added since), so an incremental merge costs what it
    touches, not what the database holds, and places as a merge holding every claim.
    """

    db: Database
    policy: MergePolicy = field(default_factory=MergePolicy)
    claims: list[_Claim] = field(default_factory=list)
    # Decides pairs scoring within `borderline` under the threshold (at most
    # `max_asks` candidates per observation, best first); None: wording alone.
    arbiter: Arbiter | None = None
    borderline: float = 0.2
    max_asks: int = 2

    def __post_init__(self) -> None:
        self._n_claims = count_stored_claims(self.db)
        # Claim ids known to be taken: those of the claims in memory, and of stored ones
        # met (an id a new claim would get, a claim an observation names); and stored
        # ids known to be free. Not every stored id: the database says when asked.
        self._ids: set[str] = set()
        self._free: set[str] = set()
        # The id `_new_id` gives an observation first (n = 0), worked out in `_load`.
        self._first_ids: dict[str, str] = {}
        # Claims stored before this merger began are the only ones it may have to read:
        # those it makes itself stay in memory.
        self._stored = self._n_claims > 0
        # The stored claims are those of `claim_postings` up to this save: later ones
        # are this merger's own, which it holds in memory.
        self._gen = postings_generation(self.db) if self._stored else -1
        self._numbers = PostingNumbers(self.db)
        # With stored claims: per block, how many claims carry each key (tokens,
        # "@citation") of the observations seen so far, stored ones included, and the
        # keys whose stored claims are all in memory (their postings are complete).
        # A claim is read once.
        self._counts: dict[tuple[str, str | None], dict[str, int]] = defaultdict(dict)
        self._complete: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        # The claims in memory: id -> position in `claims`.
        self._at: dict[str, int] = {}
        # Keys read while placing, not before (the bound in `_load` should leave none).
        self.late_reads = 0
        # Postings per block, then per token (and "@citation"), so candidates are
        # compatible by construction.
        self._postings: dict[tuple[str, str | None], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._df: Counter[str] = Counter()
        # log(1 + k) for k up to the largest token count met: a token's IDF is a lookup,
        # not a logarithm.
        self._log1p: list[float] = [math.log1p(k) for k in range(1024)]
        self._df_known: set[str] = set()
        self._df_delta: Counter[str] = Counter()

    def _load(self, observations: list[Observation], signatures: list[Signature]) -> None:
        """Count the stored claims carrying each key of these observations in their
        block, and read those any observation could have as a candidate: the claims
        of each key that may be among its rarest when it is placed (counts only grow
        while a batch is placed, by at most one for each observation placed before it
        that carries the key), and of its citations. Then the document frequencies of their tokens."""
        if not self._stored:
            self._read([], signatures)
            return
        # Which of the ids these observations would give a new claim, or name (an export
        # re-imported), stored claims have: the named ones are read whole.
        first = {o.obs_id: self._id_for(o, scope_of(o.job, o.field_path), 0) for o in observations}
        self._first_ids.update(first)
        asked = {*first.values(), *(o.claim_id for o in observations if o.claim_id)} - self._ids - self._free
        taken = stored_claim_ids(self.db, sorted(asked))
        self._ids |= taken
        self._free |= asked - taken
        named = sorted({o.claim_id for o in observations if o.claim_id in taken} - self._at.keys())
        blocks = [block_of(scope_of(o.job, o.field_path), o.topic) for o in observations]
        uncounted: list[tuple[str, str | None, str]] = []
        for block, sig in zip(blocks, signatures, strict=True):
            counts = self._counts[block]
            for key in _keys(sig):
                if key not in counts:
                    counts[key] = 0
                    uncounted.append((block[0], block[1], key))
        stored = count_claims(self._numbers, uncounted, self._gen)
        for scope, topic, key in uncounted:
            n = stored.get((scope, topic, key), 0)
            self._counts[(scope, topic)][key] = n
            if not n:
                self._complete[(scope, topic)].add(key)
        wanted: set[tuple[str, str | None, str]] = set()
        pairs: list[tuple[int, str, str | None, str]] = []
        # Observations are placed in this order: only those before one can add to the
        # counts of its tokens, each at most one claim per token.
        before: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)
        for n, (block, sig) in enumerate(zip(blocks, signatures, strict=True)):
            counts, complete, more = self._counts[block], self._complete[block], before[block]
            for c in sig.citations:
                key = "@" + c
                if key not in complete and counts[key] <= COMMON_POSTINGS:
                    wanted.add((block[0], block[1], key))
            # A token may be among the rarest unless RARE_TOKENS others surely rank
            # before it: their most when it is placed ranks before its least (now).
            present = sorted((counts[t] + more[t], t) for t in sig.tokens if counts[t])
            bound = present[RARE_TOKENS - 1] if len(present) >= RARE_TOKENS else None
            maybe = [
                t
                for t in sig.tokens
                if t not in complete and counts[t] <= COMMON_POSTINGS and (bound is None or (counts[t], t) <= bound)
            ]
            # With TWO_HITS_FROM tokens surely counted and under COMMON_POSTINGS when it is
            # placed, its candidates share two of its rarest tokens (`_gathered`): read
            # only the stored claims carrying two of these, not every claim of each (one
            # carrying one of these and a token already read whole is in memory).
            if sum(1 for m, _ in present if m <= COMMON_POSTINGS) >= TWO_HITS_FROM:
                sig.paired = frozenset(maybe)
                pairs.extend((n, block[0], block[1], t) for t in maybe)
            else:
                wanted.update((block[0], block[1], t) for t in maybe)
            more.update(sig.tokens)
        self._read(sorted(wanted, key=_key_order), signatures, pairs, named)

    def _read(
        self,
        keys: list[tuple[str, str | None, str]],
        signatures: Iterable[Signature],
        pairs: list[tuple[int, str, str | None, str]] | None = None,
        named: list[str] | None = None,
    ) -> None:
        """Read the stored claims (not yet in memory) carrying these keys, those
        carrying two of the tokens of one observation in `pairs` (its number, block and
        token) and those `named`; then the document frequencies of the tokens of these
        signatures and those claims. A claim is read whole and indexed under all its keys."""
        found = load_signatures(self._numbers, keys, pairs or [], named or [], self._gen)
        rows = [row for row in found if row[0] not in self._at]
        for scope, topic, key in keys:
            self._complete[(scope, topic)].add(key)
        tokens: set[str] = set()
        for sig in signatures:
            tokens |= sig.tokens
        for row in rows:
            tokens.update(row[4])
        unknown = tokens - self._df_known
        self._df.update(token_frequencies(self.db, sorted(unknown)))
        self._df_known |= unknown
        for claim_id, scope, topic, camp, toks, citations, numbers, n_obs in rows:
            sig = Signature(set(map(sys.intern, toks)), set(map(sys.intern, numbers)), set(citations))
            self._place_claim(_Claim(claim_id, scope, topic, camp, sig, n_obs))

    def _index(self, at: int, tokens: set[str], citations: set[str]) -> None:
        claim = self.claims[at]
        postings = self._postings[block_of(claim.scope, claim.topic)]
        for posting in map(postings.__getitem__, tokens):
            posting.append(at)
        for c in citations:
            postings["@" + c].append(at)

    def _place_claim(self, claim: _Claim) -> int:
        self._ids.add(claim.claim_id)
        claim.at = len(self.claims)
        self.claims.append(claim)
        self._at[claim.claim_id] = claim.at
        self._index(claim.at, claim.sig.tokens, claim.sig.citations)
        return claim.at

    def _new_claim(self, claim: _Claim) -> int:
        self._n_claims += 1
        self._count(claim.sig.tokens)
        claim.fresh = True
        if self._stored:
            self._carry(block_of(claim.scope, claim.topic), _keys(claim.sig))
        return self._place_claim(claim)

    def _carry(self, block: tuple[str, str | None], keys: Iterable[str]) -> None:
        """One more claim of the block carries each of these keys (all counted: they
        come from observations `_load` has seen)."""
        counts = self._counts[block]
        for key in keys:
            counts[key] += 1

    def _count(self, tokens: set[str]) -> None:
        self._df.update(tokens)
        self._df_delta.update(tokens)

    def _logdf(self, tokens: set[str]) -> float:
        """Σ log(1 + df) over tokens: lookups mapped in C, no Python loop (this runs for
        every observation, every candidate's shared tokens and every claim re-weighed).
        `fsum`: correctly rounded, so it does not depend on the set's iteration order."""
        logs = self._log1p
        try:
            return math.fsum(map(logs.__getitem__, map(self._df.__getitem__, tokens)))
        except IndexError:
            # Grown (doubling) to the largest count met, which is far under the claim count.
            most = max(map(self._df.__getitem__, tokens))
            logs.extend(map(math.log1p, range(len(logs), 2 * most + 2)))
            return self._logdf(tokens)

    def _scale(self) -> float:
        """A token's IDF is log(2 (N + 1) / (1 + df)) over N claims: this log(2 (N + 1))
        minus log(1 + df), so a set's weight is |set| times this minus `_logdf`."""
        return math.log(2.0 * (self._n_claims + 1))

    def _weight(self, claim: _Claim, scale: float) -> float:
        # Token counts drift slowly as claims accumulate: a claim's Σ log(1 + df) is
        # recomputed when the claim count has grown by a tenth since (and grows with
        # the claim's tokens).
        if claim.weighed_at < 0 or self._n_claims > claim.weighed_at * 1.1 + 10:
            claim.logdf = self._logdf(claim.sig.tokens)
            claim.weighed_at = self._n_claims
        return len(claim.sig.tokens) * scale - claim.logdf

    def _candidates(self, sig: Signature, block: tuple[str, str | None]) -> set[int]:
        if self._stored:
            return self._counted_candidates(sig, block)
        postings = self._postings.get(block)
        if not postings:
            return set()
        # The postings of the rarest tokens that some claim of this block has (a token
        # no claim has finds nothing and would waste a slot); ties in token order, not
        # in the set's, which differs between processes (string hashes are salted).
        rare = sorted([p for p in map(postings.get, sorted(sig.tokens)) if p is not None], key=len)[:RARE_TOKENS]
        return _gathered(
            [p for p in rare if len(p) <= COMMON_POSTINGS],
            [p for c in sig.citations if len(p := postings.get("@" + c, [])) <= COMMON_POSTINGS],
        )

    def _counted_candidates(self, sig: Signature, block: tuple[str, str | None]) -> set[int]:
        """`_candidates` with stored claims, only some of them in memory: rarity by the
        counts over every claim, and the claims of the keys chosen read if need be, so
        the candidates are those of a merger holding every claim."""
        counts = self._counts[block]
        ranked = sorted([(n, t) for t in sorted(sig.tokens) if (n := counts[t])], key=_first)[:RARE_TOKENS]
        tokens = [t for n, t in ranked if n <= COMMON_POSTINGS]
        cited = [k for k in ("@" + c for c in sig.citations) if 0 < counts[k] <= COMMON_POSTINGS]
        complete = self._complete[block]
        # Its claims sharing two tokens were read for it (`_load`); unless that bound failed.
        paired = sig.paired if sig.paired is not None and len(tokens) >= TWO_HITS_FROM else frozenset()
        late = [(block[0], block[1], k) for k in (*tokens, *cited) if k not in complete and k not in paired]
        if late:
            self.late_reads += len(late)
            self._read(late, ())
        postings = self._postings[block]
        return _gathered([postings[t] for t in tokens], [postings[k] for k in cited])

    def _score(self, sig: Signature, scale: float, weight: float, claim: _Claim, camps: float | None) -> float:
        """`scale` and `weight`: see `_scale`; `camps`: how much the two camp labels
        overlap, None unless both have one."""
        score = 0.0
        common = sig.tokens & claim.sig.tokens
        if common:
            shared = len(common) * scale - self._logdf(common)
            score = self.policy.blend(shared, weight, self._weight(claim, scale))
            if len(common) >= self.policy.overlap * len(sig.tokens | claim.sig.tokens):
                score = max(score, self.policy.threshold)
        if sig.citations & claim.sig.citations:
            score += self.policy.citation_bonus
        if camps is not None:
            # Within one topic a camp label names the position; paraphrased
            # statements of one camp share it almost word for word.
            score += self.policy.camp_weight * camps
        return score

    @staticmethod
    def _id_for(o: Observation, scope: str, n: int) -> str:
        return "c-" + sha256_json([normalise_claim_text(o.text), scope, o.topic if scope != "triage" else None, n])[:10]

    def _taken(self, claim_id: str) -> bool:
        if claim_id in self._ids:
            return True
        if not self._stored or claim_id in self._free:
            return False
        if stored_claim_ids(self.db, [claim_id]):
            self._ids.add(claim_id)
            return True
        self._free.add(claim_id)
        return False

    def _new_id(self, o: Observation, scope: str) -> str:
        n = 0
        candidate = self._first_ids.pop(o.obs_id, None) or self._id_for(o, scope, 0)
        while self._taken(candidate):
            n += 1
            candidate = self._id_for(o, scope, n)
        return candidate

    def place(self, o: Observation, sig: Signature) -> tuple[str, str | None]:
        """The claim id for one observation (joining or creating a claim) given its
        signature, and what decided a borderline join (None: the wording); the stored
        claims it could join must be loaded (`assign` does that).

        An observation that names its claim (`o.claim_id`, from an export) joins it
        when that claim is of its block, or starts it under that id when no claim has
        it; otherwise (the id is another block's) it is placed by its wording."""
        scope = scope_of(o.job, o.field_path)
        block = block_of(scope, o.topic)
        if o.claim_id:
            at = self._at.get(o.claim_id)
            if at is not None and block_of(self.claims[at].scope, self.claims[at].topic) == block:
                return self._join(self.claims[at], sig, block, o.camp), None
            if not self._taken(o.claim_id):
                return self._create(o, scope, sig, o.claim_id), None
        scale = self._scale()
        weight = len(sig.tokens) * scale - self._logdf(sig.tokens)
        camp = _camp_tokens(o.camp) if o.camp else None
        best: _Claim | None = None
        threshold = self.policy.threshold
        best_score = threshold
        floor = threshold - self.borderline if self.arbiter else math.inf
        borderline: list[tuple[float, str, _Claim]] = []
        for at in self._candidates(sig, block):
            claim = self.claims[at]
            # Different camps of one debate stay apart even when they use the same words.
            camps = _overlap(camp, _camp_tokens(claim.camp)) if camp and claim.camp else None
            if camps is not None and camps < self.policy.camps_apart:
                continue
            # Different numbers or formulas: different claims, whatever the words.
            if not facts_agree(sig.numbers, claim.sig.numbers):
                continue
            score = self._score(sig, scale, weight, claim, camps)
            # Ties go to the smaller id, so the outcome does not depend on load order.
            if score > best_score or (score == best_score and (best is None or claim.claim_id < best.claim_id)):
                best, best_score = claim, score
            elif floor <= score < threshold:
                borderline.append((-score, claim.claim_id, claim))
        basis = None
        if best is None and borderline:
            best, basis = self._arbitrate(o.text, borderline)
        if best is None:
            return self._create(o, scope, sig, self._new_id(o, scope)), None
        return self._join(best, sig, block, o.camp), basis

    def _create(self, o: Observation, scope: str, sig: Signature, claim_id: str) -> str:
        text = o.text if self.arbiter else None
        self._new_claim(_Claim(claim_id, scope, o.topic, o.camp, sig, 1, dirty=True, text=text))
        return claim_id

    def _join(self, best: _Claim, sig: Signature, block: tuple[str, str | None], camp: str | None) -> str:
        """The observation of this signature joins `best`, whose signature gains its
        tokens (up to `SIGNATURE_CAP`) and citations."""
        best.n_obs += 1
        best.dirty = True
        room = SIGNATURE_CAP - len(best.sig.tokens)
        added = set(sorted(sig.tokens - best.sig.tokens)[: max(room, 0)])
        new_cites = sig.citations - best.sig.citations
        if added:
            best.sig.tokens |= added
            if best.weighed_at >= 0:
                best.logdf += self._logdf(added)
            self._count(added)
        best.sig.citations |= new_cites
        # Numbers are tokens too (the cap applies); formulas and results are facts only.
        best.sig.numbers |= {n for n in sig.numbers if n in added or not is_number(n)}
        best.camp = best.camp or camp
        self._index(best.at, added, new_cites)
        if (added or new_cites) and (self._stored or not best.fresh):
            gained = [*added, *("@" + c for c in new_cites)]
            if self._stored:
                self._carry(block, gained)
            if not best.fresh:
                best.gained = gained if best.gained is None else best.gained + gained
        return best.claim_id

    def _arbitrate(self, text: str, borderline: list[tuple[float, str, _Claim]]) -> tuple[_Claim | None, str | None]:
        """The first of the best borderline candidates the arbiter says states the same claim."""
        assert self.arbiter is not None
        for _, claim_id, claim in sorted(borderline)[: self.max_asks]:
            if claim.text is None:
                claim.text = claim_text(self.db, claim_id) or ""
            if not claim.text.strip() or not text.strip():
                continue
            basis = self.arbiter.same(text, claim.text)
            if basis:
                return claim, basis
        return None, None

    def assign(self, observations: list[Observation]) -> list[Observation]:
        """Claim ids for observations, placed in document order so that the result
        does not depend on the order in which answers happened to arrive."""
        ordered = sorted(observations, key=lambda o: (o.doc_sha256 or "", o.char_start or 0, o.obs_id))
        with no_cyclic_gc():
            signatures = [signature(o.text, [c.value for c in o.citations]) for o in ordered]
            self._load(ordered, signatures)
            placed = [o.with_claim(*self.place(o, sig)) for o, sig in zip(ordered, signatures, strict=True)]
            self._first_ids.clear()
        return [
            p if not o.claim_id or p.claim_id == o.claim_id else _not_kept(p, o.claim_id)
            for o, p in zip(ordered, placed, strict=True)
        ]

    def changes(self) -> tuple[list[list[Any]], Counter[str]]:
        """The `claim_index` rows of the claims changed since the last call and the new
        token counts, for `save_index`: a snapshot, so that storing it can overlap with
        placing the next batch."""
        dirty = [c for c in self.claims if c.dirty]
        rows = [c.row() for c in dirty]
        for c in dirty:
            c.dirty = False
            c.fresh = False
            c.gained = None
        delta, self._df_delta = self._df_delta, Counter()
        return rows, delta
