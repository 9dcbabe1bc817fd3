"""Synthetic observations in the SPEC's import format, for the report at scale.

Every claim has its own words and number, so none merges with another; one claim in
five is observed again by other models (identical text, so those merge into it).
About a third cite nothing (the hide rule hides them) and two in five are contested.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DOMAINS = ("data", "scaling", "training", "arch", "inference", "systems", "evaluation", "alignment", "agents", "other")
TOPICS = tuple(f"topic-{i:02d}" for i in range(20))
TAGS = tuple(f"Tag {i}" for i in range(300))
WORDS = tuple(f"w{i}" for i in range(20000))
MODELS = ("gpt-5.4", "claude-opus-4.7", "qwen3-235b")


def synthetic_observations(n_claims: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n_claims):
        text = f"Claim {i}: " + " ".join(rng.sample(WORDS, 14)) + f" by {i % 97 + 3}%."
        cited = rng.random() > 0.33
        row = {
            "text": text,
            "stance": "contested" if rng.random() < 0.4 else "consensus",
            "kind": "ref_triage",
            "topic": rng.choice(TOPICS) if rng.random() < 0.7 else None,
            "field_path": None,
            "model": MODELS[0],
            "quote": f"Evidence {i}: " + " ".join(rng.sample(WORDS, 30)),
            "domain": rng.choice(DOMAINS),
            "tags": rng.sample(TAGS, rng.randint(1, 4)),
            "citations": [f"{2300 + i // 10000:04d}.{i % 10000:05d}", f"Key{i}Paper"] if cited else [],
            "extracted_at": f"2026-03-{1 + i % 28:02d}",
        }
        rows.append(row)
        if i % 5 == 0:
            rows.extend({**row, "model": model} for model in MODELS[1 : 1 + rng.randint(1, 2)])
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
