"""Chat completions through the real `openai` SDK against any compatible endpoint.

Transport faults (429, 5xx, timeouts, dropped connections) become
`TransientModelError` carrying the endpoint's Retry-After, if any; errors
retrying cannot fix (401, 403, 400, 404, 422) become `TerminalModelError`.
The SDK does not retry: the extract stage owns the retry policy, so that
retries are counted. The API key is read from the environment and is never
logged, stored or echoed in an error.
"""

from __future__ import annotations

import email.utils
import os
import time

import openai

from extract.config import ModelSettings
from extract.errors import ConfigError, TerminalModelError, TransientModelError
from extract.models import ModelReply, ModelRequest


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _retry_after(exc: Exception) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return max(0.0, float(value))
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError):
        return None
    return None


def client_settings(settings: ModelSettings) -> tuple[str, str | None]:
    """(API key, base URL) from the environment and the pipeline; the key is never echoed."""
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = os.environ.get(settings.api_key_env)
    if not api_key:
        if base_url is None:
            raise ConfigError(
                f"no API key: set {settings.api_key_env} (and OPENAI_BASE_URL for a non-OpenAI endpoint),"
                " or use --model heuristic"
            )
        # Local servers (vLLM, Ollama, llama.cpp) accept any key; the SDK insists on one.
        api_key = "no-key"
    return api_key, base_url


def classify(exc: Exception, base_url: str) -> TransientModelError | TerminalModelError:
    """An SDK error as a transient (retry) or terminal (stop) error with one line of text."""
    if isinstance(exc, openai.APIStatusError):
        message = f"HTTP {exc.status_code} from {base_url}: {_one_line(exc)}"
        if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
            return TransientModelError(message, retry_after=_retry_after(exc))
        return TerminalModelError(message)
    if isinstance(exc, openai.APIResponseValidationError):
        return TransientModelError(f"malformed answer from {base_url}: {_one_line(exc)}")
    return TransientModelError(f"{type(exc).__name__} from {base_url}: {_one_line(exc)}")


class OpenAIChat:
    def __init__(self, settings: ModelSettings) -> None:
        api_key, base_url = client_settings(settings)
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=settings.timeout, max_retries=0)
        self.base_url = str(self._client.base_url)

    async def complete(self, request: ModelRequest) -> ModelReply:
        started = time.monotonic()
        kwargs = dict(request.params)
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        try:
            completion = await self._client.chat.completions.create(
                model=request.model,
                messages=list(request.messages),  # type: ignore[arg-type]
                **kwargs,
            )
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url) from exc
        latency_ms = int((time.monotonic() - started) * 1000)
        choice = completion.choices[0] if completion.choices else None
        usage = completion.usage
        return ModelReply(
            raw_text=(choice.message.content or "") if choice else "",
            endpoint_model=completion.model or request.model,
            finish_reason=str(choice.finish_reason) if choice else "no_choices",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency_ms,
            raw_json=completion.model_dump_json(),
        )

    async def close(self) -> None:
        await self._client.close()
