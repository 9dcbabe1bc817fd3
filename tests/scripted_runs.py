"""Runs made against the local fake endpoint with scripted differences, for the diff tests.

Model `model-a` answers with one script and `model-b` with another that differs on
purpose, one change kind per paper; `model-a2` answers like `model-a` through new
requests. Five runs go into one database: A, B, A again under another model name, A
replayed from the cache, and B's `run --topic kernels` (replayed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fake_openai import FakeOpenAI
from pipelines import chunk_data, run_cli, write_pipeline

TOPICS = """
[[topics]]
slug = "kernels"

[[topics]]
slug = "data"

[report]
enabled = false
"""

# One record per paper, two sentences each; the claim texts share no words, so the
# merge stage keeps them apart, and each keeps its id across models.
PAPERS = {
    "Alpha": "Alpha kernels fuse attention into one pass. Alpha also trims launch overhead.",
    "Bravo": "Bravo quantisation keeps quality intact. Bravo needs calibration data.",
    "Charlie": "Charlie routing balances expert load. Charlie drops fewer tokens.",
    "Delta": "Delta caching reuses prefix states. Delta saves memory on long prompts.",
    # Echo's record states the arXiv ids its claims cite (one in each run): a cited id the
    # paper does not state would be a made-up citation, no source for the hide rule.
    "Echo": "Echo filtering removes duplicate pages. Echo keeps rare languages. Echo cites 2307.08691 and 2205.14135.",
    "Foxtrot": "Foxtrot mixtures weight sources by quality. Foxtrot upsamples code.",
    "Golf": "Golf curation prefers textbooks over forums. Golf lists are small.",
    "Hotel": "Hotel synthetic corpora rival crawled text. Hotel prompts vary widely.",
}


@dataclass(frozen=True)
class Scripted:
    stance: str = "consensus"
    domain: str = "training"
    tags: tuple[str, ...] = ("Shared",)
    citations: tuple[str, ...] = ()
    sentence: int = 0  # which sentence of the paper is quoted


TOPIC = {"Alpha": "kernels", "Bravo": "kernels", "Charlie": "kernels", "Delta": "kernels"}

# Run A's answers; run B's differ on purpose, one change kind per paper (Alpha: none).
ANSWERS_A: dict[str, Scripted | None] = {
    "Alpha": Scripted(),
    "Bravo": Scripted(),
    "Charlie": Scripted(),
    "Delta": Scripted(tags=("Shared", "Speed")),
    "Echo": Scripted(citations=("2307.08691",)),
    "Foxtrot": Scripted(),
    "Golf": Scripted(),
    "Hotel": None,
}
ANSWERS_B: dict[str, Scripted | None] = {
    **ANSWERS_A,
    "Bravo": Scripted(stance="contested"),
    "Charlie": Scripted(domain="arch"),
    "Delta": Scripted(tags=("Shared", "Memory")),
    "Echo": Scripted(citations=("2205.14135",)),
    "Foxtrot": Scripted(sentence=1),
    "Golf": None,
    "Hotel": Scripted(),
}
EXPECTED_KINDS = {
    "Bravo": ["stance-flip"],
    "Charlie": ["domain"],
    "Delta": ["tags"],
    "Echo": ["citations"],
    "Foxtrot": ["evidence"],
    "Golf": ["dropped"],
    "Hotel": ["new"],
}


@dataclass(frozen=True)
class Script:
    """Papers (title -> two sentences) and what each model answers about them."""

    papers: Mapping[str, str]
    answers_a: Mapping[str, Scripted | None]
    answers_b: Mapping[str, Scripted | None]

    def sentence(self, paper: str, n: int) -> str:
        return self.papers[paper].split(". ")[n].rstrip(".") + "."

    def answer(self, request: dict[str, Any]) -> str:
        """Model `model-b` answers with answers_b, every other model with answers_a."""
        data = chunk_data(request)
        paper = next(p for p in self.papers if self.papers[p] in data)
        scripted = (self.answers_b if request["model"] == "model-b" else self.answers_a)[paper]
        if scripted is None:
            return json.dumps({"claims": []})
        claim = {
            "text": f"{paper} claim: {self.papers[paper].split('. ')[0]}",
            "stance": scripted.stance,
            "domain": scripted.domain,
            "tags": list(scripted.tags),
            "topic": TOPIC.get(paper, "data"),
            "citations": list(scripted.citations),
            "quote": self.sentence(paper, scripted.sentence),
        }
        return json.dumps({"claims": [claim]})


SCRIPT = Script(PAPERS, ANSWERS_A, ANSWERS_B)


def sentence(paper: str, n: int) -> str:
    return SCRIPT.sentence(paper, n)


@dataclass(frozen=True)
class Runs:
    db: Path
    a: str  # model-a
    b: str  # model-b: every change kind
    a_again: str  # model-a2, the same answers as A through new requests
    a_cached: str  # model-a re-run: every answer replayed from the cache
    b_topic: str  # run --topic kernels with model-b (replayed)


def _run(pipeline: Path, db: Path, *args: str) -> str:
    result = run_cli("run", str(pipeline), "--quiet", "--json", "--db", str(db), *args)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["run_id"])


def make_runs(home: Path, script: Script = SCRIPT) -> Runs:
    """The five runs in one database under `home`."""
    dumps = home / "dumps"
    dumps.mkdir()
    (dumps / "papers.md").write_text(
        "# Papers\n\n" + "\n".join(f"## {title}\n{text}\n" for title, text in script.papers.items()),
        encoding="utf-8",
    )
    db = home / "claims.duckdb"
    answer: Callable[[dict[str, Any]], str] = script.answer
    with pytest.MonkeyPatch.context() as env, FakeOpenAI(answer) as server:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACT_MODEL"):
            env.delenv(name, raising=False)
        pipeline = write_pipeline(home, base_url=server.base_url, inputs=[dumps], model="model-a", extra=TOPICS)
        a = _run(pipeline, db)
        b = _run(pipeline, db, "--model", "model-b")
        a_again = _run(pipeline, db, "--model", "model-a2")
        calls = server.count()
        a_cached = _run(pipeline, db)
        b_topic = _run(pipeline, db, "--model", "model-b", "--topic", "kernels")
        assert server.count() == calls == 3 * len(script.papers)  # the last two runs only replayed answers
    return Runs(db, a, b, a_again, a_cached, b_topic)
