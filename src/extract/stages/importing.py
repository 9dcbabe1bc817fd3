"""The import stage: observations made elsewhere (the SPEC's JSONL format) become
observations here, then merge like any other.

Each line is validated on its own; a bad line goes to `rejects` with its reason
and the raw line, never silently dropped. An observation's id is the hash of its
canonical line, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
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
    # How far into the file (bytes) this batch ends.
    offset: int = 0
    # Lines an export marked superseded (`"current": false`), left out.
    superseded: int = 0


BATCH_LINES = 50_000


def import_batches(
    path: Path, run_id: str, keys: dict[str, str], arxiv: dict[str, str], size: int = BATCH_LINES
) -> Iterator[ParsedImport]:
    """The file's observations and rejects, `size` lines at a time, so that a file of
    millions of lines never sits in memory whole. A line that is not UTF-8 is a reject
    like any other bad line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    created = now()
    batch = ParsedImport([], [], 0)
    with handle:
        for number, read in enumerate(handle, 1):
            raw = read.removeprefix(b"\xef\xbb\xbf") if number == 1 else read
            if not raw.strip():
                continue
            batch.lines += 1
            _parse_line(raw, number, path, run_id, keys, arxiv, created, batch)
            if batch.lines >= size:
                batch.offset = handle.tell()
                yield batch
                batch = ParsedImport([], [], 0)
        batch.offset = handle.tell()
    if batch.lines:
        yield batch


def _parse_line(
    raw: bytes,
    number: int,
    path: Path,
    run_id: str,
    keys: dict[str, str],
    arxiv: dict[str, str],
    created: datetime,
    into: ParsedImport,
) -> None:
    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        item = ImportedObservation.model_validate_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValidationError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            detail = f"not UTF-8 at byte {exc.start}"
        else:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()[:3]
            )
        into.rejects.append(
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
        return
    if not item.current:
        into.superseded += 1
        return
    citations = []
    flags = []
    for cited in dict.fromkeys(item.citations):
        c = resolve_citation(cited, keys, arxiv)
        if c.kind == "unknown":
            flags.append(f"unknown_citation:{c.value}")
        citations.append(Citation(c.raw, c.kind, c.value, c.record_id))
    into.observations.append(
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
