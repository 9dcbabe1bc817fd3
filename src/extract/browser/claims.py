"""The claims section: the dashboard's header counts and every claim with its
sources line and evidence, as the data `assets/claims.js` renders.

Links are built in the page only from arXiv ids that match `ARXIV_ID` here and
again there; every other string is data and is rendered as text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from extract.store import Database
from extract.store.claims import ClaimFilter, query_claims
from extract.store.evidence import claims_evidence

# New-style (`2402.01035`) and old-style (`hep-th/9901001`) ids, as ingest normalises them.
ARXIV_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?/\d{7})$")
# A claim a report statement cites (`extract.stages.report_citations`): an in-page link, not a source.
CLAIM_ID = re.compile(r"^c-[0-9a-f]{10}$")
_POSITION = re.compile(r"^report\.positions\[(\d+)\]\.(stance|counter)$")
# Evidence quotes are verbatim and can be long; the page shows this much of each.
EXCERPT_CHARS = 1000
# As the dashboard does: a camp label prefixes every excerpt of its position.
CAMP_CHARS = 52


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def camp_label(field_path: str | None, camp: str | None) -> str | None:
    """`[Camp B: label]` for a position's stance, `[counter to Camp B: label]` for its counter."""
    found = _POSITION.match(field_path or "")
    if not found or not camp:
        return None
    index, part = int(found.group(1)), found.group(2)
    letter = chr(ord("A") + index) if index < 26 else str(index + 1)
    return f"[{'counter to ' if part == 'counter' else ''}Camp {letter}: {_cut(camp, CAMP_CHARS)}]"


def _evidence(o: dict[str, Any]) -> dict[str, Any]:
    arxiv = [c for c in o["citations"] if ARXIV_ID.match(c)]
    return {
        "kind": o["job"],
        "topic": o["topic"],
        "arxiv": arxiv[0] if arxiv else None,
        "field_path": o["field_path"],
        "model": o["model"],
        "date": o["created_at"].strftime("%Y-%m-%d"),
        "camp": camp_label(o["field_path"], o["camp"]),
        "excerpt": _cut(o["quote"], EXCERPT_CHARS),
        # False: superseded by a later run (the page shows it apart, on request).
        "current": bool(o["current"]),
    }


def _claim(c: dict[str, Any], hidden: bool, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": c["claim_id"],
        "text": c["text"],
        "stance": c["stance"],
        "domain": c["domain"],
        "topics": c["topics"],
        "tags": c["tags"],
        "arxiv": [v for v in c["citations"] if ARXIV_ID.match(v)],
        "keys": [v for v in c["citations"] if not ARXIV_ID.match(v) and not CLAIM_ID.match(v)],
        "cites_claims": [v for v in c["citations"] if CLAIM_ID.match(v)],
        "n_obs": c["n_obs"],
        "spawned": c["spawned"],
        "hidden": hidden,
        "evidence": [_evidence(o) for o in evidence],
    }


def claims_section(db: Database, run: str | None = None) -> dict[str, Any]:
    """Every current claim (or every claim observed in `run`, superseded or not), most
    observed first; those the dashboard's hide rule (`extract.store.visibility`) hides
    are marked `hidden`."""
    every = ClaimFilter(run=run, superseded=run is not None)
    claims = query_claims(db, every)
    visible = {c["claim_id"] for c in query_claims(db, replace(every, visible=True))}
    evidence = claims_evidence(db, [c["claim_id"] for c in claims])
    return {
        "run": run,
        "counts": {
            "claims": len(claims),
            "contested": sum(1 for c in claims if c["stance"] == "contested"),
            "domains": len({c["domain"] for c in claims if c["domain"]}),
            "hidden": len(claims) - len(visible),
        },
        "claims": [_claim(c, c["claim_id"] not in visible, evidence.get(c["claim_id"], [])) for c in claims],
    }
