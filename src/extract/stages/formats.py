"""The one request builder: what a stage asks (`Ask`: a job's messages and the schema of
its answer) becomes the exact `ModelRequest` for a structured-output mode.

Modes (most to least constrained; `providers.STRUCTURED_MODES`): `json_schema` sends a
strict schema; `json_object_schema` sends `{"type": "json_object", "schema": ...}`,
which llama.cpp's and llama-cpp-python's servers enforce; `json_object` and `text`
carry the schema in the instructions (`text` sends no `response_format` at all and
the answer is read leniently); `none` is the offline baseline's. The same bytes come
out for the run, the plan and the cache, so a request's hash is its cache key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from extract.config import ModelSettings
from extract.models import ModelRequest
from extract.providers import Capabilities
from extract.stages.tokens import Tokenizer

SCHEMA_IN_INSTRUCTIONS = ("json_object", "text")


@dataclass(frozen=True)
class Ask:
    """What a stage wants from the model, before a mode and a budget make it a request."""

    job: str
    prompt_name: str
    prompt_hash: str
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]

    def followed_by(self, answer: str, complaint: str) -> Ask:
        """The same ask with the model's answer and a re-ask after it (a validation re-ask)."""
        return Ask(
            self.job,
            self.prompt_name,
            self.prompt_hash,
            (*self.messages, {"role": "assistant", "content": answer}, {"role": "user", "content": complaint}),
            self.schema,
        )


def response_format(job: str, schema: dict[str, Any], mode: str) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": job, "strict": True, "schema": schema}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def build_request(ask: Ask, model: str, mode: str, params: dict[str, Any]) -> ModelRequest:
    """The request as sent in `mode`; `params` are the sampling parameters (none offline)."""
    messages = [dict(m) for m in ask.messages]
    if mode in SCHEMA_IN_INSTRUCTIONS and messages:
        # Without an enforced schema the schema must travel in the instructions.
        messages[0]["content"] += "\n\nThe JSON schema of the answer:\n" + json.dumps(ask.schema)
    return ModelRequest(
        job=ask.job,
        model=model,
        prompt_name=ask.prompt_name,
        prompt_hash=ask.prompt_hash,
        messages=tuple(messages),
        response_format=response_format(ask.job, ask.schema, mode),
        params=dict(params),
        structured_output=mode,
    )


def request_for(
    ask: Ask, model: str, mode: str, settings: ModelSettings, capabilities: Capabilities, budget: int | None = None
) -> ModelRequest:
    """The request for `ask` in `mode` (a provider without sampling gets no parameters)."""
    params: dict[str, Any] = {}
    if capabilities.sampling:
        budget = settings.max_completion_tokens if budget is None else budget
        params = {"temperature": settings.temperature, "max_completion_tokens": budget}
    return build_request(ask, model, mode, params)


def prompt_tokens(tokenizer: Tokenizer, request: ModelRequest) -> int:
    """What the endpoint will count as prompt tokens, near enough to plan and pace by."""
    # Chat formatting costs a few tokens a message; a schema sent in the format is
    # given to the model as text and billed as prompt tokens.
    n = 3 + sum(4 + tokenizer.count(m["content"]) for m in request.messages)
    if request.response_format and request.structured_output in ("json_schema", "json_object_schema"):
        n += tokenizer.count(json.dumps(request.response_format))
    return n
