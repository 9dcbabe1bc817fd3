"""Record metadata: arXiv ids, URLs, citation keys and record ids.

This module owns the identifier schemes: how an arXiv id is normalised, what
counts as a URL, how an `AuthorYearWord`-like citation key is built and made
unique, and how a record id derives from its document and offsets.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Set as AbstractSet
from string import ascii_lowercase

# An id needs an arXiv context (URL or `arXiv` prefix): a bare `2402.01035` or
# a date like `2025.11.25` is not taken. Versions (`v2`) and `.pdf` are dropped.
# Matched against lowercased text; every alternative starts with a literal so
# the regex engine can skip ahead quickly on multi-megabyte records; repeats
# are bounded so that no input makes it backtrack quadratically.
_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})(?!\d)"
_OLD_ID = r"(?P<old>[a-z][a-z-]{0,15}(?:\.[a-z]{2})?/\d{7})(?!\d)"
_ARXIV = re.compile(
    r"(?:arxiv(?:\.org/(?:abs|pdf|html|format)/|[ \t]{0,3}[:：]?[ \t]{0,3})"
    r"|huggingface\.co/papers/"
    r"|alphaxiv\.org/(?:abs|overview|pdf)/)"
    rf"(?:{_NEW_ID}|{_OLD_ID})"
)

# ASCII only: CJK text often follows a URL without a space.
_URL = re.compile(r"https?://[!#-&(-;=?-~]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?*'\"`"
_CLOSERS = {")": "(", "]": "[", "}": "{"}

STOPWORDS = frozenset(
    {"a", "an", "the", "of", "for", "and", "on", "in", "with", "to", "is", "are",
     "at", "by", "from", "via", "as", "or", "its", "your"}
)  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# No leading look-behind: it would defeat the engine's literal-prefix scan.
_YEAR = re.compile(r"(?:19[5-9]|20[0-3])\d(?!\d)")
_MAX_WORD = 20


def arxiv_ids(text: str) -> tuple[str, ...]:
    """Normalised arXiv ids in `text` (`2402.01035`, `hep-th/9901001`), first-seen order."""
    seen: dict[str, None] = {}
    for m in _ARXIV.finditer(text.lower()):
        new = m.group("new")
        if new is not None:
            if not 1 <= int(new[2:4]) <= 12:
                continue  # YYMM with an impossible month: not an arXiv id
            seen.setdefault(new, None)
        else:
            archive, number = m.group("old").split("/")
            name, _, subject = archive.partition(".")
            canonical = f"{name}.{subject.upper()}" if subject else name
            seen.setdefault(f"{canonical}/{number}", None)
    return tuple(seen)


def urls(text: str) -> tuple[str, ...]:
    """http(s) URLs in `text`, trailing punctuation and unbalanced closers stripped."""
    seen: dict[str, None] = {}
    for m in _URL.finditer(text):
        url = _strip_trailing(m.group(0))
        if url.partition("://")[2]:  # not just a scheme left after stripping
            seen.setdefault(url, None)
    return tuple(seen)


def _strip_trailing(url: str) -> str:
    opened = {closer: url.count(opener) for closer, opener in _CLOSERS.items()}
    closed = {closer: url.count(closer) for closer in _CLOSERS}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last in _CLOSERS and opened[last] < closed[last]:
            # An unbalanced closer belongs to the text around the URL: `[x](url)`.
            closed[last] -= 1
            end -= 1
        else:
            break
    return url[:end]


def citation_key(title: str, arxiv_ids: tuple[str, ...], text: str, taken: AbstractSet[str]) -> str:
    """An `AuthorYearWord`-like key (`Limi2025Less`), unique against `taken`.

    First significant Latin word of the title, the year (from the first arXiv
    id, else the first plausible year in `text`, else `nd`), then the next
    significant word. Titles without a Latin word get `Rec` + 6 hex of their hash.
    Taken keys get a suffix `a`, `b`, ... Does not modify `taken`.
    """
    return unique_key(base_key(title, arxiv_ids, text), taken)[0]


def base_key(title: str, arxiv_ids: tuple[str, ...], text: str) -> str:
    """`citation_key` before disambiguation."""
    words = [_cap(w) for w in _WORD.findall(title) if w.lower() not in STOPWORDS]
    if words:
        first, second = words[0], words[1] if len(words) > 1 else ""
    else:
        digest = hashlib.sha256(title.encode("utf-8")).hexdigest()
        first, second = f"Rec{digest[:6]}", ""
    return f"{first}{_year(arxiv_ids, text)}{second}"


def unique_key(base: str, taken: AbstractSet[str], skip: int = 0) -> tuple[str, int]:
    """The first of `base`, `base`+a, `base`+b, ... not in `taken`, and its rank.

    `skip` ranks are known to be taken already (a caller's hint, so that many
    records sharing one base do not rescan the same suffixes).
    """
    rank = skip
    while base + _suffix(rank) in taken:
        rank += 1
    return base + _suffix(rank), rank


def record_id(doc_sha256: str, char_start: int, char_end: int) -> str:
    """`r-` + 12 hex of sha256 over the document hash and the record's offsets."""
    digest = hashlib.sha256(f"{doc_sha256}:{char_start}:{char_end}".encode()).hexdigest()
    return "r-" + digest[:12]


def _cap(word: str) -> str:
    word = word[:_MAX_WORD]
    return word[0].upper() + word[1:].lower()


def _year(arxiv: tuple[str, ...], text: str) -> str:
    if arxiv:
        yy = arxiv[0].split("/")[-1][:2]
        # Old-style ids (`hep-th/9901001`) date from 1991 to 2007.
        return ("19" if "/" in arxiv[0] and int(yy) >= 91 else "20") + yy
    for m in _YEAR.finditer(text):
        if m.start() == 0 or not text[m.start() - 1].isdigit():
            return m.group(0)
    return "nd"


def _suffix(rank: int) -> str:
    """Rank 0 -> "", then a..z, aa, ab, ... (bijective base 26): deterministic."""
    letters: list[str] = []
    while rank > 0:
        rank, rem = divmod(rank - 1, 26)
        letters.append(ascii_lowercase[rem])
    return "".join(reversed(letters))
