"""Batch mode: requests a run defers go out as OpenAI Batch JSONL files, and the
answers of finished batches come back into the same response cache.

A request's `custom_id` is its request hash, the cache key, so a batch answer
and a realtime answer to the same request are interchangeable. Files respect the
Batch API limits (50,000 requests and 200 MB each): larger runs are split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from extract.providers.openai_batch import OpenAIBatches, parse_output
from extract.store import Database
from extract.store.batches import (
    PendingRequest,
    open_batches,
    pending_request_hashes,
    save_batch,
    save_batch_replies,
    update_batch,
)

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
STILL_RUNNING = ("validating", "in_progress", "finalizing", "cancelling")


def batch_files(
    pending: list[PendingRequest], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> list[tuple[bytes, list[PendingRequest]]]:
    """Batch JSONL files within the limits, each with the requests it holds."""
    files: list[tuple[bytes, list[PendingRequest]]] = []
    lines: list[bytes] = []
    held: list[PendingRequest] = []
    size = 0
    for p in pending:
        line = (
            json.dumps(
                {
                    "custom_id": p.request.request_hash(),
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": p.request.body(),
                },
                ensure_ascii=False,
            )
            + "\n"
        ).encode("utf-8")
        if held and (len(held) >= max_requests or size + len(line) > max_bytes):
            files.append((b"".join(lines), held))
            lines, held, size = [], [], 0
        lines.append(line)
        held.append(p)
        size += len(line)
    if held:
        files.append((b"".join(lines), held))
    return files


def submit(db: Database, client: OpenAIBatches, run_id: str, deferred: list[PendingRequest]) -> tuple[int, int]:
    """Send what is not already waiting in an open batch; (batches, requests) sent."""
    waiting = pending_request_hashes(db)
    unique = {p.request.request_hash(): p for p in deferred if p.request.request_hash() not in waiting}
    files = batch_files(list(unique.values()))
    for content, held in files:
        batch_id, file_id, status = client.submit(content)
        save_batch(
            db, batch_id, run_id=run_id, endpoint=client.base_url, input_file_id=file_id, status=status, requests=held
        )
    return len(files), len(unique)


@dataclass
class Collected:
    answers: int = 0
    failed_lines: int = 0
    still_running: int = 0
    messages: list[str] = field(default_factory=list)


def collect(db: Database, client: OpenAIBatches) -> Collected:
    """Bring the answers of finished batches into the response cache."""
    result = Collected()
    for batch in open_batches(db):
        state = client.state(batch["batch_id"])
        if state.status in STILL_RUNNING:
            result.still_running += 1
            update_batch(db, state.batch_id, status=state.status, completed=state.completed, failed=state.failed)
            continue
        if state.status != "completed":
            update_batch(db, state.batch_id, status=state.status, error=state.errors)
            result.messages.append(
                f"batch {state.batch_id} {state.status}{': ' + state.errors if state.errors else ''};"
                f" its {batch['n_requests']} request(s) are sent again on the next run"
            )
            continue
        replies, failed = parse_output(client.content(state.output_file_id)) if state.output_file_id else ({}, 0)
        if state.error_file_id:
            failed += parse_output(client.content(state.error_file_id))[1]
        result.answers += save_batch_replies(db, state.batch_id, batch["run_id"], replies)
        result.failed_lines += failed
        update_batch(db, state.batch_id, status="collected", completed=len(replies), failed=failed)
        if failed:
            result.messages.append(
                f"batch {state.batch_id}: {failed} request(s) failed; they are sent again on the next run"
            )
    return result
