"""Storing a batch of observations, for runs and imports alike: skip those already
stored, place the rest in claims (the merge), write them and the claim index, link
the whole batch to its run (replays too, and the ids of stored observations a run
replayed without validating their answer again: `stages.replay`), and write the
batch's rejects.

A run stores each batch at once (`store_batch`); an import places a batch while the
one before is written on a second connection (`place_batch`, then `write_batch`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from extract.models import Observation, Reject
from extract.stages.merge import Merger, Prepared
from extract.store import Database
from extract.store.claim_index import save_index
from extract.store.observations import link_ids_to_run, link_to_run, save_observations, unsaved_observations
from extract.store.rejects import save_rejects


@dataclass(frozen=True)
class PlacedBatch:
    """A batch placed in claims, ready to write: nothing of it is written yet."""

    run_id: str
    observations: list[Observation]  # the whole batch: the run made or replayed them all
    placed: list[Observation]  # those not stored yet, with their claim ids
    index_rows: list[list[Any]]  # the claim index rows the placing changed
    index_delta: Counter[str]  # and its new token counts
    rejects: list[Reject]
    replayed: Sequence[str] = ()  # ids of stored observations the run replayed


def place_batch(
    db: Database,
    merger: Merger,
    run_id: str,
    observations: list[Observation],
    rejects: list[Reject],
    *,
    in_flight: Collection[str] = (),
    replayed: Sequence[str] = (),
    ready: Mapping[str, Prepared] | None = None,
) -> PlacedBatch:
    """Place the observations not stored yet in claims. `in_flight`: ids of a batch being
    written that may not be visible yet (they are not fresh either); `replayed`: ids of
    stored observations to link to the run as they are; `ready`: what placing them
    needs, by id, if worked out already (`stages.merge.prepared`)."""
    fresh = [o for o in unsaved_observations(db, observations) if o.obs_id not in in_flight]
    placed = merger.assign(fresh, ready)
    rows, delta = merger.changes()
    return PlacedBatch(run_id, observations, placed, rows, delta, rejects, replayed)


def write_batch(db: Database, batch: PlacedBatch) -> list[Observation]:
    """Write a placed batch; return the observations stored now (not by an earlier run)."""
    saved = save_observations(db, batch.placed)
    save_index(db, batch.index_rows, batch.index_delta)
    # Those just saved were linked to the run with them; the rest are replays.
    just_saved = {o.obs_id for o in saved}
    link_to_run(db, batch.run_id, [o for o in batch.observations if o.obs_id not in just_saved])
    link_ids_to_run(db, batch.run_id, batch.replayed)
    save_rejects(db, batch.rejects)
    return saved


def store_batch(
    db: Database,
    merger: Merger,
    run_id: str,
    observations: list[Observation],
    rejects: list[Reject],
    replayed: Sequence[str] = (),
) -> list[Observation]:
    """Place and write a batch at once; return the observations stored now."""
    return write_batch(db, place_batch(db, merger, run_id, observations, rejects, replayed=replayed))
