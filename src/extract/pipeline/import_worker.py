"""Reading a large import in a second process: each batch of lines is parsed and its
observations' merge signatures and first claim ids worked out there
(`stages.merge.prepared`), while this process places the batch
before it in claims and a thread writes the one before that. What needs the database
(`settle`: ids that stand for stored observations) stays here."""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from extract.stages.importing import (
    BATCH_LINES,
    Content,
    LineContext,
    ParsedImport,
    line_context,
    parse_lines,
    read_lines,
    settle,
)
from extract.stages.merge import Prepared, prepared
from extract.store import Database

# Batches parsed ahead of the one being placed: one keeps the worker busy, and each
# batch held costs memory.
AHEAD = 1
# A file this large is read in a second process: below it, starting one costs more
# than it saves.
PARALLEL_FROM_BYTES = 32 * 1024 * 1024

_log = logging.getLogger(__name__)

# What the worker process was started with.
_WORKER: dict[str, LineContext] = {}


def _start(context: LineContext) -> None:
    _WORKER["context"] = context


def _parse_and_sign(lines: list[tuple[int, bytes]], offset: int) -> Parsed:
    return _parsed(lines, offset, _WORKER["context"])


def prepared_batches(
    path: Path,
    run_id: str,
    keys: dict[str, str],
    arxiv: dict[str, str],
    db: Database,
    size: int = BATCH_LINES,
) -> Iterator[tuple[ParsedImport, dict[str, Prepared]]]:
    """`stages.importing.import_batches`, each batch with what placing its observations
    needs (`stages.merge.prepared`) by id, parsed in a second process up to `AHEAD`
    batches ahead. Should that process fail to start or die (a script without a
    `__main__` guard, memory), the batches are parsed here instead: the same result,
    more slowly."""
    context = line_context(path, run_id, keys, arxiv, db)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB's threads
    earlier: dict[str, tuple[Content, int]] = {}
    with ProcessPoolExecutor(1, mp_context=spawn, initializer=_start, initargs=(context,)) as worker:
        pending: deque[tuple[Future[Parsed] | None, list[tuple[int, bytes]], int]] = deque()
        broken = False
        for lines, offset in read_lines(path, size):
            future = None
            if not broken:
                try:
                    future = worker.submit(_parse_and_sign, lines, offset)
                except BrokenProcessPool:
                    broken = _gone()
            pending.append((future, lines, offset))
            if len(pending) > AHEAD:
                done, broken = _result(pending.popleft(), context, broken)
                yield _settled(done, earlier, db, context)
        while pending:
            done, broken = _result(pending.popleft(), context, broken)
            yield _settled(done, earlier, db, context)


# A batch parsed, and what placing each of its observations needs, in their order.
Parsed = tuple[ParsedImport, list[Prepared]]


def _parsed(lines: list[tuple[int, bytes]], offset: int, context: LineContext) -> Parsed:
    batch = parse_lines(lines, context)
    batch.offset = offset
    return batch, [prepared(o) for o in batch.observations]


def _gone() -> bool:
    _log.warning("the process reading the import stopped; the rest of the file is read here")
    return True


def _result(
    job: tuple[Future[Parsed] | None, list[tuple[int, bytes]], int], context: LineContext, broken: bool
) -> tuple[Parsed, bool]:
    """The worker's answer for a batch, or the batch parsed here when the worker is gone."""
    future, lines, offset = job
    if future is not None and not broken:
        try:
            return future.result(), False
        except BrokenProcessPool:
            broken = _gone()
    return _parsed(lines, offset, context), True


def _settled(
    done: Parsed, earlier: dict[str, tuple[Content, int]], db: Database, context: LineContext
) -> tuple[ParsedImport, dict[str, Prepared]]:
    """Settle the batch's ids, then what placing needs by id for the observations kept:
    a line that reused an id for other content is a reject, and what it would need
    must not stand for the line kept under that id."""
    batch, ready = done
    parsed = batch.observations
    settle(batch, earlier, db, context)
    earlier.clear()
    earlier.update(batch.settled)
    kept = {id(o) for o in batch.observations} if len(batch.observations) < len(parsed) else None
    return batch, {o.obs_id: r for o, r in zip(parsed, ready, strict=True) if kept is None or id(o) in kept}
