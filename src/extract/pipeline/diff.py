"""`extract diff`: what changed between two runs, claim by claim.

Claims are keyed by their stable id. A run's view of a claim is made from the
observations the run output (stored, or replayed from the cache: see
`run_observations`) that carry the claim's id:

- stance: the majority of its observations, a tie is `contested` (as in `claims`);
- domain: the most frequent one (ties: the first alphabetically; null when none);
- tags and citations: the union of its observations';
- evidence: the set of its observations' quotes, whitespace collapsed.

A claim only in A is `dropped`, only in B `new`; one in both may have changed in
`stance-flip`, `domain`, `tags`, `citations` or `evidence` (several at once).
When one run is a `run --topic SLUG` run, or `topic` is given, only that topic's
observations are compared.

`diff_runs` returns plain JSON-serialisable data, keys sorted by the CLI,
schema `extract.diff/1`:

    {
      "schema": "extract.diff/1",
      "topic": "kernels" | null,                  # the scope compared, null = everything
      "run_a": RUN, "run_b": RUN,
      "summary": COUNTS,                          # over every topic
      "by_topic": [{"topic": "kernels" | null, **COUNTS}, ...],   # null topic first, then by slug
      "changes": [CHANGE, ...]                    # only claims that changed; by topic, then claim id
    }
    RUN = {"run_id", "started_at" (ISO), "status", "command" ("run", "run --topic SLUG", "import"),
           "pipeline_name", "pipeline_hash", "model", "prompts" ({prompt name: content hash}),
           "observations" (in scope), "claims" (in scope)}
    COUNTS = {"claims_a", "claims_b", "unchanged", "changed", "new", "dropped",
              "by_kind": {kind: number of claims with that change, for every kind in KINDS}}
    CHANGE = {"claim_id", "text", "topic", "job", "field_path",
              "kinds": [kinds in KINDS order],
              "a": VIEW | null, "b": VIEW | null,     # null: the claim is not in that run
              "details": {                            # one entry per kind of a changed claim; {} for new/dropped
                  "stance-flip": {"a": "consensus", "b": "contested"},
                  "domain": {"a": "training", "b": "arch"},
                  "tags" | "citations" | "evidence": {"added": [...], "removed": [...]}}}
    VIEW = {"stance", "domain", "tags", "citations", "evidence", "n_obs"}   # lists sorted

Identical runs give empty `changes` and zero counts of every kind but `unchanged`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.errors import ConfigError, NotFound
from extract.store import open_database
from extract.store.diffs import resolve_run, run_info, run_output, run_topic

SCHEMA = "extract.diff/1"
CHANGE_KINDS = ("stance-flip", "domain", "tags", "citations", "evidence")
KINDS = ("new", "dropped", *CHANGE_KINDS)


@dataclass(frozen=True)
class ClaimView:
    """One run's view of one claim."""

    stance: str
    domain: str | None
    tags: tuple[str, ...]
    citations: tuple[str, ...]
    evidence: tuple[str, ...]
    n_obs: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "stance": self.stance,
            "domain": self.domain,
            "tags": list(self.tags),
            "citations": list(self.citations),
            "evidence": list(self.evidence),
            "n_obs": self.n_obs,
        }


def _most_frequent(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v is not None)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


def claim_view(rows: list[dict[str, Any]]) -> ClaimView:
    consensus = sum(r["stance"] == "consensus" for r in rows)
    return ClaimView(
        stance="consensus" if consensus > len(rows) - consensus else "contested",
        domain=_most_frequent(r["domain"] for r in rows),
        tags=tuple(sorted({t for r in rows for t in r["tags"]})),
        citations=tuple(sorted({c for r in rows for c in r["citations"]})),
        evidence=tuple(sorted({" ".join(r["quote"].split()) for r in rows})),
        n_obs=len(rows),
    )


def _by_claim(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r["claim_id"], []).append(r)
    return grouped


def _set_change(a: tuple[str, ...], b: tuple[str, ...]) -> dict[str, list[str]] | None:
    added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
    return {"added": added, "removed": removed} if added or removed else None


def compare_views(a: ClaimView | None, b: ClaimView | None) -> dict[str, Any]:
    """The kinds of change from A's view to B's, with their details."""
    if a is None:
        return {"new": {}}
    if b is None:
        return {"dropped": {}}
    details: dict[str, Any] = {}
    if a.stance != b.stance:
        details["stance-flip"] = {"a": a.stance, "b": b.stance}
    if a.domain != b.domain:
        details["domain"] = {"a": a.domain, "b": b.domain}
    for kind, old, new in (
        ("tags", a.tags, b.tags),
        ("citations", a.citations, b.citations),
        ("evidence", a.evidence, b.evidence),
    ):
        change = _set_change(old, new)
        if change is not None:
            details[kind] = change
    return details


def _counts() -> dict[str, Any]:
    return {
        "claims_a": 0,
        "claims_b": 0,
        "unchanged": 0,
        "changed": 0,
        "new": 0,
        "dropped": 0,
        "by_kind": dict.fromkeys(KINDS, 0),
    }


def _tally(counts: dict[str, Any], in_a: bool, in_b: bool, kinds: list[str]) -> None:
    counts["claims_a"] += in_a
    counts["claims_b"] += in_b
    for kind in kinds:
        counts["by_kind"][kind] += 1
    if in_a and in_b:
        counts["changed" if kinds else "unchanged"] += 1
    else:
        counts["new" if in_b else "dropped"] += 1


def compare_outputs(a_rows: list[dict[str, Any]], b_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`summary`, `by_topic` and `changes` of the diff from two runs' outputs."""
    a_claims, b_claims = _by_claim(a_rows), _by_claim(b_rows)
    summary = _counts()
    by_topic: dict[str | None, dict[str, Any]] = {}
    changes = []
    for claim_id in sorted(a_claims.keys() | b_claims.keys()):
        rows = a_claims.get(claim_id, []) + b_claims.get(claim_id, [])
        a = claim_view(a_claims[claim_id]) if claim_id in a_claims else None
        b = claim_view(b_claims[claim_id]) if claim_id in b_claims else None
        details = compare_views(a, b)
        kinds = [k for k in KINDS if k in details]
        topic = _most_frequent(r["topic"] for r in rows)
        for counts in (summary, by_topic.setdefault(topic, _counts())):
            _tally(counts, a is not None, b is not None, kinds)
        if kinds:
            first = rows[0]
            changes.append(
                {
                    "claim_id": claim_id,
                    "text": first["claim_text"],
                    "topic": topic,
                    "job": first["job"],
                    "field_path": first["field_path"],
                    "kinds": kinds,
                    "a": a.as_dict() if a else None,
                    "b": b.as_dict() if b else None,
                    "details": {k: v for k, v in details.items() if k in CHANGE_KINDS},
                }
            )
    changes.sort(key=lambda c: (c["topic"] is not None, c["topic"] or "", c["claim_id"]))
    topics = sorted(by_topic, key=lambda t: (t is not None, t or ""))
    return {
        "summary": summary,
        "by_topic": [{"topic": t, **by_topic[t]} for t in topics],
        "changes": changes,
    }


def diff_scope(topic_a: str | None, topic_b: str | None, topic: str | None) -> str | None:
    """The topic to compare within: the one asked for, else the one a `run --topic` run
    re-extracted (`topic_a`, `topic_b`: the runs' `runs.topic`)."""
    if topic is not None:
        return topic
    reruns = sorted({t for t in (topic_a, topic_b) if t is not None})
    if len(reruns) > 1:
        raise ConfigError(f"the runs re-extracted different topics ({', '.join(reruns)}): pass --topic to choose one")
    return reruns[0] if reruns else None


def diff_runs(db_path: Path, run_a: str, run_b: str, topic: str | None = None) -> dict[str, Any]:
    """`extract diff`: the changes from run A to run B (see the module docstring for the shape)."""
    with open_database(db_path, read_only=True) as db:
        info_a, info_b = (run_info(db, resolve_run(db, ref)) for ref in (run_a, run_b))
        scope = diff_scope(run_topic(db, info_a["run_id"]), run_topic(db, info_b["run_id"]), topic)
        a_rows, b_rows = run_output(db, info_a["run_id"], scope), run_output(db, info_b["run_id"], scope)
    if scope is not None and not a_rows and not b_rows:
        raise NotFound(f"neither run output anything in topic {scope}")
    compared = compare_outputs(a_rows, b_rows)
    for info, rows in ((info_a, a_rows), (info_b, b_rows)):
        info["observations"] = len(rows)
        info["claims"] = len({r["claim_id"] for r in rows})
    return {"schema": SCHEMA, "topic": scope, "run_a": info_a, "run_b": info_b, **compared}


def failing_kinds(diff: dict[str, Any], fail_on: Iterable[str]) -> dict[str, int]:
    """The kinds listed in `fail_on` (`any` stands for every kind) that occur, with their counts."""
    wanted = set(KINDS) if "any" in fail_on else set(fail_on)
    by_kind: dict[str, int] = diff["summary"]["by_kind"]
    return {k: by_kind[k] for k in KINDS if k in wanted and by_kind[k]}
