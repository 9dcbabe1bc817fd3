"""The hide rule: a claim none of whose observations carries a source a reader can follow
(an arXiv id, a URL, the key of a record that has one) and that anchors no camp is hidden,
by `extract claims --visible` and by default in the claims browser; an uncited report
statement neither sources nor anchors its claim, and an arXiv id or URL a triage claim
made up (no record's, not in its chunk) is no source."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import Result

from chromium import Opened
from fake_openai import FakeOpenAI
from pipelines import chunk_data, first_sentence, run_cli, write_pipeline

DUMP = (
    "## Flash kernels\nhttps://arxiv.org/abs/2307.08691\n"
    "The fused kernel gives a 2x speedup on long sequences.\n\n"
    "## Forum thread\nSomeone on a forum says fused kernels are overrated for small batches.\n\n"
    "## Kernel benchmarks\nhttps://example.org/bench\nA page of kernel timings on several GPUs, kept up to date.\n"
)
TOPICS = '[[topics]]\nslug = "kernels"\ntitle = "Kernels"\nkeywords = ["kernel"]\n'
_KEY = re.compile(r"^- (\S+) \| ", re.MULTILINE)

# Triage claims: text -> what it cites (`{key}`: the key of the record it was read from).
PAPER = "Fusion speeds up long sequences."  # read from a paper with an arXiv link, citing it
FORUM = "Kernels are overrated for small batches."  # read from a thread without a link, citing it
UNKNOWN = "Small batches gain nothing from fusion."  # citing a key no record has
LINKED = "A forum post links a benchmark page."  # citing a URL, a record's (the benchmarks page)
MADE_UP = "2401.99999"  # an arXiv id no record has and the thread does not state
INVENTED = "Fused kernels waste memory bandwidth."  # citing the made-up arXiv id
INVENTED_URL = "Fusion hurts small batches on every GPU."  # citing a made-up URL
TRIAGE = {
    PAPER: "{key}",
    FORUM: "{key}",
    UNKNOWN: "Bogus2099Key",
    LINKED: "https://example.org/bench",
    INVENTED: f"arXiv:{MADE_UP}",
    INVENTED_URL: "https://example.org/made-up",
}
HEADLINE = "Forum users doubt fusion."  # cites the thread's key: of the topic, but no source to follow
ECHO = "A benchmark paper confirms the slowdown."  # cites the made-up arXiv id, which is no citation of the topic
STANCE = "Fusion is overrated."  # cites nothing: uncited, no anchor although a camp's stance
COUNTER = "Fusion speeds up long inputs."  # cites the paper and the paper's claim
VISIBLE = {PAPER, LINKED, COUNTER}
HIDDEN = {FORUM, UNKNOWN, INVENTED, INVENTED_URL, HEADLINE, ECHO, STANCE}


def _triage(request: dict[str, Any]) -> dict[str, Any]:
    data = chunk_data(request)
    listed = _KEY.search(request["messages"][1]["content"])
    assert listed
    if "Kernel benchmarks" in data:
        return {"claims": []}
    texts = [PAPER] if "Flash" in data else [FORUM, UNKNOWN, LINKED, INVENTED, INVENTED_URL]
    base = {"stance": "consensus", "domain": "training", "tags": ["Kernels"], "topic": "kernels"}
    return {
        "claims": [
            {**base, "text": t, "quote": first_sentence(data), "citations": [TRIAGE[t].format(key=listed.group(1))]}
            for t in texts
        ]
    }


def _report(request: dict[str, Any]) -> dict[str, Any]:
    data = chunk_data(request)
    keys = dict(re.findall(r"^- (\S+) \| [^|]* \| (Flash kernels|Forum thread)$", data, re.MULTILINE))
    paper_key = next(k for k, title in keys.items() if title == "Flash kernels")
    forum_key = next(k for k, title in keys.items() if title == "Forum thread")
    found = re.search(rf"^- consensus \| {re.escape(PAPER)} \| (c-[0-9a-f]{{10}})", data, re.MULTILINE)
    assert found, data
    # What a claim cites is listed for the report to repeat, but not what names nothing.
    assert "https://example.org/bench" in data and MADE_UP not in data and "made-up" not in data, data
    return {
        "headline_claims": [
            {"text": HEADLINE, "evidence": "The thread.", "citations": [forum_key]},
            {"text": ECHO, "evidence": "A claim of the topic.", "citations": [MADE_UP]},
        ],
        "positions": [
            {
                "camp": "fusion sceptics",
                "stance": {"text": STANCE, "evidence": "No source.", "citations": []},
                "counter": {"text": COUNTER, "evidence": "The paper.", "citations": [paper_key, found.group(1)]},
            }
        ],
    }


@dataclass(frozen=True)
class Run:
    db: Path
    ids: dict[str, str]  # claim text -> claim id


def _cli(*args: str) -> Result:
    """A command in a thread of its own: Playwright keeps an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(run_cli, *args).result()
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    work = tmp_path_factory.mktemp("hide")
    (work / "dumps").mkdir()
    (work / "dumps" / "a.md").write_text(DUMP, encoding="utf-8")
    db = work / "claims.duckdb"

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request["response_format"]["json_schema"]["name"] == "topic_report":
            return _report(request)
        return _triage(request)

    with FakeOpenAI(answer) as server:
        pipeline = write_pipeline(work, base_url=server.base_url, inputs=[work / "dumps"], extra=TOPICS)
        _cli("run", str(pipeline), "--db", str(db), "--quiet")
    claims = json.loads(_cli("claims", "--db", str(db), "--json").stdout)
    ids = {c["text"]: c["claim_id"] for c in claims}
    assert set(ids) == VISIBLE | HIDDEN  # nothing merged, nothing rejected
    return Run(db, ids)


def test_claims_visible_applies_the_hide_rule(run: Run) -> None:
    shown = {c["text"] for c in json.loads(_cli("claims", "--visible", "--db", str(run.db), "--json").stdout)}
    # The dashboard's old reading (any citation, or any camp) showed FORUM, UNKNOWN and STANCE too.
    assert shown == VISIBLE


def test_made_up_arxiv_ids_and_urls_are_flagged_and_no_source(run: Run) -> None:
    with duckdb.connect(str(run.db), read_only=True) as con:
        rows = con.execute("SELECT text, citations, flags FROM observations ORDER BY text").fetchall()
    flags = {text: (citations, flagged) for text, citations, flagged in rows}
    assert flags[INVENTED] == ([MADE_UP], [f"unknown_citation:{MADE_UP}"])
    assert flags[INVENTED_URL] == (["https://example.org/made-up"], ["unknown_citation:https://example.org/made-up"])
    assert flags[LINKED] == (["https://example.org/bench"], [])  # the benchmarks record's URL
    # The report may not repeat a made-up id as a source: dropped, and the statement is uncited.
    assert flags[ECHO] == ([], [f"unknown_citation:{MADE_UP}", "uncited"])


def test_the_browser_hides_them_by_default(run: Run, open_page: Callable[[Path], Opened]) -> None:
    html = run.db.with_name("claims.html")
    _cli("report", "--db", str(run.db), "--out", str(html))
    opened = open_page(html)
    page = opened.page
    page.wait_for_selector("html[data-ready='1']")

    def shown() -> set[str]:
        return set(page.eval_on_selector_all(".claim", "els => els.map(e => e.dataset.claimId)"))

    assert shown() == {run.ids[t] for t in VISIBLE}
    assert page.eval_on_selector(".stat-hidden", "e => e.dataset.value") == str(len(HIDDEN))
    toggle = page.locator(".hidden-note")
    assert toggle.inner_text().startswith(f"Show the {len(HIDDEN)} hidden claims")
    page.check(".show-hidden")
    assert shown() == set(run.ids.values())
    for text in HIDDEN:
        assert page.locator(f"#claim-{run.ids[text]} .hidden-mark").inner_text() == "hidden"
    # The counter rests on the paper's claim: an in-page link to its card, not a paper source.
    counter = page.locator(f"#claim-{run.ids[COUNTER]}")
    assert counter.locator(".cited-claims a").get_attribute("href") == f"#claim-{run.ids[PAPER]}"
    assert counter.locator(".sources-label").first.inner_text() == "Sources · 2"  # the key and the arXiv id
    assert opened.errors == [] and opened.violations() == []
