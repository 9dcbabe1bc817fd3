"""The import stage: observations made elsewhere (the SPEC's JSONL format) become
observations here, then merge like any other.

Each line is validated on its own; a bad line goes to `rejects` with its reason
and the raw line, never silently dropped. An observation's id is the hash of its
canonical line, so importing the same file twice adds nothing.

A line exported by `extract export observations` keeps what it was: its `obs_id`
(so an export re-imported into its own database adds nothing), its `parent_obs_id`
(a counter's link to its stance), where its quote lies (`doc_sha256`, `char_start`,
`char_end`: one piece of evidence counts once, `store.observations.EVIDENCE_KEY`),
when it was made (`created_at`) and its `claim_id`, which the merge keeps when that
claim is new here or of the same block (`stages.merge`). Ids of another
shape are not taken, and flagged (`obs_id_not_kept:<id>`, `parent_obs_id_not_kept:`,
`claim_id_not_kept:`): the line then gets a hashed id. A line whose obs_id stands for
other content (a stored observation, or an earlier line of the file) is a reject, so
an edited export line is never silently taken for a duplicate. A span must be whole
(`char_start` <= `char_end`, a 64-hex `doc_sha256`), and times with a zone are
stored in UTC.

Citations are resolved against the records here; an empty one is dropped. A claim id
(`c-0123456789`, what a report statement rests on) is kept as a claim citation,
flagged `unknown_claim:<id>` when it names no claim here nor any line of the file. Of
an export line's flags, `uncited` is taken back, and so is `unknown_citation:<value>`
for an arXiv id or URL that no record here has: what made it unknown (the chunk the
claim was read from) is not here to check again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from extract.errors import InputError
from extract.hashing import CLAIM_ID, OBS_ID, canonical_json, short_id
from extract.models import Citation, Observation, Reject
from extract.schemas import ImportedObservation
from extract.stages.validate import resolve_citation
from extract.store.claims import stored_claim_ids
from extract.store.db import Database, now
from extract.store.observations import stored_contents
from extract.store.visibility import UNCITED, UNKNOWN_CITATION, UNKNOWN_CLAIM


@dataclass
class ParsedImport:
    observations: list[Observation]
    rejects: list[Reject]
    lines: int
    # How far into the file (bytes) this batch ends.
    offset: int = 0
    # Lines an export marked superseded (`"current": false`), left out.
    superseded: int = 0
    # The obs_ids lines carried and kept: what each line says, its number, the line and
    # its observation; then (`settle`) what the id stands for and where it was first said.
    named: dict[str, list[tuple[Content, int, str, Observation]]] = field(default_factory=dict)
    settled: dict[str, tuple[Content, int]] = field(default_factory=dict)


Content = tuple[Any, ...]
BATCH_LINES = 20_000


@dataclass(frozen=True)
class LineContext:
    """What parsing a line needs besides the line: the run, the file, the records here
    (citation keys and arXiv ids) and the claim ids a line may cite."""

    run_id: str
    path: Path
    keys: dict[str, str]
    arxiv: dict[str, str]
    claims: frozenset[str]
    created: datetime


def line_context(
    path: Path, run_id: str, keys: dict[str, str], arxiv: dict[str, str], db: Database | None
) -> LineContext:
    return LineContext(run_id, path, keys, arxiv, frozenset(_claims_named(path, db)), now())


def read_lines(path: Path, size: int = BATCH_LINES) -> Iterator[tuple[list[tuple[int, bytes]], int]]:
    """The file's lines that are not blank, with their numbers, `size` at a time, and
    how far into the file (bytes) each batch ends."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    lines: list[tuple[int, bytes]] = []
    with handle:
        for number, read in enumerate(handle, 1):
            raw = read.removeprefix(b"\xef\xbb\xbf") if number == 1 else read
            if raw.strip():
                lines.append((number, raw))
                if len(lines) >= size:
                    yield lines, handle.tell()
                    lines = []
        if lines:
            yield lines, handle.tell()


def parse_lines(lines: list[tuple[int, bytes]], context: LineContext) -> ParsedImport:
    """One batch of lines parsed, each on its own: needs no database (`settle` does)."""
    batch = ParsedImport([], [], len(lines))
    for number, raw in lines:
        _parse_line(raw, number, context, batch)
    return batch


def import_batches(
    path: Path,
    run_id: str,
    keys: dict[str, str],
    arxiv: dict[str, str],
    size: int = BATCH_LINES,
    db: Database | None = None,
) -> Iterator[ParsedImport]:
    """The file's observations and rejects, `size` lines at a time, so that a file of
    millions of lines never sits in memory whole. A line that is not UTF-8 is a reject
    like any other bad line.

    A line that carries an `obs_id` already used, in this file or in `db`, for other
    content (an export line edited, two exports' lines mixed up) is a reject: kept,
    the edit would be silently lost as a duplicate. The same content is a duplicate."""
    context = line_context(path, run_id, keys, arxiv, db)
    # The previous batch's named ids: it may not be stored yet when this one is read.
    earlier: dict[str, tuple[Content, int]] = {}
    for lines, offset in read_lines(path, size):
        batch = parse_lines(lines, context)
        batch.offset = offset
        settle(batch, earlier, db, context)
        yield batch
        earlier = batch.settled


_CARRIED_CLAIM = re.compile(rb'"claim_id"\s*:\s*"(c-[0-9a-f]{10})"')
_QUOTED_CLAIM = re.compile(rb'"(c-[0-9a-f]{10})"')


def _claims_named(path: Path, db: Database | None) -> set[str]:
    """The claim ids the file's lines may cite that name a claim: one stored here, or one
    a line of the file carries (an export brings a statement's claims along, in any
    order). A quick pass over the bytes: any quoted claim id other than the line's own
    `claim_id` may be a citation (one too many only costs a look-up)."""
    cited: set[str] = set()
    carried: set[str] = set()
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    with handle:
        for line in handle:
            if b'"c-' not in line:
                continue
            own = set(_CARRIED_CLAIM.findall(line))
            carried.update(c.decode() for c in own)
            cited.update(c.decode() for c in set(_QUOTED_CLAIM.findall(line)) - own)
    known = cited & carried
    return known | (stored_claim_ids(db, cited - known) if db is not None else set())


def settle(
    batch: ParsedImport, earlier: dict[str, tuple[Content, int]], db: Database | None, context: LineContext
) -> None:
    """What each obs_id of this batch stands for: a stored observation's content, else
    that of the line that said it first (in the batch before, or in this one). Lines
    saying something else under that id become rejects."""
    ids = sorted(i for i in batch.named if i not in earlier)
    stored = stored_contents(db, ids) if db is not None and ids else {}
    dropped: set[int] = set()
    for obs_id, lines in batch.named.items():
        if obs_id in stored:
            reference, where = stored[obs_id], "is a stored observation"
        else:
            first = earlier.get(obs_id) or (lines[0][0], lines[0][1])
            reference, where = first[0], f"is on line {first[1]}"
            batch.settled[obs_id] = first
        for content, number, line, observation in lines:
            if content != reference:
                dropped.add(id(observation))
                detail = f"obs_id {obs_id} {where} with other content"
                batch.rejects.append(_reject(context, number, line, detail))
    if dropped:
        batch.observations = [o for o in batch.observations if id(o) not in dropped]
    batch.named = {}


def _parse_line(raw: bytes, number: int, context: LineContext, into: ParsedImport) -> None:
    run_id, path, keys, arxiv, claims = context.run_id, context.path, context.keys, context.arxiv, context.claims
    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        item = ImportedObservation.model_validate_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValidationError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            detail = f"not UTF-8 at byte {exc.start}"
        else:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()[:3]
            )
        into.rejects.append(_reject(context, number, line, detail))
        return
    if not item.current:
        into.superseded += 1
        return
    citations = []
    flags = []
    # What the export found unknown (a made-up arXiv id or URL) stays unknown unless a record here has it.
    exported_unknown = {f.removeprefix(UNKNOWN_CITATION) for f in item.flags if f.startswith(UNKNOWN_CITATION)}
    for cited in dict.fromkeys(c for c in item.citations if c.strip()):
        if CLAIM_ID.fullmatch(cited):  # the claim a report statement rests on, as an export writes it
            citations.append(Citation(cited, "claim", cited, None))
            if cited not in claims:
                flags.append(f"{UNKNOWN_CLAIM}{cited}")
            continue
        c = resolve_citation(cited, keys, arxiv)
        made_up = c.kind in ("arxiv", "url") and c.record_id is None and c.value in exported_unknown
        if c.kind == "unknown" or made_up:
            flags.append(f"{UNKNOWN_CITATION}{c.value}")
        citations.append(Citation(c.raw, c.kind, c.value, c.record_id))
    if UNCITED in item.flags:
        flags.append(UNCITED)  # an exported uncited statement stays hidden here too
    claim_id = _kept(item.claim_id, CLAIM_ID)
    obs_id = _kept(item.obs_id, OBS_ID)
    parent = _kept(item.parent_obs_id, OBS_ID)
    for name, given, kept in (
        ("claim_id", item.claim_id, claim_id),
        ("obs_id", item.obs_id, obs_id),
        ("parent_obs_id", item.parent_obs_id, parent),
    ):
        if given and not kept:
            flags.append(f"{name}_not_kept:{given[:40]}")
    text = item.text.strip()
    observation = Observation(
        obs_id=obs_id or short_id("o-", ["import", canonical_json(json.loads(line))]),
        # Not empty: the claim the merge is to keep it in.
        claim_id=claim_id,
        run_id=run_id,
        job=item.kind,
        text=text,
        stance=item.stance,
        domain=item.domain,
        tags=tuple(dict.fromkeys(t.strip() for t in item.tags if t.strip())),
        topic=item.topic,
        citations=tuple(citations),
        quote=item.quote,
        alignment="imported",
        flags=tuple(flags),
        model=item.model,
        created_at=_naive(item.created_at or item.extracted_at) or context.created,
        field_path=item.field_path,
        camp=item.camp,
        lang=item.lang,
        source=item.source or str(path),
        run_label=item.run_label,
        parent_obs_id=parent or None,
        doc_sha256=item.doc_sha256,
        char_start=item.char_start,
        char_end=item.char_end,
    )
    into.observations.append(observation)
    if obs_id:
        content = (text, item.quote, item.stance, item.kind, item.topic, item.field_path, item.model, item.camp)
        into.named.setdefault(obs_id, []).append((content, number, line, observation))


def _reject(context: LineContext, number: int, line: str, detail: str) -> Reject:
    return Reject(
        reject_id=short_id("x-", [context.run_id, str(context.path), number]),
        run_id=context.run_id,
        job="import",
        reason="invalid_import",
        detail=f"line {number}: {detail}",
        raw_output=line,
        created_at=context.created,
    )


def _naive(when: datetime | None) -> datetime | None:
    """In UTC, as every time stored here, without its zone."""
    if when is None:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _kept(value: str | None, shape: re.Pattern[str]) -> str:
    """An id the line carries, if it has the shape of the ids made here; else ""."""
    return value if value and shape.fullmatch(value) else ""
