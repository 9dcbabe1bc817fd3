"""Blocking calls through the real `openai` SDK for the merge stage: embeddings, and a
short chat completion to judge a borderline pair. The merge places observations one
at a time, so these calls are few and synchronous. A fault is classified once, as
`TransientModelError` (429, 5xx, timeouts; the caller retries them with the project's
transport policy, `stages.retry`) or `TerminalModelError` (401 and the like)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import openai

from extract.config import ModelSettings
from extract.errors import TransientModelError
from extract.providers.openai_chat import classify, client_settings

T = TypeVar("T")


class OpenAISync:
    def __init__(self, settings: ModelSettings, base_url: str | None = None) -> None:
        if base_url is not None:
            settings = settings.model_copy(update={"base_url": base_url})
        api_key, url = client_settings(settings)
        self._client = openai.OpenAI(api_key=api_key, base_url=url, timeout=settings.timeout, max_retries=0)
        self.base_url = str(self._client.base_url)
        self.retries = settings.max_retries

    def _call(self, send: Callable[[], T]) -> T:
        try:
            return send()
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url) from exc

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        answer = self._call(lambda: self._client.embeddings.create(model=model, input=texts, encoding_format="float"))
        vectors = sorted(answer.data, key=lambda d: d.index)
        if len(vectors) != len(texts):
            raise TransientModelError(f"{self.base_url}: asked for {len(texts)} embeddings, got {len(vectors)}")
        return [list(d.embedding) for d in vectors]

    def complete(self, model: str, messages: list[dict[str, str]], response_format: dict[str, Any]) -> str:
        options: dict[str, Any] = {"response_format": response_format, "temperature": 0.0}
        answer = self._call(
            lambda: self._client.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                **options,
            )
        )
        choice = answer.choices[0] if answer.choices else None
        return (choice.message.content or "") if choice else ""

    def close(self) -> None:
        self._client.close()
