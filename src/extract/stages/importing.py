"""The import stage: observations made elsewhere (the SPEC's JSONL format) become
observations here, then merge like any other.

Each line is validated on its own; a bad line goes to `rejects` with its reason
and the raw line, never silently dropped. An observation's id is the hash of its
canonical line, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from extract.errors import InputError
from extract.hashing import canonical_json, short_id
from extract.models import Citation, Observation, Reject
from extract.schemas import ImportedObservation
from extract.stages.validate import resolve_citation
from extract.store.db import now


@dataclass
class ParsedImport:
    observations: list[Observation]
    rejects: list[Reject]
    lines: int


def parse_import(path: Path, run_id: str, keys: dict[str, str], arxiv: dict[str, str]) -> ParsedImport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    observations: list[Observation] = []
    rejects: list[Reject] = []
    lines = 0
    created = now()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        lines += 1
        try:
            item = ImportedObservation.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            detail = (
                str(exc).splitlines()[0]
                if isinstance(exc, json.JSONDecodeError)
                else "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
            )
            rejects.append(
                Reject(
                    reject_id=short_id("x-", [run_id, str(path), number]),
                    run_id=run_id,
                    job="import",
                    reason="invalid_import",
                    detail=f"line {number}: {detail}",
                    raw_output=line,
                    created_at=created,
                )
            )
            continue
        citations = []
        flags = []
        for raw in dict.fromkeys(item.citations):
            c = resolve_citation(raw, keys, arxiv)
            if c.kind == "unknown":
                flags.append(f"unknown_citation:{c.value}")
            citations.append(Citation(c.raw, c.kind, c.value, c.record_id))
        observations.append(
            Observation(
                obs_id=short_id("o-", ["import", canonical_json(json.loads(line))]),
                claim_id="",
                run_id=run_id,
                job=item.kind,
                text=item.text.strip(),
                stance=item.stance,
                domain=item.domain,
                tags=tuple(dict.fromkeys(t.strip() for t in item.tags if t.strip())),
                topic=item.topic,
                citations=tuple(citations),
                quote=item.quote,
                alignment="imported",
                flags=tuple(flags),
                model=item.model,
                created_at=item.extracted_at.replace(tzinfo=None) if item.extracted_at else created,
                field_path=item.field_path,
                camp=item.camp,
                lang=item.lang,
                source=item.source or str(path),
                run_label=item.run_label,
            )
        )
    return ParsedImport(observations, rejects, lines)
