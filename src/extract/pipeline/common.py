"""What every pipeline command shares: options, progress, inputs and reading them, models, cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from extract.config import HEURISTIC, Pipeline
from extract.errors import ConfigError, InputError, SkippedInput
from extract.prompting import PromptTemplate, load_prompt
from extract.providers import Capabilities, Provider
from extract.providers.heuristic import Heuristic
from extract.providers.openai_chat import CAPABILITIES as OPENAI_CAPABILITIES
from extract.providers.openai_chat import OpenAIChat
from extract.stages.chunk import OFFLINE_ENCODING, Tokenizer, load_tokenizer
from extract.stages.ingest import IngestedDocument, ingest_file

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".jsonl")
DEFAULT_DB = Path("claims.duckdb")


class Progress(Protocol):
    """What a run reports as it goes: `start(total)` once, then `advance(stats)` after each step
    (each chunk, then each topic report), with the run's counters so far."""

    def notice(self, message: str) -> None: ...

    def start(self, total: int) -> None: ...

    def advance(self, stats: dict[str, float | None]) -> None: ...

    def waiting(self, calls: int, seconds: float) -> None:
        """Called about once a second while model calls are in flight: how many, and how
        long the oldest has waited (a slow local model is waiting, not frozen)."""


class SilentProgress:
    def notice(self, message: str) -> None:
        return None

    def start(self, total: int) -> None:
        return None

    def advance(self, stats: dict[str, float | None]) -> None:
        return None

    def waiting(self, calls: int, seconds: float) -> None:
        return None


@dataclass
class RunOptions:
    inputs: list[Path] = field(default_factory=list)
    model: str | None = None
    limit: int | None = None
    db: Path | None = None
    batch: bool = False
    topic: str | None = None
    fresh: bool = False  # ask again what the response cache has answered


@dataclass
class InputCounts:
    """What ingest and chunk found; shared by a run's and a plan's summary."""

    model: str
    db: str
    documents: int = 0
    records: int = 0
    chunks: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)


def database_path(pipeline: Pipeline | None, override: Path | None) -> Path:
    if override is not None:
        return override
    if pipeline is not None and pipeline.db is not None:
        return pipeline.db
    return DEFAULT_DB


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files, directories (recursively, supported types only) and glob patterns.

    Every path that does not exist and every glob that matches nothing is named in
    one error, so a mistyped list is fixed in one go."""
    found: list[Path] = []
    missing: list[str] = []
    unmatched: list[str] = []
    for p in paths:
        if any(ch in str(p) for ch in "*?["):
            anchor = Path(p.anchor) if p.is_absolute() else Path()
            pattern = str(p.relative_to(anchor)) if p.is_absolute() else str(p)
            matches = sorted(q for q in anchor.glob(pattern) if q.is_file())
            if not matches:
                unmatched.append(str(p))
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
            missing.append(str(p))
    problems = [f"input not found: {', '.join(missing)}"] if missing else []
    problems += [f"no input matches {', '.join(unmatched)}"] if unmatched else []
    if problems:
        raise InputError("; ".join(problems))
    # One file named twice (`dumps/` and `dumps/*.md`) is read once, under its first name.
    first: dict[Path, Path] = {}
    for q in found:
        first.setdefault(q.resolve(), q)
    unique = list(first.values())
    if not unique and paths:
        raise InputError(f"no input files in {', '.join(map(str, paths))} (supported: {' '.join(SUPPORTED)})")
    if not unique:
        raise InputError("no input files: name them after the pipeline file, or set inputs in the pipeline")
    return unique


def capabilities_of(model: str) -> Capabilities:
    """What the provider serving `model` can do (the one place a model name picks a provider)."""
    return Heuristic.capabilities if model == HEURISTIC else OPENAI_CAPABILITIES


def make_provider(pipeline: Pipeline, model: str) -> Provider:
    if model == HEURISTIC:
        return Heuristic(
            pipeline.domains, pipeline.topics, pipeline.extract.max_claims_per_chunk, pipeline.report.max_positions
        )
    return OpenAIChat(pipeline.model)


def cost_of(pipeline: Pipeline, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    if capabilities_of(model).offline:
        return 0.0
    price = pipeline.prices.get(model)
    if price is None:
        return None
    return round((prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000, 6)


def read_input(
    path: Path,
    pipeline: Pipeline,
    progress: Progress,
    skipped: list[dict[str, str]],
    *,
    existing_keys: dict[str, str] | None = None,
    taken_keys: set[str] | None = None,
    key_ranks: dict[str, int] | None = None,
) -> IngestedDocument | None:
    """One input file ingested, or None when it cannot be (binary, empty, unreadable...):
    then a warning names it and `skipped` gains it, and the caller goes on."""
    try:
        ingested = ingest_file(
            path,
            jsonl_text_field=pipeline.ingest.jsonl_text_field,
            jsonl_title_field=pipeline.ingest.jsonl_title_field,
            existing_keys=existing_keys,
            taken_keys=taken_keys,
            key_ranks=key_ranks,
        )
    except (OSError, SkippedInput) as exc:
        skip = exc if isinstance(exc, SkippedInput) else SkippedInput(str(path), "unreadable", str(exc.strerror))
        progress.notice(f"warning: {skip}")
        skipped.append({"path": skip.path, "kind": skip.kind, "detail": skip.detail})
        return None
    for warning in ingested.warnings:
        progress.notice(f"warning: {path}: {warning}")
    return ingested


@dataclass(frozen=True)
class Prepared:
    """What `run` and `plan` settle before reading anything: the model, the input
    files, the triage prompt, the tokenizer and the database path."""

    model: str
    files: list[Path]
    prompt: PromptTemplate
    tokenizer: Tokenizer
    db_path: Path


def prepare(pipeline: Pipeline, options: RunOptions, progress: Progress) -> Prepared:
    model = options.model or pipeline.model.name
    files = expand_inputs(options.inputs or pipeline.inputs)
    prompt = load_prompt(pipeline.prompts, "ref_triage")
    configured = pipeline.chunking.encoding or (OFFLINE_ENCODING if capabilities_of(model).offline else None)
    tokenizer, notice = load_tokenizer(model, configured)
    if notice:
        progress.notice(notice)
    return Prepared(model, files, prompt, tokenizer, database_path(pipeline, options.db))


def check_topic(pipeline: Pipeline, slug: str | None) -> None:
    """`--topic SLUG` must name a topic the pipeline declares."""
    if slug is not None and slug not in pipeline.topic_slugs():
        declared = ", ".join(pipeline.topic_slugs()) or "none"
        raise ConfigError(f"unknown topic {slug!r} (declared: {declared})")
