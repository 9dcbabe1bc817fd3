"""What the triage stage (`ref_triage` job) asks of the model for a chunk: the prompt
rendered for the chunk and its record, with the answer's schema. The gateway makes it
a request in a structured-output mode; a plan makes the same one, so it counts the same."""

from __future__ import annotations

from dataclasses import dataclass

from extract.config import Pipeline
from extract.models import Chunk, Record
from extract.prompting import PromptTemplate, data_boundary
from extract.schemas import triage_schema
from extract.stages.formats import Ask

JOB = "ref_triage"


@dataclass
class TriageAsks:
    """What the triage stage asks of the model for a chunk (the gateway makes it a request)."""

    pipeline: Pipeline
    prompt: PromptTemplate

    def __post_init__(self) -> None:
        self.schema = triage_schema(self.pipeline.domain_slugs(), self.pipeline.topic_slugs())

    def ask(self, chunk: Chunk, record: Record) -> Ask:
        topics = ", ".join(self.pipeline.topic_slugs()) or "(none declared: always null)"
        domains = ", ".join(self.pipeline.domain_slugs())
        messages = self.prompt.render(
            boundary=data_boundary(chunk.text),
            claim_language=self.pipeline.extract.claim_language,
            domains=domains,
            topics=topics,
            max_claims=str(self.pipeline.extract.max_claims_per_chunk),
            records=f"- {record.citation_key} | {', '.join(record.arxiv_ids) or '-'} | {record.title[:200]}",
            chunk=chunk.text,
        )
        return Ask(JOB, self.prompt.name, self.prompt.content_hash, tuple(messages), self.schema)
