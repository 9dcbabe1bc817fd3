"""The `heuristic` model: an offline, deterministic, extractive baseline.

It reads the same request a real model gets (the data between the boundary
lines and the records list) and answers in the same JSON schema. Triage claims
and quotes are sentences of the data; report statements are the topic's own
claims; nothing is invented. Stance, domain, tags and topic come from keyword
cues. It is labelled `heuristic` in provenance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from extract.config import Domain, Topic
from extract.models import ModelReply, ModelRequest
from extract.providers import Capabilities

NAME = "heuristic"

# More arXiv ids than a paper's entry has: the record gathers many papers.
_OWN_IDS = 3

_DATA = re.compile(r"^(<<<DATA-[0-9a-f]+>>>) BEGIN DATA\n(.*)\n\1 END DATA$", re.DOTALL | re.MULTILINE)
_CLAIM_LINE = re.compile(r"^- (consensus|contested) \| (.+?) \| ([^|\n]*)$", re.MULTILINE)
_ARXIV_LIKE = re.compile(r"^\d{4}\.\d{4,5}$")
_RECORD_LINE = re.compile(r"^- (?P<key>\S+) \| (?P<ids>[^|]*) \| ")
# A sentence ends at . ! ? followed by a space or the line's end, or at 。！？.
_SENTENCE = re.compile(r"[^\n]+?(?:[.!?]+(?=\s|$)|[。！？]+|$)", re.MULTILINE)
_LEAD = re.compile(r"^[\s>*\-•·#\d.)（(、]*")
_CODE = re.compile(r"(\bdef |\bimport |\breturn\b|[=]{2,}|\bself\.|[{};]\s*$|^\s*<img|</?\w+[^>]*>)")
_URLISH = re.compile(r"https?://\S+")
# Display math ($$...$$, \[...\]) is a formula, not a claim (validate rejects it as not_a_claim).
_DISPLAY_MATH = re.compile(r"^(?:\$\$|\\\[)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NUMBER = re.compile(r"\d")
_ACRONYM = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9\-]*\b")

_CLAIM_CUES = (
    "outperform",
    "improv",
    "better",
    "faster",
    "reduc",
    "increas",
    "achiev",
    "show",
    "demonstrat",
    "find",
    "found",
    "prove",
    "enable",
    "surpass",
    "beat",
    "match",
    "scale",
    "lead to",
    "leads to",
    "results in",
    "significant",
    "state-of-the-art",
    "sota",
    "than",
    "%",
    "x ",
    "×",
    "提升",
    "优于",
    "显著",
    "降低",
    "实现",
    "表明",
    "证明",
    "发现",
    "超过",
    "提高",
    "减少",
    "加速",
    "达到",
    "超越",
    "beter",
    "sneller",
    "tonen",
    "verbeter",
    "hoger",
    "lager",
)
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


def _sentences(data: str) -> list[_Sentence]:
    out: list[_Sentence] = []
    for m in _SENTENCE.finditer(data):
        raw = m.group(0)
        lead = _LEAD.match(raw)
        start = m.start() + (lead.end() if lead else 0)
        quote = data[start : m.end()].strip()
        if not quote or _CODE.search(quote) or _URLISH.search(quote) or _DISPLAY_MATH.match(quote):
            continue
        text = quote.replace("**", "").replace("__", "").strip()
        cjk = len(_CJK.findall(text))
        words = len(text.split())
        long_enough = cjk >= 12 or (cjk == 0 and words >= 7)
        if not long_enough or len(text) > 400:
            continue
        lowered = text.lower()
        score = sum(1.0 for cue in _CLAIM_CUES if cue in lowered)
        score += 1.0 if _NUMBER.search(text) else 0.0
        if score == 0:
            continue
        out.append(_Sentence(quote=quote, text=text, score=score, position=m.start()))
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
        for line in user_message[: found.start() if found else 0].splitlines():
            rec = _RECORD_LINE.match(line)
            if rec:
                citations.append(rec.group("key"))
                ids = [i.strip() for i in rec.group("ids").split(",") if i.strip() and i.strip() != "-"]
                # A paper's entry cites its own ids; a long record (a digest, a whole
                # page) cites only those its chunk names, not every one in the record.
                citations.extend(ids if len(ids) <= _OWN_IDS else [i for i in ids if i in data])
        best = sorted(_sentences(data), key=lambda s: (-s.score, s.position))[: self.max_claims]
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
