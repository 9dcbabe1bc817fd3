"""Content hashes and ids: every id in the database is derived here.

The rule: an id is a prefix plus the first hex digits of the SHA-256 of the
canonical JSON (sorted keys, no whitespace, UTF-8, no ASCII escaping) of what
identifies the thing. Claim ids are made by the merge stage
(`extract.stages.merge`) from the normalised text of a claim's first
observation, with `normalise_claim_text` below.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
# builds on every call, built once: ids are hashed for every imported line.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

# The shapes of the ids made here, for ids that come back in (an export, re-imported).
OBS_ID = re.compile(r"o-[0-9a-f]{12}")
CLAIM_ID = re.compile(r"c-[0-9a-f]{10}")


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, raw UTF-8: stable across runs and machines."""
    return _CANONICAL.encode(value)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(value: Any) -> str:
    return sha256_text(canonical_json(value))


def short_id(prefix: str, value: Any, digits: int = 12) -> str:
    return prefix + sha256_json(value)[:digits]


_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = " \t\n.,;:!?。！？，；：、\"'“”‘’()（）[]【】"


def normalise_claim_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed, edge punctuation stripped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip(_EDGE_PUNCT)
