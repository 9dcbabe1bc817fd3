"""The claims browser at scale: N synthetic claims imported, `extract report`, then the
page in Debian's chromium from file://. Prints seconds, the file's size, and how long
the page takes to render and to filter.

    uv run python bench/bench_report.py [--claims 10000]

Filter times are measured inside the page (click to rendered list); the search time
includes the 150 ms the search box waits for typing to pause.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from extract.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chromium import chromium
from synthetic_claims import synthetic_observations, write_jsonl

# Click a control and return the milliseconds until its handler has rebuilt the page.
CLICK_MS = """selector => {
  const started = performance.now();
  document.querySelector(selector).click();
  return performance.now() - started;
}"""
# Type into the search box; resolve once the list shows the result.
SEARCH_MS = """text => new Promise(resolve => {
  const started = performance.now();
  const box = document.querySelector(".search");
  box.value = text;
  box.dispatchEvent(new Event("input"));
  const poll = () => document.querySelector(".match-count").dataset.query === text
    ? resolve(performance.now() - started) : requestAnimationFrame(poll);
  poll();
})"""


def _extract(*args: str) -> float:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"extract {' '.join(args)} failed: {result.output}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db, html = work / "claims.duckdb", work / "claims.html"
        imported = _extract(
            "import", str(write_jsonl(work / "obs.jsonl", synthetic_observations(args.claims))), "--db", str(db)
        )
        written = _extract("report", "--db", str(db), "--out", str(html))
        size = html.stat().st_size / 1e6
        print(f"{args.claims:,} claims: import {imported:.1f} s, report {written:.1f} s, {size:.1f} MB")
        with chromium() as context:
            page = context.new_page()
            started = time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_selector("html[data-ready='1']", timeout=120_000)
            print(f"page ready (parse, first 200 cards): {time.perf_counter() - started:.2f} s")
            for label, selector in (
                ("stance filter", ".facet-value[data-facet='stance'][data-value='contested']"),
                ("domain filter", ".facet-value[data-facet='domain']"),
                ("show hidden", ".show-hidden"),
                ("show 200 more", ".show-more"),
                ("clear filters", ".clear-filters"),
            ):
                print(f"{label}: {page.evaluate(CLICK_MS, selector):.0f} ms")
            print(f"search 'w1234' (with debounce): {page.evaluate(SEARCH_MS, 'w1234'):.0f} ms")
            print(f"search cleared (with debounce): {page.evaluate(SEARCH_MS, ''):.0f} ms")


if __name__ == "__main__":
    main()
