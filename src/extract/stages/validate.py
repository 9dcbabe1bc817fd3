"""The validate stage: parse a raw answer, ground every quote, resolve citations.

A response either parses into the schema or is re-asked (then rejected whole).
Within a parsed response each claim is judged alone: a quote not found in the
chunk (exactly, then with whitespace, punctuation and case ignored), an unknown
domain or an empty text sends that claim to the rejects table with its reason;
the rest are kept with document character offsets and an alignment status.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from pydantic import ValidationError

from extract.schemas import TriageAnswer, TriageClaim
from extract.stages.ingest.metadata import arxiv_ids

MIN_QUOTE_CHARS = 6
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_ARXIV_ID = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)


class AnswerError(ValueError):
    """The answer is not JSON of the expected shape; the message goes back to the model."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def parse_json(raw: str) -> object:
    """The JSON of an answer (a ```json fence around it is tolerated)."""
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def parse_triage(raw: str) -> TriageAnswer:
    data = parse_json(raw)
    try:
        return TriageAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise AnswerError("schema_violation", problems) from exc


@dataclass(frozen=True)
class Alignment:
    status: str  # exact | normalised
    start: int  # offsets into the chunk text
    end: int


def _folded(text: str) -> tuple[str, list[int]]:
    """Letters and digits only, NFKC-casefolded, with each kept char's source index."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for out in unicodedata.normalize("NFKC", ch).casefold():
            if out.isalnum():
                chars.append(out)
                index.append(i)
    return "".join(chars), index


def align_quote(quote: str, chunk_text: str) -> Alignment | None:
    """Where the quote stands in the chunk, or None if it is not there."""
    at = chunk_text.find(quote)
    if at >= 0:
        return Alignment("exact", at, at + len(quote))
    folded_quote, _ = _folded(quote)
    if not folded_quote:
        return None
    folded_chunk, index = _folded(chunk_text)
    at = folded_chunk.find(folded_quote)
    if at < 0:
        return None
    return Alignment("normalised", index[at], index[at + len(folded_quote) - 1] + 1)


def claim_problem(claim: TriageClaim, chunk_text: str, domains: list[str]) -> tuple[str, str] | None:
    """(reason, detail) when a parsed claim cannot be kept."""
    if not claim.text.strip():
        return "empty_text", "the claim text is empty"
    if claim.domain not in domains:
        return "unknown_domain", f"domain {claim.domain!r} is not in the taxonomy"
    if len(_folded(claim.quote)[0]) < MIN_QUOTE_CHARS:
        return "quote_too_short", f"quote {claim.quote[:60]!r} is too short to ground a claim"
    if align_quote(claim.quote, chunk_text) is None:
        return "quote_not_found", f"quote not found in chunk: {claim.quote[:120]!r}"
    return None


@dataclass(frozen=True)
class ResolvedCitation:
    raw: str
    kind: str  # arxiv | key | url | unknown
    value: str
    record_id: str | None


def resolve_citation(raw: str, keys: dict[str, str], arxiv: dict[str, str]) -> ResolvedCitation:
    """Classify one citation string against the stored records."""
    value = raw.strip()
    match = _ARXIV_ID.match(value)
    if match:
        arxiv_id = match.group(1)
        return ResolvedCitation(raw, "arxiv", arxiv_id, arxiv.get(arxiv_id))
    if value in keys:
        return ResolvedCitation(raw, "key", value, keys[value])
    if value.startswith(("http://", "https://")):
        ids = arxiv_ids(value)
        if ids:
            return ResolvedCitation(raw, "arxiv", ids[0], arxiv.get(ids[0]))
        return ResolvedCitation(raw, "url", value, None)
    return ResolvedCitation(raw, "unknown", value, None)
