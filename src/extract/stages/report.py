"""The report stage (`topic_report` job): one debate map per topic.

The model reads a topic's triage claims and the records they come from, and
answers headline claims (consensus) and up to N positions, each a camp with a
stance and a counter (both contested). Every statement becomes an observation
with field path `report.headline_claims`, `report.positions[i].stance` or
`report.positions[i].counter`; a counter points at its stance.

Statements are checked against the data they were written from:
- citations must name the topic's records or claims (`stages.report_citations`):
  unknown ones are flagged and dropped; a statement citing none of them is kept,
  flagged `uncited`, and the claims view hides it;
- every number in a statement's text and evidence must be stated by a record it
  cites or by one of the topic's claims (`stages.support`); otherwise the statement
  is an `unsupported_number` reject, with the raw answer. A counter whose stance was
  rejected stands alone, flagged `stance_rejected`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from extract.config import Pipeline, Topic
from extract.errors import ContextExceeded, TransientModelError
from extract.hashing import short_id
from extract.models import ModelReply, Observation
from extract.prompting import PromptTemplate, data_boundary
from extract.schemas import ReportAnswer, ReportStatement, report_schema
from extract.stages.extract import ExtractJob
from extract.stages.formats import Ask
from extract.stages.gateway import Deferred
from extract.stages.report_citations import TopicCitations
from extract.stages.support import Found, found_in, unsupported
from extract.stages.validate import AnswerError, parse_json
from extract.store.claims import topic_claims
from extract.store.db import now
from extract.store.documents import record_texts, topic_records
from extract.store.visibility import UNCITED

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
        # A claim is cited by its id, or by what it cites: the last field lists both.
        claim_lines = "\n".join(
            f"- {stance} | {text} | {', '.join([claim_id, *cites])}" for claim_id, text, stance, cites in claims
        )
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
            sources = TopicCitations(records, claims, self.job.citation_keys, self.job.arxiv_records)
            claim_numbers = found_in(text for _, text, _, _ in claims)
            observations = self._observations(topic, answer, request.request_hash(), reply, sources, claim_numbers)
            self.job.keep(observations)
            return len(observations)
        return 0

    def _observations(
        self,
        topic: Topic,
        answer: ReportAnswer,
        request_hash: str,
        reply: ModelReply,
        sources: TopicCitations,
        claim_numbers: Found,
    ) -> list[Observation]:
        """The answer's statements that pass (see the module docstring), as observations."""
        statements = _statements(answer)
        resolved = [sources.resolve(s.citations) for *_, s, _ in statements]
        texts = record_texts(self.job.db, sorted({r for found in resolved for r in found.record_ids}))
        numbers = {record_id: found_in([text]) for record_id, text in texts.items()}
        answer_key = reply.answer_key(request_hash)
        created = now()
        out: list[Observation] = []
        stance_of: dict[str, str] = {}  # position field path prefix -> its kept stance's id
        for (field_path, stance, camp, statement, n), found in zip(statements, resolved, strict=True):
            cited = [claim_numbers, *(numbers[r] for r in sorted(found.record_ids) if r in numbers)]
            missing = [str(x) for x in unsupported(f"{statement.text}\n{statement.evidence}", *cited)]
            if missing:
                self.job.reject_raw(
                    JOB,
                    "unsupported_number",
                    f"topic {topic.slug}, {field_path}: {', '.join(missing)} stated by no cited record and no claim"
                    " of the topic",
                    reply.raw_text,
                    request_hash,
                    item={"field_path": field_path, "camp": camp, **statement.model_dump()},
                    key=[answer_key, field_path, n, "unsupported_number"],
                )
                continue
            position, _, part = field_path.rpartition(".")
            parent = stance_of.get(position) if part == "counter" else None
            flags = found.flags + (("stance_rejected",) if part == "counter" and parent is None else ())
            if UNCITED in flags:
                self.job.stats.uncited += 1
            observation = Observation(
                obs_id=short_id("o-", [answer_key, field_path, n]),
                claim_id="",
                run_id=self.job.run_id,
                job=JOB,
                text=statement.text.strip(),
                stance=stance,
                domain=None,
                tags=(humanise(topic),),
                topic=topic.slug,
                citations=found.citations,
                quote=statement.evidence.strip(),
                alignment="report",
                flags=flags,
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
            if part == "stance":
                stance_of[position] = observation.obs_id
            out.append(observation)
        return out


def _statements(answer: ReportAnswer) -> list[tuple[str, str, str | None, ReportStatement, int]]:
    """(field path, stance, camp, statement, index) of every statement of the answer, in order."""
    out: list[tuple[str, str, str | None, ReportStatement, int]] = [
        ("report.headline_claims", "consensus", None, s, n) for n, s in enumerate(answer.headline_claims)
    ]
    for i, position in enumerate(answer.positions):
        for part, statement in (("stance", position.stance), ("counter", position.counter)):
            out.append((f"report.positions[{i}].{part}", "contested", position.camp, statement, 0))
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
