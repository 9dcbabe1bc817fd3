"""The model gateway: every model call of a run goes through here.

It builds the request (`stages.formats`, in the structured-output mode the endpoint
accepts: `stages.structured`), replays it from the response cache when it was answered
before, defers it to a batch in batch mode, paces it (rpm/tpm), sends it with the
transport retry policy, and stores the raw answer before anyone parses it. An answer
that refuses the request's format steps down the format ladder; one that says the
prompt and the completion budget overflow the context window is asked again with a
smaller budget (halving, down to a floor), and past the floor the caller hears
`ContextExceeded` (the triage stage then splits its chunk). The budget steps are
deterministic, so a re-run finds every answer in the cache.

`SyncGateway` is the same for the merge's blocking calls (the judge, embeddings).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Protocol

from extract.config import ModelSettings
from extract.errors import ContextExceeded, EndpointBusy, FormatRefused, TransientModelError
from extract.models import ModelReply, ModelRequest
from extract.providers import Capabilities, Provider
from extract.stages.chunk import Tokenizer
from extract.stages.formats import Ask, build_request, prompt_tokens, request_for
from extract.stages.ratelimit import RateLimiter
from extract.stages.retry import with_transport_retries, with_transport_retries_sync
from extract.stages.structured import FormatChoice
from extract.store import Database
from extract.store.batches import PendingRequest, pending_request_hashes
from extract.store.responses import (
    ReplyReader,
    ReplyWriter,
    cached_reply,
    known_request_hashes,
    next_answer_no,
    save_reply,
)

# A completion budget is halved on a context-window refusal, but never below this.
MIN_BUDGET = 256


class Deferred(Exception):
    """Batch mode: the request goes into the next batch instead of being sent now."""


@dataclass
class GatewayStats:
    calls: int = 0
    cached: int = 0
    retries: int = 0
    format_refusals: int = 0
    budget_cuts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def budgets(settings: ModelSettings) -> list[int]:
    """The completion budgets a request may be asked with: the configured one, then halves."""
    out = [settings.max_completion_tokens]
    while out[-1] // 2 >= MIN_BUDGET:
        out.append(out[-1] // 2)
    return out


class ModelGateway:
    def __init__(
        self,
        db: Database,
        run_id: str,
        provider: Provider,
        settings: ModelSettings,
        model: str,
        tokenizer: Tokenizer,
        *,
        batch_mode: bool = False,
        fresh: bool = False,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.provider = provider
        self.settings = settings
        self.model = model
        self.tokenizer = tokenizer
        self.batch_mode = batch_mode
        self.fresh = fresh
        self.capabilities = provider.capabilities
        self.formats = FormatChoice(db, provider.endpoint, model, provider.capabilities, settings.response_format)
        self.budgets = budgets(settings) if self.capabilities.sampling else [settings.max_completion_tokens]
        self.rung = 0  # the budget step that last fitted the context window
        self.stats = GatewayStats()
        self.limiter = RateLimiter(settings.rpm, settings.tpm)
        self.cap = settings.concurrency  # calls in flight; lowered for a slow endpoint (`_took`)
        self._active = 0
        self._slots = asyncio.Condition()
        self._latency: float | None = None
        self.writer = ReplyWriter(db)
        self.reader = ReplyReader(db)
        # Looking a hash up in memory first spares a query per new request. A fresh
        # run replays only what it has itself been answered.
        self.known = set() if fresh else known_request_hashes(db)
        self.waiting = pending_request_hashes(db)
        self.deferred: list[PendingRequest] = []
        self._started: dict[int, float] = {}
        self._ids = itertools.count()

    def preload(self, chunk_ids: list[str], prompt_hash: str) -> None:
        """Read the stored answers to requests for these chunks in this prompt in one query
        (a re-run replays them all); a fresh run replays only answers it stores itself."""
        if not self.fresh:
            self.reader.preload(chunk_ids, self.model, prompt_hash)

    def request(self, ask: Ask, rung: int = 0) -> ModelRequest:
        """The request for `ask` as it would be sent now."""
        return request_for(ask, self.model, self.formats.mode, self.settings, self.capabilities, self.budgets[rung])

    def waiting_on(self) -> tuple[int, float]:
        """Calls in flight and how long the oldest has waited (seconds), for the progress bar."""
        if not self._started:
            return 0, 0.0
        return len(self._started), time.monotonic() - min(self._started.values())

    async def _cached(self, ask: Ask) -> tuple[ModelRequest, ModelReply] | None:
        for rung in range(len(self.budgets)):
            request = self.request(ask, rung)
            if request.request_hash() in self.known:
                reply = await self.reader.get(request.request_hash())
                if reply is not None:
                    return request, reply
        return None

    async def ask(self, ask: Ask, chunk_id: str | None, attempt: int) -> tuple[ModelRequest, ModelReply]:
        """The answer to `ask`: from the cache, or from the model and then straight into
        the database. Raises `Deferred` in batch mode, `ContextExceeded` when even the
        smallest budget does not fit, `TerminalModelError` for what cannot be fixed."""
        probing = False
        rung = self.rung
        try:
            while True:
                probing = probing or await self.formats.settle()
                rung = max(rung, self.rung)
                hit = await self._cached(ask)
                if hit is not None:
                    self.stats.cached += 1
                    if probing:
                        self.formats.accepted(hit[0].structured_output)
                    return hit
                request = self.request(ask, rung)
                if request.request_hash() in self.waiting:
                    raise Deferred  # already in an open batch: never paid for twice
                if self.batch_mode:
                    self.deferred.append(PendingRequest(request, chunk_id, attempt))
                    raise Deferred
                try:
                    reply = await self._send(request)
                except FormatRefused as exc:
                    self.stats.format_refusals += 1
                    self.formats.refused_by(request.structured_output, exc)
                    continue
                except ContextExceeded:
                    if rung + 1 >= len(self.budgets):
                        raise
                    self.stats.budget_cuts += 1
                    rung += 1
                    self.rung = max(self.rung, rung)
                    continue
                if probing:
                    self.formats.accepted(request.structured_output)
                    probing = False
                return request, await self._store(request, reply, chunk_id, attempt)
        finally:
            if probing:
                self.formats.done()

    async def _send(self, request: ModelRequest) -> ModelReply:
        estimate = (
            prompt_tokens(self.tokenizer, request) + self._completion_estimate() if self.limiter.counts_tokens else 0
        )

        async def call() -> ModelReply:
            # `concurrency` bounds calls in flight, not chunks being validated or
            # stored: a slot is free again as soon as its answer has arrived.
            async with self._slot():
                await self.limiter.acquire(estimate)
                key = next(self._ids)
                started = self._started[key] = time.monotonic()
                try:
                    reply = await self.provider.complete(request)
                except EndpointBusy:
                    # The endpoint cannot serve this many at once: as if the call took the
                    # whole timeout, so one call is in flight from now on.
                    self._took(self.settings.timeout)
                    raise
                finally:
                    del self._started[key]
                self._took(time.monotonic() - started)
                return reply

        reply = await with_transport_retries(call, retries=self.settings.max_retries, on_retry=self._retried)
        self.limiter.settle(estimate, reply.prompt_tokens + reply.completion_tokens)
        return reply

    def _completion_estimate(self) -> int:
        if self.stats.calls:
            return self.stats.completion_tokens // self.stats.calls
        return min(512, self.budgets[0])

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._slots.wait_for(lambda: self._active < self.cap)
            self._active += 1
        try:
            yield
        finally:
            async with self._slots:
                self._active -= 1
                self._slots.notify_all()

    def _took(self, seconds: float) -> None:
        """Keep calls in flight to what the endpoint finishes within the timeout. A local
        server answers one call at a time: each call queued behind others waits for
        them, so with answers taking L seconds at most timeout / 2L are in flight."""
        self._latency = seconds if self._latency is None else 0.7 * self._latency + 0.3 * seconds
        fits = int(self.settings.timeout / (2 * max(self._latency, 1e-3)))
        self.cap = max(1, min(self.settings.concurrency, fits))

    async def _store(self, request: ModelRequest, reply: ModelReply, chunk_id: str | None, attempt: int) -> ModelReply:
        if self.fresh:
            reply = replace(reply, answer_no=next_answer_no(self.db, request.request_hash()))
        # Counted as it arrives: a run stopped now still stores it (`ReplyWriter.drain`).
        self.stats.calls += 1
        self.stats.prompt_tokens += reply.prompt_tokens
        self.stats.completion_tokens += reply.completion_tokens
        await self.writer.save(request, reply, run_id=self.run_id, chunk_id=chunk_id, attempt=attempt)
        self.known.add(request.request_hash())
        return reply

    def _retried(self, exc: TransientModelError) -> None:
        self.stats.retries += 1

    async def close(self) -> None:
        self.writer.drain()
        self.reader.close()
        await self.provider.close()


class SyncProvider(Protocol):
    """What the blocking gateway needs of a provider (`providers.openai_sync.OpenAISync`)."""

    capabilities: Capabilities
    endpoint: str
    retries: int

    def complete(self, request: ModelRequest) -> ModelReply: ...

    def embed(self, model: str, texts: list[str]) -> list[list[float]]: ...

    def close(self) -> None: ...


class SyncGateway:
    """The merge's blocking calls: the same format negotiation (shared through the
    database), retry policy and raw-answer storage as `ModelGateway`."""

    def __init__(
        self, db: Database, provider: SyncProvider, settings: ModelSettings, model: str, run_id: str | None = None
    ) -> None:
        self.db = db
        self.provider = provider
        self.settings = settings
        self.model = model
        self.run_id = run_id or "merge"
        self.formats = FormatChoice(db, provider.endpoint, model, provider.capabilities, settings.response_format)

    def ask(self, ask: Ask, max_tokens: int) -> tuple[ModelRequest, ModelReply]:
        """A short answer at temperature 0 (a verdict); cached in `responses` like any answer."""
        params = {"temperature": 0.0, "max_completion_tokens": max_tokens}
        self.formats.refresh()
        while True:
            request = build_request(ask, self.model, self.formats.mode, params)
            cached = cached_reply(self.db, request.request_hash())
            if cached is not None:
                return request, cached
            try:
                reply = with_transport_retries_sync(
                    functools.partial(self.provider.complete, request), retries=self.provider.retries
                )
            except FormatRefused as exc:
                self.formats.refused_by(request.structured_output, exc)
                continue
            self.formats.accepted(request.structured_output)
            save_reply(self.db, request, reply, run_id=self.run_id, chunk_id=None, attempt=0)
            return request, reply

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return with_transport_retries_sync(lambda: self.provider.embed(model, texts), retries=self.provider.retries)

    def close(self) -> None:
        self.provider.close()
