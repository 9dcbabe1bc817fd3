"""A screenshot of the claims browser for people to look at (not a test).

A heuristic run of pipelines/papers.toml over the four seed dumps (../shared/seeds,
or $EXTRACT_SEEDS), `extract report`, then a PNG of the page in Debian's chromium:

    uv run python bench/report_screenshot.py [--out report.png] [--height 1000] [--filter-stance contested]

The database stays next to the PNG (`report.duckdb`, reused by the next screenshot, so
that one takes seconds), and so does the HTML file (the PNG's name, `.html`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from extract.cli import cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from chromium import chromium  # noqa: E402

SEEDS = ("dump_awesome_papers_zh.md", "dump_reading_list_en.txt", "dump_digest_zh.txt", "dump_thread_nl.txt")


def _extract(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"extract {' '.join(args)} failed: {result.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("report.png"))
    parser.add_argument("--height", type=int, default=1000, help="Of the window, in pixels (at most 16,000).")
    parser.add_argument("--filter-stance", choices=["consensus", "contested"], help="Click this stance first.")
    args = parser.parse_args()
    seeds = Path(os.environ.get("EXTRACT_SEEDS", ROOT.parent / "shared" / "seeds"))
    db, html = args.out.parent / "report.duckdb", args.out.with_suffix(".html")
    started = time.perf_counter()
    if not db.exists():
        inputs = [a for name in SEEDS for a in ("--input", str(seeds / name))]
        _extract(
            "run", str(ROOT / "pipelines" / "papers.toml"), "--model", "heuristic", "--db", str(db), "--quiet", *inputs
        )
    _extract("report", "--db", str(db), "--out", str(html))
    # The window, not the whole page: cards off screen are not painted (content-visibility).
    with chromium(1400, min(args.height, 16_000)) as context:
        page = context.new_page()
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("html[data-ready='1']")
        if args.filter_stance:
            page.click(f".facet-value[data-facet='stance'][data-value='{args.filter_stance}']")
        page.screenshot(path=str(args.out))
    print(f"wrote {args.out} ({html}, {db}) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
