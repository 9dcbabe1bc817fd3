"""The report stage (`topic_report` job): one debate map per topic.

The model reads a topic's triage claims and the records they come from, and
answers headline claims (consensus) and up to N positions, each a camp with a
stance and a counter (both contested). Every statement becomes an observation
with field path `report.headline_claims`, `report.positions[i].stance` or
`report.positions[i].counter`; a counter points at its stance. Citations must be
keys of the topic's records: unknown keys are flagged and dropped, known ones
resolve to their records and arXiv ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from extract.config import Pipeline, Topic
from extract.errors import ContextExceeded, TransientModelError
from extract.hashing import short_id
from extract.models import Citation, ModelReply, Observation
from extract.prompting import PromptTemplate, data_boundary
from extract.schemas import ReportAnswer, ReportStatement, report_schema
from extract.stages.extract import ExtractJob
from extract.stages.formats import Ask
from extract.stages.gateway import Deferred
from extract.stages.validate import AnswerError, parse_json
from extract.store.claims import topic_claims
from extract.store.db import now
from extract.store.documents import topic_records

JOB = "topic_report"


def humanise(topic: Topic) -> str:
    return topic.title or topic.slug.replace("-", " ").title()


@dataclass
class ReportJob:
    """Writes topic reports with the run's model, cache and counters (those of `job`)."""

    job: ExtractJob
    pipeline: Pipeline
    prompt: PromptTemplate
    only: str | None = None  # report this topic alone (`run --topic`)

    def __post_init__(self) -> None:
        self.schema = report_schema(self.pipeline.report.max_positions)

    def ask(
        self,
        topic: Topic,
        claims: list[tuple[str, str, str, list[str]]],
        records: list[tuple[str, str, list[str], str]],
    ) -> Ask | None:
        if not claims:
            return None
        record_lines = "\n".join(f"- {key} | {', '.join(ids) or '-'} | {title[:160]}" for _, key, ids, title in records)
        claim_lines = "\n".join(f"- {stance} | {text} | {', '.join(cites)}" for _, text, stance, cites in claims)
        data = f"{topic.slug}\n{record_lines}\n{claim_lines}"
        settings = self.pipeline.report
        messages = self.prompt.render(
            boundary=data_boundary(data),
            max_positions=str(settings.max_positions),
            claim_language=self.pipeline.extract.claim_language,
            report_language=settings.report_language,
            topic_slug=topic.slug,
            topic_title=humanise(topic),
            topic_description=topic.description,
            records=record_lines or "(none)",
            claims=claim_lines,
        )
        return Ask(JOB, self.prompt.name, self.prompt.content_hash, tuple(messages), self.schema)

    def topics(self) -> list[Topic]:
        """The topics this job reports on: every declared topic, or the one of `run --topic`."""
        return [t for t in self.pipeline.topics if self.only in (None, t.slug)]

    async def run_topic(self, topic: Topic) -> int:
        """Report one topic; return the number of statements kept."""
        db = self.job.db
        claims = topic_claims(db, topic.slug, self.pipeline.report.max_claims)
        records = topic_records(db, topic.slug)
        ask = self.ask(topic, claims, records)
        if ask is None:
            return 0
        for attempt in range(self.pipeline.model.max_reasks + 1):
            try:
                request, reply = await self.job.gateway.ask(ask, None, attempt)
            except Deferred:
                return 0
            except (TransientModelError, ContextExceeded) as exc:
                if isinstance(exc, TransientModelError):
                    self.job.call_failed(exc)
                else:
                    self.job.stats.failed += 1
                self.job.reject_raw(JOB, "call_failed", str(exc), "", None, key=[self.job.run_id, topic.slug])
                return 0
            try:
                answer = _parse_report(reply.raw_text, self.pipeline.report.max_positions)
            except AnswerError as exc:
                if attempt == self.pipeline.model.max_reasks:
                    self.job.reject_raw(
                        JOB, exc.reason, f"topic {topic.slug}: {exc.detail}", reply.raw_text, request.request_hash()
                    )
                    return 0
                self.job.stats.reasks += 1
                ask = ask.followed_by(
                    reply.raw_text,
                    f"Your answer was rejected ({exc}). Answer again with only a JSON object that matches the schema.",
                )
                continue
            observations = self._observations(topic, answer, request.request_hash(), reply, records)
            self.job.keep(observations)
            return len(observations)
        return 0

    def _observations(
        self,
        topic: Topic,
        answer: ReportAnswer,
        request_hash: str,
        reply: ModelReply,
        records: list[tuple[str, str, list[str], str]],
    ) -> list[Observation]:
        by_key = {key: (record_id, ids) for record_id, key, ids, _ in records}
        created = now()
        out: list[Observation] = []

        def make(
            statement: ReportStatement, field_path: str, stance: str, camp: str | None, parent: str | None, n: int = 0
        ) -> Observation:
            citations: list[Citation] = []
            flags: list[str] = []
            for raw in dict.fromkeys(statement.citations):
                key = raw.strip().strip("[]")
                if key not in by_key:
                    flags.append(f"unknown_citation:{key}")
                    continue
                record_id, ids = by_key[key]
                citations.append(Citation(raw, "key", key, record_id))
                citations.extend(Citation(raw, "arxiv", i, record_id) for i in ids)
            return Observation(
                obs_id=short_id("o-", [reply.answer_key(request_hash), field_path, n]),
                claim_id="",
                run_id=self.job.run_id,
                job=JOB,
                text=statement.text.strip(),
                stance=stance,
                domain=None,
                tags=(humanise(topic),),
                topic=topic.slug,
                citations=tuple(dict.fromkeys(citations)),
                quote=statement.evidence.strip(),
                alignment="report",
                flags=tuple(flags),
                model=reply.endpoint_model,
                created_at=created,
                field_path=field_path,
                camp=camp,
                lang=self.pipeline.extract.claim_language,
                prompt_name=self.prompt.name,
                prompt_hash=self.prompt.content_hash,
                pipeline_hash=self.pipeline.config_hash(),
                request_hash=request_hash,
                answer_no=reply.answer_no,
                parent_obs_id=parent,
            )

        for n, statement in enumerate(answer.headline_claims):
            out.append(make(statement, "report.headline_claims", "consensus", None, None, n))
        for i, position in enumerate(answer.positions):
            stance = make(position.stance, f"report.positions[{i}].stance", "contested", position.camp, None)
            out.append(stance)
            out.append(
                make(position.counter, f"report.positions[{i}].counter", "contested", position.camp, stance.obs_id)
            )
        return out


def _parse_report(raw: str, max_positions: int) -> ReportAnswer:
    data = parse_json(raw)
    try:
        answer = ReportAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise AnswerError("schema_violation", problems) from exc
    if len(answer.positions) > max_positions:
        raise AnswerError("schema_violation", f"{len(answer.positions)} positions; at most {max_positions}")
    return answer
