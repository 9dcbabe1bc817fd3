"""The import stage: observations made elsewhere (the SPEC's JSONL format) become
observations here, then merge like any other.

Each line is validated on its own; a bad line goes to `rejects` with its reason
and the raw line, never silently dropped. An observation's id is the hash of its
canonical line, so importing the same file twice adds nothing.

A line exported by `extract export observations` keeps what it was: its `obs_id`
(so an export re-imported into its own database adds nothing), its `parent_obs_id`
(a counter's link to its stance), where its quote lies (`doc_sha256`, `char_start`,
`char_end`: one piece of evidence counts once, `store.observations.EVIDENCE_KEY`),
when it was made (`created_at`) and its `claim_id`, which the merge keeps when that
claim is new here or of the same block (`stages.merge`). Ids of another
shape are not taken: the line gets a hashed id, and a claim id not kept is flagged
`claim_id_not_kept:<id>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from extract.errors import InputError
from extract.hashing import CLAIM_ID, OBS_ID, canonical_json, short_id
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
DOC_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    span = (item.char_start, item.char_end) if item.char_start is not None and item.char_end is not None else None
    if span and span[0] > span[1]:
        span = None
    claim_id = _kept(item.claim_id, CLAIM_ID)
    if item.claim_id and not claim_id:
        flags.append(f"claim_id_not_kept:{item.claim_id[:40]}")
    into.observations.append(
        Observation(
            obs_id=_kept(item.obs_id, OBS_ID) or short_id("o-", ["import", canonical_json(json.loads(line))]),
            # Not empty: the claim the merge is to keep it in.
            claim_id=claim_id,
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
            created_at=_naive(item.created_at or item.extracted_at) or created,
            field_path=item.field_path,
            camp=item.camp,
            lang=item.lang,
            source=item.source or str(path),
            run_label=item.run_label,
            parent_obs_id=_kept(item.parent_obs_id, OBS_ID) or None,
            doc_sha256=_kept(item.doc_sha256, DOC_SHA256) or None,
            char_start=span[0] if span else None,
            char_end=span[1] if span else None,
        )
    )


def _naive(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=None) if when else None


def _kept(value: str | None, shape: re.Pattern[str]) -> str:
    """An id the line carries, if it has the shape of the ids made here; else ""."""
    return value if value and shape.fullmatch(value) else ""
