"""`extract diff`: what changed between two runs, as text, Markdown, JSON or an HTML page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from extract.browser import build_report
from extract.cli.common import db_option, fail, handle_errors, json_text
from extract.cli.diff_format import render_markdown, render_text
from extract.pipeline import KINDS, database_path, diff_runs, failing_kinds
from extract.store import open_database

FAIL_ON_CHOICES = (*KINDS, "any")


def _fail_on(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Each --fail-on value is a comma-separated list naming at least one kind; a bad one is
    a one-line usage error (exit 2) naming the valid kinds."""
    choices = ", ".join(FAIL_ON_CHOICES)
    kinds: list[str] = []
    for value in values:
        named = [k.strip() for k in value.split(",") if k.strip()]
        if value.startswith("-"):
            # `--fail-on --db X`: click took the next option as the value.
            fail(f"--fail-on needs a kind before {value!r} (choose from {choices})")
        if not named:
            fail(f"--fail-on {value!r} names no kind (choose from {choices})")
        unknown = [k for k in named if k not in FAIL_ON_CHOICES]
        if unknown:
            fail(f"--fail-on: unknown kind {unknown[0]!r} (choose from {choices})")
        kinds.extend(named)
    return tuple(kinds)


def _render(result: dict[str, Any], fmt: str, db_path: Path) -> str:
    if fmt == "json":
        return json_text(result, sort_keys=True) + "\n"
    if fmt == "md":
        return render_markdown(result)
    if fmt == "html":
        # The claims browser with the diff view first, so a changed claim links to its card.
        with open_database(db_path, read_only=True) as db:
            return build_report(db, diff=result).html
    return render_text(result) + "\n"


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--topic", help="Compare only this topic's claims (default: the topic of a `run --topic` run).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md", "html"]),
    default="text",
    show_default=True,
    help="Output; html is the claims browser page with the diff view first (as `extract report --diff`).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Same as --format json; with another --format (text, md or html) it is a usage error.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the output to this file instead of stdout (any format).",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    callback=_fail_on,
    metavar="KIND[,KIND]",
    help=f"Exit 1 when a change of these kinds exists (repeatable): {', '.join(FAIL_ON_CHOICES)}.",
)
@db_option
@click.pass_context
@handle_errors
def diff(
    ctx: click.Context,
    run_a: str,
    run_b: str,
    topic: str | None,
    fmt: str,
    as_json: bool,
    out: Path | None,
    fail_on: tuple[str, ...],
    db: Path | None,
) -> None:
    """What changed from run RUN_A to run RUN_B, claim by claim.

    Claims only in RUN_A are dropped (-), only in RUN_B new (+); claims in both may
    have changed (~) in stance (stance-flip), domain, tags, citations or evidence.
    A run is named by its id, a unique prefix of it, `latest` or `previous`.

    --format html writes the page `extract report --diff RUN_A RUN_B` writes: one
    self-contained file (no network, works from file://) opening with the diff view
    (the runs, a stat table by topic, the changed claims with their kinds and
    details, filtered by kind), then the claims browser, where each changed claim's
    card is linked from the diff. Like the other formats it goes to stdout (redirect
    it, or pass --out FILE); it is not printed to a terminal.

    Exit codes: 0 done (changes or not), 1 a change of a --fail-on kind exists
    (the diff is written anyway), 2 unknown run or bad usage.

    \b
    Examples:
      extract diff previous latest
      extract diff run-20261122T101500-ab12 run-20261123T090000-cd34 --topic attention-kernels
      extract diff previous latest --format md > diff.md
      extract diff previous latest --format html --out diff.html
      extract diff previous latest --json | jq '.summary.by_kind'
      extract diff previous latest --fail-on stance-flip,dropped   # in CI: guard extraction quality
    """
    if as_json and fmt != "json" and ctx.get_parameter_source("fmt") is not ParameterSource.DEFAULT:
        fail(f"--json and --format {fmt} conflict: pass one of them (--json is --format json)")
    fmt = "json" if as_json else fmt
    if fmt == "html" and out is None and sys.stdout.isatty():
        fail("--format html writes a whole page: pass --out FILE, or redirect stdout (> diff.html)")
    path = database_path(None, db)
    result = diff_runs(path, run_a, run_b, topic)
    if topic is None and result["topic"] is not None:
        click.echo(
            f"comparing topic {result['topic']} only: a `run --topic` run re-extracted just that topic"
            " (name two full runs to compare everything)",
            err=True,
        )
    text = _render(result, fmt, path)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote the diff ({len(result['changes'])} changed claim(s)) to {out}", err=True)
    failing = failing_kinds(result, fail_on)
    if failing:
        click.echo(
            "fail-on: " + ", ".join(f"{kind} {n}" for kind, n in failing.items()),
            err=True,
        )
        sys.exit(1)
