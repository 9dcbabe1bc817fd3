"""The merge as a pipeline configures it: wording alone, or with borderline pairs put
to an embedder and/or the model (`[merge]`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from extract.config import MergeSettings, Pipeline
from extract.errors import ConfigError
from extract.pipeline.common import capabilities_of
from extract.providers.openai_sync import OpenAISync
from extract.stages.arbiter import Arbiter, Arbiters, ArbiterStats, EmbeddingArbiter, ModelJudge
from extract.stages.gateway import SyncGateway
from extract.stages.merge import Merger
from extract.store import Database


@dataclass
class MergeArbiters:
    """The arbiters a merge uses and how often they were asked and said yes."""

    members: list[EmbeddingArbiter | ModelJudge] = field(default_factory=list)

    @property
    def stats(self) -> ArbiterStats:
        total = ArbiterStats()
        for member in self.members:
            total.asked += member.stats.asked
            total.merged += member.stats.merged
            total.unanswered += member.stats.unanswered
            total.last_problem = member.stats.last_problem or total.last_problem
        return total

    def arbiter(self) -> Arbiter | None:
        return Arbiters(list(self.members)) if self.members else None


@contextmanager
def configured_merger(
    db: Database, pipeline: Pipeline | None, model: str | None = None
) -> Iterator[tuple[Merger, MergeArbiters]]:
    """A Merger for this database with the pipeline's arbiters (none without a pipeline),
    and those arbiters for their counts; `model` is the model a run uses (`--model` may
    override the pipeline's)."""
    arbiters = MergeArbiters()
    clients: list[SyncGateway] = []
    if pipeline is not None:
        settings = pipeline.merge
        model = model or pipeline.model.name
        if settings.embedder:
            try:
                client = SyncGateway(
                    db, OpenAISync(pipeline.model, settings.base_url), pipeline.model, settings.embedder
                )
            except ConfigError as exc:
                raise ConfigError(f"merge.embedder {settings.embedder}: {exc}") from exc
            clients.append(client)
            arbiters.members.append(EmbeddingArbiter(db, client, settings.embedder, settings.embedding_threshold))
        if settings.judge:
            if capabilities_of(model).offline:
                raise ConfigError("merge.judge needs a model endpoint: the heuristic model cannot judge pairs")
            client = SyncGateway(db, OpenAISync(pipeline.model), pipeline.model, model)
            clients.append(client)
            arbiters.members.append(ModelJudge(db, client, model))
    settings = pipeline.merge if pipeline else MergeSettings()
    merger = Merger(db, arbiter=arbiters.arbiter(), borderline=settings.borderline, max_asks=settings.max_asks)
    try:
        yield merger, arbiters
    finally:
        for client in clients:
            client.close()
