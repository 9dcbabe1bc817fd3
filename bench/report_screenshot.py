"""A screenshot of the claims browser for people to look at (not a test).

A heuristic run of pipelines/papers.toml over the four seed dumps (../shared/seeds,
or $EXTRACT_SEEDS), `extract report`, then a PNG of the page in Debian's chromium:

    uv run python bench/report_screenshot.py [--out report.png] [--height 1000] [--filter-stance contested]

With `--diff SLUG`, a copy of that run's database gets a `run --topic SLUG` re-run and
the page is `extract report --diff` of the two, so the PNG shows the diff view. The
heuristic is deterministic, so the re-run alone changes nothing ("no changes");
`--max-claims N` re-runs with `max_claims_per_chunk = N` instead of 8, a changed
pipeline whose diff has something to show:

    uv run python bench/report_screenshot.py --diff moe-routing --out diff.png
    uv run python bench/report_screenshot.py --diff moe-routing --max-claims 5 --out diff.png

The database stays next to the PNG (`report.duckdb`, reused by the next screenshot, so
that one takes seconds; `--diff` works on `report-diff.duckdb`, a fresh copy each time),
and so does the HTML file (the PNG's name, `.html`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from extract.cli import cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from chromium import chromium  # noqa: E402

SEEDS = ("dump_awesome_papers_zh.md", "dump_reading_list_en.txt", "dump_digest_zh.txt", "dump_thread_nl.txt")
PIPELINE = ROOT / "pipelines" / "papers.toml"


def _extract(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"extract {' '.join(args)} failed: {result.output}")


def _pipeline_with_max_claims(directory: Path, max_claims: int) -> Path:
    """papers.toml with another max_claims_per_chunk (and its prompts path made absolute)."""
    text = PIPELINE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^max_claims_per_chunk = \d+$", f"max_claims_per_chunk = {max_claims}", text)
    text = re.sub(r'(?m)^prompts = "../prompts"$', f'prompts = "{(ROOT / "prompts").as_posix()}"', text)
    path = directory / "papers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("report.png"))
    parser.add_argument("--height", type=int, default=1000, help="Of the window, in pixels (at most 16,000).")
    parser.add_argument("--filter-stance", choices=["consensus", "contested"], help="Click this stance first.")
    parser.add_argument("--diff", metavar="SLUG", help="Re-run this topic and show the diff view of the two runs.")
    parser.add_argument("--max-claims", type=int, metavar="N", help="With --diff: re-run with max_claims_per_chunk N.")
    args = parser.parse_args()
    if args.max_claims is not None and args.diff is None:
        parser.error("--max-claims needs --diff SLUG")
    seeds = Path(os.environ.get("EXTRACT_SEEDS", ROOT.parent / "shared" / "seeds"))
    inputs = [a for name in SEEDS for a in ("--input", str(seeds / name))]
    db, html = args.out.parent / "report.duckdb", args.out.with_suffix(".html")
    started = time.perf_counter()
    if not db.exists():
        _extract("run", str(PIPELINE), "--model", "heuristic", "--db", str(db), "--quiet", *inputs)
    if args.diff is None:
        _extract("report", "--db", str(db), "--out", str(html))
    else:
        db = shutil.copyfile(db, args.out.parent / "report-diff.duckdb")
        with tempfile.TemporaryDirectory() as work:
            pipeline = PIPELINE if args.max_claims is None else _pipeline_with_max_claims(Path(work), args.max_claims)
            topic = ("--topic", args.diff)
            _extract("run", str(pipeline), "--model", "heuristic", "--db", str(db), "--quiet", *topic, *inputs)
        _extract("report", "--db", str(db), "--out", str(html), "--diff", "previous", "latest")
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
