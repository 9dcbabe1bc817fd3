"""Model providers: an OpenAI-compatible endpoint, or the offline heuristic baseline.

Both take a `ModelRequest` and return a `ModelReply` with the raw text; neither
parses or validates (that is the validate stage's job).
"""

from __future__ import annotations

from typing import Protocol

from extract.models import ModelReply, ModelRequest


class Provider(Protocol):
    async def complete(self, request: ModelRequest) -> ModelReply: ...

    async def close(self) -> None: ...
