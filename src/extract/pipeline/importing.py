"""`extract import`: observations made elsewhere, merged into the claims."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from extract.config import Pipeline
from extract.errors import InputError
from extract.models import Observation
from extract.pipeline.import_worker import PARALLEL_FROM_BYTES, prepared_batches
from extract.pipeline.merging import configured_merger
from extract.pipeline.storing import place_batch, write_batch
from extract.stages.importing import BATCH_LINES, ParsedImport, import_batches
from extract.stages.merge import Prepared, no_cyclic_gc
from extract.store import Database, open_database
from extract.store.claims import refresh_claims
from extract.store.documents import record_lookup
from extract.store.runs import finish_run, new_run_id, start_run


@dataclass
class ImportSummary:
    run_id: str
    db: str
    lines: int = 0
    observations: int = 0
    duplicates: int = 0
    claims: int = 0
    rejects: int = 0
    # Borderline pairs put to the pipeline's arbiters ([merge]), and how many they joined.
    borderline_asked: int = 0
    borderline_merged: int = 0
    # Pairs no arbiter could answer (left apart), and why the last one was not.
    borderline_unanswered: int = 0
    borderline_problem: str = ""
    # Why the first rejected line was (all of them: `extract export rejects`).
    first_reject: str = ""
    # Lines an export marked superseded by a newer run (`"current": false`): left out.
    superseded: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.rejects else 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


# Told after each batch is stored: bytes of the file read so far, its size, and the
# summary so far.
ImportProgress = Callable[[int, int, "ImportSummary"], None]


def import_observations(
    path: Path,
    db_path: Path,
    pipeline: Pipeline | None = None,
    progress: ImportProgress | None = None,
    *,
    parallel: bool | None = None,
    batch_lines: int = BATCH_LINES,
) -> ImportSummary:
    """`extract import`: bring in observations made elsewhere and merge them (with the
    pipeline's `[merge]` arbiters, if one is given). `parallel`: read and parse the
    file in a second process (None: when it is large, `PARALLEL_FROM_BYTES`); `batch_lines`:
    lines a batch."""
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    if not _has_a_line(path):
        raise InputError(f"nothing to import: {path} is empty")
    if _is_binary(path):
        raise InputError(f"not a JSONL file: {path} holds binary data (NUL bytes; UTF-16 text is not read either)")
    size = path.stat().st_size
    told = progress or (lambda done, total, summary: None)
    with open_database(db_path) as db:
        summary = ImportSummary(run_id=new_run_id(), db=str(db_path))
        start_run(db, summary.run_id, command="import", pipeline={"name": "import", "path": str(path)})
        keys, arxiv = record_lookup(db)
        touched: set[str] = set()
        # Batch by batch, so memory holds one batch of observations (and the merge's
        # claim signatures), however long the file. A batch is stored (on a second
        # connection, in a thread: DuckDB works without Python's lock) while the next
        # is read and placed; the writer is done before the connection closes.
        with (
            configured_merger(db, pipeline) as (merger, arbiters),
            no_cyclic_gc(),
            _cursor(db) as store,
            ThreadPoolExecutor(1) as writer,
        ):
            storing: Future[list[Observation]] | None = None
            previous = ParsedImport([], [], 0)
            for parsed, ready in _batches(path, summary.run_id, keys, arxiv, db, parallel, batch_lines):
                # The batch being stored may not be visible yet: its ids are not fresh.
                in_flight = {o.obs_id for o in previous.observations} if storing else set()
                placed = place_batch(
                    db, merger, summary.run_id, parsed.observations, parsed.rejects, in_flight=in_flight, ready=ready
                )
                if storing:
                    _count(summary, previous, storing.result(), touched)
                    told(previous.offset, size, summary)
                storing = writer.submit(write_batch, store, placed)
                previous = parsed
            if storing:
                _count(summary, previous, storing.result(), touched)
                told(previous.offset, size, summary)
            stats = arbiters.stats
            summary.borderline_asked, summary.borderline_merged = stats.asked, stats.merged
            summary.borderline_unanswered, summary.borderline_problem = stats.unanswered, stats.last_problem
        summary.claims = refresh_claims(db, touched, pipeline.report.spawn_after if pipeline else 3)
        finish_run(
            db,
            summary.run_id,
            status="done_with_rejects" if summary.rejects else "done",
            counts=summary.as_dict(),
            skipped=[],
        )
    return summary


def _batches(
    path: Path,
    run_id: str,
    keys: dict[str, str],
    arxiv: dict[str, str],
    db: Database,
    parallel: bool | None,
    size: int,
) -> Iterator[tuple[ParsedImport, Mapping[str, Prepared] | None]]:
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_FROM_BYTES
    if parallel:
        yield from prepared_batches(path, run_id, keys, arxiv, db, size)
    else:
        for batch in import_batches(path, run_id, keys, arxiv, size, db):
            yield batch, None


def _count(summary: ImportSummary, parsed: ParsedImport, saved: list[Observation], touched: set[str]) -> None:
    summary.lines += parsed.lines
    summary.observations += len(saved)
    summary.duplicates += len(parsed.observations) - len(saved)
    summary.rejects += len(parsed.rejects)
    summary.superseded += parsed.superseded
    if parsed.rejects and not summary.first_reject:
        summary.first_reject = parsed.rejects[0].detail
    touched.update(o.claim_id for o in saved)


@contextmanager
def _cursor(db: Database) -> Iterator[Database]:
    """A second connection to the same database, for another thread."""
    other = Database(path=db.path, con=db.con.cursor())
    try:
        yield other
    finally:
        other.close()


def _has_a_line(path: Path) -> bool:
    with path.open("rb") as handle:
        return any(line.strip() for line in handle)


def _is_binary(path: Path) -> bool:
    """NUL bytes near the start: an archive, an image, a database, UTF-16 text; not JSONL."""
    with path.open("rb") as handle:
        return b"\x00" in handle.read(8192)
