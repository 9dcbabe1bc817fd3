"""The extract stage (`ref_triage` job): one chunk in, observations and rejects out.

Per chunk: render the prompt, look the request up in the response cache, call
the model only on a miss, store the raw answer before parsing it, and re-ask
with the error text (bounded) when the answer does not parse. Re-asks are
requests of their own, cached the same way, so a re-run replays the whole
exchange without a call. A truncated answer is never re-asked as if invalid.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any

from extract.config import HEURISTIC, Pipeline
from extract.errors import TerminalModelError, TransientModelError
from extract.hashing import canonical_json, short_id
from extract.models import Chunk, Citation, Document, ModelReply, ModelRequest, Observation, Record, Reject
from extract.prompting import PromptTemplate, data_boundary
from extract.providers import Provider
from extract.schemas import TriageAnswer, triage_schema
from extract.stages.chunk import Tokenizer, split_chunk
from extract.stages.merge import Merger
from extract.stages.ratelimit import RateLimiter
from extract.stages.retry import with_transport_retries
from extract.stages.topics import assign_topic
from extract.stages.validate import AnswerError, align_quote, claim_problem, parse_triage, resolve_citation
from extract.store import Database
from extract.store.batches import PendingRequest, pending_request_hashes
from extract.store.db import now
from extract.store.documents import save_chunks
from extract.store.observations import link_to_run, save_observations, unsaved_observations
from extract.store.rejects import save_rejects
from extract.store.responses import ReplyWriter, cached_reply, known_request_hashes, next_answer_no

JOB = "ref_triage"
MAX_SPLIT_DEPTH = 3
UNPARSED_LIMIT = 10


class Deferred(Exception):
    """Batch mode: the request goes into the next batch instead of being sent now."""


@dataclass
class ExtractStats:
    chunks: int = 0
    calls: int = 0
    cached: int = 0
    reasks: int = 0
    retries: int = 0
    splits: int = 0
    deferred: int = 0
    outside_topic: int = 0
    parsed: int = 0
    unparsed: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    observations: int = 0
    rejects: int = 0
    claim_ids: set[str] = field(default_factory=set)


@dataclass
class TriageRequests:
    """Builds `ref_triage` requests: the same bytes for the run, the plan and the cache."""

    pipeline: Pipeline
    model: str
    prompt: PromptTemplate

    def __post_init__(self) -> None:
        self.schema = triage_schema(self.pipeline.domain_slugs(), self.pipeline.topic_slugs())
        fmt = self.pipeline.model.response_format
        if self.model == HEURISTIC:
            self.response_format: dict[str, Any] | None = None
        elif fmt == "json_schema":
            self.response_format = {
                "type": "json_schema",
                "json_schema": {"name": JOB, "strict": True, "schema": self.schema},
            }
        else:
            self.response_format = {"type": "json_object"}
        self.params: dict[str, Any] = (
            {}
            if self.model == HEURISTIC
            else {
                "temperature": self.pipeline.model.temperature,
                "max_completion_tokens": self.pipeline.model.max_completion_tokens,
            }
        )

    def messages(self, chunk: Chunk, record: Record) -> list[dict[str, str]]:
        topics = ", ".join(self.pipeline.topic_slugs()) or "(none declared: always null)"
        domains = ", ".join(self.pipeline.domain_slugs())
        messages = self.prompt.render(
            boundary=data_boundary(chunk.text),
            claim_language=self.pipeline.extract.claim_language,
            domains=domains,
            topics=topics,
            max_claims=str(self.pipeline.extract.max_claims_per_chunk),
            records=f"- {record.citation_key} | {', '.join(record.arxiv_ids) or '-'} | {record.title[:200]}",
            chunk=chunk.text,
        )
        if self.response_format is not None and self.response_format["type"] != "json_schema":
            # Without structured output the schema must travel in the instructions.
            messages[0]["content"] += "\n\nThe JSON schema of the answer:\n" + json.dumps(self.schema)
        return messages

    def prompt_tokens(self, tokenizer: Tokenizer, request: ModelRequest) -> int:
        """What the endpoint will count as prompt tokens, near enough to plan and pace by."""
        # Chat formatting costs a few tokens a message; a strict schema is sent
        # to the model as text and billed as prompt tokens.
        n = 3 + sum(4 + tokenizer.count(m["content"]) for m in request.messages)
        if request.response_format and request.response_format["type"] == "json_schema":
            n += tokenizer.count(json.dumps(request.response_format["json_schema"]["schema"]))
        return n

    def request(self, messages: list[dict[str, str]]) -> ModelRequest:
        return ModelRequest(
            job=JOB,
            model=self.model,
            prompt_name=self.prompt.name,
            prompt_hash=self.prompt.content_hash,
            messages=tuple(messages),
            response_format=self.response_format,
            params=self.params,
        )


@dataclass
class ExtractJob:
    """Everything the stage needs that does not change from chunk to chunk."""

    db: Database
    run_id: str
    pipeline: Pipeline
    provider: Provider
    requests: TriageRequests
    citation_keys: dict[str, str]
    arxiv_records: dict[str, str]
    tokenizer: Tokenizer
    merger: Merger
    stats: ExtractStats = field(default_factory=ExtractStats)
    flush_every: int = 20_000
    batch_mode: bool = False
    only_topic: str | None = None  # `run --topic`: keep only this topic's observations
    fresh: bool = False  # `run --fresh`: ask again even what the cache has answered

    def __post_init__(self) -> None:
        # Observations and rejects are written in large batches: they can always be
        # re-derived from the stored raw answers (committed as they arrive), and
        # merging a whole batch in document order keeps claim ids independent of
        # the order in which answers arrived.
        self.limiter = RateLimiter(self.pipeline.model.rpm, self.pipeline.model.tpm)
        self.in_flight = asyncio.Semaphore(self.pipeline.model.concurrency)
        self.writer = ReplyWriter(self.db)
        # Looking a hash up in memory first spares a query per new request. A fresh
        # run replays only what it has itself been answered.
        self.known = set() if self.fresh else known_request_hashes(self.db)
        self.waiting = pending_request_hashes(self.db)
        self._observations: list[Observation] = []
        self._rejects: list[Reject] = []
        self.deferred: list[PendingRequest] = []
        self.model = self.requests.model
        self.prompt = self.requests.prompt

    async def reply(self, request: ModelRequest, chunk_id: str | None, attempt: int) -> ModelReply:
        """From the cache, or from the model and then straight into the database."""
        cached = cached_reply(self.db, request.request_hash()) if request.request_hash() in self.known else None
        if cached is not None:
            self.stats.cached += 1
            return cached
        if request.request_hash() in self.waiting:
            raise Deferred  # already in an open batch: never paid for twice
        if self.batch_mode:
            self.deferred.append(PendingRequest(request, chunk_id, attempt))
            raise Deferred
        estimate = (
            self.requests.prompt_tokens(self.tokenizer, request) + self._completion_estimate()
            if self.limiter.counts_tokens
            else 0
        )

        async def call() -> ModelReply:
            # `concurrency` bounds calls in flight, not chunks being validated or
            # stored: a slot is free again as soon as its answer has arrived.
            async with self.in_flight:
                await self.limiter.acquire(estimate)
                return await self.provider.complete(request)

        reply = await with_transport_retries(call, retries=self.pipeline.model.max_retries, on_retry=self._retried)
        if self.fresh:
            reply = replace(reply, answer_no=next_answer_no(self.db, request.request_hash()))
        self.limiter.settle(estimate, reply.prompt_tokens + reply.completion_tokens)
        await self.writer.save(request, reply, run_id=self.run_id, chunk_id=chunk_id, attempt=attempt)
        self.known.add(request.request_hash())
        self.stats.calls += 1
        self.stats.prompt_tokens += reply.prompt_tokens
        self.stats.completion_tokens += reply.completion_tokens
        return reply

    def _completion_estimate(self) -> int:
        if self.stats.calls:
            return self.stats.completion_tokens // self.stats.calls
        return min(512, self.pipeline.model.max_completion_tokens)

    def _retried(self, exc: TransientModelError) -> None:
        self.stats.retries += 1

    async def run_chunk(self, chunk: Chunk, record: Record, doc: Document, depth: int = 0) -> None:
        self.stats.chunks += 1
        messages = self.requests.messages(chunk, record)
        max_reasks = self.pipeline.model.max_reasks
        for attempt in range(max_reasks + 1):
            request = self.requests.request(messages)
            try:
                reply = await self.reply(request, chunk.chunk_id, attempt)
            except Deferred:
                self.stats.deferred += 1
                return
            except TransientModelError as exc:
                if self.stats.calls == 0:
                    # Nothing has ever come back: the endpoint is down or misconfigured,
                    # and every other chunk would wait through the same retries.
                    raise TerminalModelError(f"cannot reach the model endpoint: {exc}") from exc
                self.stats.failed += 1
                self.reject_raw(JOB, "call_failed", str(exc), "", None, key=[self.run_id, chunk.chunk_id], chunk=chunk)
                return
            request_hash = request.request_hash()
            if reply.finish_reason == "length":
                await self._split(chunk, record, doc, depth, reply, request_hash)
                return
            try:
                answer = parse_triage(reply.raw_text)
            except AnswerError as exc:
                if attempt == max_reasks:
                    self.reject_raw(
                        JOB,
                        exc.reason,
                        f"{exc.detail} (after {attempt} re-asks)",
                        reply.raw_text,
                        request_hash,
                        key=[reply.answer_key(request_hash), exc.reason],
                        chunk=chunk,
                    )
                    self.stats.unparsed += 1
                    if self.stats.parsed == 0 and self.stats.unparsed >= UNPARSED_LIMIT:
                        # Every answer so far is unusable: stop paying for more of them.
                        raise TerminalModelError(
                            f"the model's answers do not parse ({self.stats.unparsed} chunks, none usable; last:"
                            f" {exc.reason}): check the model and model.response_format"
                        ) from exc
                    return
                self.stats.reasks += 1
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply.raw_text},
                    {
                        "role": "user",
                        "content": f"Your answer was rejected ({exc}). Answer again with only a JSON"
                        " object that matches the schema; quotes must be copied verbatim from the data.",
                    },
                ]
                continue
            self.stats.parsed += 1
            self._keep(answer, reply, request, chunk, record, doc)
            return

    async def _split(
        self, chunk: Chunk, record: Record, doc: Document, depth: int, reply: ModelReply, request_hash: str
    ) -> None:
        """A cut-off answer is not re-asked as if invalid: each half of the chunk is
        extracted instead (the cut-off answer stays in `responses`)."""
        halves = split_chunk(doc.text, chunk, self.tokenizer) if depth < MAX_SPLIT_DEPTH else None
        if halves is None:
            self.reject_raw(
                JOB,
                "truncated",
                "the answer hit the token limit and the chunk cannot be split further",
                reply.raw_text,
                request_hash,
                key=[reply.answer_key(request_hash), "truncated"],
                chunk=chunk,
            )
            return
        self.stats.splits += 1
        save_chunks(self.db, list(halves), self.tokenizer.name)
        for half in halves:
            await self.run_chunk(half, record, doc, depth + 1)

    def _keep(
        self,
        answer: TriageAnswer,
        reply: ModelReply,
        request: ModelRequest,
        chunk: Chunk,
        record: Record,
        doc: Document,
    ) -> None:
        request_hash = request.request_hash()
        answer_key = reply.answer_key(request_hash)
        observations: list[Observation] = []
        domains = self.pipeline.domain_slugs()
        topics = set(self.pipeline.topic_slugs())
        created = now()
        for i, claim in enumerate(answer.claims):
            problem = claim_problem(claim, chunk.text, domains)
            if problem is not None:
                self.reject_raw(
                    JOB,
                    problem[0],
                    problem[1],
                    reply.raw_text,
                    request_hash,
                    item=claim.model_dump(),
                    key=[answer_key, i],
                    chunk=chunk,
                )
                continue
            alignment = align_quote(claim.quote, chunk.text)
            assert alignment is not None  # claim_problem checked it
            flags: list[str] = []
            if claim.topic is not None and claim.topic not in topics:
                flags.append(f"unknown_topic:{claim.topic}")
            tags = tuple(dict.fromkeys(t.strip() for t in claim.tags if t.strip()))
            topic = assign_topic(self.pipeline.topics, claim.topic, claim.text, tags, record.title, doc.path)
            if self.only_topic is not None and topic != self.only_topic:
                # Another topic's rows stay as they are; the stored answer serves its own run.
                self.stats.outside_topic += 1
                continue
            citations = []
            for raw in dict.fromkeys(claim.citations):
                c = resolve_citation(raw, self.citation_keys, self.arxiv_records)
                if c.kind == "unknown":
                    flags.append(f"unknown_citation:{c.value}")
                citations.append(Citation(c.raw, c.kind, c.value, c.record_id))
            start = chunk.char_start + alignment.start
            end = chunk.char_start + alignment.end
            observations.append(
                Observation(
                    obs_id=short_id("o-", [answer_key, i, chunk.chunk_id]),
                    claim_id="",  # the merge stage assigns it
                    run_id=self.run_id,
                    job=JOB,
                    text=claim.text.strip(),
                    stance=claim.stance,
                    domain=claim.domain,
                    tags=tags,
                    topic=topic,
                    citations=tuple(citations),
                    quote=doc.text[start:end],
                    alignment=alignment.status,
                    flags=tuple(flags),
                    model=reply.endpoint_model,
                    created_at=created,
                    lang=None if self.model == HEURISTIC else self.pipeline.extract.claim_language,
                    prompt_name=self.prompt.name,
                    prompt_hash=self.prompt.content_hash,
                    pipeline_hash=self.pipeline.config_hash(),
                    request_hash=request_hash,
                    answer_no=reply.answer_no,
                    doc_sha256=doc.sha256,
                    source=doc.path,
                    record_id=record.record_id,
                    chunk_id=chunk.chunk_id,
                    char_start=start,
                    char_end=end,
                )
            )
        self._observations.extend(observations)
        if len(self._observations) >= self.flush_every:
            self.flush()

    @property
    def rejects_so_far(self) -> int:
        return self.stats.rejects + len(self._rejects)

    def keep(self, observations: list[Observation]) -> None:
        """Buffer observations made by another job of this run (topic reports)."""
        self._observations.extend(observations)

    def flush(self) -> None:
        """Write buffered observations and rejects (call at the end, whatever happened)."""
        observations, self._observations = self._observations, []
        rejects, self._rejects = self._rejects, []
        new = save_observations(self.db, self.merger.assign(unsaved_observations(self.db, observations)))
        self.merger.persist()
        link_to_run(self.db, self.run_id, observations)
        self.stats.observations += len(new)
        self.stats.claim_ids.update(o.claim_id for o in new)
        save_rejects(self.db, rejects)
        # A replayed answer's reject is already stored, but it is still this run's reject.
        self.stats.rejects += len(rejects)

    def reject_raw(
        self,
        job: str,
        reason: str,
        detail: str,
        raw: str,
        request_hash: str | None,
        *,
        item: dict[str, Any] | None = None,
        key: list[Any] | None = None,
        chunk: Chunk | None = None,
    ) -> None:
        """Record what is not kept, with why and the raw output (any job of this run)."""
        reject = Reject(
            reject_id=short_id("x-", key if key is not None else [request_hash, reason]),
            run_id=self.run_id,
            job=job,
            reason=reason,
            detail=detail,
            raw_output=raw,
            created_at=now(),
            item_json=canonical_json(item) if item is not None else None,
            request_hash=request_hash,
            chunk_id=chunk.chunk_id if chunk else None,
            doc_sha256=chunk.doc_sha256 if chunk else None,
        )
        self._rejects.append(reject)
        if len(self._rejects) >= self.flush_every:
            self.flush()
