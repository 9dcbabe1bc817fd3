"""The validate stage: parse a raw answer, ground every quote, resolve citations.

A response either parses into the schema or is re-asked (then rejected whole).
Within a parsed response each claim is judged alone: a quote not found in the
chunk (exactly, then with whitespace, punctuation and case ignored), an unknown
domain, an empty text or a text that is no claim at all (only a URL, an arXiv id,
a citation key, a formula, a code line, a table row or a heading) sends that
claim to the rejects table with its reason; the rest are kept with document
character offsets and an alignment status.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from pydantic import ValidationError

from extract.linekind import line_kind
from extract.schemas import TriageAnswer, TriageClaim
from extract.stages.ingest.metadata import arxiv_ids

MIN_QUOTE_CHARS = 6
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_ARXIV_ID = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)

# What a claim text may be instead of a claim (see `not_a_claim`); URLs, formulas, code,
# table rows and headings are told apart by `extract.linekind`.
_ARXIV_ONLY = re.compile(
    r"^(?:arxiv:\s*)?(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$", re.IGNORECASE
)
# AuthorYearWord and its usual spellings: smith2020, Vaswani2017Attention, smith_2020a, vaswani:2017.
_CITE_KEY = re.compile(r"^@?[A-Za-z][A-Za-z'\-]*[_:\-]?(?:1[89]|20)\d{2}[a-z]?(?:[_:\-]?[A-Za-z][A-Za-z0-9\-]*)?$")
_CITE_COMMAND = re.compile(r"^\\(?:no)?cite[a-z]*\*?(?:\[[^\]]*\])*\{([^{}]*)\}$", re.IGNORECASE)
_NOT_PROSE = {
    "url": "a URL",
    "formula": "a formula",
    "code": "a code line",
    "table": "a table row",
    "heading": "a heading",
}
_OUTER_PAIRS = {"(": ")", "[": "]", "<": ">", "{": "}", "`": "`", '"': '"', "'": "'", "“": "”", "「": "」", "（": "）"}


class AnswerError(ValueError):
    """The answer is not JSON of the expected shape; the message goes back to the model."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def parse_json(raw: str) -> object:
    """The JSON of an answer. A model asked without an enforced format (plain text) may
    wrap it in a code fence or prose: then the first JSON object or array in the text
    that parses whole is taken."""
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        found = _first_json_value(text)
        if found is not None:
            return found
        raise AnswerError("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc


_DECODER = json.JSONDecoder()
_JSON_START = re.compile(r"[{\[]")


def _first_json_value(text: str) -> object | None:
    """The first object or array in `text` (prose around it ignored), or None."""
    for found in _JSON_START.finditer(text):
        try:
            value, _ = _DECODER.raw_decode(text, found.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict | list) and value:
            return value
    return None


def parse_triage(raw: str) -> TriageAnswer:
    data = parse_json(raw)
    try:
        return TriageAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise AnswerError("schema_violation", problems) from exc


@dataclass(frozen=True)
class Alignment:
    status: str  # exact | normalised
    start: int  # offsets into the chunk text
    end: int


def _folded(text: str) -> tuple[str, list[int]]:
    """Letters and digits only, NFKC-casefolded, with each kept char's source index."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for out in unicodedata.normalize("NFKC", ch).casefold():
            if out.isalnum():
                chars.append(out)
                index.append(i)
    return "".join(chars), index


def align_quote(quote: str, chunk_text: str) -> Alignment | None:
    """Where the quote stands in the chunk, or None if it is not there."""
    at = chunk_text.find(quote)
    if at >= 0:
        return Alignment("exact", at, at + len(quote))
    folded_quote, _ = _folded(quote)
    if not folded_quote:
        return None
    folded_chunk, index = _folded(chunk_text)
    at = folded_chunk.find(folded_quote)
    if at < 0:
        return None
    return Alignment("normalised", index[at], index[at + len(folded_quote) - 1] + 1)


def _unwrapped(text: str) -> str:
    """The text without trailing punctuation and enclosing brackets or quotes."""
    while True:
        text = text.strip().rstrip(".,;:。，；：").strip()
        if len(text) >= 2 and _OUTER_PAIRS.get(text[0]) == text[-1]:
            text = text[1:-1]
            continue
        return text


def not_a_claim(text: str) -> str | None:
    """Why the text states nothing (it is only a URL, an arXiv id, citation keys, a formula, a code line,
    a table row or a heading), or None."""
    bare = _unwrapped(text)
    if not bare:
        return None
    kind = line_kind(bare)
    if kind == "url":
        return _NOT_PROSE[kind]
    if _ARXIV_ONLY.match(bare):
        return "an arXiv id"
    command = _CITE_COMMAND.match(bare)
    keys = [k for k in (_unwrapped(p) for p in re.split(r"[\s,;]+", command.group(1) if command else bare)) if k]
    if keys and all(_CITE_KEY.match(k) or _ARXIV_ONLY.match(k) for k in keys):
        return "a citation key"
    return _NOT_PROSE.get(kind)


def claim_problem(claim: TriageClaim, chunk_text: str, domains: list[str]) -> tuple[str, str] | None:
    """(reason, detail) when a parsed claim cannot be kept."""
    if not claim.text.strip():
        return "empty_text", "the claim text is empty"
    why = not_a_claim(claim.text)
    if why is not None:
        return "not_a_claim", f"the claim text is only {why}: {claim.text.strip()[:120]!r}"
    if claim.domain not in domains:
        return "unknown_domain", f"domain {claim.domain!r} is not in the taxonomy"
    if len(_folded(claim.quote)[0]) < MIN_QUOTE_CHARS:
        return "quote_too_short", f"quote {claim.quote[:60]!r} is too short to ground a claim"
    if align_quote(claim.quote, chunk_text) is None:
        return "quote_not_found", f"quote not found in chunk: {claim.quote[:120]!r}"
    return None


@dataclass(frozen=True)
class ResolvedCitation:
    raw: str
    kind: str  # arxiv | key | url | unknown
    value: str
    record_id: str | None


def resolve_citation(raw: str, keys: dict[str, str], arxiv: dict[str, str]) -> ResolvedCitation:
    """Classify one citation string against the stored records."""
    value = raw.strip()
    match = _ARXIV_ID.match(value)
    if match:
        arxiv_id = match.group(1)
        return ResolvedCitation(raw, "arxiv", arxiv_id, arxiv.get(arxiv_id))
    if value in keys:
        return ResolvedCitation(raw, "key", value, keys[value])
    if value.startswith(("http://", "https://")):
        ids = arxiv_ids(value)
        if ids:
            return ResolvedCitation(raw, "arxiv", ids[0], arxiv.get(ids[0]))
        return ResolvedCitation(raw, "url", value, None)
    return ResolvedCitation(raw, "unknown", value, None)
