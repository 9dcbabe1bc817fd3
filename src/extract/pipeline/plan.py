"""`extract plan`: what a run would do and cost, calling nothing and writing nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from extract.config import Pipeline
from extract.pipeline.common import (
    InputCounts,
    Progress,
    RunOptions,
    SilentProgress,
    capabilities_of,
    check_topic,
    cost_of,
    prepare,
)
from extract.pipeline.work import select_work
from extract.providers import Capabilities
from extract.providers.openai_chat import endpoint_url
from extract.stages.asks import TriageAsks
from extract.stages.formats import prompt_tokens, request_for
from extract.stages.structured import first_mode
from extract.store import Database, open_database
from extract.store.endpoints import stored_format
from extract.store.responses import completion_history, known_request_hashes


@dataclass
class PlanSummary(InputCounts):
    structured_output: str = ""  # the mode a run would ask in
    calls: int = 0
    report_calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens_estimate: int = 0
    cost_usd_estimate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mode(db: Database | None, pipeline: Pipeline, model: str, capabilities: Capabilities) -> str:
    """The structured-output mode a run would ask in (as the run's gateway chooses it)."""
    url = endpoint_url(pipeline.model) if not capabilities.offline else None
    stored = stored_format(db, url, model) if db is not None and url is not None else None
    return first_mode(pipeline.model.response_format, capabilities, stored)


def plan_pipeline(pipeline: Pipeline, options: RunOptions, progress: Progress | None = None) -> PlanSummary:
    """What a run would do and cost, without calling a model or writing anything."""
    progress = progress or SilentProgress()
    check_topic(pipeline, options.topic)
    prepared = prepare(pipeline, options, progress)
    model, prompt, tokenizer, db_path = prepared.model, prepared.prompt, prepared.tokenizer, prepared.db_path
    summary = PlanSummary(model=model, db=str(db_path))
    db = open_database(db_path, read_only=True) if db_path.exists() else None
    try:
        work = select_work(db, pipeline, options, prepared, summary, progress, run_id=None)
        asks = TriageAsks(pipeline, prompt)
        capabilities = capabilities_of(model)
        mode = _mode(db, pipeline, model, capabilities)
        summary.structured_output = mode
        history = completion_history(db, model) if db is not None else None
        # Offline and without a database every chunk is a call and no request is looked up
        # or counted: only the first is made (it checks that the prompt fills).
        needed = db is not None or not capabilities.offline
        # The stored answers' hashes, read once: one query a chunk costs seconds at 10,000.
        cached = known_request_hashes(db) if db is not None and not options.fresh else set()
        for chunk, record, _doc in work if needed else work[:1]:
            request = request_for(asks.ask(chunk, record), model, mode, pipeline.model, capabilities)
            if request.request_hash() in cached:
                summary.cached += 1
                continue
            summary.calls += 1
            if capabilities.offline:
                continue
            summary.prompt_tokens += prompt_tokens(tokenizer, request)
            guess = history if history is not None else 60 + chunk.n_tokens * 0.3
            summary.completion_tokens_estimate += int(min(guess, pipeline.model.max_completion_tokens))
        if not needed:
            summary.calls = len(work)
    finally:
        if db is not None:
            db.close()
    if pipeline.topics and pipeline.report.enabled and not capabilities_of(model).offline:
        # Report prompts depend on claims not extracted yet: estimated from the
        # claims each report reads (about 60 tokens each) and a fixed answer size.
        topics = [t for t in pipeline.topics if options.topic in (None, t.slug)]
        summary.report_calls = len(topics)
        summary.prompt_tokens += len(topics) * (600 + 60 * pipeline.report.max_claims)
        summary.completion_tokens_estimate += len(topics) * min(1500, pipeline.model.max_completion_tokens)
    summary.cost_usd_estimate = cost_of(pipeline, model, summary.prompt_tokens, summary.completion_tokens_estimate)
    return summary
