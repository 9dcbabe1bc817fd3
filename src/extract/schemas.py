"""What a model must answer, as pydantic models, and the JSON schema sent to it.

The schema sent in `response_format` is derived from these models; enums for
domain and topic are added from the pipeline so a structured-output endpoint can
only choose declared values. Validation itself stays lenient on those two fields
so an unknown value becomes a per-claim reject with its reason, not a lost answer.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Stance = Literal["consensus", "contested"]


class TriageClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="The claim, one sentence, in the configured claim language.")
    stance: Stance = Field(description="consensus: stated as settled; contested: disputed or challenged.")
    domain: str = Field(description="One domain slug from the taxonomy.")
    tags: list[str] = Field(min_length=1, max_length=6, description="1 to 6 short topical tags.")
    topic: str | None = Field(description="A declared topic slug, or null.")
    citations: list[str] = Field(description="arXiv ids, citation keys or URLs the claim rests on.")
    quote: str = Field(min_length=1, description="Evidence copied verbatim from the data.")


class TriageAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claims: list[TriageClaim]


def _strict(node: Any) -> Any:
    """OpenAI strict mode: every object closed and every property required."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items() if k not in ("title", "default")}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def triage_schema(domains: list[str], topics: list[str]) -> dict[str, Any]:
    """The strict JSON schema for the `ref_triage` answer of this pipeline."""
    schema: dict[str, Any] = _strict(copy.deepcopy(TriageAnswer.model_json_schema()))
    claim = schema["$defs"]["TriageClaim"]["properties"]
    claim["domain"]["enum"] = list(domains)
    if topics:
        claim["topic"] = {
            "anyOf": [{"type": "string", "enum": list(topics)}, {"type": "null"}],
            "description": claim["topic"].get("description", ""),
        }
    return schema


class ImportedObservation(BaseModel):
    """One line of `extract import` (the SPEC's observation import format)."""

    model_config = ConfigDict(extra="ignore")
    text: str = Field(min_length=1)
    stance: Stance
    kind: str = Field(min_length=1)
    topic: str | None
    field_path: str | None
    model: str = Field(min_length=1)
    quote: str
    domain: str | None = None
    tags: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)
    camp: str | None = None
    lang: str | None = None
    source: str | None = None
    extracted_at: datetime | None = None
    run_label: str | None = None
    # `extract export observations` marks what a newer run superseded: not brought back.
    current: bool = True
    # An export also carries the observation's id, its claim's and the stance a counter
    # answers: re-imported, the observation keeps them (`stages.importing`) ...
    obs_id: str | None = None
    claim_id: str | None = None
    parent_obs_id: str | None = None
    # ... and where its quote lies (which document, which characters), and when it was
    # made to the second (`extracted_at` is the date).
    doc_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    char_start: int | None = Field(default=None, ge=0)
    char_end: int | None = Field(default=None, ge=0)
    created_at: datetime | None = None
    # An export's flags: `uncited` and a made-up arXiv id's or URL's `unknown_citation:`
    # are taken back (the hide rule reads them); the others are derived again here or
    # described the other database.
    flags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _span(self) -> ImportedObservation:
        if (self.char_start is None) != (self.char_end is None):
            raise ValueError("char_start and char_end go together")
        if self.char_start is not None and self.char_end is not None and self.char_start > self.char_end:
            raise ValueError(f"char_start {self.char_start} is after char_end {self.char_end}")
        return self


class ReportStatement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="The statement, in the configured claim language.")
    evidence: str = Field(min_length=1, description="Why, in the report language, citing records by key.")
    citations: list[str] = Field(
        description="What this rests on: citation keys of the topic's records or ids of its claims (c-0123456789)."
    )


class ReportPosition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camp: str = Field(min_length=1, description="A short label for the camp holding this position.")
    stance: ReportStatement
    counter: ReportStatement


class ReportAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    headline_claims: list[ReportStatement]
    positions: list[ReportPosition]


def report_schema(max_positions: int) -> dict[str, Any]:
    """The strict JSON schema for the `topic_report` answer."""
    schema: dict[str, Any] = _strict(copy.deepcopy(ReportAnswer.model_json_schema()))
    schema["properties"]["positions"]["maxItems"] = max_positions
    return schema
