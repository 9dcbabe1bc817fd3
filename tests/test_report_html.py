"""`extract report`: the claims browser, opened from file:// in Debian's chromium.

Counts on the page equal the database's, a filter shows exactly the matching claims,
and payloads planted in a dump reach the database yet run nothing in the page. The
payload check is shown able to fail: it catches the payloads once the page's escaping
or its text-only rendering is broken on purpose.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import Result
from playwright.sync_api import Page

from extract.browser import build_report
from extract.browser import page as page_module
from extract.store import open_database

from chromium import Opened
from fake_openai import FakeOpenAI
from pipelines import PROJECT_ROOT, chunk_data, run_cli, write_pipeline
from synthetic_claims import synthetic_observations, write_jsonl

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
LINK = "[click](javascript:window.__xss=1)"
BREAKOUT = "</script><script>window.__xss=1</script>"
PAYLOADS = (SCRIPT, IMG, LINK, BREAKOUT)
XSS_DUMP = PROJECT_ROOT / "fixtures" / "xss" / "payloads.md"

READY = "html[data-ready='1']"
ARXIV_HREF = re.compile(r"^https://arxiv\.org/abs/(?:\d{4}\.\d{4,5}|[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?/\d{7})$")
CURRENT = "claim_id IN (SELECT claim_id FROM current_observations)"
# The hide rule (every claim here has current observations): one of them anchors a camp
# or cites an arXiv id, a URL or a record with one (a citation flagged unknown aside), and is not flagged uncited.
VISIBLE = (
    f"{CURRENT} AND claim_id IN (SELECT o.claim_id FROM current_observations o"
    " WHERE NOT list_contains(o.flags, 'uncited') AND (o.camp IS NOT NULL"
    " OR len(list_filter(o.citations, lambda c: NOT list_contains(o.flags, 'unknown_citation:' || c) AND"
    r" regexp_matches(c, '^(\d{4}\.\d{4,5}|[a-z-]+/\d{7}|https?://.+)$'))) > 0"
    " OR EXISTS (SELECT 1 FROM records r WHERE len(r.arxiv_ids) + len(r.urls) > 0"
    " AND list_contains(o.citations, r.citation_key))))"
)
_NO_ENDPOINT: dict[str, str | None] = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "EXTRACT_MODEL": None}


def _extract(*args: str) -> Result:
    """Run a command in a thread of its own: Playwright keeps an event loop running in this
    one while the browser is open, and `extract run` starts its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(run_cli, *args, env=_NO_ENDPOINT).result()
    assert result.exit_code == 0, result.output
    return result


def _rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _ids(db: Path, where: str, params: list[Any] | None = None) -> set[str]:
    return {r[0] for r in _rows(db, f"SELECT claim_id FROM claims WHERE {where}", params)}


def _echo(request: dict[str, Any]) -> dict[str, Any]:
    """A model that repeats the chunk's hostile lines as claims, quoted verbatim (so grounded); not its
    headings, which validate rejects as no claim."""
    lines = [x.strip() for x in chunk_data(request).splitlines() if "window.__xss" in x and not x.startswith("#")]
    claim = {"stance": "contested", "domain": "training", "tags": [IMG, "Payload"], "topic": None}
    return {"claims": [{**claim, "text": x, "quote": x, "citations": ["javascript:window.__xss=1"]} for x in lines]}


def _imported_payloads() -> list[dict[str, Any]]:
    """Payloads in every field the page shows, through `extract import`."""
    return [
        {
            "text": f"An imported debate position quoting {SCRIPT} in its text.",
            "stance": "contested",
            "kind": "topic_report",
            "topic": SCRIPT,
            "field_path": "report.positions[0].stance",
            "camp": BREAKOUT,
            "model": IMG,
            "quote": f"Evidence carrying {BREAKOUT} and {LINK}.",
            "domain": IMG,
            "tags": [SCRIPT, LINK],
            "citations": [
                "javascript:window.__xss=1",
                'https://arxiv.org/abs/2310.01889"><script>window.__xss=1</script>',
            ],
            "source": "javascript:window.__xss=1",
        },
        {
            "text": f"{IMG} opens a claim that cites nothing but {LINK}, so the hide rule hides it.",
            "stance": "consensus",
            "kind": SCRIPT,
            "topic": None,
            "field_path": BREAKOUT,
            "model": "importer",
            "quote": IMG,
        },
    ]


@pytest.fixture(scope="module")
def xss_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile dump run through the heuristic, then through a model that echoes it, then
    payloads imported in every other field."""
    work = tmp_path_factory.mktemp("xss")
    db = work / "claims.duckdb"
    (work / "heuristic").mkdir()
    heuristic = write_pipeline(work / "heuristic", inputs=[XSS_DUMP], model="heuristic")
    _extract("run", str(heuristic), "--db", str(db), "--quiet")
    with FakeOpenAI(_echo, model="gpt-echo") as server:
        (work / "echo").mkdir()
        echo = write_pipeline(work / "echo", inputs=[XSS_DUMP], model="gpt-echo", base_url=server.base_url)
        _extract("run", str(echo), "--db", str(db), "--quiet")
    _extract("import", str(write_jsonl(work / "payloads.jsonl", _imported_payloads())), "--db", str(db))
    return db


@pytest.fixture(scope="module")
def xss_report(xss_db: Path) -> Path:
    out = xss_db.with_name("xss.html")
    _extract("report", "--db", str(xss_db), "--out", str(out))
    return out


MULTI = "Mixture-of-depths routing cuts inference compute by 50% at equal perplexity."


def _demo_extras() -> list[dict[str, Any]]:
    """What the demo lacks: a claim seen five times, hidden claims, a camp without a citation."""
    base = {"stance": "consensus", "kind": "ref_triage", "topic": None, "field_path": None, "model": "gpt-5.4"}
    models = ("gpt-5.4", "claude-opus-4.7", "qwen3-235b", "gpt-4o", "llama-4")
    return [
        *(
            {
                **base,
                "text": MULTI,
                "topic": "attention-kernels",
                "model": model,
                "quote": f"Quote {i} on mixture-of-depths routing.",
                "domain": "inference",
                "tags": ["MoD", "Compute"],
                "citations": ["2404.02258"],
                "extracted_at": f"2026-03-0{i + 1}",
            }
            for i, model in enumerate(models)
        ),
        {
            **base,
            "text": "Uncited claims like this one are hidden.",
            "quote": "q",
            "domain": "evaluation",
            "tags": ["Hide"],
        },
        {
            **base,
            "text": "An uncited contested claim is hidden too.",
            "stance": "contested",
            "quote": "q",
            "domain": "data",
        },
        {
            **base,
            "text": "Routers matter less than capacity.",
            "stance": "contested",
            "kind": "topic_report",
            "topic": "moe-routing",
            "field_path": "report.positions[1].counter",
            "camp": "capacity beats routing",
            "model": "claude-opus-4.7",
            "quote": "Random routers come close to learned ones.",
            "tags": ["MOE Routing"],
        },
        *(
            {
                **base,
                "text": text,
                "stance": "contested",
                "quote": text,
                "domain": "training",
                "tags": ["Schedule"],
                "citations": [arxiv],
            }
            for text, arxiv in (
                ("Warmup-free schedules match cosine decay at 7B scale.", "2405.18392"),
                ("Weight decay is unnecessary once batches exceed 4M tokens.", "hep-th/9901001"),
            )
        ),
    ]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The README's demo run plus the extras; (report, database)."""
    work = tmp_path_factory.mktemp("demo")
    db = work / "claims.duckdb"
    _extract("run", str(PROJECT_ROOT / "pipelines" / "demo.toml"), "--db", str(db), "--quiet")
    _extract("import", str(write_jsonl(work / "extras.jsonl", _demo_extras())), "--db", str(db))
    out = work / "claims.html"
    _extract("report", "--db", str(db), "--out", str(out))
    return out, db


def _shown(page: Page) -> list[str]:
    return list(page.eval_on_selector_all(".claim", "els => els.map(e => e.dataset.claimId)"))


def _matches(page: Page) -> int:
    return int(page.eval_on_selector(".match-count", "e => e.dataset.matches"))


def _stats(page: Page) -> dict[str, int]:
    pairs = page.eval_on_selector_all("[data-stat]", "els => els.map(e => [e.dataset.stat, e.dataset.value])")
    return {k: int(v) for k, v in pairs}


def _facets(page: Page) -> dict[str, dict[str, int]]:
    for toggle in page.locator(".facet-toggle", has_text="Show all").all():
        toggle.click()
    rows = page.eval_on_selector_all(
        ".facet-value", "els => els.map(e => [e.dataset.facet, e.dataset.value, e.dataset.count])"
    )
    out: dict[str, dict[str, int]] = {}
    for facet, value, count in rows:
        out.setdefault(facet, {})[value] = int(count)
    return out


def _click_facet(page: Page, facet: str, value: str) -> None:
    page.locator(f".facets .facet-value[data-facet='{facet}']").filter(
        has=page.locator(".facet-label", has_text=re.compile("^" + re.escape(value) + "$"))
    ).click()


def _search(page: Page, text: str) -> None:
    page.fill(".search", text)
    page.wait_for_function("q => document.querySelector('.match-count').dataset.query === q", arg=text)


def _embedded_data(html: Path) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html.read_text("utf-8"))
    assert found
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_payloads_reach_claims_and_evidence(xss_db: Path) -> None:
    claim_texts = " ".join(r[0] for r in _rows(xss_db, "SELECT text FROM claims"))
    evidence = _rows(xss_db, "SELECT model, job, alignment, quote, topic, domain, camp, tags FROM observations")
    quotes = " ".join(r[3] for r in evidence)
    for payload in PAYLOADS:
        assert payload in claim_texts and payload in quotes, payload
    # The heuristic quoted the markdown link verbatim from the dump; the echoing model
    # every payload, grounded (found at its offsets), and the import put them elsewhere.
    assert any(m == "heuristic" and LINK in q for m, _, _, q, *_ in evidence)
    echoed = [q for m, job, alignment, q, *_ in evidence if m != "heuristic" and job == "ref_triage"]
    assert all(any(p in q for q in echoed) for p in PAYLOADS)
    assert {(r[4], r[5], r[6], r[0]) for r in evidence if r[1] == "topic_report"} == {(SCRIPT, IMG, BREAKOUT, IMG)}


@pytest.mark.slow
def test_planted_payloads_show_as_text_and_run_nothing(open_page: Callable[[Path], Opened], xss_report: Path) -> None:
    opened = open_page(xss_report)
    page = opened.page
    page.wait_for_selector(READY)
    page.check(".show-hidden")  # the hidden claim too
    # Cards off screen are not rendered (content-visibility): make the screen hold them all.
    page.set_viewport_size({"width": 1400, "height": 40_000})
    for more in page.locator(".more-evidence").all():
        more.click()
    facets = _facets(page)
    assert SCRIPT in facets["topic"] and IMG in facets["domain"] and {SCRIPT, LINK, IMG} <= set(facets["tag"])
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    body = page.inner_text("body")  # the text as rendered, not the markup
    for payload in PAYLOADS:
        assert payload in body, payload
    hrefs = page.eval_on_selector_all("[href]", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs and all(ARXIV_HREF.match(h) for h in hrefs), hrefs
    assert "https://arxiv.org/abs/2310.01889" in hrefs  # from the hostile URL, only its validated id
    _click_facet(page, "tag", IMG)  # filtering by a payload is just a string comparison
    assert _matches(page) == len(_ids(xss_report.with_name("claims.duckdb"), "list_contains(tags, ?)", [IMG])) > 0

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert opened.dialogs == [] and opened.errors == [] and opened.violations() == []
    assert page.evaluate("[...document.scripts].map(s => [s.id, s.type, s.src])") == [
        ["report-data", "application/json", ""],
        ["", "", ""],
    ]
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => e.getAttributeNames()).filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    assert page.locator("img, iframe, frame, object, embed, svg, math, form, base, link, style + style").count() == 0
    assert opened.requests == [xss_report.as_uri()]


CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n')
TEXT_NODE = "node.append(child instanceof Node ? child : document.createTextNode(String(child)));"
AS_MARKUP = 'if (child instanceof Node) node.append(child); else node.insertAdjacentHTML("beforeend", String(child));'


@pytest.mark.parametrize("broken", ["data left unescaped", "text rendered as markup"])
def test_the_payload_check_fails_on_a_broken_page(
    open_page: Callable[[Path], Opened],
    xss_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    if broken == "data left unescaped":
        monkeypatch.setattr(page_module, "script_safe_json", lambda data: json.dumps(data, ensure_ascii=False))
    with open_database(xss_db, read_only=True) as db:
        html = build_report(db).html
    if broken == "text rendered as markup":
        assert TEXT_NODE in html
        html = html.replace(TEXT_NODE, AS_MARKUP)
    bare = tmp_path / "bare.html"
    bare.write_text(CSP_META.sub("", html, count=1), encoding="utf-8")
    guarded = tmp_path / "guarded.html"
    guarded.write_text(html, encoding="utf-8")

    # Without its policy the broken page runs a payload, and the check sees it.
    page = open_page(bare).page
    page.wait_for_function("window.__xss === 1", timeout=10_000)
    # With it, nothing runs even then, but the attempt is on record.
    opened = open_page(guarded)
    opened.page.wait_for_load_state("load")
    opened.page.wait_for_function("window.__violations.length > 0", timeout=10_000)
    assert opened.page.evaluate("typeof window.__xss") == "undefined"


def test_embedded_json_cannot_end_its_script_element() -> None:
    data = {"payloads": [*PAYLOADS, "a & b", "line\u2028separator\u2029", "<!--"]}
    text = page_module.script_safe_json(data)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == data


def test_header_and_facet_counts_equal_the_database(
    open_page: Callable[[Path], Opened], demo_report: tuple[Path, Path]
) -> None:
    html, db = demo_report
    [(claims, contested, domains)] = _rows(
        db, f"SELECT count(*), count_if(stance = 'contested'), count(DISTINCT domain) FROM claims WHERE {CURRENT}"
    )
    visible = _ids(db, VISIBLE)
    facet_sql = {
        "stance": "SELECT stance, count(*) FROM claims WHERE {} GROUP BY 1",
        "domain": "SELECT coalesce(domain, ''), count(*) FROM claims WHERE {} GROUP BY 1",
        "topic": "SELECT t, count(*) FROM (SELECT unnest(CASE WHEN len(topics) = 0 THEN [''] ELSE topics END) AS t"
        " FROM claims WHERE {}) GROUP BY 1",
        "tag": "SELECT t, count(*) FROM (SELECT unnest(tags) AS t FROM claims WHERE {}) GROUP BY 1",
    }
    expected_facets = {k: dict(_rows(db, sql.format(VISIBLE))) for k, sql in facet_sql.items()}

    page = open_page(html).page
    page.wait_for_selector(READY)
    assert _stats(page) == {
        "claims": claims,
        "contested": contested,
        "domains": domains,
        "hidden": claims - len(visible),
    }
    assert claims - len(visible) == 2  # the demo extras' two uncited claims
    assert _facets(page) == expected_facets
    assert _matches(page) == len(visible) == len(_shown(page))
    assert _embedded_data(html)["sections"]["claims"]["counts"] == _stats(page)


def test_filters_show_exactly_the_matching_claims(
    open_page: Callable[[Path], Opened], demo_report: tuple[Path, Path]
) -> None:
    html, db = demo_report
    page = open_page(html).page
    page.wait_for_selector(READY)
    everything = set(_shown(page))

    _click_facet(page, "stance", "contested")
    contested = _ids(db, f"{VISIBLE} AND stance = 'contested'")
    assert set(_shown(page)) == contested and 0 < len(contested) < len(everything)

    _click_facet(page, "domain", "training")
    assert set(_shown(page)) == _ids(db, f"{VISIBLE} AND stance = 'contested' AND domain = 'training'") != set()
    _click_facet(page, "stance", "contested")  # a second click removes the filter
    assert set(_shown(page)) == _ids(db, f"{VISIBLE} AND domain = 'training'")
    page.click(".clear-filters")
    assert set(_shown(page)) == everything

    _search(page, "FlashAttention")
    searched = _ids(
        db,
        f"{VISIBLE} AND (contains(lower(text), ?) OR contains(claim_id, ?)"
        " OR len(list_filter(citations, lambda c: contains(lower(c), ?))) > 0)",
        ["flashattention"] * 3,
    )
    assert set(_shown(page)) == searched and 0 < len(searched) < len(everything)
    _search(page, "")

    # A tag in a claim card filters too.
    page.locator(f".claim[data-claim-id='{sorted(everything)[0]}'] .chip-tag").first.click()
    tag = page.eval_on_selector(".facet-value.active[data-facet='tag']", "e => e.dataset.value")
    assert set(_shown(page)) == _ids(db, f"{VISIBLE} AND list_contains(tags, ?)", [tag])


def test_claim_cards_carry_sources_and_evidence(
    open_page: Callable[[Path], Opened], demo_report: tuple[Path, Path]
) -> None:
    html, db = demo_report
    page = open_page(html).page
    page.wait_for_selector(READY)
    [(multi, n_obs)] = _rows(db, "SELECT claim_id, n_obs FROM claims WHERE text = ?", [MULTI])
    assert n_obs == 5
    card = page.locator(f".claim[data-claim-id='{multi}']")
    assert card.locator(".badge").text_content() == "consensus"
    assert card.locator(".obs-count").text_content() == "5 observations"
    assert card.locator(".sources a").get_attribute("href") == "https://arxiv.org/abs/2404.02258"
    assert card.locator(".evidence-item").count() == 3
    card.get_by_role("button", name="+ 2 more").click()
    assert card.locator(".evidence-item").count() == 5
    assert card.locator(".evidence-head .model").all_text_contents() == [
        "gpt-5.4",
        "claude-opus-4.7",
        "qwen3-235b",
        "gpt-4o",
        "llama-4",
    ]
    camp = page.locator(".claim", has_text="Routers matter less than capacity.")
    assert camp.locator(".camp").text_content() == "[counter to Camp B: capacity beats routing]"
    assert camp.locator(".field-path").text_content() == "· report.positions[1].counter"
    old_style = page.locator(".claim", has_text="Weight decay is unnecessary")
    assert old_style.locator(".sources a").get_attribute("href") == "https://arxiv.org/abs/hep-th/9901001"


def test_run_option_keeps_the_claims_of_that_run(demo_report: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = demo_report
    runs = [r[0] for r in _rows(db, "SELECT run_id FROM runs ORDER BY started_at")]
    assert len(runs) == 2  # the demo run, the import
    for run_id in runs:
        out = tmp_path / f"{run_id}.html"
        _extract("report", "--db", str(db), "--run", run_id, "--out", str(out))
        section = _embedded_data(out)["sections"]["claims"]
        expected = _ids(db, "claim_id IN (SELECT claim_id FROM observations WHERE run_id = ?)", [run_id])
        assert section["run"] == run_id and {c["id"] for c in section["claims"]} == expected
        assert section["counts"]["claims"] == len(expected)
    result = run_cli("report", "--db", str(db), "--run", "run-nope", "--out", str(tmp_path / "x.html"))
    assert result.exit_code == 2 and result.output.strip() == "error: no run run-nope (list them with `extract runs`)"


@pytest.mark.slow
def test_ten_thousand_claims_load_and_filter(open_page: Callable[[Path], Opened], tmp_path: Path) -> None:
    db = tmp_path / "big.duckdb"
    _extract("import", str(write_jsonl(tmp_path / "big.jsonl", synthetic_observations(10_000))), "--db", str(db))
    html = tmp_path / "big.html"
    _extract("report", "--db", str(db), "--out", str(html))
    [(claims, contested)] = _rows(db, f"SELECT count(*), count_if(stance = 'contested') FROM claims WHERE {CURRENT}")
    assert claims == 10_000

    started = time.perf_counter()
    page = open_page(html).page
    page.wait_for_selector(READY, timeout=60_000)
    loaded = time.perf_counter() - started
    assert _stats(page)["claims"] == claims and _stats(page)["contested"] == contested
    assert len(_shown(page)) == 200  # a page of cards, not ten thousand

    started = time.perf_counter()
    _click_facet(page, "stance", "contested")
    assert _matches(page) == len(_ids(db, f"{VISIBLE} AND stance = 'contested'"))
    _search(page, "w1234")
    assert _matches(page) == len(_ids(db, f"{VISIBLE} AND stance = 'contested' AND contains(text, 'w1234')"))
    filtered = time.perf_counter() - started
    page.click(".clear-filters")
    before = len(_shown(page))
    page.click(".show-more")
    # Scrolling may also have built a page of cards meanwhile: more, never all of them.
    page.wait_for_function(f"document.querySelectorAll('.claim').length >= {before + 200}")
    assert before + 200 <= len(_shown(page)) < claims
    # Generous bounds on a shared 2-core machine: usability, not a benchmark (bench/bench_report.py).
    assert loaded < 30 and filtered < 15, (loaded, filtered)


@pytest.fixture(scope="module")
def rerun_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo run, then `run --topic attention-kernels --fresh`: the topic's claims are
    observed again with the same quotes, so each holds a superseded and a current observation."""
    work = tmp_path_factory.mktemp("rerun")
    db = work / "claims.duckdb"
    demo = str(PROJECT_ROOT / "pipelines" / "demo.toml")
    _extract("run", demo, "--db", str(db), "--quiet")
    _extract("run", demo, "--topic", "attention-kernels", "--fresh", "--db", str(db), "--quiet")
    out = work / "claims.html"
    _extract("report", "--db", str(db), "--out", str(out))
    return out, db


def test_superseded_evidence_is_folded_and_marked(
    open_page: Callable[[Path], Opened], rerun_report: tuple[Path, Path]
) -> None:
    html, db = rerun_report
    evidence: dict[str, list[tuple[str, bool]]] = {}
    for claim_id, quote, current in _rows(
        db,
        "SELECT claim_id, quote, obs_id IN (SELECT obs_id FROM current_observations) FROM observations"
        f" WHERE {CURRENT} ORDER BY claim_id, created_at, obs_id",
    ):
        evidence.setdefault(claim_id, []).append((quote, current))
    # Claims holding one quote twice: from the first run (superseded) and from the re-run.
    repeated = {c: q for c, obs in evidence.items() for q, now in obs if now and (q, False) in obs}
    assert len(repeated) >= 3

    opened = open_page(html)
    page = opened.page
    page.wait_for_selector(READY)
    assert set(_shown(page)) == set(evidence)
    for claim_id, obs in evidence.items():
        current = [q for q, now in obs if now]
        earlier = [q for q, now in obs if not now]
        card = page.locator(f".claim[data-claim-id='{claim_id}']")
        for more in card.locator(".more-evidence").all():
            more.click()
        assert card.locator(".evidence h3").text_content() == f"Evidence ({len(current)})"
        shown = card.locator(".evidence-item:not(.is-superseded) .excerpt").all_text_contents()
        assert len(shown) == len(current) and all(any(s.endswith(q) for s in shown) for q in current)
        if claim_id in repeated:
            assert sum(s.endswith(repeated[claim_id]) for s in shown) == 1  # once, not once per run
        toggle = card.locator(".earlier-evidence")
        if not earlier:
            assert toggle.count() == 0
            continue
        plural = "" if len(earlier) == 1 else "s"
        assert toggle.text_content() == f"Show {len(earlier)} earlier observation{plural} (superseded)"
        assert card.locator(".is-superseded").count() == 0  # folded: not even built
        toggle.click()
        folded = card.locator(".evidence-item.is-superseded")
        assert folded.count() == len(earlier)
        assert folded.locator(".superseded-mark").all_text_contents() == ["superseded"] * len(earlier)
        assert toggle.get_attribute("aria-expanded") == "true" and toggle.text_content().startswith("Hide ")
        toggle.click()
        assert card.locator(".evidence-list.superseded").is_hidden()
        assert toggle.get_attribute("aria-expanded") == "false"
    assert opened.errors == [] and opened.violations() == []
