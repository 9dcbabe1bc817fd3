"""The OpenAI Batch API: upload a JSONL file of requests, create a batch, poll it,
download its results. Answers arrive as chat-completion bodies, turned here into
the same `ModelReply` a realtime call gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import openai

from extract.config import ModelSettings
from extract.models import ModelReply
from extract.providers.openai_chat import classify, client_settings


@dataclass(frozen=True)
class BatchState:
    batch_id: str
    status: str  # validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled
    output_file_id: str | None
    error_file_id: str | None
    completed: int
    failed: int
    errors: str | None


class OpenAIBatches:
    def __init__(self, settings: ModelSettings) -> None:
        api_key, base_url = client_settings(settings)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=settings.timeout, max_retries=3)
        self.base_url = str(self._client.base_url)

    def submit(self, jsonl: bytes) -> tuple[str, str, str]:
        """Upload and start one batch; (batch id, input file id, status)."""
        try:
            uploaded = self._client.files.create(file=("requests.jsonl", jsonl), purpose="batch")
            batch = self._client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url) from exc
        return batch.id, uploaded.id, batch.status

    def state(self, batch_id: str) -> BatchState:
        try:
            batch = self._client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url) from exc
        counts = batch.request_counts
        errors = None
        if batch.errors and batch.errors.data:
            errors = "; ".join(f"{e.code}: {e.message}" for e in batch.errors.data[:3])
        return BatchState(
            batch_id=batch.id,
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            completed=counts.completed if counts else 0,
            failed=counts.failed if counts else 0,
            errors=errors,
        )

    def content(self, file_id: str) -> str:
        try:
            return self._client.files.content(file_id).text
        except openai.OpenAIError as exc:
            raise classify(exc, self.base_url) from exc


def parse_output(text: str) -> tuple[dict[str, ModelReply], int]:
    """Replies by custom id (the request hash) from a batch output file, and the
    number of lines that carry no usable answer."""
    replies: dict[str, ModelReply] = {}
    failed = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        response = item.get("response") or {}
        body = response.get("body") or {}
        choices = body.get("choices") or []
        if item.get("error") or response.get("status_code") != 200 or not choices:
            failed += 1
            continue
        usage = body.get("usage") or {}
        replies[str(item["custom_id"])] = ModelReply(
            raw_text=(choices[0].get("message") or {}).get("content") or "",
            endpoint_model=body.get("model") or "",
            finish_reason=choices[0].get("finish_reason") or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_ms=0,
            raw_json=json.dumps(body, ensure_ascii=False),
        )
    return replies, failed
