"""`extract init`: a commented starter pipeline file for a folder of dumps.

It reads the dumps the way a run does (`expand_inputs`, then ingest, so binary or empty
files are skipped with the same warning) and proposes one topic per term that recurs
across their record titles (`stages.starter_topics`). The values it writes are the
config's own defaults, and the text is loaded with the config loader before it is
written, so what `init` writes is a pipeline `run` accepts. It never writes over a file.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from extract.config import (
    ChunkingSettings,
    ExtractSettings,
    IngestSettings,
    ModelSettings,
    Pipeline,
    ReportSettings,
    pipeline_from_dict,
)
from extract.errors import ConfigError, InputError
from extract.pipeline.common import SUPPORTED, Progress, SilentProgress, expand_inputs, read_input
from extract.stages.starter_topics import StarterTopic, starter_topics

DEFAULT_FILE = Path("extract.toml")
# The templates beside the source (the pipelines in `pipelines/` use them too).
CHECKOUT_PROMPTS = Path(__file__).resolve().parents[3] / "prompts"


@dataclass
class StarterSummary:
    path: Path
    documents: int = 0
    records: int = 0
    topics: list[StarterTopic] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def write_starter(directory: Path, out: Path | None = None, progress: Progress | None = None) -> StarterSummary:
    """Write a starter pipeline for the dumps in `directory` to `out` (default
    ./extract.toml); an existing file is never replaced."""
    progress = progress or SilentProgress()
    target = out or DEFAULT_FILE
    if target.exists():
        raise ConfigError(f"{target} exists; init never writes over a file (name another with --out FILE.toml)")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {target}: there is no directory {target.parent}")
    if not directory.is_dir():
        raise InputError(f"not a directory: {directory}")
    summary = StarterSummary(target)
    titles: list[str] = []
    defaults = Pipeline()
    for path in expand_inputs([directory]):
        ingested = read_input(path, defaults, progress, summary.skipped)
        if ingested is not None:
            summary.documents += 1
            summary.records += len(ingested.records)
            titles += [r.title for r in ingested.records if r.title]
    if not summary.documents:
        raise InputError(f"no dump in {directory} could be read ({len(summary.skipped)} file(s) skipped)")
    summary.topics = starter_topics(titles)
    text = starter_text(directory, target, summary)
    pipeline_from_dict(tomllib.loads(text), base=target.parent, path=target)  # what run will load
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError as exc:  # made since the check above
        raise ConfigError(f"{target} exists; init never writes over a file") from exc
    return summary


def _path_for(target: Path, path: Path) -> str:
    """`path` as the pipeline file names it: relative when it sits at or below the file's
    directory (the two move together), else absolute."""
    where = target.parent.resolve()
    full = path.resolve()
    return os.path.relpath(full, where) if full == where or where in full.parents else str(full)


def _prompts(target: Path) -> str:
    """The prompt templates: a `prompts/` beside the file, else the checkout's."""
    own = target.parent / "prompts"
    if (own / "ref_triage.md").is_file() or not (CHECKOUT_PROMPTS / "ref_triage.md").is_file():
        return "prompts"
    return _path_for(target, CHECKOUT_PROMPTS)


def _said(text: object) -> str:
    """Text fit for a TOML comment: one line, printable characters only."""
    return "".join(ch for ch in " ".join(str(text).split()) if ch.isprintable())


def _v(value: object) -> str:
    """A TOML value: JSON's strings, numbers and lists are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def starter_text(directory: Path, target: Path, summary: StarterSummary) -> str:
    """The commented pipeline file."""
    name = directory.resolve().name or "dumps"
    model, chunking, ingest = ModelSettings(), ChunkingSettings(), IngestSettings()
    extract, report = ExtractSettings(), ReportSettings()
    found = f"{summary.documents} document(s), {summary.records} record(s)"
    lines = [
        f"# A starter pipeline for the dumps in {_said(directory)} ({found}),",
        "# written by `extract init`.",
        "# Every section is optional and shows its default: edit what you need.",
        f"#   extract run {_said(target)}          # run it",
        f"#   extract plan {_said(target)} --model gpt-4o-mini   # tokens and calls (cost with [prices])",
        "# Paths here are relative to this file. The database is ./claims.duckdb where you run",
        '# extract (or `db = "claims.duckdb"` under [pipeline] to keep it beside this file).',
        "",
        "[pipeline]",
        f"name = {_v(name)}",
        "# Files, directories and globs to read. A directory gives every file under it that",
        f"# ends in {' '.join(SUPPORTED)} (so write the HTML report",
        "# elsewhere); `extract run FILE INPUT...` reads INPUT instead.",
        f"inputs = {_v([_path_for(target, directory)])}",
        "# The prompt templates (ref_triage.md, topic_report.md); copy the folder to edit them.",
        f"prompts = {_v(_prompts(target))}",
        "",
        "# The model. 'heuristic' is the built-in offline baseline: no key, no network; its",
        "# claims are sentences taken from the dumps. For a real model set name (or pass",
        "# --model NAME) and the endpoint: OPENAI_API_KEY and OPENAI_BASE_URL in the",
        "# environment, or base_url here (vLLM, Ollama, llama.cpp server, LiteLLM, OpenAI).",
        "[model]",
        f"name = {_v(model.name)}",
        '# base_url = "http://localhost:8000/v1"',
        f"api_key_env = {_v(model.api_key_env)}",
        '# "auto" finds out once per endpoint and model what it accepts (strict "json_schema",',
        '# "json_object_schema", "json_object" or "text"), remembers it in the database and',
        "# says which it used; set one of them to force it.",
        f"response_format = {_v(model.response_format)}",
        f"temperature = {_v(model.temperature)}",
        "# What one chunk's claims need; a longer answer is cut off and its chunk split.",
        f"max_completion_tokens = {_v(model.max_completion_tokens)}",
        "# Seconds for one call (a small local model on a laptop is slow), calls in flight,",
        "# retries of failed calls and re-asks of answers that do not validate.",
        f"timeout = {_v(model.timeout)}",
        f"concurrency = {_v(model.concurrency)}",
        f"max_retries = {_v(model.max_retries)}",
        f"max_reasks = {_v(model.max_reasks)}",
        "",
        "# Records (papers, items) are cut into chunks of at most max_tokens tokens, overlapping.",
        "[chunking]",
        f"max_tokens = {_v(chunking.max_tokens)}",
        f"overlap_tokens = {_v(chunking.overlap_tokens)}",
        "",
        "# The fields of a .jsonl dump that hold a record's text and title.",
        "[ingest]",
        f"jsonl_text_field = {_v(ingest.jsonl_text_field)}",
        f"jsonl_title_field = {_v(ingest.jsonl_title_field)}",
        "",
        "# The language claims are written in, and at most how many one chunk gives.",
        "[extract]",
        f"claim_language = {_v(extract.claim_language)}",
        f"max_claims_per_chunk = {_v(extract.max_claims_per_chunk)}",
        "",
        "# Topic reports: one debate map per topic below (positions, camps, counter-claims).",
        "# A contested claim seen spawn_after times spawns a new topic for the next run.",
        "[report]",
        f"enabled = {_v(report.enabled)}",
        f"report_language = {_v(report.report_language)}",
        f"max_positions = {_v(report.max_positions)}",
        f"max_claims = {_v(report.max_claims)}",
        f"spawn_after = {_v(report.spawn_after)}",
        "",
        "# [merge] decides pairs of claims that nearly match (an embedder, or asking the",
        "# model): see docs/merging.md.",
        "",
        "# Prices in US dollars per million tokens, for `extract plan` and `extract runs`:",
        '# [prices."gpt-4o-mini"]',
        "# input = 0.15",
        "# output = 0.60",
        "# cached_input = 0.075",
        "",
        *_domains_text(),
        *_topics_text(summary.topics),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _domains_text() -> list[str]:
    lines = [
        "# The taxonomy: each claim gets one domain. The model picks it from these slugs and",
        "# descriptions; the heuristic model takes the domain with the most keywords in the",
        "# claim (substrings, any case), and 'other' when none is there.",
    ]
    for domain in Pipeline().domains:
        lines += [
            "[[taxonomy.domains]]",
            f"slug = {_v(domain.slug)}",
            f"description = {_v(domain.description)}",
            f"keywords = {_v([k for k in domain.keywords if k])}",
            "",
        ]
    return lines


def _topics_text(topics: list[StarterTopic]) -> list[str]:
    lines = [
        "# Topics: terms that recur in the titles of your dumps' records. A claim joins the",
        "# topic the model names, else the first topic (in this order) whose keywords",
        "# (substrings, any case) are in its text, tags or record title. Rename, merge, drop",
        "# or add topics; a slug is what `--topic SLUG` takes.",
    ]
    if not topics:
        lines += [
            "# No term recurs in the titles yet; a topic looks like this:",
            "# [[topics]]",
            '# slug = "long-context"',
            '# title = "Long context"',
            '# description = "Long context windows and what they cost."',
            '# keywords = ["long context", "long-context", "context window"]',
        ]
    for topic in topics:
        shown = (_said(e) for e in topic.examples)
        examples = "; ".join(e if len(e) <= 60 else e[:57] + "..." for e in shown)
        lines += [
            f"# In {topic.titles} titles, e.g. {examples}",
            "[[topics]]",
            f"slug = {_v(topic.slug)}",
            f"title = {_v(topic.title)}",
            f"keywords = {_v(list(topic.keywords))}",
            "",
        ]
    return lines
