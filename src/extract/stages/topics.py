"""Topics: which declared topic a triage claim belongs to.

The model's `topic` wins when it names a declared topic; otherwise the topic's
filters decide: its documents (path globs), its tags, then its keywords found in
the claim's text, tags or record title. The first matching topic in the
pipeline's order is taken.
"""

from __future__ import annotations

import fnmatch
import unicodedata

from extract.config import Topic


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def assign_topic(
    topics: list[Topic], proposed: str | None, text: str, tags: tuple[str, ...], title: str, doc_path: str
) -> str | None:
    declared = {t.slug for t in topics}
    if proposed in declared:
        return proposed
    haystack = _fold(" ".join([text, title, *tags]))
    folded_tags = {_fold(t) for t in tags}
    for topic in topics:
        if topic.documents and not any(fnmatch.fnmatch(doc_path, p) or doc_path.endswith(p) for p in topic.documents):
            continue
        if topic.documents and not topic.keywords and not topic.tags:
            return topic.slug
        if folded_tags & {_fold(t) for t in topic.tags}:
            return topic.slug
        if any(_fold(k) in haystack for k in topic.keywords if k):
            return topic.slug
    return None
