"""Ingest stage: one dump file in, one `Document` and its `Record`s out.

This package owns reading a file and everything up to records with metadata:
encoding detection and normalisation (`decode`), HTML/JSONL rendering
(`render`), record splitting (`split`) and record metadata (`metadata`).
Bad content never raises anything but `SkippedInput`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import SkippedInput
from extract.models import Document, Record, RecordSpan

from .decode import decode_bytes, normalise_text
from .metadata import arxiv_ids, base_key, citation_key, record_id, unique_key, urls
from .render import render
from .split import split_records

__all__ = [
    "FORMATS",
    "IngestedDocument",
    "arxiv_ids",
    "citation_key",
    "ingest_file",
    "normalise_text",
    "split_records",
    "urls",
]

FORMATS: Mapping[str, str] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}


@dataclass(frozen=True)
class IngestedDocument:
    """A document, its records in order, and per-file warnings (e.g. skipped JSONL lines)."""

    document: Document
    records: list[Record]
    warnings: list[str] = field(default_factory=list)


def ingest_file(
    path: Path,
    *,
    jsonl_text_field: str = "text",
    jsonl_title_field: str = "title",
    existing_keys: Mapping[str, str] | None = None,
    taken_keys: set[str] | None = None,
    key_ranks: dict[str, int] | None = None,
) -> IngestedDocument:
    """Read, decode, normalise, render and split `path` into records with metadata.

    `existing_keys` maps record ids to citation keys already stored, which are
    reused so keys stay stable across runs; `taken_keys` holds every key in use
    and gains the keys assigned here. `key_ranks`, kept with `taken_keys` from file
    to file, remembers per base key how many suffixes are taken (many files sharing
    titles then stay linear). Raises `SkippedInput` (kind `unsupported`,
    `binary`, `empty` or `undecodable`) for files that cannot be ingested.
    """
    name = str(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SkippedInput(name, "unsupported", f"extension {path.suffix or '(none)'!r} not handled")
    data = path.read_bytes()
    decoded = decode_bytes(data, name)
    rendered = render(decoded.text, fmt, text_field=jsonl_text_field, title_field=jsonl_title_field)
    text = rendered.text
    if not text.strip():
        detail = f"nothing to ingest after rendering {fmt}"
        if fmt == "html" and data.strip():
            # A page of scripts and markup, such as the claims browser `extract report` writes.
            detail = (
                f"{len(data):,} bytes of {fmt} but no text in them (scripts and markup only, e.g. an extract report)"
            )
        if rendered.warnings:
            detail += f" ({len(rendered.warnings)} lines skipped; first: {rendered.warnings[0]})"
        raise SkippedInput(name, "empty", detail)
    spans = rendered.spans if rendered.spans is not None else split_records(text, fmt)
    doc_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    document = Document(
        sha256=doc_sha,
        path=name,
        raw_sha256=hashlib.sha256(data).hexdigest(),
        encoding=decoded.encoding,
        fmt=fmt,
        text=text,
    )
    taken = taken_keys if taken_keys is not None else set()
    records = _records(document, spans, existing_keys or {}, taken, key_ranks if key_ranks is not None else {})
    return IngestedDocument(document, records, list(rendered.warnings))


def _records(
    document: Document,
    spans: list[RecordSpan],
    existing_keys: Mapping[str, str],
    taken: set[str],
    tried: dict[str, int],
) -> list[Record]:
    ids = [record_id(document.sha256, s.char_start, s.char_end) for s in spans]
    # Stored keys first, so a new key can never take a name an old record owns.
    keys: dict[str, str] = {rid: existing_keys[rid] for rid in ids if rid in existing_keys}
    taken.update(keys.values())
    # `tried`: per base, the count of suffixes known to be taken (`taken` only grows):
    # keeps many records that share a base key (same title and year) linear.
    records: list[Record] = []
    for idx, (rid, span) in enumerate(zip(ids, spans, strict=True)):
        body = document.text[span.char_start : span.char_end]
        found = arxiv_ids(body)
        key = keys.get(rid)
        if key is None:
            base = base_key(span.title, found, body)
            key, rank = unique_key(base, taken, tried.get(base, 0))
            tried[base] = rank + 1
            taken.add(key)
        records.append(
            Record(
                record_id=rid,
                doc_sha256=document.sha256,
                idx=idx,
                title=span.title,
                arxiv_ids=found,
                urls=urls(body),
                citation_key=key,
                char_start=span.char_start,
                char_end=span.char_end,
            )
        )
    return records
