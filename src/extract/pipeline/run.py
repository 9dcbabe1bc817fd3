"""Running a pipeline: ingest, chunk, extract, validate, merge, report, with one run row.

This is the one place that knows the order of the stages. The CLI calls
`run_pipeline`; progress and notices go through a `Progress` the caller gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from extract.config import Pipeline, Topic
from extract.errors import ConfigError, TerminalModelError
from extract.models import Chunk, Document, Record
from extract.pipeline.batches import collect_into_cache
from extract.pipeline.common import (
    InputCounts,
    Progress,
    RunOptions,
    SilentProgress,
    capabilities_of,
    check_topic,
    cost_of,
    make_provider,
    prepare,
)
from extract.pipeline.merging import configured_merger
from extract.pipeline.storing import store_batch
from extract.pipeline.work import Work, select_work
from extract.prompting import load_prompt
from extract.providers.openai_batch import OpenAIBatches
from extract.stages.asks import TriageAsks
from extract.stages.batch import submit as submit_batches
from extract.stages.extract import ExtractJob, ExtractStats
from extract.stages.gateway import GatewayStats, ModelGateway
from extract.stages.replay import validator_key
from extract.stages.report import ReportJob
from extract.store import Database, open_database
from extract.store.batches import open_batches
from extract.store.claims import claims_a_run_touched, refresh_claims
from extract.store.documents import record_lookup, record_urls
from extract.store.outcomes import stored_outcomes
from extract.store.runs import finish_run, mark_interrupted, new_run_id, start_run


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
    reject_reasons: dict[str, int] = field(default_factory=dict)
    uncited: int = 0  # report statements that cite nothing of their topic (kept, flagged, hidden)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    # The structured-output mode the run asked in, and how it was chosen; refused
    # formats and completion budgets cut for a small context window.
    structured_output: str = ""
    format_refusals: int = 0
    budget_cuts: int = 0
    # Borderline pairs put to the [merge] arbiters, and how many they joined.
    borderline_asked: int = 0
    borderline_merged: int = 0
    borderline_unanswered: int = 0
    borderline_problem: str = ""

    @property
    def exit_code(self) -> int:
        return 1 if (self.rejects or self.failed or self.skipped) else 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run: it is marked interrupted, everything answered so
    far is stored, and `summary` holds its counts so far; the same command resumes it."""

    def __init__(self, summary: RunSummary, signum: int) -> None:
        self.summary = summary
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # as a shell reports a process the signal ended


@contextlib.contextmanager
def _run_row(
    db: Database, summary: RunSummary, pipeline: Pipeline, prompts: dict[str, str], topic: str | None
) -> Iterator[None]:
    start_run(
        db,
        summary.run_id,
        command="run" if topic is None else f"run --topic {topic}",
        topic=topic,
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
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        summary.status = "interrupted"
        finish_run(db, summary.run_id, status="interrupted", counts=summary.as_dict(), skipped=summary.skipped)
        raise RunInterrupted(summary, getattr(exc, "signum", signal.SIGINT)) from exc
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
    if options.batch and not capabilities_of(model).batch:
        raise ConfigError(f"--batch needs a real endpoint with a Batch API; {model} answers at once anyway")
    if options.batch and options.fresh:
        raise ConfigError("--fresh cannot be combined with --batch: run --fresh without --batch")
    check_topic(pipeline, options.topic)
    prepared = prepare(pipeline, options, progress)
    prompt, tokenizer, db_path = prepared.prompt, prepared.tokenizer, prepared.db_path
    provider = make_provider(pipeline, model)
    with open_database(db_path) as db, configured_merger(db, pipeline, model) as (merger, arbiters):
        stale = mark_interrupted(db)
        if stale:
            progress.notice(f"{stale} earlier run(s) left unfinished are marked interrupted")
        summary = RunSummary(run_id=new_run_id(), model=model, db=str(db_path))
        reporting = bool(pipeline.topics and pipeline.report.enabled and not options.batch)
        report_prompt = load_prompt(pipeline.prompts, "topic_report") if reporting else None
        prompts = {p.name: p.content_hash for p in (prompt, report_prompt) if p is not None}
        with _run_row(db, summary, pipeline, prompts, options.topic):
            if provider.capabilities.batch and open_batches(db):
                summary.batch_answers = collect_into_cache(db, pipeline, progress).answers
            work = select_work(db, pipeline, options, prepared, summary, progress, run_id=summary.run_id)
            keys, arxiv = record_lookup(db)
            chunk_ids = [c.chunk_id for c, _, _ in work]
            # What validating each cached answer yielded, replayed rather than validated
            # again (`stages.replay`); not for `--topic`, which keeps one topic's output.
            validator = validator_key(pipeline) if options.topic is None else None
            gateway = ModelGateway(
                db,
                summary.run_id,
                provider,
                pipeline.model,
                model,
                tokenizer,
                batch_mode=options.batch,
                fresh=options.fresh,
            )
            job = ExtractJob(
                db=db,
                run_id=summary.run_id,
                pipeline=pipeline,
                gateway=gateway,
                asks=TriageAsks(pipeline, prompt),
                citation_keys=keys,
                arxiv_records=arxiv,
                url_records=record_urls(db),
                tokenizer=tokenizer,
                store=functools.partial(store_batch, db, merger, summary.run_id),
                only_topic=options.topic,
                validator=validator,
                replays=stored_outcomes(db, validator, chunk_ids) if validator else {},
            )
            gateway.preload(chunk_ids, prompt.content_hash)
            reports = None
            if report_prompt is not None:
                reports = ReportJob(job, pipeline, report_prompt, options.topic)
            # One step per chunk, then one per topic report: `calls` counts both.
            progress.start(len(work) + (len(reports.topics()) if reports is not None else 0))
            asyncio.run(_extract_all(job, work, pipeline.model.concurrency, progress, summary, reports))
            summary.deferred = job.stats.deferred
            if gateway.deferred:
                summary.batches_submitted, sent = submit_batches(
                    db, OpenAIBatches(pipeline.model), summary.run_id, gateway.deferred
                )
                progress.notice(
                    f"sent {sent} request(s) in {summary.batches_submitted} batch(es); collect the"
                    " answers later with `extract batch collect` or by running the same command again"
                )
            refresh_claims(db, _touched(job), pipeline.report.spawn_after)
            summary.claims = len(job.stats.claim_ids)
            stats = arbiters.stats
            summary.borderline_asked, summary.borderline_merged = stats.asked, stats.merged
            summary.borderline_unanswered, summary.borderline_problem = stats.unanswered, stats.last_problem
            summary.cost_usd = cost_of(pipeline, model, summary.prompt_tokens, summary.completion_tokens)
    return summary


def _touched(job: ExtractJob) -> set[str]:
    """The claims to recompute: those this run added to, and those whose current
    observations its answers may have replaced."""
    return job.stats.claim_ids | claims_a_run_touched(job.db, job.run_id, job.only_topic)


def _quiet_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Ctrl-C or SIGTERM raised while a chunk's task was running ends the run (reported
    once, by the command) and stays that task's exception: not a second report, a
    traceback at exit, of an exception "never retrieved"."""
    if isinstance(context.get("exception"), KeyboardInterrupt):
        return
    loop.default_exception_handler(context)


async def _extract_all(
    job: ExtractJob,
    work: Work,
    concurrency: int,
    progress: Progress,
    summary: RunSummary,
    reports: ReportJob | None,
) -> None:
    asyncio.get_running_loop().set_exception_handler(_quiet_interrupts)
    # Chunks in progress (preparing, calling, validating); calls in flight are
    # bounded by the job itself at `concurrency`.
    gate = asyncio.Semaphore(concurrency * 2)

    def advance() -> None:
        stats: dict[str, float | None] = dict(summary_counts(job.stats, job.gateway.stats, job.rejects_so_far))
        stats["cost_usd"] = cost_of(
            job.pipeline, job.model, job.gateway.stats.prompt_tokens, job.gateway.stats.completion_tokens
        )
        progress.advance(stats)

    async def one(item: tuple[Chunk, Record, Document]) -> None:
        async with gate:
            await job.run_chunk(*item)
            advance()

    async def report(reports: ReportJob, topic: Topic) -> int:
        written = await reports.run_topic(topic)
        advance()
        return written

    async def tick() -> None:
        while True:
            await asyncio.sleep(1.0)
            progress.waiting(*job.gateway.waiting_on())

    ticker = asyncio.create_task(tick())
    try:
        tasks = [asyncio.create_task(one(item)) for item in work]
        try:
            await asyncio.gather(*tasks)
            if reports is not None:
                # Reports read the topic's merged claims: write this run's first.
                job.flush()
                refresh_claims(job.db, _touched(job), job.pipeline.report.spawn_after)
                written = await asyncio.gather(*(report(reports, t) for t in reports.topics()))
                summary.report_statements = sum(written)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        ticker.cancel()
        job.flush()
        await job.gateway.close()
        for key, value in summary_counts(job.stats, job.gateway.stats, job.rejects_so_far).items():
            setattr(summary, key, value)  # every key a RunSummary field (tests/test_views_and_runs.py)
        summary.reject_reasons = dict(sorted(job.stats.reject_reasons.items()))
        summary.structured_output = job.gateway.formats.describe()


# The counters of the extract job (ExtractStats) and of its gateway (GatewayStats) that
# a run summary does not copy, and why; every other counter is copied by `summary_counts`.
NOT_SUMMARISED = {
    "ExtractStats.parsed": "answers that parsed: only for the unparsed-answers limit",
    "ExtractStats.unparsed": "answers that did not parse: only for that limit",
    "ExtractStats.rejects": "rejects written so far: the summary counts those not yet written too",
    "ExtractStats.reject_reasons": "copied sorted by reason (`reject_reasons`)",
    "ExtractStats.claim_ids": "the summary counts them (`claims`)",
}


def summary_counts(job: ExtractStats, gateway: GatewayStats, rejects: int) -> dict[str, int]:
    """The run summary's counters (by RunSummary field) from the job's and its gateway's
    (`rejects`: the job's rejects so far, those not yet written included)."""
    return {
        "chunks": job.chunks,
        "reasks": job.reasks,
        "splits": job.splits,
        "deferred": job.deferred,
        "outside_topic": job.outside_topic,
        "failed": job.failed,
        "observations": job.observations,
        "uncited": job.uncited,
        "rejects": rejects,
        "calls": gateway.calls,
        "cached": gateway.cached,
        "retries": gateway.retries,
        "format_refusals": gateway.format_refusals,
        "budget_cuts": gateway.budget_cuts,
        "prompt_tokens": gateway.prompt_tokens,
        "completion_tokens": gateway.completion_tokens,
    }
