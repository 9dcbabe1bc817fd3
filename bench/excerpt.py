"""Parser for the claims-dashboard excerpt (`seeds/000_claims_dashboard_excerpt.txt`).

This module owns the text format of that page and nothing else: it turns the page into
`DashboardClaim`s with their `Evidence`, so benchmarks can use the dashboard as gold data.

The page is a text rendering of HTML, so fields that were separate elements are glued
together without separators. The rules, checked against all 640 claims of the excerpt:

Claim block (one line each, in this order; the page header before the first claim is skipped)::

    <stance><domain>c-<10 hex>          stance: consensus|contested; domain: [a-z]* (often empty)
    <claim text>                        cut at 240 characters
    来源论文· N[Key1][Key2]...[arXiv <id>arxiv.org]    optional; N = number of keys + arXiv ids
    N 观测[↳ spawned: <slug>]<Tag1><Tag2>...          tags glued, each starts with a capital
    证据 (N)                            N = the observation count again
      • <evidence header>               0..6 items, each followed by a blank line,
                                        the excerpt indented by 4 spaces, a blank line
      • + N more                        when more than 6 observations exist

Evidence header::

    <kind><topic>[arXiv <id>]· <field path><model>[-YYYY-MM-DD]    report statements
    <kind><topic>[arXiv <id>]<model>[-YYYY-MM-DD]                    triage (no field path)

`kind` is one of `KINDS`, `topic` a lowercase slug, the field path one of the SPEC's
`report.headline_claims` / `report.positions[i].stance` / `report.positions[i].counter`,
and the model whatever the endpoint called itself (`gpt-5.4`, `claude-opus-4.7`,
`unknown`, `ep-20260214160829-csjmc`). Without a field path the topic/model boundary is
found by `MODEL_START` (known model-name beginnings), which is the one guess in the format.

Excerpts of `.stance` items start `[Camp X: label] `, of `.counter` items
`[counter to Camp X: label] `; the label is cut at 52 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("ref_triage", "topic_report")
MAX_SHOWN = 6

# Where a model name can begin when it is glued to a topic slug. A topic never contains
# these (slugs are about research topics), so the rightmost match is the model.
MODEL_START = re.compile(r"(?:gpt|claude|gemini|unknown|heuristic|ep-\d|qwen|deepseek|llama|mistral|o\d)")

_CLAIM = re.compile(r"^(?P<stance>consensus|contested)(?P<domain>[a-z]*)(?P<id>c-[0-9a-f]{10})$")
_SOURCES = re.compile(r"^来源论文· (?P<n>\d+)(?P<keys>(?:\[[^\]]*\])*)(?:arXiv (?P<arxiv>\S+?)arxiv\.org)?$")
_OBS = re.compile(r"^(?P<n>\d+) 观测(?:↳ spawned: (?P<spawned>[a-z0-9]+(?:-[a-z0-9]+)*))?(?P<tags>.*)$")
_EVIDENCE_COUNT = re.compile(r"^证据 \((?P<n>\d+)\)$")
_BULLET = "  • "
_MORE = re.compile(r"^  • \+ (?P<n>\d+) more$")
_EXCERPT_INDENT = "    "

_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_ARXIV_ID = r"\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
_FIELD_PATH = r"report\.(?:headline_claims|positions\[\d+\]\.(?:stance|counter))"
_TOPIC_ARXIV = re.compile(rf"^(?P<topic>{_SLUG})?(?:arXiv (?P<arxiv>{_ARXIV_ID}))?")
_REPORT_TAIL = re.compile(rf"^(?P<field>{_FIELD_PATH})(?P<model>.+)$")
_DATE_SUFFIX = re.compile(r"-(?P<date>\d{4}-\d{2}-\d{2})$")
_CAMP = re.compile(r"^\[(?:counter to )?Camp [A-Z]+: (?P<label>[^\]]*)\] ?")
# Tags are glued: a new tag starts where a capital follows a lowercase letter or digit
# ("RL AblationBase ModelReasoning", "Fp8Stability", "KV CacheGQA").
_TAG_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass
class Evidence:
    kind: str
    topic: str | None
    arxiv_id: str | None
    field_path: str | None
    model: str
    date: str | None
    excerpt: str  # without the camp prefix
    camp: str | None  # label of a leading "[Camp X: label]" / "[counter to Camp X: label]"


@dataclass
class DashboardClaim:
    claim_id: str
    stance: str
    domain: str  # "" when the dashboard shows none
    text: str
    citation_keys: list[str] = field(default_factory=list)
    arxiv_ids: list[str] = field(default_factory=list)
    n_obs: int = 0
    spawned: str | None = None
    tags: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    more: int = 0  # the "+ N more" count, 0 if none


class ExcerptFormatError(ValueError):
    """The page does not follow the format above; the message names the line."""


def split_tags(glued: str) -> list[str]:
    return [tag.strip() for tag in _TAG_BOUNDARY.split(glued) if tag.strip()]


def split_camp(excerpt: str) -> tuple[str | None, str]:
    """(camp label, excerpt without the prefix); (None, excerpt) when there is no prefix."""
    match = _CAMP.match(excerpt)
    if not match:
        return None, excerpt
    return match["label"].strip(), excerpt[match.end() :]


def _split_topic_model(rest: str) -> tuple[str, str]:
    """Split `<topic>[arXiv id]<model>` (no separator) at the rightmost model beginning."""
    starts = [m.start() for m in MODEL_START.finditer(rest)]
    # The arXiv id (if any) must stay on the topic side, so only starts after it count.
    arxiv = re.search(rf"arXiv (?:{_ARXIV_ID})", rest)
    floor = arxiv.end() if arxiv else 0
    for start in reversed(starts):
        if start >= floor and _TOPIC_ARXIV.fullmatch(rest[:start]):
            return rest[:start], rest[start:]
    raise ValueError(f"no model name found in {rest!r}")


def parse_evidence_header(header: str) -> tuple[str, str | None, str | None, str | None, str, str | None]:
    """(kind, topic, arxiv_id, field_path, model, date) from one glued evidence header."""
    kind = next((k for k in KINDS if header.startswith(k)), None)
    if kind is None:
        raise ValueError(f"unknown evidence kind in {header!r} (known: {', '.join(KINDS)})")
    rest = header[len(kind) :]
    if "· " in rest:
        head, tail = rest.split("· ", 1)
        match = _REPORT_TAIL.match(tail)
        if not match:
            raise ValueError(f"no field path in {header!r}")
        field_path: str | None = match["field"]
        model = match["model"]
    else:
        head, model = _split_topic_model(rest)
        field_path = None
    topic_match = _TOPIC_ARXIV.fullmatch(head)
    if not topic_match:
        raise ValueError(f"bad topic/arXiv part {head!r} in {header!r}")
    date = None
    if dated := _DATE_SUFFIX.search(model):
        date, model = dated["date"], model[: dated.start()]
    return kind, topic_match["topic"], topic_match["arxiv"], field_path, model, date


class _Cursor:
    """Lines with a position, so errors can name the line."""

    def __init__(self, lines: list[str], start: int) -> None:
        self.lines, self.i = lines, start

    def peek(self) -> str | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def take(self) -> str:
        line = self.peek()
        if line is None:
            raise self.error("unexpected end of page")
        self.i += 1
        return line

    def expect(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        line = self.take()
        match = pattern.match(line)
        if not match:
            self.i -= 1
            raise self.error(f"expected {what}, got {line[:80]!r}")
        return match

    def error(self, message: str) -> ExcerptFormatError:
        return ExcerptFormatError(f"line {self.i + 1}: {message}")


def _parse_evidence_item(cursor: _Cursor) -> Evidence:
    header = cursor.take()[len(_BULLET) :]
    try:
        kind, topic, arxiv_id, field_path, model, date = parse_evidence_header(header)
    except ValueError as exc:
        cursor.i -= 1
        raise cursor.error(str(exc)) from None
    if cursor.take() != "":
        raise cursor.error("expected a blank line after the evidence header")
    line = cursor.take()
    if not line.startswith(_EXCERPT_INDENT):
        raise cursor.error("expected an indented excerpt")
    camp, excerpt = split_camp(line[len(_EXCERPT_INDENT) :])
    return Evidence(kind, topic, arxiv_id, field_path, model, date, excerpt, camp)


def _parse_claim(cursor: _Cursor) -> DashboardClaim:
    head = cursor.expect(_CLAIM, "a claim header")
    text_lines: list[str] = []
    while (line := cursor.peek()) is not None and not (_SOURCES.match(line) or _OBS.match(line)):
        text_lines.append(cursor.take())
    claim = DashboardClaim(head["id"], head["stance"], head["domain"], "\n".join(text_lines))
    if (line := cursor.peek()) is not None and (sources := _SOURCES.match(line)):
        cursor.take()
        claim.citation_keys = re.findall(r"\[([^\]]*)\]", sources["keys"])
        claim.arxiv_ids = [sources["arxiv"]] if sources["arxiv"] else []
    obs = cursor.expect(_OBS, "'N 观测' line")
    claim.n_obs, claim.spawned, claim.tags = int(obs["n"]), obs["spawned"], split_tags(obs["tags"])
    count = int(cursor.expect(_EVIDENCE_COUNT, "'证据 (N)' line")["n"])
    if count != claim.n_obs:
        raise cursor.error(f"{claim.claim_id}: 证据 ({count}) but {claim.n_obs} 观测")
    while (line := cursor.peek()) is not None and line.startswith(_BULLET):
        if more := _MORE.match(line):
            cursor.take()
            claim.more = int(more["n"])
        else:
            claim.evidence.append(_parse_evidence_item(cursor))
        if cursor.peek() == "":
            cursor.take()
    return claim


def parse_dashboard(text: str) -> list[DashboardClaim]:
    """Every claim on the page, in page order. Raises ExcerptFormatError on format drift."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _CLAIM.match(line)), len(lines))
    cursor = _Cursor(lines, start)
    claims: list[DashboardClaim] = []
    while cursor.peek() is not None:
        if cursor.peek() == "":
            cursor.take()
            continue
        claims.append(_parse_claim(cursor))
    return claims
