"""The `responses` table: every raw model answer, stored before it is parsed.

It doubles as the response cache: a request whose hash is here is never sent again,
unless a run asks for fresh answers (`run --fresh`); a request's answers are then
numbered 0, 1, ... and the cache replays the newest.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from extract.models import ModelReply, ModelRequest
from extract.store.db import Database, insert_rows, now

if TYPE_CHECKING:
    import duckdb


def known_request_hashes(db: Database) -> set[str]:
    return {row[0] for row in db.con.execute("SELECT request_hash FROM responses").fetchall()}


# A reply read back from the cache, without the endpoint's whole answer (`raw_json`):
# that stays in `responses`, and nothing reads it again (a re-run of 10,000 chunks would
# hold some 30 MB more for nothing).
_REPLY_COLUMNS = "raw_text, endpoint_model, finish_reason, prompt_tokens, completion_tokens, latency_ms, answer_no"


def _reply(row: tuple[Any, ...]) -> ModelReply:
    return ModelReply(
        raw_text=row[0],
        endpoint_model=row[1],
        finish_reason=row[2] or "",
        prompt_tokens=row[3],
        completion_tokens=row[4],
        latency_ms=row[5],
        answer_no=row[6],
    )


def cached_reply(db: Database, request_hash: str) -> ModelReply | None:
    """The newest answer to one request, or None."""
    row = db.con.execute(
        f"SELECT {_REPLY_COLUMNS} FROM responses WHERE request_hash = ? ORDER BY answer_no DESC LIMIT 1",
        [request_hash],
    ).fetchone()
    return None if row is None else _reply(row)


def cached_replies(con: duckdb.DuckDBPyConnection, request_hashes: list[str]) -> dict[str, ModelReply]:
    """The newest answer to each of these requests that has one, by request hash, in one
    query (a query per request costs a scan of the table each)."""
    if not request_hashes:
        return {}
    rows = con.execute(
        f"SELECT request_hash, {_REPLY_COLUMNS} FROM responses"
        " SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS request_hash) USING (request_hash)"
        " QUALIFY row_number() OVER (PARTITION BY request_hash ORDER BY answer_no DESC) = 1",
        [request_hashes],
    ).fetchall()
    return {row[0]: _reply(row[1:]) for row in rows}


def replies_for_chunks(
    con: duckdb.DuckDBPyConnection, chunk_ids: list[str], model: str, prompt_hash: str
) -> dict[str, ModelReply]:
    """The newest answer to each request asked for these chunks with this model and
    prompt, by request hash, in one query: what a re-run of them replays."""
    if not chunk_ids:
        return {}
    rows = con.execute(
        f"SELECT request_hash, {_REPLY_COLUMNS} FROM responses"
        " SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS chunk_id) USING (chunk_id)"
        " WHERE model = ? AND prompt_hash = ?"
        " QUALIFY row_number() OVER (PARTITION BY request_hash ORDER BY answer_no DESC) = 1",
        [chunk_ids, model, prompt_hash],
    ).fetchall()
    return {row[0]: _reply(row[1:]) for row in rows}


def next_answer_no(db: Database, request_hash: str) -> int:
    """The number a new answer to this request gets (0 if it has none yet)."""
    row = db.con.execute("SELECT max(answer_no) FROM responses WHERE request_hash = ?", [request_hash]).fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


RESPONSE_COLUMNS = (
    "request_hash",
    "answer_no",
    "run_id",
    "job",
    "model",
    "endpoint_model",
    "prompt_name",
    "prompt_hash",
    "chunk_id",
    "attempt",
    "request_json",
    "raw_text",
    "raw_json",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "created_at",
    "structured_output",
)


def response_row(
    request_hash: str,
    run_id: str,
    job: str,
    model: str,
    prompt_name: str,
    prompt_hash: str,
    chunk_id: str | None,
    attempt: int,
    request_json: str,
    reply: ModelReply,
    structured_output: str | None = None,
) -> list[Any]:
    """A `responses` row in RESPONSE_COLUMNS order."""
    return [
        request_hash, reply.answer_no, run_id, job, model, reply.endpoint_model, prompt_name, prompt_hash, chunk_id,
        attempt, request_json, reply.raw_text, reply.raw_json, reply.finish_reason, reply.prompt_tokens,
        reply.completion_tokens, reply.latency_ms, now(), structured_output or None,
    ]  # fmt: skip


def _row(request: ModelRequest, reply: ModelReply, run_id: str, chunk_id: str | None, attempt: int) -> list[Any]:
    request_json = json.dumps(request.body(), ensure_ascii=False)
    return response_row(
        request.request_hash(),
        run_id,
        request.job,
        request.model,
        request.prompt_name,
        request.prompt_hash,
        chunk_id,
        attempt,
        request_json,
        reply,
        request.structured_output,
    )


def save_reply(
    db: Database, request: ModelRequest, reply: ModelReply, *, run_id: str, chunk_id: str | None, attempt: int
) -> None:
    """Store one answer now (the blocking calls of the merge's judge)."""
    insert_rows(
        db.con,
        "responses",
        RESPONSE_COLUMNS,
        [_row(request, reply, run_id, chunk_id, attempt)],
        " ON CONFLICT DO NOTHING",
    )


class ReplyWriter:
    """Group commit for answers arriving together from concurrent calls.

    `await writer.save(...)` returns once the answer is committed, so a caller
    still parses only what is stored; answers that arrive within a couple of
    milliseconds share one transaction instead of paying a commit each. The
    commit runs on a worker thread with its own cursor, so the event loop keeps
    serving other calls meanwhile.
    """

    def __init__(self, db: Database, window: float = 0.002) -> None:
        self.db = db
        self.window = window
        self._cursor = db.con.cursor()
        self._pending: list[tuple[list[Any], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0

    async def save(
        self, request: ModelRequest, reply: ModelReply, *, run_id: str, chunk_id: str | None, attempt: int
    ) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((_row(request, reply, run_id, chunk_id, attempt), done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit())
        await asyncio.shield(done)

    def drain(self) -> None:
        """Store what is still waiting, now (a run stopped by a signal: asyncio cancels the
        committer, but an answer that has arrived is paid for and must not be lost)."""
        batch, self._pending = self._pending, []
        if batch:
            cursor = self.db.con.cursor()  # the committer's may be busy on its worker thread
            try:
                insert_rows(cursor, "responses", RESPONSE_COLUMNS, [row for row, _ in batch], " ON CONFLICT DO NOTHING")
            finally:
                cursor.close()
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _commit(self) -> None:
        try:
            await asyncio.sleep(self.window)
        except asyncio.CancelledError:
            self.drain()
            raise
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(
                    insert_rows,
                    self._cursor,
                    "responses",
                    RESPONSE_COLUMNS,
                    [row for row, _ in batch],
                    " ON CONFLICT DO NOTHING",
                )
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.commits += 1
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


class ReplyReader:
    """Cache look-ups, a query for many.

    A run's answers stored before it began are read in one query (`preload`: those asked
    for its chunks with its model and prompt). Other look-ups asked together share one
    query: `await reader.get(h)` waits for the look-ups the other tasks ready to run make
    too, then one query answers them all, on a worker thread with its own cursor, so the
    event loop keeps serving calls in flight meanwhile.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cursor = db.con.cursor()
        self._preloaded: dict[str, ModelReply] = {}
        self._pending: dict[str, list[asyncio.Future[ModelReply | None]]] = {}
        self._fetcher: asyncio.Task[None] | None = None
        self.queries = 0

    def preload(self, chunk_ids: list[str], model: str, prompt_hash: str) -> None:
        """Read the newest answers to requests asked for these chunks with this model and
        prompt now. Only for answers stored before the run: an answer stored later (`run
        --fresh`) would be newer than the one preloaded."""
        self._preloaded.update(replies_for_chunks(self._cursor, chunk_ids, model, prompt_hash))
        self.queries += 1

    async def get(self, request_hash: str) -> ModelReply | None:
        """The newest stored answer to this request, or None."""
        preloaded = self._preloaded.get(request_hash)
        if preloaded is not None:
            return preloaded
        found: asyncio.Future[ModelReply | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(request_hash, []).append(found)
        if self._fetcher is None or self._fetcher.done():
            self._fetcher = asyncio.create_task(self._fetch())
        return await asyncio.shield(found)

    async def _fetch(self) -> None:
        await asyncio.sleep(0)  # every task ready to run now asks first
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                replies = await asyncio.to_thread(cached_replies, self._cursor, list(batch))
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for waiting in batch.values():
                    for future in waiting:
                        if not future.done():
                            future.set_exception(exc)
                continue
            self.queries += 1
            for request_hash, waiting in batch.items():
                for future in waiting:
                    if not future.done():
                        future.set_result(replies.get(request_hash))

    def close(self) -> None:
        self._cursor.close()


def completion_history(db: Database, model: str) -> float | None:
    """Mean completion tokens of this model's stored answers, once there are enough to trust."""
    row = db.con.execute(
        "SELECT count(*), avg(completion_tokens) FROM responses WHERE model = ? AND job = 'ref_triage'", [model]
    ).fetchone()
    if row is None or row[0] < 5:
        return None
    return float(row[1])
