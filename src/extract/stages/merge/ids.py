"""Claim ids: fixed when a claim is created, never changed.

`c-` + the first 10 hex digits of sha256(canonical JSON [normalised text of its first
observation, scope, topic for report statements else null, n]), where n is 0 unless
that id is already taken by another claim (then 1, 2, ...). See `extract.hashing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from extract.hashing import normalise_claim_text, sha256_json
from extract.models import Observation
from extract.store import Database
from extract.store.claim_index import stored_claim_ids


def claim_id_for(o: Observation, scope: str, n: int) -> str:
    return "c-" + sha256_json([normalise_claim_text(o.text), scope, o.topic if scope != "triage" else None, n])[:10]


@dataclass
class ClaimIds:
    """Which claim ids are taken: those of the claims in memory, and of stored claims
    met (an id a new claim would get, a claim an observation names); and stored ids
    known to be free. Not every stored id: the database says when asked. `db` None:
    nothing is stored."""

    db: Database | None
    taken: set[str] = field(default_factory=set)
    free: set[str] = field(default_factory=set)
    # The id `new_id` gives an observation first (n = 0), worked out in `prepare`.
    first: dict[str, str] = field(default_factory=dict)

    def prepare(self, observations: list[Observation], first: dict[str, str]) -> set[str]:
        """Take the ids these observations would give a new claim first (by obs_id),
        and ask the database at once about them and those the observations name (an
        export re-imported); return the stored ones they name."""
        self.first.update(first)
        if self.db is None:
            return set()
        named = {o.claim_id for o in observations if o.claim_id}
        asked = ({*first.values()} | named) - self.taken - self.free
        found = stored_claim_ids(self.db, sorted(asked))
        self.taken |= found
        self.free |= asked - found
        return named & self.taken

    def done(self) -> None:
        self.first.clear()

    def is_taken(self, claim_id: str) -> bool:
        if claim_id in self.taken:
            return True
        if self.db is None or claim_id in self.free:
            return False
        if stored_claim_ids(self.db, [claim_id]):
            self.taken.add(claim_id)
            return True
        self.free.add(claim_id)
        return False

    def new_id(self, o: Observation, scope: str, held: Callable[[str], bool]) -> str:
        """The first id of the recipe's that no claim has: none held in memory (`held`),
        none stored."""
        n = 0
        candidate = self.first.pop(o.obs_id, None) or claim_id_for(o, scope, 0)
        while held(candidate) or self.is_taken(candidate):
            n += 1
            candidate = claim_id_for(o, scope, n)
        return candidate
