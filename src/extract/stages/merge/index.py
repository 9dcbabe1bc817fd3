"""The candidate index: the claims the merge holds in memory, their postings (per
block, per key: a token, or "@" + a citation), and which of them an observation is
compared with.

An observation is compared only with the claims that share two of its rarest tokens
(one, if it has fewer than `TWO_HITS_FROM`) or one of its citations, never with every
claim. Two implementations of `CandidateIndex`:
- `MemoryIndex`: every claim is in memory (a merge into an empty database);
- `StoredIndex`: claims stored before the merge began are read from `claim_index`
  only when an observation of the batch could have them as candidates, rarity
  counted over every claim, so an incremental merge costs what it touches, not what
  the database holds, and places as a `MemoryIndex` holding every claim would.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from operator import length_hint
from typing import Any, Protocol

from extract.models import Observation
from extract.stages.merge.blocks import Block, block_of, scope_of
from extract.stages.merge.scoring import TokenWeights
from extract.stages.merge.signatures import NONE, Facts, Signature
from extract.store import Database
from extract.store.claim_index import (
    PostingNumbers,
    count_claims,
    count_stored_claims,
    load_signatures,
    postings_generation,
    token_frequencies,
)
from extract.store.db import joined

RARE_TOKENS = 8
COMMON_POSTINGS = 5000
TWO_HITS_FROM = 4
Key = tuple[str, str | None, str]


@dataclass(slots=True)
class Claim:
    """A claim as the merge holds it."""

    claim_id: str
    scope: str
    topic: str | None
    camp: str | None
    # Its signature: a tuple of tokens, not a set (a set costs five times the memory,
    # and hundreds of thousands of claims are held), its facts and its citations.
    tokens: tuple[str, ...]
    facts: Facts
    citations: frozenset[str]
    n_obs: int
    dirty: bool = False
    # Σ log(1 + df) over `sig.tokens` (see `Merger._weight`), and the claim count it
    # was computed at.
    logdf: float = 0.0
    weighed_at: int = -1
    at: int = -1  # position in the index's `claims`, which postings refer to
    text: str | None = None  # kept only where an arbiter may need it
    # Never saved yet (every key is new to `claim_postings`), else the keys (tokens,
    # "@" + citations) it gained since it was last saved.
    fresh: bool = False
    gained: list[str] | None = None

    @property
    def block(self) -> Block:
        return block_of(self.scope, self.topic)

    def row(self) -> list[Any]:
        """Its `claim_index` row (`INDEX_COLUMNS`), then the keys gained (None: all
        new); lists as `store.db.joined` strings, sorted by the store."""
        return [
            self.claim_id,
            self.scope,
            self.topic,
            self.camp,
            joined(self.tokens),
            joined(self.citations),
            joined(self.facts.all()),
            self.n_obs,
            None if self.fresh else joined(self.gained or []),
        ]


def keys(tokens: Iterable[str], citations: Iterable[str]) -> list[str]:
    """Keys in the postings and `claim_postings`: tokens, and "@" + each citation."""
    return [*tokens, *("@" + c for c in citations)]


# A key's claims in a block: one claim's position, or a list of them.
Posting = int | list[int]


def _claims_of(posting: Posting) -> list[int] | tuple[int]:
    return (posting,) if isinstance(posting, int) else posting


# How many claims a posting holds, less one for a single claim (0; `length_hint` of
# an int): it ranks postings as their sizes do, in C.
_size = length_hint


def gathered(tokens: list[Posting], citations: list[Posting]) -> set[int]:
    """The candidates in the postings of an observation's rarest tokens and of its
    citations: with `TWO_HITS_FROM` or more rare tokens, only the claims on two of them
    (or on a citation). A claim sharing only one of them almost never reaches the
    threshold (236 of 444,236 joins in 1M synthetic observations), and at scale almost
    half the candidates are such chance meetings."""
    claims = map(_claims_of, tokens)
    if len(tokens) < TWO_HITS_FROM:
        found = set(chain.from_iterable(claims))
    else:
        found = {at for at, n in Counter(chain.from_iterable(claims)).items() if n > 1}
    found.update(chain.from_iterable(map(_claims_of, citations)))
    return found


def _facts(read: list[str]) -> frozenset[str]:
    return frozenset(map(sys.intern, read)) if read else NONE


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


class CandidateIndex(Protocol):
    """What the merger places against."""

    claims: list[Claim]
    weights: TokenWeights

    def prepare(self, observations: list[Observation], signatures: list[Signature], named: set[str]) -> None:
        """Read what placing this batch, in this order, may need (and the claims `named`)."""

    def find(self, claim_id: str) -> Claim | None:
        """The claim of this id, if it is in memory."""

    def candidates(self, sig: Signature, block: Block) -> set[int]:
        """Positions in `claims` of the claims of this block to compare `sig` with."""

    def add(self, claim: Claim) -> None:
        """A claim the merger created."""

    def grew(self, claim: Claim, tokens: Iterable[str], citations: frozenset[str]) -> None:
        """A claim's signature gained these tokens and citations."""


class MemoryIndex:
    """Every claim in memory."""

    def __init__(self, weights: TokenWeights) -> None:
        self.weights = weights
        self.claims: list[Claim] = []
        self._at: dict[str, int] = {}
        # Per block, then per token (and "@citation"): candidates are compatible by
        # construction. Most keys have one claim in their block: its position then (no
        # object of its own: the claim's `at`), a list once it has more (there are
        # tens of millions of keys in a merge of a million observations).
        self._postings: dict[Block, dict[str, Posting]] = defaultdict(dict)

    def prepare(self, observations: list[Observation], signatures: list[Signature], named: set[str]) -> None:
        return None

    def find(self, claim_id: str) -> Claim | None:
        at = self._at.get(claim_id)
        return None if at is None else self.claims[at]

    def hold(self, claim: Claim) -> None:
        """Keep a claim in memory and index it under all its keys."""
        claim.at = len(self.claims)
        self.claims.append(claim)
        self._at[claim.claim_id] = claim.at
        self._post(claim, claim.tokens, claim.citations)

    def _post(self, claim: Claim, tokens: Iterable[str], citations: Iterable[str]) -> None:
        postings = self._postings[claim.block]
        at = claim.at
        for key in keys(tokens, citations):
            posting = postings.get(key)
            if posting is None:
                postings[key] = at
            elif isinstance(posting, int):
                postings[key] = [posting, at]
            else:
                posting.append(at)

    def add(self, claim: Claim) -> None:
        self.weights.n_claims += 1
        self.weights.count(claim.tokens)
        self.hold(claim)

    def grew(self, claim: Claim, tokens: Iterable[str], citations: frozenset[str]) -> None:
        self._post(claim, tokens, citations)

    def candidates(self, sig: Signature, block: Block) -> set[int]:
        postings = self._postings.get(block)
        if not postings:
            return set()
        # The postings of the rarest tokens that some claim of this block has (a token
        # no claim has finds nothing and would waste a slot); ties in token order, not
        # in the set's, which differs between processes (string hashes are salted).
        rare = sorted([p for p in map(postings.get, sorted(sig.tokens)) if p is not None], key=_size)[:RARE_TOKENS]
        cited = [p for c in sig.citations if (p := postings.get("@" + c)) is not None]
        return gathered(
            [p for p in rare if _size(p) <= COMMON_POSTINGS], [p for p in cited if _size(p) <= COMMON_POSTINGS]
        )


class StoredIndex(MemoryIndex):
    """Claims stored before the merge began, read as needed (see the module's text)."""

    def __init__(self, db: Database, weights: TokenWeights) -> None:
        super().__init__(weights)
        self.db = db
        weights.n_claims = count_stored_claims(db)
        # The stored claims are those of `claim_postings` up to this save: later ones
        # are this merge's own, which it holds in memory.
        self._gen = postings_generation(db)
        self._numbers = PostingNumbers(db)
        # Per block, how many claims carry each key of the observations seen so far,
        # stored ones included, and the keys whose stored claims are all in memory
        # (their postings are complete). A claim is read once.
        self._counts: dict[Block, dict[str, int]] = defaultdict(dict)
        self._complete: dict[Block, set[str]] = defaultdict(set)
        self._df_known: set[str] = set()
        # Keys read while placing, not before (the bound in `prepare` should leave none).
        self.late_reads = 0

    def prepare(self, observations: list[Observation], signatures: list[Signature], named: set[str]) -> None:
        """Count the stored claims carrying each key of these observations in their
        block, and read those any observation could have as a candidate: the claims
        of each key that may be among its rarest when it is placed (counts only grow
        while a batch is placed, by at most one for each observation placed before it
        that carries the key), and of its citations; and the claims `named`. Then the
        document frequencies of their tokens."""
        blocks = [block_of(scope_of(o.job, o.field_path), o.topic) for o in observations]
        uncounted: list[Key] = []
        for block, sig in zip(blocks, signatures, strict=True):
            counts = self._counts[block]
            for key in keys(sig.tokens, sig.citations):
                if key not in counts:
                    counts[key] = 0
                    uncounted.append((block[0], block[1], key))
        stored = count_claims(self._numbers, uncounted, self._gen)
        for scope, topic, key in uncounted:
            n = stored.get((scope, topic, key), 0)
            self._counts[(scope, topic)][key] = n
            if not n:
                self._complete[(scope, topic)].add(key)
        wanted: set[Key] = set()
        pairs: list[tuple[int, str, str | None, str]] = []
        # Observations are placed in this order: only those before one can add to the
        # counts of its tokens, each at most one claim per token.
        before: dict[Block, Counter[str]] = defaultdict(Counter)
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
            # placed, its candidates share two of its rarest tokens (`gathered`): read
            # only the stored claims carrying two of these, not every claim of each (one
            # carrying one of these and a token already read whole is in memory).
            if sum(1 for m, _ in present if m <= COMMON_POSTINGS) >= TWO_HITS_FROM:
                sig.paired = frozenset(maybe)
                pairs.extend((n, block[0], block[1], t) for t in maybe)
            else:
                wanted.update((block[0], block[1], t) for t in maybe)
            more.update(sig.tokens)
        self._read(sorted(wanted, key=lambda k: (k[0], k[1] or "", k[2])), signatures, pairs, sorted(named))

    def _read(
        self,
        keys: list[Key],
        signatures: Iterable[Signature],
        pairs: list[tuple[int, str, str | None, str]] | None = None,
        named: list[str] | None = None,
    ) -> None:
        """Read the stored claims (not yet in memory) carrying these keys, those
        carrying two of the tokens of one observation in `pairs` (its number, block and
        token) and those `named`; then the document frequencies of the tokens of these
        signatures and those claims. A claim is read whole and indexed under all its keys."""
        named = [c for c in named or [] if c not in self._at]
        found = load_signatures(self._numbers, keys, pairs or [], named, self._gen)
        rows = [row for row in found if row[0] not in self._at]
        for scope, topic, key in keys:
            self._complete[(scope, topic)].add(key)
        tokens: set[str] = set()
        for sig in signatures:
            tokens |= sig.tokens
        for row in rows:
            tokens.update(row[4])
        unknown = tokens - self._df_known
        self.weights.known(token_frequencies(self.db, sorted(unknown)))
        self._df_known |= unknown
        for claim_id, scope, topic, camp, toks, citations, (plain, results, formulas), n_obs in rows:
            held = tuple(map(sys.intern, toks))
            facts = Facts(_facts(plain), _facts(results), _facts(formulas))
            self.hold(Claim(claim_id, scope, topic, camp, held, facts, frozenset(citations) or NONE, n_obs))

    def _carry(self, block: Block, keys: Iterable[str]) -> None:
        """One more claim of the block carries each of these keys (all counted: they
        come from observations `prepare` has seen)."""
        counts = self._counts[block]
        for key in keys:
            counts[key] += 1

    def add(self, claim: Claim) -> None:
        self._carry(claim.block, keys(claim.tokens, claim.citations))
        super().add(claim)

    def grew(self, claim: Claim, tokens: Iterable[str], citations: frozenset[str]) -> None:
        self._carry(claim.block, keys(tokens, citations))
        super().grew(claim, tokens, citations)

    def candidates(self, sig: Signature, block: Block) -> set[int]:
        """Rarity by the counts over every claim, and the claims of the keys chosen read
        if need be, so the candidates are those of a `MemoryIndex` holding every claim."""
        counts = self._counts[block]
        ranked = sorted([(n, t) for t in sorted(sig.tokens) if (n := counts[t])], key=_first)[:RARE_TOKENS]
        tokens = [t for n, t in ranked if n <= COMMON_POSTINGS]
        cited = [k for k in ("@" + c for c in sig.citations) if 0 < counts[k] <= COMMON_POSTINGS]
        complete = self._complete[block]
        # Its claims sharing two tokens were read for it (`prepare`); unless that bound failed.
        paired = sig.paired if sig.paired is not None and len(tokens) >= TWO_HITS_FROM else frozenset()
        late = [(block[0], block[1], k) for k in (*tokens, *cited) if k not in complete and k not in paired]
        if late:
            self.late_reads += len(late)
            self._read(late, ())
        postings = self._postings[block]
        return gathered([postings.get(t, []) for t in tokens], [postings.get(k, []) for k in cited])
