"""The merge stage: observations from every run, job and model become canonical claims.

Incremental and blocked: a new observation is compared only with the claims of its
block that share two of its rarest tokens or one of its citations, never with every
claim; it joins the best-scoring compatible claim above a threshold, else starts a
new claim. Claim ids are fixed when a claim is created and never change.

- `blocks`: which observations may ever be compared (scope, topic);
- `signatures`: what a statement is compared by (tokens, facts, citations);
- `scoring`: the policy that decides a join, and token weights (IDF);
- `index`: the claims in memory and the candidates of an observation, with every
  claim in memory (`MemoryIndex`) or stored ones read as needed (`StoredIndex`);
- `ids`: the claim id recipe and which ids are taken;
- `merger`: placing observations one after another, and what changed for the store.
"""

from extract.stages.merge.blocks import block_of, scope_of
from extract.stages.merge.index import Claim, MemoryIndex, StoredIndex
from extract.stages.merge.merger import Merger, Prepared, no_cyclic_gc, placing_order, prepared
from extract.stages.merge.scoring import MergePolicy, TokenWeights, facts_agree
from extract.stages.merge.signatures import Facts, Signature, facts, signature

__all__ = [
    "Claim",
    "Facts",
    "MemoryIndex",
    "MergePolicy",
    "Merger",
    "Prepared",
    "Signature",
    "StoredIndex",
    "TokenWeights",
    "block_of",
    "facts",
    "facts_agree",
    "no_cyclic_gc",
    "placing_order",
    "prepared",
    "scope_of",
    "signature",
]
