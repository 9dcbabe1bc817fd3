"""Domain data shared by the stages and the store: documents, records, chunks,
model requests and replies, observations, rejects.

Model-facing schemas (what a model must answer) live in `extract.schemas`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from extract.hashing import sha256_json


@dataclass(frozen=True)
class Document:
    """One input file, decoded and normalised; `text` is what every offset indexes."""

    sha256: str  # of the normalised text (UTF-8)
    path: str
    raw_sha256: str  # of the file's bytes
    encoding: str
    fmt: str  # md | txt | html | jsonl
    text: str


@dataclass(frozen=True)
class RecordSpan:
    """One paper or item inside a document, as the splitter found it."""

    char_start: int
    char_end: int
    title: str


@dataclass(frozen=True)
class Record:
    """A record with its metadata; offsets index `Document.text`."""

    record_id: str
    doc_sha256: str
    idx: int
    title: str
    arxiv_ids: tuple[str, ...]
    urls: tuple[str, ...]
    citation_key: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Chunk:
    """A token-bounded piece of one record; offsets index `Document.text`."""

    chunk_id: str
    doc_sha256: str
    record_id: str
    idx: int
    char_start: int
    char_end: int
    n_tokens: int
    text: str = field(repr=False)


@dataclass(frozen=True)
class ModelRequest:
    """One chat request exactly as sent; its hash is the response-cache key."""

    job: str
    model: str
    prompt_name: str
    prompt_hash: str
    messages: tuple[dict[str, str], ...]
    response_format: dict[str, Any] | None
    params: dict[str, Any]
    # The structured-output mode the request was built in (provenance; the body says it too).
    structured_output: str = ""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": list(self.messages), **self.params}
        if self.response_format is not None:
            body["response_format"] = self.response_format
        return body

    def request_hash(self) -> str:
        return self._hash

    @functools.cached_property
    def _hash(self) -> str:
        # Hashing the canonical body (with its schema) is not free; once per request.
        return sha256_json({"prompt_hash": self.prompt_hash, "body": self.body()})


@dataclass(frozen=True)
class ModelReply:
    """What came back, before any parsing; `raw_json` is the endpoint's whole answer (None
    in a reply read back from the cache: it stays in `responses`)."""

    raw_text: str
    endpoint_model: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    raw_json: str | None = None
    # 0 for the first answer to a request; `run --fresh` asks again and stores 1, 2, ...
    answer_no: int = 0

    def answer_key(self, request_hash: str) -> str:
        """What ids derived from this answer hash: the request hash alone for a first
        answer (so ids made before fresh answers existed stay as they were)."""
        return request_hash if self.answer_no == 0 else f"{request_hash}#{self.answer_no}"


@dataclass(frozen=True)
class Citation:
    raw: str
    kind: str  # arxiv | key | url | unknown
    value: str
    record_id: str | None


@dataclass(frozen=True)
class Observation:
    """One claim as one model (or import) stated it once, with full provenance."""

    obs_id: str
    claim_id: str
    run_id: str
    job: str
    text: str
    stance: str
    domain: str | None
    tags: tuple[str, ...]
    topic: str | None
    citations: tuple[Citation, ...]
    quote: str
    alignment: str
    flags: tuple[str, ...]
    model: str
    created_at: datetime
    field_path: str | None = None
    camp: str | None = None
    lang: str | None = None
    prompt_name: str | None = None
    prompt_hash: str | None = None
    pipeline_hash: str | None = None
    request_hash: str | None = None
    doc_sha256: str | None = None
    source: str | None = None
    record_id: str | None = None
    chunk_id: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    run_label: str | None = None
    parent_obs_id: str | None = None
    answer_no: int = 0

    def with_claim(self, claim_id: str, basis: str | None = None) -> Observation:
        """This observation placed in a claim (flagged `merged_by:<basis>` when an
        arbiter decided it): `dataclasses.replace` without its per-field checks,
        which cost more than the merge step that calls it."""
        placed = object.__new__(Observation)
        placed.__dict__.update(self.__dict__, claim_id=claim_id)
        if basis:
            placed.__dict__["flags"] = (*self.flags, f"merged_by:{basis}")
        return placed


@dataclass(frozen=True)
class Reject:
    """Something a model answered that was not kept, with why and the raw output."""

    reject_id: str
    run_id: str
    job: str
    reason: str
    detail: str
    raw_output: str
    created_at: datetime
    item_json: str | None = None
    request_hash: str | None = None
    chunk_id: str | None = None
    doc_sha256: str | None = None


@dataclass(frozen=True)
class AnswerOutcome:
    """What validating one answer for one chunk yielded: the ids of the observations and
    of the rejects it made (with the rejects' reasons), in claim order. A re-run replays
    it instead of parsing and validating the same answer again (`stages.replay`)."""

    request_hash: str
    answer_no: int
    chunk_id: str
    answer_sha256: str  # of the answer's raw text: another text is validated again
    obs_ids: tuple[str, ...]
    reject_ids: tuple[str, ...]
    reject_reasons: tuple[str, ...]
