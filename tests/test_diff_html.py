"""The diff view (`extract report --diff`, `extract diff --format html`) in Debian's chromium.

Runs with scripted differences (tests/scripted_runs.py) plus a paper carrying markup
payloads: the counts on the page equal `diff_runs`'s JSON, every changed claim shows
its kinds and details, the kind filter shows exactly the claims of that kind, a link
brings a claim's card into view, and the payloads in a changed claim's text, tags and
evidence are shown as text and run nothing (a check shown able to fail on a broken page).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import Result
from playwright.sync_api import Page

from extract.browser.diff import diff_section
from extract.browser.page import render_page
from extract.pipeline import KINDS, diff_runs

from chromium import Opened
from pipelines import run_cli
from scripted_runs import ANSWERS_A, ANSWERS_B, EXPECTED_KINDS, PAPERS, Runs, Script, Scripted, make_runs

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=1</script>"
# A paper whose claim text, tags and evidence carry payloads, changed in three kinds at once.
HOSTILE = Script(
    papers={**PAPERS, "India": f"India {IMG} renders as text. India quotes {SCRIPT} verbatim."},
    answers_a={**ANSWERS_A, "India": Scripted()},
    answers_b={**ANSWERS_B, "India": Scripted(stance="contested", tags=("Shared", IMG), sentence=1)},
)
HOSTILE_KINDS = {**EXPECTED_KINDS, "India": ["stance-flip", "tags", "evidence"]}

READY = "html[data-ready='1']"
ARXIV_HREF = re.compile(r"^https://arxiv\.org/abs/\d{4}\.\d{4,5}$")
CLAIM_HREF = re.compile(r"^#claim-c-[0-9a-f]{10}$")
TEXT_NODE = "node.append(child instanceof Node ? child : document.createTextNode(String(child)));"
AS_MARKUP = 'if (child instanceof Node) node.append(child); else node.insertAdjacentHTML("beforeend", String(child));'
CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n')

T = TypeVar("T")


def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Commands start their own event loop; Playwright keeps one running in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _extract(*args: str) -> Result:
    return _in_thread(run_cli, *args)


@dataclass(frozen=True)
class Pages:
    runs: Runs
    diff: dict[str, Any]  # diff_runs(A, B)
    html: Path  # extract report --diff A B
    same: Path  # extract diff A A-replayed --format html (stdout)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Pages:
    home = tmp_path_factory.mktemp("diff-html")
    runs = _in_thread(make_runs, home, HOSTILE)
    html = home / "diff.html"
    made = _extract("report", "--db", str(runs.db), "--diff", runs.a, runs.b, "--out", str(html))
    assert made.exit_code == 0, made.output
    assert "and a diff of 8 changed claim(s)" in made.stderr
    same = _extract("diff", runs.a, runs.a_cached, "--db", str(runs.db), "--format", "html")
    assert same.exit_code == 0, same.output
    (home / "same.html").write_text(same.stdout, encoding="utf-8")
    return Pages(runs, diff_runs(runs.db, runs.a, runs.b), html, home / "same.html")


def _paper(change: dict[str, Any]) -> str:
    return str(change["text"]).split(" ")[0]


def _change(pages: Pages, paper: str) -> dict[str, Any]:
    return next(c for c in pages.diff["changes"] if _paper(c) == paper)


def _opened(open_page: Callable[[Path], Opened], path: Path) -> Page:
    page = open_page(path).page
    page.wait_for_selector(READY)
    return page


def _shown_changes(page: Page) -> list[str]:
    return list(page.eval_on_selector_all(".change", "els => els.map(e => e.dataset.claimId)"))


def _embedded(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
    assert found
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_the_scripted_runs_change_in_every_kind(pages: Pages) -> None:
    assert {_paper(c): c["kinds"] for c in pages.diff["changes"]} == HOSTILE_KINDS
    by_kind = pages.diff["summary"]["by_kind"]
    assert by_kind == {k: 2 if k in ("stance-flip", "tags", "evidence") else 1 for k in KINDS}


def test_counts_on_the_page_equal_the_diff_json(open_page: Callable[[Path], Opened], pages: Pages) -> None:
    page = _opened(open_page, pages.html)
    summary = pages.diff["summary"]
    stats = page.eval_on_selector_all(
        "[data-diff-stat]",
        "els => els.map(e => [e.dataset.diffStat, e.dataset.value, e.querySelector('.stat-value').textContent])",
    )
    assert {k: int(v) for k, v, _ in stats} == {k: summary[k] for k in ("new", "dropped", "changed", "unchanged")}
    assert all(v == text for _, v, text in stats)

    buttons = page.eval_on_selector_all(
        ".kind-button",
        "els => els.map(e => [e.dataset.kind, e.dataset.count, e.querySelector('.kind-count').textContent])",
    )
    assert [(k, int(n)) for k, n, _ in buttons] == [("", len(pages.diff["changes"])), *summary["by_kind"].items()]
    assert all(n == text for _, n, text in buttons)

    # The stat table: a row a topic (in the JSON's order), then the total, every kind's count shown.
    rows = page.eval_on_selector_all(
        ".diff-stat tbody tr, .diff-stat tfoot tr",
        """rows => rows.map(r => [r.dataset.topic ?? null, r.dataset.total ?? null,
             [...r.querySelectorAll('td[data-kind]')].map(c => [c.dataset.kind, c.dataset.count, c.textContent])])""",
    )
    expected = [(t["topic"] or "", None, t["by_kind"]) for t in pages.diff["by_topic"]]
    expected.append((None, "1", summary["by_kind"]))
    assert [(topic, total, {k: int(n) for k, n, _ in cells}) for topic, total, cells in rows] == expected
    assert all(n == text for *_, cells in rows for _, n, text in cells)
    bars = page.eval_on_selector_all(".diff-stat tbody .bar", "els => els.map(e => e.textContent)")
    assert bars == ["+−~~~", "~~~"]  # data: 1 new, 1 dropped, 3 changed; kernels: 3 changed

    runs = page.eval_on_selector_all(
        ".diff-runs tbody tr", "rows => rows.map(r => r.querySelector('.run-id').textContent)"
    )
    assert runs == [pages.runs.a, pages.runs.b]


def test_each_changed_claim_is_shown_with_its_kinds_and_details(
    open_page: Callable[[Path], Opened], pages: Pages
) -> None:
    page = _opened(open_page, pages.html)
    shown = page.eval_on_selector_all(
        ".change",
        "els => els.map(e => [e.dataset.claimId, [...e.querySelectorAll('.kind-badge')].map(b => b.textContent)])",
    )
    assert shown == [[c["claim_id"], c["kinds"]] for c in pages.diff["changes"]]
    assert page.eval_on_selector(".diff-count", "e => e.dataset.matches") == str(len(pages.diff["changes"]))

    def card(paper: str) -> Any:
        return page.locator(f".change[data-claim-id='{_change(pages, paper)['claim_id']}']")

    def detail(paper: str, label: str) -> Any:
        return card(paper).locator(f".detail[data-detail='{label}'] dd")

    assert detail("Bravo", "stance-flip").locator(".badge").all_text_contents() == ["consensus", "contested"]
    assert detail("Charlie", "domain").locator(".chip").all_text_contents() == ["training", "arch"]
    assert detail("Delta", "tags").locator(".delta").all_text_contents() == ["+Memory", "−Speed"]
    echo = detail("Echo", "citations")
    assert echo.locator(".delta").all_text_contents() == ["+arXiv 2205.14135", "−arXiv 2307.08691"]
    assert echo.locator("a").evaluate_all("els => els.map(a => a.href)") == [
        "https://arxiv.org/abs/2205.14135",
        "https://arxiv.org/abs/2307.08691",
    ]
    quotes = (
        "els => els.map(e => [e.querySelector('.quote-mark').textContent, e.querySelector('.excerpt').textContent])"
    )
    assert detail("Foxtrot", "evidence").locator(".quote").evaluate_all(quotes) == [
        ["+", HOSTILE.sentence("Foxtrot", 1)],
        ["−", HOSTILE.sentence("Foxtrot", 0)],
    ]
    assert card("Golf").locator(".change-mark").text_content() == "−"
    assert detail("Golf", "in run A").locator(".badge").text_content() == "consensus"
    assert detail("Golf", "evidence").locator(".quote").evaluate_all(quotes) == [["−", HOSTILE.sentence("Golf", 0)]]
    assert card("Hotel").locator(".change-mark").text_content() == "+"
    assert detail("Hotel", "evidence").locator(".quote").evaluate_all(quotes) == [["+", HOSTILE.sentence("Hotel", 0)]]
    assert detail("Bravo", "observations").text_content() == "1 → 1"


@pytest.mark.slow
def test_changed_claims_link_to_their_cards(open_page: Callable[[Path], Opened], pages: Pages, tmp_path: Path) -> None:
    page = _opened(open_page, pages.html)
    listed = {c["id"]: c for c in _embedded(pages.html.read_text("utf-8"))["sections"]["claims"]["claims"]}
    changed = [c["claim_id"] for c in pages.diff["changes"]]
    links = dict(
        page.eval_on_selector_all("a.claim-link", "els => els.map(a => [a.textContent, a.getAttribute('href')])")
    )
    assert links == {i: f"#claim-{i}" for i in changed if i in listed}
    assert set(links) == set(changed)  # every changed claim is current here
    # With the claims of run A only, Hotel (new in B) has no card to link to.
    of_a = tmp_path / "of-a.html"
    assert (
        _extract(
            "report",
            "--db",
            str(pages.runs.db),
            "--run",
            pages.runs.a,
            "--diff",
            pages.runs.a,
            pages.runs.b,
            "--out",
            str(of_a),
        ).exit_code
        == 0
    )
    hotel = _change(pages, "Hotel")["claim_id"]
    assert _embedded(of_a.read_text("utf-8"))["sections"]["diff"]["linked"] == sorted(set(changed) - {hotel})
    other = _opened(open_page, of_a)
    assert other.locator(".change .unlisted").all_text_contents() == [hotel + " · not in the claims list"]
    assert other.locator(f".change[data-claim-id='{hotel}'] a").count() == 0

    # A filter hides the card and the hide rule (no citation, no camp) hides it too: the link shows it anyway.
    target = _change(pages, "Bravo")["claim_id"]
    assert listed[target]["hidden"]
    in_view = """id => {
        const card = document.getElementById('claim-' + id);
        const top = card === null ? -Infinity : card.getBoundingClientRect().top;
        return top >= -1 && top < innerHeight;
    }"""
    for _ in range(2):  # the second time the page already has that hash: no hashchange event
        page.fill(".search", "no claim says this")
        page.wait_for_function("() => document.querySelector('.match-count').dataset.matches === '0'")
        page.evaluate("window.scrollTo(0, 0)")
        page.click(f"a.claim-link[href='#claim-{target}']")
        page.wait_for_function(in_view, arg=target)
        assert page.evaluate("location.hash") == f"#claim-{target}"
        assert page.locator(f"#claim-{target}").get_attribute("class") == "claim is-hidden is-target"
        assert page.input_value(".search") == "" and page.is_checked(".show-hidden")


def test_the_kind_filter_shows_exactly_that_kind(open_page: Callable[[Path], Opened], pages: Pages) -> None:
    page = _opened(open_page, pages.html)
    everything = [c["claim_id"] for c in pages.diff["changes"]]
    assert _shown_changes(page) == everything
    for kind in KINDS:
        page.click(f".kind-button[data-kind='{kind}']")
        expected = [c["claim_id"] for c in pages.diff["changes"] if kind in c["kinds"]]
        assert _shown_changes(page) == expected and 0 < len(expected) < len(everything), kind
        assert page.eval_on_selector(".diff-count", "e => [e.dataset.kind, +e.dataset.matches]") == [
            kind,
            len(expected),
        ]
        assert page.get_attribute(f".kind-button[data-kind='{kind}']", "aria-pressed") == "true"
    page.click(".kind-button[data-kind='evidence']")  # a second click shows every kind again
    assert _shown_changes(page) == everything
    page.click(".kind-button[data-kind='tags']")
    page.click(".kind-button[data-kind='']")
    assert _shown_changes(page) == everything


def test_payloads_in_a_changed_claim_show_as_text_and_run_nothing(
    open_page: Callable[[Path], Opened], pages: Pages
) -> None:
    india = _change(pages, "India")
    assert IMG in india["text"] and IMG in india["details"]["tags"]["added"]
    assert india["details"]["evidence"] == {
        "added": [HOSTILE.sentence("India", 1)],
        "removed": [HOSTILE.sentence("India", 0)],
    }
    opened = open_page(pages.html)
    page = opened.page
    page.wait_for_selector(READY)
    card = page.locator(f".change[data-claim-id='{india['claim_id']}']")
    assert card.locator(".claim-text").text_content() == india["text"]
    assert card.locator(".detail[data-detail='tags'] .delta").all_text_contents() == ["+" + IMG]
    assert card.locator(".excerpt").all_text_contents() == [HOSTILE.sentence("India", 1), HOSTILE.sentence("India", 0)]
    page.click(".kind-button[data-kind='tags']")  # filtering re-renders the card: still text
    assert IMG in card.inner_text() and SCRIPT in card.inner_text()

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert opened.dialogs == [] and opened.errors == [] and opened.violations() == []
    assert opened.requests == [pages.html.as_uri()]
    assert page.locator("img, iframe, object, embed, svg, math, form, base, link").count() == 0
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => e.getAttributeNames()).filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    hrefs = page.eval_on_selector_all("[href]", "els => els.map(e => e.getAttribute('href'))")
    assert all(ARXIV_HREF.match(h) or CLAIM_HREF.match(h) or h == "#claims" for h in hrefs), hrefs


@pytest.mark.parametrize("policy", ["without its policy", "with its policy"])
def test_the_payload_check_fails_on_a_broken_diff_view(
    open_page: Callable[[Path], Opened], pages: Pages, tmp_path: Path, policy: str
) -> None:
    # The diff view alone (no claims list, which shows the payloads too), its text rendered as markup.
    html = render_page("diff", {"diff": diff_section(pages.diff, [])})
    assert TEXT_NODE in html
    broken = html.replace(TEXT_NODE, AS_MARKUP)
    path = tmp_path / "broken.html"
    path.write_text(CSP_META.sub("", broken, count=1) if policy == "without its policy" else broken, encoding="utf-8")
    opened = open_page(path)
    if policy == "without its policy":
        opened.page.wait_for_function("window.__xss === 1", timeout=10_000)
    else:  # nothing runs even then, but the attempt is on record
        opened.page.wait_for_function("window.__violations.length > 0", timeout=10_000)
        assert opened.page.evaluate("typeof window.__xss") == "undefined"


def test_identical_runs_show_no_changes(open_page: Callable[[Path], Opened], pages: Pages) -> None:
    page = _opened(open_page, pages.same)
    assert page.text_content(".diff-empty") == "No changes: 8 claims compared, all identical."
    assert page.eval_on_selector_all(
        "[data-diff-stat]", "els => els.map(e => [e.dataset.diffStat, +e.dataset.value])"
    ) == [
        ["new", 0],
        ["dropped", 0],
        ["changed", 0],
        ["unchanged", 8],
    ]
    assert page.locator(".change, .kind-filter, .diff-stat").count() == 0
    assert page.locator(".claim").count() > 0  # the claims list follows


def test_diff_format_html_is_the_report_page(pages: Pages, tmp_path: Path) -> None:
    runs = pages.runs
    stdout = run_cli("diff", runs.a, runs.b, "--db", str(runs.db), "--format", "html")
    assert stdout.exit_code == 0 and stdout.stdout == pages.html.read_text("utf-8")
    out = tmp_path / "out" / "diff.html"
    failing = run_cli(
        "diff", runs.a, runs.b, "--db", str(runs.db), "--format", "html", "--out", str(out), "--fail-on", "new"
    )
    assert failing.exit_code == 1 and failing.stdout == "" and "fail-on: new 1" in failing.stderr
    assert out.read_text("utf-8") == stdout.stdout
    data = _embedded(stdout.stdout)
    assert data["order"] == ["diff", "claims"] and data["title"] == f"Diff {runs.a} → {runs.b}"
    assert data["sections"]["diff"]["diff"] == json.loads(json.dumps(pages.diff))
    assert data["sections"]["diff"]["kinds"] == list(KINDS)

    md = tmp_path / "diff.md"
    assert run_cli("diff", runs.a, runs.b, "--db", str(runs.db), "--format", "md", "--out", str(md)).exit_code == 0
    assert md.read_text("utf-8") == run_cli("diff", runs.a, runs.b, "--db", str(runs.db), "--format", "md").stdout


def test_report_diff_scope_and_usage(pages: Pages, tmp_path: Path) -> None:
    runs = pages.runs
    out = tmp_path / "topic.html"

    def diff_of(*args: str) -> dict[str, Any]:
        result = run_cli("report", "--db", str(runs.db), "--out", str(out), *args)
        assert result.exit_code == 0, result.output
        section: dict[str, Any] = _embedded(out.read_text("utf-8"))["sections"]["diff"]["diff"]
        return section

    assert diff_of("--diff", runs.a, runs.b_topic)["topic"] == "kernels"
    narrowed = diff_of("--diff", "previous", "latest", "--topic", "kernels")
    assert (narrowed["run_a"]["run_id"], narrowed["run_b"]["run_id"]) == (runs.a_cached, runs.b_topic)
    assert {_paper(c) for c in diff_of("--diff", runs.a, runs.b, "--topic", "data")["changes"]} == {
        "Echo",
        "Foxtrot",
        "Golf",
        "Hotel",
        "India",
    }
    alone = run_cli("report", "--db", str(runs.db), "--out", str(out), "--topic", "data")
    assert alone.exit_code == 2 and alone.stderr == "error: --topic needs --diff RUN_A RUN_B\n"
    unknown = run_cli("report", "--db", str(runs.db), "--out", str(out), "--diff", runs.a, "run-nope")
    assert unknown.exit_code == 2 and unknown.stderr == "error: no run run-nope (list them with `extract runs`)\n"
