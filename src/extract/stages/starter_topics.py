"""Starter topics: the terms that recur across record titles (the dumps' headings),
proposed as the topics of a new pipeline file (`extract init`).

A term is a word, two adjacent words, or 2 to `CJK_LONGEST` adjacent CJK characters (CJK
text has no spaces to find words by). Words are folded (NFKC, casefold), a plural `s` is dropped
and hyphens are ignored, so `KV-Cache`, `KV cache` and `kv caches` are one term. Function
words, and words that fit every title in this field (`model`, `language`, `learning`,
...), make no term. A term counts once per title that holds it and is proposed when at
least `MIN_TITLES` titles share it.

The choice is deterministic: terms in order of titles (most first), then size (longer
first, so a pair that always appears together beats its single words), then
alphabetically. A term is left out when most of its titles hold a term already taken
that contains it or is contained in it (it would add nothing), or a frequent longer term
that contains it (`law` within `scaling law`: the word alone says little).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_TOPICS = 8
MIN_TITLES = 2
EXAMPLES = 2
CJK_LONGEST = 8

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:-[^\W_]+)*")
_PART = re.compile(r"[^\W_]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words(
    """a about above across after against all also among an and any are as at be been before being between
    beyond both but by can could did do does doing during each et al etc few for from further had has have how
    i if in into is it its just less may might more most much must need no nor not of off on once one only or
    other our out over own per same should so some such than that the their them then there these they this
    those through to too toward towards two under until up upon us very via vs was we were what when where
    which while who whom why will with within without would yet you your"""
)
# Words every title in this field may hold: they name no topic.
_GENERIC = _words(
    """ai approach analysis arxiv better deep effective efficient framework github http https improve improved
    improving language large learning llm lm make method model new network neural optimal paper preview report
    simple study survey system technical use using www"""
)
_CJK_STOP = _words(
    """一个 一种 什么 以及 基于 如何 我们 技术 方法 最新 模型 大模型
    研究 论文 进行 通过 问题 发布 实现 为什么 全新"""
)


@dataclass(frozen=True)
class StarterTopic:
    """A proposed topic: its slug, a title (the term as the titles spell it most),
    the keywords a claim's text or record title is matched on, and how many titles
    hold the term, with a few of them as examples."""

    slug: str
    title: str
    keywords: tuple[str, ...]
    titles: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class _Term:
    key: str  # identity: folded, stemmed parts joined with nothing
    form: str  # how this title spells it
    size: int  # words or CJK characters


def starter_topics(titles: Iterable[str], limit: int = MAX_TOPICS) -> list[StarterTopic]:
    """Up to `limit` topics from the terms most titles share (see the module docstring)."""
    listed = list(titles)
    holders: dict[str, set[int]] = defaultdict(set)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    sizes: dict[str, int] = {}
    for index, title in enumerate(listed):
        for term in _terms(title):
            holders[term.key].add(index)
            forms[term.key][term.form] += 1
            sizes[term.key] = max(sizes.get(term.key, 0), term.size)
    frequent = sorted(
        (key for key, held in holders.items() if len(held) >= MIN_TITLES),
        key=lambda key: (-len(holders[key]), -sizes[key], key),
    )

    def mostly_within(key: str, other: str) -> bool:
        """Most of `key`'s titles hold `other`, which contains it or is contained in it."""
        overlap = other != key and (key in other or other in key)
        return overlap and 2 * len(holders[key] & holders[other]) > len(holders[key])

    taken: list[str] = []
    for key in frequent:
        if len(taken) == limit:
            break
        # Left out: a term said by one already taken, and a word mostly said within a phrase.
        if any(mostly_within(key, t) for t in taken):
            continue
        if any(len(o) > len(key) and mostly_within(key, o) for o in frequent):
            continue
        taken.append(key)
    topics: list[StarterTopic] = []
    slugs: set[str] = set()
    for key in taken:
        spelled = sorted(forms[key].items(), key=lambda item: (-item[1], item[0]))
        form = spelled[0][0]
        slug = _unique(_slug(form) or f"topic-{len(topics) + 1}", slugs)
        title = form[0].upper() + form[1:] if form[:1].islower() else form
        examples = tuple(dict.fromkeys(listed[i] for i in sorted(holders[key])))[:EXAMPLES]
        topics.append(StarterTopic(slug, title, _keywords(f for f, _ in spelled), len(holders[key]), examples))
    return topics


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _terms(title: str) -> Iterator[_Term]:
    """Every term of one title: its words, adjacent pairs of words, and CJK n-grams."""
    latin = _CJK.sub(" | ", title)  # a CJK run parts the words on either side
    words = list(_WORD.finditer(latin))
    previous: tuple[re.Match[str], list[str]] | None = None
    for match in words:
        parts = _stems(match.group())
        if len("".join(parts)) >= 3 and _telling(parts):
            yield _Term("".join(parts), match.group(), len(parts))
        if previous is not None and latin[previous[0].end() : match.start()].isspace():
            pair = previous[1] + parts
            if _telling(previous[1]) and _telling(parts):  # `KV cache`: a short word is fine beside another
                yield _Term("".join(pair), f"{previous[0].group()} {match.group()}", len(pair))
        previous = (match, parts)
    for run in _CJK.findall(title):
        for n in range(2, min(len(run), CJK_LONGEST) + 1):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                if gram not in _CJK_STOP:
                    yield _Term(gram, gram, n)


def _stems(word: str) -> list[str]:
    """A word's folded parts (split at hyphens), the last without a plural `s`."""
    parts = _PART.findall(_fold(word))
    last = parts[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is", "ias")) and last not in _STOP:
        parts[-1] = last[:-1]
    return parts


def _telling(parts: list[str]) -> bool:
    """A word may name something: it is not only function or generic words."""
    return not all(p in _STOP or p in _GENERIC for p in parts)


def _keywords(forms: Iterable[str]) -> tuple[str, ...]:
    """What `assign_topic` matches (a folded substring): each spelling without its plural
    `s`, and a two-part term spaced, hyphenated and joined; none holding another."""
    found: list[str] = []
    for form in forms:
        folded = _fold(form)
        parts = _stems(form)
        if len(parts) == 2:
            found += [" ".join(parts), "-".join(parts), "".join(parts)]
        else:  # one word, a CJK run, or a compound kept as it is spelled
            found.append(folded if parts[-1] == _PART.findall(folded)[-1] else folded[:-1])
    unique = list(dict.fromkeys(found))
    return tuple(k for k in unique if not any(other != k and other in k for other in unique))


def _slug(form: str) -> str:
    ascii_form = unicodedata.normalize("NFKD", _fold(form)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_form).strip("-")


def _unique(slug: str, taken: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    taken.add(candidate)
    return candidate
