"""The work of a run, and what a plan predicts of it: the inputs read and cut into chunks,
narrowed to a topic (`--topic`), cut short (`--limit`). `run` and `plan` both select
their work here, so a plan counts what the run would do."""

from __future__ import annotations

from pathlib import Path

from extract.config import Pipeline
from extract.models import Chunk, Document, Record
from extract.pipeline.common import InputCounts, Prepared, Progress, RunOptions, read_input
from extract.stages.chunk import Tokenizer, chunk_document
from extract.stages.topics import assign_topic
from extract.store import Database
from extract.store.documents import citation_keys, save_chunks, save_document, save_records, topic_records

# A chunk to extract, with the record and the document it is cut from.
Work = list[tuple[Chunk, Record, Document]]


def select_work(
    db: Database | None,
    pipeline: Pipeline,
    options: RunOptions,
    prepared: Prepared,
    summary: InputCounts,
    progress: Progress,
    *,
    run_id: str | None,
) -> Work:
    """The chunks a run works on, in order; `summary` counts the documents and records
    read (the topic's, with `--topic`) and the chunks worked on (a run's summary counts
    them again as it goes, split halves too). With a run id, documents, records and
    chunks are stored, all of them whatever the limit."""
    work = ingest_and_chunk(db, pipeline, prepared.files, summary, prepared.tokenizer, progress, run_id=run_id)
    if options.topic is not None:
        work = topic_work(db, pipeline, options.topic, work)
        count_work(summary, work)
    if options.limit is not None:
        work = work[: options.limit]
        summary.chunks = len(work)
    return work


def ingest_and_chunk(
    db: Database | None,
    pipeline: Pipeline,
    files: list[Path],
    summary: InputCounts,
    tokenizer: Tokenizer,
    progress: Progress,
    *,
    run_id: str | None,
) -> Work:
    """Read and cut every input; with a run id, store documents, records and chunks."""
    existing = citation_keys(db) if db is not None else {}
    taken = set(existing.values())
    ranks: dict[str, int] = {}
    work: Work = []
    for path in files:
        ingested = read_input(
            path, pipeline, progress, summary.skipped, existing_keys=existing, taken_keys=taken, key_ranks=ranks
        )
        if ingested is None:
            continue
        doc = ingested.document
        if db is not None and run_id is not None:
            save_document(db, doc, run_id)
            save_records(db, ingested.records)
        summary.documents += 1
        summary.records += len(ingested.records)
        doc_chunks: list[Chunk] = []
        cut = chunk_document(
            doc.text, ingested.records, tokenizer, pipeline.chunking.max_tokens, pipeline.chunking.overlap_tokens
        )
        for record, chunks in zip(ingested.records, cut, strict=True):
            doc_chunks.extend(chunks)
            work.extend((c, record, doc) for c in chunks)
        if db is not None and run_id is not None:
            save_chunks(db, doc_chunks, tokenizer.name)
    summary.chunks = len(work)
    return work


def topic_work(db: Database | None, pipeline: Pipeline, slug: str, work: Work) -> Work:
    """The chunks of a topic's records: those its claims came from (none without a
    database), and those its filters match."""
    topic = next(t for t in pipeline.topics if t.slug == slug)
    known = {r[0] for r in topic_records(db, slug)} if db is not None else set()

    def matches(record: Record, doc: Document) -> bool:
        text = doc.text[record.char_start : record.char_end]
        return assign_topic([topic], None, text, (), record.title, doc.path) == slug

    chosen = {r.record_id for _, r, d in work if r.record_id in known or matches(r, d)}
    return [item for item in work if item[1].record_id in chosen]


def count_work(summary: InputCounts, work: Work) -> None:
    """The documents, records and chunks a narrowed run (`--topic`) works on, not the whole input's."""
    summary.documents = len({doc.sha256 for _, _, doc in work})
    summary.records = len({record.record_id for _, record, _ in work})
    summary.chunks = len(work)
