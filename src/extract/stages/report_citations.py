"""What a topic report's statements may cite, and what each citation resolves to.

A statement rests on the data the report prompt listed for its topic, named in its
`citations`:

- a record of the topic, by citation key (`Metis2025Home`, brackets allowed) or by
  one of its arXiv ids: resolved to the key and the record's arXiv ids;
- a claim of the topic (the triage claims the prompt listed), by its id
  (`c-0123456789`): kept as a citation of kind `claim`;
- something one of those claims cites (a key, an arXiv id or a URL that resolves):
  the statement repeats that claim's source.

Anything else is flagged `unknown_citation:<value>` and dropped. A statement that
cites none of these is `uncited`: kept, flagged, and hidden by the claims view's
hide rule (`extract.store.visibility`).
"""

from __future__ import annotations

from dataclasses import dataclass

from extract.hashing import CLAIM_ID
from extract.models import Citation
from extract.stages.validate import ResolvedCitation, resolve_citation
from extract.store.visibility import UNCITED, UNKNOWN_CITATION


@dataclass(frozen=True)
class Resolved:
    """A statement's citations as resolved, their flags, and the records they name."""

    citations: tuple[Citation, ...]
    flags: tuple[str, ...]
    record_ids: frozenset[str]


class TopicCitations:
    """The records and claims one topic's report may cite.

    `records` are `(record id, citation key, arXiv ids, title)` of the topic's records,
    `claims` `(claim id, text, stance, citations)` of the claims its prompt listed;
    `keys` and `arxiv` map every stored record's key and arXiv ids to its id (what a
    claim cites may be a record outside the topic)."""

    def __init__(
        self,
        records: list[tuple[str, str, list[str], str]],
        claims: list[tuple[str, str, str, list[str]]],
        keys: dict[str, str],
        arxiv: dict[str, str],
    ) -> None:
        self.by_key = {key: (record_id, list(ids)) for record_id, key, ids, _ in records}
        self.by_arxiv = {i: record_id for record_id, _, ids, _ in records for i in ids}
        self.claim_ids = {claim_id for claim_id, *_ in claims}
        self.claim_sources: dict[str, ResolvedCitation] = {}
        for *_, cites in claims:
            for value in cites:
                found = resolve_citation(value, keys, arxiv)
                if found.kind != "unknown":
                    self.claim_sources.setdefault(value, found)

    def resolve(self, raws: list[str]) -> Resolved:
        citations: list[Citation] = []
        flags: list[str] = []
        records: set[str] = set()
        for raw in dict.fromkeys(raws):
            value = raw.strip().strip("[]").strip()
            if value in self.by_key:
                record_id, ids = self.by_key[value]
                citations.append(Citation(raw, "key", value, record_id))
                citations.extend(Citation(raw, "arxiv", i, record_id) for i in ids)
                records.add(record_id)
                continue
            own = resolve_citation(value, {}, self.by_arxiv)
            if own.kind == "arxiv" and own.record_id is not None:
                citations.append(Citation(raw, "arxiv", own.value, own.record_id))
                records.add(own.record_id)
            elif CLAIM_ID.fullmatch(value) and value in self.claim_ids:
                citations.append(Citation(raw, "claim", value, None))
            elif value in self.claim_sources:
                found = self.claim_sources[value]
                citations.append(Citation(raw, found.kind, found.value, found.record_id))
                if found.record_id is not None:
                    records.add(found.record_id)
            else:
                flags.append(f"{UNKNOWN_CITATION}{value}")
        if not citations:
            flags.append(UNCITED)
        return Resolved(tuple(dict.fromkeys(citations)), tuple(flags), frozenset(records))
