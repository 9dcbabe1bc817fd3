"""Model providers: an OpenAI-compatible endpoint, or the offline heuristic baseline.

Both take a `ModelRequest` and return a `ModelReply` with the raw text; neither
parses or validates (that is the validate stage's job). What a provider can do
is asked of it (`capabilities`), never decided by comparing model names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from extract.models import ModelReply, ModelRequest

# Structured-output modes, most to least constrained:
#   json_schema         response_format json_schema, strict (OpenAI, vLLM, LM Studio, ...)
#   json_object_schema  response_format json_object with the schema in a `schema` field
#                       (llama.cpp's and llama-cpp-python's servers constrain output to it)
#   json_object         response_format json_object; the schema travels in the instructions
#   text                no response_format; the schema in the instructions, the answer read leniently
#   none                the offline baseline: no format and no sampling parameters
STRUCTURED_MODES = ("json_schema", "json_object_schema", "json_object", "text")


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do; the stages ask this instead of looking at the model's name."""

    modes: tuple[str, ...]  # structured-output modes to try, in order ("auto" walks them)
    batch: bool  # an OpenAI-style Batch API
    sampling: bool  # temperature and a completion budget are sent
    offline: bool  # no network, no cost, no key: the heuristic baseline
    claim_language: bool  # writes claims in the configured language (else copies the source's)


class Provider(Protocol):
    capabilities: Capabilities
    endpoint: str  # the base URL (or "offline"): with the model, the key of what it accepts

    async def complete(self, request: ModelRequest) -> ModelReply: ...

    async def close(self) -> None: ...
