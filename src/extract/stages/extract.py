"""The extract stage (`ref_triage` job): one chunk in, observations and rejects out.

Per chunk: render the prompt into an `Ask` and hand it to the model gateway
(which replays it from the cache or calls the model, and stores the raw answer
before it is parsed), then validate, and re-ask with the error text (bounded)
when the answer does not parse. Re-asks are requests of their own, cached the
same way, so a re-run replays the whole exchange without a call. A truncated
answer is never re-asked as if invalid: the chunk is split, down to a floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extract.config import Pipeline
from extract.errors import ContextExceeded, TerminalModelError, TransientModelError
from extract.hashing import canonical_json, sha256_text, short_id
from extract.models import (
    AnswerOutcome,
    Chunk,
    Citation,
    Document,
    ModelReply,
    ModelRequest,
    Observation,
    Record,
    Reject,
)
from extract.schemas import TriageAnswer
from extract.stages.asks import JOB, TriageAsks
from extract.stages.chunk import Tokenizer, split_chunk
from extract.stages.gateway import Deferred, ModelGateway
from extract.stages.topics import assign_topic
from extract.stages.validate import (
    AnswerError,
    align_quote,
    claim_problem,
    names_nothing,
    parse_triage,
    resolve_citation,
)
from extract.store import Database
from extract.store.db import now
from extract.store.documents import save_chunks
from extract.store.outcomes import OutcomeKey, save_outcomes
from extract.store.visibility import UNKNOWN_CITATION

# A chunk whose answer is cut off is split in halves once, and never into pieces under
# MIN_SPLIT_TOKENS: past that it is a `truncated` reject. A chunk holds at most
# `max_claims_per_chunk` claims, which the default budget fits, so an answer that is
# cut off again after a split is a model rambling, which more splits only pay for.
MAX_SPLIT_DEPTH = 1
MIN_SPLIT_TOKENS = 100
UNPARSED_LIMIT = 10

# Stores a batch of this run's observations and rejects (the pipeline's `store_batch`:
# skip those stored, place the rest in claims, write, link to the run), links the ids of
# stored observations it replayed (`stages.replay`) to the run, and returns the
# observations stored now, with their claim ids.
StoreBatch = Callable[[list[Observation], list[Reject], list[str]], list[Observation]]


@dataclass
class ExtractStats:
    chunks: int = 0
    reasks: int = 0
    splits: int = 0
    deferred: int = 0
    outside_topic: int = 0
    parsed: int = 0
    unparsed: int = 0
    failed: int = 0
    observations: int = 0
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)  # rejects by reason (this run's, replays too)
    uncited: int = 0  # report statements kept flagged `uncited`
    claim_ids: set[str] = field(default_factory=set)


@dataclass
class ExtractJob:
    """Everything the stage needs that does not change from chunk to chunk."""

    db: Database
    run_id: str
    pipeline: Pipeline
    gateway: ModelGateway
    asks: TriageAsks
    citation_keys: dict[str, str]
    arxiv_records: dict[str, str]
    url_records: dict[str, str]  # a record's URL (no trailing slash) -> its id
    tokenizer: Tokenizer
    store: StoreBatch
    stats: ExtractStats = field(default_factory=ExtractStats)
    flush_every: int = 20_000
    only_topic: str | None = None  # `run --topic`: keep only this topic's observations
    # The key outcomes are recorded and replayed under (`stages.replay`; None: neither),
    # and the outcomes recorded for the answers this run may replay.
    validator: str | None = None
    replays: dict[OutcomeKey, AnswerOutcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Observations and rejects are written in large batches: they can always be
        # re-derived from the stored raw answers (committed as they arrive), and
        # merging a whole batch in document order keeps claim ids independent of
        # the order in which answers arrived.
        self._observations: list[Observation] = []
        self._rejects: list[Reject] = []
        self._replayed: list[str] = []  # ids of stored observations replayed
        self._outcomes: list[AnswerOutcome] = []  # to record once their rows are stored
        self.model = self.gateway.model
        self.prompt = self.asks.prompt
        self.pipeline_hash = self.pipeline.config_hash()
        if self.only_topic is not None:
            # It keeps one topic's observations: an outcome would lack the others'.
            self.validator, self.replays = None, {}

    def call_failed(self, exc: TransientModelError) -> None:
        """A call that failed past its retries: if nothing has ever come back, every other
        chunk would wait through the same retries, so the run stops with what happened."""
        if self.gateway.stats.calls == 0 and self.gateway.stats.cached == 0:
            if not exc.reached:
                raise TerminalModelError(f"cannot reach the model endpoint: {exc}") from exc
            raise TerminalModelError(f"{exc} (after {self.pipeline.model.max_retries} retries)") from exc
        self.stats.failed += 1

    async def run_chunk(self, chunk: Chunk, record: Record, doc: Document, depth: int = 0) -> None:
        self.stats.chunks += 1
        ask = self.asks.ask(chunk, record)
        max_reasks = self.pipeline.model.max_reasks
        for attempt in range(max_reasks + 1):
            try:
                request, reply = await self.gateway.ask(ask, chunk.chunk_id, attempt)
            except Deferred:
                self.stats.deferred += 1
                return
            except ContextExceeded as exc:
                await self._split(chunk, record, doc, depth, "context_exceeded", str(exc), "", None)
                return
            except TransientModelError as exc:
                self.call_failed(exc)
                self.reject_raw(JOB, "call_failed", str(exc), "", None, key=[self.run_id, chunk.chunk_id], chunk=chunk)
                return
            request_hash = request.request_hash()
            if reply.finish_reason == "length":
                budget = request.params.get("max_completion_tokens")
                detail = f"the answer hit the token limit ({budget} tokens, model.max_completion_tokens)"
                await self._split(chunk, record, doc, depth, "truncated", detail, reply.raw_text, reply, request_hash)
                return
            if self._replay(reply, request_hash, chunk):
                self.stats.parsed += 1
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
                ask = ask.followed_by(
                    reply.raw_text,
                    f"Your answer was rejected ({exc}). Answer again with only a JSON"
                    " object that matches the schema; quotes must be copied verbatim from the data.",
                )
                continue
            self.stats.parsed += 1
            self._keep(answer, reply, request, chunk, record, doc)
            return

    async def _split(
        self,
        chunk: Chunk,
        record: Record,
        doc: Document,
        depth: int,
        reason: str,
        detail: str,
        raw: str,
        reply: ModelReply | None,
        request_hash: str | None = None,
    ) -> None:
        """A cut-off answer (or a prompt too long for the context window) is not re-asked
        as if invalid: each half of the chunk is extracted instead (the cut-off answer
        stays in `responses`), down to a floor; past it the chunk is a reject, so a
        rambling model cannot split a chunk forever."""
        small = chunk.n_tokens < 2 * MIN_SPLIT_TOKENS
        halves = None if depth >= MAX_SPLIT_DEPTH or small else split_chunk(doc.text, chunk, self.tokenizer)
        if halves is not None and min(h.n_tokens for h in halves) < MIN_SPLIT_TOKENS:
            halves = None  # a title line alone, say: a call of its own would only be a reject
        if halves is None:
            key = [reply.answer_key(request_hash), reason] if reply is not None and request_hash else None
            self.reject_raw(
                JOB,
                reason,
                f"{detail}, and the chunk ({chunk.n_tokens} tokens) is not split further",
                raw,
                request_hash,
                key=key if key is not None else [self.run_id, chunk.chunk_id, reason],
                chunk=chunk,
            )
            return
        self.stats.splits += 1
        save_chunks(self.db, list(halves), self.tokenizer.name)
        for half in halves:
            await self.run_chunk(half, record, doc, depth + 1)

    def _replay(self, reply: ModelReply, request_hash: str, chunk: Chunk) -> bool:
        """Replay what validating this answer for this chunk yielded before, if recorded
        under the same key for the same text (`stages.replay`); False: validate it."""
        outcome = self.replays.pop((request_hash, reply.answer_no, chunk.chunk_id, sha256_text(reply.raw_text)), None)
        if outcome is None:
            return False
        self._replayed.extend(outcome.obs_ids)
        # Its rejects are stored already, but they are still this run's rejects.
        self.stats.rejects += len(outcome.reject_ids)
        for reason in outcome.reject_reasons:
            self.stats.reject_reasons[reason] = self.stats.reject_reasons.get(reason, 0) + 1
        if len(self._replayed) >= self.flush_every:
            self.flush()
        return True

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
        rejects: list[Reject] = []
        domains = self.pipeline.domain_slugs()
        topics = set(self.pipeline.topic_slugs())
        created = now()
        for i, claim in enumerate(answer.claims):
            problem = claim_problem(claim, chunk.text, domains)
            if problem is not None:
                reject = self.reject_raw(
                    JOB,
                    problem[0],
                    problem[1],
                    reply.raw_text,
                    request_hash,
                    item=claim.model_dump(),
                    key=[answer_key, i],
                    chunk=chunk,
                )
                rejects.append(reject)
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
                c = resolve_citation(raw, self.citation_keys, self.arxiv_records, self.url_records)
                if names_nothing(c, chunk.text):  # the hide rule does not count it
                    flags.append(f"{UNKNOWN_CITATION}{c.value}")
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
                    lang=self.pipeline.extract.claim_language if self.gateway.capabilities.claim_language else None,
                    prompt_name=self.prompt.name,
                    prompt_hash=self.prompt.content_hash,
                    pipeline_hash=self.pipeline_hash,
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
        if self.validator is not None:
            self._outcomes.append(
                AnswerOutcome(
                    request_hash,
                    reply.answer_no,
                    chunk.chunk_id,
                    sha256_text(reply.raw_text),
                    tuple(o.obs_id for o in observations),
                    tuple(r.reject_id for r in rejects),
                    tuple(r.reason for r in rejects),
                )
            )
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
        replayed, self._replayed = self._replayed, []
        outcomes, self._outcomes = self._outcomes, []
        new = self.store(observations, rejects, replayed)
        self.stats.observations += len(new)
        self.stats.claim_ids.update(o.claim_id for o in new)
        # A replayed answer's reject is already stored, but it is still this run's reject.
        self.stats.rejects += len(rejects)
        if self.validator is not None:
            save_outcomes(self.db, self.validator, outcomes)

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
    ) -> Reject:
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
        self.stats.reject_reasons[reason] = self.stats.reject_reasons.get(reason, 0) + 1
        if len(self._rejects) >= self.flush_every:
            self.flush()
        return reject
