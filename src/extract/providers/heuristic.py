"""The `heuristic` model: an offline, deterministic, extractive baseline.

It reads the same request a real model gets (the data between the boundary
lines and the records list) and answers in the same JSON schema. Triage claims
and quotes are sentences of the data; report statements are the topic's own
claims; nothing is invented. Stance, domain, tags and topic come from keyword
cues. It is labelled `heuristic` in provenance.

Which sentences become triage claims:

1. Only prose lines are read. Each line of the data gets its kind from
   `extract.linekind` (formula, code, table row, URL, heading or prose); lines
   inside a ``` fence or a triple-quoted docstring, and a line that does not end
   like a sentence whose nearest lines above and below (`#` comments skipped) are
   code, are code too (unfenced code in a digest); a line that is a record's
   title is a heading, and so is the line right under a heading (no blank line
   between) when it is no list item and ends neither like a sentence nor with a
   colon: a subtitle or a post's headline.
2. A prose line is cut into sentences (at . ! ? before a space, ! ? before CJK,
   and 。！？ with the closing quotes after them). A sentence is dropped when it is
   itself no prose (`line_kind`), carries markup its text would show (a LaTeX span
   or command, a URL, an HTML tag), is cut out of a quotation (it starts with a
   closing quote or bracket, or leaves a 「」, 『』 or “” unmatched), asks a
   question, ends in a colon (it introduces a formula or a list), or is too short
   (fewer than 7 words and 12 CJK characters) or too long (400 characters).
3. What is left is scored by the finding cues it carries, one weight per group
   whichever of its cues match: a comparison ("than", "outperforms", "优于",
   "超过": 2), a magnitude (a percentage, "2x", "3倍": 1.5), a number other
   than a year or a figure's, table's, equation's or section's own (1), an
   effect ("improves", "reduces", "提升", "降低": 1), a reported result ("we
   show", "demonstrates", "表明", "证明": 1), emphasis ("significant",
   "state-of-the-art", "显著": 1) and a proposal ("we propose", "提出": 0.5). A
   sentence with no cue is no claim. Two kinds of sentence need a stated result,
   a comparison or a magnitude, whatever else they carry: a title-like phrase
   (it does not end like a sentence and has no , or ; outside brackets and
   quotes: a headline, a caption, a label) and the speaker's own aside (first
   person singular: I, me, my; 我 but not 我们 or 自我; ik, mijn).
4. The chunk's best `max_claims` sentences by score, ties to the earlier one,
   are answered in the order of the data. Nothing depends on anything but the
   request, so the same request always gets the same answer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from extract.config import Domain, Topic
from extract.linekind import LineKind, line_kind
from extract.models import ModelReply, ModelRequest
from extract.providers import Capabilities

NAME = "heuristic"

# More arXiv ids than a paper's entry has: the record gathers many papers.
_OWN_IDS = 3

_DATA = re.compile(r"^(<<<DATA-[0-9a-f]+>>>) BEGIN DATA\n(.*)\n\1 END DATA$", re.DOTALL | re.MULTILINE)
_CLAIM_LINE = re.compile(r"^- (consensus|contested) \| (.+?) \| ([^|\n]*)$", re.MULTILINE)
_ARXIV_LIKE = re.compile(r"^\d{4}\.\d{4,5}$")
_RECORD_LINE = re.compile(r"^- (?P<key>\S+) \| (?P<ids>[^|]*) \| (?P<title>.*)$")
# A sentence ends at . ! ? before a space or the line's end, at ! ? before CJK, or at 。！？,
# with the closing quotes and brackets after a CJK end (`……硬件。」`).
_SENTENCE = re.compile(r"[^\n]+?(?:[.!?]+(?=\s|$)|[!?]+[」』”）》]*(?=[\u3400-\u9fff])|[。！？]+[」』”’）》]*|$)")
# List markers and numbering before a sentence: "- ", "* ", "> ", "1. ", "2) ", "(3) ", "1、".
_MARKER = re.compile(r"(?:[-*+>•·●○■▪◦]+\s*|\d{1,2}[.)、](?!\d)\s*|[(（]\d{1,2}[)）]\s*|[ivx]{1,4}\.\s+)")
# Punctuation left before a sentence by the one before it, or by markdown emphasis.
_STRAY = frozenset("。，、；：.,;:!?！？*#@_")
_SENTENCE_END = (".", "!", "?", "。", "！", "？", "…")
# Closing quotes and brackets: a sentence that starts with one was cut out of a quotation.
_CLOSERS = "」』”’)）]】》"
# Quotation marks that come in pairs; a sentence with one unmatched is part of a longer quotation.
_QUOTE_PAIRS = (("「", "」"), ("『", "』"), ("“", "”"))
# Punctuation between clauses (outside brackets and quotes); a line with none is a single phrase.
_CLAUSE_PUNCT = re.compile(r"[,;，；]|[.!?](?=\s)")
_BRACKETED = re.compile(r"\([^()]*\)|（[^（）]*）|\[[^\[\]]*\]|「[^「」]*」|“[^“”]*”|《[^《》]*》|\"[^\"]*\"")
# The speaker's own voice: I, me, my; 我 (not 我们, 自我); ik, mij, mijn.
_FIRST_PERSON = re.compile(
    r"(?<![自忘本敌唯])我(?!们)|(?<!Type )(?<!Phase )(?<!Stage )(?<!Table )(?<!Part )(?<!Class )(?<!Level )"
    r"\bI(?:['’](?:m|ve|d|ll))?(?=\s+[a-z])|\b(?:[Mm]e|[Mm]y|[Mm]yself|[Ii]k|[Mm]ijn?)\b"
)
# A number that names a figure, table, equation, section or appendix counts as no number.
_REFERENCE = re.compile(
    r"(?:图|(?<![代发])表|公式|附录|算法|Figure|Fig\.?|Table|Tab\.|Eq\.?|Equation|Section|Sec\.|Appendix|Algorithm|§)"
    r"\s*[(（]?\d+(?:\.\d+)*[a-z]?[)）]?",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_DOCSTRING = ('"""', "'''")
# What a claim's text would show as markup: LaTeX, a URL, an HTML tag.
_MARKUP = re.compile(r"\$\$|\$[^$\n]+\$|\\[A-Za-z]{2,}|https?://|www\.|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ACRONYM = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9\-]*\b")

# Finding cues in groups; a sentence scores each group's weight once if any of its cues match.
_FINDING_CUES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "comparison",
        2.0,
        re.compile(
            r"\bthan\b|outperform|surpass|\bbeats?\b|\bbetter\b|\bworse\b|faster|slower|\bfewer\b|\bon par with\b|"
            r"优于|超过|超越|高于|低于|快于|胜过|领先|beter dan|sneller|hoger dan|lager dan|meer dan|minder dan",
            re.IGNORECASE,
        ),
    ),
    ("magnitude", 1.5, re.compile(r"\d(?:\.\d+)?\s*(?:%|×|x\b|倍|个百分点|percentage points?)", re.IGNORECASE)),
    ("number", 1.0, re.compile(r"(?<![\w.])(?!(?:19|20)\d\d\b)\d")),
    (
        "effect",
        1.0,
        re.compile(
            r"improv|reduc|increas|boost|accelerat|speeds? up|cuts?\b|lowers?\b|raises?\b|"
            r"提升|提高|降低|减少|加速|增加|改善|缩短|verbeter|verhoog|verlaag|versnel",
            re.IGNORECASE,
        ),
    ),
    (
        "result",
        1.0,
        re.compile(
            r"\bwe (?:show|find|found|demonstrate|prove|observe)|\bshows? that|demonstrat|\bfind that|\bfound that|"
            r"results? (?:show|indicate|suggest)|表明|证明|发现|显示|实验证明|tonen aan|laten zien",
            re.IGNORECASE,
        ),
    ),
    (
        "emphasis",
        1.0,
        re.compile(r"significant|substantial|state-of-the-art|\bsota\b|显著|大幅|明显|achiev|达到|实现", re.IGNORECASE),
    ),
    ("proposal", 0.5, re.compile(r"\bwe (?:propose|introduce|present)\b|提出|引入|stellen voor", re.IGNORECASE)),
)
# A stated result: a title-like phrase or a speaker's aside is taken only with one of these.
_STATED = frozenset({"comparison", "magnitude"})
_CONTEST_CUES = (
    "however",
    "but ",
    "challenge",
    "contrary",
    "debate",
    "question",
    "myth",
    "debunk",
    "not ",
    "fail",
    "limitation",
    "controvers",
    "disput",
    "unclear",
    "whether",
    "despite",
    "instead",
    "然而",
    "但",
    "挑战",
    "质疑",
    "并非",
    "不是",
    "争议",
    "不一定",
    "未必",
    "反而",
    "局限",
    "maar",
    "echter",
    "niet",
    "onduidelijk",
)


@dataclass(frozen=True)
class _Sentence:
    quote: str
    text: str
    score: float
    position: int


def _folded(text: str) -> str:
    """Letters and digits only, casefolded: how a line is compared with a record's title."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def _ends_like_a_sentence(text: str) -> bool:
    """Whether the text ends with . ! ? 。！？ or …, closing quotes, brackets and emphasis aside."""
    return text.rstrip(_CLOSERS + "*_ ").endswith(_SENTENCE_END)


def _fragment(text: str) -> bool:
    """A sentence cut out of a quotation: it starts with a closing quote or bracket, or leaves one unmatched."""
    return text.startswith(tuple(_CLOSERS)) or any(text.count(a) != text.count(b) for a, b in _QUOTE_PAIRS)


def _needs_a_stated_result(text: str) -> bool:
    """A title-like phrase (no end and no clause punctuation) or the speaker's own aside (I, 我)."""
    phrase = not _ends_like_a_sentence(text) and not _CLAUSE_PUNCT.search(_BRACKETED.sub(" ", text))
    return phrase or bool(_FIRST_PERSON.search(text))


def _subtitle(line: str) -> bool:
    """A line that may be a title's second line: no list item, no sentence end, no colon at the end."""
    return not _MARKER.match(line) and not _ends_like_a_sentence(line) and not line.endswith((":", "："))


def _line_kinds(lines: list[str], titles: set[str]) -> list[LineKind]:
    """Each line's kind, with what one line cannot tell: code blocks and record titles."""
    kinds = [line_kind(line) for line in lines]
    closing: str | None = None
    for i, line in enumerate(lines):
        bare = line.strip()
        if closing is not None:
            kinds[i] = "code"
            if (closing == "```" and _FENCE.match(bare)) or (closing != "```" and closing in bare):
                closing = None
        elif _FENCE.match(bare):
            kinds[i], closing = "code", "```"
        elif bare.startswith(_DOCSTRING):
            kinds[i] = "code"
            if not (len(bare) > 3 and bare.endswith(bare[:3])):
                closing = bare[:3]
        elif kinds[i] == "prose" and _folded(bare) in titles:
            kinds[i] = "heading"
    # A line right under a heading (no blank line between) is its subtitle when it is no list item and
    # ends neither like a sentence nor with a colon (which opens what follows).
    headings = [kind == "heading" and bool(line.strip()) for kind, line in zip(kinds, lines, strict=True)]
    for i in range(1, len(lines)):
        if kinds[i] == "prose" and headings[i - 1] and _subtitle(lines[i].strip()):
            kinds[i] = "heading"
    # Unfenced code: a line between code lines (`#` comments skipped) is code unless it ends like a sentence.
    solid = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    for before, at, after in zip(solid, solid[1:], solid[2:], strict=False):
        if kinds[before] == kinds[after] == "code" and not lines[at].rstrip().endswith(_SENTENCE_END):
            kinds[at] = "code"
    return kinds


def _cues(text: str) -> dict[str, float]:
    """The finding cue groups a sentence carries, with their weights (figure and table numbers aside)."""
    bare = _REFERENCE.sub(" ", text)
    return {name: weight for name, weight, cue in _FINDING_CUES if cue.search(bare)}


def _lead(text: str) -> int:
    """How many characters of list markers, numbering, emoji and stray punctuation a sentence starts with."""
    at = 0
    while at < len(text):
        marker = _MARKER.match(text, at)
        if marker:
            at = marker.end()
        elif text[at].isspace() or text[at] in _STRAY or unicodedata.category(text[at]) in ("So", "Sk", "Mn", "Cf"):
            at += 1
        else:
            break
    return at


def _candidate(quote: str) -> bool:
    """Whether a sentence may be a claim at all (before it is scored)."""
    text = quote.replace("**", "").replace("__", "").strip()
    if line_kind(text) != "prose" or _MARKUP.search(text) or _fragment(text):
        return False
    if text.rstrip(_CLOSERS + " ").endswith(("?", ":", "？", "：")):
        return False
    long_enough = len(_CJK.findall(text)) >= 12 or len(text.split()) >= 7
    return long_enough and len(text) <= 400


def _sentences(data: str, titles: set[str]) -> list[_Sentence]:
    out: list[_Sentence] = []
    lines = data.split("\n")
    offset = 0
    for line, kind in zip(lines, _line_kinds(lines, titles), strict=True):
        sentences = _SENTENCE.finditer(line) if kind == "prose" else iter(())
        for m in sentences:
            start = m.start() + _lead(m.group(0))
            quote = line[start : m.end()].strip()
            if not quote or not _candidate(quote) or _folded(quote) in titles:
                continue
            text = quote.replace("**", "").replace("__", "").strip()
            cues = _cues(text)
            if _needs_a_stated_result(text) and not _STATED & cues.keys():
                continue
            score = sum(cues.values())
            if score > 0:
                out.append(_Sentence(quote=quote, text=text, score=score, position=offset + start))
        offset += len(line) + 1
    return out


def _matches(text: str, keywords: list[str]) -> int:
    lowered = text.lower()
    return sum(1 for k in keywords if k and k.lower() in lowered)


class Heuristic:
    """Answers `ref_triage` requests without a network or a key."""

    capabilities = Capabilities(modes=("none",), batch=False, sampling=False, offline=True, claim_language=False)
    endpoint = "offline"

    def __init__(self, domains: list[Domain], topics: list[Topic], max_claims: int, max_positions: int = 4) -> None:
        self.domains = domains
        self.topics = topics
        self.max_claims = max_claims
        self.max_positions = max_positions

    def _domain(self, text: str) -> str:
        scored = [(_matches(text, d.keywords), -i, d.slug) for i, d in enumerate(self.domains)]
        best = max(scored)
        if best[0] > 0:
            return best[2]
        slugs = [d.slug for d in self.domains]
        return "other" if "other" in slugs else slugs[-1]

    def _topic(self, text: str) -> str | None:
        for topic in self.topics:
            if _matches(text, topic.keywords + topic.tags) > 0:
                return topic.slug
        return None

    def _tags(self, text: str, domain: str) -> list[str]:
        tags: list[str] = []
        for word in _ACRONYM.findall(text):
            if word not in tags and len(word) <= 24:
                tags.append(word)
        domain_tag = domain.replace("-", " ").title()
        if domain_tag not in tags:
            tags.append(domain_tag)
        return tags[-6:] if len(tags) > 6 else tags

    def answer(self, user_message: str) -> dict[str, list[dict[str, Any]]]:
        found = _DATA.search(user_message)
        data = found.group(2) if found else ""
        citations: list[str] = []
        titles: set[str] = set()
        for line in user_message[: found.start() if found else 0].splitlines():
            rec = _RECORD_LINE.match(line)
            if rec:
                citations.append(rec.group("key"))
                if title := _folded(rec.group("title")):
                    titles.add(title)
                ids = [i.strip() for i in rec.group("ids").split(",") if i.strip() and i.strip() != "-"]
                # A paper's entry cites its own ids; a long record (a digest, a whole
                # page) cites only those its chunk names, not every one in the record.
                citations.extend(ids if len(ids) <= _OWN_IDS else [i for i in ids if i in data])
        best = sorted(_sentences(data, titles), key=lambda s: (-s.score, s.position))[: self.max_claims]
        claims: list[dict[str, Any]] = []
        for s in sorted(best, key=lambda s: s.position):
            lowered = s.text.lower()
            contested = any(cue in lowered for cue in _CONTEST_CUES)
            domain = self._domain(s.text)
            claims.append(
                {
                    "text": s.text,
                    "stance": "contested" if contested else "consensus",
                    "domain": domain,
                    "tags": self._tags(s.text, domain),
                    "topic": self._topic(s.text),
                    "citations": citations,
                    "quote": s.quote,
                }
            )
        return {"claims": claims}

    def report(self, user_message: str, max_positions: int) -> dict[str, list[dict[str, Any]]]:
        """An extractive debate map: statements are the topic's own claims, never new text."""
        found = _DATA.search(user_message)
        data = found.group(2) if found else ""
        claims = [m.groups() for m in _CLAIM_LINE.finditer(data.split("Claims (stance | text | citations):")[-1])]

        def statement(text: str, cites: str) -> dict[str, Any]:
            keys = [c.strip() for c in cites.split(",") if c.strip() and not _ARXIV_LIKE.match(c.strip())]
            return {"text": text, "evidence": text, "citations": keys}

        consensus = [(t, c) for stance, t, c in claims if stance == "consensus"]
        contested = [(t, c) for stance, t, c in claims if stance == "contested"]
        positions: list[dict[str, Any]] = []
        for i in range(0, len(contested) - 1, 2):
            if len(positions) == max_positions:
                break
            (stance_text, stance_cites), (counter_text, counter_cites) = contested[i], contested[i + 1]
            positions.append(
                {
                    "camp": " ".join(stance_text.split()[:6]),
                    "stance": statement(stance_text, stance_cites),
                    "counter": statement(counter_text, counter_cites),
                }
            )
        return {"headline_claims": [statement(t, c) for t, c in consensus[:3]], "positions": positions}

    async def complete(self, request: ModelRequest) -> ModelReply:
        user = "\n".join(m["content"] for m in request.messages if m["role"] == "user")
        if request.job == "topic_report":
            # Offline requests carry no format (mode `none`): the pipeline's limit is ours.
            text = json.dumps(self.report(user, self.max_positions), ensure_ascii=False)
        else:
            text = json.dumps(self.answer(user), ensure_ascii=False)
        return ModelReply(
            raw_text=text,
            endpoint_model=NAME,
            finish_reason="stop",
            prompt_tokens=0,
            completion_tokens=0,
            latency_ms=0,
        )

    async def close(self) -> None:
        return None
