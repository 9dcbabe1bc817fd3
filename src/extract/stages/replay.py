"""Replaying an answer validated before, instead of parsing and validating it again.

Validating a triage answer for a chunk yields observations and rejects whose ids derive
from the answer and the chunk alone (`extract.stages.extract`), so a re-run that replays
the same answer makes the same ids, all stored already: today's run only links them.
Each outcome (those ids, and the rejects' reasons for the summary) is recorded
(`store.outcomes`) under a key of everything else that decides it (`validator_key`): the
source of the code that parses and validates an answer, and the pipeline settings that
code reads. A re-run replays an outcome only for the same answer (request hash, answer
number, and the hash of its text), the same chunk and the same key, and only when its
observations and rejects are all stored; anything else is validated as before. `run
--topic` keeps one topic's observations only, so it neither replays nor records outcomes.

What the stored observations say (topic, flags, citations) was decided when they were
stored; a replay, validated again or not, never changes it.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from extract.config import Pipeline
from extract.hashing import sha256_json, sha256_text

# The modules whose code decides what an answer yields: any change to one of them
# validates every answer again.
VALIDATOR_MODULES = (
    "extract.hashing",
    "extract.linekind",
    "extract.schemas",
    "extract.stages.extract",
    "extract.stages.ingest.metadata",
    "extract.stages.replay",
    "extract.stages.support",
    "extract.stages.topics",
    "extract.stages.validate",
    "extract.store.visibility",
)


@functools.cache
def code_version() -> str | None:
    """The hash of the validating modules' source, or None when a source cannot be read
    (then nothing is replayed)."""
    sources: dict[str, str] = {}
    for name in VALIDATOR_MODULES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            return None
        try:
            sources[name] = sha256_text(Path(origin).read_text(encoding="utf-8"))
        except OSError:
            return None
    return sha256_json(sources)


def validator_key(pipeline: Pipeline) -> str | None:
    """The key outcomes are recorded and replayed under: the validating code and the
    settings it reads (taxonomy, topics, extract settings); None: no replays."""
    code = code_version()
    if code is None:
        return None
    return sha256_json(
        {
            "code": code,
            "domains": pipeline.domain_slugs(),
            "topics": [t.model_dump(mode="json") for t in pipeline.topics],
            "extract": pipeline.extract.model_dump(mode="json"),
        }
    )
