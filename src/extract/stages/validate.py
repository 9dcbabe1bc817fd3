"""The validate stage: parse a raw answer, ground every quote, resolve citations.

A response either parses into the schema or is re-asked (then rejected whole).
Within a parsed response each claim is judged alone: a quote not found in the
chunk (exactly, then with whitespace, punctuation and case ignored), an unknown
domain, an empty text or a text that is no claim at all (only a URL, an arXiv id,
a citation key, a formula, a code line, a table row, a heading, or markup or a link
with a few words), or a number in the claim text that its quote does not state
(`unsupported_number`) sends that claim to the rejects table with its reason; the
rest are kept with document character offsets and an alignment status.

Numbers are checked against the quote, not the whole chunk: the quote is the
evidence the claim is kept with, and a chunk holds other results (a table, another
paper's figures) that would let a number the quote does not state pass. The quote
is read as it stands in the chunk (the aligned span), not as the model wrote it: the
loose alignment ignores punctuation, so a quote `37%` would otherwise stand for a
chunk's `3.7`. The span is widened over a number it cuts (`5%` of `12.5%`), so that
half a number never supports a claim. What a number is, and when two are the same,
is `extract.stages.support`'s (a bare number is met by the same value in any form).

A triage claim's citation counts when it names something: the key or an arXiv id or
URL of a stored record, or an arXiv id or URL the chunk itself states. Anything else
(a key no record has, an arXiv id or URL made up) is kept flagged
`unknown_citation:<value>`, and the hide rule (`extract.store.visibility`) does not
count it.
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
from extract.stages.support import found_in, unsupported

MIN_QUOTE_CHARS = 6
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_ARXIV_ID = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)
# An old-style id (`hep-th/9901001`, `math.AG/0601001`), normalised by `arxiv_ids`.
_OLD_ARXIV_ID = re.compile(r"^(?:arxiv:\s*)?([a-z][a-z\-]{0,15}(?:\.[a-z]{2})?/\d{7})(?:v\d+)?$", re.IGNORECASE)

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
# What a `url` line (`extract.linekind`) holds besides words: HTML tags, links.
_HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>?")
_ONLY_TAGS = re.compile(r"(?:\s*</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>)+\s*")
_LINK = re.compile(r"!?\[[^\[\]]*\]\([^()\s]*\)|<?(?:https?://|www\.)[^\s<>]+>?", re.IGNORECASE)
# What a number cut at a quote's end may go on with: more digits, then a unit.
_NUMBER_TAIL = re.compile(r"(?:[.,]?\d)*(?:\s?[%％×倍万亿]|(?:x|[kKMBT])(?![A-Za-z]))?")
_OUTER_PAIRS = {"(": ")", "[": "]", "<": ">", "{": "}", "`": "`", '"': '"', "'": "'", "“": "”", "「": "」", "（": "）"}


class AnswerError(ValueError):
    """The answer is not JSON of the expected shape; the message goes back to the model."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def parse_json(raw: str) -> object:
    """The JSON of an answer. A model asked without an enforced format (plain text) may
    wrap it in a code fence or prose: then the first JSON object in the text that
    parses whole is taken (else the first array)."""
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
        # Some of json's messages end in "at" already ("Unterminated string starting at").
        joint = " " if exc.msg.endswith(" at") else " at "
        raise AnswerError("invalid_json", f"{exc.msg}{joint}line {exc.lineno} column {exc.colno}") from exc


_DECODER = json.JSONDecoder()
_JSON_START = re.compile(r"[{\[]")


def _first_json_value(text: str) -> object | None:
    """The first object in `text` (prose around it ignored), else the first array, or
    None. Every answer asked for is an object, so an array in the prose before it (a
    citation marker such as `[1]`) is not taken for it."""
    first_array: list[object] | None = None
    for found in _JSON_START.finditer(text):
        try:
            value, _ = _DECODER.raw_decode(text, found.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and value:
            return value
        if isinstance(value, list) and value and first_array is None:
            first_array = value
    return first_array


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
    a table row, a heading, HTML markup, or a link or markup with a few words), or None."""
    if _ONLY_TAGS.fullmatch(text):
        return "HTML markup"
    bare = _unwrapped(text)
    if not bare:
        return None
    kind = line_kind(bare)
    if kind == "url":
        # A link or a tag with fewer than a few words beside it: say which it is.
        if _HTML_TAG.search(bare):
            rest = _LINK.sub(" ", _HTML_TAG.sub(" ", bare))
            return "HTML markup" + (" and a few words" if any(c.isalnum() for c in rest) else "")
        if any(c.isalnum() for c in _LINK.sub(" ", bare)):
            return "a link and a few words"
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
    alignment = align_quote(claim.quote, chunk_text)
    if alignment is None:
        return "quote_not_found", f"quote not found in chunk: {claim.quote[:120]!r}"
    evidence = quoted_span(chunk_text, alignment)
    missing = unsupported(claim.text, found_in([evidence]))
    if missing:
        return (
            "unsupported_number",
            f"{', '.join(str(n) for n in missing)} in the claim text, not stated by its quote: {evidence[:120]!r}",
        )
    return None


def quoted_span(chunk_text: str, alignment: Alignment) -> str:
    """The chunk's text the quote stands for, widened over a number it cuts at either end."""
    start, end = alignment.start, alignment.end
    while start > 0 and (
        chunk_text[start - 1].isdigit() or (chunk_text[start - 1] in ".," and chunk_text[start : start + 1].isdigit())
    ):
        start -= 1
    tail = _NUMBER_TAIL.match(chunk_text, end) if end > 0 and chunk_text[end - 1].isdigit() else None
    return chunk_text[start : tail.end() if tail else end]


@dataclass(frozen=True)
class ResolvedCitation:
    raw: str
    kind: str  # arxiv | key | url | unknown
    value: str
    record_id: str | None


def resolve_citation(
    raw: str, keys: dict[str, str], arxiv: dict[str, str], urls: dict[str, str] | None = None
) -> ResolvedCitation:
    """Classify one citation string against the stored records (by key, arXiv id, URL)."""
    value = raw.strip()
    match = _ARXIV_ID.match(value)
    if match:
        arxiv_id = match.group(1)
        return ResolvedCitation(raw, "arxiv", arxiv_id, arxiv.get(arxiv_id))
    if value in keys:
        return ResolvedCitation(raw, "key", value, keys[value])
    old = _OLD_ARXIV_ID.match(value)
    if old:
        arxiv_id = arxiv_ids(f"arXiv:{old.group(1)}")[0]
        return ResolvedCitation(raw, "arxiv", arxiv_id, arxiv.get(arxiv_id))
    if value.startswith(("http://", "https://")):
        ids = arxiv_ids(value)
        if ids:
            return ResolvedCitation(raw, "arxiv", ids[0], arxiv.get(ids[0]))
        found = urls.get(url_key(value)) if urls else None
        return ResolvedCitation(raw, "url", value, found)
    return ResolvedCitation(raw, "unknown", value, None)


def url_key(url: str) -> str:
    """A URL as looked up: without a trailing slash (`https://x.org/a/` is `https://x.org/a`)."""
    return url.rstrip("/")


def names_nothing(citation: ResolvedCitation, chunk_text: str) -> bool:
    """Whether a triage claim's citation names nothing a reader could follow: a key no
    record has, or an arXiv id or URL that is no stored record's and that the chunk the
    claim was read from does not state (made up)."""
    if citation.kind == "unknown":
        return True
    if citation.record_id is not None or citation.kind not in ("arxiv", "url"):
        return False
    if citation.kind == "arxiv":
        return re.search(rf"(?<![\d.]){re.escape(citation.value)}(?!\d)", chunk_text, re.IGNORECASE) is None
    return url_key(citation.value) not in chunk_text
