"""The merger: places each new observation in a claim, joining the best-scoring
compatible candidate above the threshold or starting a new claim, in document order,
one observation after another (each placement sees every one before it).

Compatible means: the same block (`blocks`), no two clearly different camp labels, and
no facts that disagree (`scoring.facts_agree`). A candidate scoring just under the
threshold ("borderline") can be put to an arbiter (an embedder, the model:
`stages/arbiter.py`). An observation that names its claim (an exported line,
re-imported) keeps that id.
"""

from __future__ import annotations

import gc
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

from extract.models import Observation
from extract.stages.arbiter import Arbiter
from extract.stages.merge.blocks import block_of, scope_of
from extract.stages.merge.ids import ClaimIds, claim_id_for
from extract.stages.merge.index import CandidateIndex, Claim, MemoryIndex, StoredIndex, keys
from extract.stages.merge.scoring import MergePolicy, TokenWeights, camps_overlap, facts_agree
from extract.stages.merge.signatures import Facts, Signature, camp_tokens, signature
from extract.store import Database
from extract.store.arbiters import claim_text
from extract.store.claim_index import count_stored_claims

SIGNATURE_CAP = 96


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


def _not_kept(o: Observation, named: str) -> Observation:
    """An observation that named a claim of another block, placed by its wording instead."""
    return replace(o, flags=(*o.flags, f"claim_id_not_kept:{named}"))


# What placing an observation needs that placing others does not change: its signature
# and the id a claim it starts gets unless taken.
Prepared = tuple[Signature, str]


def prepared(o: Observation) -> Prepared:
    return signature(o.text, [c.value for c in o.citations]), claim_id_for(o, scope_of(o.job, o.field_path), 0)


def placing_order(o: Observation) -> tuple[str, int, str]:
    """Document order: the result does not depend on the order answers arrived in."""
    return o.doc_sha256 or "", o.char_start or 0, o.obs_id


@dataclass
class Merger:
    """Assigns claim ids to new observations against every claim stored so far: a
    `StoredIndex` when the database holds claims, else a `MemoryIndex`."""

    db: Database
    policy: MergePolicy = field(default_factory=MergePolicy)
    # Decides pairs scoring within `borderline` under the threshold (at most
    # `max_asks` candidates per observation, best first); None: wording alone.
    arbiter: Arbiter | None = None
    borderline: float = 0.2
    max_asks: int = 2
    index: CandidateIndex = field(init=False)
    ids: ClaimIds = field(init=False)

    def __post_init__(self) -> None:
        stored = count_stored_claims(self.db) > 0
        self.index = StoredIndex(self.db, TokenWeights()) if stored else MemoryIndex(TokenWeights())
        self.ids = ClaimIds(self.db if stored else None)

    @property
    def claims(self) -> list[Claim]:
        return self.index.claims

    def _held(self, claim_id: str) -> bool:
        return self.index.find(claim_id) is not None

    def _claim_weight(self, claim: Claim, scale: float) -> float:
        # Token counts drift slowly as claims accumulate: a claim's Σ log(1 + df) is
        # recomputed when the claim count has grown by a tenth since (and grows with
        # the claim's tokens).
        weights = self.index.weights
        if claim.weighed_at < 0 or weights.n_claims > claim.weighed_at * 1.1 + 10:
            claim.logdf = weights.logdf(claim.tokens)
            claim.weighed_at = weights.n_claims
        return len(claim.tokens) * scale - claim.logdf

    def _score(self, sig: Signature, scale: float, weight: float, claim: Claim, camps: float | None) -> float:
        """`scale` and `weight`: see `TokenWeights`; `camps`: how much the two camp
        labels overlap, None unless both have one."""
        score = 0.0
        common = sig.tokens.intersection(claim.tokens)
        if common:
            shared = len(common) * scale - self.index.weights.logdf(common)
            score = self.policy.blend(shared, weight, self._claim_weight(claim, scale))
            if len(common) >= self.policy.overlap * (len(sig.tokens) + len(claim.tokens) - len(common)):
                score = max(score, self.policy.threshold)
        if sig.citations and not sig.citations.isdisjoint(claim.citations):
            score += self.policy.citation_bonus
        if camps is not None:
            # Within one topic a camp label names the position; paraphrased
            # statements of one camp share it almost word for word.
            score += self.policy.camp_weight * camps
        return score

    def place(self, o: Observation, sig: Signature) -> tuple[str, str | None]:
        """The claim id for one observation (joining or creating a claim) given its
        signature, and what decided a borderline join (None: the wording); the stored
        claims it could join must be read (`assign` does that).

        An observation that names its claim (`o.claim_id`, from an export) joins it
        when that claim is of its block, or starts it under that id when no claim has
        it; otherwise (the id is another block's) it is placed by its wording."""
        scope = scope_of(o.job, o.field_path)
        block = block_of(scope, o.topic)
        if o.claim_id:
            named = self.index.find(o.claim_id)
            if named is not None and named.block == block:
                return self._join(named, sig, o.camp), None
            if named is None and not self.ids.is_taken(o.claim_id):
                return self._create(o, scope, sig, o.claim_id), None
        weights = self.index.weights
        scale = weights.scale()
        weight = weights.weight(sig, scale)
        camp = camp_tokens(o.camp) if o.camp else None
        best: Claim | None = None
        threshold = self.policy.threshold
        best_score = threshold
        floor = threshold - self.borderline if self.arbiter else math.inf
        borderline: list[tuple[float, str, Claim]] = []
        claims = self.index.claims
        for at in self.index.candidates(sig, block):
            claim = claims[at]
            # Different camps of one debate stay apart even when they use the same words.
            camps = camps_overlap(camp, camp_tokens(claim.camp)) if camp and claim.camp else None
            if camps is not None and camps < self.policy.camps_apart:
                continue
            # Different numbers or formulas: different claims, whatever the words.
            if not facts_agree(sig.facts, claim.facts):
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
            return self._create(o, scope, sig, self.ids.new_id(o, scope, self._held)), None
        return self._join(best, sig, o.camp), basis

    def _create(self, o: Observation, scope: str, sig: Signature, claim_id: str) -> str:
        text = o.text if self.arbiter else None
        facts = Facts(sig.facts.numbers, sig.facts.results, sig.facts.formulas)  # its own: a join adds to it
        claim = Claim(
            claim_id,
            scope,
            o.topic,
            o.camp,
            tuple(sig.tokens),
            facts,
            sig.citations,
            1,
            dirty=True,
            text=text,
            fresh=True,
        )
        self.index.add(claim)
        return claim_id

    def _join(self, best: Claim, sig: Signature, camp: str | None) -> str:
        """The observation of this signature joins `best`, whose signature gains its
        tokens (up to `SIGNATURE_CAP`) and citations."""
        best.n_obs += 1
        best.dirty = True
        room = SIGNATURE_CAP - len(best.tokens)
        new = sorted(sig.tokens.difference(best.tokens))[: max(room, 0)]
        added = set(new)
        new_cites = sig.citations - best.citations
        weights = self.index.weights
        if new:
            best.tokens += tuple(new)
            if best.weighed_at >= 0:
                best.logdf += weights.logdf(added)
            weights.count(new)
        if new_cites:
            best.citations |= new_cites
        # Numbers are tokens too (the cap applies); formulas and results are facts only.
        facts, theirs = best.facts, sig.facts
        if theirs.numbers and added:
            facts.numbers |= theirs.numbers & added
        if theirs.results:
            facts.results |= theirs.results
        if theirs.formulas:
            facts.formulas |= theirs.formulas
        best.camp = best.camp or camp
        if added or new_cites:
            self.index.grew(best, added, new_cites)
            if not best.fresh:
                gained = keys(new, new_cites)
                best.gained = gained if best.gained is None else best.gained + gained
        return best.claim_id

    def _arbitrate(self, text: str, borderline: list[tuple[float, str, Claim]]) -> tuple[Claim | None, str | None]:
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

    def assign(self, observations: list[Observation], ready: Mapping[str, Prepared] | None = None) -> list[Observation]:
        """Claim ids for observations, placed in document order (`placing_order`).
        `ready`: what `prepared` gives for each, by obs_id, if worked out already (in
        another process)."""
        ordered = sorted(observations, key=placing_order)
        with no_cyclic_gc():
            pairs = [ready[o.obs_id] for o in ordered] if ready else [prepared(o) for o in ordered]
            signatures = [sig for sig, _ in pairs]
            named = self.ids.prepare(ordered, {o.obs_id: first for o, (_, first) in zip(ordered, pairs, strict=True)})
            self.index.prepare(ordered, signatures, named)
            placed = [o.with_claim(*self.place(o, sig)) for o, sig in zip(ordered, signatures, strict=True)]
            self.ids.done()
        return [
            p if not o.claim_id or p.claim_id == o.claim_id else _not_kept(p, o.claim_id)
            for o, p in zip(ordered, placed, strict=True)
        ]

    def changes(self) -> tuple[list[list[Any]], Counter[str]]:
        """The `claim_index` rows of the claims changed since the last call and the new
        token counts (every token of a claim never saved, the tokens others gained),
        for `save_index`: a snapshot, so that storing it can overlap with placing the
        next batch."""
        dirty = [c for c in self.index.claims if c.dirty]
        rows = [c.row() for c in dirty]
        delta = Counter(chain.from_iterable(c.tokens if c.fresh else _tokens(c.gained) for c in dirty))
        for c in dirty:
            c.dirty = False
            c.fresh = False
            c.gained = None
        return rows, delta


def _tokens(keys: list[str] | None) -> list[str]:
    """The tokens among a claim's keys (the others are "@" + a citation)."""
    return [k for k in keys or () if not k.startswith("@")]
