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
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from extract.config import ModelSettings
from extract.errors import (
    ConfigError,
    ContextExceeded,
    EndpointBusy,
    FormatRefused,
    ModelError,
    ModelTimeout,
    RequestRefused,
    TerminalModelError,
    TransientModelError,
)
from extract.models import ModelReply, ModelRequest
from extract.providers import STRUCTURED_MODES, Capabilities

if TYPE_CHECKING:
    import openai


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def endpoint_message(exc: openai.APIStatusError) -> str:
    """The first line of what the endpoint said, from its error body where it has one
    (`{"error": {"message": ...}}`, `{"error": "..."}`, `{"detail": ...}`), else the SDK's text."""
    body = exc.body
    message: object = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message", error.get("detail")) if isinstance(error, dict) else error
        if message is None:
            message = body.get("detail") or body.get("message")
    elif isinstance(body, str):
        message = body
    text = str(message if message is not None else exc.message).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.endswith(":") and len(lines) > 1:
        # A heading ("1 validation error:") says nothing without the line it heads.
        first = f"{first} {lines[1]}"
    return (first or f"HTTP {exc.status_code}")[:300]


# What an endpoint says when it refuses a structured-output format: llama-cpp-python
# ("Input should be 'text' or 'json_object'", HTTP 500), LM Studio ("'response_format.type'
# must be 'json_schema' or 'text'"), OpenAI ("'response_format' of type 'json_schema' is
# not supported with this model"), vLLM ("... not supported by xgrammar"), Ollama and
# others naming `response_format`, `json_schema`, `json_object` or a grammar backend.
_FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json_object|xgrammar|outlines|guided_json|guided decoding|grammar"
    r"|structured output|'text' or 'json",
    re.IGNORECASE,
)
_CONTEXT_WORDS = re.compile(
    r"context (?:size|length|window)|maximum context|exceeds? (?:the )?(?:available )?context|n_ctx"
    r"|context_length_exceeded|too many tokens|prompt is too long",
    re.IGNORECASE,
)
# llama-server answers every call in flight with this when the context its slots share
# fills up (a call alone that outgrows its window ends with finish_reason "length"):
# too many calls at once, not one call too long.
_POOL_FULL = re.compile(r"context size has been exceeded", re.IGNORECASE)
# A server whose request validation failed answers 500 on some stacks (llama-cpp-python).
_VALIDATION_WORDS = re.compile(
    r"validation error|input should be|field required|extra inputs are not permitted|unprocessable",
    re.IGNORECASE,
)
# Not served, or the request was understood and refused: resending it cannot help.
_REFUSED_STATUS = (400, 404, 405, 413, 415, 422)


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


def endpoint_url(settings: ModelSettings) -> str | None:
    """The base URL the SDK will use, as it spells it (the key of what an endpoint
    accepts), without needing a key; None when it cannot be told without one."""
    import openai  # here and below, not at the top: the SDK takes a while to load

    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL")
    try:
        with openai.OpenAI(api_key="-", base_url=base_url) as client:
            return str(client.base_url)
    except openai.OpenAIError:
        return None


def classify(exc: Exception, base_url: str, timeout: float | None = None) -> ModelError:
    """An SDK error as what happened, in one line: no connection at all (`reached` False),
    no answer in time, an answer that refuses the request (format, context window, shape:
    never retried), or a fault worth retrying (429, 5xx)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = endpoint_message(exc)
        message = f"the endpoint answered HTTP {status}: {detail}"
        if status in (401, 403):
            return TerminalModelError(message)
        if status >= 500 and _POOL_FULL.search(detail):
            return EndpointBusy(message, retry_after=_retry_after(exc))
        shape_refused = status in _REFUSED_STATUS or (status == 500 and _VALIDATION_WORDS.search(detail))
        if _CONTEXT_WORDS.search(detail) and status in (*_REFUSED_STATUS, 500):
            return ContextExceeded(message, status=status, detail=detail)
        if _FORMAT_WORDS.search(detail) and shape_refused:
            return FormatRefused(message, status=status, detail=detail)
        if shape_refused:
            return RequestRefused(message, status=status, detail=detail)
        if status >= 500 or status in (408, 409, 429):
            return TransientModelError(message, retry_after=_retry_after(exc))
        return TerminalModelError(message)
    if isinstance(exc, openai.APITimeoutError):
        within = f" within {timeout:g} s (model.timeout)" if timeout else ""
        return ModelTimeout(f"the endpoint at {base_url} did not answer{within}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
        return TransientModelError(f"no connection to {base_url}: {_one_line(cause)}", reached=False)
    if isinstance(exc, openai.APIResponseValidationError):
        return TransientModelError(f"malformed answer from {base_url}: {_one_line(exc)}")
    return TransientModelError(f"{type(exc).__name__} from {base_url}: {_one_line(exc)}")


CAPABILITIES = Capabilities(modes=STRUCTURED_MODES, batch=True, sampling=True, offline=False, claim_language=True)


def wire_params(params: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The request's parameters as this endpoint reads them. OpenAI's own API takes the
    completion budget as `max_completion_tokens` (and refuses `max_tokens` for some
    models); compatible servers (llama.cpp, llama-cpp-python, Ollama, LM Studio) read
    only `max_tokens` and ignore the other, so both are sent there."""
    out = dict(params)
    budget = out.get("max_completion_tokens")
    if budget is not None and urlsplit(base_url).hostname != "api.openai.com":
        out["max_tokens"] = budget
    return out


def reply_from(completion: Any, request: ModelRequest, latency_ms: int) -> ModelReply:
    """A chat completion as a `ModelReply` (the whole answer kept as JSON)."""
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


class OpenAIChat:
    capabilities = CAPABILITIES

    def __init__(self, settings: ModelSettings) -> None:
        import openai

        api_key, base_url = client_settings(settings)
        self.timeout = settings.timeout
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=settings.timeout, max_retries=0)
        self.base_url = str(self._client.base_url)
        self.endpoint = self.base_url

    async def complete(self, request: ModelRequest) -> ModelReply:
        started = time.monotonic()
        kwargs = wire_params(request.params, self.base_url)
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        import openai

        try:
            completion = await self._client.chat.completions.create(
                model=request.model,
                messages=list(request.messages),  # type: ignore[arg-type]
                **kwargs,
            )
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url, self.timeout) from exc
        return reply_from(completion, request, int((time.monotonic() - started) * 1000))

    async def close(self) -> None:
        await self._client.close()
