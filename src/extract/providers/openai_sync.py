"""Blocking calls through the real `openai` SDK for the merge stage: embeddings, and a
short chat completion to judge a borderline pair. The merge places observations one
at a time, so these calls are few and synchronous; they go through the model gateway
(`stages.gateway.SyncGateway`) like every other call. A fault is classified once,
as the async provider classifies it (`classify`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import openai

from extract.config import ModelSettings
from extract.errors import TransientModelError
from extract.models import ModelReply, ModelRequest
from extract.providers.openai_chat import CAPABILITIES, classify, client_settings, reply_from, wire_params

T = TypeVar("T")


class OpenAISync:
    capabilities = CAPABILITIES

    def __init__(self, settings: ModelSettings, base_url: str | None = None) -> None:
        if base_url is not None:
            settings = settings.model_copy(update={"base_url": base_url})
        api_key, url = client_settings(settings)
        self.timeout = settings.timeout
        self._client = openai.OpenAI(api_key=api_key, base_url=url, timeout=settings.timeout, max_retries=0)
        self.base_url = str(self._client.base_url)
        self.endpoint = self.base_url
        self.retries = settings.max_retries

    def _call(self, send: Callable[[], T]) -> T:
        try:
            return send()
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url, self.timeout) from exc

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        answer = self._call(lambda: self._client.embeddings.create(model=model, input=texts, encoding_format="float"))
        vectors = sorted(answer.data, key=lambda d: d.index)
        if len(vectors) != len(texts):
            raise TransientModelError(f"{self.base_url}: asked for {len(texts)} embeddings, got {len(vectors)}")
        return [list(d.embedding) for d in vectors]

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.monotonic()
        kwargs = wire_params(request.params, self.base_url)
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        completion = self._call(
            lambda: self._client.chat.completions.create(
                model=request.model,
                messages=list(request.messages),  # type: ignore[arg-type]
                **kwargs,
            )
        )
        return reply_from(completion, request, int((time.monotonic() - started) * 1000))

    def close(self) -> None:
        self._client.close()
