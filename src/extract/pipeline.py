"""Running a pipeline: ingest, chunk, extract, validate, merge, with one run row.

This is the one place that knows the order of the stages. The CLI calls
`run_pipeline`; progress and notices go through a `Progress` the caller gives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from extract.config import HEURISTIC, Pipeline
from extract.errors import ConfigError, InputError, SkippedInput, TerminalModelError
from extract.models import Chunk, Document, Record
from extract.prompting import load_prompt
from extract.providers import Provider
from extract.providers.heuristic import Heuristic
from extract.providers.openai_batch import OpenAIBatches
from extract.providers.openai_chat import OpenAIChat
from extract.stages.batch import Collected
from extract.stages.batch import collect as collect_batches
from extract.stages.batch import submit as submit_batches
from extract.stages.chunk import OFFLINE_ENCODING, Tokenizer, chunk_record, load_tokenizer
from extract.stages.extract import ExtractJob, TriageRequests
from extract.stages.importing import parse_import
from extract.stages.ingest import ingest_file
from extract.stages.merge import Merger
from extract.stages.report import ReportJob
from extract.stages.topics import assign_topic
from extract.store import Database, open_database
from extract.store.batches import list_batches, open_batches, update_batch
from extract.store.claims import refresh_claims, topics_overview
from extract.store.documents import (
    citation_keys,
    record_lookup,
    save_chunks,
    save_document,
    save_records,
    topic_records,
)
from extract.store.observations import save_observations, unsaved_observations
from extract.store.rejects import save_rejects
from extract.store.responses import cached_reply, completion_history
from extract.store.runs import finish_run, mark_interrupted, new_run_id, start_run

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".jsonl")
DEFAULT_DB = Path("claims.duckdb")


class Progress(Protocol):
    def notice(self, message: str) -> None: ...

    def start(self, total: int) -> None: ...

    def advance(self, stats: dict[str, float | None]) -> None: ...


class SilentProgress:
    def notice(self, message: str) -> None:
        return None

    def start(self, total: int) -> None:
        return None

    def advance(self, stats: dict[str, float | None]) -> None:
        return None


@dataclass
class RunOptions:
    inputs: list[Path] = field(default_factory=list)
    model: str | None = None
    limit: int | None = None
    db: Path | None = None
    batch: bool = False
    topic: str | None = None


@dataclass
class InputCounts:
    """What ingest and chunk found; shared by a run's and a plan's summary."""

    model: str
    db: str
    documents: int = 0
    records: int = 0
    chunks: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PlanSummary(InputCounts):
    calls: int = 0
    report_calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens_estimate: int = 0
    cost_usd_estimate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunSummary(InputCounts):
    run_id: str = ""
    status: str = "running"
    calls: int = 0
    cached: int = 0
    reasks: int = 0
    retries: int = 0
    splits: int = 0
    deferred: int = 0
    outside_topic: int = 0
    report_statements: int = 0
    batches_submitted: int = 0
    batch_answers: int = 0
    failed: int = 0
    observations: int = 0
    claims: int = 0
    rejects: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None

    @property
    def exit_code(self) -> int:
        return 1 if (self.rejects or self.failed or self.skipped) else 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


def database_path(pipeline: Pipeline | None, override: Path | None) -> Path:
    if override is not None:
        return override
    if pipeline is not None and pipeline.db is not None:
        return pipeline.db
    return DEFAULT_DB


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files, directories (recursively, supported types only) and glob patterns."""
    found: list[Path] = []
    for p in paths:
        if any(ch in str(p) for ch in "*?["):
            anchor = Path(p.anchor) if p.is_absolute() else Path()
            pattern = str(p.relative_to(anchor)) if p.is_absolute() else str(p)
            matches = sorted(q for q in anchor.glob(pattern) if q.is_file())
            if not matches:
                raise InputError(f"no input matches {p}")
            found.extend(matches)
        elif p.is_dir():
            found.extend(
                sorted(
                    q
                    for q in p.rglob("*")
                    if q.is_file()
                    and q.suffix.lower() in SUPPORTED
                    and not any(part.startswith(".") for part in q.relative_to(p).parts)
                )
            )
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(f"input not found: {p}")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError("no input files: pass --input PATH or set inputs in the pipeline")
    return unique


def _make_provider(pipeline: Pipeline, model: str) -> Provider:
    if model == HEURISTIC:
        return Heuristic(
            pipeline.domains, pipeline.topics, pipeline.extract.max_claims_per_chunk, pipeline.report.max_positions
        )
    return OpenAIChat(pipeline.model)


@contextlib.contextmanager
def _run_row(
    db: Database, summary: RunSummary, pipeline: Pipeline, prompts: dict[str, str], topic: str | None
) -> Iterator[None]:
    start_run(
        db,
        summary.run_id,
        command="run" if topic is None else f"run --topic {topic}",
        pipeline={
            "name": pipeline.name,
            "path": str(pipeline.path) if pipeline.path else None,
            "hash": pipeline.config_hash(),
            "config": pipeline.model_dump(mode="json"),
            "model": summary.model,
            "prompts": prompts,
        },
    )
    try:
        yield
    except TerminalModelError as exc:
        summary.status = "failed"
        finish_run(
            db, summary.run_id, status="failed", counts=summary.as_dict(), skipped=summary.skipped, error=str(exc)
        )
        raise
    except (KeyboardInterrupt, asyncio.CancelledError):
        summary.status = "interrupted"
        finish_run(db, summary.run_id, status="interrupted", counts=summary.as_dict(), skipped=summary.skipped)
        raise
    summary.status = _status(summary)
    finish_run(db, summary.run_id, status=summary.status, counts=summary.as_dict(), skipped=summary.skipped)


def _status(s: RunSummary) -> str:
    if s.rejects or s.failed:
        return "done_with_rejects"
    if s.skipped:
        return "done_with_skips"
    return "batch_pending" if s.deferred else "done"


def run_pipeline(pipeline: Pipeline, options: RunOptions, progress: Progress | None = None) -> RunSummary:
    """Run every stage over the inputs; the run row records the outcome whatever happens."""
    progress = progress or SilentProgress()
    model = options.model or pipeline.model.name
    if options.batch and model == HEURISTIC:
        raise ConfigError("--batch needs a real endpoint; the heuristic model answers at once anyway")
    if options.topic is not None and options.topic not in pipeline.topic_slugs():
        declared = ", ".join(pipeline.topic_slugs()) or "none"
        raise ConfigError(f"unknown topic {options.topic!r} (declared: {declared})")
    files = expand_inputs(options.inputs or pipeline.inputs)
    prompt = load_prompt(pipeline.prompts, "ref_triage")
    provider = _make_provider(pipeline, model)
    configured = pipeline.chunking.encoding or (OFFLINE_ENCODING if model == HEURISTIC else None)
    tokenizer, notice = load_tokenizer(model, configured)
    if notice:
        progress.notice(notice)
    db_path = database_path(pipeline, options.db)
    with open_database(db_path) as db:
        stale = mark_interrupted(db)
        if stale:
            progress.notice(f"{stale} earlier run(s) left unfinished are marked interrupted")
        summary = RunSummary(run_id=new_run_id(), model=model, db=str(db_path))
        with _run_row(db, summary, pipeline, {prompt.name: prompt.content_hash}, options.topic):
            if model != HEURISTIC and open_batches(db):
                summary.batch_answers = _collect(db, pipeline, progress).answers
            work = _ingest_and_chunk(db, pipeline, files, summary, tokenizer, progress, run_id=summary.run_id)
            if options.topic is not None:
                work = _topic_work(db, pipeline, options.topic, work)
            if options.limit is not None:
                work = work[: options.limit]
            keys, arxiv = record_lookup(db)
            job = ExtractJob(
                db=db,
                run_id=summary.run_id,
                pipeline=pipeline,
                provider=provider,
                requests=TriageRequests(pipeline, model, prompt),
                citation_keys=keys,
                arxiv_records=arxiv,
                tokenizer=tokenizer,
                merger=Merger(db),
                batch_mode=options.batch,
                only_topic=options.topic,
            )
            progress.start(len(work))
            reports = None
            if pipeline.topics and pipeline.report.enabled and not options.batch:
                reports = ReportJob(job, pipeline, load_prompt(pipeline.prompts, "topic_report"), options.topic)
            asyncio.run(_extract_all(job, work, pipeline.model.concurrency, progress, summary, reports))
            summary.deferred = job.stats.deferred
            if job.deferred:
                summary.batches_submitted, sent = submit_batches(
                    db, OpenAIBatches(pipeline.model), summary.run_id, job.deferred
                )
                progress.notice(
                    f"sent {sent} request(s) in {summary.batches_submitted} batch(es); collect the"
                    " answers later with `extract batch collect` or by running the same command again"
                )
            summary.claims = refresh_claims(db, job.stats.claim_ids, pipeline.report.spawn_after)
            summary.cost_usd = _cost(pipeline, model, summary.prompt_tokens, summary.completion_tokens)
    return summary


def _collect(db: Database, pipeline: Pipeline, progress: Progress) -> Collected:
    collected = collect_batches(db, OpenAIBatches(pipeline.model))
    for message in collected.messages:
        progress.notice(f"warning: {message}")
    if collected.answers or collected.still_running:
        progress.notice(
            f"batches: {collected.answers} answer(s) collected, {collected.still_running} batch(es) still running"
        )
    return collected


def collect_pipeline_batches(pipeline: Pipeline, db_path: Path, progress: Progress | None = None) -> Collected:
    """`extract batch collect`: bring finished batches' answers into the cache."""
    with open_database(db_path) as db:
        return _collect(db, pipeline, progress or SilentProgress())


def batch_overview(pipeline: Pipeline, db_path: Path) -> list[dict[str, Any]]:
    """`extract batch status`: every batch, open ones refreshed from the endpoint."""
    with open_database(db_path) as db:
        if open_batches(db):
            client = OpenAIBatches(pipeline.model)
            for batch in open_batches(db):
                state = client.state(batch["batch_id"])
                if state.status != "completed":
                    update_batch(
                        db,
                        state.batch_id,
                        status=state.status,
                        completed=state.completed,
                        failed=state.failed,
                        error=state.errors,
                    )
        return list_batches(db)


def _topic_work(
    db: Database, pipeline: Pipeline, slug: str, work: list[tuple[Chunk, Record, Document]]
) -> list[tuple[Chunk, Record, Document]]:
    """The chunks of a topic's records: those its claims came from, and those its filters match."""
    topic = next(t for t in pipeline.topics if t.slug == slug)
    known = {r[0] for r in topic_records(db, slug)}

    def matches(record: Record, doc: Document) -> bool:
        text = doc.text[record.char_start : record.char_end]
        return assign_topic([topic], None, text, (), record.title, doc.path) == slug

    chosen = {r.record_id for _, r, d in work if r.record_id in known or matches(r, d)}
    return [item for item in work if item[1].record_id in chosen]


def _cost(pipeline: Pipeline, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    if model == HEURISTIC:
        return 0.0
    price = pipeline.prices.get(model)
    if price is None:
        return None
    return round((prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000, 6)


def plan_pipeline(pipeline: Pipeline, options: RunOptions, progress: Progress | None = None) -> PlanSummary:
    """What a run would do and cost, without calling a model or writing anything."""
    progress = progress or SilentProgress()
    model = options.model or pipeline.model.name
    files = expand_inputs(options.inputs or pipeline.inputs)
    prompt = load_prompt(pipeline.prompts, "ref_triage")
    configured = pipeline.chunking.encoding or (OFFLINE_ENCODING if model == HEURISTIC else None)
    tokenizer, notice = load_tokenizer(model, configured)
    if notice:
        progress.notice(notice)
    db_path = database_path(pipeline, options.db)
    summary = PlanSummary(model=model, db=str(db_path))
    db = open_database(db_path, read_only=True) if db_path.exists() else None
    try:
        work = _ingest_and_chunk(db, pipeline, files, summary, tokenizer, progress, run_id=None)
        if options.limit is not None:
            work = work[: options.limit]
        requests = TriageRequests(pipeline, model, prompt)
        history = completion_history(db, model) if db is not None else None
        for chunk, record, _doc in work:
            request = requests.request(requests.messages(chunk, record))
            if db is not None and cached_reply(db, request.request_hash()) is not None:
                summary.cached += 1
                continue
            summary.calls += 1
            if model == HEURISTIC:
                continue
            summary.prompt_tokens += requests.prompt_tokens(tokenizer, request)
            guess = history if history is not None else 60 + chunk.n_tokens * 0.3
            summary.completion_tokens_estimate += int(min(guess, pipeline.model.max_completion_tokens))
    finally:
        if db is not None:
            db.close()
    if pipeline.topics and pipeline.report.enabled and model != HEURISTIC:
        # Report prompts depend on claims not extracted yet: estimated from the
        # claims each report reads (about 60 tokens each) and a fixed answer size.
        topics = [t for t in pipeline.topics if options.topic in (None, t.slug)]
        summary.report_calls = len(topics)
        summary.prompt_tokens += len(topics) * (600 + 60 * pipeline.report.max_claims)
        summary.completion_tokens_estimate += len(topics) * min(1500, pipeline.model.max_completion_tokens)
    summary.cost_usd_estimate = _cost(pipeline, model, summary.prompt_tokens, summary.completion_tokens_estimate)
    return summary


def _ingest_and_chunk(
    db: Database | None,
    pipeline: Pipeline,
    files: list[Path],
    summary: InputCounts,
    tokenizer: Tokenizer,
    progress: Progress,
    *,
    run_id: str | None,
) -> list[tuple[Chunk, Record, Document]]:
    """Read and cut every input; with a run id, store documents, records and chunks."""
    existing = citation_keys(db) if db is not None else {}
    taken = set(existing.values())
    work: list[tuple[Chunk, Record, Document]] = []
    for path in files:
        try:
            ingested = ingest_file(
                path,
                jsonl_text_field=pipeline.ingest.jsonl_text_field,
                jsonl_title_field=pipeline.ingest.jsonl_title_field,
                existing_keys=existing,
                taken_keys=taken,
            )
        except (OSError, SkippedInput) as exc:
            skip = exc if isinstance(exc, SkippedInput) else SkippedInput(str(path), "unreadable", str(exc.strerror))
            progress.notice(f"warning: {skip}")
            summary.skipped.append({"path": skip.path, "kind": skip.kind, "detail": skip.detail})
            continue
        for warning in getattr(ingested, "warnings", []):
            progress.notice(f"warning: {path}: {warning}")
        doc = ingested.document
        if db is not None and run_id is not None:
            save_document(db, doc, run_id)
            save_records(db, ingested.records)
        summary.documents += 1
        summary.records += len(ingested.records)
        next_idx = 0
        doc_chunks: list[Chunk] = []
        for record in ingested.records:
            chunks = chunk_record(
                doc.text, record, tokenizer, pipeline.chunking.max_tokens, pipeline.chunking.overlap_tokens, next_idx
            )
            next_idx += len(chunks)
            doc_chunks.extend(chunks)
            work.extend((c, record, doc) for c in chunks)
        if db is not None and run_id is not None:
            save_chunks(db, doc_chunks, tokenizer.name)
    summary.chunks = len(work)
    return work


async def _extract_all(
    job: ExtractJob,
    work: list[tuple[Chunk, Record, Document]],
    concurrency: int,
    progress: Progress,
    summary: RunSummary,
    reports: ReportJob | None,
) -> None:
    # Chunks in progress (preparing, calling, validating); calls in flight are
    # bounded by the job itself at `concurrency`.
    gate = asyncio.Semaphore(concurrency * 2)

    async def one(item: tuple[Chunk, Record, Document]) -> None:
        async with gate:
            await job.run_chunk(*item)
            stats: dict[str, float | None] = dict(_stats(job))
            stats["cost_usd"] = _cost(job.pipeline, job.model, job.stats.prompt_tokens, job.stats.completion_tokens)
            progress.advance(stats)

    try:
        tasks = [asyncio.create_task(one(item)) for item in work]
        try:
            await asyncio.gather(*tasks)
            if reports is not None:
                # Reports read the topic's merged claims: write this run's first.
                job.flush()
                refresh_claims(job.db, job.stats.claim_ids, job.pipeline.report.spawn_after)
                chosen = [t for t in reports.pipeline.topics if reports.only in (None, t.slug)]
                written = await asyncio.gather(*(reports.run_topic(t) for t in chosen))
                summary.report_statements = sum(written)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        job.flush()
        await job.provider.close()
        for key, value in _stats(job).items():
            setattr(summary, key, value)


def _stats(job: ExtractJob) -> dict[str, int]:
    """The job's counters that a run summary carries (rejects include those not yet written)."""
    names = {f.name for f in fields(RunSummary)}
    counts = {k: v for k, v in asdict(job.stats).items() if k in names}
    return {**counts, "rejects": job.rejects_so_far}


@dataclass
class ImportSummary:
    run_id: str
    db: str
    lines: int = 0
    observations: int = 0
    duplicates: int = 0
    claims: int = 0
    rejects: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.rejects else 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


def import_observations(path: Path, db_path: Path) -> ImportSummary:
    """`extract import`: bring in observations made elsewhere and merge them."""
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    with open_database(db_path) as db:
        summary = ImportSummary(run_id=new_run_id(), db=str(db_path))
        start_run(db, summary.run_id, command="import", pipeline={"name": "import", "path": str(path)})
        keys, arxiv = record_lookup(db)
        parsed = parse_import(path, summary.run_id, keys, arxiv)
        fresh = unsaved_observations(db, parsed.observations)
        merger = Merger(db)
        saved = save_observations(db, merger.assign(fresh))
        merger.persist()
        save_rejects(db, parsed.rejects)
        summary.lines = parsed.lines
        summary.observations = len(saved)
        summary.duplicates = len(parsed.observations) - len(saved)
        summary.rejects = len(parsed.rejects)
        summary.claims = refresh_claims(db, {o.claim_id for o in saved})
        finish_run(
            db,
            summary.run_id,
            status="done_with_rejects" if summary.rejects else "done",
            counts=summary.as_dict(),
            skipped=[],
        )
    return summary


def topics_overview_of(pipeline: Pipeline, db_path: Path) -> list[dict[str, Any]]:
    """`extract topics`: the pipeline's topics, and the ones claims propose."""
    with open_database(db_path, read_only=True) as db:
        return topics_overview(db, pipeline.topic_slugs())
